/**
 * A SourceSnapshot still copied in the background (Premium SSD v2, Ultra, CopyStart: `completionPercent` < 100) is
 * waited for: the run stays `preparing` with the wait recorded and visible, and looks again through a delayed
 * run-start message, using up no delivery; a snapshot that never completes fails the run after the timeout. Time is
 * the test's own: each delayed message moves the worker's clock on by its delay (and is sent visible at once).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { QueueClient } from "@azure/storage-queue";
import { locationFromUrl } from "../../src/adapters/target-blob";
import { type DiskStatusView, formatDiskStatus } from "../../src/cli/format";
import { hydrationRecheckSeconds } from "../../src/domain/limits";
import type { Deps } from "../../src/engine/deps";
import { GiB, MiB, type TestApp, resourceGroup, useTestApp } from "../support/app";
import { runOf } from "../support/backup";
import { recordOutcome } from "../support/reliability-report";

const area = "Snapshot hydration";

/** The app with a worker on a clock of the test's own; a delayed send moves it on by the delay. */
function onTestClock(app: TestApp): { app: TestApp; clock: { nowMs: number }; delays: number[] } {
  const clock = { nowMs: Date.now() };
  const delays: number[] = [];
  const deps: Deps = {
    ...app.deps,
    now: () => new Date(clock.nowMs),
    queues: {
      send: (queue, body, delaySeconds) => {
        if (delaySeconds) {
          delays.push(delaySeconds);
          clock.nowMs += delaySeconds * 1000;
        }
        return app.deps.queues.send(queue, body);
      },
    },
  };
  return { app: app.withDeps(deps), clock, delays };
}

/** A disk with data, protected in snapshot mode `existing`, and a snapshot of it that reports `percent`. */
async function diskWithHydratingSnapshot(app: TestApp, name: string, percent: number): Promise<{ diskId: string; diskKey: string; snapshotId: string }> {
  const diskId = await app.createDisk(name, 2 * GiB);
  app.stack.disks.writeSeeded(diskId, 64 * MiB, 4 * MiB, 401);
  const snapshot = await app.compute.snapshots.createOrUpdate(
    resourceGroup,
    `${name}-snap`,
    { location: app.stack.arm.location, incremental: true, creationData: { createOption: "Copy", sourceResourceId: diskId } },
    { updateIntervalInMs: 10 },
  );
  const snapshotId = snapshot.id as string;
  app.stack.disks.setSnapshotCompletion(snapshotId, percent);
  const diskKey = await app.protect(diskId, { snapshotMode: "existing" });
  return { diskId, diskKey, snapshotId };
}

async function startRun(app: TestApp, diskKey: string): Promise<string> {
  const answer = await app.host.invokeHttp("POST", `/api/disks/${diskKey}/sync`);
  assert.equal(answer.status, 202, JSON.stringify(answer.body));
  return (answer.body as { runId: string }).runId;
}

async function poisoned(app: TestApp, runId: string): Promise<number> {
  const poison = new QueueClient(app.stack.appStorage.connectionString, "run-starts-poison");
  await poison.createIfNotExists();
  const peeked = await poison.peekMessages({ numberOfMessages: 32 });
  return peeked.peekedMessageItems.filter((m) => Buffer.from(m.messageText, "base64").toString("utf8").includes(runId)).length;
}

/** Failed deliveries the local host logged for prepareRun. */
function failedPrepares(app: TestApp): number {
  return app.logs.filter((l) => l.functionName === "prepareRun" && /attempt \d+ failed/.test(l.text)).length;
}

