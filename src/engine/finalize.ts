/**
 * The end of a BackupRun. Under the run's TargetBlob lease: blob snapshot, then the structure check (the snapshot
 * allocates exactly what the SourceSnapshot allocates), then the blob's stamp says it holds the SourceSnapshot, then
 * the RestorePoint record (written last of the data-bearing steps, so a record always points at proven data), then
 * the new chain base and the run marked succeeded. Housekeeping comes after success and never fails the run: read
 * access revoked, SourceSnapshots diskdelta no longer needs deleted, retention applied; what fails is a warning and
 * is done again by the next run. Every part is idempotent, so a redelivered message finishes the job.
 */
import { ConcurrencyError, PermanentError, codeOf, describeError, statusOf } from "../domain/errors";
import { type FinalizeMessage, queueNames } from "../domain/messages";
import { type ProtectedDiskConfig, diskRefOf, restorePointIdOf } from "../domain/model";
import { stalledAfterMs, targetSnapshotWaitLimitMs } from "../domain/limits";
import { withoutAbsent } from "../domain/objects";
import { premiumPageBlobSnapshots } from "../domain/page-blob-tiers";
import { PAGE_BYTES } from "../domain/ranges";
import { type BlobRestorePoint, type ChainBase, type RestorePoint, type RunIn, type Versioned, unprovenTargetEtag } from "../domain/records";
import { restorePointOfManifest } from "../domain/manifest";
import { applyRetention } from "../domain/retention";
import type { Deps, Log, TargetBlob, TargetLease } from "./deps";
import { snapshotTags } from "./prepare";
import { heldSnapshots } from "./restore";
import { startBackupRun, updateState } from "./runs";
import { writeSelfDescription } from "./self-description";
import { findStructureMismatch } from "./structure";

/** A finalizing run whose CopySteps recorded the whole blob as copied: the only kind that is finalized. */
type CopiedRun = RunIn<"finalizing">;

/**
 * Only a run whose CopySteps recorded the whole blob as copied is finalized; the structure check alone would not see
 * pages the copy had not reached yet (they are allocated on both sides, with the base's bytes).
 */
function refuseUncopied(run: CopiedRun): void {
  if (run.cursor < run.blobBytes) {
    throw new PermanentError("RunNotCopied", `BackupRun ${run.runId} of disk ${run.diskKey} is ${run.state} at ${run.cursor} of ${run.blobBytes} bytes; it cannot be finalized yet`);
  }
}

function leaseOf(run: CopiedRun): TargetLease {
  return { leaseId: run.leaseId };
}

export async function finalizeRun(deps: Deps, message: FinalizeMessage, log: Log): Promise<void> {
  const { diskKey, runId } = message;
  const found = await deps.records.getRun(diskKey, runId);
  if (!found) return log.warn("finalize for an unknown BackupRun dropped", { diskKey, runId });
  const run = found.value;
  if (run.state !== "finalizing") {
    return log.info(run.state === "copying" ? "finalize ahead of its run ignored" : "stale finalize dropped", { diskKey, runId, state: run.state });
  }
  refuseUncopied(run);
  const config = await deps.records.getDisk(diskKey);
  if (!config) throw new Error(`disk ${diskKey} is no longer protected; its run cannot be finalized`);
  const target = deps.targets(config.target);

  const point = await recordRestorePoint(deps, run, config, target, log);
  if ("dueAt" in point) return waitForTargetSnapshot(deps, { value: run, etag: found.etag }, target, point, log);
  // The blob as this run leaves it, proven under its lease: the next run diffs into it only if no one wrote it since.
  // A lease lost by now proves nothing: the next run copies in full.
  const leftAs = await target.etagUnderLease(leaseOf(run));
  const previousBase = await advanceChain(deps, run, point, { targetEtag: leftAs ?? unprovenTargetEtag, diffFrom: run.baseSnapshotId });
  const ended = deps.now();
  const { waitingSince: _since, targetSnapshotDueAt: _due, ...finished } = run;
  await endRunSucceeded(deps, { ...finished, state: "succeeded", restorePointId: point.restorePointId, endedAt: ended.toISOString(), updatedAt: ended.toISOString() }, found.etag);
  recordRunMetrics(deps, run, point);
  log.info("RestorePoint recorded", { diskKey, runId, restorePointId: point.restorePointId, bytesCopied: run.bytesCopied, durationMs: point.durationMs });

  await houseKeeping(deps, config, run, target, previousBase?.snapshotId, log);
  if (config.verifyAfterBackup) {
    await deps.queues.send(queueNames.verifications, { diskKey, runId, restorePointId: point.restorePointId });
  }
  if (config.snapshotMode === "existing") {
    // Replicate snapshots one by one: the next run picks the next snapshot, or ends at once if there is none.
    await startBackupRun(deps, diskKey, run.trigger, log);
  }
}

