/**
 * When a ProtectedDisk is due. A schedule is either an interval ("every 30m", "every 4h", "every 1d") or an
 * NCRONTAB expression with six fields, seconds first, as Azure Functions timers use ("0 30 2 * * *": 02:30 every day).
 */
import { Cron } from "croner";

const intervalPattern = /^every\s+(\d+)\s*(m|h|d)$/i;
const unitMs = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Returns a reason the schedule is invalid, or undefined when it is valid. */
export function scheduleProblem(schedule: string): string | undefined {
  const interval = intervalPattern.exec(schedule.trim());
  if (interval) return Number(interval[1]) > 0 ? undefined : "the interval must be at least 1";
  const fields = schedule.trim().split(/\s+/);
  if (fields.length !== 6) {
    return 'expected "every <n>m|h|d" or an NCRONTAB expression with 6 fields (second minute hour day month weekday)';
  }
  try {
    new Cron(schedule, { paused: true });
    return undefined;
  } catch (error) {
    return `not a valid NCRONTAB expression: ${error instanceof Error ? error.message : String(error)}`;
  }
}

/** The first time at or after which a new BackupRun is due, given when the last one started (undefined: never). */
export function nextDueAt(schedule: string, lastStartedAt: Date | undefined): Date {
  if (!lastStartedAt) return new Date(0);
  const interval = intervalPattern.exec(schedule.trim());
  if (interval) {
    const unit = interval[2].toLowerCase() as keyof typeof unitMs;
    return new Date(lastStartedAt.getTime() + Number(interval[1]) * unitMs[unit]);
  }
  const next = new Cron(schedule, { paused: true }).nextRun(lastStartedAt);
  return next ?? new Date(8.64e15);
}

export function isDue(schedule: string, lastStartedAt: Date | undefined, now: Date): boolean {
  return nextDueAt(schedule, lastStartedAt).getTime() <= now.getTime();
}
