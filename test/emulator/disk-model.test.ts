/**
 * The emulator's sparse disk model against a naive one (an array with one entry per page): random writes,
 * trims and snapshots must read, list and diff exactly as the page-by-page model says.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { DiskStore, type DiskOp, type SnapshotRecord } from "../../emulator/disks/store";
import { seededBytes } from "../../emulator/disks/seeded";
import { listChangedRanges, listPageRanges, type ListedRange } from "../../emulator/dataplane/page-ranges";

const page = 512;

/** Per page: undefined = never touched, else the write generation and what it left (seed, or null = trimmed). */
type NaivePage = { gen: number; seed: number | null } | undefined;

/** Writes and trims of 1 to `maxPages` pages on a disk of `pages` pages. */
function opArbitrary(pages: number, maxPages: number) {
  return fc
    .record({
      trim: fc.boolean(),
      first: fc.integer({ min: 0, max: pages - 1 }),
      count: fc.integer({ min: 1, max: maxPages }),
      seed: fc.integer({ min: 0, max: 3 }),
    })
    .map(({ trim, first, count, seed }): DiskOp => {
      const length = Math.min(count, pages - first) * page;
      return trim ? { op: "trim", offset: first * page, length } : { op: "write-seeded", offset: first * page, length, seed };
    });
}

function naiveRanges(
  pages: number,
  kindOf: (p: number) => ListedRange["kind"] | undefined,
  withFooter: boolean,
): ListedRange[] {
  const out: ListedRange[] = [];
  const push = (kind: ListedRange["kind"], start: number) => {
    const last = out[out.length - 1];
    if (last && last.kind === kind && last.end === start) last.end = start + page;
    else out.push({ kind, start, end: start + page });
  };
  for (let p = 0; p < pages; p++) {
    const kind = kindOf(p);
    if (kind) push(kind, p * page);
  }
  if (withFooter) push("page", pages * page);
  return out;
}

/** Applies batches of ops, snapshotting after each, and compares everything with the page-by-page model. */
function checkAgainstModel(pages: number, batches: DiskOp[][]): void {
  const diskSize = pages * page;
  const store = new DiskStore("sub", 0);
  const disk = store.createDisk({ resourceGroup: "rg", name: "d", location: "eastus" }, diskSize, {
    createOption: "Empty",
  });
  const naive: NaivePage[] = new Array(pages).fill(undefined);
  let gen = 0;
  const snapshots: { record: SnapshotRecord; pages: NaivePage[]; gen: number }[] = [];
  batches.forEach((batch, i) => {
    store.applyOps(disk.id, batch);
    for (const op of batch) {
      gen++;
      for (let p = op.offset / page; p < (op.offset + op.length) / page; p++) {
        naive[p] = { gen, seed: op.op === "trim" ? null : op.seed };
      }
    }
    const params = { resourceGroup: "rg", name: `s${i}`, location: "eastus" };
    snapshots.push({ record: store.createSnapshot(params, disk, true), pages: naive.slice(), gen });
  });

  for (const snap of snapshots) {
    const expected = Buffer.alloc(diskSize);
    snap.pages.forEach((p, i) => {
      if (p?.seed !== null && p !== undefined) seededBytes(i * page, page, p.seed).copy(expected, i * page);
    });
    assert.ok(snap.record.view.read(0, diskSize).equals(expected), "snapshot content");
    const written = (p: number) => (snap.pages[p] && snap.pages[p].seed !== null ? "page" : undefined);
    assert.deepEqual([...listPageRanges(snap.record.view, 0, diskSize + page)], naiveRanges(pages, written, true));
  }
  for (let i = 1; i < snapshots.length; i++) {
    const older = snapshots[i - 1];
    const newer = snapshots[i];
    const changed = (p: number): ListedRange["kind"] | undefined => {
      const now = newer.pages[p];
      if (!now || now.gen <= older.gen) return undefined;
      return now.seed === null ? "clear" : "page";
    };
    assert.deepEqual(
      [...listChangedRanges(older.record, newer.record, 0, diskSize + page, { listOldFooterAsCleared: true })],
      naiveRanges(pages, changed, false),
    );
  }
}

describe("disk emulator sparse disk model", () => {
  it("when random writes, trims and snapshots happen, then reads, page lists and diffs match a page-by-page model", () => {
    const batch = fc.array(opArbitrary(64, 8), { maxLength: 12 });
    fc.assert(
      fc.property(fc.array(batch, { minLength: 2, maxLength: 4 }), (batches) => checkAgainstModel(64, batches)),
      { numRuns: 300 },
    );
  });

  it("when a disk holds thousands of extents, then chunk splits and wide trims still match the model", () => {
    const batch = fc.array(opArbitrary(4096, 48), { minLength: 200, maxLength: 600 });
    fc.assert(
      fc.property(fc.array(batch, { minLength: 2, maxLength: 3 }), (batches) => checkAgainstModel(4096, batches)),
      { numRuns: 15 },
    );
  });
});
