/**
 * The end of a BackupRun: blob snapshot of the TargetBlob, then the RestorePoint record (written last, so a record
 * always points at complete data), then the new chain base, read access revoked, SourceSnapshots diskdelta no
 * longer needs deleted, and retention applied. Every part is idempotent, so a redelivered message finishes the job.
 */
import { queueNames } from "../adapters/queues";
import type { TargetBlob } from "../adapters/target-blob";
import { describeError } from "../domain/errors";
import { type FinalizeMessage, type ProtectedDiskConfig, parseDiskId, restorePointIdOf } from "../domain/model";
import type { BackupRun, RestorePoint } from "../domain/records";
import { applyRetention } from "../domain/retention";
import type { Deps, Log } from "./deps";
import { snapshotTags } from "./prepare";
import { startBackupRun, updateState } from "./runs";

export async function finalizeRun(deps: Deps, message: FinalizeMessage, log: Log): Promise<void> {
  const { diskKey, runId } = message;
  const found = await deps.records.getRun(diskKey, runId);
  if (!found) return log.warn("finalize for an unknown BackupRun dropped", { diskKey, runId });
  const run = found.value;
  if (run.state !== "copying" && run.state !== "finalizing") {
    return log.info("stale finalize dropped", { diskKey, runId, state: run.state });
  }
  const config = await deps.records.getDisk(diskKey);
  const target = config && deps.targets(config.target);
  if (!config || !target) throw new Error(`disk ${diskKey} is no longer protected; its run cannot be finalized`);

  const point = await recordRestorePoint(deps, run, config, target);
  const previousBase = (await deps.records.getState(diskKey)).value.base;
  await updateState(deps, diskKey, (state) => ({
    ...state,
    base: {
      snapshotId: run.sourceSnapshotId!,
      diskUniqueId: run.diskUniqueId ?? "",
      familyId: run.familyId ?? "",
      sizeBytes: Math.max(0, (run.blobBytes ?? 512) - 512),
      timeCreated: run.sourceSnapshotTime ?? "",
    },
    lastRestorePointId: point.restorePointId,
    lastRestorePointAt: point.createdAt,
    lastRestorePointSourceTime: point.sourceSnapshotTime,
  }));

  for (const snapshotId of [run.sourceSnapshotId, run.baseSnapshotId, previousBase?.snapshotId]) {
    if (snapshotId) await deps.compute.revokeAccess(snapshotId).catch((error) => log.warn("revoke failed; the SAS expires on its own", { diskKey, runId, error: describeError(error) }));
  }
  if (config.snapshotMode === "create") await deleteSupersededSnapshots(deps, config, run, log);
  await removeExpiredRestorePoints(deps, config, target, log);

  const ended = deps.now();
  await deps.records.putRun({ ...run, state: "succeeded", restorePointId: point.restorePointId, endedAt: ended.toISOString(), updatedAt: ended.toISOString() }, found.etag).catch(async (error) => {
    const again = await deps.records.getRun(diskKey, runId);
    if (again?.value.state !== "succeeded") throw error;
  });
  await updateState(deps, diskKey, (state) =>
    state.activeRunId === runId ? { ...state, activeRunId: undefined, lastRunState: "succeeded", lastError: undefined } : undefined,
  );
  recordRunMetrics(deps, run, point);
  if (config.verifyAfterBackup) {
    await deps.queues.send(queueNames.verifications, { v: 1, kind: "verify", diskKey, runId, restorePointId: point.restorePointId });
  }
  log.info("RestorePoint recorded", { diskKey, runId, restorePointId: point.restorePointId, bytesCopied: run.bytesCopied, durationMs: point.durationMs });

  if (config.snapshotMode === "existing") {
    // Replicate snapshots one by one: the next run picks the next snapshot, or ends at once if there is none.
    await startBackupRun(deps, diskKey, run.trigger, log);
  }
}

