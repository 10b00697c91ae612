/**
 * What diskdelta records in Table Storage: ProtectedDisk state (the chain base and the active run),
 * BackupRun progress, and RestorePoints. Every record is parsed with zod when read; a bad record is reported, not used.
 */
import { z } from "zod";
import { type BackupRunState, backupRunStates, copyModes, fullCopyReasons } from "./model";

const optionalString = z.string().optional();
const count = z.number().int().min(0);

/** The last SourceSnapshot replicated for a disk: what the next BackupRun diffs against. */
export const chainBaseSchema = z.object({
  snapshotId: z.string().min(1),
  diskUniqueId: z.string(),
  familyId: z.string(),
  sizeBytes: count,
  timeCreated: z.string(),
  /**
   * The TargetBlob's ETag when it was proven to hold this base (read under the lease of the run that recorded it, or
   * of a later diff run that failed: its writes are the base's diff, which the next diff rewrites). A blob whose ETag
   * differs was written by someone else since: the next run copies in full (`target-changed`). Absent on bases
   * recorded before it was kept, and on managed ones.
   */
  targetEtag: z.string().optional(),
});
/**
 * A chain base's `targetEtag` when the TargetBlob is not proven to hold it: the run that recorded it no longer held
 * the lease, or verifyAfterBackup found a RestorePoint of the chain differs from its source (a diff from such a base
 * inherits it). No ETag matches it: the next run copies in full (`target-unproven`).
 */
export const unprovenTargetEtag = "unproven";
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

/** What every BackupRun carries from its start: who, why, how it copies, and its progress (zero until copying). */
const runIdentity = {
  diskKey: z.string().min(1),
  runId: z.string().min(1),
  trigger: z.enum(["schedule", "manual"]),
  copyMode: z.enum(copyModes),
  startedAt: z.string(),
  updatedAt: z.string(),
  /** The CopyStep the run expects next; older messages are stale duplicates. */
  step: count.default(0),
  cursor: count.default(0),
  windowsDone: count.default(0),
  bytesChanged: count.default(0),
  bytesCopied: count.default(0),
  bytesCleared: count.default(0),
  requests: count.default(0),
  /**
   * A run of one of a VM's disk set: the scheduled time (or the manual sync's time) its set's runs share, carried
   * into the RestorePoint so that the set's RestorePoints of one tick are found together.
   */
  groupTime: optionalString,
};

/** What prepare records before the first CopyStep: the SourceSnapshot, the TargetBlob's size and the run's lease. */
const prepared = {
  sourceSnapshotId: z.string().min(1),
  sourceSnapshotTime: z.string().min(1),
  diskUniqueId: z.string().min(1),
  familyId: z.string().min(1),
  /** Bytes of the source blob (disk + VHD footer) = size of the TargetBlob. */
  blobBytes: count,
  /** The TargetBlob lease this run writes under (`leaseIdOf(runId)`); a write without it is refused. */
  leaseId: z.string().min(1),
};

/**
 * A prepared run either diffs against the chain base (and names it) or copies in full (and says why, and whether the
 * TargetBlob was empty, so unallocated pages need no clearing). Never both, never neither.
 */
function preparedRun<S extends string, E extends z.ZodRawShape>(state: S, extra: E) {
  const fields = { ...runIdentity, ...prepared, ...extra, state: z.literal(state) };
  return z.discriminatedUnion("fullCopyReason", [
    // A diff never needs the TargetBlob empty; the field stays in the answer as it always was (false).
    z.object({ ...fields, baseSnapshotId: z.string().min(1), fullCopyReason: z.undefined().optional(), targetWasEmpty: z.literal(false).default(false) }),
    z.object({ ...fields, baseSnapshotId: z.undefined().optional(), fullCopyReason: z.enum(fullCopyReasons), targetWasEmpty: z.boolean() }),
  ]);
}

const ended = { endedAt: z.string().min(1) };

/**
 * A run waiting in `preparing` for its SourceSnapshot's background copy (Premium SSD v2, Ultra, CopyStart): which
 * snapshot, since when, and how far it was at the last look. All three or none.
 */
