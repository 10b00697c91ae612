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
 */
import { queueNames } from "../adapters/queues";
import { isLeaseLost, isSourceError, type TargetBlob, type TargetLease } from "../adapters/target-blob";
import { ConcurrencyError } from "../adapters/tables";
import { PermanentError, statusOf } from "../domain/errors";
import type { CopyStepMessage, FinalizeMessage } from "../domain/model";
import { type PageOperation, type WindowDiff, adaptWindowBytes, fullCopyDiff, nextWindow, planWindow } from "../domain/plan";
import { type ByteRange, GiB, MiB } from "../domain/ranges";
import type { BackupRun } from "../domain/records";
import type { Delivery } from "../host/queue";
import type { Deps, Log } from "./deps";
import { createWorkPool } from "./pool";

const windowLimits = { min: 64 * MiB, max: 1024 * GiB };

/** Read access to the run's snapshots, re-granted when the service says it ran out. */
class SourceAccess {
  private sourceSas?: string;
  private baseSas?: string;
  constructor(
    private readonly deps: Deps,
    private readonly run: BackupRun,
  ) {}

  async source(fresh = false): Promise<string> {
    if (!this.sourceSas || fresh) this.sourceSas = await this.grant(this.run.sourceSnapshotId!, fresh);
    return this.sourceSas;
  }

  async base(fresh = false): Promise<string> {
    if (!this.baseSas || fresh) this.baseSas = await this.grant(this.run.baseSnapshotId!, fresh);
    return this.baseSas;
  }

  /** Runs `work`; on a 403/404 about the source, checks the snapshots still exist, re-grants and tries once more. */
  async retrying<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      const status = statusOf(error);
      if (!isSourceError(error) && status !== 403 && status !== 404) throw error;
      await this.ensureSnapshotsExist();
      await this.source(true);
      if (this.run.baseSnapshotId) await this.base(true);
      return work();
    }
  }

  private async ensureSnapshotsExist(): Promise<void> {
    for (const id of [this.run.sourceSnapshotId, this.run.baseSnapshotId]) {
      if (id && !(await this.deps.compute.getSnapshot(id))) {
        throw new PermanentError("SnapshotNotFound", `snapshot ${id} was deleted during the run`);
      }
    }
  }

  private grant(snapshotId: string, fresh: boolean): Promise<string> {
    return this.deps.compute.grantRead(snapshotId, this.deps.settings.DISKDELTA_SAS_DURATION_SECONDS, fresh);
  }
}

/** Progress of one step, added to the run's totals. */
interface StepTotals {
  windows: number;
  changed: number;
  copied: number;
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
  if (!run.leaseId || run.blobBytes === undefined || !run.sourceSnapshotId) {
    throw new PermanentError("InvalidBackupRun", `BackupRun ${runId} lacks what its prepare records (snapshot, size, TargetBlob lease); the next run starts afresh`);
  }
  const target = deps.targets(config.target);
  const lease: TargetLease = { leaseId: run.leaseId };
  const access = new SourceAccess(deps, run);
  const blobBytes = run.blobBytes;
  const deadline = Date.now() + deps.settings.DISKDELTA_STEP_MAX_SECONDS * 1000;
  const budget = { maxBytes: deps.settings.DISKDELTA_STEP_MAX_BYTES, maxRequests: deps.settings.DISKDELTA_STEP_MAX_REQUESTS };
  const totals: StepTotals = { windows: 0, changed: 0, copied: 0, cleared: 0, requests: 0 };

  // Copies of one window run while the next window's diff is asked for; progress is recorded only after all finish.
  const pool = createWorkPool<PageOperation>(deps.settings.DISKDELTA_COPY_CONCURRENCY, (operation) => perform(deps, run, target, lease, access, operation));
  let cursor = run.cursor;
  let windowBytes = message.windowBytes;
  for (let window = nextWindow(cursor, windowBytes, blobBytes); window && !pool.failed; window = nextWindow(cursor, windowBytes, blobBytes)) {
    const diff = await access.retrying(() => diffOf(deps, access, run, window));
    const plan = planWindow(diff, cursor, { maxBytes: budget.maxBytes - totals.copied, maxRequests: budget.maxRequests - totals.requests });
    pool.add(plan.operations);
    totals.changed += plan.copyBytes;
    totals.copied += plan.copyBytes;
    totals.cleared += plan.clearBytes;
    totals.requests += plan.operations.length;
    cursor = plan.nextCursor;
    // Adapt even when the budget cut the window short, or the next step lists the same oversized window again.
    windowBytes = adaptWindowBytes(windowBytes, diff.changed.length + diff.cleared.length, windowLimits);
    if (!plan.windowComplete) break;
    totals.windows += 1;
    if (totals.copied >= budget.maxBytes || totals.requests >= budget.maxRequests || Date.now() >= deadline) break;
  }
  try {
    await pool.drain();
  } catch (error) {
    if (!isLeaseLost(error)) throw error;
    return fencedOff(deps, message, log);
  }

  const progressed: BackupRun = {
    ...run,
    state: cursor >= blobBytes ? "finalizing" : "copying",
    step: run.step + 1,
    cursor,
    windowsDone: run.windowsDone + totals.windows,
    bytesChanged: run.bytesChanged + totals.changed,
    bytesCopied: run.bytesCopied + totals.copied,
    bytesCleared: run.bytesCleared + totals.cleared,
    requests: run.requests + totals.requests,
    updatedAt: deps.now().toISOString(),
  };
  try {
    await deps.records.putRun(progressed, found.etag);
  } catch (error) {
    // A duplicate of this message did the same work and recorded it first; it queues the successor.
    if (!(error instanceof ConcurrencyError)) throw error;
    return log.info("copy-step raced a duplicate", { diskKey, runId, step: message.step });
  }
  await handOver(deps, progressed, windowBytes);
  log.info("CopyStep done", { diskKey, runId, step: message.step, cursor, blobBytes, ...totals });
}

/** Queues what comes after the run's recorded progress: the next CopyStep, or the finalizer. */
async function handOver(deps: Deps, run: BackupRun, windowBytes: number): Promise<void> {
  if (run.state === "finalizing") {
    const finalize: FinalizeMessage = { v: 1, kind: "finalize", diskKey: run.diskKey, runId: run.runId };
    return deps.queues.send(queueNames.finalizations, finalize);
  }
  const next: CopyStepMessage = { v: 1, kind: "copy-step", diskKey: run.diskKey, runId: run.runId, step: run.step, cursor: run.cursor, windowBytes };
  return deps.queues.send(queueNames.copySteps, next);
}

async function diffOf(deps: Deps, access: SourceAccess, run: BackupRun, window: ByteRange): Promise<WindowDiff> {
  const sourceSas = await access.source();
  if (run.baseSnapshotId) {
    const { changed, cleared } = await deps.source.diff(sourceSas, await access.base(), window);
    return { window, changed, cleared };
  }
  return fullCopyDiff(window, await deps.source.allocated(sourceSas, window), run.targetWasEmpty === true);
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

function perform(deps: Deps, run: BackupRun, target: TargetBlob, lease: TargetLease, access: SourceAccess, { kind, range }: PageOperation): Promise<void> {
  if (kind === "clear") return target.clear(range, lease);
  if (run.copyMode === "stream") {
    return access.retrying(async () => target.upload(range, await deps.source.read(await access.source(), range), lease));
  }
  return access.retrying(async () => target.copyFromUrl(await access.source(), range, lease));
}
