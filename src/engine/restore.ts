/**
 * Restore: a new managed disk in the target region, created by the disk service importing a RestorePoint's blob
 * snapshot (`createOption: Import`, the target storage account's id). diskdelta never writes to the new disk itself.
 * A restore never touches an existing disk: a taken name is refused before anything is asked. The resource group
 * must exist (diskdelta does not create groups: where they live and who owns them is the operator's call). While
 * the import reads the blob snapshot, a hold recorded beside the TargetBlob keeps retention from deleting it.
 */
import { z } from "zod";
import { locationFromUrl } from "../domain/target-location";
import { ConflictError, PermanentError, codeOf, statusOf } from "../domain/errors";
import { restoreHoldMs } from "../domain/limits";
import { parseDiskId } from "../domain/model";
import type { Deps, DiskInfo, TargetBlob } from "./deps";

const armName = /^[A-Za-z0-9_.-]{1,80}$/;

/** What an operator asks for when restoring. */
export const restoreRequestSchema = z
  .object({
    name: z.string().regex(armName, "must be a disk name: 1-80 letters, digits, _ . -"),
    resourceGroup: z.string().regex(/^[-\w._()]{1,90}$/, "must be a resource group name"),
    /** Region of the new disk: the target storage account's region. */
    location: z.string().min(1),
    /** ARM id of the target storage account; defaults to the one recorded with the ProtectedDisk. */
    storageAccountId: z.string().regex(/^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Storage\/storageAccounts\/[^/]+$/i, "must be a storage account resource id").optional(),
    subscriptionId: z.string().min(1).optional(),
    sku: z.enum(["Standard_LRS", "Premium_LRS", "StandardSSD_LRS", "UltraSSD_LRS", "Premium_ZRS", "StandardSSD_ZRS", "PremiumV2_LRS"]).optional(),
    diskSizeGB: z.number().int().positive().max(65_536).optional(),
  })
  .strict();
export type RestoreRequest = z.output<typeof restoreRequestSchema>;

/** A restored disk. */
export interface RestoreResult {
  readonly diskId: string;
  readonly uniqueId: string;
  readonly sizeBytes: number;
  readonly restorePointId: string;
  readonly sourceUri: string;
}

export async function restoreDisk(deps: Deps, diskKey: string, restorePointId: string, request: RestoreRequest): Promise<RestoreResult | undefined> {
  const point = await deps.records.getRestorePoint(diskKey, restorePointId);
  if (!point) return undefined;
  const config = await deps.records.getDisk(diskKey);
  const storageAccountId = request.storageAccountId ?? config?.target.storageAccountId;
  if (!storageAccountId) {
    throw new PermanentError("InvalidRequest", "storageAccountId: required (the target storage account's resource id); it is not recorded with this disk");
  }
  const subscriptionId = request.subscriptionId ?? parseDiskId(point.diskId)!.subscriptionId;
  const newDiskId = `/subscriptions/${subscriptionId}/resourceGroups/${request.resourceGroup}/providers/Microsoft.Compute/disks/${request.name}`;
  await refuseExistingDisk(deps, newDiskId);
  const target = deps.targets(locationFromUrl(point.targetBlobUrl));
  const sourceUri = target.snapshotUrl(point.targetSnapshot);
  const restoreId = deps.randomId();
  await target.holdForRestore(point.targetSnapshot, restoreId, deps.now());
  try {
    // The hold is written first, then the data proven still there: retention deletes a record before looking for
    // holds, so a RestorePoint found after the hold cannot lose its data to retention until the hold is released.
    const still = await deps.records.getRestorePoint(diskKey, restorePointId);
    if (!still || !(await target.listSnapshots()).some((s) => s.snapshot === point.targetSnapshot)) {
      throw new ConflictError("RestorePointDataGone", `RestorePoint ${restorePointId} was removed (by retention or by hand) before its restore could start`);
    }
    const disk: DiskInfo = await deps.compute
      .importDisk({ subscriptionId, resourceGroup: request.resourceGroup, name: request.name, location: request.location, sourceUri, storageAccountId, sku: request.sku, diskSizeGB: request.diskSizeGB })
      .catch((error: unknown) => {
        // ARM answers 404 ResourceGroupNotFound to the disk's PUT; the disk lookup before it cannot tell.
        if (codeOf(error) === "ResourceGroupNotFound") throw resourceGroupMissing(request, subscriptionId);
        // Someone created the name in the meantime: the service refuses to change an existing disk's source.
        if (statusOf(error) === 409) throw diskExists(newDiskId);
        throw error;
      });
    return { diskId: disk.ref.id, uniqueId: disk.uniqueId, sizeBytes: disk.sizeBytes, restorePointId, sourceUri };
  } finally {
    await target.releaseRestoreHold(point.targetSnapshot, restoreId);
  }
}

/** Blob snapshots of this TargetBlob that a restore is reading now; holds older than `restoreHoldMs` are removed. */
export async function heldSnapshots(deps: Deps, target: TargetBlob): Promise<Set<string>> {
  const held = new Set<string>();
  for (const hold of await target.listRestoreHolds()) {
    if (deps.now().getTime() - hold.startedAt.getTime() < restoreHoldMs) held.add(hold.snapshot);
    else await target.releaseRestoreHold(hold.snapshot, hold.restoreId);
  }
  return held;
}

async function refuseExistingDisk(deps: Deps, diskId: string): Promise<void> {
  const exists = await deps.compute.getDisk(parseDiskId(diskId)!).then(
    () => true,
    (error: unknown) => {
      if (error instanceof PermanentError && error.code === "DiskNotFound") return false;
      throw error;
    },
  );
  if (exists) throw diskExists(diskId);
}

function resourceGroupMissing(request: RestoreRequest, subscriptionId: string): ConflictError {
  return new ConflictError(
    "ResourceGroupNotFound",
    `resource group '${request.resourceGroup}' does not exist in subscription ${subscriptionId}; create it first ` +
      `(az group create --name ${request.resourceGroup} --location ${request.location}), then restore again`,
  );
}

function diskExists(diskId: string): ConflictError {
  return new ConflictError("DiskExists", `disk ${diskId} already exists; a restore creates a new disk: choose another name or delete that disk first`);
}
