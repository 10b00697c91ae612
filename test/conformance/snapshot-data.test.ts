/**
 * Conformance: what diskdelta reads from incremental snapshots and how it copies them. ARM snapshot fields, grant
 * and revoke, the snapshot data endpoint (ranged reads, Get Page Ranges paged with NextMarker, the managed-disk
 * diff with x-ms-previous-snapshot-url) and Put Page From URL into a page blob of the target account, bytes
 * compared by hash. Runs unchanged against the local stack and a real subscription (docs/conformance.md). The
 * tests run in order: each starts from the state the previous one left.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import type { Snapshot } from "@azure/arm-compute";
import { AnonymousCredential, PageBlobClient } from "@azure/storage-blob";
import { computeClient, runTags, targetBlobService, testTimeoutMs, useConformanceTarget, type DiskWrite } from "./target";

const KiB = 1024;
const MiB = 1024 * KiB;
const pageBytes = 512;
const maxPutPageBytes = 4 * MiB;

/** A half-open byte range. */
interface Range {
  start: number;
  end: number;
}

/** The disk's content when it is made: three ranges far apart, so a listing that merges or drops one shows. */
const diskBytes = 32 * MiB;
const initialWrites: DiskWrite[] = [
  { offset: 0, data: randomBytes(64 * KiB) },
  { offset: 12 * MiB + 4 * KiB, data: randomBytes(MiB) },
  { offset: 28 * MiB, data: randomBytes(512 * KiB) },
];
/** Written between the two snapshots where the target can write a disk (locally; live needs a VM). */
const laterWrite: DiskWrite = { offset: 20 * MiB + pageBytes, data: randomBytes(256 * KiB) };
/** Never written: no listing may reach into it. */
const unwrittenGap: Range = { start: 2 * MiB, end: 10 * MiB };

const rangeOf = ({ offset, data }: DiskWrite): Range => ({ start: offset, end: offset + data.length });

/** Listing ranges have inclusive ends; half-open here. */
function fromSdk(ranges: { start: number; end: number }[] | undefined): Range[] {
  return (ranges ?? []).map((r) => ({ start: r.start, end: r.end + 1 }));
}

/** The managed-disk diff answers `{offset, count}` with count = end - start, one byte short (AZURE-FACTS.md). */
function fromDiff(ranges: { offset: number; count?: number }[] | undefined): Range[] {
  return (ranges ?? []).map((r) => {
    assert.ok(r.count !== undefined, `the diff listed a range at ${r.offset} without an end`);
    return { start: r.offset, end: r.offset + r.count + 1 };
  });
}

function covers(listed: Range[], wanted: Range): boolean {
  let at = wanted.start;
  for (const r of [...listed].sort((a, b) => a.start - b.start)) if (r.start <= at && r.end > at) at = r.end;
  return at >= wanted.end;
}

function within(range: Range, allowed: Range[]): boolean {
  return covers(allowed, range);
}

/** Splits ranges into Put Page sized pieces (≤ 4 MiB). */
function pieces(ranges: Range[]): Range[] {
  return ranges.flatMap((r) => {
    const out: Range[] = [];
    for (let at = r.start; at < r.end; at += maxPutPageBytes) out.push({ start: at, end: Math.min(r.end, at + maxPutPageBytes) });
    return out;
  });
}

async function hashOf(blob: PageBlobClient, ranges: Range[]): Promise<string> {
  const hash = createHash("sha256");
  for (const r of ranges) hash.update(await blob.downloadToBuffer(r.start, r.end - r.start));
  return hash.digest("hex");
}

/** Every range of a Get Page Ranges listing, page by page, and how many answers it took. */
async function listAllPages(blob: PageBlobClient, length: number, maxPageSize?: number) {
  const ranges: Range[] = [];
  const markers: (string | undefined)[] = [];
  for await (const page of blob.listPageRanges(0, length).byPage({ maxPageSize })) {
    ranges.push(...fromSdk(page.pageRange));
    markers.push(page.continuationToken || undefined);
  }
  return { ranges, markers };
}