/** What a run that replicated a SourceSnapshot knows of it: what the chain base becomes. */
type ReplicatedSource = Pick<RunIn<"finalizing" | "replicating">, "diskKey" | "runId" | "sourceSnapshotId" | "sourceSnapshotTime" | "diskUniqueId" | "familyId" | "blobBytes">;

/** What a diff run's finalizer proved of the TargetBlob: its ETag as the run leaves it, and the base it diffed from. */
interface TargetProof {
  readonly targetEtag: string;
  readonly diffFrom: string | undefined;
}

/**
 * The new chain base (the SourceSnapshot just replicated) and the disk's newest RestorePoint, once its record exists;
 * returns the base it replaces. Only while the run still holds the disk: a late duplicate of a run that ended must
 * not move the chain back under a newer run's. A diff from a base the TargetBlob is not proven to hold is not proven
 * either (its blob is that base's plus the diff).
 */
export async function advanceChain(deps: Deps, run: ReplicatedSource, point: RestorePoint, proof?: TargetProof): Promise<ChainBase | undefined> {
  const previousBase = (await deps.records.getState(run.diskKey)).value.base;
  const targetEtagAfter = (base: ChainBase | undefined): string | undefined => {
    if (!proof) return undefined;
    const unproven = base?.targetEtag === unprovenTargetEtag;
    const fromUnproven = unproven && proof.diffFrom !== undefined && base.snapshotId.toLowerCase() === proof.diffFrom.toLowerCase();
    // A redelivered finalizer finds its own base: withdrawn since (a verification), it stays withdrawn.
    const ownWithdrawn = unproven && base.snapshotId.toLowerCase() === run.sourceSnapshotId.toLowerCase();
    return fromUnproven || ownWithdrawn ? unprovenTargetEtag : proof.targetEtag;
  };
  await updateState(deps, run.diskKey, (state) => state.activeRunId !== run.runId ? undefined : ({
    ...state,
    base: {
      snapshotId: run.sourceSnapshotId,
      diskUniqueId: run.diskUniqueId,
      familyId: run.familyId,
      sizeBytes: run.blobBytes - PAGE_BYTES,
      timeCreated: run.sourceSnapshotTime,
      ...withoutAbsent({ targetEtag: targetEtagAfter(state.base) }),
    },
    lastRestorePointId: point.restorePointId,
    lastRestorePointAt: point.createdAt,
    lastRestorePointSourceTime: point.sourceSnapshotTime,
  }));
  return previousBase;
}

/** Marks the run succeeded (a redelivery that finds it so already is fine) and releases the disk for the next run. */
export async function endRunSucceeded(deps: Deps, succeeded: RunIn<"succeeded">, etag: string): Promise<void> {
  const { diskKey, runId } = succeeded;
  await deps.records.putRun(succeeded, etag).catch(async (error: unknown) => {
    const again = await deps.records.getRun(diskKey, runId);
    if (again?.value.state !== "succeeded") throw error;
  });
  await updateState(deps, diskKey, (state) =>
    state.activeRunId === runId ? { ...state, activeRunId: undefined, lastRunState: "succeeded", lastError: undefined } : undefined,
  );
}

/**
 * Blob snapshot, structure check, stamp, record. A snapshot whose structure differs from the SourceSnapshot is
 * removed, the blob's claim to hold anything is withdrawn (the next run copies in full: `target-not-at-base`), and
 * the run fails naming the first differing range.
 */
