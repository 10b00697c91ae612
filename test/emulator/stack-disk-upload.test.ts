/**
 * Direct upload to a managed disk, as the service does it, through the real clients on the local stack: a disk
 * created with `createOption: Upload` is ReadyToUpload, a Write grant makes it ActiveUpload and answers an upload
 * SAS that `PageBlobClient.uploadPages` writes into (the disk, then the VHD footer page), and revoke makes it
 * Unattached holding exactly what was written. While it is being uploaded it cannot be read, snapshotted or
 * written by a VM.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { before, describe, test } from "node:test";
import type { ComputeManagementClient, Disk } from "@azure/arm-compute";
import { AnonymousCredential, PageBlobClient } from "@azure/storage-blob";
import { buildFixedVhdFooter, vhdFooterSize } from "../../emulator/disks/vhd";
import { armFailure, fastPolling, location, resourceGroup } from "../support/disk-emulator-server";
import { computeClient, useTestStack } from "../support/stack";
import { rejectsWithStorageError } from "./storage-errors";

const MiB = 1024 * 1024;
const diskBytes = 24 * MiB;
const uploadSizeBytes = diskBytes + vhdFooterSize;

function sha256(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

describe("direct upload to a managed disk", () => {
  const stack = useTestStack();
  let compute: ComputeManagementClient;

  function createUploadDisk(name: string, size = uploadSizeBytes): Promise<Disk> {
    return compute.disks.beginCreateOrUpdateAndWait(
      resourceGroup,
      name,
      { location, creationData: { createOption: "Upload", uploadSizeBytes: size } },
      fastPolling,
    );
  }

  async function grantWrite(name: string): Promise<PageBlobClient> {
    const access = await compute.disks.beginGrantAccessAndWait(resourceGroup, name, { access: "Write", durationInSeconds: 3600 }, fastPolling);
    assert.ok(access.accessSAS, "a Write grant answers an accessSAS");
    return new PageBlobClient(access.accessSAS, new AnonymousCredential(), { retryOptions: { maxTries: 1 } });
  }

  async function readThroughSnapshot(disk: Disk, name: string): Promise<Buffer> {
    await compute.snapshots.beginCreateOrUpdateAndWait(
      resourceGroup,
      name,
      { location, incremental: true, creationData: { createOption: "Copy", sourceResourceId: disk.id } },
      fastPolling,
    );
    const access = await compute.snapshots.beginGrantAccessAndWait(resourceGroup, name, { access: "Read", durationInSeconds: 3600 }, fastPolling);
    const blob = new PageBlobClient(access.accessSAS ?? "", new AnonymousCredential());
    const bytes = await blob.downloadToBuffer(0, diskBytes);
    await compute.snapshots.beginRevokeAccessAndWait(resourceGroup, name, fastPolling);
    return bytes;
  }

  before(() => {
    compute = computeClient(stack());
  });

  test("when a disk is uploaded and revoked, then it is Unattached and a snapshot's read SAS serves the uploaded bytes", async () => {
    const created = await createUploadDisk("uploaded");
    assert.equal(created.diskState, "ReadyToUpload");
    assert.equal(created.diskSizeBytes, diskBytes);
    assert.equal(created.creationData?.uploadSizeBytes, uploadSizeBytes);

    const upload = await grantWrite("uploaded");
    assert.match(new URL(upload.url).pathname, /^\/md-impexp-[a-z0-9]+\/[a-z0-9]+\/abcd$/);
    assert.deepEqual([...new URL(upload.url).searchParams.keys()].sort(), ["si", "sig", "sr", "sv"]);
    assert.equal((await compute.disks.get(resourceGroup, "uploaded")).diskState, "ActiveUpload");

    const content = Buffer.alloc(diskBytes);
    const written = [
      { offset: 0, data: randomBytes(4 * MiB) },
      { offset: 4 * MiB, data: randomBytes(512) },
      { offset: diskBytes - MiB, data: randomBytes(MiB) },
    ];
    for (const { offset, data } of written) {
      const answer = await upload.uploadPages(data, offset, data.length);
      assert.ok(answer.etag && answer.lastModified && answer.requestId, "201 carries ETag, Last-Modified, x-ms-request-id");
      data.copy(content, offset);
    }
    await upload.uploadPages(Buffer.alloc(512, 0xee), 8 * MiB, 512);
    await upload.clearPages(8 * MiB, 512);
    await upload.uploadPages(buildFixedVhdFooter(diskBytes, randomUUID(), new Date()), diskBytes, vhdFooterSize);

    await compute.disks.beginRevokeAccessAndWait(resourceGroup, "uploaded", fastPolling);
    const disk = await compute.disks.get(resourceGroup, "uploaded");
    assert.equal(disk.diskState, "Unattached");
    assert.equal(sha256(await readThroughSnapshot(disk, "uploaded-s1")), sha256(content));
  });

  test("when a disk is being uploaded, then Read access, a snapshot and a VM write are refused with 409", async () => {
    const disk = await createUploadDisk("uploading");
    const snapshot = { location, incremental: true, creationData: { createOption: "Copy", sourceResourceId: disk.id } };
    const ready = await armFailure(() => compute.snapshots.beginCreateOrUpdateAndWait(resourceGroup, "uploading-ready", snapshot, fastPolling));
    assert.deepEqual([ready.status, ready.code], [409, "OperationNotAllowed"]);

    await grantWrite("uploading");
    const read = await armFailure(() =>
      compute.disks.beginGrantAccessAndWait(resourceGroup, "uploading", { access: "Read", durationInSeconds: 60 }, fastPolling),
    );
    assert.deepEqual([read.status, read.code], [409, "OperationNotAllowed"]);
    const snap = await armFailure(() => compute.snapshots.beginCreateOrUpdateAndWait(resourceGroup, "uploading-s1", snapshot, fastPolling));
    assert.deepEqual([snap.status, snap.code], [409, "OperationNotAllowed"]);
    assert.match(snap.message, /ActiveUpload/);
    assert.throws(() => stack().disks.write(disk.id ?? "", 0, Buffer.alloc(512)), /ActiveUpload/);
    const deleted = await armFailure(() => compute.disks.beginDeleteAndWait(resourceGroup, "uploading", fastPolling));
    assert.deepEqual([deleted.status, deleted.code], [409, "OperationNotAllowed"]);

    await compute.disks.beginRevokeAccessAndWait(resourceGroup, "uploading", fastPolling);
    await compute.snapshots.beginCreateOrUpdateAndWait(resourceGroup, "uploading-s1", snapshot, fastPolling);
  });

  test("when Put Page breaks Blob Storage's rules, then the upload SAS answers as Blob Storage does and writes nothing", async () => {
    await createUploadDisk("strict");
    const upload = await grantWrite("strict");
    const page = Buffer.alloc(512, 1);
    await rejectsWithStorageError(upload.uploadPages(Buffer.alloc(1024), 256, 1024), 416, "InvalidPageRange");
    await rejectsWithStorageError(upload.uploadPages(page, uploadSizeBytes, 512), 416, "InvalidPageRange");
    await rejectsWithStorageError(upload.uploadPages(Buffer.alloc(4 * MiB + 512), 0, 4 * MiB + 512), 413, "RequestBodyTooLarge");
    await rejectsWithStorageError(upload.uploadPages(page, 0, 512, { transactionalContentMD5: Buffer.alloc(16) }), 400, "Md5Mismatch");
    await rejectsWithStorageError(upload.download(0, 512), 403, "AuthorizationPermissionMismatch");
    await rejectsWithStorageError(upload.getPageRanges(0, 512), 403, "AuthorizationPermissionMismatch");

    const forged = new URL(upload.url);
    forged.searchParams.set("sig", Buffer.alloc(32).toString("base64"));
    await rejectsWithStorageError(new PageBlobClient(forged.toString(), new AnonymousCredential(), { retryOptions: { maxTries: 1 } }).uploadPages(page, 0, 512), 403, "AuthenticationFailed");

    await compute.disks.beginRevokeAccessAndWait(resourceGroup, "strict", fastPolling);
    await rejectsWithStorageError(upload.uploadPages(page, 0, 512), 403, "AuthenticationFailed");
    const disk = await compute.disks.get(resourceGroup, "strict");
    assert.equal(disk.diskState, "Unattached");
    assert.deepEqual(stack().disks.read(disk.id ?? "", 0, 1024), Buffer.alloc(1024));
  });

  test("when a Write grant is asked for a disk that was not created for upload, or after its upload, then 409", async () => {
    await compute.disks.beginCreateOrUpdateAndWait(resourceGroup, "plain", { location, diskSizeGB: 1, creationData: { createOption: "Empty" } }, fastPolling);
    const plain = await armFailure(() => grantWrite("plain"));
    assert.deepEqual([plain.status, plain.code], [409, "OperationNotAllowed"]);
    // Read access to an Unattached disk is its export (ActiveSAS), during which a Write grant is refused as well.
    const exported = await compute.disks.beginGrantAccessAndWait(resourceGroup, "plain", { access: "Read", durationInSeconds: 60 }, fastPolling);
    assert.ok(exported.accessSAS, "a Read grant of an Unattached disk answers an accessSAS");
    assert.equal((await compute.disks.get(resourceGroup, "plain")).diskState, "ActiveSAS");
    const duringExport = await armFailure(() => grantWrite("plain"));
    assert.deepEqual([duringExport.status, duringExport.code], [409, "OperationNotAllowed"]);
    await compute.disks.beginRevokeAccessAndWait(resourceGroup, "plain", fastPolling);
    await createUploadDisk("done");
    await grantWrite("done");
    await compute.disks.beginRevokeAccessAndWait(resourceGroup, "done", fastPolling);
    const again = await armFailure(() => grantWrite("done"));
    assert.deepEqual([again.status, again.code], [409, "OperationNotAllowed"]);
  });

  test("when uploadSizeBytes is below 20 MiB + 512, not whole MiB + 512, or missing, then 400 InvalidParameter", async () => {
    for (const size of [20 * MiB, 20 * MiB + 512 - MiB, 21 * MiB, 21 * MiB + 1024, undefined]) {
      const failure = await armFailure(() =>
        compute.disks.beginCreateOrUpdateAndWait(resourceGroup, "bad-size", { location, creationData: { createOption: "Upload", uploadSizeBytes: size } }, fastPolling),
      );
      assert.deepEqual([failure.status, failure.code], [400, "InvalidParameter"], `uploadSizeBytes ${String(size)}`);
    }
    const smallest = await createUploadDisk("smallest", 20 * MiB + 512);
    assert.equal(smallest.diskSizeBytes, 20 * MiB);
  });

  test("when an upload disk is PUT again with another uploadSizeBytes, then 409 PropertyChangeNotAllowed", async () => {
    await createUploadDisk("fixed-size");
    const changed = await armFailure(() => createUploadDisk("fixed-size", uploadSizeBytes + MiB));
    assert.deepEqual([changed.status, changed.code], [409, "PropertyChangeNotAllowed"]);
    assert.equal((await createUploadDisk("fixed-size")).diskSizeBytes, diskBytes);
  });
});
