/** RetentionPolicy: which RestorePoints to remove. Pure; the newest RestorePoint is never removed. */
import { judgeSpacing } from "./schedule";

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

/**
 * The most RestorePoints `policy` keeps while BackupRuns start as `schedule` says, counted up to `cap` (Infinity for
 * keepAll): keepLast, or the scheduled starts within maxAgeDays, whichever is fewer. Manual runs add to a policy of
 * maxAgeDays alone.
 */
export function mostKept(policy: RetentionPolicy, schedule: string, cap: number, from: Date): number {
  if (policy.keepAll) return Infinity;
  const byCount = policy.keepLast ?? Infinity;
  const byAge = policy.maxAgeDays === undefined ? Infinity : judgeSpacing(schedule, policy.maxAgeDays * 86_400_000, cap, from).mostWithin;
  return Math.min(byCount, byAge);
}
