/**
 * The source changes under us: the disk grows (across 4 TiB too), is deleted, is recreated under the same name;
 * snapshots are deleted by someone else, during a run or between runs; read access is revoked mid-run.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { GiB, MiB, resourceGroup, useTestApp } from "../support/app";
import { assertHealthy, runOf, syncAndVerify } from "../support/backup";
import { intercept } from "../support/intercept";
import { recordOutcome } from "../support/reliability-report";

const poll = { updateIntervalInMs: 10 };

describe("the source changes under us", () => {
  const app = useTestApp();

  async function snapshotsOf(diskId: string): Promise<string[]> {
    const names: string[] = [];
    for await (const s of app().compute.snapshots.listByResourceGroup(resourceGroup)) {
      if (s.creationData?.sourceResourceId?.toLowerCase() === diskId.toLowerCase()) names.push(s.name!);
    }
    return names;
  }

  async function deleteSnapshots(diskId: string): Promise<void> {
    for (const name of await snapshotsOf(diskId)) {
      await app().compute.snapshots.revokeAccess(resourceGroup, name, poll);
      await app().compute.snapshots.delete(resourceGroup, name, poll);
    }
  }

  it("when the disk grows, then the TargetBlob grows, the old footer page is cleared and the RestorePoint matches", async () => {
    const { stack, compute } = app();
    const diskId = await app().createDisk("disk-grow", 2 * GiB);
    stack.disks.writeSeeded(diskId, 0, 1 * MiB, 50);
    const diskKey = await app().protect(diskId);
    await syncAndVerify(app(), diskKey);
    await compute.disks.update(resourceGroup, "disk-grow", { diskSizeGB: 3 }, poll);
    stack.disks.writeSeeded(diskId, 2 * GiB + 4 * MiB, 1 * MiB, 51);
    const { run, point } = await syncAndVerify(app(), diskKey);
    assert.equal(run.fullCopyReason, undefined, "a diff, not a full copy");
    assert.equal(point.blobBytes, 3 * GiB + 512);
    recordOutcome({ area: "Source changes", scenario: "disk grown 2 → 3 GiB between runs", runs: 2, faults: "resize", result: "diff run; TargetBlob grown to 3 GiB + 512; RestorePoint verified" });
  });

  it("when the disk grows across 4 TiB, then the run copies in full and records why", async () => {
    const { stack, compute } = app();
    const diskId = await app().createDisk("disk-4tib", 4096 * GiB);
    stack.disks.writeSeeded(diskId, 0, 2 * MiB, 52);
    stack.disks.writeSeeded(diskId, 4000 * GiB, 1 * MiB, 53);
    const diskKey = await app().protect(diskId);
    await syncAndVerify(app(), diskKey);
    await compute.disks.update(resourceGroup, "disk-4tib", { diskSizeGB: 4100 }, poll);
    stack.disks.writeSeeded(diskId, 4099 * GiB, 1 * MiB, 54);
    const { run, point } = await syncAndVerify(app(), diskKey);
    assert.equal(run.fullCopyReason, "crossed-4tib");
    assert.equal(run.bytesCopied, 4 * MiB + 512, "every allocated page and the footer");
    assert.equal(point.fullCopy, true);
    recordOutcome({ area: "Source changes", scenario: "disk grown 4096 → 4100 GiB (across 4 TiB)", runs: 2, faults: "resize across 4 TiB", result: "full copy recorded as crossed-4tib; RestorePoint verified" });
  });

  it("when the disk is deleted, then the run fails with a clear cause and earlier RestorePoints stay", async () => {
    const { stack, compute } = app();
    const diskId = await app().createDisk("disk-gone", 1 * GiB);
    stack.disks.writeSeeded(diskId, 0, 1 * MiB, 70);
    const diskKey = await app().protect(diskId);
    const { point } = await syncAndVerify(app(), diskKey);
    const digest = await app().targetDigest(point);
    await deleteSnapshots(diskId);
    await compute.disks.delete(resourceGroup, "disk-gone", poll);
    const run = await runOf(app(), diskKey, await app().sync(diskKey));
    assert.equal(run.state, "failed");
    assert.match(run.error ?? "", /DiskNotFound.*does not exist/);
    const points = await app().restorePoints(diskKey);
    assert.equal(points.length, 1);
    assert.equal(await app().targetDigest(points[0]), digest, "the RestorePoint is untouched");
    recordOutcome({ area: "Source changes", scenario: "disk deleted between runs", runs: 2, faults: "disk and its snapshots deleted", result: `run failed: "${run.error}"; earlier RestorePoint unchanged` });
  });

  it("when the disk is deleted and recreated under the same name, then a new chain starts with a full copy, never a diff across families", async () => {
    const { stack, compute } = app();
    const diskId = await app().createDisk("disk-recreate", 2 * GiB);
    stack.disks.writeSeeded(diskId, 0, 3 * MiB, 60);
    const diskKey = await app().protect(diskId);
    await syncAndVerify(app(), diskKey);
    await deleteSnapshots(diskId);
    await compute.disks.delete(resourceGroup, "disk-recreate", poll);
    await app().createDisk("disk-recreate", 2 * GiB);
    stack.disks.writeSeeded(diskId, 1 * GiB, 1 * MiB, 61);
    const { run } = await syncAndVerify(app(), diskKey);
    assert.equal(run.fullCopyReason, "disk-recreated");
    assert.equal(run.bytesCopied, 1 * MiB + 512);
    recordOutcome({ area: "Source changes", scenario: "disk deleted and recreated under the same name (new uniqueId)", runs: 2, faults: "recreate", result: "full copy recorded as disk-recreated; the old data cleared on the target; RestorePoint verified" });
  });

  it("when someone deletes the run's snapshot mid-run, then the run fails clearly, no RestorePoint is made, and the next run recovers", async () => {
    const { stack } = app();
    const diskId = await app().createDisk("disk-snapdel", 2 * GiB);
    stack.disks.writeSeeded(diskId, 0, 1 * MiB, 100);
    const diskKey = await app().protect(diskId);
    await syncAndVerify(app(), diskKey);
    // More page operations than the copy concurrency, so that some start after the deletion.
    for (let i = 0; i < 40; i++) stack.disks.writeSeeded(diskId, i * 16 * MiB, 512 * 1024, 110 + i);
    const { value: before } = await app().deps.records.getState(diskKey);
    const deleting = intercept(app().deps, "target.copyFromUrl", 2, async () => {
      const active = (await snapshotsOf(diskId)).find((name) => !before.base?.snapshotId.endsWith(`/${name}`));
      assert.ok(active, "the run's snapshot exists");
      await app().compute.snapshots.revokeAccess(resourceGroup, active, poll);
      await app().compute.snapshots.delete(resourceGroup, active, poll);
    });
    const runId = await app().withDeps(deleting.deps).sync(diskKey);
    const run = await runOf(app(), diskKey, runId);
    assert.equal(run.state, "failed");
    assert.match(run.error ?? "", /SnapshotNotFound/);
    assert.equal((await app().restorePoints(diskKey)).length, 1, "no RestorePoint for incomplete data");
    await syncAndVerify(app(), diskKey);
    await assertHealthy(app(), diskKey, diskId, 2);
    recordOutcome({ area: "Source changes", scenario: "the run's source snapshot deleted by someone mid-run", runs: 2, faults: "revoke + delete after 2 of 40 page copies", result: `run failed: "${run.error}"; no RestorePoint; next run verified` });
  });

  it("when read access is revoked mid-run, then it is granted again and the run completes", async () => {
    const { stack } = app();
    const diskId = await app().createDisk("disk-revoke", 2 * GiB);
    for (let i = 0; i < 6; i++) stack.disks.writeSeeded(diskId, i * 64 * MiB, 4 * MiB, 120 + i);
    const diskKey = await app().protect(diskId);
    const revoking = intercept(app().deps, "target.copyFromUrl", 2, async () => {
      for (const name of await snapshotsOf(diskId)) await app().compute.snapshots.revokeAccess(resourceGroup, name, poll);
    });
    const { run } = await syncAndVerify(app().withDeps(revoking.deps), diskKey);
    assert.equal(run.bytesCopied, 24 * MiB + 512);
    assert.ok(revoking.fired());
    await assertHealthy(app(), diskKey, diskId, 1);
    recordOutcome({ area: "Source changes", scenario: "read access revoked (as if expired) mid-run", runs: 1, faults: "revoke after 2 copies", result: "403 from the copy source → re-granted → run succeeded; RestorePoint verified" });
  });

  it("when the chain base snapshot is deleted between runs, then the next run copies in full", async () => {
    const { stack } = app();
    const diskId = await app().createDisk("disk-basedel", 2 * GiB);
    stack.disks.writeSeeded(diskId, 0, 2 * MiB, 130);
    const diskKey = await app().protect(diskId);
    await syncAndVerify(app(), diskKey);
    await deleteSnapshots(diskId);
    stack.disks.writeSeeded(diskId, 1 * GiB, 1 * MiB, 131);
    const { run } = await syncAndVerify(app(), diskKey);
    assert.equal(run.fullCopyReason, "base-missing");
    recordOutcome({ area: "Source changes", scenario: "chain base snapshot deleted by someone between runs", runs: 2, faults: "base deleted", result: "full copy recorded as base-missing; RestorePoint verified" });
  });
});
