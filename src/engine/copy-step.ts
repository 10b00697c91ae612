/**
 * One CopyStep: from the run's cursor, ask for the diff of successive windows of the disk, plan each window within
 * the step's budget, copy ChangedRanges and clear ClearedRanges on the TargetBlob, then hand over to the next
 * CopyStep (or the finalizer).
 *
 * The BackupRun record is the authority on progress: a message only names the step it is for, and is served only
 * when that is the run's current step; the cursor comes from the record. The step records its progress (ETag: one
 * of two concurrent duplicates wins) and only then queues its successor. If the worker dies in between, the
 * redelivered message finds the run one step further and queues the successor again. Page writes are idempotent,
 * so a step that runs twice does no harm.
 *
 * While it copies, the step also records how far it is (`stepBytesCopied`, see StepProgress): on the same row, under
 * the same ETag discipline, so a progress write can never undo or outrun a state transition.
 */
import { isDeepStrictEqual } from "node:util";
import { ConcurrencyError, PermanentError, describeError, isLeaseLost, isSourceError, statusOf } from "../domain/errors";
import { diffWindowLimits } from "../domain/limits";
import { type CopyStepMessage, queueNames } from "../domain/messages";
import { pageBlobTierNamed } from "../domain/page-blob-tiers";
import { type MergePolicy, type PageOperation, type WindowDiff, adaptWindowBytes, fullCopyDiff, mergeGapBytes, nextWindow, planWindow } from "../domain/plan";
import { type ByteRange, MiB } from "../domain/ranges";
import type { Settings } from "../config";
import { type WritePacing, pacedWrites } from "../adapters/target-blob";
import type { BackupRun, PreparedRun, RunIn } from "../domain/records";
import type { Delivery, Deps, Log, TargetBlob, TargetLease } from "./deps";
import { createWorkPool } from "./pool";
import { type ProgressWriter, createProgressWriter } from "./progress";

/** Read access to the run's snapshots (its SourceSnapshot, and its chain base when it diffs), re-granted when the service says it ran out. */
class SourceAccess {
  private readonly sas = new Map<string, string>();
  constructor(
    private readonly deps: Deps,
    private readonly run: PreparedRun,
  ) {}

  source(fresh = false): Promise<string> {
    return this.access(this.run.sourceSnapshotId, fresh);
  }

  /** Read access to the chain base a diff is taken against. */
  base(baseSnapshotId: string, fresh = false): Promise<string> {
    return this.access(baseSnapshotId, fresh);
  }

  private async access(snapshotId: string, fresh: boolean): Promise<string> {
    const known = this.sas.get(snapshotId);
    if (known && !fresh) return known;
    const granted = await this.deps.compute.grantRead(snapshotId, this.deps.settings.DISKDELTA_SAS_DURATION_SECONDS, fresh);
    this.sas.set(snapshotId, granted);
    return granted;
  }

  /** Runs `work`; on a 403/404 about the source, checks the snapshots still exist, re-grants and tries once more. */
  async retrying<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      const status = statusOf(error);
      if (!isSourceError(error) && status !== 403 && status !== 404) throw error;
      for (const snapshotId of snapshotsOf(this.run)) {
        if (!(await this.deps.compute.getSnapshot(snapshotId))) {
          throw new PermanentError("SnapshotNotFound", `snapshot ${snapshotId} was deleted during the run`);
        }
      }
      for (const snapshotId of snapshotsOf(this.run)) await this.access(snapshotId, true);
      return work();
    }
  }
}

/** The snapshots a prepared run reads: its SourceSnapshot, and its chain base when it diffs. */
function snapshotsOf(run: PreparedRun): string[] {
  return run.baseSnapshotId === undefined ? [run.sourceSnapshotId] : [run.sourceSnapshotId, run.baseSnapshotId];
}

/** Progress of one step, added to the run's totals. */
interface StepTotals {
  windows: number;
  changed: number;
  copied: number;
  /** Of `copied`, unchanged bytes carried along by coalescing. */
  carried: number;
  cleared: number;
  requests: number;
}

