/**
 * Restore: a new managed disk in the target region, created by the disk service importing a RestorePoint's blob
 * snapshot (`createOption: Import`, the target storage account's id). diskdelta never writes to the new disk itself.
 */
import { z } from "zod";
import type { DiskInfo } from "../adapters/compute";
import { locationFromUrl } from "../adapters/target-blob";
import { PermanentError } from "../domain/errors";
import { parseDiskId } from "../domain/model";
import type { Deps } from "./deps";

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
  const sourceUri = deps.targets(locationFromUrl(point.targetBlobUrl)).snapshotUrl(point.targetSnapshot);
  const disk: DiskInfo = await deps.compute.importDisk({
    subscriptionId: request.subscriptionId ?? parseDiskId(point.diskId)!.subscriptionId,
    resourceGroup: request.resourceGroup,
    name: request.name,
    location: request.location,
    sourceUri,
    storageAccountId,
    sku: request.sku,
    diskSizeGB: request.diskSizeGB,
  });
  return { diskId: disk.ref.id, uniqueId: disk.uniqueId, sizeBytes: disk.sizeBytes, restorePointId, sourceUri };
}
