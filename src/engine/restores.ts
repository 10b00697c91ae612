/**
 * Restores as tracked operations: `POST …/restore` checks what it can at once (the RestorePoint, the storage
 * account, the resource group, the free disk name), records the restore as `accepted` and answers 202; queue steps
 * then send the disk import under a restore hold (`creating`) and look at the new disk until the disk service says it
 * succeeded or failed. The hold is renewed at every look, so retention keeps the RestorePoint for as long as the
 * import reads it, however long that is; it is released when the restore ends either way.
 */
import { ConflictError, PermanentError, describeError } from "../domain/errors";
import { restoreCheckSeconds, restoreHoldMs } from "../domain/limits";
import { queueNames, type RestoreStepMessage } from "../domain/messages";
import { type DiskRef, newRunId, parseDiskId } from "../domain/model";
import { locationFromUrl } from "../domain/target-location";
import type { RestoreRecord, Versioned } from "../domain/records";
import type { Deps, Log, TargetBlob } from "./deps";
import { type RestoreRequest, beginRestoreDisk, importRefusal, planImport, recordedSource, resolveRestore, restoreRequestSchema } from "./restore";

/**
 * Accepts a restore of a recorded RestorePoint: undefined when there is no such RestorePoint; a ConflictError for a
 * taken name or a missing resource group; otherwise the accepted record, its first step queued. A drill's restore
 * (`drillId`) takes the drill's id as its own, so that accepting it again finds the one accepted before.
 */
export async function acceptRestore(
  deps: Deps, diskKey: string, restorePointId: string, request: RestoreRequest, requestedBy: string, drillId?: string,
): Promise<RestoreRecord | undefined> {
  const source = await recordedSource(deps, diskKey, restorePointId);
  if (!source) return undefined;
  const resolved = await resolveRestore(deps, request, source);
  const now = deps.now().toISOString();
  const restore: RestoreRecord = {
    diskKey,
    restoreId: drillId ?? newRunId(deps.now(), deps.randomId()),
    ...(drillId ? { drillId } : {}),
    restorePointId,
    newDiskId: resolved.newDiskId,
    ...(resolved.storageAccountId ? { storageAccountId: resolved.storageAccountId } : {}),
    targetBlobUrl: deps.targets(source.location).url,
    targetSnapshot: source.targetSnapshot,
    request: JSON.stringify(request),
    requestedBy,
    requestedAt: now,
    updatedAt: now,
    state: "accepted",
  };
  await deps.records.createRestore(restore);
  await deps.queues.send(queueNames.restores, { diskKey, restoreId: restore.restoreId });
  return restore;
}

/** One step of a restore: start the import, or look at the disk; every step can run twice. */
export async function advanceRestore(deps: Deps, message: RestoreStepMessage, log: Log): Promise<void> {
  const found = await deps.records.getRestore(message.diskKey, message.restoreId);
  if (!found) return log.warn("step of an unknown restore dropped", { ...message });
  const restore = found.value;
  if (restore.state === "accepted") return startImport(deps, found as Versioned<Extract<RestoreRecord, { state: "accepted" }>>, log);
  if (restore.state === "creating") return lookAtDisk(deps, found as Versioned<Extract<RestoreRecord, { state: "creating" }>>, log);
  // A redelivered last step: the worker that ended it may have died before releasing the hold (a succeeded disk is
  // provably done with the RestorePoint; a failed one when its import is), and the drill it serves may not have
  // heard of the end yet.
  if (restore.state === "succeeded" || await importDone(deps, restore)) await releaseHold(deps, restore);
  await handOffToDrill(deps, restore);
  log.info("step of an ended restore dropped", { ...message, state: restore.state });
}

/** Tells the DrillRun a restore serves that the restore ended (at least once: the drill takes a duplicate as a no-op). */
async function handOffToDrill(deps: Deps, restore: RestoreRecord): Promise<void> {
  if (restore.drillId) await deps.queues.send(queueNames.drills, { diskKey: restore.diskKey, drillId: restore.drillId, cursor: 0 });
}

