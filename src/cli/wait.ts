/**
 * `sync --wait` and `restore`: follow a BackupRun or a tracked restore by polling its status until it ends, within a
 * deadline and a bounded number of polls.
 */
import { isActive } from "../domain/model";
import type { RunView } from "../domain/records";
import type { WaitOptions } from "./args";
import { ApiError, ApiUnreachableError } from "./api";

/** What following a run needs; the clock and the pause are injected so the loop is tested without waiting. */
export interface RunWatch {
  fetchRun(): Promise<RunView>;
  sleep(ms: number): Promise<void>;
  now(): number;
  onProgress?(run: RunView, previous: RunView | undefined): void;
}

/** The last state seen, and whether the deadline passed before the run ended. */
export interface WaitOutcome {
  readonly run: RunView;
  readonly timedOut: boolean;
}

/** Consecutive failed polls tolerated: a restarting worker or a network blip should not end the wait. */
const maxFailedPolls = 3;

export async function waitForRun(watch: RunWatch, options: WaitOptions): Promise<WaitOutcome> {
  const { value, timedOut } = await follow({ fetch: watch.fetchRun, sleep: watch.sleep, now: watch.now, onProgress: watch.onProgress }, options, (run) => !isActive(run.state));
  return { run: value, timedOut };
}

/** What following anything with a status needs (see RunWatch). */
export interface Watch<T> {
  fetch(): Promise<T>;
  sleep(ms: number): Promise<void>;
  now(): number;
  onProgress?(next: T, previous: T | undefined): void;
}

/** Polls `watch` until `ended` says so or the deadline passes; a few transient failures in a row are tolerated. */
export async function follow<T>(watch: Watch<T>, options: WaitOptions, ended: (value: T) => boolean): Promise<{ value: T; timedOut: boolean }> {
  const deadline = watch.now() + options.timeoutMs;
  const maxPolls = Math.ceil(options.timeoutMs / options.intervalMs) + 1;
  let value = await watch.fetch();
  watch.onProgress?.(value, undefined);
  let failures = 0;
  for (let poll = 1; !ended(value); poll += 1) {
    const left = deadline - watch.now();
    if (left <= 0 || poll > maxPolls) return { value, timedOut: true };
    await watch.sleep(Math.min(options.intervalMs, left));
    try {
      const next = await watch.fetch();
      watch.onProgress?.(next, value);
      value = next;
      failures = 0;
    } catch (error) {
      failures += 1;
      if (!isTransient(error) || failures >= maxFailedPolls) throw error;
    }
  }
  return { value, timedOut: false };
}

function isTransient(error: unknown): boolean {
  if (error instanceof ApiUnreachableError) return true;
  return error instanceof ApiError && (error.status >= 500 || error.status === 429 || error.status === 408);
}

/** How progress lines are shown: on a terminal each replaces the one before; elsewhere at most one every `everyMs`. */
export interface ProgressDisplay {
  readonly inPlace: boolean;
  readonly everyMs: number;
  readonly now: () => number;
}

/** Erases the line above (the previous progress line): what makes the next one replace it on a terminal. */
const replacePreviousLine = "\x1b[1A\x1b[2K";

/**
 * A progress line printer over `print` (which ends each line): in place on a terminal; otherwise a new line once
 * `everyMs` passed since the last one, or at once when `changed` says the line says something new (e.g. a phase).
 */
export function progressPrinter(print: (line: string) => void, display: ProgressDisplay): (line: string, changed?: boolean) => void {
  let printed = false;
  let lastAt = 0;
  return (line, changed = false) => {
    if (display.inPlace) {
      print(`${printed ? replacePreviousLine : ""}${line}`);
    } else {
      if (printed && !changed && display.now() - lastAt < display.everyMs) return;
      print(line);
    }
    printed = true;
    lastAt = display.now();
  };
}

/**
 * Waits for `work` (one long request) while following how far it is with `poll`, every `intervalMs`, until it
 * settles: each poll's answer goes to `onProgress`; a poll that fails is skipped (the work's own answer decides).
 */
export async function whileFollowing<T, P>(work: Promise<T>, watch: { poll(): Promise<P>; onProgress(progress: P): void; sleep(ms: number): Promise<void>; intervalMs: number }): Promise<T> {
  let settled = false;
  const done = work.then(
    () => (settled = true),
    () => (settled = true),
  );
  while (!settled) {
    await Promise.race([done, watch.sleep(watch.intervalMs)]);
    // An answer already on its way settles first: no poll for work that has ended.
    await new Promise((resolve) => setImmediate(resolve));
    if (settled) break;
    try {
      const progress = await watch.poll();
      if (!settled) watch.onProgress(progress);
    } catch {
      // Not recorded yet, or a blip: the next poll tries again.
    }
  }
  return work;
}
