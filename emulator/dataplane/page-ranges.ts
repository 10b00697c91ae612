/**
 * What Get Page Ranges answers for a snapshot's VHD, plain or as a diff against an older snapshot. The lists are
 * lazy and in offset order, so an answer capped at N ranges reads only the extents up to its N+1st range: the
 * work is proportional to the ranges returned, never to the disk size.
 */
import type { VhdView } from "../disks/vhd-view";
import { vhdFooterSize } from "../disks/vhd";

/** A listed range; `end` is exclusive here and written inclusive in XML. */
export interface ListedRange {
  kind: "page" | "clear";
  start: number;
  end: number;
}

/** A snapshot as the diff sees it: its content and the write generation it was taken at. */
export interface SnapshotCut {
  view: VhdView;
  gen: number;
}

/** Choices of a diff the service does not document. */
export interface DiffOptions {
  /** List the old footer page as ClearRange when the disk grew (see `listChangedRanges`). */
  listOldFooterAsCleared: boolean;
}

/** Written pages of the blob within [from, to), the footer page included. */
export function listPageRanges(view: VhdView, from: number, to: number): Iterable<ListedRange> {
  const footer: ListedRange[] = [];
  pushClipped(footer, "page", view.diskSizeBytes, view.sizeBytes, from, to);
  return coalesce(mergeByStart(writtenExtents(view, from, to), footer));
}

/**
 * Pages written (PageRange) or trimmed (ClearRange) in `newer` since `older` was taken, within [from, to).
 * The service tracks writes, so a page rewritten with the same bytes is listed. Assumption: a trim is tracked
 * the same way, so trimming pages that held nothing at the older snapshot still lists them as ClearRange (the
 * consumer clears zeros; harmless, and never misses a clear). When the disk grew, the new footer page is new, and
 * the old footer page is now disk space, cleared unless written: listed as ClearRange unless
 * `listOldFooterAsCleared` is off (undocumented either way). At an unchanged size the footer is unchanged.
 */
export function listChangedRanges(
  older: SnapshotCut,
  newer: SnapshotCut,
  from: number,
  to: number,
  options: DiffOptions,
): Iterable<ListedRange> {
  const oldSize = older.view.diskSizeBytes;
  const newSize = newer.view.diskSizeBytes;
  const footers: ListedRange[] = [];
  if (oldSize !== newSize) {
    if (options.listOldFooterAsCleared && !writtenSince(older, newer, oldSize, oldSize + vhdFooterSize)) {
      pushClipped(footers, "clear", oldSize, oldSize + vhdFooterSize, from, to);
    }
    pushClipped(footers, "page", newSize, newSize + vhdFooterSize, from, to);
  }
  return coalesce(mergeByStart(changedExtents(older, newer, from, to), footers));
}

function* writtenExtents(view: VhdView, from: number, to: number): Generator<ListedRange> {
  for (const e of view.data.overlapping(from, Math.min(to, view.diskSizeBytes))) {
    if (e.content.kind !== "clear") yield { kind: "page", start: e.start, end: e.end };
  }
}

function* changedExtents(older: SnapshotCut, newer: SnapshotCut, from: number, to: number): Generator<ListedRange> {
  for (const e of newer.view.data.overlapping(from, Math.min(to, newer.view.diskSizeBytes))) {
    if (e.gen > older.gen) yield { kind: e.content.kind === "clear" ? "clear" : "page", start: e.start, end: e.end };
  }
}

function writtenSince(older: SnapshotCut, newer: SnapshotCut, start: number, end: number): boolean {
  for (const e of newer.view.data.overlapping(start, end)) if (e.gen > older.gen) return true;
  return false;
}

/** Interleaves a few sorted ranges (footer pages) into a sorted stream of extents; neither overlaps the other. */
function* mergeByStart(sorted: Iterable<ListedRange>, few: readonly ListedRange[]): Generator<ListedRange> {
  let next = 0;
  for (const r of sorted) {
    while (next < few.length && few[next].start < r.start) yield few[next++];
    yield r;
  }
  while (next < few.length) yield few[next++];
}

function pushClipped(out: ListedRange[], kind: ListedRange["kind"], start: number, end: number, from: number, to: number) {
  const s = Math.max(start, from);
  const e = Math.min(end, to);
  if (s < e) out.push({ kind, start: s, end: e });
}

/** Merges touching ranges of the same kind, as the service never lists two adjacent ranges of one kind. */
function* coalesce(sorted: Iterable<ListedRange>): Generator<ListedRange> {
  let pending: ListedRange | undefined;
  for (const r of sorted) {
    if (pending && pending.kind === r.kind && pending.end === r.start) {
      pending.end = r.end;
    } else {
      if (pending) yield pending;
      pending = { ...r };
    }
  }
  if (pending) yield pending;
}