const hydrationWait = {
  waitingForSnapshotId: z.string().min(1),
  waitingSince: z.string().min(1),
  completionPercent: z.number().min(0).max(100),
};
const notWaiting = {
  waitingForSnapshotId: z.undefined().optional(),
  waitingSince: z.undefined().optional(),
  completionPercent: z.undefined().optional(),
  waitingForCopySlot: z.undefined().optional(),
};

/**
 * A managed run waiting in `preparing` for a managed-copy slot of its target region (Azure allows 100 copies in
 * flight per subscription and region): which region, since when.
 */
const copySlotWait = {
  waitingForCopySlot: z.string().min(1),
  waitingSince: z.string().min(1),
  waitingForSnapshotId: z.undefined().optional(),
  completionPercent: z.undefined().optional(),
};

/**
 * What a managed run (replication `managed`) records once Azure's copy is asked for: the SourceSnapshot, the
 * target-region snapshot the copy creates, the copy slot it counts against, and how far the copy is.
 */
const managedCopy = {
  replication: z.literal("managed"),
  sourceSnapshotId: z.string().min(1),
  sourceSnapshotTime: z.string().min(1),
  diskUniqueId: z.string().min(1),
  familyId: z.string().min(1),
  /** Bytes of the SourceSnapshot's VHD (disk + footer), as a diff run's TargetBlob. */
  blobBytes: count,
  /** ARM id of the incremental snapshot `CopyStart` creates in the target region. */
  targetSnapshotId: z.string().min(1),
  targetLocation: z.string().min(1),
  /** The fleet-wide managed-copy slot (table diskdeltaCopySlots) this copy holds. */
  copySlot: z.string().min(1),
  copyStartedAt: z.string().min(1),
  completionPercent: z.number().min(0).max(100),
};

/**
 * One BackupRun of one disk, from the claim to success or failure: a union by `state`, each state carrying exactly
 * its fields. queued → preparing (a prepare claimed it, or it waits for its snapshot's background copy) → copying (prepared: snapshot, size, lease, diff or full) →
 * finalizing (every CopyStep done) → succeeded (with its RestorePoint, or with a note when there was nothing new);
 * any active state → failed (with its error, and whatever it had prepared, to revoke and release).
 */
const runSchemasByState = {
  queued: z.object({ ...runIdentity, state: z.literal("queued") }),
  preparing: z.union([
    z.object({
      ...runIdentity,
      ...notWaiting,
      /**
       * The id of the queue message whose delivery claimed the preparation: a delivery of another message (a
       * duplicate) leaves a claim younger than `stalledAfterMs` to it; a redelivery of that message takes it over.
       */
      claimedBy: z.string().min(1).optional(),
      /**
       * The TargetBlob's ETag when this run took its lease, recorded (before the run shapes the blob) once it matched
       * the chain base's. A redelivered prepare that proves it still holds that lease diffs on it: every write since
       * is this run's own shaping. Without the proof it compares the blob's ETag as it finds it.
       */
      leasedTargetEtag: z.string().min(1).optional(),
      state: z.literal("preparing"),
    }),
    z.object({ ...runIdentity, ...hydrationWait, waitingForCopySlot: z.undefined().optional(), state: z.literal("preparing") }),
    z.object({ ...runIdentity, ...copySlotWait, state: z.literal("preparing") }),
  ]),
  /**
   * `stepBytesCopied`: bytes of the CopyStep now copying (`step`) whose page writes completed, recorded while it
   * copies; not yet part of `bytesCopied`, which the step adds to when it records its end (and drops this field).
   */
  copying: preparedRun("copying", { stepBytesCopied: count.optional() }),
  /** A managed run: Azure copies the SourceSnapshot into the target region; `completionPercent` is its progress. */
  replicating: z.object({ ...runIdentity, ...managedCopy, state: z.literal("replicating") }),
  /**
   * While Azure refuses the TargetBlob's snapshot for now (a premium page blob allows one per interval): since when the
   * run waits, and when it asks again. Both or none.
   */
  finalizing: preparedRun("finalizing", { waitingSince: optionalString, targetSnapshotDueAt: optionalString }),
  succeeded: z.union([
    preparedRun("succeeded", { ...ended, restorePointId: z.string().min(1) }),
    z.object({ ...runIdentity, ...managedCopy, ...ended, state: z.literal("succeeded"), restorePointId: z.string().min(1) }),
    /** Ended without a RestorePoint although it did not fail: no new SourceSnapshot to replicate. */
    z.object({ ...runIdentity, ...ended, state: z.literal("succeeded"), note: z.string().min(1) }),
  ]),
  failed: z.object({
    ...runIdentity,
    ...z.object(prepared).partial().shape,
    ...ended,
    state: z.literal("failed"),
    error: z.string(),
    baseSnapshotId: optionalString,
    fullCopyReason: z.enum(fullCopyReasons).optional(),
    targetWasEmpty: z.boolean().optional(),
    /** A managed run's copy, when it had asked for one (the copy may outlive the run: its slot is freed by proof). */
    replication: z.literal("managed").optional(),
    targetSnapshotId: optionalString,
    targetLocation: optionalString,
    copySlot: optionalString,
  }),
} satisfies { [S in BackupRunState]: z.ZodType<{ state: S }> };

