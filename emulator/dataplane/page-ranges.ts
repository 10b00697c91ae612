/**
 * What Get Page Ranges answers for a snapshot's VHD, plain or as a diff against an older snapshot, and the XML
 * the service writes it in. Work is proportional to the extents inside the window, never to the disk size.
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

/** Written pages of the blob within [from, to), the footer page included. */
export function listPageRanges(view: VhdView, from: number, to: number): ListedRange[] {
  const raw: ListedRange[] = [];
  for (const e of view.data.overlapping(from, Math.min(to, view.diskSizeBytes))) {
    if (e.content.kind !== "clear") raw.push({ kind: "page", start: e.start, end: e.end });
  }
  pushClipped(raw, "page", view.diskSizeBytes, view.sizeBytes, from, to);
  return coalesce(raw);
}

/**
 * Pages written (PageRange) or trimmed (ClearRange) in `newer` since `older` was taken, within [from, to).
 * The service tracks writes, so a page rewritten with the same bytes is listed. Assumption: a trim is tracked
 * the same way, so trimming pages that held nothing at the older snapshot still lists them as ClearRange (the
 * consumer clears zeros; harmless, and never misses a clear). When the disk grew, the old footer page is now disk
 * space (cleared unless written) and the new footer page is new; at an unchanged size the footer is unchanged.
 */
export function listChangedRanges(older: SnapshotCut, newer: SnapshotCut, from: number, to: number): ListedRange[] {
  const raw: ListedRange[] = [];
  const newSize = newer.view.diskSizeBytes;
  for (const e of newer.view.data.overlapping(from, Math.min(to, newSize))) {
    if (e.gen > older.gen) raw.push({ kind: e.content.kind === "clear" ? "clear" : "page", start: e.start, end: e.end });
  }
  const oldSize = older.view.diskSizeBytes;
  if (oldSize !== newSize) {
    const oldFooterRewritten = [...newer.view.data.overlapping(oldSize, oldSize + vhdFooterSize)].some(
      (e) => e.gen > older.gen,
    );
    if (!oldFooterRewritten) pushClipped(raw, "clear", oldSize, oldSize + vhdFooterSize, from, to);
    pushClipped(raw, "page", newSize, newSize + vhdFooterSize, from, to);
  }
  return coalesce(raw.sort((a, b) => a.start - b.start));
}

/** The Get Page Ranges body, ranges interleaved in offset order with inclusive ends, as the service writes it. */
export function pageListXml(ranges: readonly ListedRange[]): string {
  const items = ranges.map((r) => {
    const tag = r.kind === "page" ? "PageRange" : "ClearRange";
    return `<${tag}><Start>${r.start}</Start><End>${r.end - 1}</End></${tag}>`;
  });
  return `<?xml version="1.0" encoding="utf-8"?><PageList>${items.join("")}</PageList>`;
}

function pushClipped(out: ListedRange[], kind: ListedRange["kind"], start: number, end: number, from: number, to: number) {
  const s = Math.max(start, from);
  const e = Math.min(end, to);
  if (s < e) out.push({ kind, start: s, end: e });
}

/** Merges touching ranges of the same kind, as the service never lists two adjacent ranges of one kind. */
function coalesce(sorted: ListedRange[]): ListedRange[] {
  const out: ListedRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && last.kind === r.kind && last.end === r.start) last.end = r.end;
    else out.push({ ...r });
  }
  return out;
}
