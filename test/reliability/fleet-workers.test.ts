/**
 * Scale-out: N workers (local hosts, as the Functions host's instances) consume the same queues while every message
 * is delivered twice. Each CopyStep's work is recorded once, each due disk is started once per tick, and every
 * RestorePoint equals its SourceSnapshot with exact byte counts.
 */
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, it } from "node:test";
import { fanOutSchedule } from "../../src/engine/scheduler";
import { GiB, MiB, type TestApp, useTestApp } from "../support/app";
import { duplicateMessages } from "../support/intercept";
import { recordOutcome } from "../support/reliability-report";

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
const workerCount = 3;
const diskCount = 4;
const rounds = 2;

/** The app's log events named `message` since log line `from` (each line is one JSON event). */
function logged(app: TestApp, message: string, from: number): Record<string, unknown>[] {
  return app.logs
    .slice(from)
    .filter((line) => line.text.startsWith("{"))
    .map((line) => JSON.parse(line.text) as Record<string, unknown>)
    .filter((event) => event.message === message);
}

describe("N workers on the same queues", () => {
  // Small steps, so that every run is a chain of several CopySteps for the workers to share.
  const app = useTestApp({ settings: { DISKDELTA_STEP_MAX_BYTES: String(4 * MiB), DISKDELTA_DIFF_WINDOW_BYTES: String(256 * MiB) } });

  it(`when ${workerCount} workers share the queues and every message is delivered twice, then no CopyStep completes twice, each disk starts once per tick, and every RestorePoint equals its snapshot`, async () => {
    const { stack, deps } = app();
    const disks: { diskId: string; diskKey: string }[] = [];
    for (let i = 0; i < diskCount; i++) {
      const diskId = await app().createDisk(`disk-workers-${i}`, GiB);
      // Every other second: each round's tick finds every disk due again.
      disks.push({ diskId, diskKey: await app().protect(diskId, { schedule: "*/2 * * * * *" }) });
    }
    const workers = Array.from({ length: workerCount }, () => app().withDeps(duplicateMessages(deps)).host);
    let racedDuplicates = 0;
    for (let round = 0; round < rounds; round++) {
      const changed = new Map<string, number>();
      for (const [i, { diskId, diskKey }] of disks.entries()) {
        const pieces = 3 + i;
        for (let p = 0; p < pieces; p++) stack.disks.writeSeeded(diskId, (round * 16 + p * 2) * 8 * MiB, 3 * MiB, round * 100 + i * 10 + p);
        changed.set(diskKey, pieces * 3 * MiB + (round === 0 ? 512 : 0));
      }
      await sleep(2100);
      const from = app().logs.length;
      const tick = await fanOutSchedule(duplicateMessages(deps), quiet);
      assert.equal(tick.disks, diskCount, "every disk in the tick (each message sent twice)");
      // Every worker polls until the queues are empty and none of them has a message in hand.
      await Promise.all(workers.map((worker) => worker.runUntilIdle({ timeoutMs: 240_000 })));

      const queued = logged(app(), "BackupRun queued", from);
      for (const { diskKey } of disks) {
        assert.equal(queued.filter((q) => q.diskKey === diskKey).length, 1, `disk ${diskKey} started once in round ${round}`);
      }
      const done = logged(app(), "CopyStep done", from);
      const steps = done.map((d) => `${String(d.runId)}#${String(d.step)}`);
      assert.equal(new Set(steps).size, steps.length, `a CopyStep completed twice: ${steps.filter((s, i) => steps.indexOf(s) !== i).join(", ")}`);
      racedDuplicates += logged(app(), "copy-step raced a duplicate", from).length + logged(app(), "stale copy-step dropped", from).length;
      for (const { diskKey } of disks) {
        const [run] = await deps.records.listRuns(diskKey, 1);
        const retried = () => logged(app(), "transient failure; the message will be retried", from).filter((event) => event.diskKey === diskKey);
        assert.equal(run.state, "succeeded", run.state === "failed" ? `${run.error}; retried: ${JSON.stringify(retried())}` : run.state);
        assert.equal(run.bytesCopied, changed.get(diskKey), "bytes copied equal the bytes changed");
        assert.equal(done.filter((d) => d.runId === run.runId).length, run.step, "one completion per step the run counts");
        assert.ok(run.step >= 2, `the run took several CopySteps (${run.step})`);
        const point = (await app().restorePoints(diskKey)).find((p) => p.runId === run.runId);
        assert.ok(point, `run ${run.runId} recorded a RestorePoint`);
        const verified = await app().verify(point);
        assert.ok(verified.equal, `RestorePoint ${point.restorePointId} equals its snapshot`);
      }
    }
    for (const { diskKey } of disks) assert.equal((await app().restorePoints(diskKey)).length, rounds, "one RestorePoint per tick");
    assert.ok(racedDuplicates > 0, "duplicates did reach the workers");
    recordOutcome({
      area: "Scale-out",
      scenario: `${workerCount} workers on the same queues, ${diskCount} disks, ${rounds} ticks fanned out through schedule-pages`,
      runs: diskCount * rounds,
      faults: "every message (schedule-page, run-start, copy-step, finalize) delivered twice",
      result: `each disk started once per tick; no CopyStep completed twice (${racedDuplicates} duplicate steps dropped or lost the race); byte counts exact; every RestorePoint equals its snapshot`,
    });
  });
});
