/**
 * Managed copy (replication `managed`): Azure's own cross-region copy of incremental snapshots (`CopyStart`) under
 * diskdelta's schedule, retention, monitoring and restore. A managed BackupRun picks its SourceSnapshot as a diff run
 * does (prepare.ts), then takes a fleet-wide copy slot of its target region, asks for the copy (an incremental
 * snapshot in `managedTarget`, named after the SourceSnapshot, so every run of that snapshot means the same copy),
 * and looks at the copy's `completionPercent` through the `managed-copies` queue — a delayed message per look, so no
 * worker waits — until it is 100 (the target snapshot becomes the RestorePoint) or fails (`copyCompletionError`).
 * Azure's limits hold fleet-wide: one copy per disk at a time (one active run per disk, and the service's own refusal
 * for a copy an earlier run left running), in the order the snapshots were created (each run copies the oldest
 * snapshot newer than the chain base), at most DISKDELTA_MANAGED_COPIES_PER_REGION in flight per subscription and
 * region (slots in table diskdeltaCopySlots; a run without one waits, visible in its status). A slot is freed when its
 * copy has provably ended (complete, failed or gone), whatever became of the run that took it.
 */
import { ConcurrencyError, CopyLimitError, InvalidRecordError, PermanentError, describeError, isPermanent } from "../domain/errors";
import { type ManagedCopyMessage, queueNames } from "../domain/messages";
import { type ProtectedDiskConfig, diskRefOf, isActive, restorePointIdOf } from "../domain/model";
import { sameRegion } from "../domain/regions";
import { PAGE_BYTES } from "../domain/ranges";
import { type CopySlot, type ManagedRestorePoint, type RunIn, type RunView, type Versioned, heldDataOf } from "../domain/records";
import { applyRetention } from "../domain/retention";
import { copyRegionKey } from "../adapters/tables/copy-slots";
import type { TakenCopySlot } from "../adapters/tables/copy-slots";
import type { Deps, DiskInfo, Log, SnapshotInfo } from "./deps";
import { advanceChain, deleteSupersededSnapshots, endRunSucceeded, removeDescription } from "./finalize";
import { claimed, snapshotTags } from "./prepare";
import { heldSnapshots } from "./restore";
import { startBackupRun } from "./runs";

type ReplicatingRun = RunIn<"replicating">;

/** The target-region snapshot a SourceSnapshot's managed copy is (at most 80 characters; one name per source). */
export function managedCopyName(diskName: string, restorePointId: string): string {
  return `${diskName.slice(0, 80 - 4 - restorePointId.length)}-dd-${restorePointId}`;
}

/**
 * prepare's hand-off for a managed run whose SourceSnapshot is usable: takes a copy slot (or records the wait and
 * looks again later), asks for the copy, records the run `replicating` and queues the first look.
 */
