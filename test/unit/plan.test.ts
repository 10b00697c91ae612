/** Planning a CopyStep: diff windows turned into ordered, budgeted page operations that always make progress. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  type PageOperation,
  type StepBudget,
  type WindowDiff,
  adaptWindowBytes,
  fullCopyDiff,
  nextWindow,
  planWindow,
} from "../../src/domain/plan";
import { type ByteRange, GiB, MAX_PAGE_WRITE_BYTES, MiB, PAGE_BYTES, coalesce, complement, isPageAligned, lengthOf } from "../../src/domain/ranges";

const r = (start: number, end: number): ByteRange => ({ start, end });
const copy = (start: number, end: number): PageOperation => ({ kind: "copy", range: r(start, end) });
const clear = (start: number, end: number): PageOperation => ({ kind: "clear", range: r(start, end) });
const roomy: StepBudget = { maxBytes: 64 * GiB, maxRequests: 100_000 };

describe("planWindow", () => {
  const window = r(0, 64 * MiB);
  const cases: {
    name: string;
    diff: Pick<WindowDiff, "changed" | "cleared">;
    cursor?: number;
    budget?: StepBudget;
    operations: PageOperation[];
    nextCursor: number;
    windowComplete: boolean;
  }[] = [
    {
      name: "when a window has no changes, then nothing is planned and the window is done",
      diff: { changed: [], cleared: [] },
      operations: [],
      nextCursor: window.end,
      windowComplete: true,
    },
    {
      name: "when changes fit the budget, then they are coalesced, cut into 4 MiB copies and the window is done",
      diff: { changed: [r(MiB, 3 * MiB), r(3 * MiB, 10 * MiB), r(20 * MiB, 20 * MiB + 512)], cleared: [] },
      operations: [copy(MiB, 5 * MiB), copy(5 * MiB, 9 * MiB), copy(9 * MiB, 10 * MiB), copy(20 * MiB, 20 * MiB + 512)],
      nextCursor: window.end,
      windowComplete: true,
    },
    {
      name: "when clears and changes interleave, then operations come in offset order",
      diff: { changed: [r(8 * MiB, 9 * MiB), r(0, 512)], cleared: [r(10 * MiB, 11 * MiB), r(MiB, 2 * MiB)] },
      operations: [copy(0, 512), clear(MiB, 2 * MiB), copy(8 * MiB, 9 * MiB), clear(10 * MiB, 11 * MiB)],
      nextCursor: window.end,
      windowComplete: true,
    },
    {
      name: "when a page is reported both changed and cleared, then the copy wins and only the rest is cleared",
      diff: { changed: [r(1024, 2048)], cleared: [r(0, 4096)] },
      operations: [clear(0, 1024), copy(1024, 2048), clear(2048, 4096)],
      nextCursor: window.end,
      windowComplete: true,
    },
    {
      name: "when the byte budget runs out in the middle of a range, then the next cursor is at a 4 MiB chunk boundary",
      diff: { changed: [r(MiB, 11 * MiB)], cleared: [] },
      budget: { maxBytes: 6 * MiB, maxRequests: 100 },
      operations: [copy(MiB, 5 * MiB)],
      nextCursor: 5 * MiB,
      windowComplete: false,
    },
    {
      name: "when the byte budget is met exactly, then the last copy still fits",
      diff: { changed: [r(0, 8 * MiB), r(9 * MiB, 10 * MiB)], cleared: [] },
      budget: { maxBytes: 8 * MiB, maxRequests: 100 },
      operations: [copy(0, 4 * MiB), copy(4 * MiB, 8 * MiB)],
      nextCursor: 9 * MiB,
      windowComplete: false,
    },
    {
      name: "when the request budget runs out, then the step stops before the next operation, clears included",
      diff: { changed: [r(0, 512)], cleared: [r(MiB, 2 * MiB), r(3 * MiB, 4 * MiB)] },
      budget: { maxBytes: 64 * GiB, maxRequests: 2 },
      operations: [copy(0, 512), clear(MiB, 2 * MiB)],
      nextCursor: 3 * MiB,
      windowComplete: false,
    },
    {
      name: "when clears are large, then they do not count against the byte budget",
      diff: { changed: [r(60 * MiB, 61 * MiB)], cleared: [r(0, 60 * MiB)] },
      budget: { maxBytes: MiB, maxRequests: 100 },
      operations: [clear(0, 60 * MiB), copy(60 * MiB, 61 * MiB)],
      nextCursor: window.end,
      windowComplete: true,
    },
    {
      name: "when even the first copy exceeds the budget, then it is planned anyway so the step progresses",
      diff: { changed: [r(0, 8 * MiB)], cleared: [] },
      budget: { maxBytes: 512, maxRequests: 0 },
      operations: [copy(0, 4 * MiB)],
      nextCursor: 4 * MiB,
      windowComplete: false,
    },
    {
      name: "when the cursor is inside the window, then only what lies at or after it is planned",
      diff: { changed: [r(0, 2 * MiB), r(4 * MiB, 12 * MiB)], cleared: [r(2 * MiB, 4 * MiB)] },
      cursor: 8 * MiB,
      operations: [copy(8 * MiB, 12 * MiB)],
      nextCursor: window.end,
      windowComplete: true,
    },
    {
      name: "when the cursor is inside a range, then chunks start at the cursor",
      diff: { changed: [r(0, 10 * MiB)], cleared: [] },
      cursor: 3 * MiB,
      operations: [copy(3 * MiB, 7 * MiB), copy(7 * MiB, 10 * MiB)],
      nextCursor: window.end,
      windowComplete: true,
    },
    {
      name: "when the diff reaches beyond the window, then it is clipped to the window",
      diff: { changed: [r(60 * MiB, 70 * MiB)], cleared: [r(50 * MiB, 80 * MiB)] },
      operations: [clear(50 * MiB, 60 * MiB), copy(60 * MiB, 64 * MiB)],
      nextCursor: window.end,
      windowComplete: true,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const plan = planWindow({ window, ...c.diff }, c.cursor ?? window.start, c.budget ?? roomy);
      assert.deepEqual(plan.operations, c.operations);
      assert.equal(plan.nextCursor, c.nextCursor);
      assert.equal(plan.windowComplete, c.windowComplete);
      const copies = plan.operations.filter((op) => op.kind === "copy");
      const clears = plan.operations.filter((op) => op.kind === "clear");
      assert.equal(plan.copyBytes, copies.reduce((sum, op) => sum + lengthOf(op.range), 0));
      assert.equal(plan.clearBytes, clears.reduce((sum, op) => sum + lengthOf(op.range), 0));
    });
  }

  it("when a budget cuts a window, then resuming from nextCursor plans the rest and every changed byte is copied once", () => {
    const diff: WindowDiff = { window, changed: [r(MiB, 11 * MiB), r(12 * MiB, 13 * MiB)], cleared: [r(11 * MiB, 12 * MiB)] };
    const budget = { maxBytes: 5 * MiB, maxRequests: 100 };
    const first = planWindow(diff, window.start, budget);
    const second = planWindow(diff, first.nextCursor, budget);
    const third = planWindow(diff, second.nextCursor, budget);
    assert.deepEqual(
      [...first.operations, ...second.operations, ...third.operations],
      [copy(MiB, 5 * MiB), copy(5 * MiB, 9 * MiB), copy(9 * MiB, 11 * MiB), clear(11 * MiB, 12 * MiB), copy(12 * MiB, 13 * MiB)],
    );
    assert.deepEqual([first.windowComplete, second.windowComplete, third.windowComplete], [false, false, true]);
  });

  it("when any page-aligned diff is planned step by step under any budget, then steps progress and reproduce the diff exactly", () => {
    const pages = 2048; // a 1 MiB window of 512-byte pages keeps ranges small and varied
    const rangeArb = fc
      .tuple(fc.integer({ min: 0, max: pages - 1 }), fc.integer({ min: 1, max: pages }))
      .map(([start, length]) => r(start * PAGE_BYTES, Math.min(pages, start + length) * PAGE_BYTES));
    fc.assert(
      fc.property(
        fc.array(rangeArb, { maxLength: 8 }),
        fc.array(rangeArb, { maxLength: 8 }),
        fc.integer({ min: 0, max: 2 * MiB }),
        fc.integer({ min: 0, max: 6 }),
        (changed, cleared, maxBytes, maxRequests) => {
          const small = r(0, pages * PAGE_BYTES);
          const diff: WindowDiff = { window: small, changed, cleared };
          const planned: PageOperation[] = [];
          let cursor = small.start;
          for (let step = 0; step <= 4 * pages; step += 1) {
            const plan = planWindow(diff, cursor, { maxBytes, maxRequests });
            assert.ok(plan.windowComplete || plan.nextCursor > cursor, "every step moves the cursor");
            assert.ok(plan.windowComplete || plan.operations.length > 0, "every unfinished step plans something");
            assert.ok(isPageAligned(plan.nextCursor));
            planned.push(...plan.operations);
            cursor = plan.nextCursor;
            if (plan.windowComplete) break;
          }
          assert.equal(cursor, small.end, "the window is finished within a bounded number of steps");
          const copies = planned.filter((op) => op.kind === "copy").map((op) => op.range);
          const clears = planned.filter((op) => op.kind === "clear").map((op) => op.range);
          assert.ok(copies.every((range) => lengthOf(range) <= MAX_PAGE_WRITE_BYTES));
          assert.deepEqual(coalesce(copies), coalesce(changed), "every changed byte is copied, nothing else");
          const clearedOnly = coalesce(cleared).flatMap((range) => complement(coalesce(changed), range));
          assert.deepEqual(coalesce(clears), coalesce(clearedOnly), "cleared bytes that did not change are cleared");
          for (let i = 1; i < planned.length; i += 1) {
            assert.ok(planned[i - 1].range.end <= planned[i].range.start, "operations are in offset order and never overlap");
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("fullCopyDiff", () => {
  const window = r(8 * MiB, 16 * MiB);
  const allocated = [r(0, 9 * MiB), r(10 * MiB, 11 * MiB), r(11 * MiB, 12 * MiB), r(20 * MiB, 21 * MiB)];

  it("when the TargetBlob is new, then the allocated pages in the window are changes and nothing is cleared", () => {
    assert.deepEqual(fullCopyDiff(window, allocated, true), { window, changed: [r(8 * MiB, 9 * MiB), r(10 * MiB, 12 * MiB)], cleared: [] });
  });

  it("when the TargetBlob holds older data, then the rest of the window is cleared", () => {
    assert.deepEqual(fullCopyDiff(window, allocated, false), {
      window,
      changed: [r(8 * MiB, 9 * MiB), r(10 * MiB, 12 * MiB)],
      cleared: [r(9 * MiB, 10 * MiB), r(12 * MiB, 16 * MiB)],
    });
  });

  it("when nothing is allocated and the TargetBlob holds data, then the whole window is cleared", () => {
    assert.deepEqual(fullCopyDiff(window, [], false).cleared, [window]);
  });
});

describe("adaptWindowBytes", () => {
  const limits = { min: 64 * MiB, max: 1024 * GiB };
  const cases: { name: string; current: number; rangesSeen: number; expected: number }[] = [
    { name: "when a window held more than 4000 ranges, then the next one shrinks to hold about 2000", current: 16 * GiB, rangesSeen: 4001, expected: Math.floor((16 * 1024 * 2000) / 4001) * MiB },
    { name: "when a window was very dense, then one step shrinks it in proportion", current: 1024 * GiB, rangesSeen: 100_000, expected: Math.floor((1024 * 1024 * 2000) / 100_000) * MiB },
    { name: "when a window held fewer than 500 ranges, then the next one is twice as large", current: 16 * GiB, rangesSeen: 499, expected: 32 * GiB },
    { name: "when a window held between 500 and 4000 ranges, then the size stays", current: 16 * GiB, rangesSeen: 4000, expected: 16 * GiB },
    { name: "when halving would go below the minimum, then the minimum is used", current: 100 * MiB, rangesSeen: 10_000, expected: 64 * MiB },
    { name: "when doubling would go above the maximum, then the maximum is used", current: 768 * GiB, rangesSeen: 0, expected: 1024 * GiB },
    { name: "when a page-aligned size that is not a power of two shrinks, then the result is whole MiB", current: 200 * MiB + 512, rangesSeen: 5000, expected: 80 * MiB },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const next = adaptWindowBytes(c.current, c.rangesSeen, limits);
      assert.equal(next, c.expected);
      assert.ok(isPageAligned(next), "Get Page Ranges windows and the copies clipped to them must stay page aligned");
    });
  }
});

describe("nextWindow", () => {
  const blobBytes = 16 * GiB + 512;
  const cases: { name: string; cursor: number; expected: ByteRange | undefined }[] = [
    { name: "when the cursor is at the start, then the window is the full size", cursor: 0, expected: r(0, 4 * GiB) },
    { name: "when the blob ends inside the window, then the window ends with the blob (VHD footer included)", cursor: 14 * GiB, expected: r(14 * GiB, blobBytes) },
    { name: "when the cursor is at the end of the blob, then there is no window", cursor: blobBytes, expected: undefined },
    { name: "when the cursor is beyond the end of the blob, then there is no window", cursor: blobBytes + 512, expected: undefined },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(nextWindow(c.cursor, 4 * GiB, blobBytes), c.expected));
  }
});
