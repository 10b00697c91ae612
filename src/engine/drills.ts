/**
 * DR drills: the newest RestorePoint of a ProtectedDisk restored into the drill resource group by a tracked restore
 * (src/engine/restores.ts, tagged as the drill's), read back through the drill disk's own read SAS and compared
 * window by window (`drills` queue, the cursor in the DrillRun) with the block checksums recorded at backup time, or
 * with the blob snapshot when none were recorded; the result and the RTO recorded, then the drill disk deleted.
 * A drill never touches the source disk or its snapshots (no source SAS), never the disk's state (backups go on),
 * and holds its RestorePoint from retention (a restore hold named by the drillId, renewed at every step).
 */
import { ConcurrencyError, ConflictError, PermanentError, describeError } from "../domain/errors";
import { drillStaleIntervals, drillWindowBytes, stalledAfterMs, abandonedAfterMs, verifyBlockBytes } from "../domain/limits";
import { type DrillStepMessage, queueNames } from "../domain/messages";
import { type DiskRef, type DrillConfig, type ProtectedDiskConfig, diskRefOf, newRunId, parseDiskId } from "../domain/model";
import type { BlobRestorePoint, DrillRun, RestorePoint, Versioned } from "../domain/records";
import { PAGE_BYTES } from "../domain/ranges";
import { nextDueAt } from "../domain/schedule";
import { locationFromUrl } from "../domain/target-location";
import type { Delivery, Deps, Log, TargetBlob } from "./deps";
import { acceptRestore, drillDiskKeyTag, drillTag } from "./restores";
import { listRestorePoints } from "./status";
import { settleVmDrill } from "./vm-drill-result";
import { type SparseBlob, type SparseDigest, sparseDigest } from "./verify";
import { recordedDigest } from "./verify-restore-point";

type DrillIn<S extends DrillRun["state"]> = Extract<DrillRun, { state: S }>;

/** The name of a drill disk: marks it as a drill's, of which disk, and which drill (at most 80 characters). */
export function drillDiskName(diskName: string, drillId: string): string {
  return `drill-${diskName.slice(0, 80 - 7 - drillId.length)}-${drillId}`;
}

/**
 * The name of a drill's own restore hold. Not the drillId: that names the hold of the drill's tracked restore, which
 * the restore releases when its disk is created, while the drill still has to compare the disk with the RestorePoint.
 */
function drillHoldId(drillId: string): string {
  return `drill-${drillId}`;
}

/** True while a DrillRun has not ended. */
export function isDrillActive(drill: DrillRun): boolean {
  return drill.state === "restoring" || drill.state === "verifying";
}

/** The outcome of asking for a drill: started, or why not. */
export type DrillStart = { readonly status: "started"; readonly drill: DrillRun } | { readonly status: "busy"; readonly drill: DrillRun };

/**
 * Starts a drill of the disk's newest RestorePoint: holds it, records the DrillRun (restoring) and queues the
 * first step, which accepts the drill's restore. One drill per disk at a time. A ConflictError when the disk has
 * no drill configuration, cannot be restored (no storage account) or has no RestorePoint.
 */
export async function startDrill(deps: Deps, config: ProtectedDiskConfig, trigger: DrillRun["trigger"], log: Log): Promise<DrillStart> {
  const drillConfig = drillConfigOf(config);
  const [last] = await deps.records.listDrills(config.diskKey, 1);
  if (last && isDrillActive(last)) return { status: "busy", drill: last };
  const [point] = await listRestorePoints(deps, config.diskKey);
  if (!point) throw new ConflictError("NoRestorePoint", `disk ${config.diskKey} has no RestorePoint to drill yet; sync it first`);
  const now = deps.now();
  const drill = await beginDrill(deps, { config, drillConfig, point: drillablePoint(point), trigger, drillId: newRunId(now, deps.randomId()), requestedAt: now }, log);
  return { status: "started", drill };
}

/**
 * The disk's drill configuration, when a drill of it can restore; a ConflictError naming what is missing and how to
 * set it otherwise (checked before anything is created, so that a drill never fails for it at its first step).
 */