export async function startManagedCopy(
  deps: Deps, found: Versioned<RunIn<"queued" | "preparing">>, config: ProtectedDiskConfig, disk: DiskInfo, source: SnapshotInfo, log: Log,
): Promise<void> {
  const { diskKey, runId } = found.value;
  const managed = config.managedTarget;
  if (!managed) throw new PermanentError("ManagedTargetMissing", `disk ${diskKey} replicates managed but has no managedTarget; set one with PATCH (managedTarget: { resourceGroup, location })`);
  if (sameRegion(managed.location, source.location)) {
    throw new PermanentError("ManagedTargetSameRegion", `managedTarget.location ${managed.location} is the disk's own region; a managed copy goes to another region`);
  }
  if (source.familyId === undefined) throw new PermanentError("SnapshotNotIncremental", `snapshot ${source.name} is not an incremental snapshot`);
  const { subscriptionId } = disk.ref;
  const restorePointId = restorePointIdOf(source.id, source.timeCreated);
  const name = managedCopyName(disk.ref.name, restorePointId);
  const targetSnapshotId = `/subscriptions/${subscriptionId}/resourceGroups/${managed.resourceGroup}/providers/Microsoft.Compute/snapshots/${name}`;
  const region = copyRegionKey(subscriptionId, managed.location);
  const now = deps.now();

  const slot = await takeCopySlot(deps, region, { diskKey, runId, targetSnapshotId, takenAt: now.toISOString() }, log);
  if (!slot) return waitForCopySlot(deps, found, managed.location, log);
  let copy: SnapshotInfo;
  try {
    copy = await deps.compute.startSnapshotCopy({
      subscriptionId, resourceGroup: managed.resourceGroup, name, location: managed.location, sourceSnapshotId: source.id,
      tags: { [snapshotTags.disk]: diskKey, [snapshotTags.run]: runId },
    });
    proveOurCopy(copy, source, diskKey);
  } catch (error) {
    // A refusal or failure proves nothing about the copy: a duplicate delivery of this run may have started it.
    const present = await deps.compute.getSnapshot(targetSnapshotId);
    if (present && isOurCopy(present, source, diskKey)) {
      copy = present;
    } else if (error instanceof CopyLimitError) {
      // The service counts copies diskdelta does not know of (other tools, a copy an earlier run left): wait as for a slot.
      await freeSlotOf(deps, region, runId);
      log.info("managed copy refused by the service's limit; waiting", { diskKey, runId, limit: error.limit });
      return waitForCopySlot(deps, found, managed.location, log);
    } else {
      // No copy of ours exists: a run that fails here for good must not keep the slot (a transient failure keeps it for its retry).
      if (isPermanent(error)) await freeSlotOf(deps, region, runId);
      throw error;
    }
  }
  const replicating: ReplicatingRun = {
    ...claimed(found.value),
    state: "replicating",
    replication: "managed",
    updatedAt: deps.now().toISOString(),
    sourceSnapshotId: source.id,
    sourceSnapshotTime: source.timeCreated.toISOString(),
    diskUniqueId: disk.uniqueId,
    familyId: source.familyId,
    blobBytes: source.sizeBytes + PAGE_BYTES,
    targetSnapshotId: copy.id,
    targetLocation: copy.location,
    copySlot: slot,
    copyStartedAt: now.toISOString(),
    completionPercent: copy.completionPercent,
  };
  try {
    await deps.records.putRun(replicating, found.etag);
  } catch (error) {
    if (!(error instanceof ConcurrencyError)) throw error;
    return log.info("managed copy start raced a duplicate", { diskKey, runId });
  }
  await deps.queues.send(queueNames.managedCopies, { diskKey, runId }, deps.settings.DISKDELTA_MANAGED_COPY_CHECK_SECONDS);
  log.info("managed copy started", { diskKey, runId, snapshot: source.name, targetSnapshot: name, location: managed.location, slot });
}

/** Whether the snapshot is the SourceSnapshot's copy, made by CopyStart and tagged for this disk. */
function isOurCopy(copy: SnapshotInfo, source: Pick<SnapshotInfo, "id">, diskKey: string): boolean {
  const fromSource = copy.sourceResourceId?.toLowerCase() === source.id.toLowerCase() && copy.createOption?.toLowerCase() === "copystart";
  return fromSource && copy.tags[snapshotTags.disk] === diskKey;
}

/** The copy is the SourceSnapshot's, made by CopyStart for this disk: else it is someone else's snapshot of that name. */
function proveOurCopy(copy: SnapshotInfo, source: Pick<SnapshotInfo, "id">, diskKey: string): void {
  if (!isOurCopy(copy, source, diskKey)) {
    throw new PermanentError("TargetSnapshotNotOurs", `snapshot ${copy.id} exists and is not diskdelta's managed copy of ${source.id} for disk ${diskKey}; it is left untouched: delete it or choose another managedTarget.resourceGroup`);
  }
}

