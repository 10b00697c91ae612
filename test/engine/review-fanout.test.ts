/**
 * Review of the timer's fan-out: a `schedule-pages` message is handled whenever a worker gets to it — after a disk it
 * names was unprotected, or late, after the next tick's message started the disk's run. Neither may start a run the
 * schedule does not call for, nor touch what is backed up already.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { schedulePage } from "../../src/engine/scheduler";
import { GiB, MiB, useTestApp } from "../support/app";
import { syncAndVerify } from "../support/backup";

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

describe("review: schedule-pages messages handled late", () => {
  const app = useTestApp();

  it("when a disk was unprotected after the tick and the tick's message comes late, after the next tick started the other disk, then neither starts again and every RestorePoint equals its source", async () => {
    const { stack, deps, host } = app();
    const target = { blobEndpoint: stack.target.blobEndpoint, container: "backups", storageAccountId: stack.target.resourceId };
    const goneId = await app().createDisk("disk-review-page-gone", 1 * GiB);
    const stayId = await app().createDisk("disk-review-page-stay", 1 * GiB);
    stack.disks.writeSeeded(goneId, 1 * MiB, 2 * MiB, 71);
    stack.disks.writeSeeded(stayId, 5 * MiB, 2 * MiB, 72);
    const gone = await app().protect(goneId, { target });
    const stay = await app().protect(stayId, { target });
    const { point: gonePoint } = await syncAndVerify(app(), gone);
    const { point: firstStay } = await syncAndVerify(app(), stay);

    const earlier = new Date(deps.now().getTime() - 60_000);
    assert.equal((await host.invokeHttp("DELETE", `/api/disks/${gone}`)).status, 200);
    // The next tick (4 h on: both due) reaches a worker first.
    stack.disks.writeSeeded(stayId, 300 * MiB, 1 * MiB, 73);
    const next = new Date(deps.now().getTime() + 4 * 3600_000 + 60_000);
    const nextReport = await schedulePage(deps, { v: 1, kind: "schedule-page", tickAt: next.toISOString(), diskKeys: [gone, stay] }, quiet);
    assert.deepEqual(nextReport.started, [stay], "the unprotected disk is passed over, the other starts");
    assert.deepEqual(nextReport.skipped, []);
    await host.runUntilIdle();
    // The earlier tick's message, late: the disk started since that tick, so it is not due at the tick's time.
    const lateReport = await schedulePage(deps, { v: 1, kind: "schedule-page", tickAt: earlier.toISOString(), diskKeys: [gone, stay] }, quiet);
    assert.deepEqual([lateReport.started, lateReport.skipped], [[], []]);
    await host.runUntilIdle();

    const stayPoints = await app().restorePoints(stay);
    assert.equal(stayPoints.length, 2, "one RestorePoint per started run");
    assert.equal(stayPoints[1].restorePointId, firstStay.restorePointId);
    for (const point of stayPoints) assert.equal((await app().verify(point)).equal, true);
    const kept = await app().restorePoints(gone);
    assert.deepEqual(kept.map((p) => p.restorePointId), [gonePoint.restorePointId], "the unprotected disk's RestorePoint stays");
    assert.equal((await app().verify(gonePoint)).equal, true);
  });
});
