/** RetentionPolicy: which RestorePoints to remove. Pure; the newest RestorePoint is never removed. */

/**
 * Keep every RestorePoint (`keepAll`), or the newest `keepLast` and/or those younger than `maxAgeDays` — a point is
 * kept only if every set rule keeps it. `retentionSchema` (model.ts) makes sure a rule policy sets at least one rule.
 */
export type RetentionPolicy = { readonly keepAll: true } | RetentionRules;

/** The rules of a RetentionPolicy that removes RestorePoints. */
export interface RetentionRules {
  readonly keepAll?: undefined;
  readonly keepLast?: number;
  readonly maxAgeDays?: number;
}

/** What retention needs to know of a RestorePoint. */
export interface RetainedPoint {
  readonly id: string;
  readonly createdAt: Date;
}

/** Returns the points to remove, oldest first. */
export function applyRetention<T extends RetainedPoint>(points: readonly T[], policy: RetentionPolicy, now: Date): T[] {
  if (policy.keepAll) return [];
  const newestFirst = [...points].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
  const maxAgeMs = policy.maxAgeDays === undefined ? undefined : policy.maxAgeDays * 24 * 3600 * 1000;
  const expired = newestFirst.filter((point, index) => {
    if (index === 0) return false;
    const beyondCount = policy.keepLast !== undefined && index >= policy.keepLast;
    const tooOld = maxAgeMs !== undefined && now.getTime() - point.createdAt.getTime() > maxAgeMs;
    return beyondCount || tooOld;
  });
  return expired.reverse();
}
