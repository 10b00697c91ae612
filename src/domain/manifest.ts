/**
 * A RestorePoint described where its data is: one small JSON blob per RestorePoint in the target storage account,
 * beside the TargetBlob (`<blobName>.manifests/<restorePointId>.json`). It holds everything needed to list the
 * RestorePoint and to recreate the disk — with no reference to the source region or the app's tables — so that
 * restores work from the target account alone (the CLI's direct mode, `catalog rebuild`). Written after the blob
 * snapshot is proven and before the RestorePoint record; removed by retention with the record, before the blob
 * snapshot. Never edited.
 */
import { z } from "zod";
import type { BlobRestorePoint } from "./records";

const count = z.number().int().min(0);

export const manifestVersion = 1;

/** What the disk service needs to recreate a disk that boots as the source did; absent fields were not set. */
export const diskPropertiesSchema = z.object({
  /** Region of the source disk (informational: a restore goes to the target's region). */
  location: z.string().min(1),
  sizeBytes: count,
  /** The source disk's sku name, e.g. Premium_LRS. */
  sku: z.string().optional(),
  osType: z.enum(["Windows", "Linux"]).optional(),
  hyperVGeneration: z.enum(["V1", "V2"]).optional(),
  supportedCapabilities: z
    .object({
      architecture: z.string().optional(),
      diskControllerTypes: z.string().optional(),
      acceleratedNetwork: z.boolean().optional(),
    })
    .optional(),
  /** `securityProfile.securityType`, e.g. TrustedLaunch. */
  securityType: z.string().optional(),
  zones: z.array(z.string()).optional(),
  /** `creationData.logicalSectorSize`: 512 (default) or 4096. */
  logicalSectorSize: z.number().int().optional(),
  tags: z.record(z.string(), z.string()).default({}),
});
export type DiskProperties = z.output<typeof diskPropertiesSchema>;

/** The disk set a RestorePoint belongs to (`protect-vm`): which VM, which run time of the set, which disk of it. */
export const vmGroupSchema = z.object({
  vmId: z.string().min(1),
  /** The scheduled time shared by the runs of one VM's disks: RestorePoints of one set have the same value. */
  groupTime: z.string().min(1),
  role: z.enum(["os", "data"]),
  lun: z.number().int().min(0).optional(),
});
export type VmGroup = z.output<typeof vmGroupSchema>;

export const restorePointManifestSchema = z.object({
  manifestVersion: z.literal(manifestVersion),
  restorePointId: z.string().min(1),
  diskKey: z.string().min(1),
  runId: z.string().min(1),
  /** ARM id of the source disk. */
  diskId: z.string().min(1),
  diskUniqueId: z.string().min(1),
  sourceSnapshotId: z.string().min(1),
  sourceSnapshotTime: z.string().min(1),
  createdAt: z.string().min(1),
  /** The RestorePoint's data: a blob snapshot of the TargetBlob (URLs never carry a credential). */
  target: z.object({
    blobEndpoint: z.string().min(1),
    container: z.string().min(1),
    blobName: z.string().min(1),
    snapshot: z.string().min(1),
    /** ARM id of the target storage account, when the ProtectedDisk recorded it (Disk Import needs it). */
    storageAccountId: z.string().min(1).optional(),
  }),
  blobBytes: count,
  fullCopy: z.boolean(),
  bytesChanged: count,
  bytesCopied: count,
  requests: count,
  durationMs: count,
  disk: diskPropertiesSchema,
  /** Trusted Launch: the VM guest state copied beside the RestorePoint (a page blob in the same container). */
  guestState: z.object({ blobName: z.string().min(1), bytes: count, sha256: z.string().regex(/^[0-9a-f]{64}$/) }).optional(),
  /** Where `verifyAfterBackup` stored the RestorePoint's checksums, when it did. */
  checksumsBlobName: z.string().min(1).optional(),
  vmGroup: vmGroupSchema.optional(),
});
export type RestorePointManifest = z.output<typeof restorePointManifestSchema>;

/** The RestorePoint record a manifest describes, for the TargetBlob at `targetBlobUrl` (`TargetBlob.url`). */
export function restorePointOfManifest(manifest: RestorePointManifest, targetBlobUrl: string): BlobRestorePoint {
  const { restorePointId, diskKey, runId, diskId, diskUniqueId, sourceSnapshotId, sourceSnapshotTime, createdAt } = manifest;
  const { blobBytes, fullCopy, bytesChanged, bytesCopied, requests, durationMs } = manifest;
  return {
    kind: "blob", diskKey, restorePointId, runId, diskId, sourceSnapshotId, sourceSnapshotTime, diskUniqueId, blobBytes,
    targetBlobUrl, targetSnapshot: manifest.target.snapshot, createdAt, fullCopy, bytesChanged, bytesCopied, requests, durationMs,
    ...(manifest.vmGroup ? { groupTime: manifest.vmGroup.groupTime } : {}),
  };
}

/** Blob name of a RestorePoint's manifest, in the TargetBlob's container. */
export function manifestBlobName(blobName: string, restorePointId: string): string {
  return `${blobName}.manifests/${restorePointId}.json`;
}

/** Blob name of a RestorePoint's copy of the VM guest state (Trusted Launch), in the TargetBlob's container. */
export function guestStateBlobName(blobName: string, restorePointId: string): string {
  return `${blobName}.gueststate/${restorePointId}.vmgs`;
}

/** Recognises a manifest's blob name in a container listing: the TargetBlob's name and the RestorePoint id. */
export function parseManifestBlobName(name: string): { blobName: string; restorePointId: string } | undefined {
  const match = /^(.+)\.manifests\/([^/]+)\.json$/.exec(name);
  return match ? { blobName: match[1], restorePointId: match[2] } : undefined;
}

/** Security types diskdelta cannot restore faithfully; protect refuses them (see `unsupportedDiskReason`). */
export function unsupportedDiskReason(disk: Pick<DiskProperties, "securityType" | "logicalSectorSize">): string | undefined {
  if (disk.securityType?.toLowerCase().startsWith("confidentialvm")) {
    return (
      `its securityType is ${disk.securityType}: a Confidential VM disk's guest state is sealed to keys and metadata ` +
      "(securityMetadataUri) that a copy cannot carry, so a restore would not boot; use Azure Backup for Confidential VMs"
    );
  }
  if (disk.logicalSectorSize === 4096) {
    return (
      "its logical sector size is 4096 bytes: snapshots of 4K-sector disks (Premium SSD v2, Ultra) export as VHDX, " +
      "which a page-blob copy cannot turn back into the same disk; protect 512-byte-sector disks only"
    );
  }
  return undefined;
}
