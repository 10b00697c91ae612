/**
 * Byte-range arithmetic for page blobs. Inside diskdelta every range is half-open, [start, end);
 * the inclusive form of the REST API and the SDK's `count` quirk are converted at the edge (`fromSdkRange`).
 */

export const PAGE_BYTES = 512;
export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;
export const TiB = 1024 * GiB;
/** The most one Put Page / Put Page From URL request may carry. */
export const MAX_PAGE_WRITE_BYTES = 4 * MiB;

/** A half-open byte range [start, end). */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

/**
 * Converts what `getPageRanges*` of `@azure/storage-blob` returns. The service answers inclusive
 * `<Start>0</Start><End>511</End>` and the SDK reports `count = End - Start`, one byte short of the length.
 */
export function fromSdkRange(range: { offset: number; count?: number }): ByteRange {
  return { start: range.offset, end: range.offset + (range.count ?? 0) + 1 };
}

export function lengthOf(range: ByteRange): number {
  return range.end - range.start;
}

export function totalBytes(ranges: readonly ByteRange[]): number {
  return ranges.reduce((sum, range) => sum + lengthOf(range), 0);
}

export function isPageAligned(value: number): boolean {
  return value % PAGE_BYTES === 0;
}

/** Sorts and merges overlapping or touching ranges. */
export function coalesce(ranges: readonly ByteRange[]): ByteRange[] {
  const sorted = [...ranges].filter((r) => r.end > r.start).sort((a, b) => a.start - b.start);
  const merged: ByteRange[] = [];
  for (const range of sorted) {
    const last = merged[merged.length - 1];
    if (last && range.start <= last.end) {
      merged[merged.length - 1] = { start: last.start, end: Math.max(last.end, range.end) };
    } else {
      merged.push(range);
    }
  }
  return merged;
}

/** Splits a range into pieces of at most `maxBytes`, in order. */
export function chunk(range: ByteRange, maxBytes = MAX_PAGE_WRITE_BYTES): ByteRange[] {
  const pieces: ByteRange[] = [];
  for (let start = range.start; start < range.end; start += maxBytes) {
    pieces.push({ start, end: Math.min(start + maxBytes, range.end) });
  }
  return pieces;
}

/** The parts of `window` not covered by `ranges` (which must be coalesced). */
export function complement(ranges: readonly ByteRange[], window: ByteRange): ByteRange[] {
  const gaps: ByteRange[] = [];
  let cursor = window.start;
  for (const range of ranges) {
    const start = Math.max(range.start, window.start);
    const end = Math.min(range.end, window.end);
    if (end <= start) continue;
    if (start > cursor) gaps.push({ start: cursor, end: start });
    cursor = Math.max(cursor, end);
  }
  if (cursor < window.end) gaps.push({ start: cursor, end: window.end });
  return gaps;
}

/** The parts of `ranges` inside `window`. */
export function clip(ranges: readonly ByteRange[], window: ByteRange): ByteRange[] {
  return ranges
    .map((r) => ({ start: Math.max(r.start, window.start), end: Math.min(r.end, window.end) }))
    .filter((r) => r.end > r.start);
}

/** Ceil of bytes to whole 4 MiB requests: the fewest page writes that can carry one coalesced range. */
export function minimumRequests(ranges: readonly ByteRange[], maxBytes = MAX_PAGE_WRITE_BYTES): number {
  return ranges.reduce((sum, range) => sum + Math.ceil(lengthOf(range) / maxBytes), 0);
}

/** Where two allocation maps differ: the first range allocated on one side only. */
export interface StructureDifference {
  readonly range: ByteRange;
  /** Which side has it allocated. */
  readonly allocatedIn: "source" | "target";
}

/**
 * The first byte range allocated in exactly one of `source` and `target` (each coalesced first, so how a service
 * splits its answer does not matter), or undefined when both allocate the same bytes.
 */
export function firstStructureDifference(source: readonly ByteRange[], target: readonly ByteRange[]): StructureDifference | undefined {
  // Each coalesced list's edges alternate start, end; sweeping both at once tracks which side covers each point.
  const edges = (ranges: readonly ByteRange[]) => coalesce(ranges).flatMap((r) => [r.start, r.end]);
  const a = edges(source);
  const b = edges(target);
  let ia = 0;
  let ib = 0;
  let inSource = false;
  let inTarget = false;
  let open: { start: number; allocatedIn: StructureDifference["allocatedIn"] } | undefined;
  while (ia < a.length || ib < b.length) {
    const at = Math.min(a[ia] ?? Infinity, b[ib] ?? Infinity);
    if (a[ia] === at) [inSource, ia] = [!inSource, ia + 1];
    if (b[ib] === at) [inTarget, ib] = [!inTarget, ib + 1];
    const side = inSource === inTarget ? undefined : inSource ? "source" : "target";
    if (open && side !== open.allocatedIn) return { range: { start: open.start, end: at }, allocatedIn: open.allocatedIn };
    if (!open && side) open = { start: at, allocatedIn: side };
  }
  return undefined;
}
