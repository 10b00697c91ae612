/**
 * What the counting sink (sink.ts) knows about the page blobs written through it: the pages each one holds, the
 * pages each of its blob snapshots held when it was taken, its size and the id of its lease. The sink answers page
 * writes and page range listings from this state, so the engine's structure check compares the SourceSnapshot with
 * what was really written. Everything else about a blob (metadata, properties, the lease itself) lives in the real
 * target the sink forwards to; this state only follows that target's successful answers.
 */
import { type ByteRange, clip, coalesce } from "../../src/domain/ranges";

/**
 * The allocated pages of one blob. Writes are appended and merged when the set is read (a listing, a blob
 * snapshot, a clear, a resize), so 200,000 writes cost one sort, not 200,000 array rewrites — the cost that makes
 * Azurite too slow for the scale scenario.
 */
export class PageSet {
  private merged: readonly ByteRange[] = [];
  private pending: ByteRange[] = [];

  write(range: ByteRange): void {
    this.pending.push(range);
  }

  /** Coalesced, in offset order; the array returned never changes afterwards, so a blob snapshot can keep it. */
  ranges(): readonly ByteRange[] {
    if (this.pending.length > 0) {
      this.merged = coalesce([...this.merged, ...this.pending]);
      this.pending = [];
    }
    return this.merged;
  }

  clear(range: ByteRange): void {
    this.merged = this.ranges().flatMap((r) => {
      if (r.end <= range.start || r.start >= range.end) return [r];
      return [{ start: r.start, end: range.start }, { start: range.end, end: r.end }].filter((part) => part.end > part.start);
    });
  }

  truncate(sizeBytes: number): void {
    this.merged = clip(this.ranges(), { start: 0, end: sizeBytes });
  }
}

/** A blob snapshot: the blob's pages and size when it was taken. */
export interface SinkSnapshot {
  readonly ranges: readonly ByteRange[];
  readonly sizeBytes: number;
}

/** One page blob as the sink sees it. */
export interface SinkBlob {
  sizeBytes: number;
  readonly pages: PageSet;
  /** The active lease's id, as the target granted it; undefined when the blob is not leased. */
  leaseId?: string;
  readonly snapshots: Map<string, SinkSnapshot>;
}

export function newBlob(sizeBytes: number, previous?: SinkBlob): SinkBlob {
  // Overwriting a blob keeps its snapshots and its lease (the target refused the overwrite if the lease was not given).
  return { sizeBytes, pages: new PageSet(), leaseId: previous?.leaseId, snapshots: previous?.snapshots ?? new Map() };
}

/** A refusal as the service words it. */
export interface Refusal {
  readonly status: number;
  readonly code: string;
  readonly message: string;
}

/**
 * The service's lease rule for a write (https://learn.microsoft.com/rest/api/storageservices/lease-blob): on a
 * leased blob the write must carry the active lease's id; on a blob without a lease it must carry none.
 */
export function leaseRefusal(blob: SinkBlob, requestLeaseId: string | undefined): Refusal | undefined {
  if (blob.leaseId === undefined) {
    return requestLeaseId === undefined
      ? undefined
      : { status: 412, code: "LeaseNotPresentWithBlobOperation", message: "There is currently no lease on the blob." };
  }
  if (requestLeaseId === undefined) {
    return { status: 412, code: "LeaseIdMissing", message: "There is currently a lease on the blob and no lease ID was specified in the request." };
  }
  if (requestLeaseId.toLowerCase() !== blob.leaseId.toLowerCase()) {
    return { status: 412, code: "LeaseIdMismatchWithBlobOperation", message: "The lease ID specified did not match the lease ID for the blob." };
  }
  return undefined;
}

/**
 * The lease after a successful Lease Blob answer. A break ends the lease at once here: the engine breaks with a
 * period of 0, and a break with a longer period is not something the bench does.
 */
export function leaseAfter(action: string, current: string | undefined, proposed: string | undefined, answered: string | undefined): string | undefined {
  if (action === "acquire" || action === "change") return answered ?? proposed;
  if (action === "renew") return current;
  return undefined;
}
