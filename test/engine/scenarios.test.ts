/**
 * BackupRun scenarios on the local stack: snapshot modes, copy modes, retention, high offsets, resizes,
 * recreated disks and restores. Every RestorePoint is checked against its SourceSnapshot by content digest.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { locationFromUrl } from "../../src/adapters/target-blob";
import { GiB, MiB, resourceGroup, useTestApp } from "../support/app";
import { syncAndVerify } from "../support/backup";
import { assertRestoredContent } from "../support/restored";

describe("BackupRun scenarios", () => {
  const app = useTestApp();

  it("when a change is written near the end of a 1 TiB disk, then it lands at that offset in the RestorePoint", async () => {
    const { stack, deps } = app();
    const diskId = await app().createDisk("disk-high", 1024 * GiB);
    const offset = 1024 * GiB - 12 * MiB;
    stack.disks.writeSeeded(diskId, offset, 4 * MiB, 11);
    const diskKey = await app().protect(diskId);
    const { point } = await syncAndVerify(app(), diskKey);
    const target = deps.targets(locationFromUrl(point.targetBlobUrl));
    const landed = await target.readSnapshot(point.targetSnapshot, { start: offset, end: offset + 4 * MiB });
    assert.deepEqual(landed, stack.disks.read(diskId, offset, 4 * MiB));
    const atZero = await target.readSnapshot(point.targetSnapshot, { start: 0, end: 4 * MiB });
    assert.ok(atZero.every((b) => b === 0), "nothing was written at offset 0");
  });

  it("when copy mode is stream, then ranges are read and uploaded with a checksum and RestorePoints still match", async () => {
    const { stack } = app();
    const diskId = await app().createDisk("disk-stream", 8 * GiB);
    stack.disks.writeSeeded(diskId, 1 * GiB, 9 * MiB, 21);
    const diskKey = await app().protect(diskId, { copyMode: "stream" });
    const first = await syncAndVerify(app(), diskKey);
    assert.equal(first.run.copyMode, "stream");
    stack.disks.writeSeeded(diskId, 7 * GiB, 512, 22);
    stack.disks.trim(diskId, 1 * GiB, 4 * MiB);
    const second = await syncAndVerify(app(), diskKey);
    assert.equal(second.run.bytesCopied, 512);
    assert.equal(second.run.bytesCleared, 4 * MiB);
  });

  it("when snapshot mode is existing, then every snapshot someone took is replicated once, oldest first", async () => {
    const { stack, compute } = app();
    const diskId = await app().createDisk("disk-existing", 4 * GiB);
    const names = ["user-snap-1", "user-snap-2", "user-snap-3"];
    for (const [i, name] of names.entries()) {
      stack.disks.writeSeeded(diskId, i * GiB, 2 * MiB, 30 + i);
      await compute.snapshots.createOrUpdate(
        resourceGroup,
        name,
        { location: stack.arm.location, incremental: true, creationData: { createOption: "Copy", sourceResourceId: diskId } },
        { updateIntervalInMs: 10 },
      );
    }
    const diskKey = await app().protect(diskId, { snapshotMode: "existing" });
    await app().sync(diskKey);
    const points = (await app().restorePoints(diskKey)).reverse();
    assert.deepEqual(points.map((p) => p.sourceSnapshotId.split("/").pop()), names);
    assert.deepEqual(points.map((p) => p.fullCopy), [true, false, false]);
    assert.deepEqual(points.map((p) => p.bytesCopied), [2 * MiB + 512, 2 * MiB, 2 * MiB]);
    for (const point of points) assert.ok((await app().verify(point)).equal, `${point.sourceSnapshotId} verifies`);
    for (const name of names) assert.ok(await compute.snapshots.get(resourceGroup, name), "others' snapshots are never deleted");
    await app().sync(diskKey);
    assert.equal((await app().restorePoints(diskKey)).length, 3, "no new snapshot, no new RestorePoint");
  });

  it("when retention keeps the last 2, then older RestorePoints and their blob snapshots are removed, never the newest", async () => {
    const { stack, deps } = app();
    const diskId = await app().createDisk("disk-retention", 2 * GiB);
    const diskKey = await app().protect(diskId, { retention: { keepLast: 2 } });
    for (let i = 0; i < 4; i++) {
      stack.disks.writeSeeded(diskId, i * 8 * MiB, 1 * MiB, 40 + i);
      await syncAndVerify(app(), diskKey);
    }
    const points = await app().restorePoints(diskKey);
    assert.equal(points.length, 2);
    const target = deps.targets(locationFromUrl(points[0].targetBlobUrl));
    const snapshots = (await target.listSnapshots()).map((s) => s.snapshot).sort();
    assert.deepEqual(snapshots, points.map((p) => p.targetSnapshot).sort());
  });




  it("when a RestorePoint is restored, then the new disk's content equals the source snapshot", async () => {
    const { stack } = app();
    const diskId = await app().createDisk("disk-restore-src", 4 * GiB);
    stack.disks.writeSeeded(diskId, 100 * MiB, 5 * MiB, 80);
    stack.disks.writeSeeded(diskId, 3 * GiB, 2 * MiB, 81);
    const diskKey = await app().protect(diskId, { target: { blobEndpoint: stack.target.blobEndpoint, container: "backups", storageAccountId: stack.target.resourceId } });
    const { point } = await syncAndVerify(app(), diskKey);
    const answer = await app().host.invokeHttp("POST", `/api/disks/${diskKey}/restore-points/${point.restorePointId}/restore`, {
      name: "disk-restored", resourceGroup: "rg-restore", location: stack.target.location,
    });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const restored = answer.body as { diskId: string; sizeBytes: number };
    assert.equal(restored.sizeBytes, 4 * GiB);
    await assertRestoredContent(app(), restored.diskId, point, "check-restored");
  });
  it("when a restore names a resource group that does not exist, then 409 ResourceGroupNotFound names it and nothing is left behind; once created, the restore succeeds", async () => {
    const { stack, deps } = app();
    const diskId = await app().createDisk("disk-restore-nogroup", 1 * GiB);
    stack.disks.writeSeeded(diskId, 0, 1 * MiB, 82);
    const diskKey = await app().protect(diskId, { target: { blobEndpoint: stack.target.blobEndpoint, container: "backups", storageAccountId: stack.target.resourceId } });
    const { point } = await syncAndVerify(app(), diskKey);
    const restore = () => app().host.invokeHttp("POST", `/api/disks/${diskKey}/restore-points/${point.restorePointId}/restore`, {
      name: "disk-restored-nogroup", resourceGroup: "rg-not-yet", location: stack.target.location,
    });
    const refused = await restore();
    assert.equal(refused.status, 409, JSON.stringify(refused.body));
    const { error } = refused.body as { error: { code: string; message: string } };
    assert.equal(error.code, "ResourceGroupNotFound");
    assert.match(error.message, new RegExp(`^resource group 'rg-not-yet' does not exist in subscription ${stack.arm.subscriptionId}; create it first`));
    assert.deepEqual(await deps.targets(locationFromUrl(point.targetBlobUrl)).listRestoreHolds(), [], "the restore hold is released");

    await stack.createResourceGroup({ name: "rg-not-yet", location: stack.target.location });
    const restored = await restore();
    assert.equal(restored.status, 200, JSON.stringify(restored.body));
    assert.match((restored.body as { diskId: string }).diskId, /\/resourceGroups\/rg-not-yet\/providers\/Microsoft\.Compute\/disks\/disk-restored-nogroup$/);
  });

  it("when the source snapshot is gone, then verify compares with the checksums recorded after the backup, and catches a difference", async () => {
    const { stack, deps } = app();
    const diskId = await app().createDisk("disk-checksums", 2 * GiB);
    stack.disks.writeSeeded(diskId, 0, 6 * MiB, 90);
    stack.disks.writeSeeded(diskId, 1 * GiB, 1 * MiB, 91);
    const diskKey = await app().protect(diskId, { verifyAfterBackup: true });
    const { point: first } = await syncAndVerify(app(), diskKey);
    stack.disks.writeSeeded(diskId, 8 * MiB, 1 * MiB, 92);
    await syncAndVerify(app(), diskKey);
    assert.equal(await deps.compute.getSnapshot(first.sourceSnapshotId), undefined, "the first source snapshot was superseded");

    const verify = () => app().host.invokeHttp("POST", `/api/disks/${diskKey}/restore-points/${first.restorePointId}/verify`);
    const answer = await verify();
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.deepEqual([(answer.body as { basis: string }).basis, (answer.body as { equal: boolean }).equal], ["recorded-checksums", true]);

    const target = deps.targets(locationFromUrl(first.targetBlobUrl));
    const recorded = (await target.readChecksums(first.restorePointId)) as { blocks: [number, string][] };
    const tampered = { ...recorded, blocks: recorded.blocks.map(([block, hash], i) => [block, i === 1 ? hash.replace(/^./, (c) => (c === "0" ? "1" : "0")) : hash]) };
    await target.writeChecksums(first.restorePointId, tampered);
    const mismatch = (await verify()).body as { equal: boolean; mismatches: { start: number }[] };
    assert.equal(mismatch.equal, false);
    assert.equal(mismatch.mismatches[0].start, recorded.blocks[1][0] * 4 * MiB, "the differing block is named");
  });

  it("when neither the source snapshot nor recorded checksums exist, then verify says there is nothing to compare with", async () => {
    const { stack } = app();
    const diskId = await app().createDisk("disk-nochecksums", 1 * GiB);
    stack.disks.writeSeeded(diskId, 0, 1 * MiB, 95);
    const diskKey = await app().protect(diskId);
    const runId = await app().sync(diskKey);
    const [first] = await app().restorePoints(diskKey);
    assert.equal(first.runId, runId);
    stack.disks.writeSeeded(diskId, 0, 512, 96);
    await app().sync(diskKey);
    const answer = await app().host.invokeHttp("POST", `/api/disks/${diskKey}/restore-points/${first.restorePointId}/verify`);
    assert.equal(answer.status, 409);
    assert.match((answer.body as { error: { message: string } }).error.message, /no checksums were recorded.*verifyAfterBackup/);
  });
});
