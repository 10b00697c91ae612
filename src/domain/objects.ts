/** Small helpers over plain objects. */

type Absent = undefined | null;
type MayBeAbsent<V> = undefined extends V ? true : null extends V ? true : false;

/** T without its absent values: a field that may be absent becomes optional, and is never undefined or null. */
export type WithoutAbsent<T> = { [K in keyof T as MayBeAbsent<T[K]> extends true ? never : K]: T[K] } & {
  [K in keyof T as MayBeAbsent<T[K]> extends true ? K : never]?: Exclude<T[K], Absent>;
};

/**
 * The object without its undefined and null fields (one level deep), so that a JSON body carries only what was set,
 * an update does not overwrite with nothing, and a table entity gets no empty columns.
 */
export function withoutAbsent<T extends object>(object: T): WithoutAbsent<T> {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined && value !== null)) as WithoutAbsent<T>;
}
