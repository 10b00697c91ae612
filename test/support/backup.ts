/** Backup helpers shared by the end-to-end and reliability tests. */
import assert from "node:assert/strict";
import type { BlobRestorePoint, RunView } from "../../src/domain/records";
import { type TestApp, resourceGroup } from "./app";

/** Reads a RunView through the HTTP API. */
export async function runOf(app: TestApp, diskKey: string, runId: string): Promise<RunView> {
  const answer = await app.host.invokeHttp("GET", `/api/disks/${diskKey}/runs/${runId}`);
  assert.equal(answer.status, 200);
  return answer.body as RunView;
}

/** Syncs, checks the run succeeded and that its RestorePoint equals the SourceSnapshot; returns both. */
export async function syncAndVerify(app: TestApp, diskKey: string): Promise<{ run: RunView; point: BlobRestorePoint }> {
  return verifiedRun(app, diskKey, await app.sync(diskKey));
}

/** Runs the queues until idle, then checks that the started run `runId` succeeded and that its RestorePoint equals the SourceSnapshot. */
export async function drainAndVerify(app: TestApp, diskKey: string, runId: string): Promise<{ run: RunView; point: BlobRestorePoint }> {
  await app.host.runUntilIdle();
  return verifiedRun(app, diskKey, runId);
}

async function verifiedRun(app: TestApp, diskKey: string, runId: string): Promise<{ run: RunView; point: BlobRestorePoint }> {
  const run = await runOf(app, diskKey, runId);
  assert.equal(run.state, "succeeded", run.error);
  const point = (await app.restorePoints(diskKey)).find((p) => p.runId === run.runId);
  assert.ok(point, `run ${run.runId} recorded no RestorePoint`);
  const result = await app.verify(point);
  assert.ok(result.equal, `RestorePoint ${point.restorePointId} differs from its snapshot at ${JSON.stringify(result.mismatches)}`);
  return { run, point };
}

/** The invariants every scenario ends with; returns a one-line summary for the report. */
export async function assertHealthy(app: TestApp, diskKey: string, diskId: string, expectedPoints: number): Promise<string> {
  const points = await app.restorePoints(diskKey);
  assert.equal(points.length, expectedPoints, "one RestorePoint per successful run");
  assert.equal(new Set(points.map((p) => p.sourceSnapshotId.toLowerCase())).size, points.length, "never two RestorePoints for one snapshot");
  const newest = points[0];
  const check = await app.verify(newest);
  assert.ok(check.equal, `newest RestorePoint differs at ${JSON.stringify(check.mismatches)}`);
  const { value: state } = await app.deps.records.getState(diskKey);
  assert.equal(state.activeRunId, undefined, "the disk is released");
  assert.ok(state.base, "a chain base is recorded");
  const base = await app.deps.compute.getSnapshot(state.base.snapshotId);
  assert.ok(base, "the chain base snapshot still exists");
  for await (const snapshot of app.compute.snapshots.listByResourceGroup(resourceGroup)) {
    if (snapshot.creationData?.sourceResourceId?.toLowerCase() !== diskId.toLowerCase()) continue;
    assert.notEqual(snapshot.diskState, "ActiveSAS", `read access left granted on ${snapshot.name}`);
  }
  return `${points.length} RestorePoint(s), newest verified equal; base exists; no SAS left`;
}