/**
 * No slot free in the region: the run waits in `preparing` (its status says for what, since when), and this message
 * completes; the next look is a run-start sent with a delay (waiting uses no delivery). A look moments after the last
 * one is a duplicate and is dropped.
 */
async function waitForCopySlot(deps: Deps, found: Versioned<RunIn<"queued" | "preparing">>, location: string, log: Log): Promise<void> {
  const { value: run, etag } = found;
  const now = deps.now();
  const waitingSince = run.state === "preparing" && run.waitingForCopySlot !== undefined ? run.waitingSince : now.toISOString();
  const checkSeconds = deps.settings.DISKDELTA_MANAGED_COPY_CHECK_SECONDS;
  if (run.state === "preparing" && run.waitingForCopySlot !== undefined && now.getTime() - Date.parse(run.updatedAt) < (checkSeconds * 1000) / 2) {
    return log.info("duplicate copy slot check dropped", { diskKey: run.diskKey, runId: run.runId });
  }
  const waiting: RunIn<"preparing"> = { ...claimed(run), waitingForCopySlot: location, waitingSince, updatedAt: now.toISOString() };
  try {
    await deps.records.putRun(waiting, etag);
  } catch (error) {
    if (!(error instanceof ConcurrencyError)) throw error;
    return log.info("copy slot wait raced a duplicate", { diskKey: run.diskKey, runId: run.runId });
  }
  deps.metrics.record("diskdelta.managed.waiting_for_slot", 1, { diskKey: run.diskKey, location });
  await deps.queues.send(queueNames.runStarts, { diskKey: run.diskKey, runId: run.runId }, checkSeconds);
  log.info("waiting for a managed copy slot", { diskKey: run.diskKey, runId: run.runId, location, waitingSince });
}

/**
 * A slot of the region for `holder`: the one it holds already (a redelivery), a free one, or one whose copy has
 * provably ended (freed first); undefined when all are in use.
 */
async function takeCopySlot(deps: Deps, region: string, holder: CopySlot, log: Log): Promise<string | undefined> {
  const limit = deps.settings.DISKDELTA_MANAGED_COPIES_PER_REGION;
  const taken = await deps.records.listCopySlots(region);
  const own = taken.find((s) => s.value.runId === holder.runId);
  if (own) return own.slot;
  const used = new Set(taken.map((s) => s.slot));
  for (let index = 0; index < limit; index++) {
    const slot = slotName(index);
    if (!used.has(slot) && (await deps.records.takeCopySlot(region, slot, holder))) return slot;
  }
  for (const stale of taken) {
    if (Number(stale.slot) >= limit || (await copyEnded(deps, stale))) {
      await deps.records.freeCopySlot(region, stale).catch((error: unknown) => {
        if (!(error instanceof ConcurrencyError)) throw error;
      });
      log.info("managed copy slot freed: its copy has ended", { region, slot: stale.slot, heldBy: stale.value.runId });
      if (Number(stale.slot) < limit && (await deps.records.takeCopySlot(region, stale.slot, holder))) return stale.slot;
    }
  }
  return undefined;
}

function slotName(index: number): string {
  return String(index).padStart(3, "0");
}

/**
 * True when the slot's copy can no longer be running: its snapshot is complete or failed; or it is not there and the
 * run holding the slot can no longer send its CopyStart — that run has ended, or it recorded its copy (which has gone
 * since). A slot is taken before its copy exists, so a missing snapshot alone proves nothing: the holder's record does.
 */
async function copyEnded(deps: Deps, slot: TakenCopySlot): Promise<boolean> {
  const copy = await deps.compute.getSnapshot(slot.value.targetSnapshotId);
  if (copy) return hasEnded(copy);
  const holder = await deps.records.getRun(slot.value.diskKey, slot.value.runId).catch((error: unknown) => {
    // A record nothing can be read from holds no disk (runs.ts) and so no slot either.
    if (error instanceof InvalidRecordError) return undefined;
    throw error;
  });
  return !holder || !isActive(holder.value.state) || holder.value.state === "replicating";
}