export function drillConfigOf(config: ProtectedDiskConfig): DrillConfig {
  if (!config.drill) {
    throw new ConflictError("DrillNotConfigured", `disk ${config.diskKey} has no drill configuration; set one with PATCH (drill: { schedule, resourceGroup, location })`);
  }
  if (!config.target.storageAccountId) {
    throw new ConflictError(
      "DrillNotRestorable",
      `disk ${config.diskKey} has no target.storageAccountId, which a drill's restore (Disk Import) needs; unprotect it and protect it again with target.storageAccountId (its TargetBlob and RestorePoints stay)`,
    );
  }
  return config.drill;
}

/** A RestorePoint a drill can compare: a blob snapshot; a managed copy (target snapshot) is refused, naming what to do instead. */
export function drillablePoint(point: RestorePoint): BlobRestorePoint {
  if (point.kind === "blob") return point;
  throw new ConflictError("DrillNotSupported", `RestorePoint ${point.restorePointId} of disk ${point.diskKey} is a managed copy (target snapshot); drills compare blob RestorePoints only, for now: restore it and verify it instead`);
}

/** What a drill starts from: the disk, its drill configuration, the RestorePoint drilled, and the drill's id. */
export interface DrillPlan {
  readonly config: ProtectedDiskConfig;
  readonly drillConfig: DrillConfig;
  readonly point: BlobRestorePoint;
  readonly trigger: DrillRun["trigger"];
  readonly drillId: string;
  /** When the drill was asked for: its RTO counts from here (a VM drill's members share the VM drill's). */
  readonly requestedAt: Date;
  /** The VM set whose drill this disk's drill is part of (its vmDrillId is drillId). */
  readonly vmKey?: string;
}

/** Holds the RestorePoint, records the DrillRun (restoring) and queues its first step. */
export async function beginDrill(deps: Deps, plan: DrillPlan, log: Log): Promise<DrillRun> {
  const { config, drillConfig, point, trigger, drillId } = plan;
  const now = plan.requestedAt;
  const source = diskRefOf(config);
  const drillDiskId = `/subscriptions/${source.subscriptionId}/resourceGroups/${drillConfig.resourceGroup}/providers/Microsoft.Compute/disks/${drillDiskName(source.name, drillId)}`;
  const drill: DrillRun = {
    diskKey: config.diskKey,
    drillId,
    restorePointId: point.restorePointId,
    drillDiskId,
    targetBlobUrl: point.targetBlobUrl,
    targetSnapshot: point.targetSnapshot,
    diskBytes: point.blobBytes - PAGE_BYTES,
    trigger,
    requestedAt: now.toISOString(),
    updatedAt: now.toISOString(),
    ...(plan.vmKey ? { vmKey: plan.vmKey } : {}),
    state: "restoring",
  };
  await holdOf(deps, drill).holdForRestore(drill.targetSnapshot, drillHoldId(drillId), now);
  await deps.records.createDrill(drill);
  await deps.queues.send(queueNames.drills, { diskKey: drill.diskKey, drillId, cursor: 0 });
  log.info("drill started", { diskKey: drill.diskKey, drillId, restorePointId: point.restorePointId, diskId: drillDiskId, ...(plan.vmKey ? { vmKey: plan.vmKey } : {}) });
  return drill;
}

/** One step of a drill: accept its restore or see whether it ended, or compare the window at the cursor. */
export async function advanceDrill(deps: Deps, message: DrillStepMessage, log: Log, delivery: Delivery): Promise<void> {
  const found = await deps.records.getDrill(message.diskKey, message.drillId);
  if (!found) return log.warn("step of an unknown drill dropped", { ...message });
  const drill = found.value;
  if (drill.state === "restoring") return awaitRestore(deps, found as Versioned<DrillIn<"restoring">>, log);
  if (drill.state === "verifying") {
    if (drill.cursor === message.cursor) return compareWindow(deps, found as Versioned<DrillIn<"verifying">>, log);
    // The window before the record's: its first delivery recorded the progress and died before queueing the next.
    const previous = message.cursor < drill.cursor && Math.min(message.cursor + drillWindowBytes, drill.diskBytes) === drill.cursor;
    if (previous && delivery.attempt > 1) {
      await deps.queues.send(queueNames.drills, { diskKey: drill.diskKey, drillId: drill.drillId, cursor: drill.cursor });
      return log.warn("redelivered drill step: next window queued again", { ...message, cursor: drill.cursor });
    }
    return log.info("stale drill step dropped", { ...message, cursor: drill.cursor });
  }
  // A step after the end: an earlier delivery may have died between recording the end and cleaning up.
  await afterEnd(deps, drill, log);
}

