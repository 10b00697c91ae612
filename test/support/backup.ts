/** Backup helpers shared by the end-to-end and reliability tests. */
import assert from "node:assert/strict";
import type { BackupRun, RestorePoint } from "../../src/domain/records";
import type { TestApp } from "./app";

/** Reads a BackupRun through the HTTP API. */
export async function runOf(app: TestApp, diskKey: string, runId: string): Promise<BackupRun> {
  const answer = await app.host.invokeHttp("GET", `/api/disks/${diskKey}/runs/${runId}`);
  assert.equal(answer.status, 200);
  return answer.body as BackupRun;
}

/** Syncs, checks the run succeeded and that its RestorePoint equals the SourceSnapshot; returns both. */
export async function syncAndVerify(app: TestApp, diskKey: string): Promise<{ run: BackupRun; point: RestorePoint }> {
  const run = await runOf(app, diskKey, await app.sync(diskKey));
  assert.equal(run.state, "succeeded", run.error);
  const point = (await app.restorePoints(diskKey)).find((p) => p.runId === run.runId);
  assert.ok(point, `run ${run.runId} recorded no RestorePoint`);
  const result = await app.verify(point);
  assert.ok(result.equal, `RestorePoint ${point.restorePointId} differs from its snapshot at ${JSON.stringify(result.mismatches)}`);
  return { run, point };
}
