/**
 * Contract tests of paged Get Page Ranges (`maxresults`, `marker`, `<NextMarker>`, at most 10,000 ranges per
 * answer) on both places the app lists ranges: the managed-disk snapshot data endpoint (plain and diff) and the
 * target storage account behind the blob proxy. Through the real `PageBlobClient`; raw HTTP only where the SDK
 * cannot send the request (a managed-disk diff with a marker) or where the wire shape is the point.
 */
import assert from "node:assert/strict";
import { afterEach, before, describe, test } from "node:test";
import { AnonymousCredential, BlobSASPermissions, PageBlobClient, type ContainerClient } from "@azure/storage-blob";
import { createEmptyDisk, grantRead, takeSnapshot } from "../support/disk-emulator-server";
import { computeClient, targetBlobService, useTestStack } from "../support/stack";
import { rejectsWithStorageError } from "./storage-errors";

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

/** A range as the SDK lists it: inclusive start and end. */
type Range = { start: number; end: number };
/** A range of either kind from a raw answer, inclusive ends. */
type WireRange = Range & { kind: "PageRange" | "ClearRange" };

/** Every page of `listPageRanges(offset, count).byPage({ maxPageSize })`, as lists of ranges. */
async function pagesOf(blob: PageBlobClient, offset: number, count: number, maxPageSize?: number): Promise<Range[][]> {
  const pages: Range[][] = [];
  for await (const page of blob.listPageRanges(offset, count).byPage({ maxPageSize })) {
    pages.push((page.pageRange ?? []).map(({ start, end }) => ({ start, end })));
  }
  return pages;
}

/**
 * The NextMarker of a single-call answer. `getPageRanges` and `getPageRangesDiffForManagedDisks` keep it on the
 * response at run time (as `continuationToken`) although their response types do not declare it.
 */
function continuationTokenOf(response: object): string | undefined {
  return (response as { continuationToken?: string }).continuationToken;
}

