/**
 * Review: a failed restore's step delivered again after a worker died between recording the restore as failed and
 * releasing its hold. The disk service is provably done with the RestorePoint (the import was never sent: the name
 * was taken), so the redelivery must release the hold, as it does for a succeeded restore.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { locationFromUrl } from "../../src/adapters/target-blob";
import { queueNames } from "../../src/domain/messages";
import { MiB, GiB, useTestApp } from "../support/app";
import { syncAndVerify } from "../support/backup";
import { assertRestoredContent, restoreThroughApi } from "../support/restored";

describe("a failed restore's step delivered again", () => {
  const app = useTestApp();

  it("when the worker died after recording failure and before releasing the hold, then the redelivered step releases it", async () => {
    const { stack, deps, host, compute } = app();
    const diskId = await app().createDisk("disk-review-failed-restore", 1 * GiB);
    stack.disks.writeSeeded(diskId, 3 * MiB, 2 * MiB, 93);
    const diskKey = await app().protect(diskId, { target: { blobEndpoint: stack.target.blobEndpoint, container: "backups", storageAccountId: stack.target.resourceId } });
    const { point } = await syncAndVerify(app(), diskKey);
    const body = { name: "disk-review-failed-restored", resourceGroup: "rg-restore", location: stack.target.location };
    const accepted = await host.invokeHttp("POST", `/api/disks/${diskKey}/restore-points/${point.restorePointId}/restore`, body);
    assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
    // The name is taken after the restore was accepted: its step refuses to import over a disk that is not its own.
    await compute.disks.createOrUpdate("rg-restore", body.name, { location: stack.target.location, diskSizeGB: 1, creationData: { createOption: "Empty" } }, { updateIntervalInMs: 10 });
    await host.runUntilIdle();
    const { restoreId } = accepted.body as { restoreId: string };
    const failed = await deps.records.getRestore(diskKey, restoreId);
    assert.equal(failed?.value.state, "failed", JSON.stringify(failed?.value));
    const target = deps.targets(locationFromUrl(point.targetBlobUrl));
    assert.deepEqual(await target.listRestoreHolds(), [], "the failed restore's hold is released");

    // The state a worker leaves when it dies between the two writes: the record says failed, the hold is there.
    await target.holdForRestore(point.targetSnapshot, restoreId, deps.now());
    await deps.queues.send(queueNames.restores, { diskKey, restoreId });
    await host.runUntilIdle();
    assert.deepEqual(await target.listRestoreHolds(), [], "the redelivered step of a failed restore whose import is provably done releases its hold");

    // The RestorePoint is untouched: a restore under another name gives its bytes.
    const again = await restoreThroughApi(app(), diskKey, point.restorePointId, { ...body, name: "disk-review-failed-restored-2" });
    assert.equal(again.restore?.state, "succeeded", JSON.stringify(again.body));
    await assertRestoredContent(app(), again.restore.newDiskId, point, "check-review-failed-restored");
  });
});
