/**
 * Verifying a RestorePoint: against its SourceSnapshot while that exists (and then its checksums are kept beside the
 * TargetBlob), otherwise against the checksums recorded then. Either way the RestorePoint's data is read in full.
 */
import { z } from "zod";
import { locationFromUrl } from "../domain/target-location";
import { ConcurrencyError, PermanentError, describeError } from "../domain/errors";
import type { VerifyMessage } from "../domain/messages";
import { type BlobRestorePoint, type RestorePoint, type Verification, unprovenTargetEtag } from "../domain/records";
import type { Deps, Log, TargetBlob } from "./deps";
import { createProgressWriter } from "./progress";
import { updateState } from "./runs";
import { type DigestProgress, type SparseBlob, type SparseDigest, type VerifyResult, compareDigests, digestOf, sparseDigest } from "./verify";
import { verifyBlockBytes } from "../domain/limits";
import { PAGE_BYTES } from "../domain/ranges";

/** What a verification compared against. */
export type VerifyBasis = "source-snapshot" | "recorded-checksums";

export interface VerifyOutcome extends VerifyResult {
  readonly basis: VerifyBasis;
}

/**
 * How far a verification is, every blob it digests together: their allocated ranges are listed (`bytesListed` of
 * `bytesToList`), then their blocks holding data read and hashed (`bytesCompared` of `bytesToCompare`, which grows
 * to its final value as each blob's listing ends; `phase` is "reading" once all have).
 */
export interface VerifyProgress {
  readonly phase: "listing" | "reading";
  readonly bytesListed: number;
  readonly bytesToList: number;
  readonly bytesCompared: number;
  readonly bytesToCompare: number;
}

/** Where a verification's progress goes. */
export type VerifyProgressSink = (progress: VerifyProgress) => void;

