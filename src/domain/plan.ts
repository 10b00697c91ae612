/**
 * Plan, then execute: a CopyStep asks for the diff of one window of the disk and turns it into page
 * operations here, without touching any service. The executor only performs the plan.
 */
import { type ByteRange, MAX_PAGE_WRITE_BYTES, MiB, chunk, clip, coalesce, complement, lengthOf } from "./ranges";

/** What the service reported for one window: pages written since the base (ChangedRange) and trimmed (ClearedRange). */
export interface WindowDiff {
  readonly window: ByteRange;
  readonly changed: readonly ByteRange[];
  readonly cleared: readonly ByteRange[];
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
  readonly copyBytes: number;
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
 * planned so that every step makes progress.
 */
export function planWindow(diff: WindowDiff, cursor: number, budget: StepBudget): WindowPlan {
  const rest: ByteRange = { start: Math.max(cursor, diff.window.start), end: diff.window.end };
  const copies = coalesce(clip(diff.changed, rest)).flatMap((range) => chunk(range, MAX_PAGE_WRITE_BYTES));
  // A page is either written or trimmed since the base; where the service were to report both, the copy wins.
  const clears = complementEach(coalesce(clip(diff.cleared, rest)), coalesce(clip(diff.changed, rest)));
  const candidates: PageOperation[] = [
    ...copies.map((range) => ({ kind: "copy" as const, range })),
    ...clears.map((range) => ({ kind: "clear" as const, range })),
  ].sort((a, b) => a.range.start - b.range.start);

  const operations: PageOperation[] = [];
  let copyBytes = 0;
  let clearBytes = 0;
  for (const operation of candidates) {
    const bytes = operation.kind === "copy" ? lengthOf(operation.range) : 0;
    const overBudget = copyBytes + bytes > budget.maxBytes || operations.length >= budget.maxRequests;
    if (operations.length > 0 && overBudget) {
      return { operations, copyBytes, clearBytes, nextCursor: operation.range.start, windowComplete: false };
    }
    operations.push(operation);
    if (operation.kind === "copy") copyBytes += bytes;
    else clearBytes += lengthOf(operation.range);
  }
  return { operations, copyBytes, clearBytes, nextCursor: rest.end, windowComplete: true };
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
