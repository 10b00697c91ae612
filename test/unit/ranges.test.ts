/** Byte-range arithmetic: the SDK's inclusive ranges, coalescing, 4 MiB chunking, complement and clip. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type ByteRange,
  MAX_PAGE_WRITE_BYTES,
  MiB,
  chunk,
  clip,
  coalesce,
  complement,
  firstStructureDifference,
  fromSdkRange,
  isPageAligned,
  lengthOf,
  minimumRequests,
  totalBytes,
} from "../../src/domain/ranges";

const r = (start: number, end: number): ByteRange => ({ start, end });

describe("fromSdkRange", () => {
  const cases: { name: string; sdk: { offset: number; count?: number }; expected: ByteRange }[] = [
    { name: "when the service reports <Start>0</Start><End>511</End> (count 511), then it is one 512-byte page", sdk: { offset: 0, count: 511 }, expected: r(0, 512) },
    { name: "when a 4 MiB range starts at 1 MiB, then its real length is count + 1", sdk: { offset: MiB, count: 4 * MiB - 1 }, expected: r(MiB, 5 * MiB) },
    { name: "when a range lies beyond 4 TiB, then the arithmetic stays exact", sdk: { offset: 2 ** 42, count: 1023 }, expected: r(2 ** 42, 2 ** 42 + 1024) },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const range = fromSdkRange(c.sdk);
      assert.deepEqual(range, c.expected);
      assert.equal(lengthOf(range), (c.sdk.count ?? 0) + 1);
    });
  }
});

describe("coalesce", () => {
  const cases: { name: string; input: ByteRange[]; expected: ByteRange[] }[] = [
    { name: "when there are no ranges, then there are none", input: [], expected: [] },
    { name: "when ranges overlap, then they merge into one", input: [r(0, 1024), r(512, 2048)], expected: [r(0, 2048)] },
    { name: "when ranges touch end to start, then they merge into one", input: [r(0, 512), r(512, 1024)], expected: [r(0, 1024)] },
    { name: "when ranges are unsorted, then the result is sorted and merged", input: [r(4096, 8192), r(0, 512), r(512, 1024)], expected: [r(0, 1024), r(4096, 8192)] },
    { name: "when one range contains another, then the outer one remains", input: [r(0, 8192), r(1024, 2048)], expected: [r(0, 8192)] },
    { name: "when ranges have a gap, then they stay apart", input: [r(0, 512), r(1024, 1536)], expected: [r(0, 512), r(1024, 1536)] },
    { name: "when a range is empty, then it is dropped", input: [r(512, 512), r(0, 512)], expected: [r(0, 512)] },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(coalesce(c.input), c.expected));
  }

  it("when coalescing, then the input array is left unchanged", () => {
    const input = [r(1024, 2048), r(0, 1024)];
    coalesce(input);
    assert.deepEqual(input, [r(1024, 2048), r(0, 1024)]);
  });
});

describe("chunk", () => {
  const cases: { name: string; range: ByteRange; expected: ByteRange[] }[] = [
    { name: "when a range is an exact multiple of 4 MiB, then it splits into full 4 MiB pieces", range: r(0, 12 * MiB), expected: [r(0, 4 * MiB), r(4 * MiB, 8 * MiB), r(8 * MiB, 12 * MiB)] },
    { name: "when a range has a remainder, then the last piece carries it", range: r(MiB, 10 * MiB + 512), expected: [r(MiB, 5 * MiB), r(5 * MiB, 9 * MiB), r(9 * MiB, 10 * MiB + 512)] },
    { name: "when a range is one 512-byte page, then it is one piece", range: r(7 * 512, 8 * 512), expected: [r(7 * 512, 8 * 512)] },
    { name: "when a range is exactly 4 MiB, then it is one piece", range: r(4 * MiB, 8 * MiB), expected: [r(4 * MiB, 8 * MiB)] },
    { name: "when a range is empty, then there are no pieces", range: r(512, 512), expected: [] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const pieces = chunk(c.range);
      assert.deepEqual(pieces, c.expected);
      assert.ok(pieces.every((piece) => lengthOf(piece) <= MAX_PAGE_WRITE_BYTES));
      assert.equal(pieces.length, minimumRequests([c.range]));
    });
  }

  it("when a smaller maximum is given, then pieces respect it", () => {
    assert.deepEqual(chunk(r(0, 2560), 1024), [r(0, 1024), r(1024, 2048), r(2048, 2560)]);
  });
});

describe("complement and clip", () => {
  const window = r(1024, 8192);
  const complementCases: { name: string; ranges: ByteRange[]; expected: ByteRange[] }[] = [
    { name: "when nothing is covered, then the whole window is a gap", ranges: [], expected: [window] },
    { name: "when everything is covered, then there is no gap", ranges: [r(0, 10_000)], expected: [] },
    { name: "when ranges sit inside the window, then the gaps are around and between them", ranges: [r(2048, 3072), r(4096, 5120)], expected: [r(1024, 2048), r(3072, 4096), r(5120, 8192)] },
    { name: "when ranges stick out of the window, then only the inside counts", ranges: [r(0, 2048), r(7168, 9216)], expected: [r(2048, 7168)] },
    { name: "when ranges lie entirely outside the window, then they are ignored", ranges: [r(0, 512), r(9216, 10_240)], expected: [window] },
  ];
  for (const c of complementCases) {
    it(c.name, () => {
      const gaps = complement(c.ranges, window);
      assert.deepEqual(gaps, c.expected);
      assert.equal(totalBytes(gaps) + totalBytes(clip(c.ranges, window)), lengthOf(window), "gaps and covered parts fill the window");
    });
  }

  const clipCases: { name: string; ranges: ByteRange[]; expected: ByteRange[] }[] = [
    { name: "when a range straddles the window start, then it is cut at the start", ranges: [r(0, 2048)], expected: [r(1024, 2048)] },
    { name: "when a range straddles the window end, then it is cut at the end", ranges: [r(4096, 10_240)], expected: [r(4096, 8192)] },
    { name: "when a range only touches the window, then nothing remains", ranges: [r(0, 1024), r(8192, 9216)], expected: [] },
    { name: "when a range covers the window, then the window remains", ranges: [r(0, 10_240)], expected: [window] },
  ];
  for (const c of clipCases) {
    it(c.name, () => assert.deepEqual(clip(c.ranges, window), c.expected));
  }
});

describe("page arithmetic", () => {
  it("when offsets are multiples of 512, then they are page aligned, and otherwise not", () => {
    assert.deepEqual([0, 512, 4 * MiB, 511, 513, 256].map(isPageAligned), [true, true, true, false, false, false]);
  });

  it("when counting requests, then each range needs ceil(length / 4 MiB) of them", () => {
    assert.equal(minimumRequests([]), 0);
    assert.equal(minimumRequests([r(0, 512), r(MiB, 9 * MiB), r(16 * MiB, 20 * MiB + 1)]), 1 + 2 + 2);
  });
});

describe("firstStructureDifference", () => {
  const cases: { name: string; source: ByteRange[]; target: ByteRange[]; expected: ReturnType<typeof firstStructureDifference> }[] = [
    { name: "when both allocate the same bytes split differently, then there is no difference", source: [r(0, 512), r(512, 4096), r(8192, 9216)], target: [r(0, 4096), r(8192, 8704), r(8704, 9216)], expected: undefined },
    { name: "when neither side allocates anything, then there is no difference", source: [], target: [], expected: undefined },
    { name: "when the target lacks the last page of a range, then that page is named, allocated in the source", source: [r(0, 4096)], target: [r(0, 3584)], expected: { range: r(3584, 4096), allocatedIn: "source" } },
    { name: "when the target has a page the source does not, then it is named, allocated in the target", source: [r(0, 512)], target: [r(0, 512), r(2 ** 41, 2 ** 41 + 512)], expected: { range: r(2 ** 41, 2 ** 41 + 512), allocatedIn: "target" } },
    { name: "when the sides differ at the start, then the first difference is the one named", source: [r(512, 1024), r(4096, 8192)], target: [r(0, 1024)], expected: { range: r(0, 512), allocatedIn: "target" } },
    { name: "when a source-only stretch runs into a target-only stretch, then only the first is named", source: [r(0, 1024)], target: [r(1024, 2048)], expected: { range: r(0, 1024), allocatedIn: "source" } },
    { name: "when the target is empty, then the first source range is named", source: [r(1024, 2048), r(4096, 4608)], target: [], expected: { range: r(1024, 2048), allocatedIn: "source" } },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(firstStructureDifference(c.source, c.target), c.expected));
  }
});