async function recordRestorePoint(deps: Deps, run: CopiedRun, config: ProtectedDiskConfig, target: TargetBlob, log: Log): Promise<RestorePoint | SnapshotWait> {
  const lease = leaseOf(run);
  const restorePointId = restorePointIdOf(run.sourceSnapshotId, new Date(run.sourceSnapshotTime));
  // A redelivery after the record was written resumes from there: what was proven is not proven again (its source
  // snapshot may be gone by now), and the recorded blob snapshot is never removed.
  const recorded = await deps.records.getRestorePoint(run.diskKey, restorePointId);
  if (recorded?.runId === run.runId) return recorded;
  const snapshot = await takeBlobSnapshot(deps, run, config, target);
  if (typeof snapshot !== "string") return snapshot;
  const check = async (fresh: boolean) => {
    const sourceSasUrl = await deps.compute.grantRead(run.sourceSnapshotId, deps.settings.DISKDELTA_SAS_DURATION_SECONDS, fresh);
    return findStructureMismatch(deps, { sourceSasUrl, target, targetSnapshot: snapshot, blobBytes: run.blobBytes });
  };
  // A cached read SAS may have been revoked or expired since the copy: grant a fresh one once.
  const mismatch = await check(false).catch((error: unknown) => {
    if (statusOf(error) !== 403) throw error;
    return check(true);
  });
  deps.metrics.record("diskdelta.run.structure_mismatch", mismatch ? 1 : 0, { diskKey: run.diskKey });
  if (mismatch) {
    await target.setStamp({ owner: config.diskKey }, lease);
    await target.deleteSnapshot(snapshot);
    const where = `bytes ${mismatch.range.start}-${mismatch.range.end} are allocated in the ${mismatch.allocatedIn === "source" ? "SourceSnapshot but not in the TargetBlob" : "TargetBlob but not in the SourceSnapshot"}`;
    log.error("TargetBlob structure differs from its SourceSnapshot; no RestorePoint recorded, the next run copies in full", { diskKey: run.diskKey, runId: run.runId, range: mismatch.range, allocatedIn: mismatch.allocatedIn });
    throw new PermanentError("StructureMismatch", `the TargetBlob does not match SourceSnapshot ${run.sourceSnapshotId}: ${where}; no RestorePoint was recorded and the next run copies in full`);
  }
  await target.setStamp({ owner: config.diskKey, holds: { snapshotId: run.sourceSnapshotId, blobBytes: run.blobBytes } }, lease);
  // Another run recorded this SourceSnapshot already (it failed after its record): its RestorePoint, manifest and
  // guest state copy stand as they are; this run's blob snapshot is an orphan for retention.
  if (recorded) return recorded;
  // The manifest (and a Trusted Launch disk's guest state) first: a record always points at data that describes itself.
  const manifest = await writeSelfDescription(deps, config, target, { run, restorePointId, targetSnapshot: snapshot, createdAt: deps.now() });
  return deps.records.recordRestorePoint(restorePointOfManifest(manifest, target.url));
}

/** Azure refused the TargetBlob's snapshot for now (a premium page blob allows one per interval): when to ask again. */
interface SnapshotWait {
  readonly dueAt: Date;
}

/**
 * The run's blob snapshot (the one it made already, on a redelivery), or when to ask again if Azure refused it for the
 * rate. The premium limits are Azure's answers, not guesses from the tier: a refusal for the count fails the run
 * naming what the blob holds; the time to ask again is proven from the blob's own newest snapshot.
 */
async function takeBlobSnapshot(deps: Deps, run: CopiedRun, config: ProtectedDiskConfig, target: TargetBlob): Promise<string | SnapshotWait> {
  const stamp = { runId: run.runId, sourceSnapshotId: run.sourceSnapshotId, diskUniqueId: run.diskUniqueId, diskKey: config.diskKey };
  try {
    return await target.createSnapshotOnce(stamp, leaseOf(run));
  } catch (error) {
    const code = codeOf(error);
    if (code !== "SnapshotCountExceeded" && code !== "SnapshotOperationRateExceeded") throw error;
    const snapshots = await target.listSnapshots();
    if (code === "SnapshotCountExceeded") {
      const points = (await deps.records.listRestorePoints(config.diskKey)).filter((p) => p.kind === "blob" && p.targetBlobUrl === target.url);
      throw new PermanentError(
        "SnapshotCountExceeded",
        `TargetBlob ${target.url} has ${snapshots.length} snapshots, as many as Azure allows a premium page blob (${premiumPageBlobSnapshots.maxPerBlob}), and ${points.length} of them are RestorePoints of disk ${config.diskKey}; no RestorePoint was recorded: keep fewer (a smaller RetentionPolicy) or delete the blob's snapshots that are not RestorePoints`,
      );
    }
    const times = snapshots.map((s) => Date.parse(s.snapshot));
    const since = run.waitingSince === undefined ? undefined : new Date(run.waitingSince);
    return { dueAt: nextSnapshotTry(times, deps.settings.DISKDELTA_PREMIUM_SNAPSHOT_INTERVAL_SECONDS, deps.now(), since) };
  }
}

