/**
 * A premium page blob account as the target: it holds page blobs only, so every blob diskdelta keeps there — the
 * TargetBlob, its descriptions, checksums and restore holds — must be a page blob. Backups, the catalog read from
 * the target account alone, and a restore must work as on a standard account, and each RestorePoint must equal its
 * SourceSnapshot byte for byte.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { StorageSharedKeyCredential } from "@azure/storage-blob";
import { createTargetCatalog } from "../../src/adapters/target-catalog";
import { locationFromUrl } from "../../src/adapters/target-blob";
import { codeOf, statusOf } from "../../src/domain/errors";
import { manifestBlobName } from "../../src/domain/manifest";
import { GiB, MiB, useTestApp } from "../support/app";
import { syncAndVerify } from "../support/backup";
import { assertRestoredContent, restoreThroughApi } from "../support/restored";
import { quickRetries, targetBlobService } from "../support/stack";

describe("a premium page blob target account", () => {
  const app = useTestApp({ stack: { targetAccountSku: "Premium_LRS" } });

  it("when a block or append blob is written to it, then it answers 400 BlobTypeNotSupported, and says it is Premium_LRS", async () => {
    const container = targetBlobService(app().stack).getContainerClient("premium-probe");
    await container.createIfNotExists();
    const refusals = [() => container.getBlockBlobClient("notes.json").upload("{}", 2), () => container.getAppendBlobClient("log.txt").create()];
    for (const refusal of refusals) {
      const error = await refusal().then(() => undefined, (thrown: unknown) => thrown);
      assert.equal(statusOf(error), 400);
      assert.equal(codeOf(error), "BlobTypeNotSupported");
    }
    const page = container.getPageBlobClient("disk.vhd");
    await page.create(1024);
    assert.equal((await page.getProperties()).blobType, "PageBlob");
    assert.equal((await container.getAccountInfo()).skuName, "Premium_LRS");
  });

  it("when a disk is backed up into it twice and restored, then every blob is a page blob and the RestorePoints equal their snapshots", async () => {
    const { stack, deps } = app();
    const diskId = await app().createDisk("disk-premium-target", 1 * GiB);
    stack.disks.writeSeeded(diskId, 0, 4 * MiB, 71);
    stack.disks.writeSeeded(diskId, 600 * MiB, 1 * MiB + 512, 72);
    const target = { blobEndpoint: stack.target.blobEndpoint, container: "premium", storageAccountId: stack.target.resourceId };
    const diskKey = await app().protect(diskId, { target });
    const first = await syncAndVerify(app(), diskKey);
    stack.disks.writeSeeded(diskId, 2 * MiB, 3 * MiB, 73);
    stack.disks.trim(diskId, 600 * MiB, 1 * MiB);
    const second = await syncAndVerify(app(), diskKey);
    assert.equal(second.run.bytesCopied, 3 * MiB, "the second run copies only what changed");

    const container = targetBlobService(stack).getContainerClient("premium");
    const types = new Map<string, string | undefined>();
    for await (const item of container.listBlobsFlat()) types.set(item.name, item.properties.blobType);
    const { blobName } = locationFromUrl(first.point.targetBlobUrl);
    for (const point of [first.point, second.point]) assert.equal(types.get(manifestBlobName(blobName, point.restorePointId)), "PageBlob");
    assert.deepEqual([...new Set(types.values())], ["PageBlob"], JSON.stringify([...types]));

    // The description the target account keeps is read back as the product wrote it, padding and all.
    const manifest = await deps.targets(locationFromUrl(second.point.targetBlobUrl)).readManifest(second.point.restorePointId);
    assert.equal(manifest?.target.snapshot, second.point.targetSnapshot);
    const catalog = createTargetCatalog(new StorageSharedKeyCredential(stack.target.accountName, stack.target.accountKey), quickRetries);
    const listing = await catalog.list({ blobEndpoint: stack.target.blobEndpoint, container: "premium" });
    assert.deepEqual(listing.problems, []);
    assert.deepEqual(listing.restorePoints.map((p) => [p.restorePointId, p.dataPresent]).sort(), [first.point, second.point].map((p) => [p.restorePointId, true]).sort());

    const body = { name: "disk-premium-restored", resourceGroup: "rg-restore", location: stack.target.location };
    const restored = await restoreThroughApi(app(), diskKey, second.point.restorePointId, body);
    assert.equal(restored.restore?.state, "succeeded", JSON.stringify(restored.body));
    await assertRestoredContent(app(), restored.restore.newDiskId, second.point, "check-premium-restored");
    assert.deepEqual(await deps.targets(locationFromUrl(first.point.targetBlobUrl)).listRestoreHolds(), [], "the restore's hold (a page blob here) is released");
  });
});
