/**
 * A disk's creationData is fixed once the disk exists, as in Azure: a PUT on an existing disk with another
 * source is refused with 409 PropertyChangeNotAllowed and changes nothing; a PUT repeating the same source (a
 * retried restore, a tag update) goes through. Through the real `@azure/arm-compute` client on the local stack,
 * with restores imported from target blob snapshots.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { before, describe, test } from "node:test";
import { RestError, type ComputeManagementClient, type Disk } from "@azure/arm-compute";
import type { PageBlobClient } from "@azure/storage-blob";
import { buildFixedVhdFooter } from "../../emulator/disks/vhd";
import { createDiskWith, fastPolling, resourceGroup } from "../support/disk-emulator-server";
import { computeClient, targetBlobService, useTestStack } from "../support/stack";

const MiB = 1024 * 1024;
const diskBytes = 8 * MiB;

async function rejectsAsPropertyChange(action: Promise<unknown>): Promise<void> {
  await assert.rejects(action, (error: unknown) => {
    assert.ok(error instanceof RestError, `expected a RestError, got ${String(error)}`);
    assert.deepEqual([error.statusCode, error.code], [409, "PropertyChangeNotAllowed"]);
    assert.match(error.message, /Changing property 'creationData' is not allowed\./);
    return true;
  });
}

describe("a disk's creationData cannot change", () => {
  const stack = useTestStack();
  let compute: ComputeManagementClient;
  let vhd: PageBlobClient;
  let firstUri: string;
  let secondUri: string;

  /** A restore point: a blob snapshot of the VHD with `fill` in its first page. */
  async function restorePoint(fill: number): Promise<string> {
    await vhd.uploadPages(Buffer.alloc(512, fill), 0, 512);
    const { snapshot } = await vhd.createSnapshot();
    return `${vhd.url}?snapshot=${encodeURIComponent(snapshot ?? "")}`;
  }

  function importDisk(name: string, sourceUri: string, tags?: Record<string, string>): Promise<Disk> {
    const creationData = { createOption: "Import", sourceUri, storageAccountId: stack().target.resourceId };
    // Disk Import reads the target account: the disk is created in that account's region.
    return compute.disks.beginCreateOrUpdateAndWait(resourceGroup, name, { location: stack().target.location, tags, creationData }, fastPolling);
  }

  before(async () => {
    compute = computeClient(stack());
    const container = targetBlobService(stack()).getContainerClient("restore-sources");
    await container.create();
    vhd = container.getPageBlobClient("disk.vhd");
    await vhd.create(diskBytes + 512);
    await vhd.uploadPages(buildFixedVhdFooter(diskBytes, randomUUID(), new Date()), diskBytes, 512);
    firstUri = await restorePoint(0x11);
    secondUri = await restorePoint(0x22);
  });

  test("when an imported disk is PUT again with another sourceUri, then 409 PropertyChangeNotAllowed and the disk is unchanged", async () => {
    const disk = await importDisk("restored", firstUri);
    await rejectsAsPropertyChange(importDisk("restored", secondUri, { changed: "yes" }));
    const after = await compute.disks.get(resourceGroup, "restored");
    assert.equal(after.creationData?.sourceUri, firstUri);
    assert.equal(after.uniqueId, disk.uniqueId);
    assert.equal(after.tags, undefined);
    assert.deepEqual(stack().disks.read(disk.id ?? "", 0, 512), Buffer.alloc(512, 0x11));
  });

  test("when an imported disk is PUT again with the same creationData, then the update (tags) goes through", async () => {
    const disk = await importDisk("restored-twice", firstUri);
    const again = await importDisk("restored-twice", firstUri, { restorePoint: "1" });
    assert.equal(again.uniqueId, disk.uniqueId);
    assert.deepEqual(again.tags, { restorePoint: "1" });
  });

  test("when an empty disk is PUT again as an Import or with another storage account, then 409 PropertyChangeNotAllowed", async () => {
    // In the Import's region: a PUT naming another location is refused first, as InvalidResourceLocation.
    await createDiskWith(compute, stack().target.location, "was-empty");
    await rejectsAsPropertyChange(importDisk("was-empty", firstUri));
    await importDisk("imported-here", firstUri);
    const otherAccount = { createOption: "Import", sourceUri: firstUri, storageAccountId: `${stack().target.resourceId}x` };
    await rejectsAsPropertyChange(
      compute.disks.beginCreateOrUpdateAndWait(resourceGroup, "imported-here", { location: stack().target.location, creationData: otherAccount }, fastPolling),
    );
    assert.equal((await compute.disks.get(resourceGroup, "was-empty")).creationData?.createOption, "Empty");
  });
});
