/**
 * A sparse map of a disk's written and trimmed byte ranges. Extents are immutable and kept sorted in small
 * chunks; a chunk is replaced, never edited, so `freeze()` shares every chunk with the live map and a snapshot
 * costs one pointer per chunk. Lookups and writes cost O(log n + chunk size), never O(disk size).
 */

/** What an extent holds: trimmed pages, pages derived from a seed, or literal bytes. */
export type ExtentContent =
  | { readonly kind: "clear" }
  | { readonly kind: "seeded"; readonly seed: number }
  /** `data[0]` is the byte at absolute disk offset `origin`, so splitting an extent never copies bytes. */
  | { readonly kind: "bytes"; readonly data: Buffer; readonly origin: number };

/** A byte range [start, end) with the write generation that last touched it. */
export interface Extent {
  readonly start: number;
  readonly end: number;
  /** Strictly increasing per write across the whole emulator, so "written after snapshot S" is `gen > S.gen`. */
  readonly gen: number;
  readonly content: ExtentContent;
}

const chunkTarget = 128;
const chunkMax = 2 * chunkTarget;

export class ExtentMap {
  private constructor(private readonly chunks: Extent[][]) {}

  static empty(): ExtentMap {
    return new ExtentMap([]);
  }

  /** An immutable view of the current state; later writes to this map do not show in it. */
  freeze(): ExtentMap {
    return new ExtentMap(this.chunks.slice());
  }

  get extentCount(): number {
    return this.chunks.reduce((sum, chunk) => sum + chunk.length, 0);
  }

  /** Replaces whatever covered [start, end) with one extent. */
  set(start: number, end: number, gen: number, content: ExtentContent): void {
    const piece: Extent = { start, end, gen, content };
    const chunks = this.chunks;
    if (chunks.length === 0) {
      chunks.push([piece]);
      return;
    }
    const lo = Math.min(this.firstChunkEndingAfter(start), chunks.length - 1);
    const hi = Math.max(this.lastChunkStartingBefore(end), lo);
    const merged = lo === hi ? chunks[lo] : chunks.slice(lo, hi + 1).flat();
    const out: Extent[] = [];
    let i = 0;
    while (i < merged.length && merged[i].end <= start) out.push(merged[i++]);
    let right: Extent | undefined;
    while (i < merged.length && merged[i].start < end) {
      const e = merged[i++];
      if (e.start < start) out.push({ ...e, end: start });
      if (e.end > end) right = { ...e, start: end };
    }
    out.push(piece);
    if (right) out.push(right);
    while (i < merged.length) out.push(merged[i++]);
    chunks.splice(lo, hi - lo + 1, ...rechunk(out));
  }

  /** Extents overlapping [start, end), clipped to it, in offset order. */
  *overlapping(start: number, end: number): Generator<Extent> {
    const chunks = this.chunks;
    for (let c = this.firstChunkEndingAfter(start); c < chunks.length; c++) {
      const chunk = chunks[c];
      for (let i = firstEndingAfter(chunk, start); i < chunk.length; i++) {
        const e = chunk[i];
        if (e.start >= end) return;
        yield e.start >= start && e.end <= end ? e : { ...e, start: Math.max(e.start, start), end: Math.min(e.end, end) };
      }
    }
  }

  private firstChunkEndingAfter(offset: number): number {
    let lo = 0;
    let hi = this.chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const chunk = this.chunks[mid];
      if (chunk[chunk.length - 1].end > offset) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  private lastChunkStartingBefore(offset: number): number {
    let lo = 0;
    let hi = this.chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.chunks[mid][0].start < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo - 1;
  }
}

function firstEndingAfter(chunk: Extent[], offset: number): number {
  let lo = 0;
  let hi = chunk.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (chunk[mid].end > offset) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

function rechunk(extents: Extent[]): Extent[][] {
  if (extents.length <= chunkMax) return [extents];
  const chunks: Extent[][] = [];
  for (let i = 0; i < extents.length; i += chunkTarget) chunks.push(extents.slice(i, i + chunkTarget));
  return chunks;
}
