/**
 * What diskdelta records in Table Storage: ProtectedDisk state (the chain base and the active run),
 * BackupRun progress, and RestorePoints. Every record is parsed with zod when read; a bad record is reported, not used.
 */
import { z } from "zod";
import { backupRunStates } from "./model";

const optionalString = z.string().optional();
const count = z.number().int().min(0);

/** The last SourceSnapshot replicated for a disk: what the next BackupRun diffs against. */
export const chainBaseSchema = z.object({
  snapshotId: z.string().min(1),
  diskUniqueId: z.string(),
  familyId: z.string(),
  sizeBytes: count,
  timeCreated: z.string(),
});
export type ChainBase = z.output<typeof chainBaseSchema>;

/** A ProtectedDisk's moving parts, kept apart from its configuration so that edits and runs do not collide. */
export const diskStateSchema = z.object({
  activeRunId: optionalString,
  lastRunId: optionalString,
  lastRunStartedAt: optionalString,
  lastRunState: z.enum(backupRunStates).optional(),
  lastError: optionalString,
  base: chainBaseSchema.optional(),
  lastRestorePointId: optionalString,
  lastRestorePointAt: optionalString,
  /** timeCreated of the newest RestorePoint's SourceSnapshot, for the RPO. */
  lastRestorePointSourceTime: optionalString,
});
export type DiskState = z.output<typeof diskStateSchema>;

/** One BackupRun of one disk, from the claim to success or failure. */
export const backupRunSchema = z.object({
  diskKey: z.string().min(1),
  runId: z.string().min(1),
  trigger: z.enum(["schedule", "manual"]),
  state: z.enum(backupRunStates),
  startedAt: z.string(),
  updatedAt: z.string(),
  endedAt: optionalString,
  error: optionalString,
  /** Why a run ended without a RestorePoint although it did not fail. */
  note: optionalString,
  sourceSnapshotId: optionalString,
  sourceSnapshotTime: optionalString,
  diskUniqueId: optionalString,
  familyId: optionalString,
  /** Bytes of the source blob (disk + VHD footer) = size of the TargetBlob. */
  blobBytes: count.optional(),
  baseSnapshotId: optionalString,
  fullCopyReason: optionalString,
  copyMode: z.enum(["server", "stream"]).optional(),
  targetWasEmpty: z.boolean().optional(),
  /** The TargetBlob lease this run writes under (`leaseIdOf(runId)`); a write without it is refused. */
  leaseId: optionalString,
  /** The CopyStep the run expects next; older messages are stale duplicates. */
  step: count.default(0),
  cursor: count.default(0),
  windowsDone: count.default(0),
  bytesChanged: count.default(0),
  bytesCopied: count.default(0),
  bytesCleared: count.default(0),
  requests: count.default(0),
  restorePointId: optionalString,
});
export type BackupRun = z.output<typeof backupRunSchema>;

/** A point-in-time copy of a disk in the target region: a blob snapshot of the TargetBlob. Never edited. */
export const restorePointSchema = z.object({
  diskKey: z.string().min(1),
  restorePointId: z.string().min(1),
  runId: z.string().min(1),
  diskId: z.string().min(1),
  sourceSnapshotId: z.string().min(1),
  sourceSnapshotTime: z.string(),
  diskUniqueId: z.string(),
  blobBytes: count,
  targetBlobUrl: z.string(),
  targetSnapshot: z.string().min(1),
  createdAt: z.string(),
  fullCopy: z.boolean(),
  bytesChanged: count,
  bytesCopied: count,
  requests: count,
  durationMs: count,
});
export type RestorePoint = z.output<typeof restorePointSchema>;