export async function runCopyStep(deps: Deps, message: CopyStepMessage, log: Log, delivery: Delivery = { attempt: 1 }): Promise<void> {
  const { diskKey, runId } = message;
  const found = await deps.records.getRun(diskKey, runId);
  if (!found) return log.warn("copy-step for an unknown BackupRun dropped", { diskKey, runId });
  const run = found.value;
  if (message.step === run.step - 1 && delivery.attempt > 1 && (run.state === "copying" || run.state === "finalizing")) {
    // This step's work was recorded but the worker may have died before queueing the successor: queue it again.
    await handOver(deps, run, message.windowBytes);
    return log.warn("redelivered copy-step: successor queued again", { diskKey, runId, step: message.step });
  }
  if (run.state !== "copying" || message.step !== run.step) {
    const what = message.step > run.step ? "copy-step ahead of its run ignored" : "stale copy-step dropped";
    return log.info(what, { diskKey, runId, step: message.step, runStep: run.step, state: run.state });
  }
  if (message.cursor !== run.cursor) {
    log.warn("copy-step cursor differs from the run's; the run's is used", { diskKey, runId, step: message.step, messageCursor: message.cursor, runCursor: run.cursor });
  }
  const config = await deps.records.getDisk(diskKey);
  if (!config) throw new PermanentError("DiskNotProtected", `disk ${diskKey} is no longer protected`);
  const unpaced = deps.targets(config.target);
  const rates = targetBlobRates(deps.settings, (await unpaced.inspect())?.accessTier);
  const target = pacedWrites(unpaced, rates);
  const merge = mergePolicy(deps.settings, rates);
  const lease: TargetLease = { leaseId: run.leaseId };
  const access = new SourceAccess(deps, run);
  const blobBytes = run.blobBytes;
  const deadline = Date.now() + deps.settings.DISKDELTA_STEP_MAX_SECONDS * 1000;
  const budget = { maxBytes: deps.settings.DISKDELTA_STEP_MAX_BYTES, maxRequests: deps.settings.DISKDELTA_STEP_MAX_REQUESTS };
  const totals: StepTotals = { windows: 0, changed: 0, copied: 0, carried: 0, cleared: 0, requests: 0 };

  const progress = new StepProgress(deps, run, found.etag, log);
  // Copies of one window run while the next window's diff is asked for; the step's end is recorded only after all
  // finish, its progress (bytes whose writes completed) as they finish.
  const pool = createWorkPool<PageOperation>(deps.settings.DISKDELTA_COPY_CONCURRENCY, async (operation) => {
    await perform(deps, run, target, lease, access, operation);
    if (operation.kind === "copy") progress.completed(operation.range.end - operation.range.start);
  });
  let cursor = run.cursor;
  let windowBytes = message.windowBytes;
  for (let window = nextWindow(cursor, windowBytes, blobBytes); window && !pool.failed; window = nextWindow(cursor, windowBytes, blobBytes)) {
    const diff = await access.retrying(() => diffOf(deps, access, run, window, merge !== undefined));
    const plan = planWindow(diff, cursor, { maxBytes: budget.maxBytes - totals.copied, maxRequests: budget.maxRequests - totals.requests }, merge);
    pool.add(plan.operations);
    totals.changed += plan.copyBytes - plan.carriedBytes;
    totals.copied += plan.copyBytes;
    totals.carried += plan.carriedBytes;
    totals.cleared += plan.clearBytes;
    totals.requests += plan.operations.length;
    cursor = plan.nextCursor;
    // Adapt even when the budget cut the window short, or the next step lists the same oversized window again.
    windowBytes = adaptWindowBytes(windowBytes, diff.changed.length + diff.cleared.length, diffWindowLimits);
    if (!plan.windowComplete) break;
    totals.windows += 1;
    if (totals.copied >= budget.maxBytes || totals.requests >= budget.maxRequests || Date.now() >= deadline) break;
  }
  try {
    await pool.drain();
  } catch (error) {
    if (!isLeaseLost(error)) throw error;
    return fencedOff(deps, message, log);
  } finally {
    await progress.stop();
  }

  // The step's bytes now count in the totals: the in-step figure goes.
  const { stepBytesCopied: _inStep, ...recorded } = run;
  const advanced = {
    ...recorded,
    step: run.step + 1,
    cursor,
    windowsDone: run.windowsDone + totals.windows,
    bytesChanged: run.bytesChanged + totals.changed,
    bytesCopied: run.bytesCopied + totals.copied,
    bytesCleared: run.bytesCleared + totals.cleared,
    requests: run.requests + totals.requests,
    updatedAt: deps.now().toISOString(),
  };
  // One state per branch: TypeScript checks a union of states and copy kinds only up to 25 combinations.
  const progressed: PreparedRun = cursor >= blobBytes ? { ...advanced, state: "finalizing" } : { ...advanced, state: "copying" };
  if (!(await recordStep(deps, run, progressed, progress.etag))) {
    // A duplicate of this message did the same work and recorded it first; it queues the successor.
    return log.info("copy-step raced a duplicate", { diskKey, runId, step: message.step });
  }
  await handOver(deps, progressed, windowBytes);
  log.info("CopyStep done", { diskKey, runId, step: message.step, cursor, blobBytes, ...totals });
}

