/**
 * Review of region names: ARM compares regions ignoring case and spaces ("West Europe" is westeurope), as the disk
 * service's Import check and CopyStart do (and restore's storage account check). Every region check diskdelta makes
 * itself must compare the same way: a managedTarget in the disk's own region spelled as its display name is refused
 * at protect, naming the field; a managed RestorePoint restores with its region spelled either way.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { GiB, MiB, useTestApp } from "../support/app";
import { assertRestoredDigest, restoreThroughApi } from "../support/restored";

type ErrorBody = { error: { code: string; message: string } };

/** The display names of the stack's regions (ARM answers with the short names). */
const displayNames: Record<string, string> = { westeurope: "West Europe", northeurope: "North Europe" };

describe("review: region names compared as ARM compares them", () => {
  const app = useTestApp({ settings: { DISKDELTA_MANAGED_COPY_CHECK_SECONDS: "1" } });
  const target = () => ({ blobEndpoint: app().stack.target.blobEndpoint, container: "backups" });

  it("when managedTarget.location is the disk's own region spelled as its display name, then protect answers 400 naming managedTarget.location", async () => {
    const own = displayNames[app().stack.arm.location];
    assert.ok(own, `a display name for ${app().stack.arm.location}`);
    const diskId = await app().createDisk("disk-review-region-own", 1 * GiB);
    const answer = await app().host.invokeHttp("POST", "/api/disks", { diskId, target: target(), replication: "managed", managedTarget: { resourceGroup: "diskdelta-target", location: own } });
    assert.equal(answer.status, 400, JSON.stringify(answer.body));
    assert.match((answer.body as ErrorBody).error.message, /managedTarget\.location: West Europe is the disk's own region/);
  });

  it("when a managed RestorePoint is restored with its region spelled as the display name, then the restore succeeds and the disk equals its source", async () => {
    const diskId = await app().createDisk("disk-review-region-managed", 1 * GiB);
    app().stack.disks.writeSeeded(diskId, 2 * MiB, 3 * MiB, 23);
    const diskKey = await app().protect(diskId, { target: target(), replication: "managed", managedTarget: { resourceGroup: "diskdelta-target", location: app().stack.target.location } });
    await app().sync(diskKey);
    const [point] = await app().allRestorePoints(diskKey);
    assert.equal(point.kind, "managed");
    assert.equal((await app().verify(point)).equal, true);
    const location = displayNames[app().stack.target.location];
    assert.ok(location, `a display name for ${app().stack.target.location}`);
    const restored = await restoreThroughApi(app(), diskKey, point.restorePointId, { name: "restored-review-region", resourceGroup: "rg-restore", location });
    assert.equal(restored.status, 202, JSON.stringify(restored.body));
    assert.equal(restored.restore?.state, "succeeded", JSON.stringify(restored.restore));
    await assertRestoredDigest(app(), restored.restore.newDiskId, point, "check-review-region");
  });
});
