/**
 * Managed copy mode under faults: workers that die between its steps, messages delivered twice or at once, snapshots
 * deleted by hand, copies that fail or never finish, disks switched or unprotected mid-copy, two disks sharing one
 * target resource group. The promises checked every time: a run never ends `succeeded` with a RestorePoint that is
 * not the disk (every RestorePoint produced is hashed against its SourceSnapshot), nothing backed up is lost, and the
 * copy-slot table counts exactly the copies in flight (a slot is never held twice, never leaked by an ended run).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { copyRegionKey } from "../../src/adapters/tables/copy-slots";
import { messageVersion } from "../../src/domain/messages";
import type { ManagedRestorePoint, RestorePoint, RunView } from "../../src/domain/records";
import { checkManagedCopy, removeExpiredManagedCopies } from "../../src/engine/managed-copy";
import { failRun } from "../../src/engine/runs";
import { GiB, MiB, type TestApp, resourceGroup, useTestApp } from "../support/app";
import { duplicateMessages, intercept } from "../support/intercept";

const managedGroup = "diskdelta-target";
const quietLog = { info: () => undefined, warn: () => undefined, error: () => undefined };

async function runOf(app: TestApp, diskKey: string, runId: string): Promise<RunView> {
  return (await app.host.invokeHttp("GET", `/api/disks/${diskKey}/runs/${runId}`)).body as RunView;
}

/** Works the queues until `done` holds (managed copies look again through delayed messages, so queues are rarely idle). */
async function workUntil(app: TestApp, done: () => Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await done()) return;
    if ((await app.host.pollOnce()) === 0) await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`not reached in ${timeoutMs} ms: ${what}`);
}

function managedPoint(point: RestorePoint | undefined): ManagedRestorePoint {
  assert.ok(point, "a RestorePoint");
  assert.equal(point.kind, "managed", JSON.stringify(point));
  return point;
}

