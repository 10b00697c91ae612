/**
 * Contract tests for storage behaviours on the local stack: range checksums (Content-MD5, x-ms-content-crc64) and
 * conditional reads on the snapshot data endpoint, and SAS restricted to https (`spr=https`) through the blob proxy.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { before, describe, test } from "node:test";
import {
  AnonymousCredential,
  BlobSASPermissions,
  ContainerClient,
  PageBlobClient,
  SASProtocol,
  StorageSharedKeyCredential,
  generateBlobSASQueryParameters,
} from "@azure/storage-blob";
import { storageCrc64, storageCrc64Header } from "../../emulator/dataplane/crc64";
import { computeClient, targetBlobService, useTestStack } from "../support/stack";

const MiB = 1024 * 1024;
const poll = { updateIntervalInMs: 10 };

describe("Azure Storage CRC64", () => {
  test("when the catalogue's check input is hashed, then the CRC-64/NVME check value comes out (0xAE8B14860A799888)", () => {
    // Check value of the CRC catalogue entry with Azure's parameters (reflected poly 0x9A6C9329AC4BC9B5, init and
    // xorout all ones), as pinned by public tests, e.g. aws-checksums' CRC64NVME and Go/Rust CRC-64/NVME suites.
    assert.equal(storageCrc64(Buffer.from("123456789")), 0xae8b14860a799888n);
    assert.equal(storageCrc64(Buffer.alloc(0)), 0n);
    assert.equal(storageCrc64(Buffer.alloc(32)), 0xcf3473434d4ecf3bn);
    // Azure sends the value little-endian (azure-storage-blob for Python: compute_crc64(...).to_bytes(8, 'little')).
    assert.equal(storageCrc64Header(Buffer.from("123456789")), Buffer.from("8898790a86148bae", "hex").toString("base64"));
  });
});

describe("the snapshot data endpoint: range checksums and conditions", () => {
  const stack = useTestStack();
  let sasUrl: string;
  let written: Buffer;

  before(async () => {
    const { arm } = stack();
    const compute = computeClient(stack());
    const disk = await compute.disks.beginCreateOrUpdateAndWait(
      "rg-data",
      "disk-sums",
      { location: arm.location, creationData: { createOption: "Empty" }, diskSizeGB: 1 },
      poll,
    );
    written = randomBytes(5 * MiB);
    stack().disks.write(disk.id ?? "", 0, written);
    await compute.snapshots.beginCreateOrUpdateAndWait(
      "rg-data",
      "snap-sums",
      { location: arm.location, incremental: true, creationData: { createOption: "Copy", sourceResourceId: disk.id } },
      poll,
    );
    const access = await compute.snapshots.beginGrantAccessAndWait("rg-data", "snap-sums", { access: "Read", durationInSeconds: 3600 }, poll);
    sasUrl = access.accessSAS ?? "";
  });

  test("when a range is read with its MD5 asked for, then Content-MD5 is the range's", async () => {
    const blob = new PageBlobClient(sasUrl, new AnonymousCredential());
    const answer = await blob.download(512, MiB, { rangeGetContentMD5: true });
    const expected = createHash("md5").update(written.subarray(512, 512 + MiB)).digest();
    assert.deepEqual(Buffer.from(answer.contentMD5 ?? new Uint8Array()), expected);
  });

  test("when a range is read with its CRC64 asked for, then x-ms-content-crc64 is the range's", async () => {
    const res = await fetch(sasUrl, { headers: { "x-ms-range": "bytes=1024-5119", "x-ms-range-get-content-crc64": "true" } });
    assert.equal(res.status, 206);
    const body = Buffer.from(await res.arrayBuffer());
    assert.ok(body.equals(written.subarray(1024, 5120)));
    assert.equal(res.headers.get("x-ms-content-crc64"), storageCrc64Header(body));
  });

  test("when a checksum is asked for over more than 4 MiB, without a range, or twice, then the answer is 400", async () => {
    const over = await fetch(sasUrl, { headers: { "x-ms-range": `bytes=0-${4 * MiB}`, "x-ms-range-get-content-md5": "true" } });
    assert.equal(over.status, 400);
    assert.equal(over.headers.get("x-ms-error-code"), "InvalidHeaderValue");
    const exactly = await fetch(sasUrl, { headers: { "x-ms-range": `bytes=0-${4 * MiB - 1}`, "x-ms-range-get-content-md5": "true" } });
    assert.equal(exactly.status, 206);
    assert.equal(exactly.headers.get("content-md5"), createHash("md5").update(written.subarray(0, 4 * MiB)).digest("base64"));
    await exactly.arrayBuffer();
    assert.equal((await fetch(sasUrl, { headers: { "x-ms-range-get-content-crc64": "true" } })).status, 400);
    const both = await fetch(sasUrl, {
      headers: { "x-ms-range": "bytes=0-511", "x-ms-range-get-content-md5": "true", "x-ms-range-get-content-crc64": "true" },
    });
    assert.equal(both.status, 400);
  });

  test("when reads carry conditions, then If-Match/If-Unmodified-Since fail with 412 and If-None-Match/If-Modified-Since give 304", async () => {
    const head = await fetch(sasUrl, { method: "HEAD" });
    const etag = head.headers.get("etag") ?? "";
    const lastModified = head.headers.get("last-modified") ?? "";
    const range = { "x-ms-range": "bytes=0-511" };
    const ok = await fetch(sasUrl, { headers: { ...range, "If-Match": etag, "If-Unmodified-Since": lastModified } });
    assert.equal(ok.status, 206);
    await ok.arrayBuffer();
    const wrongTag = await fetch(sasUrl, { headers: { ...range, "If-Match": '"0x8D000000000000000"' } });
    assert.deepEqual([wrongTag.status, wrongTag.headers.get("x-ms-error-code")], [412, "ConditionNotMet"]);
    const before = new Date(Date.parse(lastModified) - 60_000).toUTCString();
    const changedSince = await fetch(sasUrl, { method: "HEAD", headers: { "If-Unmodified-Since": before } });
    assert.equal(changedSince.status, 412);
    const same = await fetch(sasUrl, { headers: { ...range, "If-None-Match": etag } });
    assert.deepEqual([same.status, same.headers.get("etag")], [304, etag]);
    assert.equal((await fetch(sasUrl, { method: "HEAD", headers: { "If-None-Match": "*" } })).status, 304);
    assert.equal((await fetch(sasUrl, { headers: { ...range, "If-Modified-Since": lastModified } })).status, 304);
    const modified = await fetch(sasUrl, { headers: { ...range, "If-Modified-Since": before } });
    assert.equal(modified.status, 206);
    await modified.arrayBuffer();
    const pageList = await fetch(`${sasUrl}&comp=pagelist`, { headers: { "If-Match": '"other"' } });
    assert.equal(pageList.status, 412);
  });

  test("when the SDK downloads with a failing condition, then it gets the 412 as a RestError", async () => {
    const blob = new PageBlobClient(sasUrl, new AnonymousCredential());
    await assert.rejects(blob.download(0, 512, { conditions: { ifMatch: '"nope"' } }), { statusCode: 412 });
  });
});

describe("a SAS restricted to https, through the blob proxy", () => {
  const stack = useTestStack();
  let container: ContainerClient;

  function httpsOnlySas(permissions: string, blobName?: string, protocol = SASProtocol.Https): string {
    const { target } = stack();
    return generateBlobSASQueryParameters(
      {
        containerName: container.containerName,
        blobName,
        permissions: BlobSASPermissions.parse(permissions),
        expiresOn: new Date(Date.now() + 3600_000),
        protocol,
      },
      new StorageSharedKeyCredential(target.accountName, target.accountKey),
    ).toString();
  }

  before(async () => {
    container = targetBlobService(stack()).getContainerClient("https-only");
    await container.create();
  });

  test("when a page blob is created, written, copied into from a URL, listed and read with spr=https SAS, then all of it works", async () => {
    const source = container.getBlockBlobClient("source.bin");
    const data = randomBytes(MiB);
    await source.uploadData(data);
    const sourceUrl = `${source.url}?${httpsOnlySas("r", "source.bin")}`;

    const target = new PageBlobClient(`${container.getPageBlobClient("disk.vhd").url}?${httpsOnlySas("rcw", "disk.vhd")}`, new AnonymousCredential());
    await target.create(4 * MiB);
    await target.uploadPages(data.subarray(0, 512), 0, 512);
    await target.uploadPagesFromURL(sourceUrl, 0, 2 * MiB, MiB);
    const ranges = await target.getPageRanges();
    assert.deepEqual(ranges.pageRange, [{ offset: 0, count: 511 }, { offset: 2 * MiB, count: MiB - 1 }]);
    assert.ok((await target.downloadToBuffer(2 * MiB, MiB)).equals(data));
    assert.ok((await new PageBlobClient(sourceUrl, new AnonymousCredential()).downloadToBuffer()).equals(data));
  });

  test("when an https-only SAS lacks a permission or is forged, then Azurite's own refusals still come back", async () => {
    const readOnly = new PageBlobClient(`${container.getPageBlobClient("ro.vhd").url}?${httpsOnlySas("r", "ro.vhd")}`, new AnonymousCredential());
    await assert.rejects(readOnly.create(MiB), { statusCode: 403, code: "AuthorizationPermissionMismatch" });
    const sas = httpsOnlySas("rcw", "forged.vhd").replace(/sp=[^&]+/, "sp=racwd");
    // Azurite names a forged SAS AuthorizationFailure; the proxy answers it as the service does, AuthenticationFailed.
    const forged = new PageBlobClient(`${container.getPageBlobClient("forged.vhd").url}?${sas}`, new AnonymousCredential());
    await assert.rejects(forged.create(MiB), { statusCode: 403, code: "AuthenticationFailed" });
  });

  test("when an https-only SAS is sent to Azurite over plain http, then it is still refused", async () => {
    const { target } = stack();
    const azuriteBlob = stack().appStorage.blobEndpoint.replace(/\/[^/]+$/, `/${target.accountName}`);
    const res = await fetch(`${azuriteBlob}/${container.containerName}/nothing?${httpsOnlySas("r", "nothing")}`, {
      headers: { "x-ms-version": "2025-01-05" },
    });
    assert.equal(res.status, 403);
    assert.equal(res.headers.get("x-ms-error-code"), "AuthorizationProtocolMismatch");
  });
});
