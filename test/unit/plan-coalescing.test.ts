/**
 * Cost-aware coalescing in the plan: which gaps a copy carries along, the cost model that sets the threshold, and a
 * property test that replays coalesced plans on a model of the TargetBlob and hashes the result against the source.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import fc from "fast-check";
import { type MergePolicy, type PageOperation, type WindowDiff, mergeGapBytes, planWindow } from "../../src/domain/plan";
import { type ByteRange, GiB, MAX_PAGE_WRITE_BYTES, MiB, PAGE_BYTES, coalesce, lengthOf } from "../../src/domain/ranges";

const r = (start: number, end: number): ByteRange => ({ start, end });
const copy = (start: number, end: number): PageOperation => ({ kind: "copy", range: r(start, end) });
const clear = (start: number, end: number): PageOperation => ({ kind: "clear", range: r(start, end) });
const roomy = { maxBytes: 64 * GiB, maxRequests: 100_000 };
const KiB = 1024;
/** 80 changes of 4 KiB, one every 64 KiB: 5 MiB of span, far more requests than bytes. */
const every64KiB = Array.from({ length: 80 }, (_, k) => r(k * 64 * KiB, k * 64 * KiB + 4 * KiB));
/** The service's per-blob targets: ≈ 123 KiB in the time of one request. */
const service = { bytesPerSecond: 60 * MiB, requestsPerSecond: 500 };
const merging: MergePolicy = { ...service, maxGapBytes: 120 * KiB };

describe("planWindow with coalescing", () => {
  const window = r(0, 64 * MiB);
  const everywhere = [window];
  const cases: { name: string; diff: Omit<WindowDiff, "window">; merge?: MergePolicy; operations: PageOperation[]; carried: number }[] = [
    {
      name: "when small changes are separated by small allocated gaps, then they go as one copy carrying the gaps",
      diff: { changed: [r(0, 4 * KiB), r(8 * KiB, 12 * KiB), r(100 * KiB, 104 * KiB)], cleared: [], allocated: everywhere },
      merge: merging,
      operations: [copy(0, 104 * KiB)],
      carried: 92 * KiB,
    },
    {
      name: "when no policy is given, then nothing is merged (today's plans)",
      diff: { changed: [r(0, 4 * KiB), r(8 * KiB, 12 * KiB)], cleared: [], allocated: everywhere },
      operations: [copy(0, 4 * KiB), copy(8 * KiB, 12 * KiB)],
      carried: 0,
    },
    {
      name: "when a gap is larger than the threshold, then the copies stay apart",
      diff: { changed: [r(0, 4 * KiB), r(125 * KiB, 126 * KiB)], cleared: [], allocated: everywhere },
      merge: merging,
      operations: [copy(0, 4 * KiB), copy(125 * KiB, 126 * KiB)],
      carried: 0,
    },
    {
      name: "when a ClearedRange lies in the gap, then the copies are never merged across it",
      diff: { changed: [r(0, 4 * KiB), r(8 * KiB, 12 * KiB)], cleared: [r(5 * KiB, 6 * KiB)], allocated: [r(0, 5 * KiB), r(6 * KiB, 64 * MiB)] },
      merge: merging,
      operations: [copy(0, 4 * KiB), clear(5 * KiB, 6 * KiB), copy(8 * KiB, 12 * KiB)],
      carried: 0,
    },
    {
      name: "when a gap is not allocated in the source, then it is not carried (it would allocate pages the source has not)",
      diff: { changed: [r(0, 4 * KiB), r(8 * KiB, 12 * KiB)], cleared: [], allocated: [r(0, 4 * KiB), r(6 * KiB, 12 * KiB)] },
      merge: merging,
      operations: [copy(0, 4 * KiB), copy(8 * KiB, 12 * KiB)],
      carried: 0,
    },
    {
      name: "when the source's allocation was not asked for, then nothing is merged",
      diff: { changed: [r(0, 4 * KiB), r(8 * KiB, 12 * KiB)], cleared: [] },
      merge: merging,
      operations: [copy(0, 4 * KiB), copy(8 * KiB, 12 * KiB)],
      carried: 0,
    },
    {
      name: "when merging would make a write larger than 4 MiB, then the next copy starts a new write",
      diff: { changed: every64KiB, cleared: [], allocated: everywhere },
      merge: merging,
      operations: [copy(0, 63 * 64 * KiB + 4 * KiB), copy(4 * MiB, 79 * 64 * KiB + 4 * KiB)],
      carried: 78 * 60 * KiB,
    },
    {
      name: "when bytes, not requests, are the limit, then nothing is merged",
      diff: { changed: [r(0, 2 * MiB), r(2 * MiB + 4 * KiB, 4 * MiB)], cleared: [], allocated: everywhere },
      merge: merging,
      operations: [copy(0, 2 * MiB), copy(2 * MiB + 4 * KiB, 4 * MiB)],
      carried: 0,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const plan = planWindow({ window, ...c.diff }, 0, roomy, c.merge);
      assert.deepEqual(plan.operations, c.operations);
      assert.equal(plan.carriedBytes, c.carried);
      assert.equal(plan.copyBytes, c.operations.filter((op) => op.kind === "copy").reduce((sum, op) => sum + lengthOf(op.range), 0));
    });
  }
});

