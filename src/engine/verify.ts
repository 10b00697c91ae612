/**
 * Verifying a RestorePoint against its SourceSnapshot without reading terabytes of zeros: each side is hashed as a
 * list of (block index, SHA-256) for every 4 MiB block that holds a non-zero byte, found through its allocated page
 * ranges. Equal content gives equal digests whatever the allocation; a mismatch is narrowed to the blocks that differ.
 */
import { createHash } from "node:crypto";
import { rangeQueryWindowBytes, verifyBlockBytes } from "../domain/limits";
import { type ByteRange, coalesce } from "../domain/ranges";


/** A sparse, readable blob: a snapshot behind a SAS, or a blob snapshot of the TargetBlob. */
export interface SparseBlob {
  readonly sizeBytes: number;
  allocated(window: ByteRange): Promise<ByteRange[]>;
  read(range: ByteRange): Promise<Buffer>;
}

/** The content digest of a sparse blob, and its per-block hashes for locating differences. */
export interface SparseDigest {
  readonly sizeBytes: number;
  readonly digest: string;
  readonly blocks: ReadonlyMap<number, string>;
  readonly bytesRead: number;
}

/**
 * How far a digest is: `bytesListed` of the blob's `sizeBytes` had their allocated ranges listed; once `listed`,
 * `bytesToRead` is what its blocks holding data add up to, `bytesRead` of it read and hashed.
 */
export interface DigestProgress {
  readonly sizeBytes: number;
  readonly bytesListed: number;
  readonly listed: boolean;
  readonly bytesToRead: number;
  readonly bytesRead: number;
}

/** The outcome of comparing two blobs. */
export interface VerifyResult {
  readonly equal: boolean;
  readonly sourceDigest: string;
  readonly targetDigest: string;
  /** The first differing ranges (4 MiB blocks), at most 10. */
  readonly mismatches: ByteRange[];
  readonly bytesRead: number;
}

/**
 * The digest of a sparse blob, or of the blocks of `within` alone (whole blocks: a window a drill compares, its
 * bounds multiples of the block size); `digest` then covers those blocks only. `progress` hears after each listed
 * window and each block read.
 */
export async function sparseDigest(
  blob: SparseBlob, concurrency = 4, within: ByteRange = { start: 0, end: blob.sizeBytes }, progress?: (digest: DigestProgress) => void,
): Promise<SparseDigest> {
  const sizeBytes = within.end - within.start;
  const blockIndexes = new Set<number>();
  for (let start = within.start; start < within.end; start += rangeQueryWindowBytes) {
    const window = { start, end: Math.min(start + rangeQueryWindowBytes, within.end) };
    for (const range of coalesce(await blob.allocated(window))) {
      const first = Math.floor(range.start / verifyBlockBytes);
      const last = Math.floor((range.end - 1) / verifyBlockBytes);
      for (let block = first; block <= last; block++) blockIndexes.add(block);
    }
    progress?.({ sizeBytes, bytesListed: window.end - within.start, listed: false, bytesToRead: 0, bytesRead: 0 });
  }
  const ordered = [...blockIndexes].sort((a, b) => a - b);
  const blockRange = (block: number): ByteRange => ({ start: block * verifyBlockBytes, end: Math.min((block + 1) * verifyBlockBytes, blob.sizeBytes) });
  const bytesToRead = ordered.reduce((sum, block) => sum + blockRange(block).end - blockRange(block).start, 0);
  const blocks = new Map<number, string>();
  let bytesRead = 0;
  const report = () => progress?.({ sizeBytes, bytesListed: sizeBytes, listed: true, bytesToRead, bytesRead });
  report();
  let next = 0;
  const worker = async () => {
    while (next < ordered.length) {
      const block = ordered[next++];
      const data = await blob.read(blockRange(block));
      bytesRead += data.length;
      if (data.some((byte) => byte !== 0)) blocks.set(block, createHash("sha256").update(data).digest("hex"));
      report();
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, ordered.length) }, worker));
  return { sizeBytes: blob.sizeBytes, digest: digestOf(blob.sizeBytes, blocks), blocks, bytesRead };
}

/** The digest of a blob's size and its non-zero blocks' hashes: what two equal blobs share. */
export function digestOf(sizeBytes: number, blocks: ReadonlyMap<number, string>): string {
  const digest = createHash("sha256").update(`size:${sizeBytes}\n`);
  for (const block of [...blocks.keys()].sort((a, b) => a - b)) digest.update(`${block}:${blocks.get(block)}\n`);
  return digest.digest("hex");
}

export async function compareBlobs(source: SparseBlob, target: SparseBlob): Promise<VerifyResult> {
  const [a, b] = await Promise.all([sparseDigest(source), sparseDigest(target)]);
  return compareDigests(a, b);
}

/** Compares two digests; where they differ, names the first differing blocks. */
export function compareDigests(a: SparseDigest, b: SparseDigest): VerifyResult {
  const mismatches: ByteRange[] = [];
  if (a.digest !== b.digest) {
    const indexes = [...new Set([...a.blocks.keys(), ...b.blocks.keys()])].sort((x, y) => x - y);
    for (const block of indexes) {
      if (a.blocks.get(block) !== b.blocks.get(block)) {
        mismatches.push({ start: block * verifyBlockBytes, end: Math.min((block + 1) * verifyBlockBytes, Math.max(a.sizeBytes, b.sizeBytes)) });
        if (mismatches.length >= 10) break;
      }
    }
    if (mismatches.length === 0 && a.sizeBytes !== b.sizeBytes) {
      mismatches.push({ start: Math.min(a.sizeBytes, b.sizeBytes), end: Math.max(a.sizeBytes, b.sizeBytes) });
    }
  }
  return { equal: a.digest === b.digest, sourceDigest: a.digest, targetDigest: b.digest, mismatches, bytesRead: a.bytesRead + b.bytesRead };
}
