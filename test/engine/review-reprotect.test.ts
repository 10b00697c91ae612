/**
 * Review of re-protection: kept RestorePoints must stay kept until the caller adopts them. A managed protection's
 * retention judges every managed RestorePoint of the disk, so a diff protection (which leaves kept managed
 * RestorePoints kept) must not become managed by PATCH without saying so: that would take them under its retention
 * without `adopt`, which POST /api/disks refuses.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { RestorePoint } from "../../src/domain/records";
import { GiB, MiB, useTestApp } from "../support/app";
import { assertRestoredDigest, restoreThroughApi } from "../support/restored";

type ErrorBody = { error: { code: string; message: string } };

describe("review: kept managed RestorePoints and a protection changed to managed", () => {
  const app = useTestApp({ settings: { DISKDELTA_MANAGED_COPY_CHECK_SECONDS: "1" } });

  it("when a diff protection beside kept managed RestorePoints is changed to replication managed, then it is refused with 409 naming adopt, and the kept ones stay restorable", async () => {
    const diskId = await app().createDisk("disk-review-kept-managed", 1 * GiB);
    app().stack.disks.writeSeeded(diskId, 2 * MiB, 3 * MiB, 17);
    const target = { blobEndpoint: app().stack.target.blobEndpoint, container: "backups" };
    const managed = { replication: "managed", managedTarget: { resourceGroup: "diskdelta-target", location: app().stack.target.location } };
    const diskKey = await app().protect(diskId, { target, ...managed });
    await app().sync(diskKey);
    app().stack.disks.writeSeeded(diskId, 100 * MiB, 1 * MiB, 18);
    await app().sync(diskKey);
    const kept = await app().allRestorePoints(diskKey);
    assert.deepEqual(kept.map((p) => p.kind), ["managed", "managed"]);
    assert.equal((await app().host.invokeHttp("DELETE", `/api/disks/${diskKey}`)).status, 200);

    const diff = await app().host.invokeHttp("POST", "/api/disks", { diskId, target: { ...target, blobName: "review-diff.vhd" }, retention: { keepLast: 1 } });
    assert.equal(diff.status, 201, JSON.stringify(diff.body));
    assert.deepEqual((diff.body as { kept?: unknown }).kept, { restorePoints: 2 });

    const patched = await app().host.invokeHttp("PATCH", `/api/disks/${diskKey}`, managed);
    assert.equal(patched.status, 409, JSON.stringify(patched.body));
    const { code, message } = (patched.body as ErrorBody).error;
    assert.equal(code, "KeptRestorePoints");
    assert.match(message, /replication: .*2 kept managed RestorePoints.*"adopt": true/);

    // Whatever the protection does next, the kept managed RestorePoints stay, and restore to their source's bytes.
    app().stack.disks.writeSeeded(diskId, 300 * MiB, 1 * MiB, 19);
    await app().sync(diskKey);
    const listing = (await app().host.invokeHttp("GET", `/api/disks/${diskKey}/restore-points`)).body as { restorePoints: RestorePoint[]; kept: string[] };
    assert.deepEqual([...listing.kept].sort(), kept.map((p) => p.restorePointId).sort(), "both managed RestorePoints are still kept");
    const oldest = kept[1];
    const restored = await restoreThroughApi(app(), diskKey, oldest.restorePointId, { name: "restored-review-kept-managed", resourceGroup: "rg-restore", location: app().stack.target.location });
    assert.equal(restored.restore?.state, "succeeded", JSON.stringify(restored.body ?? restored.restore));
    await assertRestoredDigest(app(), restored.restore.newDiskId, oldest, "check-review-kept-managed");
    const fresh = listing.restorePoints.find((p) => p.kind === "blob");
    assert.ok(fresh, "the diff protection recorded its own RestorePoint");
    assert.equal((await app().verify(fresh)).equal, true);
  });

  /** A disk backed up once (its RestorePoint verified equal to its SourceSnapshot), then unprotected: one kept RestorePoint. */
  async function backedUpOnceThenUnprotected(name: string, seed: number) {
    const diskId = await app().createDisk(name, 1 * GiB);
    app().stack.disks.writeSeeded(diskId, 2 * MiB, 3 * MiB, seed);
    const target = { blobEndpoint: app().stack.target.blobEndpoint, container: "backups", storageAccountId: app().stack.target.resourceId };
    const diskKey = await app().protect(diskId, { target });
    await app().sync(diskKey);
    const [point] = await app().restorePoints(diskKey);
    assert.equal((await app().verify(point)).equal, true);
    assert.equal((await app().host.invokeHttp("DELETE", `/api/disks/${diskKey}`)).status, 200);
    return { diskId, diskKey, target, point };
  }

  it("when adopt names another container than the kept chain's, then the 409 names target.container and the container holding them, and the kept RestorePoints stay restorable", async () => {
    const { diskId, diskKey, target, point } = await backedUpOnceThenUnprotected("disk-review-adopt-container", 27);

    const adopt = await app().host.invokeHttp("POST", "/api/disks", { diskId, target: { ...target, container: "elsewhere" }, adopt: true });
    assert.equal(adopt.status, 409, JSON.stringify(adopt.body));
    const { code, message } = (adopt.body as ErrorBody).error;
    assert.equal(code, "KeptRestorePoints");
    assert.match(message, /target\.container: .*container backups/, message);
    assert.equal((await app().host.invokeHttp("GET", `/api/disks/${diskKey}`)).status, 404, "nothing protected");

    const adopted = await app().host.invokeHttp("POST", "/api/disks", { diskId, target, adopt: true });
    assert.equal(adopted.status, 201, JSON.stringify(adopted.body));
    assert.equal((adopted.body as { adopted?: { restorePoints: number } }).adopted?.restorePoints, 1);
    const restored = await restoreThroughApi(app(), diskKey, point.restorePointId, { name: "restored-review-adopt-container", resourceGroup: "rg-restore", location: app().stack.target.location });
    assert.equal(restored.restore?.state, "succeeded", JSON.stringify(restored.body ?? restored.restore));
    await assertRestoredDigest(app(), restored.restore.newDiskId, point, "check-review-adopt-container");
  });

  it("when another disk asks for the TargetBlob of an unprotected disk's kept chain, then it is refused naming that disk, and the disk adopts its chain after", async () => {
    const otherId = await app().createDisk("disk-review-kept-taker", 1 * GiB);
    const { diskId, diskKey, target, point } = await backedUpOnceThenUnprotected("disk-review-kept-owner", 37);

    const blobName = point.targetBlobUrl.split("/").at(-1);
    const taken = await app().host.invokeHttp("POST", "/api/disks", { diskId: otherId, target: { ...target, blobName } });
    assert.equal(taken.status, 409, JSON.stringify(taken.body));
    const { code, message } = (taken.body as ErrorBody).error;
    assert.equal(code, "TargetBlobInUse");
    assert.match(message, new RegExp(`target\\.blobName: .*holds the backups of disk ${diskKey}`));

    const adopted = await app().host.invokeHttp("POST", "/api/disks", { diskId, target, adopt: true });
    assert.equal(adopted.status, 201, JSON.stringify(adopted.body));
    app().stack.disks.writeSeeded(diskId, 200 * MiB, 1 * MiB, 38);
    await app().sync(diskKey);
    const points = await app().restorePoints(diskKey);
    assert.equal(points.length, 2);
    for (const each of points) assert.equal((await app().verify(each)).equal, true);
  });
});