async function awaitRestore(deps: Deps, found: Versioned<DrillIn<"restoring">>, log: Log): Promise<void> {
  const drill = found.value;
  await holdOf(deps, drill).holdForRestore(drill.targetSnapshot, drillHoldId(drill.drillId), deps.now());
  const recorded = (await deps.records.getRestore(drill.diskKey, drill.drillId))?.value;
  const restore = recorded ?? (await acceptDrillRestore(deps, drill));
  // Accepted by an earlier delivery that may have died before queueing it: queue it again (its steps run twice safely).
  if (recorded?.state === "accepted") await deps.queues.send(queueNames.restores, { diskKey: drill.diskKey, restoreId: drill.drillId });
  // Not ended yet: the restore tells the drill when it has (restores.ts hands off on success and on failure).
  if (restore.state === "accepted" || restore.state === "creating") return;
  if (restore.state === "failed") throw new PermanentError("DrillRestoreFailed", `the drill's restore failed: ${restore.error}`);
  const target = holdOf(deps, drill);
  // Recorded block hashes cover the blob, footer included: usable only when no data block shares the footer's.
  const checksums = drill.diskBytes % verifyBlockBytes === 0 ? await recordedDigest(target, drill.restorePointId) : undefined;
  const now = deps.now().toISOString();
  const verifying: DrillIn<"verifying"> = {
    ...drill,
    state: "verifying",
    diskUsableAt: restore.endedAt,
    basis: checksums ? "recorded-checksums" : "blob-snapshot",
    cursor: 0,
    bytesRead: 0,
    updatedAt: now,
  };
  const etag = await deps.records.putDrill(verifying, found.etag);
  log.info("drill disk usable; comparing", { diskKey: drill.diskKey, drillId: drill.drillId, basis: verifying.basis });
  await compareWindow(deps, { value: verifying, etag }, log);
}

/** Accepts the drill's restore (its id is the drillId); one accepted by an earlier delivery is found and queued again. */
async function acceptDrillRestore(deps: Deps, drill: DrillIn<"restoring">) {
  const ref = drillDiskOf(drill);
  const config = await deps.records.getDisk(drill.diskKey);
  if (!config?.drill) throw new PermanentError("DrillNotConfigured", `disk ${drill.diskKey} is no longer protected with a drill configuration`);
  const request = { name: ref.name, resourceGroup: ref.resourceGroup, location: config.drill.location, subscriptionId: ref.subscriptionId };
  try {
    const accepted = await acceptRestore(deps, drill.diskKey, drill.restorePointId, request, `drill ${drill.drillId}`, drill.drillId);
    if (!accepted) throw new ConflictError("RestorePointDataGone", `RestorePoint ${drill.restorePointId} was removed before its drill could start`);
    return accepted;
  } catch (error) {
    if (!(error instanceof ConcurrencyError)) throw error;
    const earlier = await deps.records.getRestore(drill.diskKey, drill.drillId);
    if (!earlier) throw error;
    await deps.queues.send(queueNames.restores, { diskKey: drill.diskKey, restoreId: drill.drillId });
    return earlier.value;
  }
}