/** A copy that is complete or failed no longer counts against Azure's copies in flight. */
function hasEnded(copy: SnapshotInfo): boolean {
  return copy.completionPercent >= 100 || copy.copyCompletionError !== undefined;
}

/** Frees the slot a run holds in a region, if it holds one. */
async function freeSlotOf(deps: Deps, region: string, runId: string): Promise<void> {
  for (const slot of await deps.records.listCopySlots(region)) {
    if (slot.value.runId !== runId) continue;
    await deps.records.freeCopySlot(region, slot).catch((error: unknown) => {
      if (!(error instanceof ConcurrencyError)) throw error;
    });
  }
}

function regionOf(run: Pick<ReplicatingRun, "targetSnapshotId" | "targetLocation">): string {
  return copyRegionKey(run.targetSnapshotId.split("/")[2] ?? "", run.targetLocation);
}

/** One look at a managed run's copy (queue `managed-copies`); every look can run twice. */
export async function checkManagedCopy(deps: Deps, message: ManagedCopyMessage, log: Log): Promise<void> {
  const { diskKey, runId } = message;
  const found = await deps.records.getRun(diskKey, runId);
  if (!found) return log.warn("managed copy check for an unknown BackupRun dropped", { diskKey, runId });
  const run = found.value;
  if (run.state !== "replicating") {
    await freeSlotOfEndedRun(deps, run);
    return log.info("stale managed copy check dropped", { diskKey, runId, state: run.state });
  }
  const copy = await deps.compute.getSnapshot(run.targetSnapshotId);
  if (!copy) {
    await forgetGoneCopy(deps, run, log);
    throw new PermanentError("TargetSnapshotGone", `the managed copy ${run.targetSnapshotId} of disk ${diskKey} is gone (deleted by hand?); the next run copies again`);
  }
  const config = await deps.records.getDisk(diskKey);
  if (!config) {
    await discardCopy(deps, run, copy, log);
    throw new PermanentError("DiskNotProtected", `disk ${diskKey} was unprotected while its managed copy ${run.targetSnapshotId} ran; the copy, never recorded, is deleted`);
  }
  if (copy.copyCompletionError) {
    await discardCopy(deps, run, copy, log);
    throw new PermanentError("ManagedCopyFailed", `Azure's copy of ${run.sourceSnapshotId} into ${run.targetLocation} failed: ${copy.copyCompletionError.code}: ${copy.copyCompletionError.message}; the next run copies again`);
  }
  if (copy.completionPercent >= 100 && copy.provisioningState === "Succeeded") return completeManagedCopy(deps, { value: run, etag: found.etag }, config, copy, log);
  const now = deps.now();
  const waitedMinutes = Math.floor((now.getTime() - Date.parse(run.copyStartedAt)) / 60_000);
  const timeout = deps.settings.DISKDELTA_MANAGED_COPY_TIMEOUT_MINUTES;
  if (waitedMinutes >= timeout) {
    await discardCopy(deps, run, copy, log);
    throw new PermanentError("ManagedCopyTimeout", `the managed copy ${run.targetSnapshotId} was at ${copy.completionPercent}% after ${waitedMinutes} minutes (DISKDELTA_MANAGED_COPY_TIMEOUT_MINUTES is ${timeout}); it is deleted and the next run copies again`);
  }
  const checkSeconds = deps.settings.DISKDELTA_MANAGED_COPY_CHECK_SECONDS;
  if (now.getTime() - Date.parse(run.updatedAt) < (checkSeconds * 1000) / 2 && copy.completionPercent === run.completionPercent) {
    return log.info("duplicate managed copy check dropped", { diskKey, runId });
  }
  try {
    await deps.records.putRun({ ...run, completionPercent: copy.completionPercent, updatedAt: now.toISOString() }, found.etag);
  } catch (error) {
    if (!(error instanceof ConcurrencyError)) throw error;
    return log.info("managed copy check raced a duplicate", { diskKey, runId });
  }
  deps.metrics.record("diskdelta.managed.completion_percent", copy.completionPercent, { diskKey });
  await deps.queues.send(queueNames.managedCopies, { diskKey, runId }, checkSeconds);
}