async function startImport(deps: Deps, found: Versioned<Extract<RestoreRecord, { state: "accepted" }>>, log: Log): Promise<void> {
  const restore = found.value;
  const request = requestOf(restore);
  const source = await recordedSource(deps, restore.diskKey, restore.restorePointId);
  if (!source) throw new ConflictError("RestorePointDataGone", `RestorePoint ${restore.restorePointId} was removed (by retention or by hand) before its restore could start`);
  await holdOf(deps, restore).holdForRestore(restore.targetSnapshot, restore.restoreId, deps.now());
  const resolved = { subscriptionId: newDiskOf(restore).subscriptionId, newDiskId: restore.newDiskId, storageAccountId: restore.storageAccountId };
  const planned = await planImport(deps, request, source, resolved, { [restoreTag]: restore.restoreId, ...(restore.drillId ? drillTags(restore.diskKey, restore.drillId) : {}) });
  // A redelivered start finds the disk its first delivery asked for (tagged with this restore) and adopts it.
  if (!(await isOurs(deps, restore))) {
    await beginRestoreDisk(deps.compute, planned).catch((error: unknown) => {
      throw importRefusal(error, request, resolved);
    });
  }
  const now = deps.now().toISOString();
  await deps.records.putRestore({ ...restore, state: "creating", sourceUri: planned.sourceUri, createOption: planned.createOption, startedAt: now, updatedAt: now }, found.etag);
  log.info("restore's disk import sent", { diskKey: restore.diskKey, restoreId: restore.restoreId, diskId: restore.newDiskId, createOption: planned.createOption });
  // A small disk is often ready at once: look now, and later only if it is not.
  const creating = await deps.records.getRestore(restore.diskKey, restore.restoreId);
  if (creating?.value.state === "creating") await lookAtDisk(deps, creating as Versioned<Extract<RestoreRecord, { state: "creating" }>>, log);
}

async function lookAtDisk(deps: Deps, found: Versioned<Extract<RestoreRecord, { state: "creating" }>>, log: Log): Promise<void> {
  const restore = found.value;
  const disk = await deps.compute.getDisk(newDiskOf(restore)).catch((error: unknown) => {
    if (error instanceof PermanentError && error.code === "DiskNotFound") {
      throw new PermanentError("RestoreFailed", `the disk service did not create ${restore.newDiskId} (it is not there); see the resource group's activity log`);
    }
    throw error;
  });
  const now = deps.now();
  if (disk.provisioningState === "Succeeded") {
    await deps.records.putRestore({ ...restore, state: "succeeded", uniqueId: disk.uniqueId, sizeBytes: disk.sizeBytes, endedAt: now.toISOString(), updatedAt: now.toISOString() }, found.etag);
    await releaseHold(deps, restore);
    log.info("disk restored", { diskKey: restore.diskKey, restoreId: restore.restoreId, diskId: disk.ref.id });
    await handOffToDrill(deps, restore);
    return;
  }
  if (disk.provisioningState === "Failed") {
    throw new PermanentError("RestoreFailed", `the disk service reports ${restore.newDiskId} as Failed; delete that disk before restoring again under its name`);
  }
  if (now.getTime() - Date.parse(restore.startedAt) > restoreHoldMs) {
    throw new PermanentError("RestoreTimeout", `disk ${restore.newDiskId} is still ${disk.provisioningState} after ${restoreHoldMs / 3600_000} h`);
  }
  // Still creating: renew the hold (retention keeps the RestorePoint) and look again later.
  await holdOf(deps, restore).holdForRestore(restore.targetSnapshot, restore.restoreId, now);
  await deps.records.putRestore({ ...restore, updatedAt: now.toISOString() }, found.etag);
  await deps.queues.send(queueNames.restores, { diskKey: restore.diskKey, restoreId: restore.restoreId }, restoreCheckSeconds);
}

/** Tags the disk a tracked restore creates, so that a redelivered step knows the disk as its own. */
export const restoreTag = "diskdelta-restore";

/** Tags a drill disk: the DrillRun's id and its ProtectedDisk, so that the timer's sweep can prove the disk a drill's. */
export const drillTag = "diskdelta-drill";
export const drillDiskKeyTag = "diskdelta-drill-disk";

