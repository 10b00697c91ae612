/**
 * Reads a SourceSnapshot through its read SAS (the managed-disk data endpoint).
 * Contract: every call is a read and safe to repeat. A 403 means the SAS expired or was revoked: callers re-grant
 * and retry once (see `withFreshAccess`). 404 means the snapshot is gone: permanent. The SDK retries 5xx/429/resets.
 * Range listings are complete or fail: the service answers at most 10,000 ranges at a time and says so with a
 * continuation marker, which is followed (plain listings) or answered by asking again from the last range listed
 * (the managed-disk diff, whose SDK call takes no marker). A partial answer is never taken as the whole.
 */
import { AnonymousCredential, PageBlobClient, type StoragePipelineOptions } from "@azure/storage-blob";
import { type ByteRange, MiB, coalesce, fromSdkRange, lengthOf } from "../domain/ranges";

/** An incomplete answer that listed nothing is asked again for half the window, down to this. */
const minNarrowBytes = MiB;

/** The answer was marked incomplete but listed nothing to continue from: retried, never taken as complete. */
export class IncompleteRangeListError extends Error {
  constructor(window: ByteRange) {
    super(`the service marked its page range answer for bytes ${window.start}-${window.end} incomplete without listing a range; asking again later`);
    this.name = "IncompleteRangeListError";
  }
}

/** The answer's NextMarker: present at run time although the SDK's public type of this answer leaves it out. */
function continuationOf(answer: object): string | undefined {
  return (answer as { continuationToken?: string }).continuationToken || undefined;
}

/** Collects every range of a paged Get Page Ranges answer (SDK `byPage()`: inclusive ends, marker followed). */
export async function allPages(pages: AsyncIterable<{ pageRange?: { start: number; end: number }[] }>): Promise<ByteRange[]> {
  const ranges: ByteRange[] = [];
  for await (const page of pages) for (const range of page.pageRange ?? []) ranges.push({ start: range.start, end: range.end + 1 });
  return ranges;
}

/** ChangedRanges and ClearedRanges of one window, half-open. */
export interface RangeDiff {
  readonly changed: ByteRange[];
  readonly cleared: ByteRange[];
}

/** Data-plane reads of a managed-disk snapshot. */
export interface SourceSnapshotReader {
  /** Content length of the snapshot blob: the disk size plus the 512-byte VHD footer. */
  contentLength(sasUrl: string): Promise<number>;
  /** Pages written (changed) and trimmed (cleared) since `baseSasUrl`'s snapshot, within `window`. */
  diff(sasUrl: string, baseSasUrl: string, window: ByteRange): Promise<RangeDiff>;
  /** Allocated pages within `window`. */
  allocated(sasUrl: string, window: ByteRange): Promise<ByteRange[]>;
  /** The bytes of `range`. */
  read(sasUrl: string, range: ByteRange): Promise<Buffer>;
}

/** Retries for data-plane calls: exponential, a handful of tries, then the queue's redelivery takes over. */
export const dataPlaneRetry: StoragePipelineOptions = {
  retryOptions: { maxTries: 6, retryDelayInMs: 200, maxRetryDelayInMs: 10_000, tryTimeoutInMs: 120_000 },
};

export function createSourceSnapshotReader(pipeline: StoragePipelineOptions = dataPlaneRetry): SourceSnapshotReader {
  const client = (sasUrl: string) => new PageBlobClient(sasUrl, new AnonymousCredential(), pipeline);
  return {
    async contentLength(sasUrl) {
      const properties = await client(sasUrl).getProperties();
      const length = properties.contentLength;
      // A length decides how much is copied and checked: one that is missing or not whole pages is never guessed at.
      if (length === undefined || length <= 0 || length % 512 !== 0) {
        throw new Error(`the snapshot's data endpoint answered a content length of ${String(length)}, not a whole number of 512-byte pages; retrying`);
      }
      return length;
    },
    async diff(sasUrl, baseSasUrl, window) {
      const changed: ByteRange[] = [];
      const cleared: ByteRange[] = [];
      let narrowTo = lengthOf(window);
      for (let start = window.start; start < window.end; ) {
        const end = Math.min(window.end, start + narrowTo);
        const answer = await client(sasUrl).getPageRangesDiffForManagedDisks(start, end - start, baseSasUrl);
        const pages = (answer.pageRange ?? []).map(fromSdkRange);
        const clears = (answer.clearRange ?? []).map(fromSdkRange);
        changed.push(...pages);
        cleared.push(...clears);
        if (!continuationOf(answer)) {
          start = end;
          continue;
        }
        // Incomplete. Continue after what both lists are known complete up to (the service may cut each list on its
        // own; ranges listed twice are merged below). An answer that listed nothing is asked again, narrower.
        const lastEnd = (ranges: ByteRange[]) => (ranges.length ? ranges[ranges.length - 1].end : undefined);
        const ends = [lastEnd(pages), lastEnd(clears)].filter((e): e is number => e !== undefined);
        if (ends.length === 0) {
          if (end - start <= minNarrowBytes) throw new IncompleteRangeListError({ start, end });
          narrowTo = Math.max(minNarrowBytes, Math.floor((end - start) / 2 / 512) * 512);
          continue;
        }
        start = Math.max(start + 512, Math.min(...ends));
      }
      return { changed: coalesce(changed), cleared: coalesce(cleared) };
    },
    allocated(sasUrl, window) {
      return allPages(client(sasUrl).listPageRanges(window.start, lengthOf(window)).byPage());
    },
    async read(sasUrl, range) {
      const buffer = Buffer.alloc(lengthOf(range));
      await client(sasUrl).downloadToBuffer(buffer, range.start, lengthOf(range), { maxRetryRequestsPerBlock: 5 });
      return buffer;
    },
  };
}
