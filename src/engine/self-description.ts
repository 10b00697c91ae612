/**
 * What makes a RestorePoint restorable from the target account alone, written by the finalizer before the
 * RestorePoint record: the disk's properties (boot properties as the SourceSnapshot carries them, sku, zones, sector
 * size and tags from the disk), the VM guest state of a Trusted Launch disk copied beside the RestorePoint and proven
 * equal by hash, and the manifest naming all of it (src/domain/manifest.ts). Nothing in it is needed from the source
 * region: the source disk's and snapshot's ids are kept as names (and the subscription a restore defaults to).
 */
import { createHash } from "node:crypto";
import { PermanentError } from "../domain/errors";
import { type DiskProperties, type RestorePointManifest, guestStateBlobName, manifestVersion } from "../domain/manifest";
import { type ProtectedDiskConfig, diskRefOf } from "../domain/model";
import { withoutAbsent } from "../domain/objects";
import { PAGE_BYTES } from "../domain/ranges";
import type { RunIn } from "../domain/records";
import type { Deps, DiskInfo, SnapshotInfo, TargetBlob } from "./deps";

/** The RestorePoint as the finalizer is about to record it. */
export interface DescribedPoint {
  readonly run: RunIn<"finalizing">;
  readonly restorePointId: string;
  readonly targetSnapshot: string;
  readonly createdAt: Date;
}

/** Security types whose disks carry a VM guest state a restore needs (ImportSecure). */
export function hasGuestState(securityType: string | undefined): boolean {
  return securityType !== undefined && securityType.toLowerCase() !== "standard";
}

/** Builds the manifest, copies the VM guest state when the disk has one, and writes the manifest beside the TargetBlob. */
export async function writeSelfDescription(deps: Deps, config: ProtectedDiskConfig, target: TargetBlob, point: DescribedPoint): Promise<RestorePointManifest> {
  const { run, restorePointId } = point;
  // A delivery of this run wrote it already (its guest state copy proven before it): the record is made from it.
  const written = await target.readManifest(restorePointId).catch(() => undefined);
  if (written?.runId === run.runId && written.target.snapshot === point.targetSnapshot) return written;
  const snapshot = await deps.compute.getSnapshot(run.sourceSnapshotId);
  if (!snapshot) throw new PermanentError("SnapshotNotFound", `SourceSnapshot ${run.sourceSnapshotId} of disk ${config.diskKey} no longer exists; the RestorePoint cannot be described`);
  const disk = await deps.compute.getDisk(diskRefOf(config)).catch((error: unknown) => {
    // The disk may be gone since its snapshot was taken: the snapshot still says how it booted.
    if (error instanceof PermanentError && error.code === "DiskNotFound") return undefined;
    throw error;
  });
  const properties = diskPropertiesAt(snapshot, disk, run.blobBytes - PAGE_BYTES);
  const guestState = hasGuestState(properties.securityType) ? await copyGuestState(deps, run.sourceSnapshotId, target, restorePointId) : undefined;
  const manifest: RestorePointManifest = {
    manifestVersion,
    restorePointId,
    diskKey: config.diskKey,
    runId: run.runId,
    diskId: config.diskId,
    diskUniqueId: run.diskUniqueId,
    sourceSnapshotId: run.sourceSnapshotId,
    sourceSnapshotTime: new Date(run.sourceSnapshotTime).toISOString(),
    createdAt: point.createdAt.toISOString(),
    target: { ...target.location, snapshot: point.targetSnapshot, ...(config.target.storageAccountId ? { storageAccountId: config.target.storageAccountId } : {}) },
    blobBytes: run.blobBytes,
    fullCopy: run.fullCopyReason !== undefined,
    bytesChanged: run.bytesChanged,
    bytesCopied: run.bytesCopied,
    requests: run.requests,
    durationMs: Math.max(0, point.createdAt.getTime() - Date.parse(run.startedAt)),
    disk: properties,
    ...(guestState ? { guestState } : {}),
    ...(config.verifyAfterBackup ? { checksumsBlobName: target.checksumsBlobName(restorePointId) } : {}),
    // A run of a VM's disk set names its set and tick, so that the set can be restored from the target account alone.
    ...(config.vmGroup && run.groupTime ? { vmGroup: { ...config.vmGroup, groupTime: run.groupTime } } : {}),
  };
  await target.writeManifest(manifest);
  return manifest;
}

/**
 * The snapshot's boot properties win over the disk's (the data is the snapshot's; the disk may have changed since);
 * sku, zones, sector size and tags come from the disk while it exists.
 */
function diskPropertiesAt(snapshot: SnapshotInfo, disk: DiskInfo | undefined, sizeBytes: number): DiskProperties {
  const { location, sku, zones, logicalSectorSize, tags } = disk?.properties ?? { location: snapshot.location, tags: {} };
  return withoutAbsent({ location, sizeBytes, sku, zones, logicalSectorSize, tags, ...snapshot.boot });
}

/**
 * Reads the SourceSnapshot's VM guest state (a grant with `getSecureVMGuestStateSAS`), writes it beside the
 * RestorePoint and reads it back: the manifest records its hash only once the stored copy is proven equal.
 */
async function copyGuestState(deps: Deps, snapshotId: string, target: TargetBlob, restorePointId: string): Promise<NonNullable<RestorePointManifest["guestState"]>> {
  const access = await deps.compute.grantSecureRead(snapshotId, deps.settings.DISKDELTA_SAS_DURATION_SECONDS);
  if (!access.securityDataAccessSAS) {
    throw new PermanentError("GuestStateMissing", `SourceSnapshot ${snapshotId} is a Trusted Launch disk's but its grant returned no VM guest state (securityDataAccessSAS); a restore would not boot`);
  }
  const url = access.securityDataAccessSAS;
  const bytes = await deps.source.contentLength(url);
  const data = await deps.source.read(url, { start: 0, end: bytes });
  const sha256 = createHash("sha256").update(data).digest("hex");
  await target.writeGuestState(restorePointId, data);
  const stored = await target.readGuestState(restorePointId);
  const storedHash = stored ? createHash("sha256").update(stored).digest("hex") : "absent";
  if (storedHash !== sha256) {
    // Not permanent: the next delivery copies it again.
    throw new Error(`the stored VM guest state of RestorePoint ${restorePointId} differs from SourceSnapshot ${snapshotId}'s (sha256 ${storedHash} vs ${sha256}); copying again`);
  }
  return { blobName: guestStateBlobName(target.location.blobName, restorePointId), bytes, sha256 };
}
