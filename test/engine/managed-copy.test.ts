/**
 * Managed copy mode (replication `managed`): Azure's CopyStart under diskdelta's schedule, retention, verify and
 * restore, on the local stack's model of CopyStart. Every RestorePoint is checked on bytes: its target snapshot's
 * content hashed against its SourceSnapshot's (both through their own read SAS).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ManagedRestorePoint, RestorePoint, RunView } from "../../src/domain/records";
import { GiB, MiB, type TestApp, useTestApp } from "../support/app";
import { assertRestoredContent, assertRestoredDigest, restoreThroughApi } from "../support/restored";

const managedGroup = "diskdelta-target";

function managedOptions(app: TestApp, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { replication: "managed", managedTarget: { resourceGroup: managedGroup, location: app.stack.target.location }, ...extra };
}

async function runOf(app: TestApp, diskKey: string, runId: string): Promise<RunView> {
  return (await app.host.invokeHttp("GET", `/api/disks/${diskKey}/runs/${runId}`)).body as RunView;
}

function managedPoint(point: RestorePoint | undefined): ManagedRestorePoint {
  assert.ok(point, "a RestorePoint");
  assert.equal(point.kind, "managed", JSON.stringify(point));
  return point as ManagedRestorePoint;
}

/** Verifies the RestorePoint: against its SourceSnapshot while that exists, else against the checksums recorded then. */
async function assertEqualToSource(app: TestApp, point: RestorePoint): Promise<void> {
  const result = await app.verify(point);
  assert.ok(result.equal, `RestorePoint ${point.restorePointId} differs from its SourceSnapshot at ${JSON.stringify(result.mismatches)}`);
}

/** Works the queues until `done` holds (managed copies re-check through delayed messages, so queues are never idle while one runs). */
async function workUntil(app: TestApp, done: () => Promise<boolean>, what: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await done()) return;
    if ((await app.host.pollOnce()) === 0) await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`not reached in ${timeoutMs} ms: ${what}`);
}

async function snapshotExists(app: TestApp, snapshotId: string): Promise<boolean> {
  return (await app.deps.compute.getSnapshot(snapshotId)) !== undefined;
}

