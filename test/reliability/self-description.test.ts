/**
 * Self-describing RestorePoints stay true to their records: a second BackupRun of the same SourceSnapshot (snapshot
 * mode existing, after the first run recorded its RestorePoint but was failed before it moved the base) leaves the
 * recorded RestorePoint's manifest and data as they are, and the target account alone still lists its data.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { locationFromUrl } from "../../src/adapters/target-blob";
import { InvalidRecordError } from "../../src/domain/errors";
import { manifestBlobName } from "../../src/domain/manifest";
import { failRun } from "../../src/engine/runs";
import { restorePointDigest } from "../../src/engine/verify-restore-point";
import { GiB, MiB, resourceGroup, useTestApp } from "../support/app";
import { emptyAppTables } from "../support/app-tables";
import { syncAndVerify } from "../support/backup";
import { intercept } from "../support/intercept";
import { targetBlobService } from "../support/stack";

describe("self-describing RestorePoints", () => {
  const app = useTestApp();
  it("when a run recorded a RestorePoint and was failed before moving the base, then the next run of the same snapshot leaves the manifest equal to the record", async () => {
    const { stack, compute, deps } = app();
    const diskId = await app().createDisk("disk-rerun", 2 * GiB);
    stack.disks.writeSeeded(diskId, 0, 2 * MiB, 91);
    await compute.snapshots.createOrUpdate(
      resourceGroup,
      "user-snap-rerun",
      { location: stack.arm.location, incremental: true, creationData: { createOption: "Copy", sourceResourceId: diskId } },
      { updateIntervalInMs: 10 },
    );
    const diskKey = await app().protect(diskId, { snapshotMode: "existing" });
    let failedRunId = "";
    // Right after the record is written, the run is failed (abandoned, or gave up after 5 transient failures).
    const failing = intercept(deps, "records.recordRestorePoint", 1, async () => {
      const state = (await deps.records.getState(diskKey)).value;
      failedRunId = state.activeRunId!;
      await failRun(deps, diskKey, failedRunId, new Error("simulated: gave up after 5 attempts"), { info() {}, warn() {}, error() {} } as never);
      // The worker's last delivery ends here (what failed after the record is not this test's concern).
      throw new Error("simulated: the finalizer's last attempt failed after the record");
    });
    await app().withDeps(failing.deps).sync(diskKey);
    assert.ok(failing.fired());
    const [point] = await app().restorePoints(diskKey);
    assert.equal(point.runId, failedRunId);
    const target = deps.targets(locationFromUrl(point.targetBlobUrl));
    const before = await target.readManifest(point.restorePointId);
    assert.equal(before?.target.snapshot, point.targetSnapshot, "first: manifest names the record's snapshot");

    await app().sync(diskKey); // the base did not move: the same SourceSnapshot is replicated again
    const points = await app().restorePoints(diskKey);
    assert.equal(points.length, 1, "one RestorePoint per snapshot");
    const after = await target.readManifest(point.restorePointId);
    // A newer snapshot: the second run's blob snapshot is now an orphan and retention removes it.
    stack.disks.writeSeeded(diskId, 8 * MiB, 1 * MiB, 92);
    await compute.snapshots.createOrUpdate(
      resourceGroup,
      "user-snap-rerun-2",
      { location: stack.arm.location, incremental: true, creationData: { createOption: "Copy", sourceResourceId: diskId } },
      { updateIntervalInMs: 10 },
    );
    await app().sync(diskKey);
    const listing = await deps.catalog.list({ blobEndpoint: stack.target.blobEndpoint, container: "backups" });
    const listed = listing.restorePoints.find((p) => p.restorePointId === point.restorePointId);
    assert.ok((await app().restorePoints(diskKey)).some((p) => p.restorePointId === point.restorePointId), "still recorded");
    assert.equal(listed?.dataPresent, true, "the target account alone still lists the RestorePoint's data");
    assert.equal(after?.runId, points[0].runId, "the manifest's runId is the record's");
    assert.equal(after?.target.snapshot, points[0].targetSnapshot, "the manifest names the record's blob snapshot");
  });

  it("when a blob in a TargetBlob's manifests folder is larger than any manifest, then reading it is refused by its size, without downloading it", async () => {
    const diskId = await app().createDisk("disk-bigmanifest", 1 * GiB);
    app().stack.disks.writeSeeded(diskId, 0, 1 * MiB, 93);
    const diskKey = await app().protect(diskId);
    await syncAndVerify(app(), diskKey);
    const config = (await app().deps.records.getDisk(diskKey))!;
    const container = targetBlobService(app().stack).getContainerClient(config.target.container);
    await container.getBlockBlobClient(manifestBlobName(config.target.blobName, "0000000000000-big")).uploadData(Buffer.alloc(2 * MiB, 0x7b));
    await assert.rejects(app().deps.targets(config.target).readManifest("0000000000000-big"), (error: Error) => {
      assert.ok(error instanceof InvalidRecordError, String(error));
      assert.match(JSON.stringify(error.problems), /2097152 bytes: too large for a manifest \(at most 1048576\)/);
      return true;
    });
  });

  it("when the tables are lost and the disk is protected again with adopt before a catalog rebuild, then its next run keeps the earlier RestorePoints' data and the rebuild finds them equal", async () => {
    const { stack, deps } = app();
    const diskId = await app().createDisk("disk-tables-lost", GiB);
    stack.disks.writeSeeded(diskId, 0, 8 * MiB, 61);
    const diskKey = await app().protect(diskId);
    const first = await syncAndVerify(app(), diskKey);
    stack.disks.writeSeeded(diskId, 50 * MiB, 2 * MiB, 62);
    const second = await syncAndVerify(app(), diskKey);
    const digests = await Promise.all([first.point, second.point].map(async (point) => (await restorePointDigest(deps, point, "disk")).digest));

    await emptyAppTables(stack);
    await app().protect(diskId, { adopt: true });
    stack.disks.writeSeeded(diskId, 80 * MiB, 2 * MiB, 63);
    const third = await syncAndVerify(app(), diskKey);
    const target = deps.targets(locationFromUrl(third.point.targetBlobUrl));
    const kept = new Set((await target.listSnapshots()).map((s) => s.snapshot));
    assert.ok(kept.has(first.point.targetSnapshot) && kept.has(second.point.targetSnapshot), "the earlier blob snapshots are kept: their runs are not in the tables, so they are not proven orphans");
    assert.ok(app().logs.some((l) => l.text.includes("blob snapshot of a run the tables do not know kept")));

    const rebuilt = await app().host.invokeHttp("POST", "/api/catalog/rebuild", { blobEndpoint: stack.target.blobEndpoint });
    assert.ok(rebuilt.status < 300, JSON.stringify(rebuilt.body));
    const points = await app().restorePoints(diskKey);
    for (const [i, earlier] of [first.point, second.point].entries()) {
      const found = points.find((p) => p.targetSnapshot === earlier.targetSnapshot);
      assert.ok(found, `RestorePoint ${earlier.restorePointId} is in the catalog again`);
      assert.equal((await restorePointDigest(deps, found, "disk")).digest, digests[i], "its data is the one backed up");
    }
  });
});