/**
 * When to ask for a refused snapshot again: an interval after the blob's newest snapshot, or, when that has passed
 * already (Azure's interval is longer than the setting says), after a tenth of the interval or half the time waited
 * since `waitingSince`, whichever is longer, so a setting too short costs a few asks, not one a second; never sooner
 * than 1 s.
 */
export function nextSnapshotTry(snapshotTimes: readonly number[], intervalSeconds: number, now: Date, waitingSince?: Date): Date {
  const newest = Math.max(...snapshotTimes.filter(Number.isFinite));
  const due = newest + intervalSeconds * 1000;
  const waitedMs = waitingSince ? Math.max(0, now.getTime() - waitingSince.getTime()) : 0;
  const soonest = now.getTime() + Math.max(1000, intervalSeconds * 100, waitedMs / 2);
  return new Date(due > now.getTime() + 1000 ? due : soonest);
}

/**
 * The run waits in `finalizing` for its TargetBlob's snapshot interval: the wait is recorded (status says until when)
 * and the finalize message is sent again with that delay, so waiting uses up no delivery. A record changed meanwhile
 * means another delivery went on with the run: this one drops. Waiting past `targetSnapshotWaitLimitMs` (or three
 * intervals) fails the run.
 */
async function waitForTargetSnapshot(deps: Deps, found: Versioned<CopiedRun>, target: TargetBlob, wait: SnapshotWait, log: Log): Promise<void> {
  const { diskKey, runId } = found.value;
  const now = deps.now();
  const since = found.value.waitingSince ?? now.toISOString();
  const interval = deps.settings.DISKDELTA_PREMIUM_SNAPSHOT_INTERVAL_SECONDS;
  const waitedMs = now.getTime() - Date.parse(since);
  if (waitedMs > Math.max(targetSnapshotWaitLimitMs, 3 * interval * 1000)) {
    throw new PermanentError(
      "SnapshotOperationRateExceeded",
      `TargetBlob ${target.url} has refused a snapshot for ${Math.round(waitedMs / 60_000)} minutes (DISKDELTA_PREMIUM_SNAPSHOT_INTERVAL_SECONDS is ${interval}); no RestorePoint was recorded: check what else snapshots the blob, then start a new run`,
    );
  }
  const waiting = { ...found.value, waitingSince: since, targetSnapshotDueAt: wait.dueAt.toISOString(), updatedAt: now.toISOString() };
  try {
    await deps.records.putRun(waiting, found.etag);
  } catch (error) {
    if (!(error instanceof ConcurrencyError)) throw error;
    // A write that was stored but answered as a conflict (its answer lost, the retry refused) is this wait's own.
    const again = (await deps.records.getRun(diskKey, runId))?.value;
    const own = again?.state === "finalizing" && again.updatedAt === waiting.updatedAt && again.targetSnapshotDueAt === waiting.targetSnapshotDueAt;
    if (!own) return log.info("snapshot wait raced a duplicate", { diskKey, runId });
  }
  // A wait longer than half the stall threshold asks (and is refused) once more on the way, refreshing the record,
  // so the timer's nudge never mistakes it for a stall.
  const delaySeconds = Math.min(Math.ceil((wait.dueAt.getTime() - now.getTime()) / 1000), stalledAfterMs / 2000);
  await deps.queues.send(queueNames.finalizations, { diskKey, runId }, delaySeconds);
  log.info("waiting for the TargetBlob's snapshot interval", { diskKey, runId, since, dueAt: waiting.targetSnapshotDueAt });
}

/** After success: give up the lease, revoke read access, delete superseded snapshots, apply retention. Never throws. */
async function houseKeeping(
  deps: Deps, config: ProtectedDiskConfig, copied: CopiedRun, target: TargetBlob, previousBaseId: string | undefined, log: Log,
): Promise<void> {
  const { diskKey } = config;
  const { runId } = copied;
  const attempt = async (what: string, work: () => Promise<void>) => {
    await work().catch((error: unknown) => log.warn(`${what} failed; the next run tries again`, { diskKey, runId, error: describeError(error) }));
  };
  await attempt("releasing the TargetBlob lease", () => target.releaseLease(leaseOf(copied)));
  for (const snapshotId of new Set([copied.sourceSnapshotId, copied.baseSnapshotId, previousBaseId])) {
    if (snapshotId) await attempt("revoking read access", () => deps.compute.revokeAccess(snapshotId));
  }
  if (config.snapshotMode === "create") await attempt("deleting superseded SourceSnapshots", () => deleteSupersededSnapshots(deps, config, copied, log));
  await attempt("applying retention", () => removeExpiredRestorePoints(deps, config, target, log));
}

