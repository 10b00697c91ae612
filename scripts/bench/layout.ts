/**
 * Where the bench writes on its emulated disks: deterministic, page-aligned, non-touching extents spread over the
 * disk, each written with its own seed, so that every reference (plain Put Page, the sample's algorithm) can move
 * exactly the same bytes as diskdelta and the minimum request count is known in advance.
 */
import { type ByteRange, MAX_PAGE_WRITE_BYTES, PAGE_BYTES, chunk, minimumRequests, totalBytes } from "../../src/domain/ranges";

/** One write of a layout: [start, end) filled with seeded content. */
export interface SeededExtent extends ByteRange {
  readonly seed: number;
}

/** What to lay out. Lengths are drawn log-uniformly between `minBytes` and `maxBytes`. */
export interface LayoutSpec {
  readonly diskBytes: number;
  /** Keep adding extents until their total reaches this. */
  readonly totalBytes?: number;
  /** Or: exactly this many extents. */
  readonly count?: number;
  readonly minBytes: number;
  readonly maxBytes: number;
  /** Varies the placement and the content. */
  readonly seed: number;
}

/** xorshift32: deterministic placement for a given seed, no dependency. */
function random(seed: number): () => number {
  let state = seed >>> 0 || 0x2545f491;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 0x100000000;
  };
}

const pages = (bytes: number) => Math.floor(bytes / PAGE_BYTES);

/** Extents in offset order, at least one page apart, so that none coalesce with another. */
export function layOut(spec: LayoutSpec): SeededExtent[] {
  const next = random(spec.seed);
  const lengths: number[] = [];
  let sum = 0;
  const logMin = Math.log(spec.minBytes);
  const logMax = Math.log(spec.maxBytes);
  while (spec.count !== undefined ? lengths.length < spec.count : sum < (spec.totalBytes ?? 0)) {
    const length = Math.max(1, pages(Math.exp(logMin + next() * (logMax - logMin)))) * PAGE_BYTES;
    lengths.push(length);
    sum += length;
  }
  const freePages = pages(spec.diskBytes) - pages(sum) - lengths.length;
  if (freePages < 0) throw new Error(`layout of ${sum} bytes in ${lengths.length} extents does not fit a ${spec.diskBytes}-byte disk`);
  const weights = lengths.map(() => next());
  const weightSum = weights.reduce((a, b) => a + b, 0) + next();
  const extents: SeededExtent[] = [];
  let cursor = 0;
  lengths.forEach((length, i) => {
    const start = cursor + (i === 0 ? 0 : PAGE_BYTES) + Math.floor((freePages * weights[i]) / weightSum) * PAGE_BYTES;
    extents.push({ start, end: start + length, seed: spec.seed * 1_000_003 + i });
    cursor = start + length;
  });
  return extents;
}

/** The 4 MiB-bounded requests that carry `extents`, each with the seed of its bytes. */
export function requestsFor(extents: readonly SeededExtent[]): SeededExtent[] {
  return extents.flatMap((extent) => chunk(extent, MAX_PAGE_WRITE_BYTES).map((piece) => ({ ...piece, seed: extent.seed })));
}

/** Bytes and fewest requests of a layout (its extents never touch, so each is one coalesced range). */
export function sizeOf(extents: readonly ByteRange[]): { bytes: number; ranges: number; minimumRequests: number } {
  return { bytes: totalBytes(extents), ranges: extents.length, minimumRequests: minimumRequests(extents) };
}
