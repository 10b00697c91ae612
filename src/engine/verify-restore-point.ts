/** Checks a RestorePoint byte for byte against its SourceSnapshot (while that snapshot exists). */
import { locationFromUrl } from "../adapters/target-blob";
import { PermanentError } from "../domain/errors";
import type { RestorePoint } from "../domain/records";
import type { Deps } from "./deps";
import { type SparseBlob, type VerifyResult, compareBlobs } from "./verify";

export async function verifyRestorePoint(deps: Deps, point: RestorePoint): Promise<VerifyResult> {
  const snapshot = await deps.compute.getSnapshot(point.sourceSnapshotId);
  if (!snapshot) {
    throw new PermanentError("SourceSnapshotGone", `source snapshot ${point.sourceSnapshotId} no longer exists; nothing to compare with`);
  }
  const sas = await deps.compute.grantRead(point.sourceSnapshotId, deps.settings.DISKDELTA_SAS_DURATION_SECONDS);
  try {
    const source: SparseBlob = {
      sizeBytes: await deps.source.contentLength(sas),
      allocated: (window) => deps.source.allocated(sas, window),
      read: (range) => deps.source.read(sas, range),
    };
    const target = deps.targets(locationFromUrl(point.targetBlobUrl));
    const targetBlob: SparseBlob = {
      sizeBytes: point.blobBytes,
      allocated: (window) => target.snapshotRanges(point.targetSnapshot, window),
      read: (range) => target.readSnapshot(point.targetSnapshot, range),
    };
    return await compareBlobs(source, targetBlob);
  } finally {
    await deps.compute.revokeAccess(point.sourceSnapshotId).catch(() => undefined);
  }
}