/** One raw Get Page Ranges: status, error code and body. */
async function rawPageList(url: string, query: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${url}${url.includes("?") ? "&" : "?"}comp=pagelist${query}`, {
    headers: { "x-ms-version": "2025-11-05", ...headers },
  });
  return { status: res.status, code: res.headers.get("x-ms-error-code"), body: await res.text() };
}

function wireRanges(xml: string): WireRange[] {
  return [...xml.matchAll(/<(PageRange|ClearRange)><Start>(\d+)<\/Start><End>(\d+)<\/End><\/\1>/g)].map((m) => ({
    kind: m[1] as WireRange["kind"],
    start: Number(m[2]),
    end: Number(m[3]),
  }));
}

function nextMarkerOf(xml: string): string | undefined {
  if (xml.endsWith("<NextMarker /></PageList>")) return undefined;
  const m = /<NextMarker>([^<]+)<\/NextMarker><\/PageList>$/.exec(xml);
  assert.ok(m, `the answer ends with a NextMarker element: ${xml.slice(-120)}`);
  return m[1];
}

/** Walks a managed-disk diff page by page over the wire, as the SDK cannot send a marker with the header. */
async function diffPages(newerUrl: string, olderUrl: string, range: string, maxResults: number): Promise<WireRange[][]> {
  const pages: WireRange[][] = [];
  let marker: string | undefined;
  do {
    const query = `&maxresults=${maxResults}${marker ? `&marker=${encodeURIComponent(marker)}` : ""}`;
    const answer = await rawPageList(newerUrl, query, { "x-ms-previous-snapshot-url": olderUrl, "x-ms-range": range });
    assert.equal(answer.status, 200, answer.body);
    pages.push(wireRanges(answer.body));
    marker = nextMarkerOf(answer.body);
  } while (marker);
  return pages;
}

/** Asserts every page holds at most `max` ranges and none but the last is short. */
function assertPageSizes(pages: unknown[][], max: number): void {
  pages.forEach((page, i) => {
    if (i < pages.length - 1) assert.equal(page.length, max, `page ${i} is full`);
    else assert.ok(page.length <= max, `the last page holds at most ${max}`);
  });
}

describe("paged Get Page Ranges on the snapshot data endpoint", () => {
  const stack = useTestStack();
  let snapshot: PageBlobClient;
  let olderUrl: string;
  let newerUrl: string;

  before(async () => {
    const compute = computeClient(stack());
    const diskId = await createEmptyDisk(compute, "paged-disk", 1);
    for (let i = 0; i < 20; i++) stack().disks.writeSeeded(diskId, i * MiB, 4 * KiB, i);
    // Two extents that touch: listed as one range, which paging must never split.
    stack().disks.writeSeeded(diskId, 30 * MiB, 4 * KiB, 30);
    stack().disks.writeSeeded(diskId, 30 * MiB + 4 * KiB, 4 * KiB, 31);
    await takeSnapshot(compute, "paged-disk-1", diskId);
    for (let i = 0; i < 20; i += 2) stack().disks.trim(diskId, i * MiB, 4 * KiB);
    for (let i = 0; i < 6; i++) stack().disks.writeSeeded(diskId, 100 * MiB + i * MiB, 512, 40 + i);
    await takeSnapshot(compute, "paged-disk-2", diskId);
    olderUrl = await grantRead(compute, "paged-disk-1");
    newerUrl = await grantRead(compute, "paged-disk-2");
    snapshot = new PageBlobClient(olderUrl, new AnonymousCredential());
  });

  afterEach(() => stack().setPageListMaxRanges(10_000));

  test("when maxPageSize is smaller than the list, then each page holds that many whole ranges and the pages make the whole list", async () => {
    const [whole] = await pagesOf(snapshot, 0, GiB + 512);
    assert.equal(whole.length, 22, "20 ranges, one of two touching extents, and the footer page");
    assert.deepEqual(whole[20], { start: 30 * MiB, end: 30 * MiB + 8 * KiB - 1 });
    const pages = await pagesOf(snapshot, 0, GiB + 512, 5);
    assert.deepEqual(pages.map((p) => p.length), [5, 5, 5, 5, 2]);
    assert.deepEqual(pages.flat(), whole);
  });

  test("when a page ends right before a range of touching extents, then the next page starts with that range whole", async () => {
    const pages = await pagesOf(snapshot, 0, GiB + 512, 20);
    assert.deepEqual(pages[1][0], { start: 30 * MiB, end: 30 * MiB + 8 * KiB - 1 });
  });

  test("when a byte range is asked with paging, then the pages stay inside it", async () => {
    const pages = await pagesOf(snapshot, 3 * MiB, 10 * MiB, 4);
    assert.deepEqual(pages.flat(), Array.from({ length: 10 }, (_, i) => ({ start: (3 + i) * MiB, end: (3 + i) * MiB + 4 * KiB - 1 })));
    assertPageSizes(pages, 4);
  });

  test("when a managed-disk diff is paged with maxresults and marker, then the pages interleave PageRange and ClearRange and make the whole diff", async () => {
    const range = `bytes=0-${GiB + 511}`;
    const [whole] = await diffPages(newerUrl, olderUrl, range, 10_000);
    assert.equal(whole.filter((r) => r.kind === "ClearRange").length, 10);
    assert.equal(whole.filter((r) => r.kind === "PageRange").length, 6);
    const pages = await diffPages(newerUrl, olderUrl, range, 3);
    assertPageSizes(pages, 3);
    assert.deepEqual(pages.flat(), whole);
    assert.deepEqual(pages[3].map((r) => r.kind), ["ClearRange", "PageRange", "PageRange"], "both kinds count toward maxresults");
  });

  test("when the SDK asks a managed-disk diff longer than the cap, then it gets the first ranges and the continuation token", async () => {
    await stack().setPageListMaxRanges(4);
    const diff = await new PageBlobClient(newerUrl, new AnonymousCredential()).getPageRangesDiffForManagedDisks(0, GiB + 512, olderUrl);
    assert.equal((diff.clearRange?.length ?? 0) + (diff.pageRange?.length ?? 0), 4);
    assert.ok(continuationTokenOf(diff), "the response carries the NextMarker as continuationToken");
  });

  test("when the cap is lowered, then answers hold at most the cap even if maxresults asks for more", async () => {
    await stack().setPageListMaxRanges(6);
    const pages = await pagesOf(snapshot, 0, GiB + 512, 100);
    assert.deepEqual(pages.map((p) => p.length), [6, 6, 6, 4]);
  });

  test("when a list is complete, then the answer ends with an empty NextMarker; when not, with the marker", async () => {
    const complete = await rawPageList(olderUrl, "");
    assert.match(complete.body, /<NextMarker \/><\/PageList>$/);
    const partial = await rawPageList(olderUrl, "&maxresults=1");
    assert.equal(wireRanges(partial.body).length, 1);
    assert.ok(nextMarkerOf(partial.body));
  });

  test("when a request's version is before 2020-10-02, then the answer is the whole list without NextMarker, maxresults or not", async () => {
    await stack().setPageListMaxRanges(2);
    const whole = await rawPageList(olderUrl, "", { "x-ms-version": "2019-12-12" });
    const ranges = wireRanges(whole.body);
    assert.ok(ranges.length > 2, `more ranges than the cap: ${ranges.length}`);
    assert.doesNotMatch(whole.body, /NextMarker/);
    assert.deepEqual(wireRanges((await rawPageList(olderUrl, "&maxresults=1", { "x-ms-version": "2020-08-04" })).body), ranges);
    const paged = await rawPageList(olderUrl, "", { "x-ms-version": "2020-10-02" });
    assert.equal(wireRanges(paged.body).length, 2, "from 2020-10-02 the answer is paged");
  });

  test("when maxresults is not a positive integer, then the answer is 400 InvalidQueryParameterValue naming it", async () => {
    for (const value of ["0", "-1", "abc", "1.5"]) {
      const answer = await rawPageList(olderUrl, `&maxresults=${value}`);
      assert.deepEqual([answer.status, answer.code], [400, "InvalidQueryParameterValue"], value);
      assert.match(answer.body, /<QueryParameterName>maxresults<\/QueryParameterName>/);
    }
  });

  test("when the marker is not one the endpoint gave, or was given for another byte range, then the answer is 400 InvalidQueryParameterValue", async () => {
    await rejectsWithStorageError(snapshot.listPageRanges(0, GiB + 512).byPage({ continuationToken: "garbage", maxPageSize: 2 }).next(), 400, "InvalidQueryParameterValue");
    const first = await snapshot.listPageRanges(0, GiB + 512).byPage({ maxPageSize: 2 }).next();
    const marker = first.value?.continuationToken as string;
    assert.ok(marker);
    await rejectsWithStorageError(snapshot.listPageRanges(0, 512 * MiB).byPage({ continuationToken: marker, maxPageSize: 2 }).next(), 400, "InvalidQueryParameterValue");
  });

  test("when a snapshot has more than 10,000 ranges, then one answer holds 10,000 and the next the rest", async () => {
    const compute = computeClient(stack());
    const diskId = await createEmptyDisk(compute, "fragmented-disk", 1);
    for (let i = 0; i <= 10_000; i++) stack().disks.writeSeeded(diskId, i * KiB, 512, 1);
    await takeSnapshot(compute, "fragmented-disk-1", diskId);
    const fragmented = new PageBlobClient(await grantRead(compute, "fragmented-disk-1"), new AnonymousCredential());
    const pages = await pagesOf(fragmented, 0, GiB + 512);
    assert.deepEqual(pages.map((p) => p.length), [10_000, 2], "10,001 written ranges and the footer page");
  });
});

describe("paged Get Page Ranges on the target storage, through the blob proxy", () => {
  const stack = useTestStack();
  let container: ContainerClient;
  let blob: PageBlobClient;

  before(async () => {
    container = targetBlobService(stack()).getContainerClient("paged-ranges");
    await container.create();
    blob = container.getPageBlobClient("target.vhd");
    await blob.create(64 * MiB);
    for (let i = 0; i < 12; i++) await blob.uploadPages(Buffer.alloc(512, i + 1), i * MiB, 512);
  });

  afterEach(() => stack().setPageListMaxRanges(10_000));

  const expected = (from: number, to: number): Range[] =>
    Array.from({ length: to - from }, (_, i) => ({ start: (from + i) * MiB, end: (from + i) * MiB + 511 }));

  test("when maxPageSize is smaller than the list, then the pages hold that many ranges and make the whole list", async () => {
    const pages = await pagesOf(blob, 0, 64 * MiB, 5);
    assert.deepEqual(pages.map((p) => p.length), [5, 5, 2]);
    assert.deepEqual(pages.flat(), expected(0, 12));
  });

  test("when a byte range of a blob snapshot is paged, then the pages stay in the range and show the snapshot", async () => {
    const { snapshot } = await blob.createSnapshot();
    await blob.uploadPages(Buffer.alloc(512, 0xee), 40 * MiB, 512);
    const snapshotBlob = blob.withSnapshot(snapshot ?? "");
    const pages = await pagesOf(snapshotBlob, 2 * MiB, 8 * MiB, 3);
    assert.deepEqual(pages.map((p) => p.length), [3, 3, 2]);
    assert.deepEqual(pages.flat(), expected(2, 10));
    assert.equal((await pagesOf(snapshotBlob, 0, 64 * MiB)).flat().length, 12, "the later write is not in the snapshot");
    await blob.clearPages(40 * MiB, 512);
  });

  test("when the cap is set, then an answer without maxresults holds the cap and the continuation token", async () => {
    await stack().setPageListMaxRanges(4);
    const answer = await blob.getPageRanges();
    assert.equal(answer.pageRange?.length, 4);
    assert.ok(continuationTokenOf(answer));
    const pages = await pagesOf(blob, 0, 64 * MiB, 10);
    assert.deepEqual(pages.map((p) => p.length), [4, 4, 4]);
  });

  test("when a request's version is before 2020-10-02, then the proxy answers the whole list without NextMarker", async () => {
    await stack().setPageListMaxRanges(4);
    const sasUrl = await blob.generateSasUrl({ permissions: BlobSASPermissions.parse("r"), expiresOn: new Date(Date.now() + 600_000) });
    const whole = await rawPageList(sasUrl, "", { "x-ms-version": "2019-12-12" });
    assert.equal(whole.status, 200, whole.body);
    assert.equal(wireRanges(whole.body).length, 12);
    assert.doesNotMatch(whole.body, /NextMarker/);
    assert.equal(wireRanges((await rawPageList(sasUrl, "")).body).length, 4, "a current version is paged");
  });

  test("when maxresults or the marker is invalid, then the proxy answers 400 InvalidQueryParameterValue", async () => {
    const sasUrl = await blob.generateSasUrl({ permissions: BlobSASPermissions.parse("r"), expiresOn: new Date(Date.now() + 600_000) });
    const answer = await rawPageList(sasUrl, "&maxresults=0");
    assert.deepEqual([answer.status, answer.code], [400, "InvalidQueryParameterValue"]);
    assert.match(answer.body, /<QueryParameterName>maxresults<\/QueryParameterName>/);
    await rejectsWithStorageError(blob.listPageRanges().byPage({ continuationToken: "garbage" }).next(), 400, "InvalidQueryParameterValue");
    const first = await blob.listPageRanges(0, 64 * MiB).byPage({ maxPageSize: 2 }).next();
    const marker = first.value?.continuationToken as string;
    await rejectsWithStorageError(blob.listPageRanges(0, 32 * MiB).byPage({ continuationToken: marker }).next(), 400, "InvalidQueryParameterValue");
  });

  test("when a Shared Key signed listing carries maxresults and marker, then Azurite still verifies the signature", async () => {
    const second = await blob.listPageRanges(0, 64 * MiB).byPage({ maxPageSize: 2 }).next();
    const token = second.value?.continuationToken as string;
    const rest = await blob.listPageRanges(0, 64 * MiB).byPage({ maxPageSize: 100, continuationToken: token }).next();
    assert.deepEqual((rest.value?.pageRange ?? []).map(({ start, end }: Range) => ({ start, end })), expected(2, 12));
  });
});