async function compareWindow(deps: Deps, found: Versioned<DrillIn<"verifying">>, log: Log): Promise<void> {
  const drill = found.value;
  const target = holdOf(deps, drill);
  await target.holdForRestore(drill.targetSnapshot, drillHoldId(drill.drillId), deps.now());
  const window = { start: drill.cursor, end: Math.min(drill.cursor + drillWindowBytes, drill.diskBytes) };
  const sas = await deps.compute.grantDiskRead(drillDiskOf(drill), deps.settings.DISKDELTA_SAS_DURATION_SECONDS);
  const restored: SparseBlob = { sizeBytes: drill.diskBytes, allocated: (w) => deps.source.allocated(sas, w), read: (r) => deps.source.read(sas, r) };
  const [expected, actual] = await Promise.all([expectedDigest(target, drill, window), sparseDigest(restored, 4, window)]);
  const differing = firstDifferingBlock(expected, actual, window);
  const bytesRead = drill.bytesRead + expected.bytesRead + actual.bytesRead;
  const now = deps.now();
  if (differing !== undefined) {
    const offset = differing * verifyBlockBytes;
    const error = `the drill disk differs from RestorePoint ${drill.restorePointId} (${drill.basis}) first at block ${differing} (bytes ${offset}-${offset + verifyBlockBytes})`;
    await endDrill(deps, found, { state: "failed", error, firstDifferingByte: offset }, log);
    return;
  }
  if (window.end < drill.diskBytes) {
    await deps.records.putDrill({ ...drill, cursor: window.end, bytesRead, updatedAt: now.toISOString() }, found.etag);
    await deps.queues.send(queueNames.drills, { diskKey: drill.diskKey, drillId: drill.drillId, cursor: window.end });
    return;
  }
  const requested = Date.parse(drill.requestedAt);
  await endDrill(deps, { value: { ...drill, bytesRead }, etag: found.etag }, {
    state: "succeeded",
    verifiedAt: now.toISOString(),
    usableSeconds: (Date.parse(drill.diskUsableAt) - requested) / 1000,
    rtoSeconds: (now.getTime() - requested) / 1000,
  }, log);
}

/** What the window should hold: the recorded block checksums in it, or the blob snapshot's blocks in it. */
async function expectedDigest(target: TargetBlob, drill: DrillIn<"verifying">, window: { start: number; end: number }): Promise<SparseDigest> {
  if (drill.basis === "blob-snapshot") {
    const snapshot: SparseBlob = {
      sizeBytes: drill.diskBytes,
      allocated: (w) => target.snapshotRanges(drill.targetSnapshot, w),
      read: (r) => target.readSnapshot(drill.targetSnapshot, r),
    };
    return sparseDigest(snapshot, 4, window);
  }
  const recorded = await recordedDigest(target, drill.restorePointId);
  if (!recorded) throw new PermanentError("NothingToCompare", `the recorded checksums of RestorePoint ${drill.restorePointId} are gone since the drill began`);
  return recorded;
}

/** The first block of the window whose hash differs (a block missing on one side holds zeros only), or undefined. */
function firstDifferingBlock(expected: SparseDigest, actual: SparseDigest, window: { start: number; end: number }): number | undefined {
  const first = Math.floor(window.start / verifyBlockBytes);
  const last = Math.ceil(window.end / verifyBlockBytes);
  const inWindow = (block: number) => block >= first && block < last;
  const blocks = [...new Set([...expected.blocks.keys(), ...actual.blocks.keys()])].filter(inWindow).sort((a, b) => a - b);
  return blocks.find((block) => expected.blocks.get(block) !== actual.blocks.get(block));
}

type DrillEnd =
  | (Pick<DrillIn<"succeeded">, "verifiedAt" | "usableSeconds" | "rtoSeconds"> & { readonly state: "succeeded" })
  | Pick<DrillIn<"failed">, "state" | "error" | "firstDifferingByte">;

/**
 * Records the drill's end, its metrics, and then cleans up: the record goes first, so that a worker dying during the
 * cleanup leaves a disk the timer's sweep can prove to be an ended drill's.
 */