/**
 * How far one CopyStep is: the bytes of its copies whose page writes completed, recorded on the run row as
 * `stepBytesCopied` at most once per DISKDELTA_PROGRESS_SECONDS, one write at a time. Each write replaces the row as
 * this step read it (state fields untouched) and is ETag-checked against the step's last read or write, so it lands
 * only on a row nobody else changed since: never over a state transition, never for a stale step. On a conflict it
 * stops for good, silently (whoever wrote decides; the step's end finds out itself). It only ever raises the figure,
 * which stays within what the step planned: a redelivered step that starts over keeps an earlier attempt's figure
 * until it passes it (those pages were written, and page writes are idempotent), rather than count them twice.
 */
class StepProgress {
  private currentEtag: string;
  private recorded: number;
  private done = 0;
  private readonly writer: ProgressWriter<number>;

  constructor(deps: Deps, run: RunIn<"copying">, etag: string, log: Log) {
    this.currentEtag = etag;
    this.recorded = run.stepBytesCopied ?? 0;
    this.writer = createProgressWriter(deps.settings.DISKDELTA_PROGRESS_SECONDS * 1000, async (bytes) => {
      try {
        this.currentEtag = await deps.records.putRun({ ...run, stepBytesCopied: bytes }, this.currentEtag);
        this.recorded = bytes;
        return true;
      } catch (error) {
        if (error instanceof ConcurrencyError) return false;
        log.warn("CopyStep progress not recorded; the copy goes on", { diskKey: run.diskKey, runId: run.runId, step: run.step, error: describeError(error) });
        return true;
      }
    });
  }

  /** The row's ETag as this step last read or wrote it. */
  get etag(): string {
    return this.currentEtag;
  }

  /** A copy of `bytes` completed. */
  completed(bytes: number): void {
    this.done += bytes;
    if (this.done > this.recorded) this.writer.offer(this.done);
  }

  /** No more progress writes; waits for the one in flight. */
  stop(): Promise<void> {
    return this.writer.stop();
  }
}

/**
 * Records the step's end over the row this step read. A conflict means someone wrote the row since: when the row
 * proves it was only progress (a duplicate of this step, still copying: every field but `stepBytesCopied` as this
 * step read it), the end is recorded over that; anything else (the step recorded, the run failed) wins. False then.
 */
async function recordStep(deps: Deps, run: RunIn<"copying">, progressed: PreparedRun, etag: string): Promise<boolean> {
  for (let attempt = 1; ; attempt++) {
    try {
      await deps.records.putRun(progressed, etag);
      return true;
    } catch (error) {
      if (!(error instanceof ConcurrencyError)) throw error;
      const now = await deps.records.getRun(run.diskKey, run.runId);
      if (!now || attempt >= 5 || !onlyProgressMoved(run, now.value)) return false;
      etag = now.etag;
    }
  }
}

