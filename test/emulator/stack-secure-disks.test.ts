/**
 * Trusted Launch and Confidential VM disks on the local stack, through the real `@azure/arm-compute` and
 * `@azure/storage-blob` clients: the boot properties a restored OS disk needs (echoed by the disk, copied to its
 * snapshots), the VM guest state behind `securityDataAccessSAS`, and restores with `createOption: "ImportSecure"`.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { before, describe, test } from "node:test";
import type { ComputeManagementClient, Disk } from "@azure/arm-compute";
import { AnonymousCredential, PageBlobClient, type ContainerClient } from "@azure/storage-blob";
import { buildFixedVhdFooter } from "../../emulator/disks/vhd";
import { armFailure, fastPolling, resourceGroup, createDiskWith } from "../support/disk-emulator-server";
import { computeClient, targetBlobService, useTestStack } from "../support/stack";
import { rejectsWithStorageError } from "./storage-errors";

const MiB = 1024 * 1024;
const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");
/** The value as the wire carried it: the SDK's models name every field, set or not. */
const wire = (value: unknown): unknown => (value === undefined ? undefined : JSON.parse(JSON.stringify(value)));

/** What a Gen 2 Trusted Launch Linux OS disk carries. */
const trustedLaunchOsDisk = {
  osType: "Linux",
  hyperVGeneration: "V2",
  supportedCapabilities: { architecture: "Arm64", diskControllerTypes: "SCSI, NVMe", acceleratedNetwork: true },
  securityProfile: { securityType: "TrustedLaunch" },
} as const;

