/**
 * Reads a SourceSnapshot through its read SAS (the managed-disk data endpoint).
 * Contract: every call is a read and safe to repeat. A 403 means the SAS expired or was revoked: callers re-grant
 * and retry once (see `withFreshAccess`). 404 means the snapshot is gone: permanent. The SDK retries 5xx/429/resets.
 * Range listings are complete or fail: the service answers at most 10,000 ranges at a time and says so with a
 * continuation marker, which is followed (plain listings) or answered by asking again from the last range listed
 * (the managed-disk diff, whose SDK call takes no marker). A partial answer is never taken as the whole.
 */
import { AnonymousCredential, PageBlobClient, type StoragePipelineOptions } from "@azure/storage-blob";
import { type ByteRange, fromSdkRange, lengthOf } from "../domain/ranges";

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
      return properties.contentLength ?? 0;
    },
    async diff(sasUrl, baseSasUrl, window) {
      const changed: ByteRange[] = [];
      const cleared: ByteRange[] = [];
      for (let start = window.start; start < window.end; ) {
        const answer = await client(sasUrl).getPageRangesDiffForManagedDisks(start, window.end - start, baseSasUrl);
        const pages = (answer.pageRange ?? []).map(fromSdkRange);
        const clears = (answer.clearRange ?? []).map(fromSdkRange);
        changed.push(...pages);
        cleared.push(...clears);
        if (!continuationOf(answer)) break;
        const listedUpTo = Math.max(start, ...pages.map((r) => r.end), ...clears.map((r) => r.end));
        if (listedUpTo <= start) throw new IncompleteRangeListError({ start, end: window.end });
        start = listedUpTo;
      }
      return { changed, cleared };
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