async function endDrill(deps: Deps, found: Versioned<DrillRun>, end: DrillEnd, log: Log): Promise<void> {
  const drill = found.value;
  const now = deps.now().toISOString();
  const ended: DrillRun =
    end.state === "succeeded"
      ? { ...(drill as DrillIn<"verifying">), ...end, endedAt: now, updatedAt: now }
      : { ...identityOf(drill), ...end, endedAt: now, updatedAt: now };
  await deps.records.putDrill(ended, found.etag);
  const dimensions = { diskKey: drill.diskKey };
  if (ended.state === "succeeded") {
    deps.metrics.record("diskdelta.drill.succeeded", 1, dimensions);
    deps.metrics.record("diskdelta.drill.rto_seconds", ended.rtoSeconds, dimensions);
    log.info("drill succeeded", { diskKey: drill.diskKey, drillId: drill.drillId, rtoSeconds: ended.rtoSeconds, basis: ended.basis });
  } else {
    deps.metrics.record("diskdelta.drill.failed", 1, dimensions);
    log.error("drill failed", { diskKey: drill.diskKey, drillId: drill.drillId, error: ended.error });
  }
  await afterEnd(deps, ended, log);
}

/** What follows a drill's end, every time it is seen ended: cleanup, and the result of the VM drill it is part of. */
async function afterEnd(deps: Deps, drill: DrillRun, log: Log): Promise<void> {
  await cleanUp(deps, drill, log);
  if (drill.vmKey) await settleVmDrill(deps, drill.vmKey, drill.drillId, log);
}

/** Ends a drill as failed with its cause (a permanent error, or the last delivery); an ended drill is only cleaned up again. */
export async function failDrill(deps: Deps, diskKey: string, drillId: string, error: unknown, log: Log): Promise<void> {
  const found = await deps.records.getDrill(diskKey, drillId);
  if (!found) return;
  if (!isDrillActive(found.value)) return afterEnd(deps, found.value, log);
  await endDrill(deps, found, { state: "failed", error: describeError(error) }, log);
}

/** Revokes the drill disk's export and deletes it if it is this drill's (by its tags), then releases the hold. */
async function cleanUp(deps: Deps, drill: DrillRun, log: Log): Promise<void> {
  const ref = drillDiskOf(drill);
  const disk = await deps.compute.getDisk(ref).catch((error: unknown) => {
    if (error instanceof PermanentError && (error.code === "DiskNotFound" || error.code === "ResourceGroupNotFound")) return undefined;
    throw error;
  });
  if (disk && disk.properties.tags[drillTag] === drill.drillId && disk.properties.tags[drillDiskKeyTag] === drill.diskKey) {
    await deps.compute.revokeDiskAccess(ref);
    await deps.compute.deleteDisk(ref);
    log.info("drill disk deleted", { diskKey: drill.diskKey, drillId: drill.drillId, diskId: ref.id });
  }
  await releaseHolds(deps, drill);
}

/**
 * Releases the drill's hold, and its restore's (named by the drillId): a restore whose worker died between recording
 * its success and releasing its hold leaves it, and once the drill has ended nothing reads the RestorePoint for it.
 */
async function releaseHolds(deps: Deps, drill: DrillRun): Promise<void> {
  const target = holdOf(deps, drill);
  await target.releaseRestoreHold(drill.targetSnapshot, drillHoldId(drill.drillId));
  await target.releaseRestoreHold(drill.targetSnapshot, drill.drillId);
}

/** What the timer did for drills on one tick. */
export interface DrillTickReport {
  readonly started: string[];
  readonly swept: string[];
  readonly nudged: string[];
}

/**
 * The timer's drill work for one disk: sweep leftovers in its drill resource group (disks it can prove are its
 * drills': both tags, the DrillRun ended or absent), nudge or fail a drill that stopped moving, start a due one.
 */
