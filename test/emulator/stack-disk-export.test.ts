/**
 * Disk export, as the service does it, through the real clients on the local stack: a Read grant on an Unattached
 * disk makes it ActiveSAS and answers an accessSAS serving the disk's current content plus its fixed-VHD footer,
 * read like a snapshot's data URL (ranged GET with checksums, conditions, Get Page Ranges, a Put Page From URL
 * source). While exported the disk is not written, resized, attached or deleted; revoke or expiry ends the export.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { before, describe, test } from "node:test";
import type { ComputeManagementClient, Disk, GrantAccessData } from "@azure/arm-compute";
import { AnonymousCredential, PageBlobClient } from "@azure/storage-blob";
import { parseVhdFooter, vhdFooterSize } from "../../emulator/disks/vhd";
import { armFailure, fastPolling, resourceGroup, createDiskWith } from "../support/disk-emulator-server";
import { computeClient, targetBlobService, useTestStack } from "../support/stack";
import { rejectsWithStorageError } from "./storage-errors";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

/** What the test writes: literal bytes at a low, a middle and a high offset of a 1 GiB disk (not next to the footer). */
const writes = [
  { offset: 0, data: randomBytes(MiB) },
  { offset: 300 * MiB + 4096, data: randomBytes(8192) },
  { offset: GiB - 6 * MiB, data: randomBytes(2 * MiB) },
];

