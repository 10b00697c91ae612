/**
 * Stale writers of an earlier BackupRun, played while a later run of the same disk copies: the moment a stale
 * write would do harm is after the later run's CopyStep wrote its ranges and before the finalizer snapshots the
 * TargetBlob, so that is when they are let loose. Three of them, each as a worker of the earlier run would be:
 * - a page write straight through the adapter with the earlier run's lease, of the earlier SourceSnapshot's bytes
 *   over a range the later run changed (Put Page From URL) — the TargetBlob lease must refuse it (412);
 * - the earlier run's first CopyStep message redelivered (attempt 2) — its run is over, so it is dropped;
 * - a worker that read the earlier run's record while that run was copying and only now gets to write: the same
 *   message, the record as it was then — fenced off by the lease (or, when the earlier run was a diff whose base
 *   snapshot has since been deleted, stopped by SnapshotNotFound before it writes). Played for server copies only:
 *   a stream copy's refused Put Page carries its 4 MiB body, and the local stack then leaves the client's next
 *   requests unanswered for a minute (an emulator fault, reported), which would stall the run under test.
 * `recordSteps` wraps the worker's Deps to capture what such writers hold and to find that moment.
 */
import { queueNames } from "../../src/adapters/queues";
import { PermanentError, isLeaseLost, isPermanent, statusOf } from "../../src/domain/errors";
import { type CopyStepMessage, type MessageBody, messageFor } from "../../src/domain/messages";
import { PAGE_BYTES, type ByteRange } from "../../src/domain/ranges";
import type { RunIn } from "../../src/domain/records";
import { runCopyStep } from "../../src/engine/copy-step";
import type { Deps, Log } from "../../src/engine/deps";
import type { TestApp } from "./app";

/** What a stale worker of a run could still hold: its first CopyStep message and its record as that step read it. */
export interface RunTrace {
  readonly message: CopyStepMessage;
  readonly copying: RunIn<"copying">;
}

/** Captures RunTraces and lets a test act once a run's CopyStep has recorded its writes. */
export interface StepRecorder {
  /** The worker's Deps, observed; wrap it inside any crash interception so that it sees what succeeded. */
  wrap(deps: Deps): Deps;
  trace(runId: string): RunTrace | undefined;
  /** `then` runs once, inside the worker, right after a CopyStep of `runId` recorded its progress. */
  afterFirstStep(runId: string, then: () => Promise<void>): void;
}

export function recordSteps(): StepRecorder {
  const messages = new Map<string, CopyStepMessage>();
  const copying = new Map<string, RunIn<"copying">>();
  const hooks = new Map<string, () => Promise<void>>();
  return {
    wrap: (deps) => ({
      ...deps,
      queues: {
        async send(queue, message, delay) {
          await deps.queues.send(queue, message, delay);
          // What the worker sent, in the envelope it travels in (the send itself parsed it).
          const step = queue === queueNames.copySteps ? messageFor(queueNames.copySteps, message as MessageBody<"copy-steps">) : undefined;
          if (step && !messages.has(step.runId)) messages.set(step.runId, step);
        },
      },
      records: {
        ...deps.records,
        async putRun(run, etag) {
          const written = await deps.records.putRun(run, etag);
          if (run.state === "copying" && run.step === 0 && !copying.has(run.runId)) copying.set(run.runId, run);
          const hook = hooks.get(run.runId);
          if (hook && run.step >= 1 && (run.state === "copying" || run.state === "finalizing")) {
            hooks.delete(run.runId);
            await hook();
          }
          return written;
        },
      },
    }),
    trace(runId) {
      const message = messages.get(runId);
      const record = copying.get(runId);
      return message && record ? { message, copying: record } : undefined;
    },
    afterFirstStep(runId, then) {
      hooks.set(runId, then);
    },
  };
}

/** What the stale writers met. */
export interface StaleOutcome {
  /** The adapter write with the earlier lease: refused for want of the lease, or what happened instead. */
  readonly directWrite: "refused" | string;
  /** The redelivered message: dropped, or what happened instead. */
  readonly replay: "dropped" | string;
  /**
   * The worker with the old record: fenced off by the lease, stopped for a snapshot gone, not played (stream copy),
   * or what happened instead.
   */
  readonly staleWorker: "fenced" | "snapshot-gone" | "not-played" | string;
}

const maxBytesPerWrite = 4 * 1024 * 1024;

/**
 * Plays the three stale writers of `earlier` (a finished run) against the TargetBlob, aiming the direct write at
 * `changed` (a range the later run rewrote; clipped to 4 MiB and to the earlier SourceSnapshot).
 */