describe("conformance: incremental snapshots, their data endpoint and Put Page From URL", { timeout: 14 * testTimeoutMs }, () => {
  const target = useConformanceTarget("snapshot-data");
  const poll = () => ({ updateIntervalInMs: target().pollIntervalMs });
  let diskId = "";
  let diskUniqueId = "";
  let base: Snapshot;
  let next: Snapshot;
  let baseSas = "";
  let nextSas = "";
  let contentLength = 0;
  /** What was written between the snapshots: nothing where the target cannot write a disk. */
  let changes: DiskWrite[] = [];

  async function takeSnapshot(name: string, id: string): Promise<Snapshot> {
    const t = target();
    t.track(id);
    return computeClient(t).snapshots.beginCreateOrUpdateAndWait(
      t.source.resourceGroup,
      name,
      { location: t.source.location, tags: runTags(t), incremental: true, creationData: { createOption: "Copy", sourceResourceId: diskId } },
      poll(),
    );
  }

  async function grantRead(name: string): Promise<string> {
    const t = target();
    const access = await computeClient(t).snapshots.beginGrantAccessAndWait(
      t.source.resourceGroup, name, { access: "Read", durationInSeconds: 3600 }, poll());
    assert.match(access.accessSAS ?? "", /^https:\/\//, "grant access answers an https accessSAS");
    return access.accessSAS ?? "";
  }

  const sourceBlob = (sas: string) => new PageBlobClient(sas, new AnonymousCredential());

  it("when a disk is made holding data, then ARM reports it Succeeded with its size and uniqueId", { timeout: testTimeoutMs }, async () => {
    const t = target();
    const disk = await t.createDiskWithData(t.resources.dataDisk, diskBytes, initialWrites);
    assert.equal(disk.provisioningState, "Succeeded");
    assert.ok((disk.diskSizeBytes ?? 0) >= diskBytes, `disk size ${disk.diskSizeBytes} holds the ${diskBytes} bytes asked for`);
    assert.match(disk.uniqueId ?? "", /^[0-9a-f-]{36}$/i);
    diskId = disk.id ?? "";
    diskUniqueId = disk.uniqueId ?? "";
    assert.equal(diskId.toLowerCase(), t.resources.dataDisk.id.toLowerCase());
  });

  it("when an incremental snapshot is created, then get reports the fields diskdelta relies on", { timeout: testTimeoutMs }, async () => {
    const t = target();
    const { baseSnapshot } = t.resources;
    await takeSnapshot(baseSnapshot.name, baseSnapshot.id);
    base = await computeClient(t).snapshots.get(t.source.resourceGroup, baseSnapshot.name);
    const disk = await computeClient(t).disks.get(t.source.resourceGroup, t.resources.dataDisk.name);
    assert.equal(base.id?.toLowerCase(), baseSnapshot.id.toLowerCase());
    assert.equal(base.incremental, true);
    assert.equal(base.provisioningState, "Succeeded");
    assert.ok(base.timeCreated instanceof Date && !Number.isNaN(base.timeCreated.getTime()), "timeCreated is a date");
    assert.equal(base.diskSizeBytes, disk.diskSizeBytes);
    assert.match(base.incrementalSnapshotFamilyId ?? "", /^[0-9a-f-]{36}$/i);
    assert.match(base.uniqueId ?? "", /^[0-9a-f-]{36}$/i);
    assert.equal(base.creationData?.createOption, "Copy");
    assert.equal(base.creationData?.sourceResourceId?.toLowerCase(), diskId.toLowerCase());
    assert.equal(base.creationData?.sourceUniqueId, diskUniqueId);
  });

  it("when a second snapshot of the same disk is created, then it is of the same family and created later", { timeout: testTimeoutMs }, async () => {
    const t = target();
    changes = t.canWriteDisk ? [laterWrite] : [];
    for (const { offset, data } of changes) await t.writeDisk(diskId, offset, data);
    const { nextSnapshot } = t.resources;
    await takeSnapshot(nextSnapshot.name, nextSnapshot.id);
    next = await computeClient(t).snapshots.get(t.source.resourceGroup, nextSnapshot.name);
    assert.equal(next.incremental, true);
    assert.equal(next.incrementalSnapshotFamilyId, base.incrementalSnapshotFamilyId);
    assert.equal(next.creationData?.sourceUniqueId, diskUniqueId);
    assert.notEqual(next.uniqueId, base.uniqueId);
    assert.ok((next.timeCreated?.getTime() ?? 0) >= (base.timeCreated?.getTime() ?? Infinity), "the later snapshot has the later timeCreated");
  });

  it("when read access is granted, then the SAS serves a blob of the disk size plus the 512-byte VHD footer", { timeout: testTimeoutMs }, async () => {
    baseSas = await grantRead(target().resources.baseSnapshot.name);
    nextSas = await grantRead(target().resources.nextSnapshot.name);
    const properties = await sourceBlob(baseSas).getProperties();
    contentLength = properties.contentLength ?? 0;
    assert.equal(contentLength, (base.diskSizeBytes ?? 0) + pageBytes);
    assert.equal(properties.blobType, "PageBlob");
  });

  it("when ranges of the snapshot are read, then they hold what was written and zeros elsewhere", { timeout: testTimeoutMs }, async () => {
    const blob = sourceBlob(baseSas);
    for (const write of initialWrites) {
      const answer = await blob.download(write.offset, write.data.length);
      assert.equal(answer.contentLength, write.data.length);
      assert.equal(answer.contentRange, `bytes ${write.offset}-${write.offset + write.data.length - 1}/${contentLength}`);
      assert.ok((await blob.downloadToBuffer(write.offset, write.data.length)).equals(write.data), `bytes at ${write.offset}`);
    }
    const gap = await blob.downloadToBuffer(unwrittenGap.start, MiB);
    assert.ok(gap.equals(Buffer.alloc(MiB)), "an unwritten range reads as zeros");
    const footer = await blob.downloadToBuffer(contentLength - pageBytes, pageBytes);
    assert.equal(footer.subarray(0, 8).toString("ascii"), "conectix", "the last 512 bytes are a VHD footer");
  });

  it("when page ranges are listed one per answer, then NextMarker pages them and together they cover every write and no unwritten gap", { timeout: testTimeoutMs }, async () => {
    const blob = sourceBlob(baseSas);
    const whole = await listAllPages(blob, contentLength);
    const paged = await listAllPages(blob, contentLength, 1);
    assert.deepEqual(paged.ranges, whole.ranges, "the pages joined are the whole listing");
    assert.ok(paged.markers.length >= initialWrites.length, `${paged.markers.length} answers for ${paged.ranges.length} ranges`);
    assert.ok(paged.markers.slice(0, -1).every((m) => m !== undefined), "every answer but the last carries a NextMarker");
    assert.equal(paged.markers.at(-1), undefined, "the last answer has an empty NextMarker");
    const footerPage = { start: contentLength - pageBytes, end: contentLength };
    for (const write of initialWrites) assert.ok(covers(whole.ranges, rangeOf(write)), `the write at ${write.offset} is listed`);
    for (const r of whole.ranges) {
      assert.equal(r.start % pageBytes, 0);
      assert.equal(r.end % pageBytes, 0);
      assert.ok(r.end <= unwrittenGap.start || r.start >= unwrittenGap.end, `listed ${r.start}-${r.end} reaches into never-written bytes`);
      assert.ok(within(r, [...initialWrites.map(rangeOf), footerPage]), `listed ${r.start}-${r.end} was not written`);
    }
  });

  it("when the later snapshot is diffed with x-ms-previous-snapshot-url, then exactly the pages written between them are listed", { timeout: testTimeoutMs }, async () => {
    const answer = await sourceBlob(nextSas).getPageRangesDiffForManagedDisks(0, contentLength, baseSas);
    const changed = fromDiff(answer.pageRange);
    const cleared = fromDiff(answer.clearRange);
    const written = changes.map(rangeOf);
    for (const w of written) assert.ok(covers(changed, w), `the change at ${w.start} is listed`);
    for (const r of changed) assert.ok(within(r, written), `listed ${r.start}-${r.end} did not change`);
    assert.deepEqual(cleared, [], "nothing was cleared");
    assert.equal((answer as { continuationToken?: string }).continuationToken || undefined, undefined, "the diff is complete in one answer");
  });

  it("when the diff names the newer snapshot as the previous one, then it is refused with 400 PreviousSnapshotCannotBeNewer (assumed)", { timeout: testTimeoutMs }, async () => {
    const failure = await sourceBlob(baseSas).getPageRangesDiffForManagedDisks(0, contentLength, nextSas).then(
      () => assert.fail("a diff against a newer snapshot was answered"),
      (error: { statusCode?: number; code?: string }) => ({ status: error.statusCode, code: error.code }),
    );
    assert.deepEqual(failure, { status: 400, code: "PreviousSnapshotCannotBeNewer" });
  });

  it("when the snapshot's ranges are copied with Put Page From URL into a page blob, then the blob holds the same bytes at the same offsets", { timeout: testTimeoutMs }, async () => {
    const t = target();
    const { container, copyBlob } = t.resources;
    const service = targetBlobService(t);
    t.track(container.url);
    await service.getContainerClient(container.container).create();
    t.track(copyBlob.url);
    const blob = service.getContainerClient(container.container).getPageBlobClient(copyBlob.blobName ?? "");
    await blob.create(contentLength);
    const source = await listAllPages(sourceBlob(nextSas), contentLength);
    for (const piece of pieces(source.ranges)) {
      await blob.uploadPagesFromURL(nextSas, piece.start, piece.start, piece.end - piece.start);
    }
    const copied = await listAllPages(blob, contentLength);
    assert.ok(source.ranges.every((r) => covers(copied.ranges, r)), "every source range is allocated in the copy");
    assert.equal(await hashOf(blob, source.ranges), await hashOf(sourceBlob(nextSas), source.ranges), "sha256 over the listed ranges");
    for (const w of [...initialWrites, ...changes]) {
      assert.ok((await blob.downloadToBuffer(w.offset, w.data.length)).equals(w.data), `written bytes at ${w.offset}`);
    }
  });

  it("when access is revoked, then the SAS no longer reads (403)", { timeout: testTimeoutMs }, async () => {
    const t = target();
    for (const name of [t.resources.nextSnapshot.name, t.resources.baseSnapshot.name]) {
      await computeClient(t).snapshots.beginRevokeAccessAndWait(t.source.resourceGroup, name, poll());
    }
    for (const sas of [baseSas, nextSas]) {
      const status = await sourceBlob(sas).getProperties().then(
        () => 200,
        (error: { statusCode?: number }) => error.statusCode,
      );
      assert.equal(status, 403);
    }
  });
});
