/**
 * Verifying a RestorePoint: against its SourceSnapshot while that exists (and then its checksums are kept beside the
 * TargetBlob), otherwise against the checksums recorded then. Either way the RestorePoint's data is read in full.
 */
import { z } from "zod";
import { locationFromUrl } from "../domain/target-location";
import { PermanentError, describeError } from "../domain/errors";
import type { VerifyMessage } from "../domain/messages";
import type { RestorePoint } from "../domain/records";
import type { Deps, Log, TargetBlob } from "./deps";
import { type SparseBlob, type SparseDigest, type VerifyResult, compareDigests, digestOf, sparseDigest } from "./verify";
import { verifyBlockBytes } from "../domain/limits";

/** What a verification compared against. */
export type VerifyBasis = "source-snapshot" | "recorded-checksums";

export interface VerifyOutcome extends VerifyResult {
  readonly basis: VerifyBasis;
}

/** The checksums kept beside the TargetBlob: the digest and per-block hashes of a verified RestorePoint. */
const recordedChecksumsSchema = z.object({
  version: z.literal(1),
  restorePointId: z.string(),
  sourceSnapshotId: z.string(),
  verifiedAt: z.string(),
  blockBytes: z.literal(verifyBlockBytes),
  sizeBytes: z.number().int().min(0),
  digest: z.string(),
  blocks: z.array(z.tuple([z.number().int().min(0), z.string()])),
});

function targetBlobOf(target: TargetBlob, point: RestorePoint): SparseBlob {
  return {
    sizeBytes: point.blobBytes,
    allocated: (window) => target.snapshotRanges(point.targetSnapshot, window),
    read: (range) => target.readSnapshot(point.targetSnapshot, range),
  };
}

export async function verifyRestorePoint(deps: Deps, point: RestorePoint): Promise<VerifyOutcome> {
  const target = deps.targets(locationFromUrl(point.targetBlobUrl));
  const snapshot = await deps.compute.getSnapshot(point.sourceSnapshotId);
  if (!snapshot) return verifyAgainstRecord(target, point);
  const sas = await deps.compute.grantRead(point.sourceSnapshotId, deps.settings.DISKDELTA_SAS_DURATION_SECONDS);
  try {
    const source: SparseBlob = {
      sizeBytes: await deps.source.contentLength(sas),
      allocated: (window) => deps.source.allocated(sas, window),
      read: (range) => deps.source.read(sas, range),
    };
    const [sourceDigest, targetDigest] = await Promise.all([sparseDigest(source), sparseDigest(targetBlobOf(target, point))]);
    const result = compareDigests(sourceDigest, targetDigest);
    if (result.equal) await target.writeChecksums(point.restorePointId, toRecord(point, targetDigest, deps.now()));
    return { ...result, basis: "source-snapshot" };
  } finally {
    await deps.compute.revokeAccess(point.sourceSnapshotId).catch(() => undefined);
  }
}

/**
 * The block checksums recorded when the RestorePoint was verified against its SourceSnapshot (verifyAfterBackup),
 * or undefined when none were recorded; unreadable ones are a PermanentError.
 */
export async function recordedDigest(target: TargetBlob, restorePointId: string): Promise<SparseDigest | undefined> {
  const stored = await target.readChecksums(restorePointId);
  if (stored === undefined) return undefined;
  const parsed = recordedChecksumsSchema.safeParse(stored);
  if (!parsed.success) throw new PermanentError("InvalidChecksums", `the recorded checksums of ${restorePointId} are unreadable: ${parsed.error.issues[0]?.message}`);
  // The digest is derived from the recorded block hashes, so a changed record cannot hide behind its old digest.
  const blocks = new Map(parsed.data.blocks);
  return { sizeBytes: parsed.data.sizeBytes, digest: digestOf(parsed.data.sizeBytes, blocks), blocks, bytesRead: 0 };
}

async function verifyAgainstRecord(target: TargetBlob, point: RestorePoint): Promise<VerifyOutcome> {
  const recorded = await recordedDigest(target, point.restorePointId);
  if (recorded === undefined) {
    throw new PermanentError(
      "NothingToCompare",
      `source snapshot ${point.sourceSnapshotId} no longer exists and no checksums were recorded for RestorePoint ${point.restorePointId}; set verifyAfterBackup on the disk to record them`,
    );
  }
  const now = await sparseDigest(targetBlobOf(target, point));
  return { ...compareDigests(recorded, now), basis: "recorded-checksums" };
}

function toRecord(point: RestorePoint, digest: SparseDigest, now: Date): z.output<typeof recordedChecksumsSchema> {
  return {
    version: 1,
    restorePointId: point.restorePointId,
    sourceSnapshotId: point.sourceSnapshotId,
    verifiedAt: now.toISOString(),
    blockBytes: verifyBlockBytes,
    sizeBytes: digest.sizeBytes,
    digest: digest.digest,
    blocks: [...digest.blocks.entries()].sort((a, b) => a[0] - b[0]),
  };
}

/** The queued verification after a backup (verifyAfterBackup): a mismatch is an error to alert on, not a retry. */
export async function verifyAfterBackup(deps: Deps, message: VerifyMessage, log: Log): Promise<void> {
  const { diskKey, restorePointId } = message;
  const point = await deps.records.getRestorePoint(diskKey, restorePointId);
  if (!point) return log.warn("verification of an unknown RestorePoint dropped", { diskKey, restorePointId });
  try {
    const result = await verifyRestorePoint(deps, point);
    deps.metrics.record("diskdelta.verify.mismatch", result.equal ? 0 : 1, { diskKey });
    if (result.equal) log.info("RestorePoint verified", { diskKey, restorePointId, basis: result.basis, bytesRead: result.bytesRead });
    else log.error("RestorePoint differs from its source", { diskKey, restorePointId, mismatches: result.mismatches });
  } catch (error) {
    if (!(error instanceof PermanentError)) throw error;
    log.error("RestorePoint could not be verified", { diskKey, restorePointId, error: describeError(error) });
  }
}