export type BackupRun = { [S in BackupRunState]: z.output<(typeof runSchemasByState)[S]> }[BackupRunState];
/** A BackupRun in one of the given states. */
export type RunIn<S extends BackupRunState> = Extract<BackupRun, { state: S }>;
/** A run prepare has prepared, still being copied or finalized. */
export type PreparedRun = RunIn<"copying" | "finalizing">;

type KeysOfUnion<T> = T extends unknown ? keyof T : never;
type ValueIn<T, K extends PropertyKey> = T extends unknown ? (K extends keyof T ? T[K] : undefined) : never;

/**
 * A BackupRun as a reader sees it (the HTTP API's answer, the CLI, a test): the fields every state has, and every
 * other state's fields as optional. The engine never uses it to decide anything: it narrows by `state`.
 */
export type RunView = Readonly<Pick<BackupRun, keyof BackupRun>> & {
  readonly [K in Exclude<KeysOfUnion<BackupRun>, keyof BackupRun>]?: ValueIn<BackupRun, K>;
};

/**
 * Bytes a run has copied so far, for people watching it: its finished CopySteps' (`bytesCopied`) and, while a step
 * copies, that step's bytes whose page writes completed (`stepBytesCopied`). The run's totals are the former alone.
 */
export function bytesCopiedSoFar(run: RunView): number {
  return run.bytesCopied + (run.state === "copying" ? (run.stepBytesCopied ?? 0) : 0);
}

/** A value with the ETag it was read at. */
export interface Versioned<T> {
  readonly value: T;
  readonly etag: string;
}

/** Parses a BackupRun by its state, so each problem names the field the state requires. */
export const backupRunSchema: z.ZodType<BackupRun> = z
  .looseObject({ state: z.enum(backupRunStates) })
  .transform((row, ctx): BackupRun => {
    const parsed = runSchemasByState[row.state].safeParse(row);
    if (parsed.success) return parsed.data;
    for (const issue of parsed.error.issues) ctx.addIssue({ ...issue, message: `${issue.message} (a ${row.state} BackupRun)` } as never);
    return z.NEVER;
  });

/** What every RestorePoint records, whatever holds its data. */
const restorePointCommon = {
  diskKey: z.string().min(1),
  restorePointId: z.string().min(1),
  runId: z.string().min(1),
  diskId: z.string().min(1),
  sourceSnapshotId: z.string().min(1),
  sourceSnapshotTime: z.string(),
  diskUniqueId: z.string(),
  blobBytes: count,
  /**
   * The ProtectedDisk's TargetBlob: a `blob` RestorePoint's data is a snapshot of it; beside it lie every
   * RestorePoint's description (manifest, checksums) and the holds of the restores reading it.
   */
  targetBlobUrl: z.string(),
  createdAt: z.string(),
  fullCopy: z.boolean(),
  bytesChanged: count,
  bytesCopied: count,
  requests: count,
  durationMs: count,
  /** The run's `groupTime` when the disk is one of a VM's disk set: the set's RestorePoints of one tick share it. */
  groupTime: optionalString,
  /**
   * Set when verifyAfterBackup found the RestorePoint's data differs from its SourceSnapshot: when, and the byte
   * ranges that differ. It is not the disk; the disk's next run copies in full.
   */
  differsFromSource: optionalString,
};

