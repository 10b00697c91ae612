/**
 * Reads a SourceSnapshot through its read SAS (the managed-disk data endpoint).
 * Contract: every call is a read and safe to repeat. A 403 means the SAS expired or was revoked: callers re-grant
 * and retry once (see `withFreshAccess`). 404 means the snapshot is gone: permanent. The SDK retries 5xx/429/resets.
 * Range listings are complete or fail: the service answers at most 10,000 ranges at a time and says so with a
 * continuation marker, which is followed (plain listings) or answered by asking again from the last range listed
 * (the managed-disk diff, whose SDK call takes no marker). A partial answer is never taken as the whole.
 * Bytes read are proven, not trusted: every range is asked for with its MD5 (≤ 4 MiB at a time), and bytes that do
 * not match it are read again (`rangeReadTries`), then refused with `RangeChecksumMismatch` naming the range; an
 * answer without the checksum is refused too.
 */
import { createHash } from "node:crypto";
import { AnonymousCredential, type BlobDownloadResponseParsed, PageBlobClient, type StoragePipelineOptions } from "@azure/storage-blob";
import { maxRangeChecksumBytes, rangeReadTries } from "../domain/limits";
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

/** The bytes read did not match the checksum the service sent with them (corrupted on the way): retried, never written. */
export class RangeChecksumMismatchError extends Error {
  readonly code = "RangeChecksumMismatch";
  constructor(range: ByteRange, tries: number, expected: string, actual: string) {
    super(`bytes ${range.start}-${range.end - 1} of the SourceSnapshot did not match their Content-MD5 in ${tries} reads (service ${expected}, received ${actual}); nothing of them was written; retrying later`);
    this.name = "RangeChecksumMismatchError";
  }
}

/** The service answered a read without the checksum asked for (or a body of the wrong length): nothing proves the bytes. */
export class RangeUnprovenError extends Error {
  readonly code = "RangeUnproven";
  constructor(range: ByteRange, what: string) {
    super(`the read of bytes ${range.start}-${range.end - 1} of the SourceSnapshot answered ${what}; its bytes are not used; retrying later`);
    this.name = "RangeUnprovenError";
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
  /** The bytes of `range`, each ≤ 4 MiB part proven against the MD5 the service sent with it. */
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
      const blob = client(sasUrl);
      const parts: Buffer[] = [];
      for (let start = range.start; start < range.end; start += maxRangeChecksumBytes) {
        parts.push(await readProven(blob, { start, end: Math.min(range.end, start + maxRangeChecksumBytes) }));
      }
      return parts.length === 1 ? parts[0] : Buffer.concat(parts);
    },
  };
}

/** One ≤ 4 MiB range with its Content-MD5, read again while the bytes do not match it. */
async function readProven(blob: PageBlobClient, range: ByteRange): Promise<Buffer> {
  let expected = "";
  let actual = "";
  for (let tries = 1; tries <= rangeReadTries; tries++) {
    // No resumed streams: a resumed read would carry the checksum of its remainder only. The whole range is read again.
    const answer = await blob.download(range.start, lengthOf(range), { rangeGetContentMD5: true, maxRetryRequests: 0 });
    if (!answer.contentMD5 || answer.contentMD5.length !== 16) throw new RangeUnprovenError(range, "without a Content-MD5");
    const bytes = await bodyOf(answer);
    if (bytes.length !== lengthOf(range)) throw new RangeUnprovenError(range, `${bytes.length} bytes instead of ${lengthOf(range)}`);
    expected = Buffer.from(answer.contentMD5).toString("base64");
    actual = createHash("md5").update(bytes).digest("base64");
    if (actual === expected) return bytes;
  }
  throw new RangeChecksumMismatchError(range, rangeReadTries, expected, actual);
}

async function bodyOf(answer: BlobDownloadResponseParsed): Promise<Buffer> {
  const body = answer.readableStreamBody;
  if (!body) throw new Error("the SDK answered a download without a body stream (not Node.js?)");
  const chunks: Buffer[] = [];
  for await (const chunk of body as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}
