/**
 * Starting and ending BackupRuns. One active run per disk is enforced with the ETag of the disk's state row:
 * two starters racing for the same disk both read the state, and only one write of `activeRunId` succeeds.
 */
import { ConcurrencyError, InvalidRecordError, describeError } from "../domain/errors";
import { abandonedAfterMs, orphanClaimAfterMs } from "../domain/limits";
import { queueNames } from "../domain/messages";
import { isActive, newRunId } from "../domain/model";
import { type BackupRun, type DiskState, type RunView, type Versioned, unprovenTargetEtag } from "../domain/records";
import type { Deps, Log } from "./deps";

/** What happened when a run was asked for. */
export type StartOutcome =
  | { readonly status: "started"; readonly runId: string }
  | { readonly status: "busy"; readonly activeRunId: string; readonly reason: string }
  | { readonly status: "not-found" }
  | { readonly status: "disabled" };


/**
 * Claims the disk for a new BackupRun and queues its start; `busy` if another run holds the disk. A disk of a VM's
 * disk set runs with `groupTime` (shared by the set's runs of one tick or sync), or alone with its own start time.
 */
export async function startBackupRun(deps: Deps, diskKey: string, trigger: BackupRun["trigger"], log: Log, groupTime?: string): Promise<StartOutcome> {
  const config = await deps.records.getDisk(diskKey);
  if (!config) return { status: "not-found" };
  if (!config.enabled && trigger === "schedule") return { status: "disabled" };
  const now = deps.now();
  const { value: state, etag } = await deps.records.getState(diskKey);
  if (state.activeRunId) {
    const holder = await readRun(deps, diskKey, state.activeRunId, log);
    const busy = holder === "invalid" ? false : await stillHolds(deps, state, holder?.value, now, log);
    if (busy && holder !== "invalid") return { status: "busy", activeRunId: state.activeRunId, reason: `run ${state.activeRunId} is ${holder?.value.state ?? "starting"}` };
  }
  const runId = newRunId(now, deps.randomId());
  try {
    await deps.records.putState(diskKey, { ...state, activeRunId: runId, lastRunId: runId, lastRunStartedAt: now.toISOString() }, etag);
  } catch (error) {
    if (!(error instanceof ConcurrencyError)) throw error;
    const fresh = await deps.records.getState(diskKey);
    return { status: "busy", activeRunId: fresh.value.activeRunId ?? "", reason: "another start claimed this disk at the same moment" };
  }
  const stamp = now.toISOString();
  await deps.records.createRun({
    diskKey, runId, trigger, state: "queued", startedAt: stamp, updatedAt: stamp, copyMode: config.copyMode,
    step: 0, cursor: 0, windowsDone: 0, bytesChanged: 0, bytesCopied: 0, bytesCleared: 0, requests: 0,
    ...(config.vmGroup ? { groupTime: groupTime ?? stamp } : {}),
  });
  await deps.queues.send(queueNames.runStarts, { diskKey, runId });
  log.info("BackupRun queued", { diskKey, runId, trigger, ...(config.vmGroup ? { vmId: config.vmGroup.vmId, groupTime: groupTime ?? stamp } : {}) });
  return { status: "started", runId };
}

/** Whether the run named in the state still holds the disk; a lost or finished holder is released. */
async function stillHolds(deps: Deps, state: DiskState, holder: BackupRun | undefined, now: Date, log: Log): Promise<boolean> {
  if (!holder) {
    const claimedAt = Date.parse(state.lastRunStartedAt ?? "");
    return Number.isFinite(claimedAt) && now.getTime() - claimedAt < orphanClaimAfterMs;
  }
  if (!isActive(holder.state)) return false;
  if (now.getTime() - Date.parse(holder.updatedAt) < abandonedAfterMs) return true;
  await failRun(deps, holder.diskKey, holder.runId, new Error(`abandoned: no progress since ${holder.updatedAt}`), log);
  return false;
}

/**
 * Ends a run as failed with its cause, releases the disk and revokes the run's read access.
 * Nothing already backed up is touched: RestorePoints and the chain base stay as they were.
 */
