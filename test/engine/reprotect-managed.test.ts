/**
 * Protecting a managed-copy disk again: a managed protection's retention judges every managed RestorePoint of the
 * disk whatever its TargetBlob, so kept managed RestorePoints are only taken over by `adopt` — a new
 * `target.blobName` does not keep them out of its reach and is refused; a diff protection leaves them kept.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { GiB, MiB, useTestApp } from "../support/app";
import { assertRestoredDigest, restoreThroughApi } from "../support/restored";

type ErrorBody = { error: { code: string; message: string } };

describe("unprotect and protect again a managed-copy disk", () => {
  const app = useTestApp({ settings: { DISKDELTA_MANAGED_COPY_CHECK_SECONDS: "1" } });

  it("when a managed disk with kept RestorePoints is protected again, then a new blob name is refused for managed, diff keeps them kept, and adopt takes them", async () => {
    const diskId = await app().createDisk("disk-kept-managed", 1 * GiB);
    app().stack.disks.writeSeeded(diskId, 2 * MiB, 3 * MiB, 7);
    const target = { blobEndpoint: app().stack.target.blobEndpoint, container: "backups" };
    const managed = { replication: "managed", managedTarget: { resourceGroup: "diskdelta-target", location: app().stack.target.location } };
    const diskKey = await app().protect(diskId, { target, ...managed });
    await app().sync(diskKey);
    const [point] = await app().allRestorePoints(diskKey);
    assert.equal(point.kind, "managed");
    assert.equal((await app().host.invokeHttp("DELETE", `/api/disks/${diskKey}`)).status, 200);

    const listing = (await app().host.invokeHttp("GET", `/api/disks/${diskKey}/restore-points`)).body as { kept: string[]; protected: boolean };
    assert.deepEqual([listing.protected, listing.kept], [false, [point.restorePointId]]);
    const restored = await restoreThroughApi(app(), diskKey, point.restorePointId, { name: "restored-kept-managed", resourceGroup: "rg-restore", location: app().stack.target.location });
    assert.equal(restored.restore?.state, "succeeded", JSON.stringify(restored.body ?? restored.restore));
    await assertRestoredDigest(app(), restored.restore.newDiskId, point, "check-kept-managed");

    const newBlob = await app().host.invokeHttp("POST", "/api/disks", { diskId, target: { ...target, blobName: "other.vhd" }, ...managed });
    assert.equal(newBlob.status, 409, JSON.stringify(newBlob.body));
    assert.match((newBlob.body as ErrorBody).error.message, /1 kept managed RestorePoints .* "adopt": true/);

    const adopted = await app().host.invokeHttp("POST", "/api/disks", { diskId, target, ...managed, adopt: true });
    assert.equal(adopted.status, 201, JSON.stringify(adopted.body));
    assert.equal((adopted.body as { adopted?: { restorePoints: number } }).adopted?.restorePoints, 1);
    const after = (await app().host.invokeHttp("GET", `/api/disks/${diskKey}/restore-points`)).body as { kept: string[]; protected: boolean };
    assert.deepEqual([after.protected, after.kept], [true, []]);

    assert.equal((await app().host.invokeHttp("DELETE", `/api/disks/${diskKey}`)).status, 200);
    const diff = await app().host.invokeHttp("POST", "/api/disks", { diskId, target: { ...target, blobName: "diff-now.vhd" } });
    assert.equal(diff.status, 201, JSON.stringify(diff.body));
    assert.deepEqual((diff.body as { kept?: unknown }).kept, { restorePoints: 1 }, "a diff protection leaves the managed RestorePoint kept");
  });
});
