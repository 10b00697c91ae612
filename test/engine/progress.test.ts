/**
 * Progress while a CopyStep copies: the run row carries the bytes of the step whose page writes completed
 * (`stepBytesCopied`), so status, GET run and the CLI's wait see a run move within its first step. Observed from
 * inside the copy (an interception after some page writes, which holds the rest back), never by timing; the totals
 * and the RestorePoint's bytes are what they were without progress.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatDiskStatus, formatProgress, type DiskStatusView } from "../../src/cli/format";
import { type BackupRun, type RunView, bytesCopiedSoFar } from "../../src/domain/records";
import type { Deps } from "../../src/engine/deps";
import { GiB, MiB, type TestApp, useTestApp } from "../support/app";
import { assertHealthy, runOf } from "../support/backup";
import { intercept } from "../support/intercept";

const changedBytes = 96 * MiB;

/** Status through the HTTP API, as `diskdelta status` reads it. */
async function statusOf(app: TestApp, diskKey: string): Promise<DiskStatusView> {
  const answer = await app.host.invokeHttp("GET", `/api/disks/${diskKey}`);
  assert.equal(answer.status, 200);
  return answer.body as DiskStatusView;
}

/** Polls the disk's status until its active run shows bytes copied within its step (bounded, not timed). */
async function activeRunWithStepProgress(app: TestApp, diskKey: string): Promise<RunView> {
  for (let poll = 0; poll < 400; poll++) {
    const run = (await statusOf(app, diskKey)).activeRun;
    if (run?.state === "copying" && (run.stepBytesCopied ?? 0) > 0) return run;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`disk ${diskKey}: the active run never showed progress within its step`);
}

/** Every BackupRun the worker wrote, in order. */
function recordingRunWrites(deps: Deps): { deps: Deps; written: BackupRun[] } {
  const written: BackupRun[] = [];
  const records = { ...deps.records, putRun: async (run: BackupRun, etag: string) => {
    const next = await deps.records.putRun(run, etag);
    written.push(run);
    return next;
  } };
  return { deps: { ...deps, records }, written };
}

describe("progress of a BackupRun within a CopyStep", () => {
  const app = useTestApp({ settings: { DISKDELTA_PROGRESS_SECONDS: "0" } });
  let counter = 0;

  async function diskWithChanges(): Promise<{ diskId: string; diskKey: string }> {
    const diskId = await app().createDisk(`disk-progress-${++counter}`, 2 * GiB);
    app().stack.disks.writeSeeded(diskId, 64 * MiB, changedBytes, 500 + counter);
    return { diskId, diskKey: await app().protect(diskId) };
  }

  it("when a CopyStep is halfway through its copies, then status shows bytes copied above 0 and below the run's total, and the totals and bytes are unchanged at the end", async () => {
    const { diskId, diskKey } = await diskWithChanges();
    let seen: RunView | undefined;
    // After 8 of the step's two dozen page writes the rest wait until the status was read: the step cannot end meanwhile.
    const observing = intercept(app().deps, "target.copyFromUrl", 8, async () => {
      seen = await activeRunWithStepProgress(app(), diskKey);
    });
    const runId = await app().withDeps(observing.deps).sync(diskKey);
    assert.ok(observing.fired() && seen, "the status was read mid-step");
    const run = await runOf(app(), diskKey, runId);
    assert.equal(run.state, "succeeded", run.error);
    assert.equal(run.bytesCopied, run.bytesChanged, "bytes copied = changed bytes");
    assert.ok(run.bytesCopied >= changedBytes, `the changed ${changedBytes} bytes were copied (${run.bytesCopied})`);
    assert.equal(run.stepBytesCopied, undefined, "no in-step figure once the step is recorded");

    assert.equal(seen.step, 0, "observed within the first CopyStep");
    assert.equal(seen.bytesCopied, 0, "no step had ended yet");
    const soFar = bytesCopiedSoFar(seen);
    assert.ok(soFar > 0 && soFar < run.bytesCopied, `mid-step progress ${soFar} is within (0, ${run.bytesCopied})`);
    assert.match(formatProgress(seen, undefined) ?? "", new RegExp(`^BackupRun ${runId} copying: \\d+(\\.\\d)? MiB copied \\(\\d+(\\.\\d)? MiB in CopyStep 0 so far\\), 0 requests$`));
    assert.match(formatDiskStatus({ ...(await statusOf(app(), diskKey)), activeRun: seen }), /^Active run +\S+ copying: [\d.]+ MiB copied \(/m);
    await assertHealthy(app(), diskKey, diskId, 1);
  });

  it("when a CopyStep dies after recording progress and its redelivery starts over, then progress never goes back, never exceeds the total and the bytes count once", async () => {
    const { diskId, diskKey } = await diskWithChanges();
    const crashing = intercept(app().deps, "target.copyFromUrl", 12, "crash");
    const recording = recordingRunWrites(crashing.deps);
    const runId = await app().withDeps(recording.deps).sync(diskKey);
    assert.ok(crashing.fired(), "the worker died mid-step");
    const run = await runOf(app(), diskKey, runId);
    assert.equal(run.state, "succeeded", run.error);
    assert.equal(run.bytesCopied, run.bytesChanged, "bytes copied = changed bytes, counted once");

    const inStep = recording.written.filter((w): w is Extract<BackupRun, { state: "copying" }> => w.state === "copying" && w.stepBytesCopied !== undefined);
    assert.ok(inStep.length >= 2, `progress was recorded mid-step (${inStep.length} writes)`);
    const shown = recording.written.map((w) => bytesCopiedSoFar(w));
    for (let i = 1; i < shown.length; i++) assert.ok(shown[i] >= shown[i - 1], `progress went back: ${shown.join(", ")}`);
    assert.ok(Math.max(...shown) <= run.bytesCopied, `progress ${Math.max(...shown)} exceeded the total ${run.bytesCopied}`);
    await assertHealthy(app(), diskKey, diskId, 1);
  });
});
