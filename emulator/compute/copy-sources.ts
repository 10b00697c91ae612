/**
 * Resources made from another: a managed copy into another region (snapshot PUT with `createOption: CopyStart`,
 * DiskRP 2025-01-02 example Snapshot_Create_FromAnExistingSnapshotInDifferentRegion.json), a disk created from a
 * snapshot (disk PUT with `createOption: Copy`, the restore of a managed RestorePoint) and a snapshot of a disk
 * (snapshot PUT with `createOption: Copy`). A Copy stays in its source's region; only CopyStart crosses regions.
 * The request's shape is checked here, before anything is created; the copy's limits and usability are the store's.
 */
import { gib } from "../disks/limits";
import type { DiskRecord, DiskSettings, DiskStore, NewResource, SnapshotRecord } from "../disks/store";
import { armErrors, httpError } from "../error-catalog";
import { armLocation } from "./operations";
import { armError, requiredString } from "./validation";

/**
 * A CopyStart of the incremental snapshot `creationData.sourceResourceId` into `params.location`. Assumed refusals
 * (400 InvalidParameter naming the property; the service documents the rules, not its answers): `incremental` not
 * true, a source that is a disk or a full snapshot, a target in the source's own region.
 */
export function startSnapshotCopy(
  store: DiskStore,
  params: NewResource,
  properties: Record<string, unknown>,
  creation: Record<string, unknown> | undefined,
): SnapshotRecord {
  if (properties.incremental !== true) {
    throw armError("properties.incremental", "A snapshot created with createOption 'CopyStart' is incremental: set 'properties.incremental' to true.");
  }
  const source = sourceSnapshot(store, creation, "CopyStart copies an incremental snapshot");
  if (!source.incremental) {
    throw armError("creationData.sourceResourceId", `createOption 'CopyStart' copies incremental snapshots only; '${source.name}' is a full snapshot.`);
  }
  if (armLocation(source.location) === armLocation(params.location)) {
    throw armError("location", `createOption 'CopyStart' copies a snapshot into another region; '${source.name}' is already in '${source.location}'.`);
  }
  return store.startSnapshotCopy(params, source);
}

/**
 * A disk with the content, size (or the larger `diskSizeGB`), boot properties and VM guest state of the snapshot
 * `creationData.sourceResourceId`; boot properties the PUT sets win over the snapshot's. Assumed refusals: a
 * snapshot in another region than the disk (400 InvalidParameter `location`), a smaller `diskSizeGB` (400
 * InvalidParameter), a CopyStart snapshot below completionPercent 100 (409, `DiskStore.requireUsable`).
 */
export function copyDiskFromSnapshot(
  store: DiskStore,
  params: NewResource,
  creation: Record<string, unknown> | undefined,
  diskSizeGB: number | undefined,
  settings: DiskSettings,
): DiskRecord {
  const source = sourceSnapshot(store, creation, "The disk emulator creates disks with createOption 'Copy' from snapshots");
  requireSourceRegion("disk", "snapshot", source, params.location);
  const snapshotBytes = source.view.diskSizeBytes;
  const sizeBytes = diskSizeGB === undefined ? snapshotBytes : diskSizeGB * gib;
  if (sizeBytes < snapshotBytes) {
    throw armError("diskSizeGB", `'diskSizeGB' ${diskSizeGB} is smaller than snapshot '${source.name}' (${snapshotBytes} bytes).`);
  }
  store.requireUsable(source, "copied to a disk");
  // The PUT's boot properties hold only what it set (parseDiskPut), so they override the snapshot's one by one.
  const boot = { ...structuredClone(source.boot), ...settings.boot };
  const creationData = { createOption: "Copy", sourceResourceId: source.id, sourceUniqueId: source.uniqueId };
  return store.createDisk(params, sizeBytes, creationData, {
    ...settings,
    boot,
    data: source.view.data,
    ...(source.guestState ? { guestState: source.guestState } : {}),
  });
}

/**
 * The disk a snapshot PUT with `createOption: Copy` snapshots: `creationData.sourceResourceId` (older api-versions
 * named it in `sourceUri`, see the recorded session; both are accepted), in the snapshot's region (Azure copies a
 * snapshot into another region with CopyStart only). 404 for a source that does not exist; a snapshot as the source
 * in the same region is refused 400: the emulator snapshots disks only.
 */
export function snapshotSourceDisk(store: DiskStore, location: string, creation: Record<string, unknown> | undefined): DiskRecord {
  const sourceId = requiredString(creation?.sourceResourceId ?? creation?.sourceUri, "creationData.sourceResourceId");
  const disk = store.diskById(sourceId);
  if (disk) {
    requireSourceRegion("snapshot", "disk", disk, location);
    return disk;
  }
  const snapshot = store.snapshotById(sourceId);
  if (!snapshot) throw httpError(armErrors.sourceDiskNotFound(sourceId));
  requireSourceRegion("snapshot", "snapshot", snapshot, location);
  throw armError("creationData.sourceResourceId", "The disk emulator snapshots disks only, not snapshots.");
}

/**
 * A Copy is made in its source's region: 400 InvalidParameter naming `location` otherwise (assumed answer; Azure
 * documents CopyStart as the way into another region).
 */
function requireSourceRegion(
  kind: "disk" | "snapshot",
  sourceKind: "disk" | "snapshot",
  source: DiskRecord | SnapshotRecord,
  location: string,
): void {
  if (armLocation(source.location) !== armLocation(location)) {
    throw armError("location", `A ${kind} copied from ${sourceKind} '${source.name}' must be in its region '${source.location}', not '${location}'.`);
  }
}

/** The snapshot `creationData.sourceResourceId` names: 404 ResourceNotFound when missing, 400 for a disk. */
function sourceSnapshot(store: DiskStore, creation: Record<string, unknown> | undefined, onlySnapshots: string): SnapshotRecord {
  const sourceId = requiredString(creation?.sourceResourceId, "creationData.sourceResourceId");
  const source = store.snapshotById(sourceId);
  if (source) return source;
  if (store.diskById(sourceId)) throw armError("creationData.sourceResourceId", `${onlySnapshots}, not a disk.`);
  throw httpError(armErrors.sourceSnapshotNotFound(sourceId));
}
