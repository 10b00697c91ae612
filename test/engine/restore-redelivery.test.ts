/**
 * A restore's last step delivered again after a worker died between recording the restore as succeeded and releasing
 * its hold: the redelivery must release the hold, so that retention can remove the RestorePoint in its time.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { locationFromUrl } from "../../src/adapters/target-blob";
import { queueNames } from "../../src/domain/messages";
import { MiB, GiB, useTestApp } from "../support/app";
import { syncAndVerify } from "../support/backup";
import { assertRestoredContent, restoreThroughApi } from "../support/restored";

describe("a restore's step delivered again after it succeeded", () => {
  const app = useTestApp();

  it("when the worker died after recording success and before releasing the hold, then the redelivered step releases it", async () => {
    const { stack, deps, host } = app();
    const diskId = await app().createDisk("disk-redelivered-restore", 1 * GiB);
    stack.disks.writeSeeded(diskId, 3 * MiB, 2 * MiB, 91);
    const diskKey = await app().protect(diskId, { target: { blobEndpoint: stack.target.blobEndpoint, container: "backups", storageAccountId: stack.target.resourceId } });
    const { point } = await syncAndVerify(app(), diskKey);
    const answer = await restoreThroughApi(app(), diskKey, point.restorePointId, { name: "disk-redelivered-restored", resourceGroup: "rg-restore", location: stack.target.location });
    const restore = answer.restore!;
    assert.equal(restore.state, "succeeded", restore.error);
    await assertRestoredContent(app(), restore.newDiskId, point, "check-redelivered-restored");
    const target = deps.targets(locationFromUrl(point.targetBlobUrl));
    assert.deepEqual(await target.listRestoreHolds(), [], "the restore hold is released");

    // The state a worker leaves when it dies between the two writes: the record says succeeded, the hold is there.
    await target.holdForRestore(point.targetSnapshot, restore.restoreId, deps.now());
    assert.equal((await target.listRestoreHolds()).length, 1);
    await deps.queues.send(queueNames.restores, { diskKey, restoreId: restore.restoreId });
    await host.runUntilIdle();
    assert.deepEqual(await target.listRestoreHolds(), [], "the redelivered step of a succeeded restore releases its hold");
  });
});