/**
 * Deletes diskdelta's own SourceSnapshots of this disk older than the new base: never the base, never others'. (A
 * managed copy's source is its run's base once the copy completed, so it is kept until then and as long as needed.)
 */
export async function deleteSupersededSnapshots(deps: Deps, config: ProtectedDiskConfig, copied: Pick<ReplicatedSource, "sourceSnapshotId" | "sourceSnapshotTime">, log: Log): Promise<void> {
  const disk = await deps.compute.getDisk(diskRefOf(config)).catch(() => undefined);
  if (!disk) return;
  const baseTime = Date.parse(copied.sourceSnapshotTime);
  const snapshots = await deps.compute.listDiskSnapshots(disk);
  for (const snapshot of snapshots) {
    const ours = snapshot.tags[snapshotTags.disk] === config.diskKey;
    const superseded = snapshot.timeCreated.getTime() < baseTime && snapshot.id.toLowerCase() !== copied.sourceSnapshotId.toLowerCase();
    if (ours && superseded) {
      await deps.compute.deleteSnapshot(snapshot.id);
      log.info("superseded SourceSnapshot deleted", { diskKey: config.diskKey, snapshot: snapshot.name });
    }
  }
}

/**
 * Applies the RetentionPolicy: the record goes first and the blob snapshot after, so no record ever points at
 * deleted data; a RestorePoint a restore is reading from is kept until the restore is done. Blob snapshots that
 * this disk made (their stamp says so) without a record and older than the newest RestorePoint (left by a crash
 * between the two deletes, or by a failed run) are removed too once the tables hold their run; other disks'
 * snapshots, and those of runs the tables do not know (tables lost since), are never touched.
 */
