/**
 * Contract tests of the managed-disk data endpoint behind accessSAS through the real `PageBlobClient`: the
 * fixed-VHD content, Get Page Ranges, the managed-disk diff, the operations a read SAS may and may not ask for, and
 * the SAS lifecycle.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { ComputeManagementClient } from "@azure/arm-compute";
import type { IncomingMessage, ServerResponse } from "node:http";
import { AnonymousCredential, BlockBlobClient, PageBlobClient } from "@azure/storage-blob";
import type { DiskControl } from "../../emulator/disks";
import { seededBytes } from "../../emulator/disks/seeded";
import { parseVhdFooter } from "../../emulator/disks/vhd";
import {
  createEmptyDisk,
  fastPolling,
  gib,
  grantRead,
  resourceGroup,
  startDiskEmulatorServer,
  takeSnapshot,
  type DiskEmulatorServer,
} from "../support/disk-emulator-server";

const kib = 1024;
const mib = 1024 * kib;
const tib = 1024 * gib;

/** A range as the SDK reports it: `count` is end - start, one less than the real length. */
type SdkRange = { offset: number; count: number };
/** The SDK form of the byte range [start, start + length). */
const sdk = (start: number, length: number): SdkRange => ({ offset: start, count: length - 1 });

/** The storage error code and HTTP status a data-plane call failed with. */
async function storageFailure(call: () => Promise<unknown>): Promise<{ status?: number; code?: string }> {
  try {
    await call();
  } catch (error) {
    const e = error as { statusCode?: number; code?: string; details?: { errorCode?: string } };
    return { status: e.statusCode, code: e.details?.errorCode ?? e.code };
  }
  assert.fail("the call was expected to fail");
}

/** A client of one data URL; the SAS in the URL is the only credential. */
function sasBlob(url: string): PageBlobClient {
  return new PageBlobClient(url, new AnonymousCredential());
}

async function download(blob: PageBlobClient, offset: number, length: number): Promise<Buffer> {
  return blob.downloadToBuffer(offset, length);
}

