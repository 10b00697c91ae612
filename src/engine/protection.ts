/** Protecting, changing and unprotecting disks: the only way ProtectedDisk rows are written. */
import {
  type ProtectedDiskConfig,
  type ProtectedDiskUpdate,
  protectedDiskInputSchema,
  diskRefOf,
  replicationProblems,
  drillStorageProblem,
  toProtectedDisk,
} from "../domain/model";
import { ConflictError, PermanentError } from "../domain/errors";
import { unsupportedDiskReason } from "../domain/manifest";
import type { Deps } from "./deps";

export type ProtectOutcome = { readonly status: "created" | "exists"; readonly disk: ProtectedDiskConfig };

/**
 * Protects a disk. Its TargetBlob must be its own: refused (409 naming the owner) when another ProtectedDisk names
 * the same blob, or when the blob's stamp says another disk made it (also after that disk was unprotected: its
 * RestorePoints are snapshots of that blob). Re-protecting the same disk adopts its own blob.
 */
export async function protectDisk(deps: Deps, input: unknown): Promise<ProtectOutcome> {
  const disk = toProtectedDisk(protectedDiskInputSchema.parse(input));
  await refuseUnsupportedDisk(deps, disk);
  await refuseBadReplication(deps, disk);
  await refuseSharedTarget(deps, disk);
  const created = await deps.records.createDisk(disk);
  return { status: created ? "created" : "exists", disk: created ? disk : ((await deps.records.getDisk(disk.diskKey)) ?? disk) };
}

/**
 * Changes how a disk is protected. Works on a row that is not a valid ProtectedDisk too: the update replaces the
 * columns it sets, and the row is written once the result is valid (else 409 naming what is still wrong).
 */
export async function updateDisk(deps: Deps, diskKey: string, update: ProtectedDiskUpdate): Promise<ProtectedDiskConfig | undefined> {
  // Checked on the repaired configuration, before it is written.
  return deps.records.updateDisk(diskKey, update, async (next) => {
    const refusal = update.drill ? drillStorageProblem(next) : undefined;
    if (refusal) throw new InvalidProtectionError("InvalidRequest", `disk ${diskKey}: ${refusal}; unprotect it and protect it again with target.storageAccountId (its TargetBlob and RestorePoints stay)`);
    await refuseBadReplication(deps, next);
  });
}

/** Stops protecting a disk, also one whose row is unusable. Its RestorePoints and TargetBlob stay: they are the backups. */
export async function unprotectDisk(deps: Deps, diskKey: string): Promise<boolean> {
  const row = await deps.records.readDisk(diskKey);
  if (row.kind === "absent") return false;
  await deps.records.deleteDisk(diskKey);
  return true;
}

/** Thrown for a ProtectedDisk configuration the caller must change (the HTTP API answers 400), naming the field. */
export class InvalidProtectionError extends PermanentError {}

/** Thrown for a disk diskdelta cannot restore faithfully; the HTTP API answers it as 400. */
export class UnsupportedDiskError extends InvalidProtectionError {
  constructor(diskId: string, reason: string) {
    super("UnsupportedDisk", `diskId: disk ${diskId} cannot be protected: ${reason}`);
  }
}

/**
 * Refuses a replication the disk cannot have: `managed` without a managedTarget, or with the disk's own region as
 * the target (when the disk can be read now; the first run checks again).
 */
async function refuseBadReplication(deps: Deps, config: ProtectedDiskConfig): Promise<void> {
  const problems = replicationProblems(config);
  if (problems.length > 0) throw new InvalidProtectionError("InvalidRequest", problems.join("; "));
  if (config.replication !== "managed" || !config.managedTarget) return;
  const disk = await deps.compute.getDisk(diskRefOf(config)).catch(() => undefined);
  if (disk && disk.location.toLowerCase() === config.managedTarget.location.toLowerCase()) {
    throw new InvalidProtectionError("InvalidRequest", `managedTarget.location: ${config.managedTarget.location} is the disk's own region; a managed copy goes to another region`);
  }
}

/**
 * Refuses disk types whose RestorePoints could not be restored as the same disk (Confidential VM, 4K sectors). A disk
 * that does not exist (yet) is left to the first run, which checks again before it copies anything.
 */
export async function refuseUnsupportedDisk(deps: Deps, disk: ProtectedDiskConfig): Promise<void> {
  const found = await deps.compute.getDisk(diskRefOf(disk)).catch((error: unknown) => {
    if (error instanceof PermanentError && error.code === "DiskNotFound") return undefined;
    throw error;
  });
  const reason = found && unsupportedDiskReason(found.properties);
  if (reason) throw new UnsupportedDiskError(disk.diskId, reason);
}

/** The same TargetBlob: endpoints and containers compare case-insensitively, blob names exactly (as the service). */
function sameTarget(a: ProtectedDiskConfig["target"], b: ProtectedDiskConfig["target"]): boolean {
  return a.blobEndpoint.toLowerCase() === b.blobEndpoint.toLowerCase() && a.container === b.container && a.blobName === b.blobName;
}

async function refuseSharedTarget(deps: Deps, disk: ProtectedDiskConfig): Promise<void> {
  const { disks } = await deps.records.listDisks();
  const other = disks.find((d) => d.diskKey !== disk.diskKey && sameTarget(d.target, disk.target));
  const where = `${disk.target.container}/${disk.target.blobName}`;
  if (other) {
    throw new ConflictError("TargetBlobInUse", `target.blobName: TargetBlob ${where} is used by ProtectedDisk ${other.diskKey} (${other.diskId}); choose another target.blobName`);
  }
  // The blob's own stamp is the proof; a target that cannot be read now is left to the first run, which checks again.
  const found = await deps.targets(disk.target).inspect().catch(() => undefined);
  if (found && found.owner === undefined) {
    const target = deps.targets(disk.target);
    const ours = (await deps.records.listRestorePoints(disk.diskKey)).some((p) => p.targetBlobUrl === target.url);
    if (!ours) {
      throw new ConflictError("TargetBlobNotOurs", `target.blobName: blob ${where} exists and was not created by diskdelta for this disk; choose another target.blobName or delete that blob`);
    }
  }
  if (found?.owner !== undefined && found.owner !== disk.diskKey) {
    throw new ConflictError("TargetBlobInUse", `target.blobName: TargetBlob ${where} holds the backups of disk ${found.owner}, which is no longer protected; choose another target.blobName`);
  }
}