async function recordRestorePoint(deps: Deps, run: BackupRun, config: ProtectedDiskConfig, target: TargetBlob): Promise<RestorePoint> {
  const snapshot = await target.createSnapshotOnce({
    runId: run.runId,
    sourceSnapshotId: run.sourceSnapshotId!,
    diskUniqueId: run.diskUniqueId ?? "",
  });
  const now = deps.now();
  const sourceTime = new Date(run.sourceSnapshotTime ?? now.toISOString());
  return deps.records.recordRestorePoint({
    diskKey: run.diskKey,
    restorePointId: restorePointIdOf(run.sourceSnapshotId!, sourceTime),
    runId: run.runId,
    diskId: config.diskId,
    sourceSnapshotId: run.sourceSnapshotId!,
    sourceSnapshotTime: sourceTime.toISOString(),
    diskUniqueId: run.diskUniqueId ?? "",
    blobBytes: run.blobBytes ?? 0,
    targetBlobUrl: target.url,
    targetSnapshot: snapshot,
    createdAt: now.toISOString(),
    fullCopy: !run.baseSnapshotId,
    bytesChanged: run.bytesChanged,
    bytesCopied: run.bytesCopied,
    requests: run.requests,
    durationMs: Math.max(0, now.getTime() - Date.parse(run.startedAt)),
  });
}

/** Deletes diskdelta's own SourceSnapshots of this disk older than the new base: never the base, never others'. */
async function deleteSupersededSnapshots(deps: Deps, config: ProtectedDiskConfig, run: BackupRun, log: Log): Promise<void> {
  const disk = await deps.compute.getDisk(parseDiskId(config.diskId)!).catch(() => undefined);
  if (!disk) return;
  const baseTime = Date.parse(run.sourceSnapshotTime ?? "");
  const snapshots = await deps.compute.listDiskSnapshots(disk);
  for (const snapshot of snapshots) {
    const ours = snapshot.tags[snapshotTags.disk] === config.diskKey;
    const superseded = snapshot.timeCreated.getTime() < baseTime && snapshot.id.toLowerCase() !== run.sourceSnapshotId?.toLowerCase();
    if (ours && superseded) {
      await deps.compute.deleteSnapshot(snapshot.id);
      log.info("superseded SourceSnapshot deleted", { diskKey: config.diskKey, snapshot: snapshot.name });
    }
  }
}

/**
 * Applies the RetentionPolicy: the record goes first and the blob snapshot after, so no record ever points at
 * deleted data. Blob snapshots without a record that are older than the newest RestorePoint (left by a crash
 * between the two deletes) are removed too.
 */
async function removeExpiredRestorePoints(deps: Deps, config: ProtectedDiskConfig, target: TargetBlob, log: Log): Promise<void> {
  const points = await deps.records.listRestorePoints(config.diskKey);
  const ofThisBlob = points.filter((p) => p.targetBlobUrl === target.url);
  const expired = applyRetention(
    ofThisBlob.map((p) => ({ ...p, id: p.restorePointId, createdAt: new Date(p.sourceSnapshotTime) })),
    config.retention,
    deps.now(),
  );
  for (const point of expired) {
    await deps.records.deleteRestorePoint(config.diskKey, point.restorePointId);
    await target.deleteSnapshot(point.targetSnapshot);
    log.info("RestorePoint removed by retention", { diskKey: config.diskKey, restorePointId: point.restorePointId });
  }
  const expiredIds = new Set(expired.map((p) => p.restorePointId));
  const kept = new Set(ofThisBlob.filter((p) => !expiredIds.has(p.restorePointId)).map((p) => p.targetSnapshot));
  const newest = [...kept].sort().at(-1);
  if (!newest) return;
  for (const snapshot of await target.listSnapshots()) {
    if (!kept.has(snapshot.snapshot) && snapshot.snapshot < newest) {
      await target.deleteSnapshot(snapshot.snapshot);
      log.info("orphan blob snapshot removed", { diskKey: config.diskKey, snapshot: snapshot.snapshot });
    }
  }
}

function recordRunMetrics(deps: Deps, run: BackupRun, point: RestorePoint): void {
  const dims = { diskKey: run.diskKey, copyMode: run.copyMode ?? "server" };
  deps.metrics.record("diskdelta.run.bytes_copied", run.bytesCopied, dims);
  deps.metrics.record("diskdelta.run.bytes_changed", run.bytesChanged, dims);
  deps.metrics.record("diskdelta.run.requests", run.requests, dims);
  deps.metrics.record("diskdelta.run.duration_ms", point.durationMs, dims);
  deps.metrics.record("diskdelta.run.succeeded", 1, dims);
}