describe("managed copy mode (CopyStart)", () => {
  const app = useTestApp({ settings: { DISKDELTA_MANAGED_COPY_CHECK_SECONDS: "1" } });
  let counter = 0;

  async function managedDisk(extra: Record<string, unknown> = {}): Promise<{ diskId: string; diskKey: string }> {
    const diskId = await app().createDisk(`disk-managed-${++counter}`, 2 * GiB);
    app().stack.disks.writeSeeded(diskId, 7 * MiB, 9 * MiB, counter);
    const diskKey = await app().protect(diskId, managedOptions(app(), extra));
    return { diskId, diskKey };
  }

  it("when a managed disk is synced several times, then each RestorePoint is a target-region snapshot equal to its SourceSnapshot, and retention removes the oldest copy", async () => {
    const { diskId, diskKey } = await managedDisk({ retention: { keepLast: 2 }, verifyAfterBackup: true });
    const runIds: string[] = [];
    for (let i = 0; i < 3; i++) {
      if (i > 0) app().stack.disks.writeSeeded(diskId, (100 + i * 40) * MiB, 3 * MiB, 900 + i);
      runIds.push(await app().sync(diskKey));
    }
    for (const runId of runIds) {
      const run = await runOf(app(), diskKey, runId);
      assert.equal(run.state, "succeeded", run.error);
      assert.equal(run.replication, "managed");
      assert.equal(run.completionPercent, 100);
      assert.equal(run.bytesCopied, 0, "Azure copied, not diskdelta");
    }
    const points = await app().allRestorePoints(diskKey);
    assert.equal(points.length, 2, "keepLast 2");
    for (const point of points) {
      const managed = managedPoint(point);
      assert.equal(managed.targetLocation, app().stack.target.location);
      assert.match(managed.targetSnapshotId, new RegExp(`/resourceGroups/${managedGroup}/providers/Microsoft\\.Compute/snapshots/`));
      await assertEqualToSource(app(), managed);
    }
    assert.deepEqual(points.map((p) => p.runId), [runIds[2], runIds[1]], "newest first: the oldest went to retention");
    const copies = await app().deps.compute.listSnapshots(app().stack.arm.subscriptionId, managedGroup);
    const ofDisk = copies.filter((s) => s.tags["diskdelta-disk"] === diskKey);
    assert.deepEqual(ofDisk.map((s) => s.id.toLowerCase()).sort(), points.map((p) => managedPoint(p).targetSnapshotId.toLowerCase()).sort(), "the expired RestorePoint's target snapshot is deleted, the kept ones stay");
    const second = app().stack.disks.readSnapshotCopy(managedPoint(points[0]).targetSnapshotId);
    assert.ok(second.bytesToMove < 9 * MiB, `the newest copy moved only what changed (${second.bytesToMove} bytes)`);
    const slots = await app().deps.records.listCopySlots(`${app().stack.arm.subscriptionId}-${app().stack.target.location}`.toLowerCase());
    assert.deepEqual(slots, [], "every copy slot is free again");
  });

  it("when a managed RestorePoint is restored, then the disk is copied from the target snapshot in its region and equals the source", async () => {
    const { diskKey } = await managedDisk();
    await app().sync(diskKey);
    const point = managedPoint((await app().allRestorePoints(diskKey))[0]);
    const wrongRegion = await restoreThroughApi(app(), diskKey, point.restorePointId, { name: `restored-managed-x-${counter}`, resourceGroup: "rg-app", location: app().stack.arm.location });
    assert.equal(wrongRegion.status, 400, JSON.stringify(wrongRegion.body));
    assert.match(JSON.stringify(wrongRegion.body), /location: .*managed copy in/);
    const answer = await restoreThroughApi(app(), diskKey, point.restorePointId, { name: `restored-managed-${counter}`, resourceGroup: "rg-restore", location: point.targetLocation });
    assert.equal(answer.status, 202, JSON.stringify(answer.body));
    assert.equal(answer.restore?.state, "succeeded", JSON.stringify(answer.restore));
    assert.equal(answer.restore?.createOption, "Copy");
    await assertRestoredContent(app(), answer.restore.newDiskId, point, `check-managed-${counter}`);
  });

  it("when Azure's copy fails, then the run fails naming copyCompletionError, the failed copy is deleted, its slot freed, and the next run copies again", async () => {
    const { diskKey } = await managedDisk();
    app().stack.disks.setSnapshotCopyRate(0);
    try {
      const answer = await app().host.invokeHttp("POST", `/api/disks/${diskKey}/sync`);
      const runId = (answer.body as { runId: string }).runId;
      let targetSnapshotId = "";
      await workUntil(app(), async () => {
        const run = await runOf(app(), diskKey, runId);
        targetSnapshotId = run.targetSnapshotId ?? "";
        return run.state === "replicating";
      }, "the run replicating");
      app().stack.disks.failSnapshotCopy(targetSnapshotId, "injected by the test");
      await workUntil(app(), async () => (await runOf(app(), diskKey, runId)).state === "failed", "the run failed");
      const failed = await runOf(app(), diskKey, runId);
      assert.match(failed.error ?? "", /ManagedCopyFailed.*injected by the test/);
      assert.equal(await snapshotExists(app(), targetSnapshotId), false, "the failed copy is deleted");
      assert.deepEqual(await app().allRestorePoints(diskKey), []);
    } finally {
      app().stack.disks.setSnapshotCopyRate("instant");
    }
    const next = await runOf(app(), diskKey, await app().sync(diskKey));
    assert.equal(next.state, "succeeded", next.error);
    await assertEqualToSource(app(), managedPoint((await app().allRestorePoints(diskKey))[0]));
  });

  it("when snapshots exist already (mode existing), then they are copied one by one in the order they were created", async () => {
    const diskId = await app().createDisk(`disk-managed-existing-${++counter}`, 2 * GiB);
    const group = diskId.split("/")[4];
    const made: string[] = [];
    for (let i = 0; i < 3; i++) {
      app().stack.disks.writeSeeded(diskId, (20 + i * 30) * MiB, 2 * MiB, 4000 + i);
      const snapshot = await app().compute.snapshots.createOrUpdate(group, `existing-${counter}-${i}`, { location: app().stack.arm.location, incremental: true, creationData: { createOption: "Copy", sourceResourceId: diskId } }, { updateIntervalInMs: 10 });
      made.push(snapshot.id!.toLowerCase());
    }
    const diskKey = await app().protect(diskId, managedOptions(app(), { snapshotMode: "existing" }));
    await app().sync(diskKey);
    const points = await app().allRestorePoints(diskKey);
    assert.deepEqual(points.map((p) => p.sourceSnapshotId.toLowerCase()).reverse(), made, "each snapshot copied, oldest first");
    for (const point of points) await assertEqualToSource(app(), managedPoint(point));
  });

  it("when a disk switches between diff and managed, then the old RestorePoints stay listed and restorable, and each new one is of its mode", async () => {
    const diskId = await app().createDisk(`disk-managed-switch-${++counter}`, 2 * GiB);
    app().stack.disks.writeSeeded(diskId, 3 * MiB, 5 * MiB, 7000);
    const diskKey = await app().protect(diskId, { verifyAfterBackup: true });
    await app().sync(diskKey);
    const patch = (body: unknown) => app().host.invokeHttp("PATCH", `/api/disks/${diskKey}`, body);
    const refused = await patch({ replication: "managed" });
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    assert.match(JSON.stringify(refused.body), /managedTarget: required when replication is managed/);
    assert.equal((await patch(managedOptions(app()))).status, 200);
    app().stack.disks.writeSeeded(diskId, 50 * MiB, 5 * MiB, 7001);
    await app().sync(diskKey);
    assert.equal((await patch({ replication: "diff" })).status, 200);
    app().stack.disks.writeSeeded(diskId, 90 * MiB, 5 * MiB, 7002);
    const lastRun = await runOf(app(), diskKey, await app().sync(diskKey));
    assert.equal(lastRun.state, "succeeded", lastRun.error);
    assert.equal(lastRun.fullCopyReason, "target-not-at-base", "the TargetBlob does not hold the managed run's snapshot: a full copy, proven by its stamp");
    const points = await app().allRestorePoints(diskKey);
    assert.deepEqual(points.map((p) => p.kind), ["blob", "managed", "blob"]);
    for (const point of points) await assertEqualToSource(app(), point);
    for (const [index, point] of points.entries()) {
      const location = point.kind === "managed" ? point.targetLocation : app().stack.target.location;
      const body = { name: `restored-switch-${counter}-${index}`, resourceGroup: "rg-restore", location, storageAccountId: app().stack.target.resourceId };
      const answer = await restoreThroughApi(app(), diskKey, point.restorePointId, body);
      assert.equal(answer.restore?.state, "succeeded", JSON.stringify(answer));
      await assertRestoredDigest(app(), answer.restore.newDiskId, point, `check-switch-${counter}-${index}`);
    }
  });

  it("when managed is asked for without a managedTarget, or with the disk's own region, then protect answers 400 naming the field", async () => {
    const diskId = await app().createDisk(`disk-managed-bad-${++counter}`, GiB);
    const target = { blobEndpoint: app().stack.target.blobEndpoint, container: "backups" };
    const missing = await app().host.invokeHttp("POST", "/api/disks", { diskId, target, replication: "managed" });
    assert.equal(missing.status, 400);
    assert.match(JSON.stringify(missing.body), /managedTarget: required/);
    const sameRegion = await app().host.invokeHttp("POST", "/api/disks", { diskId, target, replication: "managed", managedTarget: { resourceGroup: managedGroup, location: app().stack.arm.location } });
    assert.equal(sameRegion.status, 400);
    assert.match(JSON.stringify(sameRegion.body), /managedTarget\.location: .* the disk's own region/);
  });
});

describe("managed copy mode at Azure's limit of copies in flight", () => {
  const app = useTestApp({ settings: { DISKDELTA_MANAGED_COPY_CHECK_SECONDS: "1", DISKDELTA_MAX_RUNS_PER_TICK: "200" } });

  it("when 101 managed disks are due at once, then 100 copies are in flight, one waits for a slot, and it goes when one ends", async () => {
    const disks: { diskId: string; diskKey: string }[] = [];
    let waitingDisk = "";
    for (let i = 0; i < 101; i++) {
      const diskId = await app().createDisk(`disk-fleet-${i}`, GiB);
      app().stack.disks.writeSeeded(diskId, (i % 50) * MiB, MiB, 10_000 + i);
      disks.push({ diskId, diskKey: await app().protect(diskId, managedOptions(app())) });
    }
    app().stack.disks.setSnapshotCopyRate(0);
    const activeRuns = async () => Promise.all(disks.map(async ({ diskKey }) => {
      const { value } = await app().deps.records.getState(diskKey);
      return value.activeRunId ? (await app().deps.records.getRun(diskKey, value.activeRunId))?.value : undefined;
    }));
    try {
      await app().host.tick();
      await workUntil(app(), async () => {
        const runs = await activeRuns();
        return runs.filter((r) => r?.state === "replicating").length === 100 && runs.some((r) => r?.state === "preparing" && r.waitingForCopySlot !== undefined);
      }, "100 replicating and one waiting for a slot", 240_000);
      const runs = await activeRuns();
      const waiting = runs.find((r) => r?.state === "preparing");
      assert.ok(waiting?.state === "preparing" && waiting.waitingForCopySlot === app().stack.target.location, JSON.stringify(waiting));
      waitingDisk = waiting.diskKey;
      const status = await app().host.invokeHttp("GET", `/api/disks/${waiting.diskKey}`);
      assert.match(JSON.stringify(status.body), /waitingForCopySlot/);
      const slots = await app().deps.records.listCopySlots(`${app().stack.arm.subscriptionId}-${app().stack.target.location}`.toLowerCase());
      assert.equal(slots.length, 100, "fleet-wide: 100 slots taken");
      const inFlight = (await app().deps.compute.listSnapshots(app().stack.arm.subscriptionId, managedGroup)).filter((s) => s.completionPercent < 100);
      assert.equal(inFlight.length, 100, "the service sees 100 copies in flight, never 101");
    } finally {
      app().stack.disks.setSnapshotCopyRate("instant");
    }
    await workUntil(app(), async () => (await activeRuns()).every((r) => r === undefined), "every run ended", 240_000);
    for (const { diskKey } of disks) {
      const [point] = await app().allRestorePoints(diskKey);
      managedPoint(point);
    }
    await assertEqualToSource(app(), managedPoint((await app().allRestorePoints(waitingDisk))[0]));
  });
});
