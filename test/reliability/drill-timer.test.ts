/**
 * The timer's part in a DR drill, on a clock of the test's own: a drill whose step message was lost is nudged once it
 * has not moved for `stalledAfterMs` (and runs to its end), and given up once it has not moved for
 * `abandonedAfterMs` (failed, drill disk deleted, hold released). While it waits, retention keeps its RestorePoint.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { abandonedAfterMs, stalledAfterMs } from "../../src/domain/limits";
import type { Deps } from "../../src/engine/deps";
import { scheduleDueBackups } from "../../src/engine/scheduler";
import { GiB, MiB, type TestApp, useTestApp } from "../support/app";
import { assertRestorePointsUntouched, drillDisksLeft, drillOf, withDrills } from "../support/drills";

const quietLog = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** The app's worker on a clock of the test's own. */
function onTestClock(app: TestApp): { deps: Deps; clock: { nowMs: number } } {
  const clock = { nowMs: Date.now() };
  return { deps: { ...app.deps, now: () => new Date(clock.nowMs) }, clock };
}

/** A worker that loses every drill step message after the first: the restore's hand-off to the drill never arrives. */
function losingDrillSteps(app: TestApp): TestApp {
  let sent = 0;
  return app.withDeps({
    ...app.deps,
    queues: { send: async (queue, body, delay) => (queue === "drills" && ++sent > 1 ? undefined : app.deps.queues.send(queue, body, delay)) },
  });
}

describe("the timer and a DR drill that stopped moving", () => {
  const app = useTestApp();
  let counter = 0;

  /** A disk with a RestorePoint and a drill whose disk was restored but whose compare step was lost. */
  async function stuckDrill(options: Record<string, unknown> = {}): Promise<{ diskId: string; diskKey: string; drillId: string }> {
    const diskId = await app().createDisk(`disk-drill-timer-${++counter}`, 2 * GiB);
    const diskKey = await app().protect(diskId, { ...withDrills(app()), schedule: "every 1d", ...options });
    app().stack.disks.writeSeeded(diskId, 40 * MiB, 6 * MiB, 700 + counter);
    await app().sync(diskKey);
    const losing = losingDrillSteps(app());
    const answer = await losing.host.invokeHttp("POST", `/api/disks/${diskKey}/drills`);
    assert.equal(answer.status, 202, JSON.stringify(answer.body));
    await losing.host.runUntilIdle();
    const drillId = (answer.body as { drillId: string }).drillId;
    const drill = await drillOf(app(), diskKey, drillId);
    assert.equal(drill.state, "restoring", "the drill waits for a hand-off that was lost");
    assert.equal((await drillDisksLeft(app())).length, 1, "its drill disk was restored");
    return { diskId, diskKey, drillId };
  }

  it("when a drill's step is lost and retention runs meanwhile, then retention keeps its RestorePoint and the tick after stalledAfterMs re-sends the step and the drill succeeds", async () => {
    const { diskId, diskKey, drillId } = await stuckDrill({ retention: { keepLast: 1 } });
    const [drilled] = await app().restorePoints(diskKey);
    app().stack.disks.writeSeeded(diskId, 900 * MiB, MiB, 4244);
    await app().sync(diskKey);
    const points = await app().restorePoints(diskKey);
    assert.ok(points.some((p) => p.restorePointId === drilled.restorePointId), "the drilled RestorePoint is kept while its drill waits to compare");
    const { deps, clock } = onTestClock(app());
    clock.nowMs += stalledAfterMs - 60_000;
    assert.deepEqual((await scheduleDueBackups(deps, quietLog)).drills.nudged, [], "not stalled yet: nothing is re-sent");
    clock.nowMs += 60_000;
    assert.deepEqual((await scheduleDueBackups(deps, quietLog)).drills.nudged, [drillId]);
    await app().withDeps(deps).host.runUntilIdle();
    const drill = await drillOf(app(), diskKey, drillId);
    assert.equal(drill.state, "succeeded", JSON.stringify(drill));
    assert.equal(drill.restorePointId, drilled.restorePointId);
    assert.equal(drill.rtoSeconds, (clock.nowMs - Date.parse(drill.requestedAt)) / 1000, "the RTO counts the wait, on the worker's clock");
    assert.deepEqual(await drillDisksLeft(app()), []);
    await assertRestorePointsUntouched(app(), diskKey, points);
  });

  it("when a drill has not moved for abandonedAfterMs, then the tick fails it, deletes its drill disk and releases its hold", async () => {
    const { diskKey, drillId } = await stuckDrill();
    const before = await app().restorePoints(diskKey);
    const { deps, clock } = onTestClock(app());
    clock.nowMs += abandonedAfterMs;
    const report = await scheduleDueBackups(deps, quietLog);
    assert.deepEqual(report.drills.nudged, [], "given up, not nudged");
    const drill = await drillOf(app(), diskKey, drillId);
    assert.equal(drill.state, "failed");
    assert.match(drill.error, /has not moved since .*presumed lost/);
    assert.deepEqual(await drillDisksLeft(app()), [], "the drill disk is deleted");
    await app().host.runUntilIdle();
    await assertRestorePointsUntouched(app(), diskKey, before);
    assert.deepEqual(report.drills.started, [], "the tick that gives up starts no new drill");
  });
});
