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

/** How far ahead an NCRONTAB schedule is walked to judge its spacing: a year covers its calendar cycle. */
const cronHorizonMs = 366 * unitMs.d;
/** At most this many starts are walked, so that a schedule of every second is judged quickly (it repeats by then). */
const cronStartsWalked = 10_000;

/** An NCRONTAB schedule's starts after `from`, up to `untilMs` and at most `cronStartsWalked` of them. */
function* cronStarts(schedule: string, from: Date, untilMs: number): Generator<number> {
  const cron = new Cron(schedule, { paused: true });
  let at: Date | null = from;
  for (let walked = 0; walked < cronStartsWalked; walked++) {
    at = cron.nextRun(at);
    if (!at || at.getTime() > untilMs) return;
    yield at.getTime();
  }
}

/**
 * How a schedule spaces its BackupRuns, from `from` on: the most starts it makes in any span of `windowMs` (both ends
 * included; counted up to `cap`, a larger count answers `cap`) and the shortest time between two starts. An
 * interval's are exact; an NCRONTAB's are read from its starts over the next year (at most 10,000 of them).
 */
export function judgeSpacing(schedule: string, windowMs: number, cap: number, from: Date): { mostWithin: number; shortestGapMs: number } {
  const interval = intervalPattern.exec(schedule.trim());
  if (interval) {
    const everyMs = Number(interval[1]) * unitMs[interval[2].toLowerCase() as keyof typeof unitMs];
    return { mostWithin: Math.min(cap, Math.floor(windowMs / everyMs) + 1), shortestGapMs: everyMs };
  }
  const inWindow: number[] = [];
  let mostWithin = 0;
  let shortestGapMs = Infinity;
  for (const start of cronStarts(schedule, from, from.getTime() + cronHorizonMs + windowMs)) {
    const previous = inWindow[inWindow.length - 1];
    if (previous !== undefined) shortestGapMs = Math.min(shortestGapMs, start - previous);
    inWindow.push(start);
    while (inWindow[0] < start - windowMs) inWindow.shift();
    mostWithin = Math.max(mostWithin, inWindow.length);
  }
  return { mostWithin: Math.min(cap, mostWithin), shortestGapMs };
}