describe("mergeGapBytes", () => {
  const cases: { name: string; rates: { bytesPerSecond: number; requestsPerSecond: number }; transactionCostBytes: number; expected: number }[] = [
    { name: "when a transaction costs more than the blob's bytes per request, then the time break-even decides (60 MiB ÷ 500, in whole pages)", rates: service, transactionCostBytes: 1 * GiB, expected: 245 * PAGE_BYTES },
    { name: "when a transaction costs less, then the cost break-even decides, in whole pages", rates: service, transactionCostBytes: 10_000, expected: 19 * PAGE_BYTES },
    { name: "when the transaction cost is 0, then nothing is merged", rates: service, transactionCostBytes: 0, expected: 0 },
    { name: "when pacing is off (no rates), then nothing is merged", rates: { bytesPerSecond: 0, requestsPerSecond: 500 }, transactionCostBytes: GiB, expected: 0 },
  ];
  for (const c of cases) it(c.name, () => assert.equal(mergeGapBytes(c.rates, c.transactionCostBytes), c.expected));
});

/** A page blob as bytes and allocated pages; copies read the source's pages, clears zero and free them. */
class PageModel {
  readonly bytes: Buffer;
  readonly allocated: boolean[];
  constructor(pages: number, from?: PageModel) {
    this.bytes = from ? Buffer.from(from.bytes) : Buffer.alloc(pages * PAGE_BYTES);
    this.allocated = from ? [...from.allocated] : new Array<boolean>(pages).fill(false);
  }
  write(range: ByteRange, tag: number): void {
    for (let page = range.start / PAGE_BYTES; page < range.end / PAGE_BYTES; page += 1) {
      this.bytes.writeUInt32LE(tag, page * PAGE_BYTES);
      this.bytes.writeUInt32LE(page, page * PAGE_BYTES + 4);
      this.allocated[page] = true;
    }
  }
  copyFrom(source: PageModel, range: ByteRange): void {
    source.bytes.copy(this.bytes, range.start, range.start, range.end);
    for (let page = range.start / PAGE_BYTES; page < range.end / PAGE_BYTES; page += 1) this.allocated[page] = true;
  }
  clear(range: ByteRange): void {
    this.bytes.fill(0, range.start, range.end);
    for (let page = range.start / PAGE_BYTES; page < range.end / PAGE_BYTES; page += 1) this.allocated[page] = false;
  }
  ranges(): ByteRange[] {
    return coalesce(this.allocated.flatMap((on, page) => (on ? [r(page * PAGE_BYTES, (page + 1) * PAGE_BYTES)] : [])));
  }
  digest(): string {
    return createHash("sha256").update(this.bytes).digest("hex");
  }
}

describe("coalesced plans replayed on a TargetBlob", () => {
  it("when any diff is planned with any merge threshold and budget, then the TargetBlob ends with exactly the source's bytes and pages", () => {
    const pages = 12 * 1024; // 6 MiB: room for writes that the 4 MiB cap cuts
    const rangeArb = (maxPages: number) =>
      fc
        .tuple(fc.integer({ min: 0, max: pages - 1 }), fc.integer({ min: 1, max: maxPages }))
        .map(([start, length]) => r(start * PAGE_BYTES, Math.min(pages, start + length) * PAGE_BYTES));
    fc.assert(
      fc.property(
        fc.array(rangeArb(pages), { maxLength: 4 }),
        fc.array(rangeArb(64), { maxLength: 40 }),
        fc.array(rangeArb(256), { maxLength: 6 }),
        fc.integer({ min: 0, max: 512 }).map((p) => p * PAGE_BYTES),
        fc.integer({ min: 4 * MiB, max: 16 * MiB }),
        fc.integer({ min: 1, max: 64 }),
        (baseWrites, changes, trims, maxGapBytes, maxBytes, maxRequests) => {
          const base = new PageModel(pages);
          baseWrites.forEach((range, i) => base.write(range, 1000 + i));
          const source = new PageModel(pages, base);
          for (const range of trims) source.clear(range);
          changes.forEach((range, i) => source.write(range, 2000 + i));
          const target = new PageModel(pages, base);
          const window = r(0, pages * PAGE_BYTES);
          const diff: WindowDiff = { window, changed: changes, cleared: trims, allocated: source.ranges() };
          const merge: MergePolicy = { ...service, maxGapBytes };
          const unmerged = planWindow(diff, 0, roomy).operations.length;
          const operations: PageOperation[] = [];
          let carried = 0;
          let copied = 0;
          for (let cursor = 0, done = false; !done; ) {
            const plan = planWindow(diff, cursor, { maxBytes, maxRequests }, merge);
            operations.push(...plan.operations);
            carried += plan.carriedBytes;
            copied += plan.copyBytes;
            assert.ok(plan.windowComplete || plan.nextCursor > cursor, "every step moves the cursor");
            cursor = plan.nextCursor;
            done = plan.windowComplete;
          }
          for (const op of operations) {
            if (op.kind === "copy") target.copyFrom(source, op.range);
            else target.clear(op.range);
          }
          assert.equal(target.digest(), source.digest(), "the TargetBlob holds the source's bytes");
          assert.deepEqual(target.ranges(), source.ranges(), "and allocates exactly the source's pages (the structure check)");
          const copies = operations.filter((op) => op.kind === "copy").map((op) => op.range);
          const clears = operations.filter((op) => op.kind === "clear").map((op) => op.range);
          assert.ok(copies.every((range) => lengthOf(range) <= MAX_PAGE_WRITE_BYTES), "no write beyond 4 MiB");
          assert.ok(copies.every((c) => clears.every((k) => k.end <= c.start || c.end <= k.start)), "no copy across a ClearedRange");
          assert.equal(copied - carried, coalesce(changes).reduce((sum, range) => sum + lengthOf(range), 0), "carried bytes are the copies' bytes beyond the changes");
          if (maxGapBytes === 0) assert.equal(carried, 0);
          assert.ok(operations.length <= unmerged, "merging never adds requests");
        },
      ),
      { numRuns: 200 },
    );
  });
});