describe("managed copy mode under faults", () => {
  const app = useTestApp({ settings: { DISKDELTA_MANAGED_COPY_CHECK_SECONDS: "1", DISKDELTA_MANAGED_COPY_TIMEOUT_MINUTES: "60" } });
  let counter = 0;
  const region = () => copyRegionKey(app().stack.arm.subscriptionId, app().stack.target.location);

  async function managedDisk(extra: Record<string, unknown> = {}, group = resourceGroup, name = `disk-mf-${++counter}`): Promise<{ diskId: string; diskKey: string }> {
    const disk = await app().compute.disks.createOrUpdate(group, name, { location: app().stack.arm.location, diskSizeGB: 2, creationData: { createOption: "Empty" } }, { updateIntervalInMs: 10 });
    const diskId = disk.id ?? "";
    app().stack.disks.writeSeeded(diskId, 5 * MiB, 6 * MiB, 300 + counter);
    const diskKey = await app().protect(diskId, { replication: "managed", managedTarget: { resourceGroup: managedGroup, location: app().stack.target.location }, ...extra });
    return { diskId, diskKey };
  }

  async function startSync(diskKey: string, on: TestApp = app()): Promise<string> {
    const answer = await on.host.invokeHttp("POST", `/api/disks/${diskKey}/sync`);
    assert.equal(answer.status, 202, JSON.stringify(answer.body));
    return (answer.body as { runId: string }).runId;
  }

  async function untilState(on: TestApp, diskKey: string, runId: string, states: readonly string[]): Promise<RunView> {
    await workUntil(on, async () => states.includes((await runOf(app(), diskKey, runId)).state), `run ${runId} ${states.join("/")}`);
    return runOf(app(), diskKey, runId);
  }

  async function slotsOf(runId: string): Promise<string[]> {
    return (await app().deps.records.listCopySlots(region())).filter((s) => s.value.runId === runId).map((s) => s.slot);
  }

  async function copiesOf(diskKey: string): Promise<{ id: string; name: string; completionPercent: number }[]> {
    return (await app().deps.compute.listSnapshots(app().stack.arm.subscriptionId, managedGroup)).filter((s) => s.tags["diskdelta-disk"] === diskKey);
  }

  /** The run succeeded and its RestorePoint's bytes (target snapshot) hash equal to its SourceSnapshot's. */
  async function assertSucceededWithDisk(diskKey: string, runId: string): Promise<ManagedRestorePoint> {
    const run = await runOf(app(), diskKey, runId);
    assert.equal(run.state, "succeeded", run.error);
    const point = managedPoint((await app().allRestorePoints(diskKey)).find((p) => p.runId === runId));
    const result = await app().verify(point);
    assert.ok(result.equal, `RestorePoint ${point.restorePointId} differs from its SourceSnapshot at ${JSON.stringify(result.mismatches)}`);
    assert.deepEqual(await slotsOf(runId), [], "the run's copy slot is free");
    const state = (await app().deps.records.getState(diskKey)).value;
    assert.equal(state.base?.snapshotId.toLowerCase(), point.sourceSnapshotId.toLowerCase(), "the chain base is the RestorePoint's SourceSnapshot");
    return point;
  }

  async function syncPaused(diskKey: string, on: TestApp = app()): Promise<RunView> {
    app().stack.disks.setSnapshotCopyRate(0);
    const runId = await startSync(diskKey, on);
    return untilState(on, diskKey, runId, ["replicating", "failed"]);
  }

  async function deleteByHand(snapshotId: string): Promise<void> {
    const [, , , , group, , , , name] = snapshotId.split("/");
    await app().compute.snapshots.beginDeleteAndWait(group, name, { updateIntervalInMs: 10 });
  }

  for (const [when, point] of [
    ["between taking a copy slot and sending CopyStart", "records.takeCopySlot"],
    ["after CopyStart was accepted, before the run recorded it", "compute.startSnapshotCopy"],
  ] as const) {
    it(`when the worker dies ${when}, then the retry holds the same single slot, finds the one copy, and the RestorePoint is the disk`, async () => {
      const { diskKey } = await managedDisk();
      const crashing = intercept(app().deps, point, 1, "crash");
      let runId = "";
      try {
        const run = await syncPaused(diskKey, app().withDeps(crashing.deps));
        runId = run.runId;
        assert.ok(crashing.fired(), `the worker died after ${point}`);
        assert.equal(run.state, "replicating", run.error);
        assert.deepEqual(await slotsOf(run.runId), [run.copySlot], "one slot, the one the run recorded");
        const copies = await copiesOf(diskKey);
        assert.deepEqual(copies.map((c) => c.id.toLowerCase()), [run.targetSnapshotId?.toLowerCase()], "one copy, the run's");
      } finally {
        app().stack.disks.setSnapshotCopyRate("instant");
      }
      await untilState(app(), diskKey, runId, ["succeeded", "failed"]);
      await assertSucceededWithDisk(diskKey, runId);
    });
  }

  it("when every message is delivered twice and processed at once, then the run holds one slot, starts one copy, and records one RestorePoint", async () => {
    const { diskKey } = await managedDisk();
    const twice = app().withDeps(duplicateMessages(app().deps));
    let runId = "";
    try {
      const run = await syncPaused(diskKey, twice);
      runId = run.runId;
      assert.equal(run.state, "replicating", run.error);
      await twice.host.pollOnce();
      assert.deepEqual(await slotsOf(runId), [run.copySlot], "one slot, the one the run recorded, while the copy runs");
      assert.equal((await copiesOf(diskKey)).length, 1, "one copy");
    } finally {
      app().stack.disks.setSnapshotCopyRate("instant");
    }
    await untilState(twice, diskKey, runId, ["succeeded", "failed"]);
    await twice.host.runUntilIdle();
    await assertSucceededWithDisk(diskKey, runId);
    assert.equal((await app().allRestorePoints(diskKey)).length, 1, "one RestorePoint");
  });

  it("when the worker dies after the run is marked succeeded, before its slot is freed, then the redelivered check frees the slot", async () => {
    const { diskKey } = await managedDisk();
    const run = await syncPaused(diskKey);
    app().stack.disks.setSnapshotCopyRate("instant");
    // The second state write of the look that completes the copy: the run is succeeded and the disk released.
    const crashing = intercept(app().deps, "records.putState", 2, "crash");
    const worker = app().withDeps(crashing.deps);
    await untilState(worker, diskKey, run.runId, ["succeeded", "failed"]);
    await worker.host.runUntilIdle();
    assert.ok(crashing.fired());
    await assertSucceededWithDisk(diskKey, run.runId);
  });

  it("when a stale check of a run completes after the next run succeeded, then the chain base and newest RestorePoint stay the next run's", async () => {
    const { diskId, diskKey } = await managedDisk();
    const first = await syncPaused(diskKey);
    app().stack.disks.setSnapshotCopyRate("instant");
    let second = "";
    const stale = intercept(app().deps, "records.getRestorePoint", 1, async () => {
      await untilState(app(), diskKey, first.runId, ["succeeded", "failed"]);
      await app().host.runUntilIdle();
      app().stack.disks.writeSeeded(diskId, 200 * MiB, 2 * MiB, 77);
      second = await app().sync(diskKey);
    });
    await checkManagedCopy(stale.deps, { v: messageVersion, kind: "managed-copy", diskKey, runId: first.runId }, quietLog);
    assert.ok(stale.fired());
    await assertSucceededWithDisk(diskKey, first.runId).catch(() => undefined);
    const newest = await assertSucceededWithDisk(diskKey, second);
    const state = (await app().deps.records.getState(diskKey)).value;
    assert.equal(state.lastRestorePointId, newest.restorePointId, "the newest RestorePoint stays the second run's");
  });

  it("when the target snapshot is deleted by hand while its copy runs, then the run fails naming it, its slot is freed, and the next run is the disk", async () => {
    const { diskKey } = await managedDisk();
    const run = await syncPaused(diskKey);
    try {
      await deleteByHand(run.targetSnapshotId ?? "");
      const failed = await untilState(app(), diskKey, run.runId, ["succeeded", "failed"]);
      assert.equal(failed.state, "failed");
      assert.match(failed.error ?? "", /TargetSnapshotGone/);
      assert.deepEqual(await slotsOf(run.runId), []);
      assert.deepEqual(await app().allRestorePoints(diskKey), []);
    } finally {
      app().stack.disks.setSnapshotCopyRate("instant");
    }
    await assertSucceededWithDisk(diskKey, await app().sync(diskKey));
  });

  it("when the source snapshot is deleted by hand while its copy runs, then the run fails naming copyCompletionError, the copy is deleted, the slot freed, and the next run is the disk", async () => {
    const { diskKey } = await managedDisk();
    const run = await syncPaused(diskKey);
    try {
      await deleteByHand(run.sourceSnapshotId ?? "");
      const failed = await untilState(app(), diskKey, run.runId, ["succeeded", "failed"]);
      assert.equal(failed.state, "failed");
      assert.match(failed.error ?? "", /ManagedCopyFailed.*CopySourceNotFound/);
      assert.deepEqual(await slotsOf(run.runId), []);
      assert.deepEqual(await copiesOf(diskKey), [], "the failed copy is deleted");
    } finally {
      app().stack.disks.setSnapshotCopyRate("instant");
    }
    await assertSucceededWithDisk(diskKey, await app().sync(diskKey));
  });

  it("when the target snapshot is deleted by hand after its copy completed, before the RestorePoint is recorded, then the run fails, no RestorePoint points at it, and the next run is the disk", async () => {
    const { diskKey } = await managedDisk();
    const run = await syncPaused(diskKey);
    app().stack.disks.setSnapshotCopyRate("instant");
    const deleting = intercept(app().deps, "compute.getSnapshot", 1, () => deleteByHand(run.targetSnapshotId ?? ""));
    const worker = app().withDeps(deleting.deps);
    const ended = await untilState(worker, diskKey, run.runId, ["succeeded", "failed"]);
    assert.ok(deleting.fired());
    assert.equal(ended.state, "failed", "a run never succeeds with a RestorePoint whose data is gone");
    assert.match(ended.error ?? "", /TargetSnapshotGone/);
    assert.deepEqual(await app().allRestorePoints(diskKey), []);
    assert.deepEqual(await slotsOf(run.runId), []);
    assert.equal((await app().deps.records.getState(diskKey)).value.base, undefined, "the chain did not move");
    await assertSucceededWithDisk(diskKey, await app().sync(diskKey));
  });

  it("when a copy stays below 100% past DISKDELTA_MANAGED_COPY_TIMEOUT_MINUTES, then the run fails naming the timeout, its copy is deleted and its slot freed", async () => {
    const { diskKey } = await managedDisk();
    const run = await syncPaused(diskKey);
    try {
      const late = app().withDeps({ ...app().deps, now: () => new Date(Date.now() + 61 * 60_000) });
      const failed = await untilState(late, diskKey, run.runId, ["succeeded", "failed"]);
      assert.equal(failed.state, "failed");
      assert.match(failed.error ?? "", /ManagedCopyTimeout.*DISKDELTA_MANAGED_COPY_TIMEOUT_MINUTES is 60/);
      assert.deepEqual(await copiesOf(diskKey), [], "the copy that did not finish is deleted");
      assert.deepEqual(await slotsOf(run.runId), [], "and its slot freed");
    } finally {
      app().stack.disks.setSnapshotCopyRate("instant");
    }
    await assertSucceededWithDisk(diskKey, await app().sync(diskKey));
  });

  it("when the disk is switched from managed to diff while a copy runs, then that run still records the managed RestorePoint, and the next run copies in full into the TargetBlob", async () => {
    const { diskId, diskKey } = await managedDisk();
    const run = await syncPaused(diskKey);
    try {
      const patched = await app().host.invokeHttp("PATCH", `/api/disks/${diskKey}`, { replication: "diff" });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
    } finally {
      app().stack.disks.setSnapshotCopyRate("instant");
    }
    await untilState(app(), diskKey, run.runId, ["succeeded", "failed"]);
    await assertSucceededWithDisk(diskKey, run.runId);
    app().stack.disks.writeSeeded(diskId, 300 * MiB, 2 * MiB, 78);
    const next = await runOf(app(), diskKey, await app().sync(diskKey));
    assert.equal(next.state, "succeeded", next.error);
    assert.equal(next.replication, undefined);
    const points = await app().allRestorePoints(diskKey);
    assert.deepEqual(points.map((p) => p.kind), ["blob", "managed"]);
    for (const point of points) assert.ok((await app().verify(point)).equal, `RestorePoint ${point.restorePointId} is the disk`);
  });

  it("when two disks of the same name copy into the same resource group, then their copies do not collide and neither's retention or orphan cleanup deletes the other's", async () => {
    const name = `disk-mf-twin-${++counter}`;
    const x = await managedDisk({ retention: { keepLast: 1 } }, resourceGroup, name);
    const y = await managedDisk({ retention: { keepLast: 1 } }, "rg-data", name);
    const yFirst = await app().sync(y.diskKey);
    await assertSucceededWithDisk(y.diskKey, yFirst);
    // An orphan of Y: a run that died after CopyStart (failed as abandoned) whose copy completed later.
    app().stack.disks.writeSeeded(y.diskId, 400 * MiB, MiB, 79);
    const yOrphan = await syncPaused(y.diskKey);
    await failRun(app().deps, y.diskKey, yOrphan.runId, new Error("abandoned (the test's)"), quietLog);
    app().stack.disks.setSnapshotCopyRate("instant");
    await app().host.runUntilIdle();
    for (let i = 0; i < 2; i++) {
      app().stack.disks.writeSeeded(x.diskId, (500 + i * 10) * MiB, MiB, 80 + i);
      await assertSucceededWithDisk(x.diskKey, await app().sync(x.diskKey));
    }
    const yCopies = (await copiesOf(y.diskKey)).map((c) => c.id.toLowerCase()).sort();
    assert.deepEqual(yCopies, [(await app().allRestorePoints(y.diskKey)).map((p) => managedPoint(p).targetSnapshotId)[0], yOrphan.targetSnapshotId].map((id) => id?.toLowerCase()).sort(), "X's retention left every copy of Y, its orphan too");
    assert.equal((await copiesOf(x.diskKey)).length, 1, "X keeps its newest copy only (keepLast 1)");
    assert.ok((await copiesOf(x.diskKey)).every((c) => !yCopies.includes(c.id.toLowerCase())), "no name in common");
    app().stack.disks.writeSeeded(y.diskId, 410 * MiB, MiB, 82);
    const yNext = await app().sync(y.diskKey);
    const point = await assertSucceededWithDisk(y.diskKey, yNext);
    assert.deepEqual((await copiesOf(y.diskKey)).map((c) => c.id.toLowerCase()), [point.targetSnapshotId.toLowerCase()], "Y's own retention removed its expired copy and its orphan");
    assert.equal((await copiesOf(x.diskKey)).length, 1, "and left X's");
  });

  it("when retention runs while a copy needs the newest earlier copy as its base, then that base is kept, recorded or not, whatever the workers' clocks say", async () => {
    const { diskId, diskKey } = await managedDisk({ retention: { keepLast: 1 } });
    // The first RestorePoint is recorded by a worker whose clock runs an hour ahead of Azure's.
    const ahead = app().withDeps({ ...app().deps, now: () => new Date(Date.now() + 3600_000) });
    await assertSucceededWithDisk(diskKey, await ahead.sync(diskKey));
    app().stack.disks.writeSeeded(diskId, 600 * MiB, MiB, 83);
    const orphan = await syncPaused(diskKey);
    await failRun(app().deps, diskKey, orphan.runId, new Error("abandoned (the test's)"), quietLog);
    app().stack.disks.setSnapshotCopyRate("instant");
    await app().host.runUntilIdle();
    app().stack.disks.writeSeeded(diskId, 610 * MiB, MiB, 84);
    const copying = await syncPaused(diskKey);
    try {
      const base = app().stack.disks.readSnapshotCopy(copying.targetSnapshotId ?? "").baseSnapshotId;
      assert.equal(base?.toLowerCase(), orphan.targetSnapshotId?.toLowerCase(), "the copy in flight moves the changes since the orphan");
      const config = await app().deps.records.getDisk(diskKey);
      assert.ok(config);
      await removeExpiredManagedCopies(app().deps, config, quietLog);
      const left = (await copiesOf(diskKey)).map((c) => c.id.toLowerCase());
      assert.ok(left.includes(base?.toLowerCase() ?? ""), "the copy in flight's base is kept");
      const [recorded] = await app().allRestorePoints(diskKey);
      assert.ok(left.includes(managedPoint(recorded).targetSnapshotId.toLowerCase()), "the newest RestorePoint is kept");
    } finally {
      app().stack.disks.setSnapshotCopyRate("instant");
    }
    await untilState(app(), diskKey, copying.runId, ["succeeded", "failed"]);
    const point = await assertSucceededWithDisk(diskKey, copying.runId);
    assert.deepEqual((await copiesOf(diskKey)).map((c) => c.id.toLowerCase()), [point.targetSnapshotId.toLowerCase()], "once it completed, the older copies go");
  });
});

