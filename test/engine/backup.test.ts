/**
 * End-to-end BackupRuns on the local stack: every RestorePoint must equal its SourceSnapshot byte for byte,
 * and a sync must copy only what changed.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { GiB, MiB, useTestApp } from "../support/app";
import { syncAndVerify } from "../support/backup";

describe("differential backups", () => {
  const app = useTestApp();

  it("when a sparse disk is synced three times with writes, overwrites and trims, then each RestorePoint equals its snapshot and only changes are copied", async () => {
    const { stack } = app();
    const diskId = await app().createDisk("disk-basic", 16 * GiB);
    stack.disks.writeSeeded(diskId, 0, 8 * MiB, 1);
    stack.disks.writeSeeded(diskId, 5 * GiB, 3 * MiB, 2);
    stack.disks.writeSeeded(diskId, 16 * GiB - 1 * MiB, 1 * MiB, 3);
    const diskKey = await app().protect(diskId);

    const first = await syncAndVerify(app(), diskKey);
    assert.equal(first.run.fullCopyReason, "first-run");
    assert.equal(first.run.bytesCopied, 12 * MiB + 512, "allocated bytes plus the VHD footer page");
    const firstDigest = await app().targetDigest(first.point);

    stack.disks.writeSeeded(diskId, 4 * MiB, 1 * MiB, 4); // overwrite inside the first extent
    stack.disks.writeSeeded(diskId, 9 * GiB + 512, 512 * 3, 5); // new, not 4 MiB aligned
    stack.disks.trim(diskId, 5 * GiB, 1 * MiB);
    const second = await syncAndVerify(app(), diskKey);
    assert.equal(second.run.fullCopyReason, undefined);
    assert.equal(second.run.bytesCopied, 1 * MiB + 1536, "exactly the changed bytes");
    assert.equal(second.run.bytesCleared, 1 * MiB);

    stack.disks.writeSeeded(diskId, 12 * GiB, 6 * MiB, 6);
    const third = await syncAndVerify(app(), diskKey);
    assert.equal(third.run.bytesCopied, 6 * MiB);
    assert.equal(third.run.requests, 2, "6 MiB contiguous = two 4 MiB-bounded requests");

    assert.equal((await app().restorePoints(diskKey)).length, 3);
    assert.equal(await app().targetDigest(first.point), firstDigest, "later syncs leave earlier RestorePoints unchanged");
    assert.notEqual(await app().targetDigest(third.point), firstDigest);
  });
});
