/**
 * What the service refuses of a blob request where Azurite, behind the blob proxy, would serve it or answer in words
 * of its own: writes addressed to a blob snapshot, Put Page over 4 MiB or off pages, the managed-disk diff header on a
 * storage account, Put Page From URL source conditions, a forged SAS. Each refusal leaves the bytes as they were.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { before, describe, test } from "node:test";
import { AnonymousCredential, BlobSASPermissions, type ContainerClient, PageBlobClient } from "@azure/storage-blob";
import { computeClient, targetBlobService, useTestStack } from "../support/stack";
import { rejectsWithStorageError } from "./storage-errors";

const MiB = 1024 * 1024;
const poll = { updateIntervalInMs: 10 };
const sha = (data: Buffer) => createHash("sha256").update(data).digest("hex");

describe("blob requests the service refuses, through the blob proxy", () => {
  const stack = useTestStack();
  let container: ContainerClient;
  let snapshotSasUrl: string;
  const written = randomBytes(2 * MiB);

  before(async () => {
    container = targetBlobService(stack()).getContainerClient("refusals");
    await container.create();
    const compute = computeClient(stack());
    const { arm } = stack();
    const disk = await compute.disks.beginCreateOrUpdateAndWait("rg-data", "disk-refusals", { location: arm.location, creationData: { createOption: "Empty" }, diskSizeGB: 1 }, poll);
    stack().disks.write(disk.id ?? "", 0, written);
    const snapshot = { location: arm.location, incremental: true, creationData: { createOption: "Copy", sourceResourceId: disk.id } };
    await compute.snapshots.beginCreateOrUpdateAndWait("rg-data", "snap-refusals", snapshot, poll);
    snapshotSasUrl = (await compute.snapshots.beginGrantAccessAndWait("rg-data", "snap-refusals", { access: "Read", durationInSeconds: 3600 }, poll)).accessSAS ?? "";
  });

  async function blobWith(name: string, data: Buffer): Promise<PageBlobClient> {
    const blob = container.getPageBlobClient(name);
    await blob.create(8 * MiB);
    await blob.uploadPages(data, 0, data.length);
    return blob;
  }

  test("when pages, a copy from a URL, metadata or a lease are sent to a blob snapshot, then 400 names the snapshot and neither the snapshot nor the blob changes", async () => {
    const before = randomBytes(MiB);
    const blob = await blobWith("snapshotted.vhd", before);
    const { snapshot } = await blob.createSnapshot();
    const frozen = blob.withSnapshot(snapshot ?? "");
    const writes = [
      () => frozen.uploadPages(randomBytes(MiB), 0, MiB),
      () => frozen.uploadPagesFromURL(snapshotSasUrl, 0, 0, MiB),
      () => frozen.clearPages(0, MiB),
      () => frozen.setMetadata({ changed: "yes" }),
      () => frozen.resize(16 * MiB),
      () => frozen.getBlobLeaseClient().acquireLease(-1),
    ];
    for (const write of writes) await rejectsWithStorageError(write(), 400, "InvalidQueryParameterValue");
    assert.equal(sha(await frozen.downloadToBuffer(0, MiB)), sha(before), "the snapshot holds its bytes");
    assert.equal(sha(await blob.downloadToBuffer(0, MiB)), sha(before), "the base blob was not written instead");
    const properties = await blob.getProperties();
    assert.deepEqual([properties.contentLength, properties.metadata, properties.leaseState], [8 * MiB, {}, "available"]);
  });

  test("when a Put Page is over 4 MiB, off 512-byte pages or past the blob's end, then it is 413 RequestBodyTooLarge or 416 InvalidPageRange and nothing is written", async () => {
    const blob = container.getPageBlobClient("put-page.vhd");
    await blob.create(16 * MiB);
    await rejectsWithStorageError(blob.uploadPages(randomBytes(8 * MiB), 0, 8 * MiB), 413, "RequestBodyTooLarge");
    await rejectsWithStorageError(blob.uploadPages(randomBytes(1000), 0, 1000), 416, "InvalidPageRange");
    await rejectsWithStorageError(blob.uploadPages(randomBytes(512), 16 * MiB, 512), 416, "InvalidPageRange");
    await rejectsWithStorageError(blob.clearPages(100, 512), 416, "InvalidPageRange");
    assert.deepEqual((await blob.getPageRanges()).pageRange ?? [], []);
    await blob.uploadPages(randomBytes(4 * MiB), 0, 4 * MiB);
    await blob.clearPages(0, 16 * MiB);
  });

  test("when Get Page Ranges on a storage account carries x-ms-previous-snapshot-url, then it is 400 UnsupportedHeaderForNonManagedDisksAccount", async () => {
    const blob = await blobWith("not-a-disk.vhd", randomBytes(MiB));
    const { snapshot } = await blob.createSnapshot();
    const older = await blob.withSnapshot(snapshot ?? "").generateSasUrl({ permissions: BlobSASPermissions.parse("r"), expiresOn: new Date(Date.now() + 600_000) });
    await rejectsWithStorageError(blob.getPageRangesDiffForManagedDisks(0, 8 * MiB, older), 400, "UnsupportedHeaderForNonManagedDisksAccount");
  });

  test("when a Put Page From URL's source conditions fail, then it is 412 SourceConditionNotMet and nothing is written; when they hold, the bytes are copied", async () => {
    const etag = (await new PageBlobClient(snapshotSasUrl, new AnonymousCredential()).getProperties()).etag ?? "";
    const source = await blobWith("source.vhd", written.subarray(0, MiB));
    const sourceUrl = await source.generateSasUrl({ permissions: BlobSASPermissions.parse("r"), expiresOn: new Date(Date.now() + 600_000) });
    const sourceEtag = (await source.getProperties()).etag ?? "";
    const target = container.getPageBlobClient("conditional-copy.vhd");
    await target.create(8 * MiB);
    const failing = [
      () => target.uploadPagesFromURL(snapshotSasUrl, 0, 0, MiB, { sourceConditions: { ifMatch: '"0x8D0000000000000"' } }),
      () => target.uploadPagesFromURL(snapshotSasUrl, 0, 0, MiB, { sourceConditions: { ifNoneMatch: etag } }),
      () => target.uploadPagesFromURL(snapshotSasUrl, 0, 0, MiB, { sourceConditions: { ifModifiedSince: new Date(Date.now() + 3600_000) } }),
      () => target.uploadPagesFromURL(sourceUrl, 0, 0, MiB, { sourceConditions: { ifMatch: '"0x8D0000000000000"' } }),
      () => target.uploadPagesFromURL(sourceUrl, 0, 0, MiB, { sourceConditions: { ifNoneMatch: sourceEtag } }),
    ];
    for (const copy of failing) await rejectsWithStorageError(copy(), 412, "SourceConditionNotMet");
    assert.deepEqual((await target.getPageRanges()).pageRange ?? [], []);
    await target.uploadPagesFromURL(snapshotSasUrl, 0, 0, MiB, { sourceConditions: { ifMatch: etag } });
    await target.uploadPagesFromURL(sourceUrl, 0, MiB, MiB, { sourceConditions: { ifMatch: sourceEtag } });
    assert.equal(sha(await target.downloadToBuffer(0, 2 * MiB)), sha(Buffer.concat([written.subarray(0, MiB), written.subarray(0, MiB)])));
  });

  test("when a blob of the target account is copied with Copy Blob from its SAS URL, then the copy succeeds with the source's bytes", async () => {
    const data = randomBytes(MiB);
    const source = await blobWith("copy-source.vhd", data);
    const sourceUrl = await source.generateSasUrl({ permissions: BlobSASPermissions.parse("r"), expiresOn: new Date(Date.now() + 600_000) });
    const copy = container.getPageBlobClient("copy-destination.vhd");
    const done = await (await copy.beginCopyFromURL(sourceUrl)).pollUntilDone();
    assert.equal(done.copyStatus, "success");
    assert.equal(sha(await copy.downloadToBuffer(0, MiB)), sha(data));
    const forged = sourceUrl.replace(/sig=[^&]+/, `sig=${encodeURIComponent(randomBytes(32).toString("base64"))}`);
    await assert.rejects((async () => (await container.getPageBlobClient("copy-forged.vhd").beginCopyFromURL(forged)).pollUntilDone())(), { statusCode: 403, code: "CannotVerifyCopySource" });
  });

  test("when a SAS's signature does not verify, then it is 403 AuthenticationFailed, as the service names it", async () => {
    const blob = await blobWith("signed.vhd", randomBytes(MiB));
    const sasUrl = await blob.generateSasUrl({ permissions: BlobSASPermissions.parse("r"), expiresOn: new Date(Date.now() + 600_000) });
    const forged = new PageBlobClient(sasUrl.replace(/sig=[^&]+/, `sig=${encodeURIComponent(randomBytes(32).toString("base64"))}`), new AnonymousCredential());
    await rejectsWithStorageError(forged.downloadToBuffer(0, 512), 403, "AuthenticationFailed");
    await rejectsWithStorageError(forged.uploadPages(randomBytes(512), 0, 512), 403, "AuthenticationFailed");
  });
});
