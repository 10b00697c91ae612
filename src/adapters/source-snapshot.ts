/**
 * Reads a SourceSnapshot through its read SAS (the managed-disk data endpoint).
 * Contract: every call is a read and safe to repeat. A 403 means the SAS expired or was revoked: callers re-grant
 * and retry once (see `withFreshAccess`). 404 means the snapshot is gone: permanent. The SDK retries 5xx/429/resets.
 */
import { AnonymousCredential, PageBlobClient, type StoragePipelineOptions } from "@azure/storage-blob";
import { type ByteRange, fromSdkRange, lengthOf } from "../domain/ranges";

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
      const answer = await client(sasUrl).getPageRangesDiffForManagedDisks(window.start, lengthOf(window), baseSasUrl);
      return { changed: (answer.pageRange ?? []).map(fromSdkRange), cleared: (answer.clearRange ?? []).map(fromSdkRange) };
    },
    async allocated(sasUrl, window) {
      const answer = await client(sasUrl).getPageRanges(window.start, lengthOf(window));
      return (answer.pageRange ?? []).map(fromSdkRange);
    },
    async read(sasUrl, range) {
      const buffer = Buffer.alloc(lengthOf(range));
      await client(sasUrl).downloadToBuffer(buffer, range.start, lengthOf(range), { maxRetryRequestsPerBlock: 5 });
      return buffer;
    },
  };
}