/** One progress listener per blob digested (in `sizes` order), adding up to the verification's progress for `sink`. */
function progressOf(sizes: readonly number[], sink: VerifyProgressSink | undefined): ((digest: DigestProgress) => void)[] {
  const latest: DigestProgress[] = sizes.map((sizeBytes) => ({ sizeBytes, bytesListed: 0, listed: false, bytesToRead: 0, bytesRead: 0 }));
  const sum = (of: (digest: DigestProgress) => number) => latest.reduce((total, digest) => total + of(digest), 0);
  return sizes.map((_, side) => (digest) => {
    latest[side] = digest;
    sink?.({
      phase: latest.every((d) => d.listed) ? "reading" : "listing",
      bytesListed: sum((d) => d.bytesListed),
      bytesToList: sum((d) => d.sizeBytes),
      bytesCompared: sum((d) => d.bytesRead),
      bytesToCompare: sum((d) => d.bytesToRead),
    });
  });
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

function targetBlobOf(target: TargetBlob, point: BlobRestorePoint): SparseBlob {
  return {
    sizeBytes: point.blobBytes,
    allocated: (window) => target.snapshotRanges(point.targetSnapshot, window),
    read: (range) => target.readSnapshot(point.targetSnapshot, range),
  };
}

/** A snapshot's data through a read SAS of its own (a SourceSnapshot, or a managed RestorePoint's target snapshot). */
async function snapshotDataOf(deps: Deps, snapshotId: string): Promise<SparseBlob> {
  const sas = await deps.compute.grantRead(snapshotId, deps.settings.DISKDELTA_SAS_DURATION_SECONDS);
  return {
    sizeBytes: await deps.source.contentLength(sas),
    allocated: (window) => deps.source.allocated(sas, window),
    read: (range) => deps.source.read(sas, range),
  };
}

/**
 * Reads a RestorePoint's data, whatever holds it: a blob snapshot of the TargetBlob, or (managed) the target-region
 * snapshot through a read SAS, revoked afterwards.
 */
async function withRestorePointData<T>(deps: Deps, target: TargetBlob, point: RestorePoint, read: (data: SparseBlob) => Promise<T>): Promise<T> {
  if (point.kind === "blob") return read(targetBlobOf(target, point));
  try {
    return await read(await snapshotDataOf(deps, point.targetSnapshotId));
  } finally {
    await deps.compute.revokeAccess(point.targetSnapshotId).catch(() => undefined);
  }
}

/**
 * The content digest of a RestorePoint's data alone (no source needed), whatever holds it; of its disk alone (no VHD
 * footer) when `disk`, to compare with a disk restored from it.
 */
export function restorePointDigest(deps: Deps, point: RestorePoint, part: "vhd" | "disk" = "vhd"): Promise<SparseDigest> {
  const target = deps.targets(locationFromUrl(point.targetBlobUrl));
  return withRestorePointData(deps, target, point, (data) => sparseDigest(part === "disk" ? { ...data, sizeBytes: point.blobBytes - PAGE_BYTES } : data));
}

/** Verifies a RestorePoint (see the module's comment); `progress` hears how far it is as it goes. */
export async function verifyRestorePoint(deps: Deps, point: RestorePoint, progress?: VerifyProgressSink): Promise<VerifyOutcome> {
  const target = deps.targets(locationFromUrl(point.targetBlobUrl));
  const snapshot = await deps.compute.getSnapshot(point.sourceSnapshotId);
  if (!snapshot) return verifyAgainstRecord(deps, target, point, progress);
  try {
    const source = await snapshotDataOf(deps, point.sourceSnapshotId);
    const [ofSource, ofTarget] = progressOf([source.sizeBytes, point.blobBytes], progress);
    const [sourceDigest, targetDigest] = await Promise.all([
      sparseDigest(source, undefined, undefined, ofSource),
      withRestorePointData(deps, target, point, (data) => sparseDigest(data, undefined, undefined, ofTarget)),
    ]);
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

async function verifyAgainstRecord(deps: Deps, target: TargetBlob, point: RestorePoint, progress: VerifyProgressSink | undefined): Promise<VerifyOutcome> {
  const recorded = await recordedDigest(target, point.restorePointId);
  if (recorded === undefined) {
    throw new PermanentError("NothingToCompare", `source snapshot ${point.sourceSnapshotId} no longer exists and no checksums were recorded for RestorePoint ${point.restorePointId}; ${await whyNoChecksums(deps, point)}`);
  }
  const [ofTarget] = progressOf([point.blobBytes], progress);
  const now = await withRestorePointData(deps, target, point, (data) => sparseDigest(data, undefined, undefined, ofTarget));
  return { ...compareDigests(recorded, now), basis: "recorded-checksums" };
}

/** Why a RestorePoint has no recorded checksums: they are kept only by a verification after its backup that found it equal. */
async function whyNoChecksums(deps: Deps, point: RestorePoint): Promise<string> {
  if (point.differsFromSource !== undefined) return `the verification after its backup found it differs from its source (${point.differsFromSource}): it is not the disk`;
  const config = await deps.records.getDisk(point.diskKey).catch(() => undefined);
  if (config?.verifyAfterBackup) return "the verification after its backup did not finish (see the log for \"RestorePoint could not be verified\")";
  return "set verifyAfterBackup on the disk to record them for later RestorePoints";
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

/**
 * Verifies a RestorePoint for a caller that follows it as Verification `verificationId` (GET …/verifications/{id}):
 * recorded running before it starts (a `ConcurrencyError` when that id is taken), its progress written at most every
 * DISKDELTA_PROGRESS_SECONDS, then its result or its error. Only this request writes the record, each write
 * ETag-checked against its last; should someone else have written it, progress stops and the end is not recorded.
 * The outcome is verifyRestorePoint's, whatever happens to the record.
 */
export async function verifyFollowed(deps: Deps, point: RestorePoint, verificationId: string, log: Log): Promise<VerifyOutcome> {
  const startedAt = deps.now().toISOString();
  const identity = { diskKey: point.diskKey, verificationId, restorePointId: point.restorePointId, startedAt, updatedAt: startedAt };
  await deps.records.createVerification({ ...identity, state: "running", phase: "listing", bytesListed: 0, bytesToList: 0, bytesCompared: 0, bytesToCompare: 0 });
  let etag = (await deps.records.getVerification(point.diskKey, verificationId))?.etag;
  /** Writes the record; false once it is not this request's to write. */
  const record = async (verification: Verification): Promise<boolean> => {
    if (etag === undefined) return false;
    try {
      etag = await deps.records.putVerification(verification, etag);
      return true;
    } catch (error) {
      if (error instanceof ConcurrencyError) etag = undefined;
      else log.warn("verification progress not recorded; the verification goes on", { diskKey: point.diskKey, verificationId, error: describeError(error) });
      return etag !== undefined;
    }
  };
  const writer = createProgressWriter<VerifyProgress>(deps.settings.DISKDELTA_PROGRESS_SECONDS * 1000, (progress) =>
    record({ ...identity, ...progress, state: "running", updatedAt: deps.now().toISOString() }),
  );
  let outcome: VerifyOutcome;
  try {
    outcome = await verifyRestorePoint(deps, point, (progress) => writer.offer(progress));
  } catch (error) {
    await writer.stop();
    const endedAt = deps.now().toISOString();
    await record({ ...identity, state: "failed", error: describeError(error), endedAt, updatedAt: endedAt });
    throw error;
  }
  await writer.stop();
  const endedAt = deps.now().toISOString();
  const { equal, basis, sourceDigest, targetDigest, bytesRead, mismatches } = outcome;
  const ranges = mismatches.map((range) => `${range.start}-${range.end}`).join(",");
  await record({ ...identity, state: "finished", equal, basis, sourceDigest, targetDigest, bytesRead, mismatches: ranges, endedAt, updatedAt: endedAt });
  return outcome;
}

/** The queued verification after a backup (verifyAfterBackup): a mismatch is an error to alert on, not a retry. */
export async function verifyAfterBackup(deps: Deps, message: VerifyMessage, log: Log): Promise<void> {
  const { diskKey, restorePointId } = message;
  const point = await deps.records.getRestorePoint(diskKey, restorePointId);
  if (!point) return log.warn("verification of an unknown RestorePoint dropped", { diskKey, restorePointId });
  try {
    const result = await verifyRestorePoint(deps, point);
    deps.metrics.record("diskdelta.verify.mismatch", result.equal ? 0 : 1, { diskKey });
    if (result.equal) return log.info("RestorePoint verified", { diskKey, restorePointId, basis: result.basis, bytesRead: result.bytesRead });
    log.error("RestorePoint differs from its source", { diskKey, restorePointId, mismatches: result.mismatches });
    await withdrawProof(deps, point, result, log);
  } catch (error) {
    if (!(error instanceof PermanentError)) throw error;
    log.error("RestorePoint could not be verified", { diskKey, restorePointId, error: describeError(error) });
  }
}

/**
 * A RestorePoint found to differ from its source is marked so (`differsFromSource`, seen wherever RestorePoints are
 * listed), the disk's status says so (`lastError`), and the TargetBlob it was made from is no longer taken to hold
 * the chain base: the next run copies in full (`target-unproven`), whatever the blob's stamp and ETag say.
 */
async function withdrawProof(deps: Deps, point: RestorePoint, result: VerifyResult, log: Log): Promise<void> {
  const { diskKey, restorePointId } = point;
  const ranges = result.mismatches.slice(0, 5).map((range) => `${range.start}-${range.end}`).join(",");
  const more = result.mismatches.length > 5 ? ` and ${result.mismatches.length - 5} more` : "";
  const differsFromSource = `${deps.now().toISOString()}: bytes ${ranges}${more}`;
  await deps.records.flagDiffersFromSource(diskKey, restorePointId, differsFromSource);
  // The disk's chain is withdrawn only when the RestorePoint is of the TargetBlob the disk is protected into now (not
  // a kept one of an earlier protection, nor of a disk no longer protected).
  const config = await deps.records.getDisk(diskKey).catch(() => undefined);
  if (!config || (point.kind === "blob" && deps.targets(config.target).url !== point.targetBlobUrl)) {
    return log.error("RestorePoint marked as differing from its source", { diskKey, restorePointId, nextRun: "unchanged (not the disk's current TargetBlob)" });
  }
  await updateState(deps, diskKey, (state) => ({
    ...state,
    ...(point.kind === "blob" && state.base ? { base: { ...state.base, targetEtag: unprovenTargetEtag } } : {}),
    lastError: `RestorePoint ${restorePointId} differs from its source snapshot (bytes ${ranges}${more}): it is not the disk; ${point.kind === "blob" ? "the next run copies in full" : "Azure's managed copy made it: open a support case"}`,
  }));
  log.error("RestorePoint marked as differing from its source", { diskKey, restorePointId, nextRun: point.kind === "blob" ? "full copy" : "unchanged" });
}
