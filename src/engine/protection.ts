/** Protecting, changing and unprotecting disks: the only way ProtectedDisk rows are written. */
import {
  type ProtectedDiskConfig,
  type ProtectedDiskUpdate,
  protectedDiskInputSchema,
  toProtectedDisk,
} from "../domain/model";
import type { Deps } from "./deps";

export type ProtectOutcome = { readonly status: "created" | "exists"; readonly disk: ProtectedDiskConfig };

export async function protectDisk(deps: Deps, input: unknown): Promise<ProtectOutcome> {
  const disk = toProtectedDisk(protectedDiskInputSchema.parse(input));
  const created = await deps.records.createDisk(disk);
  return { status: created ? "created" : "exists", disk: created ? disk : ((await deps.records.getDisk(disk.diskKey)) ?? disk) };
}

export async function updateDisk(deps: Deps, diskKey: string, update: ProtectedDiskUpdate): Promise<ProtectedDiskConfig | undefined> {
  const current = await deps.records.getDisk(diskKey);
  if (!current) return undefined;
  const next: ProtectedDiskConfig = { ...current, ...stripUndefined(update) };
  await deps.records.replaceDisk(next);
  return next;
}

/** Stops protecting a disk. Its RestorePoints and TargetBlob stay: they are the backups. */
export async function unprotectDisk(deps: Deps, diskKey: string): Promise<boolean> {
  const current = await deps.records.getDisk(diskKey);
  if (!current) return false;
  await deps.records.deleteDisk(diskKey);
  return true;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