describe("disk export: a Read grant on an Unattached disk", () => {
  const stack = useTestStack();
  let compute: ComputeManagementClient;
  let location: string;

  const createDisk = (name: string, more: Partial<Disk> = {}): Promise<Disk> => createDiskWith(compute, location, name, more);

  async function createWrittenDisk(name: string): Promise<Disk> {
    const disk = await createDisk(name);
    for (const { offset, data } of writes) stack().disks.write(disk.id ?? "", offset, data);
    return disk;
  }

  function grantRead(name: string, more: Partial<GrantAccessData> = {}) {
    return compute.disks.beginGrantAccessAndWait(resourceGroup, name, { access: "Read", durationInSeconds: 3600, ...more }, fastPolling);
  }

  function blobAt(sasUrl: string | undefined): PageBlobClient {
    assert.ok(sasUrl, "the grant answers a SAS");
    return new PageBlobClient(sasUrl, new AnonymousCredential(), { retryOptions: { maxTries: 1 } });
  }

  before(() => {
    compute = computeClient(stack());
    location = stack().arm.location;
  });

  test("when a written disk is exported, then its SAS serves the disk's bytes over the written ranges and a fixed-VHD footer", async () => {
    const disk = await createWrittenDisk("exported");
    const access = await grantRead("exported");
    assert.deepEqual(Object.keys(JSON.parse(JSON.stringify(access))), ["accessSAS"]);
    const blob = blobAt(access.accessSAS);
    assert.match(new URL(blob.url).pathname, /^\/md-[a-z0-9]+\/[a-z0-9]+\/abcd$/);
    assert.deepEqual([...new URL(blob.url).searchParams.keys()].sort(), ["se", "sig", "sk", "sp", "sr", "st", "sv"]);

    const properties = await blob.getProperties();
    assert.equal(properties.contentLength, GiB + vhdFooterSize);
    assert.equal(properties.blobType, "PageBlob");

    // The SDK reports `count` as end - start (AZURE-FACTS.md); the footer page is listed with the written ones.
    const listed = (await blob.getPageRanges()).pageRange ?? [];
    const ranges = listed.map((r) => ({ offset: r.offset, length: (r.count ?? Number.NaN) + 1 }));
    assert.deepEqual(ranges, [
      ...writes.map(({ offset, data }) => ({ offset, length: data.length })),
      { offset: GiB, length: vhdFooterSize },
    ]);

    for (const { offset, length } of ranges.slice(0, -1)) {
      const served = await blob.downloadToBuffer(offset, length);
      assert.equal(sha256(served), sha256(stack().disks.read(disk.id ?? "", offset, length)), `range at ${offset}`);
    }
    const footer = parseVhdFooter(await blob.downloadToBuffer(GiB, vhdFooterSize));
    assert.ok(!("invalid" in footer), "the last 512 bytes are a valid VHD footer");
    assert.deepEqual([footer.currentSize, footer.diskType], [GiB, 2]);
    assert.equal(footer.uniqueId, (disk.uniqueId ?? "").replace(/-/g, ""));

    const checked = await blob.download(0, MiB, { rangeGetContentMD5: true });
    assert.deepEqual(Buffer.from(checked.contentMD5 ?? new Uint8Array()), createHash("md5").update(writes[0].data).digest());
    const etag = properties.etag ?? "";
    const same = await fetch(blob.url, { headers: { "x-ms-range": "bytes=0-511", "If-None-Match": etag } });
    assert.deepEqual([same.status, same.headers.get("etag")], [304, etag]);
    await rejectsWithStorageError(blob.download(0, 512, { conditions: { ifMatch: '"0x8D000000000000000"' } }), 412, "ConditionNotMet");
    // A disk export is no incremental snapshot: no diff on or against it.
    await rejectsWithStorageError(blob.getPageRangesDiffForManagedDisks(0, MiB, blob.url), 409, "PreviousSnapshotOperationNotSupported");
    await compute.disks.beginRevokeAccessAndWait(resourceGroup, "exported", fastPolling);
  });

  test("when a disk is exported, then it is ActiveSAS: writes, resize, attach and delete are refused until revoke, and the SAS is 403 after", async () => {
    const disk = await createWrittenDisk("held");
    const id = disk.id ?? "";
    const blob = blobAt((await grantRead("held", { durationInSeconds: 600 })).accessSAS);
    assert.equal((await compute.disks.get(resourceGroup, "held")).diskState, "ActiveSAS");
    const again = await grantRead("held");
    assert.equal(again.accessSAS?.split("?")[0], blob.url.split("?")[0], "granting again extends the export, same blob");

    assert.throws(() => stack().disks.write(id, 0, Buffer.alloc(512)), /ActiveSAS/);
    assert.throws(() => stack().disks.trim(id, 0, 512), /ActiveSAS/);
    const deleted = await armFailure(() => compute.disks.beginDeleteAndWait(resourceGroup, "held", fastPolling));
    assert.deepEqual([deleted.status, deleted.code], [409, "OperationNotAllowed"]);
    const grown = await armFailure(() => compute.disks.beginUpdateAndWait(resourceGroup, "held", { diskSizeGB: 2 }, fastPolling));
    assert.deepEqual([grown.status, grown.code], [409, "OperationNotAllowed"]);
    await assert.rejects(stack().createVirtualMachine({ resourceGroup, name: "vm-held", osDiskId: id }), /ActiveSAS/);
    const upload = await armFailure(() =>
      compute.disks.beginGrantAccessAndWait(resourceGroup, "held", { access: "Write", durationInSeconds: 60 }, fastPolling),
    );
    assert.deepEqual([upload.status, upload.code], [409, "OperationNotAllowed"]);
    assert.equal(sha256(await blob.downloadToBuffer(0, MiB)), sha256(writes[0].data), "nothing reached the exported disk");

    await compute.disks.beginRevokeAccessAndWait(resourceGroup, "held", fastPolling);
    assert.equal((await compute.disks.get(resourceGroup, "held")).diskState, "Unattached");
    await rejectsWithStorageError(blob.download(0, 512), 403, "AuthenticationFailed");
    stack().disks.write(id, 0, Buffer.alloc(512, 7));
    await compute.disks.beginDeleteAndWait(resourceGroup, "held", fastPolling);
  });

  test("when an export's durationInSeconds passes, then the disk is Unattached again and its SAS is refused", async () => {
    const disk = await createWrittenDisk("brief");
    const blob = blobAt((await grantRead("brief", { durationInSeconds: 1 })).accessSAS);
    await blob.downloadToBuffer(0, 512);
    await sleep(1100);
    assert.equal((await compute.disks.get(resourceGroup, "brief")).diskState, "Unattached");
    await rejectsWithStorageError(blob.download(0, 512), 403, "AuthenticationFailed");
    stack().disks.write(disk.id ?? "", 0, Buffer.alloc(512, 1));
  });

  test("when a disk is attached to a VM or being uploaded, then a Read grant is refused with 409", async () => {
    const attached = await createDisk("attached-os");
    await stack().createVirtualMachine({ resourceGroup, name: "vm-export", osDiskId: attached.id ?? "" });
    const refused = await armFailure(() => grantRead("attached-os"));
    assert.deepEqual([refused.status, refused.code], [409, "OperationNotAllowed"]);
    assert.equal((await compute.disks.get(resourceGroup, "attached-os")).diskState, "Attached");
    await stack().deleteVirtualMachine(resourceGroup, "vm-export");

    await compute.disks.beginCreateOrUpdateAndWait(
      resourceGroup,
      "to-upload",
      { location, creationData: { createOption: "Upload", uploadSizeBytes: 20 * MiB + vhdFooterSize } },
      fastPolling,
    );
    const uploading = await armFailure(() => grantRead("to-upload"));
    assert.deepEqual([uploading.status, uploading.code], [409, "OperationNotAllowed"]);
    assert.match(uploading.message, /ReadyToUpload/);
  });

  test("when a Trusted Launch disk is exported with getSecureVMGuestStateSAS, then securityDataAccessSAS serves its guest state", async () => {
    const disk = await createDisk("tl-os", { osType: "Linux", hyperVGeneration: "V2", securityProfile: { securityType: "TrustedLaunch" } });
    const guestState = randomBytes(MiB);
    stack().disks.writeGuestState(disk.id ?? "", guestState);
    const plain = await grantRead("tl-os");
    assert.equal(plain.securityDataAccessSAS, undefined, "no guest state SAS unless asked for");
    const access = await grantRead("tl-os", { getSecureVMGuestStateSAS: true });
    assert.equal(access.accessSAS?.split("?")[0], plain.accessSAS?.split("?")[0], "the second grant extends the first");
    const state = blobAt(access.securityDataAccessSAS);
    assert.equal((await state.getProperties()).contentLength, MiB);
    assert.equal(sha256(await state.downloadToBuffer(0, MiB)), sha256(stack().disks.readGuestState(disk.id ?? "")));
    assert.throws(() => stack().disks.writeGuestState(disk.id ?? "", randomBytes(512)), /ActiveSAS/);

    await compute.disks.beginRevokeAccessAndWait(resourceGroup, "tl-os", fastPolling);
    await rejectsWithStorageError(state.download(0, 512), 403, "AuthenticationFailed");
  });

  test("when a disk export SAS is the source of Put Page From URL, then the target page blob gets the disk's bytes", async () => {
    const disk = await createWrittenDisk("copied");
    const sasUrl = (await grantRead("copied")).accessSAS ?? "";
    const targets = targetBlobService(stack()).getContainerClient("disk-exports");
    await targets.createIfNotExists();
    const target = targets.getPageBlobClient("copied.vhd");
    await target.create(GiB + vhdFooterSize);
    const high = GiB - 7 * MiB;
    await target.uploadPagesFromURL(sasUrl, 0, 0, MiB);
    await target.uploadPagesFromURL(sasUrl, high, high, 4 * MiB);
    await target.uploadPagesFromURL(sasUrl, GiB, GiB, vhdFooterSize);

    assert.equal(sha256(await target.downloadToBuffer(0, MiB)), sha256(stack().disks.read(disk.id ?? "", 0, MiB)));
    assert.equal(sha256(await target.downloadToBuffer(high, 4 * MiB)), sha256(stack().disks.read(disk.id ?? "", high, 4 * MiB)));
    const footer = parseVhdFooter(await target.downloadToBuffer(GiB, vhdFooterSize));
    assert.ok(!("invalid" in footer) && footer.currentSize === GiB, "the footer was copied");

    await compute.disks.beginRevokeAccessAndWait(resourceGroup, "copied", fastPolling);
    await assert.rejects(target.uploadPagesFromURL(sasUrl, 0, 0, MiB), (error: { statusCode?: number; code?: string }) => {
      assert.deepEqual([error.statusCode, error.code], [403, "CannotVerifyCopySource"]);
      return true;
    });
  });
});