describe("snapshot hydration", () => {
  const shared = useTestApp();

  it("when the SourceSnapshot is 40 % hydrated for minutes, then the run waits visibly without using deliveries and succeeds at 100 %", async () => {
    const { app, clock, delays } = onTestClock(shared());
    const { diskId, diskKey, snapshotId } = await diskWithHydratingSnapshot(app, "disk-hydrating", 40);
    const failedBefore = failedPrepares(app);
    const startedAt = clock.nowMs;
    const runId = await startRun(app, diskKey);
    for (let look = 0; look < 6; look++) assert.equal(await app.host.pollOnce(), 1, "one run-start message at a time");
    assert.deepEqual(delays, Array(6).fill(hydrationRecheckSeconds), "each look queues the next one a minute later");

    const waiting = await runOf(app, diskKey, runId);
    assert.equal(waiting.state, "preparing");
    assert.equal(waiting.completionPercent, 40);
    assert.equal(waiting.waitingForSnapshotId, snapshotId);
    assert.equal(waiting.waitingSince, new Date(startedAt).toISOString(), "the wait counts from the first look");
    const status = (await app.host.invokeHttp("GET", `/api/disks/${diskKey}`)).body as DiskStatusView;
    assert.match(formatDiskStatus(status), /^Active run +\S+ preparing: waiting for snapshot hydration: 40% \(since /m);
    await app.host.tick();
    // The timer fans out through schedule-pages: the page's message is where a stall would be nudged.
    assert.ok((await app.host.pollOnce()) >= 1, "the tick's schedule-pages message is processed");
    assert.ok(!app.logs.some((l) => l.text.includes("stalled BackupRun nudged")), "the timer does not take the wait for a stall");

    app.stack.disks.setSnapshotCompletion(snapshotId, 100);
    await app.host.runUntilIdle();
    const run = await runOf(app, diskKey, runId);
    assert.equal(run.state, "succeeded", run.error);
    assert.equal(run.completionPercent, undefined, "the wait is over once the run is prepared");
    const point = (await app.restorePoints(diskKey)).find((p) => p.runId === runId);
    assert.ok(point, "a RestorePoint was recorded");
    assert.ok((await app.verify(point)).equal, "the RestorePoint equals its snapshot");
    assert.ok((await app.deps.targets(locationFromUrl(point.targetBlobUrl)).readSnapshot(point.targetSnapshot, { start: 64 * MiB, end: 68 * MiB })).equals(app.stack.disks.read(diskId, 64 * MiB, 4 * MiB)));
    assert.equal(failedPrepares(app), failedBefore, "no delivery failed");
    assert.equal(await poisoned(app, runId), 0, "nothing in run-starts-poison");
    recordOutcome({ area, scenario: "SourceSnapshot at 40 % for 6 minutes of test time, then 100 %", runs: 1, faults: "completionPercent 40 for 6 looks", result: "run waited in preparing (status: 'waiting for snapshot hydration: 40%'), 6 delayed run-starts, no failed delivery, no poison, no stall nudge; then succeeded and verified" });
  });

  it("when the SourceSnapshot stays 40 % hydrated past the timeout, then the run fails with HydrationTimeout naming it", async () => {
    const { app, clock } = onTestClock(shared());
    const { diskKey } = await diskWithHydratingSnapshot(app, "disk-stuck", 40);
    const failedBefore = failedPrepares(app);
    const runId = await startRun(app, diskKey);
    assert.equal(await app.host.pollOnce(), 1);
    clock.nowMs += app.deps.settings.DISKDELTA_HYDRATION_TIMEOUT_MINUTES * 60_000;
    await app.host.runUntilIdle();
    const run = await runOf(app, diskKey, runId);
    assert.equal(run.state, "failed");
    assert.match(run.error ?? "", /^\[HydrationTimeout\] snapshot disk-stuck-snap is 40% hydrated after 1441 minutes/);
    const status = (await app.host.invokeHttp("GET", `/api/disks/${diskKey}`)).body as DiskStatusView;
    assert.match(status.lastError ?? "", /HydrationTimeout/);
    assert.equal(failedPrepares(app), failedBefore, "a timeout is one permanent failure, not retried deliveries");
    assert.equal(await poisoned(app, runId), 0);
    recordOutcome({ area, scenario: "SourceSnapshot stuck at 40 % past DISKDELTA_HYDRATION_TIMEOUT_MINUTES (1440)", runs: 1, faults: "completionPercent 40 for 1441 minutes of test time", result: "run failed once with '[HydrationTimeout] snapshot … is 40% hydrated after 1441 minutes' in run and disk status; no retried delivery, no poison" });
  });
});