/** Where a RestorePoint's data is: a blob snapshot of the TargetBlob (diff copy), or a target-region snapshot (managed copy). */
export const restorePointKinds = ["blob", "managed"] as const;

/**
 * A point-in-time copy of a disk in the target region, never edited: `blob` — a blob snapshot of the TargetBlob
 * (`targetSnapshot`); `managed` — the incremental snapshot Azure's managed copy made (`targetSnapshotId`, in
 * `targetLocation`). Records written before managed copies existed have no `kind`: they are `blob`.
 */
export const restorePointSchema = z.preprocess(
  (row) => (row !== null && typeof row === "object" && !("kind" in row) ? { ...row, kind: "blob" } : row),
  z.discriminatedUnion("kind", [
    z.object({ ...restorePointCommon, kind: z.literal("blob"), targetSnapshot: z.string().min(1) }),
    z.object({ ...restorePointCommon, kind: z.literal("managed"), targetSnapshotId: z.string().min(1), targetLocation: z.string().min(1) }),
  ]),
);
export type RestorePoint = z.output<typeof restorePointSchema>;
/** A RestorePoint whose data is a blob snapshot of the TargetBlob. */
export type BlobRestorePoint = Extract<RestorePoint, { kind: "blob" }>;
/** A RestorePoint whose data is a target-region snapshot made by Azure's managed copy. */
export type ManagedRestorePoint = Extract<RestorePoint, { kind: "managed" }>;

/** The name under which restores hold a RestorePoint's data (blob snapshot time, or the target snapshot's ARM name). */
export function heldDataOf(point: RestorePoint): string {
  return point.kind === "blob" ? point.targetSnapshot : armNameOf(point.targetSnapshotId);
}

function armNameOf(resourceId: string): string {
  return resourceId.split("/").at(-1) ?? resourceId;
}

/**
 * A fleet-wide managed-copy slot (table diskdeltaCopySlots, partition = subscription and target region, row = slot
 * number): held by one managed copy from before its CopyStart until the copy provably ended.
 */
export const copySlotSchema = z.object({
  diskKey: z.string().min(1),
  runId: z.string().min(1),
  /** The target-region snapshot the copy creates; the slot is free once it is gone, complete or failed. */
  targetSnapshotId: z.string().min(1),
  takenAt: z.string().min(1),
});
export type CopySlot = z.output<typeof copySlotSchema>;

/** How a tracked restore creates its disk: Disk Import of a blob snapshot (ImportSecure with the VM guest state), or Copy of a managed RestorePoint's target snapshot. */
export const restoreCreateOptions = ["Import", "ImportSecure", "Copy"] as const;

/** What every tracked restore carries: which RestorePoint, which new disk, who asked and when. */
const restoreIdentity = {
  diskKey: z.string().min(1),
  restoreId: z.string().min(1),
  restorePointId: z.string().min(1),
  /** ARM id of the disk the restore creates. */
  newDiskId: z.string().min(1),
  /** The target storage account the import reads from (Disk Import's storageAccountId); none for a managed RestorePoint's copy. */
  storageAccountId: optionalString,
  /** The RestorePoint's data: the TargetBlob and its blob snapshot, which the restore's hold names. */
  targetBlobUrl: z.string().min(1),
  targetSnapshot: z.string().min(1),
  /** The restore request as accepted (JSON of the API's body, defaults filled in). */
  request: z.string().min(2),
  /** Who asked: the caller's principal as the front end reports it, or the name the client gave. */
  requestedBy: z.string().min(1),
  requestedAt: z.string().min(1),
  updatedAt: z.string().min(1),
  /** The DrillRun this restore serves (its restoreId is the drillId); its disk is tagged as that drill's. */
  drillId: optionalString,
};

