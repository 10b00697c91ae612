/** `sync --wait`: follow a BackupRun by polling its status until it ends, within a deadline and a bounded number of polls. */
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
  const deadline = watch.now() + options.timeoutMs;
  const maxPolls = Math.ceil(options.timeoutMs / options.intervalMs) + 1;
  let run = await watch.fetchRun();
  watch.onProgress?.(run, undefined);
  let failures = 0;
  for (let poll = 1; isActive(run.state); poll += 1) {
    const left = deadline - watch.now();
    if (left <= 0 || poll > maxPolls) return { run, timedOut: true };
    await watch.sleep(Math.min(options.intervalMs, left));
    try {
      const next = await watch.fetchRun();
      watch.onProgress?.(next, run);
      run = next;
      failures = 0;
    } catch (error) {
      failures += 1;
      if (!isTransient(error) || failures >= maxFailedPolls) throw error;
    }
  }
  return { run, timedOut: false };
}

function isTransient(error: unknown): boolean {
  if (error instanceof ApiUnreachableError) return true;
  return error instanceof ApiError && (error.status >= 500 || error.status === 429 || error.status === 408);
}
