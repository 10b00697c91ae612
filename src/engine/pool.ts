/**
 * A bounded pool of page operations that keeps accepting work while it runs, so a CopyStep can ask for the next
 * window's diff while the current window's copies are still in flight (no drain between windows). The first failure
 * stops new work; `drain` waits for what is in flight and throws that failure.
 */
export interface WorkPool<T> {
  add(items: readonly T[]): void;
  /** True once an item failed; no new items start after that. */
  readonly failed: boolean;
  drain(): Promise<void>;
}

export function createWorkPool<T>(limit: number, work: (item: T) => Promise<void>): WorkPool<T> {
  const queue: T[] = [];
  let next = 0;
  let active = 0;
  let failure: { error: unknown } | undefined;
  let waiters: (() => void)[] = [];

  const settled = () => active === 0 && (next >= queue.length || failure !== undefined);
  const pump = () => {
    while (!failure && active < limit && next < queue.length) {
      const item = queue[next++];
      active += 1;
      work(item)
        .catch((error: unknown) => {
          failure ??= { error };
        })
        .finally(() => {
          active -= 1;
          pump();
          if (settled()) {
            const wake = waiters;
            waiters = [];
            for (const resolve of wake) resolve();
          }
        });
    }
  };

  return {
    add(items) {
      queue.push(...items);
      pump();
    },
    get failed() {
      return failure !== undefined;
    },
    async drain() {
      if (!settled()) await new Promise<void>((resolve) => waiters.push(resolve));
      if (failure) throw failure.error;
    },
  };
}
