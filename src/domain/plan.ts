/**
 * Plan, then execute: a CopyStep asks for the diff of one window of the disk and turns it into page
 * operations here, without touching any service. The executor only performs the plan.
 */
import { type ByteRange, MAX_PAGE_WRITE_BYTES, MiB, PAGE_BYTES, chunk, clip, coalesce, complement, lengthOf } from "./ranges";

/** What the service reported for one window: pages written since the base (ChangedRange) and trimmed (ClearedRange). */
export interface WindowDiff {
  readonly window: ByteRange;
  readonly changed: readonly ByteRange[];
  readonly cleared: readonly ByteRange[];
  /**
   * The SourceSnapshot's allocated pages in the window, when they were asked for (to coalesce): only a gap allocated
   * in the source may be carried along, since writing an unallocated one would allocate it in the TargetBlob.
   */
  readonly allocated?: readonly ByteRange[];
}

/**
 * Cost-aware coalescing: when requests, not bytes, are what the TargetBlob's limits make a window wait for, two copies
 * separated by a small gap of unchanged pages go as one Put Page From URL that carries the gap along. The gap's bytes
 * are the SourceSnapshot's own, unchanged since the base, so the TargetBlob already holds them: the result is the
 * same. Never across a ClearedRange, never beyond 4 MiB per write, never over pages the source does not allocate.
 */
export interface MergePolicy {
  /** Largest gap one copy carries along; 0 never merges (see `mergeGapBytes`). */
  readonly maxGapBytes: number;
  /** The TargetBlob's modelled rates: a window is merged only when its requests take longer than its bytes. */
  readonly bytesPerSecond: number;
  readonly requestsPerSecond: number;
}

/**
 * The cost model behind `MergePolicy.maxGapBytes`. Carrying a gap of g bytes saves one write transaction and costs g
 * bytes more of cross-region transfer and of the blob's byte rate. It makes the copy no slower while g ≤ bytes/s ÷
 * requests/s (the bytes the blob takes in the time of one request: 60 MiB/s ÷ 500/s ≈ 123 KiB), and the bill no
 * larger while g ≤ what one write transaction costs in bytes of transfer (`transactionCostBytes`). The threshold is
 * the smaller, in whole pages; a transaction cost of 0 turns merging off.
 */
export function mergeGapBytes(rates: { readonly bytesPerSecond: number; readonly requestsPerSecond: number }, transactionCostBytes: number): number {
  if (rates.bytesPerSecond <= 0 || rates.requestsPerSecond <= 0) return 0;
  const gap = Math.min(rates.bytesPerSecond / rates.requestsPerSecond, transactionCostBytes);
  return Math.max(0, Math.floor(gap / PAGE_BYTES) * PAGE_BYTES);
}

/** Limits that keep one CopyStep well inside the function timeout. */
export interface StepBudget {
  /** Content bytes a step may copy (clears carry no content). */
  readonly maxBytes: number;
  /** Page requests (copies and clears) a step may issue. */
  readonly maxRequests: number;
}

/** One request against the TargetBlob: copy a ≤ 4 MiB range from the SourceSnapshot, or clear a range. */
export interface PageOperation {
  readonly kind: "copy" | "clear";
  readonly range: ByteRange;
}

/** The operations for one window from a cursor, and where the next step resumes. */
export interface WindowPlan {
  readonly operations: readonly PageOperation[];
  /** Bytes the copies write, carried gaps included. */
  readonly copyBytes: number;
  /** Of `copyBytes`, the unchanged bytes carried along by coalescing. */
  readonly carriedBytes: number;
  readonly clearBytes: number;
  /** Offset the next plan starts from: the window's end when the whole window fitted in the budget. */
  readonly nextCursor: number;
  readonly windowComplete: boolean;
}

/**
 * A full copy (first run or a broken chain) is a diff against nothing: every allocated page is a change, and
 * the rest of the window is cleared unless the TargetBlob is new (a new page blob already reads as zeros).
 */
export function fullCopyDiff(window: ByteRange, allocated: readonly ByteRange[], targetIsEmpty: boolean): WindowDiff {
  const changed = coalesce(clip(allocated, window));
  return { window, changed, cleared: targetIsEmpty ? [] : complement(changed, window) };
}

/**
 * Turns the diff of a window into page operations in offset order, starting at `cursor`, within `budget`.
 * Adjacent ranges are coalesced, copies are cut into ≤ 4 MiB requests, and at least one operation is always
 * planned so that every step makes progress. With `merge`, copies separated by small gaps are merged (`MergePolicy`).
 */