describe("secure disks: boot properties, VM guest state, ImportSecure", () => {
  const stack = useTestStack();
  let compute: ComputeManagementClient;
  let location: string;
  let sources: ContainerClient;

  const createDisk = (name: string, more: Partial<Disk> = {}): Promise<Disk> => createDiskWith(compute, location, name, more);

  async function snapshotOf(disk: Disk, name: string) {
    return compute.snapshots.beginCreateOrUpdateAndWait(
      resourceGroup,
      name,
      // In the disk's region: a Copy into another one is refused (only CopyStart crosses regions).
      { location: disk.location, incremental: true, creationData: { createOption: "Copy", sourceResourceId: disk.id } },
      fastPolling,
    );
  }

  function grantWithGuestState(snapshot: string) {
    return compute.snapshots.beginGrantAccessAndWait(
      resourceGroup,
      snapshot,
      { access: "Read", durationInSeconds: 3600, getSecureVMGuestStateSAS: true },
      fastPolling,
    );
  }

  /** A page blob in the target account holding `content`, as a restore's blob. */
  async function pageBlob(name: string, content: Buffer): Promise<string> {
    const blob = sources.getPageBlobClient(name);
    await blob.create(content.length);
    for (let at = 0; at < content.length; at += 4 * MiB) {
      const length = Math.min(4 * MiB, content.length - at);
      await blob.uploadPages(content.subarray(at, at + length), at, length);
    }
    return blob.url;
  }

  /** A fixed VHD of `bytes` of data: random first and last MiB, its footer. */
  function vhdOf(bytes: number): { vhd: Buffer; data: Buffer } {
    const data = Buffer.alloc(bytes);
    randomBytes(MiB).copy(data, 0);
    randomBytes(MiB).copy(data, bytes - MiB);
    return { vhd: Buffer.concat([data, buildFixedVhdFooter(bytes, randomUUID(), new Date())]), data };
  }

  before(async () => {
    compute = computeClient(stack());
    location = stack().arm.location;
    sources = targetBlobService(stack()).getContainerClient("secure-restores");
    await sources.create();
  });

  test("when a disk is PUT with sku, zones, tags and boot properties, then GET, list, PATCH and its snapshot echo them", async () => {
    const created = await createDisk("tl-os", {
      sku: { name: "Premium_LRS" },
      zones: ["2"],
      tags: { role: "os" },
      ...trustedLaunchOsDisk,
      creationData: { createOption: "Empty", logicalSectorSize: 512 },
    });
    assert.deepEqual([created.sku?.name, created.sku?.tier, created.zones, created.tags], ["Premium_LRS", "Premium", ["2"], { role: "os" }]);
    const got = await compute.disks.get(resourceGroup, "tl-os");
    assert.deepEqual(
      [got.osType, got.hyperVGeneration, wire(got.supportedCapabilities), wire(got.securityProfile), got.creationData?.logicalSectorSize],
      ["Linux", "V2", trustedLaunchOsDisk.supportedCapabilities, { securityType: "TrustedLaunch" }, 512],
    );
    const listed = [];
    for await (const disk of compute.disks.listByResourceGroup(resourceGroup)) if (disk.name === "tl-os") listed.push(disk);
    assert.equal(listed[0]?.hyperVGeneration, "V2");

    const patched = await compute.disks.beginUpdateAndWait(resourceGroup, "tl-os", { osType: "Windows", sku: { name: "StandardSSD_LRS" } }, fastPolling);
    assert.deepEqual([patched.osType, patched.sku?.name, patched.hyperVGeneration, patched.securityProfile?.securityType], ["Windows", "StandardSSD_LRS", "V2", "TrustedLaunch"]);

    const snapshot = await snapshotOf(got, "tl-os-snap");
    assert.deepEqual(
      [snapshot.osType, snapshot.hyperVGeneration, wire(snapshot.supportedCapabilities), wire(snapshot.securityProfile)],
      ["Windows", "V2", trustedLaunchOsDisk.supportedCapabilities, { securityType: "TrustedLaunch" }],
    );
    assert.equal((await compute.snapshots.get(resourceGroup, "tl-os-snap")).securityProfile?.securityType, "TrustedLaunch");
  });

  test("when a disk is PUT without sku, then it is Standard_LRS as before", async () => {
    const plain = await createDisk("plain-data");
    assert.deepEqual([plain.sku?.name, plain.osType, wire(plain.securityProfile), plain.zones], ["Standard_LRS", undefined, undefined, undefined]);
  });

  test("when a property has a value outside the reference's enum, then 400 InvalidParameter naming it and no disk", async () => {
    const bad: [string, Partial<Disk>][] = [
      ["properties.osType", { osType: "Solaris" as "Linux" }],
      ["properties.hyperVGeneration", { hyperVGeneration: "V3" }],
      ["properties.supportedCapabilities.architecture", { supportedCapabilities: { architecture: "RiscV" } }],
      ["properties.securityProfile.securityType", { hyperVGeneration: "V2", securityProfile: { securityType: "Quantum" } }],
      ["sku.name", { sku: { name: "Premium_GRS" } }],
      ["creationData.logicalSectorSize", { creationData: { createOption: "Empty", logicalSectorSize: 1024 } }],
      ["properties.hyperVGeneration", { hyperVGeneration: "V1", securityProfile: { securityType: "TrustedLaunch" } }],
    ];
    for (const [target, more] of bad) {
      const failure = await armFailure(() => createDisk("refused", more));
      assert.deepEqual([failure.status, failure.code], [400, "InvalidParameter"], target);
      assert.match(failure.message, new RegExp(target.replace(/\./g, "\\.")), target);
    }
    await assert.rejects(compute.disks.get(resourceGroup, "refused"), { statusCode: 404 });
  });

  test("when a snapshot is granted with getSecureVMGuestStateSAS, then securityDataAccessSAS serves the guest state the disk had at the snapshot, and revoke kills it", async () => {
    const disk = await createDisk("tl-guest", trustedLaunchOsDisk);
    const id = disk.id ?? "";
    const initial = stack().disks.readGuestState(id);
    assert.equal(initial.length, 4 * MiB);
    const written = randomBytes(2 * MiB + 512);
    stack().disks.writeGuestState(id, written);
    assert.equal(sha256(stack().disks.readGuestState(id)), sha256(written));
    await snapshotOf(disk, "tl-guest-1");
    stack().disks.writeGuestState(id, randomBytes(4096));

    const access = await grantWithGuestState("tl-guest-1");
    assert.ok(access.accessSAS && access.securityDataAccessSAS);
    assert.notEqual(access.securityDataAccessSAS, access.accessSAS);
    const guest = new PageBlobClient(access.securityDataAccessSAS, new AnonymousCredential(), { retryOptions: { maxTries: 1 } });
    const properties = await guest.getProperties();
    assert.deepEqual([properties.contentLength, properties.blobType], [written.length, "PageBlob"]);
    assert.equal(sha256(await guest.downloadToBuffer()), sha256(written));
    assert.deepEqual(await guest.downloadToBuffer(512, 1024), written.subarray(512, 1536));
    const ranges = await guest.getPageRanges();
    assert.deepEqual(ranges.pageRange, [{ offset: 0, count: written.length - 1 }]);

    // Put Page From URL takes it as a source, as a backup of the guest state would.
    const target = sources.getPageBlobClient("tl-guest-1.vmgs");
    await target.create(written.length);
    await target.uploadPagesFromURL(access.securityDataAccessSAS, 0, 0, 2 * MiB);
    await target.uploadPagesFromURL(access.securityDataAccessSAS, 2 * MiB, 2 * MiB, 512);
    assert.equal(sha256(await target.downloadToBuffer()), sha256(written));

    await compute.snapshots.beginRevokeAccessAndWait(resourceGroup, "tl-guest-1", fastPolling);
    await rejectsWithStorageError(guest.downloadToBuffer(0, 512), 403, "AuthenticationFailed");
  });

  test("when a snapshot without a guest state is granted with getSecureVMGuestStateSAS, then only accessSAS is answered", async () => {
    const disk = await createDisk("no-guest");
    await snapshotOf(disk, "no-guest-1");
    const access = await grantWithGuestState("no-guest-1");
    assert.ok(access.accessSAS);
    assert.equal(access.securityDataAccessSAS, undefined);
    assert.throws(() => stack().disks.readGuestState(disk.id ?? ""), { status: 409, code: "OperationNotAllowed" });
  });

  test("when a VHD and a guest state blob are restored with ImportSecure, then the disk's content and guest state equal them", async () => {
    const { vhd, data } = vhdOf(8 * MiB);
    const guestState = randomBytes(MiB);
    const sourceUri = await pageBlob("restore.vhd", vhd);
    const securityDataUri = await pageBlob("restore.vmgs", guestState);
    const disk = await compute.disks.beginCreateOrUpdateAndWait(
      resourceGroup,
      "restored-tl",
      {
        // Disk Import reads the target account: the disk is created in that account's region.
        location: stack().target.location,
        ...trustedLaunchOsDisk,
        creationData: { createOption: "ImportSecure", sourceUri, securityDataUri, storageAccountId: stack().target.resourceId },
      },
      fastPolling,
    );
    assert.deepEqual(
      [disk.creationData?.createOption, disk.creationData?.securityDataUri, disk.osType, disk.hyperVGeneration, disk.securityProfile?.securityType],
      ["ImportSecure", securityDataUri, "Linux", "V2", "TrustedLaunch"],
    );
    assert.equal(sha256(stack().disks.read(disk.id ?? "", 0, data.length)), sha256(data));
    assert.equal(sha256(stack().disks.readGuestState(disk.id ?? "")), sha256(guestState));
    await snapshotOf(disk, "restored-tl-1");
    const access = await grantWithGuestState("restored-tl-1");
    const served = await new PageBlobClient(access.securityDataAccessSAS ?? "", new AnonymousCredential()).downloadToBuffer();
    assert.equal(sha256(served), sha256(guestState));
  });

  test("when an Import carries boot properties, sku, zones and tags, then the disk echoes them", async () => {
    const sourceUri = await pageBlob("import.vhd", vhdOf(4 * MiB).vhd);
    const disk = await compute.disks.beginCreateOrUpdateAndWait(
      resourceGroup,
      "imported-os",
      {
        location: stack().target.location,
        sku: { name: "Premium_ZRS" },
        zones: ["1"],
        tags: { restorePoint: "rp-1" },
        osType: "Windows",
        hyperVGeneration: "V1",
        supportedCapabilities: { architecture: "x64" },
        creationData: { createOption: "Import", sourceUri, storageAccountId: stack().target.resourceId },
      },
      fastPolling,
    );
    assert.deepEqual(
      [disk.sku?.name, disk.zones, disk.tags, disk.osType, disk.hyperVGeneration, wire(disk.supportedCapabilities)],
      ["Premium_ZRS", ["1"], { restorePoint: "rp-1" }, "Windows", "V1", { architecture: "x64" }],
    );
  });

  test("when ImportSecure lacks securityDataUri, a secure securityType, or a Confidential VM's securityMetadataUri, then 400 InvalidParameter naming it", async () => {
    const sourceUri = await pageBlob("refused.vhd", vhdOf(4 * MiB).vhd);
    const securityDataUri = await pageBlob("refused.vmgs", randomBytes(4096));
    const storageAccountId = stack().target.resourceId;
    const cases: [string, Partial<Disk>][] = [
      ["creationData.securityDataUri", { ...trustedLaunchOsDisk, creationData: { createOption: "ImportSecure", sourceUri, storageAccountId } }],
      [
        "properties.securityProfile.securityType",
        { osType: "Linux", hyperVGeneration: "V2", creationData: { createOption: "ImportSecure", sourceUri, securityDataUri, storageAccountId } },
      ],
      [
        "creationData.securityMetadataUri",
        {
          ...trustedLaunchOsDisk,
          securityProfile: { securityType: "ConfidentialVM_DiskEncryptedWithPlatformKey" },
          creationData: { createOption: "ImportSecure", sourceUri, securityDataUri, storageAccountId },
        },
      ],
    ];
    for (const [target, body] of cases) {
      const failure = await armFailure(() => compute.disks.beginCreateOrUpdateAndWait(resourceGroup, "refused-secure", { location, ...body }, fastPolling));
      assert.deepEqual([failure.status, failure.code], [400, "InvalidParameter"], target);
      assert.match(failure.message, new RegExp(target.replace(/\./g, "\\.")), target);
    }
    await assert.rejects(compute.disks.get(resourceGroup, "refused-secure"), { statusCode: 404 });
  });
});