export async function tickDrills(deps: Deps, config: ProtectedDiskConfig, report: DrillTickReport, log: Log): Promise<void> {
  const drillConfig = config.drill;
  if (!drillConfig) return;
  const now = deps.now();
  const { subscriptionId } = diskRefOf(config);
  for (const disk of await deps.compute.listDisks(subscriptionId, drillConfig.resourceGroup)) {
    const drillId = disk.properties.tags[drillTag];
    if (!drillId || disk.properties.tags[drillDiskKeyTag] !== config.diskKey) continue;
    const found = await deps.records.getDrill(config.diskKey, drillId);
    if (found && isDrillActive(found.value)) continue;
    if (found && found.value.drillDiskId.toLowerCase() !== disk.ref.id.toLowerCase()) continue;
    await deps.compute.revokeDiskAccess(disk.ref);
    await deps.compute.deleteDisk(disk.ref);
    if (found) await releaseHolds(deps, found.value);
    report.swept.push(disk.ref.id);
    log.warn("leftover drill disk deleted", { diskKey: config.diskKey, drillId, diskId: disk.ref.id });
  }
  const recent = await deps.records.listDrills(config.diskKey, 20);
  deps.metrics.record("diskdelta.drill.stale", describeDrills(config, recent, now).drillStale ? 1 : 0, { diskKey: config.diskKey });
  const [last] = recent;
  if (last && isDrillActive(last)) {
    const idle = now.getTime() - Date.parse(last.updatedAt);
    if (idle >= abandonedAfterMs) {
      await failDrill(deps, config.diskKey, last.drillId, new Error(`the drill has not moved since ${last.updatedAt}; presumed lost`), log);
    } else if (idle >= stalledAfterMs) {
      await deps.queues.send(queueNames.drills, { diskKey: config.diskKey, drillId: last.drillId, cursor: last.state === "verifying" ? last.cursor : 0 });
      report.nudged.push(last.drillId);
    }
    return;
  }
  // A disk of a VM's set is drilled on schedule with the set (vm-drills.ts), as of one RestorePoint group.
  if (config.vmGroup || !isDrillDue(config, last, now)) return;
  const started = await startDrill(deps, config, "schedule", log).catch((error: unknown) => {
    // A disk without a RestorePoint yet has nothing to drill: the next tick tries again.
    if (error instanceof ConflictError && error.code === "NoRestorePoint") return undefined;
    throw error;
  });
  if (started?.status === "started") report.started.push(started.drill.drillId);
}

/** True when the disk is enabled and its drill schedule's next time after the last drill (or none) has come. */
export function isDrillDue(config: ProtectedDiskConfig, last: { requestedAt: string } | undefined, now: Date): boolean {
  if (!config.enabled || !config.drill) return false;
  return nextDueAt(config.drill.schedule, last ? new Date(last.requestedAt) : undefined).getTime() <= now.getTime();
}

/** The drill part of a disk's status: the last drill, and whether the last success is older than the schedule allows. */
export function describeDrills(config: ProtectedDiskConfig, drills: readonly DrillRun[], now: Date): { lastDrill?: DrillRun; drillStale: boolean } {
  const [lastDrill] = drills;
  if (!config.drill) return { ...(lastDrill ? { lastDrill } : {}), drillStale: false };
  return { ...(lastDrill ? { lastDrill } : {}), drillStale: isDrillStale(config.drill.schedule, drills, now) };
}

/** True when the newest successful drill (of a disk, or of a VM set) is older than `drillStaleIntervals` of the schedule. */
export function isDrillStale(schedule: string, drills: readonly { state: string; requestedAt: string }[], now: Date): boolean {
  const lastSuccess = drills.find((drill) => drill.state === "succeeded");
  let due = lastSuccess ? new Date(lastSuccess.requestedAt) : undefined;
  for (let i = 0; i < drillStaleIntervals && due; i++) due = nextDueAt(schedule, due);
  // Never drilled: stale once the first drill would have been due (i.e. right away), so an operator notices.
  return !due || due.getTime() < now.getTime();
}

function identityOf(drill: DrillRun) {
  const { diskKey, drillId, restorePointId, drillDiskId, targetBlobUrl, targetSnapshot, diskBytes, trigger, requestedAt, updatedAt, vmKey } = drill;
  return { diskKey, drillId, restorePointId, drillDiskId, targetBlobUrl, targetSnapshot, diskBytes, trigger, requestedAt, updatedAt, ...(vmKey ? { vmKey } : {}) };
}

function holdOf(deps: Deps, drill: DrillRun): TargetBlob {
  return deps.targets(locationFromUrl(drill.targetBlobUrl));
}

function drillDiskOf(drill: DrillRun): DiskRef {
  const ref = parseDiskId(drill.drillDiskId);
  if (!ref) throw new PermanentError("InvalidRecord", `drill ${drill.drillId} names no disk id: ${drill.drillDiskId}`);
  return ref;
}