function onlyProgressMoved(run: RunIn<"copying">, now: BackupRun): boolean {
  if (now.state !== "copying") return false;
  const { stepBytesCopied: _before, ...before } = run;
  const { stepBytesCopied: _now, ...after } = now;
  return isDeepStrictEqual(before, after);
}

/** Queues what comes after the run's recorded progress: the next CopyStep, or the finalizer. */
async function handOver(deps: Deps, run: PreparedRun, windowBytes: number): Promise<void> {
  const { diskKey, runId } = run;
  if (run.state === "finalizing") return deps.queues.send(queueNames.finalizations, { diskKey, runId });
  return deps.queues.send(queueNames.copySteps, { diskKey, runId, step: run.step, cursor: run.cursor, windowBytes });
}

/**
 * The diff of one window. With `toMerge`, a diff of several ChangedRanges also carries the source's allocated pages,
 * which say which gaps coalescing may carry along (a full copy never merges: its gaps are unallocated or cleared).
 */
async function diffOf(deps: Deps, access: SourceAccess, run: RunIn<"copying">, window: ByteRange, toMerge: boolean): Promise<WindowDiff> {
  const sourceSas = await access.source();
  if (run.fullCopyReason !== undefined) return fullCopyDiff(window, await deps.source.allocated(sourceSas, window), run.targetWasEmpty);
  const { changed, cleared } = await deps.source.diff(sourceSas, await access.base(run.baseSnapshotId), window);
  if (!toMerge || changed.length < 2) return { window, changed, cleared };
  return { window, changed, cleared, allocated: await deps.source.allocated(sourceSas, window) };
}

/**
 * One TargetBlob's scalability targets, what its writes are paced to and merged for: a premium page blob's are its
 * performance tier's, as the blob reports it (`accessTier`: set, or inferred from its size); a standard page blob's
 * are the settings'.
 */
function targetBlobRates(settings: Settings, accessTier: string | undefined): WritePacing {
  const tier = pageBlobTierNamed(accessTier);
  if (tier) return { bytesPerSecond: tier.bytesPerSecond, requestsPerSecond: tier.requestsPerSecond };
  return { bytesPerSecond: settings.DISKDELTA_TARGET_BLOB_MIB_PER_SECOND * MiB, requestsPerSecond: settings.DISKDELTA_TARGET_BLOB_REQUESTS_PER_SECOND };
}

/** Coalescing as the cost model sets it (`mergeGapBytes`); undefined when it merges nothing. */
function mergePolicy(settings: Settings, rates: WritePacing): MergePolicy | undefined {
  const maxGapBytes = mergeGapBytes(rates, settings.DISKDELTA_TRANSACTION_COST_BYTES);
  return maxGapBytes > 0 ? { ...rates, maxGapBytes } : undefined;
}

/**
 * A write was refused for want of the TargetBlob's lease: another run took it. A stale duplicate of a step whose run
 * moved on is dropped (never retried into the blob); a current run that lost its lease ends, since someone else
 * now writes there.
 */
async function fencedOff(deps: Deps, message: CopyStepMessage, log: Log): Promise<void> {
  const { diskKey, runId, step } = message;
  const now = await deps.records.getRun(diskKey, runId);
  if (!now || now.value.state !== "copying" || now.value.step !== step) {
    return log.warn("stale copy-step fenced off by the TargetBlob lease and dropped", { diskKey, runId, step, runState: now?.value.state });
  }
  throw new PermanentError("TargetBlobLeaseLost", `BackupRun ${runId} lost the TargetBlob's lease to another writer; its copy is abandoned`);
}

function perform(deps: Deps, run: PreparedRun, target: TargetBlob, lease: TargetLease, access: SourceAccess, { kind, range }: PageOperation): Promise<void> {
  if (kind === "clear") return target.clear(range, lease);
  if (run.copyMode === "stream") {
    return access.retrying(async () => target.upload(range, await deps.source.read(await access.source(), range), lease));
  }
  return access.retrying(async () => target.copyFromUrl(await access.source(), range, lease));
}
