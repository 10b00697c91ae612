/**
 * Self-describing RestorePoints and bootable restores: each RestorePoint's manifest beside the TargetBlob names the
 * disk's properties and, for Trusted Launch, a copy of the VM guest state; a restore recreates the disk with them
 * (ImportSecure for Trusted Launch). Content and guest state are compared by hash; disk types diskdelta cannot
 * restore faithfully are refused when protected.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { locationFromUrl } from "../../src/adapters/target-blob";
import { restorePointOfManifest } from "../../src/domain/manifest";
import { GiB, MiB, resourceGroup, useTestApp } from "../support/app";
import { syncAndVerify } from "../support/backup";
import { assertRestoredContent, guestStateHashOfDisk, restoreThroughApi, sha256 } from "../support/restored";

const poll = { updateIntervalInMs: 10 };

describe("bootable restores", () => {
  const app = useTestApp();
  const targetWithAccount = () => ({ blobEndpoint: app().stack.target.blobEndpoint, container: "backups", storageAccountId: app().stack.target.resourceId });

  async function createOsDisk(name: string, properties: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<string> {
    const disk = await app().compute.disks.createOrUpdate(
      resourceGroup,
      name,
      { location: app().stack.arm.location, diskSizeGB: 2, creationData: { createOption: "Empty" }, ...properties, ...extra } as never,
      poll,
    );
    return disk.id!;
  }

  it("when a Trusted Launch Gen2 OS disk is backed up, then its manifest describes it and the restored disk carries its properties, content and VM guest state", async () => {
    const { stack, deps } = app();
    const diskId = await createOsDisk(
      "disk-tl-os",
      {
        osType: "Linux",
        hyperVGeneration: "V2",
        supportedCapabilities: { architecture: "x64", diskControllerTypes: "SCSI, NVMe", acceleratedNetwork: true },
        securityProfile: { securityType: "TrustedLaunch" },
      },
      { sku: { name: "Premium_LRS" }, tags: { app: "web" } },
    );
    stack.disks.writeSeeded(diskId, 0, 3 * MiB, 301);
    stack.disks.writeSeeded(diskId, 1 * GiB, 1 * MiB, 302);
    const guestState = randomBytes(2 * MiB);
    stack.disks.writeGuestState(diskId, guestState);
    const diskKey = await app().protect(diskId, { target: targetWithAccount() });
    const { point } = await syncAndVerify(app(), diskKey);

    const target = deps.targets(locationFromUrl(point.targetBlobUrl));
    const manifest = await target.readManifest(point.restorePointId);
    assert.ok(manifest, "a manifest is written beside the RestorePoint");
    assert.deepEqual(restorePointOfManifest(manifest, target.url), point, "the manifest describes exactly the recorded RestorePoint");
    assert.deepEqual(
      { ...manifest.disk },
      {
        location: stack.arm.location, sizeBytes: 2 * GiB, sku: "Premium_LRS", osType: "Linux", hyperVGeneration: "V2",
        supportedCapabilities: { architecture: "x64", diskControllerTypes: "SCSI, NVMe", acceleratedNetwork: true },
        securityType: "TrustedLaunch", tags: { app: "web" },
      },
    );
    assert.equal(manifest.target.storageAccountId, stack.target.resourceId);
    assert.equal(manifest.guestState?.sha256, sha256(guestState));
    assert.equal(sha256((await target.readGuestState(point.restorePointId))!), sha256(guestState), "the guest state copy equals the disk's");
    assert.doesNotMatch(JSON.stringify(manifest), /sig=|sv=|md-/, "the manifest carries no SAS and nothing of the source's data endpoint");

    // The disk's guest state changes after the snapshot: the RestorePoint keeps the snapshot's.
    stack.disks.writeGuestState(diskId, randomBytes(2 * MiB));
    const answer = await restoreThroughApi(app(), diskKey, point.restorePointId, { name: "disk-tl-restored", resourceGroup: "rg-restore", location: stack.target.location });
    assert.equal(answer.status, 202, JSON.stringify(answer.body));
    const restored = answer.restore!;
    assert.equal(restored.state, "succeeded", restored.error);
    assert.equal(restored.createOption, "ImportSecure");
    const disk = await app().compute.disks.get("rg-restore", "disk-tl-restored");
    assert.deepEqual(
      [disk.osType, disk.hyperVGeneration, disk.securityProfile?.securityType, disk.sku?.name, disk.supportedCapabilities?.architecture, disk.supportedCapabilities?.diskControllerTypes, disk.tags],
      ["Linux", "V2", "TrustedLaunch", "Premium_LRS", "x64", "SCSI, NVMe", { app: "web", "diskdelta-restore": restored.restoreId }],
    );
    assert.equal(disk.creationData?.createOption, "ImportSecure");
    assert.equal(await guestStateHashOfDisk(app(), restored.newDiskId, "check-tl-guest-state"), sha256(guestState), "the restored disk boots with the snapshot's guest state");
    await assertRestoredContent(app(), restored.newDiskId, point, "check-tl-restored");
  });

  it("when a restore overrides the recorded OS type and generation, then the new disk has the overrides", async () => {
    const { stack } = app();
    const diskId = await createOsDisk("disk-gen1", { osType: "Windows", hyperVGeneration: "V1" });
    stack.disks.writeSeeded(diskId, 0, 1 * MiB, 311);
    const diskKey = await app().protect(diskId, { target: targetWithAccount() });
    const { point } = await syncAndVerify(app(), diskKey);
    const answer = await restoreThroughApi(app(), diskKey, point.restorePointId, {
      name: "disk-gen1-restored", resourceGroup: "rg-restore", location: stack.target.location, hyperVGeneration: "V2", sku: "StandardSSD_LRS",
    });
    assert.equal(answer.status, 202, JSON.stringify(answer.body));
    assert.equal(answer.restore?.createOption, "Import", answer.restore?.error);
    const disk = await app().compute.disks.get("rg-restore", "disk-gen1-restored");
    assert.deepEqual([disk.osType, disk.hyperVGeneration, disk.sku?.name, disk.securityProfile?.securityType], ["Windows", "V2", "StandardSSD_LRS", undefined]);
  });

  it("when RestorePoints expire, then their manifests, guest state copies and checksums are removed with them", async () => {
    const { stack, deps } = app();
    const diskId = await createOsDisk("disk-tl-retention", { osType: "Linux", hyperVGeneration: "V2", securityProfile: { securityType: "TrustedLaunch" } });
    const diskKey = await app().protect(diskId, { retention: { keepLast: 1 }, verifyAfterBackup: true });
    const points = [];
    for (const seed of [321, 322, 323]) {
      stack.disks.writeSeeded(diskId, 0, 1 * MiB, seed);
      points.push((await syncAndVerify(app(), diskKey)).point);
    }
    const target = deps.targets(locationFromUrl(points[0].targetBlobUrl));
    assert.deepEqual(await target.listManifests(), [points[2].restorePointId]);
    for (const old of points.slice(0, 2)) {
      assert.equal(await target.readGuestState(old.restorePointId), undefined, `guest state of ${old.restorePointId} removed`);
      assert.equal(await target.readChecksums(old.restorePointId), undefined, `checksums of ${old.restorePointId} removed`);
    }
    assert.ok(await target.readGuestState(points[2].restorePointId));
    assert.ok(await target.readChecksums(points[2].restorePointId));
    assert.equal((await target.readManifest(points[2].restorePointId))?.checksumsBlobName, target.checksumsBlobName(points[2].restorePointId));
  });

  for (const [what, properties, pattern] of [
    ["a Confidential VM disk", { osType: "Linux", hyperVGeneration: "V2", securityProfile: { securityType: "ConfidentialVM_VMGuestStateOnlyEncryptedWithPlatformKey" } }, /Confidential VM/],
    ["a 4K-sector disk", { creationData: { createOption: "Empty", logicalSectorSize: 4096 }, sku: { name: "PremiumV2_LRS" } }, /logical sector size is 4096/],
  ] as const) {
    it(`when ${what} is protected, then 400 UnsupportedDisk says why and nothing is protected`, async () => {
      const name = `disk-refused-${what.length}`;
      const diskId = await createOsDisk(name, properties);
      const answer = await app().host.invokeHttp("POST", "/api/disks", { diskId, target: { blobEndpoint: app().stack.target.blobEndpoint } });
      assert.equal(answer.status, 400, JSON.stringify(answer.body));
      const { error } = answer.body as { error: { code: string; message: string } };
      assert.equal(error.code, "UnsupportedDisk");
      assert.match(error.message, new RegExp(`^diskId: disk ${diskId.replace(/[/.]/g, "\\$&")} cannot be protected: `));
      assert.match(error.message, pattern);
      const list = await app().host.invokeHttp("GET", "/api/disks");
      assert.ok(!JSON.stringify(list.body).includes(name), "the disk is not protected");
    });
  }
});