export async function failRun(deps: Deps, diskKey: string, runId: string, cause: unknown, log: Log): Promise<void> {
  const reason = describeError(cause);
  const read = await readRun(deps, diskKey, runId, log);
  // A run whose record cannot be read cannot be rewritten: the disk is released all the same, so it goes on.
  const found = read === "invalid" ? undefined : read;
  if (found && !isActive(found.value.state)) {
    // A late failure of a run that already ended (a stale duplicate): its outcome stands, nothing to report.
    return log.warn("failure after the BackupRun ended ignored", { diskKey, runId, state: found.value.state, error: reason });
  }
  if (found) {
    const ended = deps.now().toISOString();
    const written = await deps.records
      .putRun({ ...found.value, state: "failed", error: reason, endedAt: ended, updatedAt: ended }, found.etag)
      .then(() => true, (error: unknown) => {
        if (!(error instanceof ConcurrencyError)) throw error;
        return false;
      });
    if (!written) {
      const now = await deps.records.getRun(diskKey, runId);
      if (now && !isActive(now.value.state)) return log.warn("failure after the BackupRun ended ignored", { diskKey, runId, state: now.value.state, error: reason });
    }
    // An active run may fail in any state: what it had prepared (snapshots, lease) is whatever its record holds.
    const prepared: RunView = found.value;
    for (const snapshotId of [prepared.sourceSnapshotId, prepared.baseSnapshotId]) {
      if (snapshotId) await deps.compute.revokeAccess(snapshotId).catch(() => undefined);
    }
    await keepProvenTarget(deps, prepared);
    await releaseTargetLease(deps, prepared);
  }
  await updateState(deps, diskKey, (state) =>
    state.activeRunId === runId ? { ...state, activeRunId: undefined, lastRunState: "failed", lastError: reason } : undefined,
  );
  deps.metrics.record("diskdelta.run.failed", 1, { diskKey });
  log.error("BackupRun failed", { diskKey, runId, error: reason });
}

/**
 * The run's record, or "invalid" when it does not parse: it is logged with its problems and left for an operator,
 * and never holds the disk (nothing can be decided from it).
 */
async function readRun(deps: Deps, diskKey: string, runId: string, log: Log): Promise<Versioned<BackupRun> | undefined | "invalid"> {
  try {
    return await deps.records.getRun(diskKey, runId);
  } catch (error) {
    if (!(error instanceof InvalidRecordError)) throw error;
    log.error("BackupRun record cannot be read; the disk is released and the record left for an operator", { diskKey, runId, problems: error.problems });
    return "invalid";
  }
}

/**
 * A diff run that fails leaves the TargetBlob holding the base plus part of the base's diff, which the next diff
 * rewrites: its writes are the only ones since the base's ETag, so the ETag it leaves (proven under its lease) becomes
 * the base's. Nothing is kept when the lease is no longer this run's, the base moved, or it was not proven.
 */
async function keepProvenTarget(deps: Deps, run: RunView): Promise<void> {
  const { leaseId, baseSnapshotId } = run;
  if (!leaseId || !baseSnapshotId) return;
  const config = await deps.records.getDisk(run.diskKey).catch(() => undefined);
  if (!config) return;
  const targetEtag = await deps.targets(config.target).etagUnderLease({ leaseId }).catch(() => undefined);
  if (targetEtag === undefined) return;
  await updateState(deps, run.diskKey, (state) =>
    state.activeRunId === run.runId && state.base?.targetEtag !== undefined && state.base.targetEtag !== unprovenTargetEtag
      && state.base.snapshotId.toLowerCase() === baseSnapshotId.toLowerCase()
      ? { ...state, base: { ...state.base, targetEtag } }
      : undefined,
  );
}

/** Gives up a failed run's TargetBlob lease, so the blob is not left locked; the next run would break it anyway. */
async function releaseTargetLease(deps: Deps, run: RunView): Promise<void> {
  const leaseId = run.leaseId;
  if (!leaseId) return;
  const config = await deps.records.getDisk(run.diskKey).catch(() => undefined);
  if (config) await deps.targets(config.target).releaseLease({ leaseId }).catch(() => undefined);
}

/** Read-modify-write of a disk's state with ETag retries; `change` returns undefined to leave it as it is. */
export async function updateState(deps: Deps, diskKey: string, change: (state: DiskState) => DiskState | undefined): Promise<void> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const { value, etag } = await deps.records.getState(diskKey);
    const next = change(value);
    if (!next) return;
    try {
      await deps.records.putState(diskKey, next, etag);
      return;
    } catch (error) {
      if (!(error instanceof ConcurrencyError)) throw error;
    }
  }
  throw new ConcurrencyError(`state of disk ${diskKey}`);
}
