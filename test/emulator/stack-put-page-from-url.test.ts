import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { before, describe, test } from "node:test";
import {
  BlobSASPermissions,
  BlobServiceClient,
  StorageSharedKeyCredential,
  generateBlobSASQueryParameters,
  type ContainerClient,
  type PageBlobClient,
} from "@azure/storage-blob";
import { appBlobService, devAccountReadSasUrl, quickRetries, targetBlobService, useTestStack } from "../support/stack";
import { rejectsWithStorageError } from "./storage-errors";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

describe("Put Page From URL through the blob proxy", () => {
  const stack = useTestStack();
  const source = randomBytes(5 * MiB);
  let sourceSasUrl: string;
  let targets: ContainerClient;

  before(async () => {
    const sources = appBlobService(stack()).getContainerClient("sources");
    await sources.create();
    const blob = sources.getBlockBlobClient("disk.bin");
    await blob.uploadData(source);
    sourceSasUrl = devAccountReadSasUrl(blob);
    targets = targetBlobService(stack()).getContainerClient("restore-points");
    await targets.create();
  });

  async function newTargetBlob(name: string, size = 4 * GiB): Promise<PageBlobClient> {
    const blob = targets.getPageBlobClient(name);
    await blob.create(size);
    return blob;
  }

  test("when 4 MiB are copied to 3 GiB into a 4 GiB blob, then exactly those bytes land at that offset", async () => {
    const target = await newTargetBlob("high-offset.vhd");
    const answer = await target.uploadPagesFromURL(sourceSasUrl, 512, 3 * GiB, 4 * MiB);
    assert.ok(answer.etag);
    assert.equal(answer.isServerEncrypted, true);

    const around = await target.downloadToBuffer(3 * GiB - 512, 4 * MiB + 1024);
    assert.deepEqual(around.subarray(0, 512), Buffer.alloc(512));
    assert.ok(around.subarray(512, 512 + 4 * MiB).equals(source.subarray(512, 512 + 4 * MiB)));
    assert.deepEqual(around.subarray(512 + 4 * MiB), Buffer.alloc(512));
    const ranges = await target.getPageRanges();
    // The SDK reports `count` as end - start, one byte short (see AZURE-FACTS.md).
    assert.deepEqual(ranges.pageRange, [{ offset: 3 * GiB, count: 4 * MiB - 1 }]);
  });

  test("when the source is a blob of the target account read over https, then its bytes are copied", async () => {
    const first = await newTargetBlob("https-source.vhd", 8 * MiB);
    await first.uploadPages(source.subarray(0, 2 * MiB), 0, 2 * MiB);
    const sas = generateBlobSASQueryParameters(
      {
        containerName: targets.containerName,
        blobName: first.name,
        permissions: BlobSASPermissions.parse("r"),
        expiresOn: new Date(Date.now() + 3600_000),
      },
      new StorageSharedKeyCredential(stack().target.accountName, stack().target.accountKey),
    );
    const second = await newTargetBlob("https-copy.vhd", 8 * MiB);
    await second.uploadPagesFromURL(`${first.url}?${sas}`, MiB, 6 * MiB, MiB);
    assert.ok((await second.downloadToBuffer(6 * MiB, MiB)).equals(source.subarray(MiB, 2 * MiB)));
  });

  test("when the range is larger than 4 MiB, then the request is refused with OutOfRangeInput", async () => {
    const target = await newTargetBlob("too-large.vhd");
    await rejectsWithStorageError(target.uploadPagesFromURL(sourceSasUrl, 0, 0, 4 * MiB + 512), 400, "OutOfRangeInput");
  });

  test("when a range is not 512-byte aligned, then the request is refused with InvalidHeaderValue", async () => {
    const target = await newTargetBlob("misaligned.vhd");
    await rejectsWithStorageError(target.uploadPagesFromURL(sourceSasUrl, 0, 0, 1000), 400, "InvalidHeaderValue");
    await rejectsWithStorageError(target.uploadPagesFromURL(sourceSasUrl, 100, 512, 512), 400, "InvalidHeaderValue");
    assert.deepEqual((await target.getPageRanges()).pageRange ?? [], []);
  });

  test("when the source SAS is forged, then CannotVerifyCopySource carries the source's 403", async () => {
    const target = await newTargetBlob("forged-source.vhd");
    const forged = sourceSasUrl.replace(/sig=[^&]+/, `sig=${encodeURIComponent(randomBytes(32).toString("base64"))}`);
    await rejectsWithStorageError(target.uploadPagesFromURL(forged, 0, 0, 512), 403, "CannotVerifyCopySource");
  });

  test("when the source blob does not exist, then CannotVerifyCopySource carries the source's 404", async () => {
    const target = await newTargetBlob("missing-source.vhd");
    const missing = devAccountReadSasUrl(appBlobService(stack()).getContainerClient("sources").getBlobClient("gone.bin"));
    await rejectsWithStorageError(target.uploadPagesFromURL(missing, 0, 0, 512), 404, "CannotVerifyCopySource");
  });

  test("when the request is signed with a wrong account key, then it is refused with 403 and nothing is written", async () => {
    const target = await newTargetBlob("wrong-key.vhd");
    const wrongKey = new StorageSharedKeyCredential(stack().target.accountName, randomBytes(64).toString("base64"));
    const impostor = new BlobServiceClient(stack().target.blobEndpoint, wrongKey, quickRetries)
      .getContainerClient(targets.containerName)
      .getPageBlobClient(target.name);
    await rejectsWithStorageError(impostor.uploadPagesFromURL(sourceSasUrl, 0, 0, 512), 403, "AuthenticationFailed");
    assert.deepEqual((await target.getPageRanges()).pageRange ?? [], []);
  });

  test("when the target is addressed with a SAS, then write permission is required", async () => {
    const target = await newTargetBlob("sas-target.vhd", 8 * MiB);
    const key = new StorageSharedKeyCredential(stack().target.accountName, stack().target.accountKey);
    const sasClient = (permissions: string): PageBlobClient => {
      const sas = generateBlobSASQueryParameters(
        {
          containerName: targets.containerName,
          blobName: target.name,
          permissions: BlobSASPermissions.parse(permissions),
          expiresOn: new Date(Date.now() + 3600_000),
        },
        key,
      );
      return new BlobServiceClient(`${stack().target.blobEndpoint}?${sas}`, undefined, quickRetries)
        .getContainerClient(targets.containerName)
        .getPageBlobClient(target.name);
    };
    await sasClient("w").uploadPagesFromURL(sourceSasUrl, 0, MiB, MiB);
    assert.ok((await target.downloadToBuffer(MiB, MiB)).equals(source.subarray(0, MiB)));
    await rejectsWithStorageError(sasClient("r").uploadPagesFromURL(sourceSasUrl, 0, 0, 512), 403, "AuthorizationPermissionMismatch");
  });

  test("when the target's ETag does not match If-Match, then the write is refused with 412", async () => {
    const target = await newTargetBlob("conditional.vhd", 8 * MiB);
    await rejectsWithStorageError(
      target.uploadPagesFromURL(sourceSasUrl, 0, 0, 512, { conditions: { ifMatch: '"0x1234"' } }),
      412,
      "ConditionNotMet",
    );
  });

  test("when a source MD5 is given, then matching bytes are written and a mismatch is refused", async () => {
    const target = await newTargetBlob("md5.vhd", 8 * MiB);
    const md5 = createHash("md5").update(source.subarray(0, MiB)).digest();
    const answer = await target.uploadPagesFromURL(sourceSasUrl, 0, 0, MiB, { sourceContentMD5: md5 });
    assert.deepEqual(Buffer.from(answer.contentMD5 ?? []), md5);
    await rejectsWithStorageError(
      target.uploadPagesFromURL(sourceSasUrl, MiB, MiB, MiB, { sourceContentMD5: md5 }),
      400,
      "Md5Mismatch",
    );
  });
});
