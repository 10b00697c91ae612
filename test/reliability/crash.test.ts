/**
 * Crash anywhere: the worker dies at each step boundary and inside steps; redelivery (or the next tick) must finish
 * with correct RestorePoints — never one for incomplete data, never two for one snapshot, never a deleted base,
 * no read access left granted.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { locationFromUrl } from "../../src/adapters/target-blob";
import { scheduleDueBackups } from "../../src/engine/scheduler";
import type { RunView } from "../../src/domain/records";
import { GiB, MiB, useTestApp } from "../support/app";
import { type InterceptPoint, intercept } from "../support/intercept";
import { recordOutcome } from "../support/reliability-report";
import { assertHealthy, runOf } from "../support/backup";

const quietLog = { info: () => undefined, warn: () => undefined, error: () => undefined };

describe("crash anywhere", () => {
  const app = useTestApp();
  let diskCounter = 0;

  /** A disk with several 4 MiB-separated extents (so a step issues many requests) and one backup already taken. */
  async function protectedDisk(options: Record<string, unknown> = {}): Promise<{ diskId: string; diskKey: string }> {
    const name = `disk-crash-${++diskCounter}`;
    const diskId = await app().createDisk(name, 4 * GiB);
    for (let i = 0; i < 6; i++) app().stack.disks.writeSeeded(diskId, i * 64 * MiB, 4 * MiB, diskCounter * 100 + i);
    const diskKey = await app().protect(diskId, options);
    const first = await runOf(app(), diskKey, await app().sync(diskKey));
    assert.equal(first.state, "succeeded", first.error);
    for (let i = 0; i < 6; i++) app().stack.disks.writeSeeded(diskId, i * 64 * MiB + 1 * MiB, 2 * MiB, diskCounter * 100 + 50 + i);
    return { diskId, diskKey };
  }

  async function syncWithCrash(diskKey: string, point: InterceptPoint, after: number): Promise<{ run: RunView; fired: boolean }> {
    const crashing = intercept(app().deps, point, after, "crash");
    const runId = await app().withDeps(crashing.deps).sync(diskKey);
    return { run: await runOf(app(), diskKey, runId), fired: crashing.fired() };
  }

  const points: [string, InterceptPoint, number][] = [
    ["after the source snapshot is taken", "compute.createIncrementalSnapshot", 1],
    ["after the run is recorded as copying, before its first CopyStep is queued", "records.putRun", 1],
    ["after 3 of 6 copy requests of a window", "target.copyFromUrl", 3],
    ["after the first CopyStep is queued, before the start message is completed", "queues.send", 2],
    ["after a CopyStep recorded its progress, before it queued its successor", "records.putRun", 2],
    ["after the last CopyStep queued the finalizer, before its message is completed", "queues.send", 3],
    ["after the target blob snapshot, before the RestorePoint record", "target.createSnapshotOnce", 1],
    ["after the RestorePoint record, before read access is revoked", "records.recordRestorePoint", 1],
    ["after revoking, before superseded snapshots are deleted", "compute.revokeAccess", 1],
  ];

  for (const [where, point, after] of points) {
    it(`when the worker crashes ${where}, then redelivery finishes with one correct RestorePoint`, async () => {
      const { diskId, diskKey } = await protectedDisk();
      const { run, fired } = await syncWithCrash(diskKey, point, after);
      assert.ok(fired, `the crash at ${point} happened`);
      assert.equal(run.state, "succeeded", run.error);
      assert.equal(run.bytesCopied, 12 * MiB, "exactly the changed bytes, once");
      const summary = await assertHealthy(app(), diskKey, diskId, 2);
      recordOutcome({ area: "Crash anywhere", scenario: `crash ${where} (${point} #${after})`, runs: 2, faults: "1 simulated crash, message redelivered", result: `run succeeded; ${summary}` });
    });
  }

  it("when the worker crashes during retention, then no record points at deleted data and the next run removes the orphan", async () => {
    const { diskId, diskKey } = await protectedDisk({ retention: { keepLast: 1 } });
    const { run, fired } = await syncWithCrash(diskKey, "records.deleteRestorePoint", 1);
    assert.ok(fired);
    assert.equal(run.state, "succeeded", "housekeeping comes after success: its failure does not fail the run");
    await assertHealthy(app(), diskKey, diskId, 1);
    const [point] = await app().restorePoints(diskKey);
    const target = app().deps.targets(locationFromUrl(point.targetBlobUrl));
    const next = await runOf(app(), diskKey, await app().sync(diskKey));
    assert.equal(next.state, "succeeded", next.error);
    const [newest] = await app().restorePoints(diskKey);
    const snapshots = await target.listSnapshots();
    assert.deepEqual(snapshots.map((s) => s.snapshot), [newest.targetSnapshot], "the orphaned blob snapshot is gone after the next run");
    assert.notEqual(newest.targetSnapshot, point.targetSnapshot);
    recordOutcome({ area: "Crash anywhere", scenario: "crash during retention (after the record of the expired RestorePoint is deleted)", runs: 3, faults: "1 simulated crash", result: "run succeeded (housekeeping after success); no record without data; the next run removed the orphaned blob snapshot" });
  });

  it("when the starter crashes after recording the run, before queueing it, then the next tick nudges it to completion", async () => {
    const { diskId, diskKey } = await protectedDisk();
    const crashing = intercept(app().deps, "records.createRun", 1, "crash");
    const answer = await app().withDeps(crashing.deps).host.invokeHttp("POST", `/api/disks/${diskKey}/sync`);
    assert.equal(answer.status, 500, "the caller is told the start failed");
    const busy = await app().host.invokeHttp("POST", `/api/disks/${diskKey}/sync`);
    assert.equal(busy.status, 409, "the claimed run still holds the disk");
    const later = { ...app().deps, now: () => new Date(Date.now() + 20 * 60_000) };
    const report = await scheduleDueBackups(later, quietLog);
    assert.deepEqual(report.nudged, [diskKey]);
    await app().host.runUntilIdle();
    await assertHealthy(app(), diskKey, diskId, 2);
    recordOutcome({ area: "Crash anywhere", scenario: "crash after the BackupRun is recorded, before its start message is queued", runs: 2, faults: "1 simulated crash in the HTTP sync", result: "HTTP 500 to the caller; 409 while claimed; next tick re-queued it; RestorePoint verified" });
  });
});