/**
 * A restore from a RestorePoint, tracked through the `restores` queue: accepted (checked and recorded) → creating
 * (the disk import was sent; `sourceUri` is what it reads) → succeeded (the disk exists) or failed (with its error).
 */
export const restoreRecordSchema = z.discriminatedUnion("state", [
  z.object({ ...restoreIdentity, state: z.literal("accepted") }),
  z.object({ ...restoreIdentity, state: z.literal("creating"), sourceUri: z.string().min(1), createOption: z.enum(restoreCreateOptions), startedAt: z.string().min(1) }),
  z.object({
    ...restoreIdentity,
    state: z.literal("succeeded"),
    sourceUri: z.string().min(1),
    createOption: z.enum(restoreCreateOptions),
    startedAt: z.string().min(1),
    uniqueId: z.string().min(1),
    sizeBytes: count,
    endedAt: z.string().min(1),
  }),
  z.object({ ...restoreIdentity, state: z.literal("failed"), error: z.string().min(1), endedAt: z.string().min(1), startedAt: optionalString }),
]);
export type RestoreRecord = z.output<typeof restoreRecordSchema>;
export const restoreStates = ["accepted", "creating", "succeeded", "failed"] as const;

/** What every DrillRun carries: which RestorePoint, which drill disk, why it ran and when it was asked for. */
const drillIdentity = {
  diskKey: z.string().min(1),
  /** Also the id of the tracked restore that creates the drill disk. */
  drillId: z.string().min(1),
  restorePointId: z.string().min(1),
  /** ARM id of the drill disk (`drill-<disk name>-<drillId>` in the drill resource group). */
  drillDiskId: z.string().min(1),
  /** The RestorePoint's data, which the drill's hold names while it runs. */
  targetBlobUrl: z.string().min(1),
  targetSnapshot: z.string().min(1),
  /** Bytes of the disk the RestorePoint holds: what is compared. */
  diskBytes: count,
  trigger: z.enum(["schedule", "manual"]),
  requestedAt: z.string().min(1),
  updatedAt: z.string().min(1),
  /** Set when the drill is one disk's part of a VM drill: that VM's key; the VM drill's id is this drillId. */
  vmKey: optionalString,
};

/** What the compare is against: the block checksums recorded at backup time, or the blob snapshot itself. */
export const drillBases = ["recorded-checksums", "blob-snapshot"] as const;

const drillCompare = {
  /** When the disk service reported the drill disk Succeeded (usable). */
  diskUsableAt: z.string().min(1),
  basis: z.enum(drillBases),
  /** Disk bytes compared so far: the next window starts here. */
  cursor: count,
  bytesRead: count,
};

/**
 * A DR drill of one ProtectedDisk: restoring (its tracked restore creates the drill disk) → verifying (window by
 * window, `cursor` the progress) → succeeded (equal, with the measured RTO) or failed (with its error, and the first
 * differing block when the content differs). The drill disk is deleted after the record ends, either way.
 */
export const drillRunSchema = z.discriminatedUnion("state", [
  z.object({ ...drillIdentity, state: z.literal("restoring") }),
  z.object({ ...drillIdentity, ...drillCompare, state: z.literal("verifying") }),
  z.object({
    ...drillIdentity,
    ...drillCompare,
    state: z.literal("succeeded"),
    verifiedAt: z.string().min(1),
    /** Requested → disk usable, and requested → verified, in seconds. */
    usableSeconds: z.number().min(0),
    rtoSeconds: z.number().min(0),
    endedAt: z.string().min(1),
  }),
  z.object({
    ...drillIdentity,
    state: z.literal("failed"),
    error: z.string().min(1),
    /** Byte offset of the first block whose content differs, when the compare found one. */
    firstDifferingByte: count.optional(),
    endedAt: z.string().min(1),
  }),
]);
export type DrillRun = z.output<typeof drillRunSchema>;
export const drillStates = ["restoring", "verifying", "succeeded", "failed"] as const;