export function drillTags(diskKey: string, drillId: string): Record<string, string> {
  return { [drillTag]: drillId, [drillDiskKeyTag]: diskKey };
}

/** True when the restore's disk exists and carries this restore's tag; false when there is no such disk. */
async function isOurs(deps: Deps, restore: RestoreRecord): Promise<boolean> {
  const disk = await deps.compute.getDisk(newDiskOf(restore)).catch((error: unknown) => {
    if (error instanceof PermanentError && error.code === "DiskNotFound") return undefined;
    throw error;
  });
  if (!disk) return false;
  if (disk.properties.tags[restoreTag] !== restore.restoreId) {
    throw new ConflictError("DiskExists", `disk ${restore.newDiskId} already exists and was not created by this restore; choose another name or delete that disk first`);
  }
  return true;
}

/**
 * Ends a restore as failed with its cause; a restore that has ended already stays as it is. Its hold is released
 * only when the disk service is provably done with the RestorePoint (no disk, or a disk that succeeded or failed):
 * otherwise the import may still read it, and the hold expires on its own after `restoreHoldMs`.
 */
export async function failRestore(deps: Deps, diskKey: string, restoreId: string, error: unknown, log: Log): Promise<void> {
  const found = await deps.records.getRestore(diskKey, restoreId);
  if (!found) return;
  if (found.value.state === "succeeded" || found.value.state === "failed") return handOffToDrill(deps, found.value);
  const now = deps.now().toISOString();
  const restore = found.value;
  const startedAt = restore.state === "creating" ? restore.startedAt : undefined;
  await deps.records.putRestore(
    { ...identityOf(restore), state: "failed", error: describeError(error), endedAt: now, updatedAt: now, ...(startedAt ? { startedAt } : {}) },
    found.etag,
  );
  if (await importDone(deps, restore)) await releaseHold(deps, restore);
  else log.warn("restore failed while its disk import may still run; its hold is kept until it expires", { diskKey, restoreId, diskId: restore.newDiskId });
  log.error("restore failed", { diskKey, restoreId, error: describeError(error) });
  await handOffToDrill(deps, restore);
}

/** True when the disk service is provably done with the restore's RestorePoint: no disk, not its disk, or one that ended. */
async function importDone(deps: Deps, restore: RestoreRecord): Promise<boolean> {
  return deps.compute.getDisk(newDiskOf(restore)).then(
    (disk) => disk.properties.tags[restoreTag] !== restore.restoreId || disk.provisioningState === "Succeeded" || disk.provisioningState === "Failed",
    (lookError: unknown) => lookError instanceof PermanentError && lookError.code === "DiskNotFound",
  );
}

function identityOf(restore: RestoreRecord) {
  const { diskKey, restoreId, restorePointId, newDiskId, storageAccountId, targetBlobUrl, targetSnapshot, request, requestedBy, requestedAt, updatedAt, drillId } = restore;
  return { diskKey, restoreId, restorePointId, newDiskId, targetBlobUrl, targetSnapshot, request, requestedBy, requestedAt, updatedAt, ...(storageAccountId ? { storageAccountId } : {}), ...(drillId ? { drillId } : {}) };
}

/** The TargetBlob whose blob snapshot the restore reads: its holds keep retention away. */
function holdOf(deps: Deps, restore: RestoreRecord): TargetBlob {
  return deps.targets(locationFromUrl(restore.targetBlobUrl));
}

async function releaseHold(deps: Deps, restore: RestoreRecord): Promise<void> {
  await holdOf(deps, restore).releaseRestoreHold(restore.targetSnapshot, restore.restoreId);
}

function newDiskOf(restore: RestoreRecord): DiskRef {
  const ref = parseDiskId(restore.newDiskId);
  if (!ref) throw new PermanentError("InvalidRecord", `restore ${restore.restoreId} names no disk id: ${restore.newDiskId}`);
  return ref;
}

/** The request a restore was accepted with. */
export function requestOf(restore: RestoreRecord): RestoreRequest {
  return restoreRequestSchema.parse(JSON.parse(restore.request));
}