/**
 * A check of a managed run that has ended (a redelivery, or a run failed while its copy ran): the slot its copy held
 * is freed once that copy provably ended, whatever ended the run.
 */
async function freeSlotOfEndedRun(deps: Deps, run: RunView): Promise<void> {
  if (isActive(run.state) || run.replication !== "managed" || !run.targetSnapshotId || !run.targetLocation) return;
  const region = regionOf({ targetSnapshotId: run.targetSnapshotId, targetLocation: run.targetLocation });
  const held = (await deps.records.listCopySlots(region)).filter((s) => s.value.runId === run.runId);
  for (const slot of held) {
    if (!(await copyEnded(deps, slot))) continue;
    await deps.records.freeCopySlot(region, slot).catch((error: unknown) => {
      if (!(error instanceof ConcurrencyError)) throw error;
    });
  }
}

/**
 * A copy that will not become a RestorePoint (failed, too slow, of a disk no longer protected) is deleted when it is
 * ours by tag; its slot is freed once the copy provably no longer runs: it failed, completed, or was deleted.
 */
async function discardCopy(deps: Deps, run: ReplicatingRun, copy: SnapshotInfo, log: Log): Promise<void> {
  let ended = hasEnded(copy);
  if (copy.tags[snapshotTags.disk] === run.diskKey) {
    try {
      await deps.compute.deleteSnapshot(copy.id);
      ended = true;
    } catch (error) {
      log.warn("managed copy not deleted; its slot stays taken until the copy ends, retention tries again", { diskKey: run.diskKey, error: describeError(error) });
    }
  }
  if (ended) await freeSlotOf(deps, regionOf(run), run.runId);
}

/**
 * The run's copy is gone: its slot is free, and a RestorePoint this run recorded of it (a worker that recorded it
 * and died, or a deletion between the look and the record) is removed — the run never succeeded with it.
 */
async function forgetGoneCopy(deps: Deps, run: ReplicatingRun, log: Log): Promise<void> {
  await freeSlotOf(deps, regionOf(run), run.runId);
  const restorePointId = restorePointIdOf(run.sourceSnapshotId, new Date(run.sourceSnapshotTime));
  const recorded = await deps.records.getRestorePoint(run.diskKey, restorePointId);
  if (recorded?.runId === run.runId && recorded.kind === "managed" && recorded.targetSnapshotId.toLowerCase() === run.targetSnapshotId.toLowerCase()) {
    await deps.records.deleteRestorePoint(run.diskKey, restorePointId);
    log.warn("RestorePoint of a copy that is gone removed before its run succeeded", { diskKey: run.diskKey, runId: run.runId, restorePointId });
  }
}

/**
 * The copy is complete: it is proven the SourceSnapshot's copy for this disk and recorded as the RestorePoint (a
 * redelivery finds it recorded and goes on); the record is proven to point at the copy still there, the slot is
 * freed, the chain moves on and the run succeeds; then housekeeping, which never fails the run.
 */