describe("managed copy slots of runs that ended, with one slot per region", () => {
  const app = useTestApp({ settings: { DISKDELTA_MANAGED_COPY_CHECK_SECONDS: "1", DISKDELTA_MANAGED_COPIES_PER_REGION: "1" } });
  let counter = 0;
  const region = () => copyRegionKey(app().stack.arm.subscriptionId, app().stack.target.location);

  async function managedDisk(): Promise<{ diskId: string; diskKey: string }> {
    const diskId = await app().createDisk(`disk-mf-slot-${++counter}`, 2 * GiB);
    app().stack.disks.writeSeeded(diskId, 3 * MiB, 4 * MiB, 500 + counter);
    return { diskId, diskKey: await app().protect(diskId, { replication: "managed", managedTarget: { resourceGroup: managedGroup, location: app().stack.target.location } }) };
  }

  async function assertDiskSyncs(diskKey: string): Promise<void> {
    const runId = (await app().host.invokeHttp("POST", `/api/disks/${diskKey}/sync`)).body as { runId: string };
    await workUntil(app(), async () => ["succeeded", "failed"].includes((await runOf(app(), diskKey, runId.runId)).state), "the run ended");
    const run = await runOf(app(), diskKey, runId.runId);
    assert.equal(run.state, "succeeded", run.error);
    const point = managedPoint((await app().allRestorePoints(diskKey))[0]);
    assert.ok((await app().verify(point)).equal, "the RestorePoint is the disk");
  }

  it("when a run fails for good after taking the region's only slot, before its copy exists, then the slot is free at once for another disk", async () => {
    const x = await managedDisk();
    const deleting = intercept(app().deps, "records.takeCopySlot", 1, async () => {
      const { value } = await app().deps.records.getState(x.diskKey);
      const run = await app().deps.records.getRun(x.diskKey, value.activeRunId ?? "");
      const snapshots = await app().deps.compute.listSnapshots(app().stack.arm.subscriptionId, resourceGroup);
      const source = snapshots.find((s) => s.tags["diskdelta-run"] === run?.value.runId);
      assert.ok(source, "the run's SourceSnapshot");
      await app().compute.snapshots.beginDeleteAndWait(resourceGroup, source.name, { updateIntervalInMs: 10 });
    });
    const worker = app().withDeps(deleting.deps);
    const runId = ((await worker.host.invokeHttp("POST", `/api/disks/${x.diskKey}/sync`)).body as { runId: string }).runId;
    await workUntil(worker, async () => (await runOf(app(), x.diskKey, runId)).state === "failed", "the run failed");
    assert.match((await runOf(app(), x.diskKey, runId)).error ?? "", /SnapshotNotFound/);
    assert.deepEqual(await app().deps.records.listCopySlots(region()), [], "no slot held by the failed run");
    const y = await managedDisk();
    await assertDiskSyncs(y.diskKey);
  });

  it("when a disk is unprotected while its copy runs, then its run fails naming it, its unrecorded copy is deleted, and the slot goes to the disk that waits", async () => {
    const x = await managedDisk();
    const y = await managedDisk();
    app().stack.disks.setSnapshotCopyRate(0);
    let xRun = "";
    let yRun = "";
    try {
      xRun = ((await app().host.invokeHttp("POST", `/api/disks/${x.diskKey}/sync`)).body as { runId: string }).runId;
      await workUntil(app(), async () => (await runOf(app(), x.diskKey, xRun)).state === "replicating", "x replicating");
      yRun = ((await app().host.invokeHttp("POST", `/api/disks/${y.diskKey}/sync`)).body as { runId: string }).runId;
      await workUntil(app(), async () => (await runOf(app(), y.diskKey, yRun)).waitingForCopySlot !== undefined, "y waiting for the slot");
      assert.equal((await app().host.invokeHttp("DELETE", `/api/disks/${x.diskKey}`)).status, 200);
    } finally {
      app().stack.disks.setSnapshotCopyRate("instant");
    }
    await workUntil(app(), async () => (await runOf(app(), y.diskKey, yRun)).state === "succeeded", "y succeeded");
    const xEnded = (await app().deps.records.getRun(x.diskKey, xRun))?.value;
    assert.equal(xEnded?.state, "failed");
    assert.match(xEnded.state === "failed" ? xEnded.error : "", /DiskNotProtected/);
    const xCopies = (await app().deps.compute.listSnapshots(app().stack.arm.subscriptionId, managedGroup)).filter((s) => s.tags["diskdelta-disk"] === x.diskKey);
    assert.deepEqual(xCopies, [], "the unprotected disk's unrecorded copy is deleted");
    const point = managedPoint((await app().allRestorePoints(y.diskKey))[0]);
    assert.ok((await app().verify(point)).equal, "the waiting disk's RestorePoint is the disk");
    assert.deepEqual(await app().deps.records.listCopySlots(region()), []);
  });
});