describe("disk emulator snapshot data endpoint", () => {
  let server: DiskEmulatorServer;
  let compute: ComputeManagementClient;
  let control: DiskControl;

  before(async () => {
    server = await startDiskEmulatorServer();
    compute = server.compute;
    control = server.emulator.control;
  });
  after(() => server.close());

  /** Creates a disk, lets `before` write to it, snapshots, lets `between` write, snapshots again, grants both. */
  async function twoSnapshots(
    name: string,
    sizeGB: number,
    beforeFirst: (id: string) => void,
    between: (id: string) => void,
  ): Promise<{ id: string; older: PageBlobClient; newer: PageBlobClient; olderUrl: string }> {
    const id = await createEmptyDisk(compute, name, sizeGB);
    beforeFirst(id);
    await takeSnapshot(compute, `${name}-1`, id);
    between(id);
    await takeSnapshot(compute, `${name}-2`, id);
    const olderUrl = await grantRead(compute, `${name}-1`);
    const newerUrl = await grantRead(compute, `${name}-2`);
    return { id, older: sasBlob(olderUrl), newer: sasBlob(newerUrl), olderUrl };
  }

  it("when pages are overwritten, rewritten unchanged, trimmed and added, then the diff lists exactly those", async () => {
    const { newer, olderUrl } = await twoSnapshots(
      "disk-diff",
      1,
      (id) => {
        control.writeSeeded(id, 0, 64 * kib, 1);
        control.writeSeeded(id, 1 * mib, 8 * kib, 2);
        control.writeSeeded(id, 10 * mib, 4 * kib, 3);
        control.writeSeeded(id, 20 * mib, 4 * kib, 4);
      },
      (id) => {
        control.writeSeeded(id, 4 * kib, 4 * kib, 5);
        control.writeSeeded(id, 1 * mib, 8 * kib, 2);
        control.trim(id, 10 * mib, 4 * kib);
        control.trim(id, 20 * mib + 1024, 1024);
        control.writeSeeded(id, 20 * mib + 2048, 512, 6);
        control.writeSeeded(id, 100 * mib, 512, 7);
      },
    );
    const diff = await newer.getPageRangesDiffForManagedDisks(0, gib + 512, olderUrl);
    assert.deepEqual(diff.pageRange, [
      sdk(4 * kib, 4 * kib),
      sdk(1 * mib, 8 * kib),
      sdk(20 * mib + 2048, 512),
      sdk(100 * mib, 512),
    ]);
    assert.deepEqual(diff.clearRange, [sdk(10 * mib, 4 * kib), sdk(20 * mib + 1024, 1024)]);
    assert.equal(diff.blobContentLength, gib + 512);

    const changed = await download(newer, 4 * kib, 4 * kib);
    assert.ok(changed.equals(seededBytes(4 * kib, 4 * kib, 5)), "the overwrite's bytes are served at its offset");
    assert.ok((await download(newer, 10 * mib, 4 * kib)).equals(Buffer.alloc(4 * kib)), "trimmed pages read as zeros");
    assert.ok((await download(newer, 0, 4 * kib)).equals(seededBytes(0, 4 * kib, 1)), "unchanged pages keep their bytes");
  });

  it("when a diff is asked over the wire, then the XML interleaves PageRange and ClearRange in offset order and ends with an empty NextMarker", async () => {
    const { newer, olderUrl } = await twoSnapshots(
      "disk-xml",
      1,
      (id) => control.writeSeeded(id, 0, 4 * kib, 1),
      (id) => {
        control.writeSeeded(id, 0, 512, 2);
        control.trim(id, 512, 1024);
        control.writeSeeded(id, 2048, 512, 3);
      },
    );
    const res = await fetch(`${newer.url}&comp=pagelist`, {
      headers: { "x-ms-version": "2021-08-06", "x-ms-previous-snapshot-url": olderUrl, "x-ms-range": "bytes=0-1048575" },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-ms-version"), "2021-08-06");
    assert.equal(res.headers.get("x-ms-blob-content-length"), String(gib + 512));
    assert.equal(
      await res.text(),
      '<?xml version="1.0" encoding="utf-8"?><PageList>' +
        "<PageRange><Start>0</Start><End>511</End></PageRange>" +
        "<ClearRange><Start>512</Start><End>1535</End></ClearRange>" +
        "<PageRange><Start>2048</Start><End>2559</End></PageRange>" +
        "<NextMarker /></PageList>",
    );
  });

  it("when one page changed, then the SDK reports it as {offset, count: end - start}, one short of its length", async () => {
    const { newer, olderUrl } = await twoSnapshots("disk-quirk", 1, () => undefined, (id) => control.writeSeeded(id, 0, 512, 9));
    const diff = await newer.getPageRangesDiffForManagedDisks(0, 4 * mib, olderUrl);
    assert.deepEqual(diff.pageRange, [{ offset: 0, count: 511 }]);
    const length = (diff.pageRange?.[0]?.count ?? 0) + 1;
    assert.equal(length, 512);
  });

  it("when a changed range spans the query window's edge, then each window lists only its part", async () => {
    const { newer, olderUrl } = await twoSnapshots(
      "disk-window",
      1,
      () => undefined,
      (id) => control.writeSeeded(id, 4 * mib - 8 * kib, 16 * kib, 11),
    );
    const first = await newer.getPageRangesDiffForManagedDisks(0, 4 * mib, olderUrl);
    const second = await newer.getPageRangesDiffForManagedDisks(4 * mib, 4 * mib, olderUrl);
    assert.deepEqual(first.pageRange, [sdk(4 * mib - 8 * kib, 8 * kib)]);
    assert.deepEqual(second.pageRange, [sdk(4 * mib, 8 * kib)]);
    const plain = await newer.getPageRanges(4 * mib, 4 * mib);
    assert.deepEqual(plain.pageRange, [sdk(4 * mib, 8 * kib)]);
  });

  it("when a big disk changes near 4 TiB, then the diff and the bytes are at that offset", async () => {
    const high = 4 * tib - 3 * 512;
    const { newer, olderUrl } = await twoSnapshots(
      "disk-high",
      5 * 1024,
      (id) => control.writeSeeded(id, 0, 512, 1),
      (id) => control.writeSeeded(id, high, 64 * kib, 12),
    );
    const whole = await newer.getPageRangesDiffForManagedDisks(0, 5 * tib + 512, olderUrl);
    assert.deepEqual(whole.pageRange, [sdk(high, 64 * kib)]);
    assert.deepEqual(whole.clearRange, []);
    const bytes = await download(newer, high, 64 * kib);
    assert.ok(bytes.equals(seededBytes(high, 64 * kib, 12)));
    assert.ok(!bytes.equals(seededBytes(0, 64 * kib, 12)), "content depends on the offset, not only the seed");
  });

  it("when a snapshot is read, then it is a fixed VHD: data, then a valid footer on a listed page", async () => {
    const id = await createEmptyDisk(compute, "disk-vhd", 2);
    control.writeSeeded(id, 0, 512, 1);
    await takeSnapshot(compute, "disk-vhd-1", id);
    const blob = sasBlob(await grantRead(compute, "disk-vhd-1"));
    const properties = await blob.getProperties();
    assert.equal(properties.contentLength, 2 * gib + 512);
    assert.equal(properties.blobType, "PageBlob");
    assert.ok(properties.etag);
    const footer = parseVhdFooter(await download(blob, 2 * gib, 512));
    assert.ok(!("invalid" in footer), "footer is valid");
    assert.equal(footer.currentSize, 2 * gib);
    assert.equal(footer.diskType, 2);
    const ranges = await blob.getPageRanges(0, 2 * gib + 512);
    assert.deepEqual(ranges.pageRange, [sdk(0, 512), sdk(2 * gib, 512)]);
  });

  it("when a range starts past the end of the blob, then the answer is 416 InvalidRange", async () => {
    const id = await createEmptyDisk(compute, "disk-416", 1);
    await takeSnapshot(compute, "disk-416-1", id);
    const blob = sasBlob(await grantRead(compute, "disk-416-1"));
    const failure = await storageFailure(() => blob.download(gib + 512, 512));
    assert.deepEqual([failure.status, failure.code], [416, "InvalidRange"]);
  });

  it("when the disk grew between snapshots, then the old footer page is cleared and the new one listed", async () => {
    const { newer, olderUrl } = await twoSnapshots(
      "disk-grow",
      1,
      (id) => control.writeSeeded(id, 0, 512, 1),
      () => undefined,
    );
    await compute.disks.update(resourceGroup, "disk-grow", { diskSizeGB: 2 }, fastPolling);
    const id = (await compute.disks.get(resourceGroup, "disk-grow")).id as string;
    await takeSnapshot(compute, "disk-grow-3", id);
    const grown = sasBlob(await grantRead(compute, "disk-grow-3"));
    const diff = await grown.getPageRangesDiffForManagedDisks(0, 2 * gib + 512, olderUrl);
    assert.deepEqual(diff.clearRange, [sdk(gib, 512)]);
    assert.deepEqual(diff.pageRange, [sdk(2 * gib, 512)]);
    assert.equal((await newer.getProperties()).contentLength, gib + 512);
  });

  it("when the disk grew past 4 TiB between snapshots, then the diff is refused", async () => {
    const { olderUrl } = await twoSnapshots("disk-4tib", 4 * 1024, () => undefined, () => undefined);
    await compute.disks.update(resourceGroup, "disk-4tib", { diskSizeGB: 4 * 1024 + 1 }, fastPolling);
    const id = (await compute.disks.get(resourceGroup, "disk-4tib")).id as string;
    await takeSnapshot(compute, "disk-4tib-3", id);
    const grown = sasBlob(await grantRead(compute, "disk-4tib-3"));
    const failure = await storageFailure(() => grown.getPageRangesDiffForManagedDisks(0, 4 * mib, olderUrl));
    assert.deepEqual([failure.status, failure.code], [409, "PreviousSnapshotOperationNotSupported"]);
  });

  it("when the previous snapshot is of another family, then the diff is refused", async () => {
    const firstId = await createEmptyDisk(compute, "disk-family", 1);
    await takeSnapshot(compute, "disk-family-old", firstId);
    await compute.disks.delete(resourceGroup, "disk-family", fastPolling);
    const secondId = await createEmptyDisk(compute, "disk-family", 1);
    await takeSnapshot(compute, "disk-family-new", secondId);
    const olderUrl = await grantRead(compute, "disk-family-old");
    const newer = sasBlob(await grantRead(compute, "disk-family-new"));
    const failure = await storageFailure(() => newer.getPageRangesDiffForManagedDisks(0, 4 * mib, olderUrl));
    assert.deepEqual([failure.status, failure.code], [409, "PreviousSnapshotOperationNotSupported"]);
  });

  it("when the previous snapshot is the newer one, then the diff is refused with 400", async () => {
    const { older, newer } = await twoSnapshots("disk-order", 1, () => undefined, () => undefined);
    const failure = await storageFailure(() => older.getPageRangesDiffForManagedDisks(0, 4 * mib, newer.url));
    assert.deepEqual([failure.status, failure.code], [400, "PreviousSnapshotCannotBeNewer"]);
  });

  /** A granted snapshot of a fresh 1 GiB disk with one written page, as a client of its data URL. */
  async function grantedSnapshot(name: string): Promise<PageBlobClient> {
    const id = await createEmptyDisk(compute, name, 1);
    control.writeSeeded(id, 0, 512, 1);
    await takeSnapshot(compute, `${name}-1`, id);
    return sasBlob(await grantRead(compute, `${name}-1`));
  }

  it("when Get Blob Metadata is asked (GET and HEAD ?comp=metadata), then it answers 200 with the blob's ETag and Last-Modified and no body", async () => {
    const blob = await grantedSnapshot("disk-metadata");
    const properties = await blob.getProperties();
    for (const method of ["GET", "HEAD"]) {
      const res = await fetch(`${blob.url}&comp=metadata`, { method, headers: { "x-ms-version": "2021-08-06" } });
      const body = Buffer.from(await res.arrayBuffer());
      assert.equal(res.status, 200, method);
      assert.equal(res.headers.get("content-length"), "0", `${method}: headers only, not the disk's length`);
      assert.equal(body.length, 0, method);
      assert.equal(res.headers.get("etag"), properties.etag, method);
      assert.equal(res.headers.get("last-modified"), properties.lastModified?.toUTCString(), method);
      assert.equal(res.headers.get("x-ms-version"), "2021-08-06", method);
      assert.ok(res.headers.get("x-ms-request-id"), method);
      assert.equal(res.headers.get("x-ms-blob-type"), null, `${method}: Get Blob Metadata does not answer the blob's properties`);
      assert.deepEqual([...res.headers.keys()].filter((name) => name.startsWith("x-ms-meta-")), [], `${method}: the blob has no metadata`);
    }
    const unchanged = await fetch(`${blob.url}&comp=metadata`, { headers: { "If-None-Match": properties.etag ?? "" } });
    assert.equal(unchanged.status, 304, "the conditional headers apply to Get Blob Metadata too");
  });

  it("when Get Blob Tags is asked with the read SAS, then it is refused 403 AuthorizationPermissionMismatch: reading tags needs the SAS's t permission", async () => {
    const blob = await grantedSnapshot("disk-tags");
    const failure = await storageFailure(() => blob.getTags());
    assert.deepEqual([failure.status, failure.code], [403, "AuthorizationPermissionMismatch"]);
    const res = await fetch(`${blob.url}&comp=tags`, { headers: { "x-ms-version": "2021-08-06" } });
    assert.equal(res.status, 403);
    assert.ok(!(await res.text()).includes("TagSet"), "no tags are answered");
  });

  it("when Get Block List is asked of the snapshot's page blob, then it is refused 400 InvalidBlobType", async () => {
    const blob = await grantedSnapshot("disk-blocklist");
    const failure = await storageFailure(() => new BlockBlobClient(blob.url, new AnonymousCredential()).getBlockList("committed"));
    assert.deepEqual([failure.status, failure.code], [400, "InvalidBlobType"]);
  });

  it("when comp names no blob operation, then it is refused 400 InvalidQueryParameterValue naming comp and its value, before any condition", async () => {
    const blob = await grantedSnapshot("disk-bogus-comp");
    const { etag } = await blob.getProperties();
    const conditions: Record<string, string>[] = [{}, { "If-None-Match": etag ?? "" }];
    for (const headers of conditions) {
      const res = await fetch(`${blob.url}&comp=bogus`, { headers: { "x-ms-version": "2021-08-06", ...headers } });
      assert.equal(res.status, 400);
      assert.equal(res.headers.get("x-ms-error-code"), "InvalidQueryParameterValue");
      const body = await res.text();
      assert.match(body, /<QueryParameterName>comp<\/QueryParameterName>/);
      assert.match(body, /<QueryParameterValue>bogus<\/QueryParameterValue>/);
      assert.match(body, /<Reason>[^<]+<\/Reason>/);
    }
    const head = await fetch(`${blob.url}&comp=bogus`, { method: "HEAD" });
    assert.deepEqual([head.status, head.headers.get("x-ms-error-code")], [400, "InvalidQueryParameterValue"]);
    const empty = await fetch(`${blob.url}&comp=`);
    assert.deepEqual([empty.status, empty.headers.get("x-ms-error-code")], [400, "InvalidQueryParameterValue"]);
  });

  it("when a long read streams to a slow reader, then the endpoint's listeners on the answer do not grow with the bytes sent", async () => {
    const blob = await grantedSnapshot("disk-listeners");
    const answers: ServerResponse[] = [];
    const handle = server.emulator.handle;
    server.emulator.handle = (req: IncomingMessage, res: ServerResponse) => {
      answers.push(res);
      return handle(req, res);
    };
    const listeners = (res: ServerResponse) => ({ close: res.listenerCount("close"), error: res.listenerCount("error"), drain: res.listenerCount("drain") });
    try {
      const res = await fetch(blob.url);
      assert.equal(res.status, 200);
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      let read = 0;
      /** Reads until `bytes` have arrived, then stops reading until the server waits for the socket to drain. */
      const readUpTo = async (bytes: number) => {
        while (read < bytes) {
          const { value, done } = await reader.read();
          assert.ok(!done, "the disk is longer than this read");
          read += value.length;
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      };
      await readUpTo(8 * mib);
      const [answer] = answers;
      const early = listeners(answer);
      await readUpTo(96 * mib);
      assert.deepEqual(listeners(answer), early, "a wait for the socket to drain leaves no listener behind");
      await reader.cancel();
    } finally {
      server.emulator.handle = handle;
    }
  });

  it("when the signature is forged, then the answer is 403 AuthenticationFailed", async () => {
    const id = await createEmptyDisk(compute, "disk-forged", 1);
    await takeSnapshot(compute, "disk-forged-1", id);
    const url = new URL(await grantRead(compute, "disk-forged-1"));
    url.searchParams.set("sig", Buffer.alloc(32, 7).toString("base64"));
    const failure = await storageFailure(() => sasBlob(url.toString()).getProperties());
    assert.equal(failure.status, 403);
    const res = await fetch(url, { method: "GET" });
    assert.equal(res.headers.get("x-ms-error-code"), "AuthenticationFailed");
    assert.ok(!(await res.text()).includes(url.searchParams.get("sig") ?? "-"), "the signature is not echoed");
  });

  it("when access is revoked, then the SAS stops working at once", async () => {
    const id = await createEmptyDisk(compute, "disk-revoke", 1);
    await takeSnapshot(compute, "disk-revoke-1", id);
    const blob = sasBlob(await grantRead(compute, "disk-revoke-1"));
    assert.equal((await blob.getProperties()).contentLength, gib + 512);
    await compute.snapshots.revokeAccess(resourceGroup, "disk-revoke-1", fastPolling);
    const failure = await storageFailure(() => blob.getProperties());
    assert.deepEqual([failure.status, failure.code], [403, "AuthenticationFailed"]);
  });

  it("when durationInSeconds passes, then the SAS expires and the snapshot is no longer ActiveSAS", async () => {
    const id = await createEmptyDisk(compute, "disk-expiry", 1);
    await takeSnapshot(compute, "disk-expiry-1", id);
    const blob = sasBlob(await grantRead(compute, "disk-expiry-1", 1));
    assert.equal((await blob.getProperties()).contentLength, gib + 512);
    let failure: { status?: number } | undefined;
    for (let attempt = 0; attempt < 40 && !failure; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      failure = await blob.getProperties().then(
        () => undefined,
        (error: { statusCode?: number }) => ({ status: error.statusCode }),
      );
    }
    assert.equal(failure?.status, 403);
    assert.equal((await compute.snapshots.get(resourceGroup, "disk-expiry-1")).diskState, "Unattached");
  });

  it("when openSource is given a data URL, then it reads the same bytes the endpoint serves", async () => {
    const id = await createEmptyDisk(compute, "disk-source", 1);
    control.writeSeeded(id, 8 * kib, 8 * kib, 21);
    await takeSnapshot(compute, "disk-source-1", id);
    const url = await grantRead(compute, "disk-source-1");
    const source = server.emulator.openSource(new URL(url));
    assert.ok(source);
    assert.equal(source.sizeBytes, gib + 512);
    assert.ok(source.read(8 * kib, 8 * kib).equals(seededBytes(8 * kib, 8 * kib, 21)));
    assert.equal(server.emulator.openSource(new URL("https://example.invalid/container/blob")), undefined);
  });
});