async function completeManagedCopy(deps: Deps, found: Versioned<ReplicatingRun>, config: ProtectedDiskConfig, copy: SnapshotInfo, log: Log): Promise<void> {
  const run = found.value;
  const { diskKey, runId } = run;
  proveOurCopy(copy, { id: run.sourceSnapshotId }, diskKey);
  const restorePointId = restorePointIdOf(run.sourceSnapshotId, new Date(run.sourceSnapshotTime));
  const recorded = await deps.records.getRestorePoint(diskKey, restorePointId);
  const ended = deps.now();
  const firstInRegion = !(await deps.records.listRestorePoints(diskKey)).some((p) => p.kind === "managed" && p.targetLocation.toLowerCase() === run.targetLocation.toLowerCase());
  const point = recorded ?? (await deps.records.recordRestorePoint({
    kind: "managed",
    diskKey,
    restorePointId,
    runId,
    diskId: config.diskId,
    sourceSnapshotId: run.sourceSnapshotId,
    sourceSnapshotTime: run.sourceSnapshotTime,
    diskUniqueId: run.diskUniqueId,
    blobBytes: run.blobBytes,
    targetBlobUrl: deps.targets(config.target).url,
    targetSnapshotId: copy.id,
    targetLocation: copy.location,
    createdAt: ended.toISOString(),
    fullCopy: firstInRegion,
    // Azure moves the bytes and reports none of it: diskdelta copies nothing itself.
    bytesChanged: 0,
    bytesCopied: 0,
    requests: 0,
    durationMs: Math.max(0, ended.getTime() - Date.parse(run.startedAt)),
    ...(run.groupTime ? { groupTime: run.groupTime } : {}),
  }));
  // The look above is a moment old: the record stands only on the copy as it is now, after the record exists.
  const now = await deps.compute.getSnapshot(run.targetSnapshotId);
  if (!now || !hasEnded(now) || now.copyCompletionError !== undefined || !isOurCopy(now, { id: run.sourceSnapshotId }, diskKey)) {
    await forgetGoneCopy(deps, run, log);
    throw new PermanentError("TargetSnapshotGone", `the managed copy ${run.targetSnapshotId} of disk ${diskKey} went away as its RestorePoint was recorded (deleted by hand?); no RestorePoint is kept and the next run copies again`);
  }
  await freeSlotOf(deps, regionOf(run), runId);
  await advanceChain(deps, run, point);
  await endRunSucceeded(deps, { ...run, state: "succeeded", completionPercent: copy.completionPercent, restorePointId: point.restorePointId, endedAt: ended.toISOString(), updatedAt: ended.toISOString() }, found.etag);
  const dims = { diskKey, replication: "managed" };
  deps.metrics.record("diskdelta.run.duration_ms", point.durationMs, dims);
  deps.metrics.record("diskdelta.run.succeeded", 1, dims);
  deps.metrics.record("diskdelta.managed.copy_seconds", Math.round((ended.getTime() - Date.parse(run.copyStartedAt)) / 1000), dims);
  log.info("RestorePoint recorded (managed copy)", { diskKey, runId, restorePointId: point.restorePointId, targetSnapshot: copy.name });

  const attempt = async (what: string, work: () => Promise<void>) => {
    await work().catch((error: unknown) => log.warn(`${what} failed; the next run tries again`, { diskKey, runId, error: describeError(error) }));
  };
  if (config.snapshotMode === "create") await attempt("deleting superseded SourceSnapshots", () => deleteSupersededSnapshots(deps, config, run, log));
  await attempt("applying retention to managed copies", () => removeExpiredManagedCopies(deps, config, log));
  if (config.verifyAfterBackup) await deps.queues.send(queueNames.verifications, { diskKey, runId, restorePointId: point.restorePointId });
  if (config.snapshotMode === "existing") await startBackupRun(deps, diskKey, run.trigger, log);
}

/**
 * Retention of managed RestorePoints: the record first, then (unless a restore holds it) its checksums and its
 * target snapshot — only one tagged as this disk's. The newest is never removed. Copies tagged as this disk's without
 * a record (left by a crash or a failed run) are removed too once proven orphans: no longer copying, their run ended,
 * and not the newest complete copy of their family, which the next CopyStart (or the one running) diffs against.
 */