async function removeExpiredRestorePoints(deps: Deps, config: ProtectedDiskConfig, target: TargetBlob, log: Log): Promise<void> {
  const points = await deps.records.listRestorePoints(config.diskKey);
  const ofThisBlob = points.filter((p): p is BlobRestorePoint => p.kind === "blob" && p.targetBlobUrl === target.url);
  const due = applyRetention(
    ofThisBlob.map((p) => ({ ...p, id: p.restorePointId, createdAt: new Date(p.sourceSnapshotTime) })),
    config.retention,
    deps.now(),
  );
  // A RestorePoint a restore reads is kept, record and data. Holds are read again after the records are deleted:
  // a restore that wrote its hold in between either finds its record gone (and stops) or keeps the data.
  const heldBefore = due.length > 0 ? await heldSnapshots(deps, target) : new Set<string>();
  const expired = due.filter((p) => !heldBefore.has(p.targetSnapshot));
  for (const point of due.filter((p) => heldBefore.has(p.targetSnapshot))) {
    log.info("expired RestorePoint kept while a restore reads it", { diskKey: config.diskKey, restorePointId: point.restorePointId });
  }
  for (const point of expired) {
    await deps.records.deleteRestorePoint(config.diskKey, point.restorePointId);
    log.info("RestorePoint removed by retention", { diskKey: config.diskKey, restorePointId: point.restorePointId });
  }
  const held = await heldSnapshots(deps, target);
  // The description goes before the data (a manifest left alone still names a snapshot, never the reverse), and
  // like the data only when no restore holds it: a restore that held it in between reads its guest state copy.
  for (const point of expired) {
    if (!held.has(point.targetSnapshot)) await removeDescription(target, point.restorePointId);
  }
  const expiredIds = new Set(expired.map((p) => p.restorePointId));
  const kept = ofThisBlob.filter((p) => !expiredIds.has(p.restorePointId));
  // Every recorded run of this disk keeps its snapshot, whatever URL the record spells the blob with.
  const recordedRuns = new Set(points.filter((p) => !expiredIds.has(p.restorePointId)).map((p) => p.runId));
  const newest = kept.map((p) => p.targetSnapshot).sort().at(-1);
  const unrecorded = await unrecordedManifests(target, new Set(points.filter((p) => !expiredIds.has(p.restorePointId)).map((p) => p.restorePointId)));
  const snapshots = await target.listSnapshots();
  for (const snapshot of snapshots) {
    const expiredNow = expired.some((p) => p.targetSnapshot === snapshot.snapshot);
    // Only a snapshot stamped with this disk and a run id is judged: one without a run id is not provably an orphan.
    const { diskKey: stampedDisk, runId: stampedRun } = snapshot.stamp;
    const unrecordedOlder = stampedDisk === config.diskKey && stampedRun !== undefined && !recordedRuns.has(stampedRun) && newest !== undefined && snapshot.snapshot < newest;
    const orphan = unrecordedOlder && (await runIsRecorded(deps, config.diskKey, stampedRun));
    if (unrecordedOlder && !orphan) {
      log.warn("blob snapshot of a run the tables do not know kept: it may be a RestorePoint the tables lost (diskdelta catalog rebuild records it)", { diskKey: config.diskKey, snapshot: snapshot.snapshot, runId: stampedRun });
    }
    if (!expiredNow && !orphan) continue;
    if (held.has(snapshot.snapshot)) {
      log.info("blob snapshot kept while a restore reads it", { diskKey: config.diskKey, snapshot: snapshot.snapshot });
      continue;
    }
    for (const restorePointId of unrecorded.get(snapshot.snapshot) ?? []) await removeDescription(target, restorePointId);
    await target.deleteSnapshot(snapshot.snapshot);
    log.info(expiredNow ? "expired RestorePoint's blob snapshot removed" : "orphan blob snapshot removed", { diskKey: config.diskKey, snapshot: snapshot.snapshot });
  }
  const present = new Set(snapshots.map((s) => s.snapshot));
  for (const [snapshot, restorePointIds] of unrecorded) {
    if (present.has(snapshot)) continue;
    for (const restorePointId of restorePointIds) await removeDescription(target, restorePointId);
    log.info("manifest of a removed blob snapshot removed", { diskKey: config.diskKey, snapshot, restorePointIds });
  }
}

/**
 * Whether the tables hold the run a blob snapshot's stamp names: only then is a snapshot without a RestorePoint
 * record proven an orphan (the run failed, or its record was removed by retention). A run the tables do not know may
 * have recorded a RestorePoint in tables that were lost since; an unreadable run record proves nothing either.
 */
async function runIsRecorded(deps: Deps, diskKey: string, runId: string): Promise<boolean> {
  return (await deps.records.getRun(diskKey, runId).catch(() => undefined)) !== undefined;
}

/** What lies beside a RestorePoint's data: its manifest, guest state copy and checksums. */
export async function removeDescription(target: TargetBlob, restorePointId: string): Promise<void> {
  await target.deleteManifest(restorePointId);
  await target.deleteGuestState(restorePointId);
  await target.deleteChecksums(restorePointId);
}

/**
 * Manifests beside the TargetBlob without a RestorePoint record (a crash between manifest and record, or between
 * a record's removal and its manifest's), by the blob snapshot they name. Unreadable ones are left for an operator.
 */
async function unrecordedManifests(target: TargetBlob, recorded: ReadonlySet<string>): Promise<Map<string, string[]>> {
  const bySnapshot = new Map<string, string[]>();
  for (const restorePointId of await target.listManifests()) {
    if (recorded.has(restorePointId)) continue;
    const manifest = await target.readManifest(restorePointId).catch(() => undefined);
    if (!manifest) continue;
    bySnapshot.set(manifest.target.snapshot, [...(bySnapshot.get(manifest.target.snapshot) ?? []), restorePointId]);
  }
  return bySnapshot;
}

function recordRunMetrics(deps: Deps, run: CopiedRun, point: RestorePoint): void {
  const dims = { diskKey: run.diskKey, copyMode: run.copyMode };
  deps.metrics.record("diskdelta.run.bytes_copied", run.bytesCopied, dims);
  deps.metrics.record("diskdelta.run.bytes_changed", run.bytesChanged, dims);
  deps.metrics.record("diskdelta.run.requests", run.requests, dims);
  deps.metrics.record("diskdelta.run.duration_ms", point.durationMs, dims);
  deps.metrics.record("diskdelta.run.succeeded", 1, dims);
}