export function planWindow(diff: WindowDiff, cursor: number, budget: StepBudget, merge?: MergePolicy): WindowPlan {
  const rest: ByteRange = { start: Math.max(cursor, diff.window.start), end: diff.window.end };
  const changed = coalesce(clip(diff.changed, rest));
  // A page is either written or trimmed since the base; where the service were to report both, the copy wins.
  const clears = complementEach(coalesce(clip(diff.cleared, rest)), changed);
  const chunks = changed.flatMap((range) => chunk(range, MAX_PAGE_WRITE_BYTES));
  const bridgeable = merge && diff.allocated ? complementEach(coalesce(clip(diff.allocated, rest)), clears) : [];
  const copies = merge && requestBound(chunks, merge) ? bridged(chunks, bridgeable, merge.maxGapBytes) : chunks.map((range) => ({ range, carried: 0 }));
  // What each copy carries along, by its start (copies never share one).
  const carriedAt = new Map(copies.map(({ range, carried }) => [range.start, carried]));
  const candidates: PageOperation[] = [
    ...copies.map(({ range }) => ({ kind: "copy" as const, range })),
    ...clears.map((range) => ({ kind: "clear" as const, range })),
  ].sort((a, b) => a.range.start - b.range.start);

  const operations: PageOperation[] = [];
  let copyBytes = 0;
  let clearBytes = 0;
  let carriedBytes = 0;
  const planned = (nextCursor: number, windowComplete: boolean): WindowPlan => ({ operations, copyBytes, carriedBytes, clearBytes, nextCursor, windowComplete });
  for (const operation of candidates) {
    const bytes = operation.kind === "copy" ? lengthOf(operation.range) : 0;
    const overBudget = copyBytes + bytes > budget.maxBytes || operations.length >= budget.maxRequests;
    if (operations.length > 0 && overBudget) return planned(operation.range.start, false);
    operations.push(operation);
    if (operation.kind === "copy") {
      copyBytes += bytes;
      carriedBytes += carriedAt.get(operation.range.start) ?? 0;
    } else clearBytes += lengthOf(operation.range);
  }
  return planned(rest.end, true);
}

/** Whether the copies take the TargetBlob longer by their count than by their bytes. */
function requestBound(copies: readonly ByteRange[], rates: MergePolicy): boolean {
  const bytes = copies.reduce((sum, range) => sum + lengthOf(range), 0);
  return copies.length / rates.requestsPerSecond > bytes / rates.bytesPerSecond;
}

/**
 * Merges each copy into the one before it when the gap between them is at most `maxGapBytes`, lies within one
 * `bridgeable` range (allocated in the source, cleared nowhere) and the merged write stays ≤ 4 MiB. Both lists are
 * in offset order, so one pass suffices.
 */
function bridged(copies: readonly ByteRange[], bridgeable: readonly ByteRange[], maxGapBytes: number): { range: ByteRange; carried: number }[] {
  const merged: { range: ByteRange; carried: number }[] = [];
  let j = 0;
  for (const range of copies) {
    const last = merged.at(-1);
    if (last) {
      const gap = { start: last.range.end, end: range.start };
      while (j < bridgeable.length && bridgeable[j].end < gap.end) j += 1;
      const inside = j < bridgeable.length && bridgeable[j].start <= gap.start;
      if (lengthOf(gap) <= maxGapBytes && inside && range.end - last.range.start <= MAX_PAGE_WRITE_BYTES) {
        merged[merged.length - 1] = { range: { start: last.range.start, end: range.end }, carried: last.carried + lengthOf(gap) };
        continue;
      }
    }
    merged.push({ range, carried: 0 });
  }
  return merged;
}

/** The next window to ask the service about, or undefined when the cursor has reached the end of the blob. */
export function nextWindow(cursor: number, windowBytes: number, blobBytes: number): ByteRange | undefined {
  if (cursor >= blobBytes) return undefined;
  return { start: cursor, end: Math.min(cursor + windowBytes, blobBytes) };
}

/**
 * Grows or shrinks the diff window so that a query returns a manageable number of ranges: fragmented
 * blobs make Get Page Ranges slow, empty stretches make many small queries wasteful.
 */
export function adaptWindowBytes(current: number, rangesSeen: number, limits: { min: number; max: number }): number {
  // Whole MiB, so that every window starts and ends on a page boundary.
  const wholeMiB = (bytes: number) => Math.max(MiB, Math.floor(bytes / MiB) * MiB);
  // Shrink in proportion to the density seen, aiming at ~2000 ranges per query, so one dense answer is enough.
  if (rangesSeen > 4000) return wholeMiB(Math.max(limits.min, (current * 2000) / rangesSeen));
  if (rangesSeen < 500) return wholeMiB(Math.min(limits.max, current * 2));
  return current;
}

function complementEach(ranges: readonly ByteRange[], minus: readonly ByteRange[]): ByteRange[] {
  if (minus.length === 0) return [...ranges];
  return ranges.flatMap((range) => complement(clip(minus, range), range));
}