export async function removeExpiredManagedCopies(deps: Deps, config: ProtectedDiskConfig, log: Log): Promise<void> {
  const { diskKey } = config;
  const points = (await deps.records.listRestorePoints(diskKey)).filter((p): p is ManagedRestorePoint => p.kind === "managed");
  const due = applyRetention(points.map((point) => ({ point, id: point.restorePointId, createdAt: new Date(point.sourceSnapshotTime) })), config.retention, deps.now()).map((d) => d.point);
  const target = deps.targets(config.target);
  const held = due.length > 0 ? await heldSnapshots(deps, target) : new Set<string>();
  const expired = due.filter((p) => !held.has(heldDataOf(p)));
  for (const point of expired) {
    await deps.records.deleteRestorePoint(diskKey, point.restorePointId);
    log.info("RestorePoint removed by retention", { diskKey, restorePointId: point.restorePointId });
  }
  const heldNow = await heldSnapshots(deps, target);
  for (const point of expired) {
    if (heldNow.has(heldDataOf(point))) continue;
    await removeDescription(target, point.restorePointId);
    await deleteOwnSnapshot(deps, point.targetSnapshotId, diskKey, log);
  }
  if (!config.managedTarget) return;
  const recorded = new Set((await deps.records.listRestorePoints(diskKey)).map((p) => (p.kind === "managed" ? p.targetSnapshotId.toLowerCase() : "")));
  const { subscriptionId } = diskRefOf(config);
  const copies = (await deps.compute.listSnapshots(subscriptionId, config.managedTarget.resourceGroup))
    .filter((s) => s.tags[snapshotTags.disk] === diskKey && s.createOption?.toLowerCase() === "copystart");
  const bases = newestCompleteCopies(copies);
  for (const snapshot of copies) {
    if (!hasEnded(snapshot) || bases.has(snapshot.id) || recorded.has(snapshot.id.toLowerCase()) || heldNow.has(snapshot.name)) continue;
    if (await mayStillBeRecorded(deps, diskKey, snapshot)) continue;
    await deleteOwnSnapshot(deps, snapshot.id, diskKey, log);
  }
}

/**
 * The newest complete copy of each snapshot family: what Azure's next CopyStart of the family (or the one running)
 * moves the changes since, so it stays, recorded or not. Compared by Azure's own creation times only.
 */
function newestCompleteCopies(copies: readonly SnapshotInfo[]): Set<string> {
  const newest = new Map<string, SnapshotInfo>();
  for (const copy of copies) {
    if (copy.completionPercent < 100 || copy.copyCompletionError !== undefined) continue;
    const family = copy.familyId ?? copy.id;
    const known = newest.get(family);
    if (!known || copy.timeCreated.getTime() > known.timeCreated.getTime()) newest.set(family, copy);
  }
  return new Set([...newest.values()].map((c) => c.id));
}

/** An unrecorded copy is an orphan only once the run its tag names has ended (or has no readable record): else that run may still record it. */
async function mayStillBeRecorded(deps: Deps, diskKey: string, copy: SnapshotInfo): Promise<boolean> {
  const runId = copy.tags[snapshotTags.run];
  if (!runId) return false;
  const run = await deps.records.getRun(diskKey, runId).catch((error: unknown) => {
    if (error instanceof InvalidRecordError) return undefined;
    throw error;
  });
  return run !== undefined && isActive(run.value.state);
}

async function deleteOwnSnapshot(deps: Deps, snapshotId: string, diskKey: string, log: Log): Promise<void> {
  const snapshot = await deps.compute.getSnapshot(snapshotId);
  if (!snapshot) return;
  if (snapshot.tags[snapshotTags.disk] !== diskKey) return log.warn("target snapshot not tagged as this disk's; left alone", { diskKey, snapshot: snapshotId });
  await deps.compute.revokeAccess(snapshotId).catch(() => undefined);
  await deps.compute.deleteSnapshot(snapshotId);
  log.info("managed copy removed", { diskKey, snapshot: snapshot.name });
}