async function playStaleWriters(app: TestApp, earlier: RunTrace, changed: ByteRange | undefined): Promise<StaleOutcome> {
  const run = earlier.copying;
  const { deps } = app;
  const config = await deps.records.getDisk(run.diskKey);
  if (!config || !run.sourceSnapshotId || !run.leaseId || !run.blobBytes) throw new Error(`run ${run.runId} recorded no snapshot, lease or size`);
  const target = deps.targets(config.target);
  const sourceSnapshotId = run.sourceSnapshotId;
  const staleLease = { leaseId: run.leaseId };
  const range = aimedRange(changed, run.blobBytes - PAGE_BYTES);

  const directWrite = await settle(async () => {
    const sas = await deps.compute.grantRead(sourceSnapshotId, deps.settings.DISKDELTA_SAS_DURATION_SECONDS);
    await target.copyFromUrl(sas, range, staleLease);
    return `the write of bytes ${range.start}-${range.end} with the earlier lease was accepted`;
  }, (error) => (isLeaseLost(error) ? "refused" : undefined));

  const replayLog = capturingLog();
  const replay = await settle(async () => {
    await runCopyStep(deps, earlier.message, replayLog, { attempt: 2 });
    return replayLog.said("stale copy-step dropped") ? "dropped" : `the replayed step was not dropped: ${replayLog.lines.join("; ")}`;
  });

  if (run.copyMode === "stream") return { directWrite, replay, staleWorker: "not-played" };
  const workerLog = capturingLog();
  const staleWorker = await settle(async () => {
    await runCopyStep(readingOnce(deps, run), earlier.message, workerLog);
    return workerLog.said("stale copy-step fenced off") ? "fenced" : `the stale worker was not fenced off: ${workerLog.lines.join("; ")}`;
  }, (error) => (error instanceof PermanentError && error.code === "SnapshotNotFound" ? "snapshot-gone" : undefined));

  return { directWrite, replay, staleWorker };
}

/** What the stale writers met, filled in while the later run copies: their outcome, or the error that stopped them. */
export interface StalePlay {
  outcome?: StaleOutcome;
  error?: unknown;
}

/** Lets the stale writers of `earlier` loose right after the first CopyStep of `runId` recorded its writes. */
export function armStaleWriters(app: TestApp, steps: StepRecorder, runId: string, earlier: RunTrace, changed: ByteRange | undefined): StalePlay {
  const played: StalePlay = {};
  steps.afterFirstStep(runId, async () => {
    try {
      played.outcome = await playStaleWriters(app, earlier, changed);
    } catch (error) {
      played.error = error;
    }
  });
  return played;
}

/** A page-aligned range of at most 4 MiB inside the earlier disk: `changed` where it fits, else the first 4 MiB. */
function aimedRange(changed: ByteRange | undefined, earlierDiskBytes: number): ByteRange {
  const aim = changed && changed.start < earlierDiskBytes ? changed : { start: 0, end: maxBytesPerWrite };
  return { start: aim.start, end: Math.min(aim.end, aim.start + maxBytesPerWrite, earlierDiskBytes) };
}

/** Deps whose first read of `run` answers the record as it was while that run copied: a worker that read it then. */
function readingOnce(deps: Deps, run: RunIn<"copying">): Deps {
  let served = false;
  return {
    ...deps,
    records: {
      ...deps.records,
      async getRun(diskKey, runId) {
        if (served || runId !== run.runId) return deps.records.getRun(diskKey, runId);
        served = true;
        const now = await deps.records.getRun(diskKey, runId);
        return now && { ...now, value: run };
      },
    },
  };
}

/**
 * Runs `work` until it settles: its result, or what `expected` makes of the error it threw. Transient errors (the
 * history's injected faults) are retried a few times, as queue redelivery would.
 */
async function settle(work: () => Promise<string>, expected: (error: unknown) => string | undefined = () => undefined): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      const known = expected(error);
      if (known) return known;
      const status = statusOf(error);
      const transient = !isPermanent(error) && (status === undefined || status >= 500);
      if (!transient || attempt >= 5) return `failed: ${(error as Error).message?.split("\n")[0] ?? String(error)}`;
    }
  }
}

function capturingLog(): Log & { lines: string[]; said(text: string): boolean } {
  const lines: string[] = [];
  const add = (message: string) => void lines.push(message);
  return { lines, info: add, warn: add, error: add, said: (text) => lines.some((line) => line.includes(text)) };
}