/** What every VM drill carries: which VM set, which RestorePoint group, which disks, why and when. */
const vmDrillIdentity = {
  vmKey: z.string().min(1),
  /** Also the drillId of every member's DrillRun (one per disk, each in its disk's partition). */
  vmDrillId: z.string().min(1),
  vmId: z.string().min(1),
  /** The RestorePoint group drilled: every member's RestorePoint of this groupTime. */
  groupTime: z.string().min(1),
  /** The drilled disks' diskKeys, OS disk first, comma-separated (a table column holds no list). */
  diskKeys: z.string().regex(/^[^,]+(,[^,]+)*$/, "must be diskKeys separated by commas"),
  trigger: z.enum(["schedule", "manual"]),
  requestedAt: z.string().min(1),
  updatedAt: z.string().min(1),
};

/**
 * A DR drill of a VM's disk set: running (each member's DrillRun restores and compares its disk) → succeeded (every
 * disk compared equal; the RTO is the slowest disk's) or failed (naming each disk that failed, and the first
 * differing block of the first). Recorded once, when every member's DrillRun has ended.
 */
export const vmDrillRunSchema = z.discriminatedUnion("state", [
  z.object({ ...vmDrillIdentity, state: z.literal("running") }),
  z.object({
    ...vmDrillIdentity,
    state: z.literal("succeeded"),
    /** Requested → every disk usable, and requested → every disk verified, in seconds: the slowest disk's. */
    usableSeconds: z.number().min(0),
    rtoSeconds: z.number().min(0),
    slowestDiskKey: z.string().min(1),
    endedAt: z.string().min(1),
  }),
  z.object({
    ...vmDrillIdentity,
    state: z.literal("failed"),
    error: z.string().min(1),
    /** The first disk (in set order) whose drill failed, and its first differing block's offset when it found one. */
    failedDiskKey: z.string().min(1),
    firstDifferingByte: count.optional(),
    endedAt: z.string().min(1),
  }),
]);
export type VmDrillRun = z.output<typeof vmDrillRunSchema>;

/** What a verification compares a RestorePoint with: its SourceSnapshot, or the checksums recorded when that existed. */
export const verifyBases = ["source-snapshot", "recorded-checksums"] as const;

/** A verification's id, as its caller chooses it (a UUID does). */
export const verificationIdSchema = z.string().regex(/^[A-Za-z0-9-]{8,64}$/, "must be 8–64 letters, digits or dashes");

/** What every Verification carries: which RestorePoint, under which id its caller follows it, and when. */
const verificationIdentity = {
  diskKey: z.string().min(1),
  /** Chosen by the caller (the CLI), so it can follow the verification while its request runs. */
  verificationId: verificationIdSchema,
  restorePointId: z.string().min(1),
  startedAt: z.string().min(1),
  updatedAt: z.string().min(1),
};

/**
 * How far a verification is: first the allocated ranges of both sides are listed (`bytesListed` of `bytesToList`,
 * the blobs' sizes), then the blocks holding data are read and hashed (`bytesCompared` of `bytesToCompare`, known
 * once the listing ended; 0 until then).
 */
const verificationProgress = {
  phase: z.enum(["listing", "reading"]),
  bytesListed: count,
  bytesToList: count,
  bytesCompared: count,
  bytesToCompare: count,
};

/**
 * One verification of a RestorePoint asked for over HTTP with a verificationId (table diskdeltaVerifications):
 * running (with its progress) → finished (its result: `equal`, digests, `mismatches` as "start-end" byte ranges
 * separated by commas) or failed (its error). Written only by the request that runs it; for people following it.
 */
export const verificationSchema = z.discriminatedUnion("state", [
  z.object({ ...verificationIdentity, ...verificationProgress, state: z.literal("running") }),
  z.object({
    ...verificationIdentity,
    state: z.literal("finished"),
    endedAt: z.string().min(1),
    basis: z.enum(verifyBases),
    equal: z.boolean(),
    sourceDigest: z.string(),
    targetDigest: z.string(),
    bytesRead: count,
    mismatches: z.string().regex(/^(\d+-\d+(,\d+-\d+)*)?$/, "must be start-end byte ranges separated by commas"),
  }),
  z.object({ ...verificationIdentity, state: z.literal("failed"), endedAt: z.string().min(1), error: z.string().min(1) }),
]);
export type Verification = z.output<typeof verificationSchema>;
