/**
 * The structure check a RestorePoint must pass before it is recorded: its blob snapshot allocates exactly the pages
 * its SourceSnapshot allocates. Metadata only — page range listings of both sides, window by window, each paged to
 * completion — so it costs requests in proportion to the disk's fragmentation, never reads of its data.
 */
import { type StructureDifference, clip, firstStructureDifference } from "../domain/ranges";
import type { Deps, TargetBlob } from "./deps";
import { rangeQueryWindowBytes } from "../domain/limits";

/** What the check compares: a SourceSnapshot (through a read SAS) and a blob snapshot of the TargetBlob. */
export interface StructureCheck {
  readonly sourceSasUrl: string;
  readonly target: TargetBlob;
  readonly targetSnapshot: string;
  readonly blobBytes: number;
}

/**
 * The first range allocated on one side only, or undefined when the structures are equal. Both lengths must be the
 * run's too: a blob of another size is different wherever the shorter one ends.
 */
export async function findStructureMismatch(deps: Deps, check: StructureCheck): Promise<StructureDifference | undefined> {
  const [sourceBytes, targetBytes] = await Promise.all([deps.source.contentLength(check.sourceSasUrl), check.target.snapshotBytes(check.targetSnapshot)]);
  if (sourceBytes !== check.blobBytes || targetBytes !== check.blobBytes) {
    const shorter = Math.min(sourceBytes, targetBytes, check.blobBytes);
    const longer = Math.max(sourceBytes, targetBytes, check.blobBytes);
    return { range: { start: shorter, end: longer }, allocatedIn: targetBytes > sourceBytes ? "target" : "source" };
  }
  for (let start = 0; start < check.blobBytes; start += rangeQueryWindowBytes) {
    const window = { start, end: Math.min(start + rangeQueryWindowBytes, check.blobBytes) };
    const [source, target] = await Promise.all([
      deps.source.allocated(check.sourceSasUrl, window),
      check.target.snapshotRanges(check.targetSnapshot, window),
    ]);
    const difference = firstStructureDifference(clip(source, window), clip(target, window));
    if (difference) return difference;
  }
  return undefined;
}
