/**
 * Crash anywhere in a DR drill: the worker dies at each step of the drill and of its restore; after redelivery and
 * the next timer tick no drill disk is left, no hold is left and no RestorePoint is touched. The tick's sweep deletes
 * only disks it can prove are its own drills' leftovers, never anything else.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { scheduleDueBackups } from "../../src/engine/scheduler";
import { drillTags } from "../../src/engine/restores";
import { GiB, MiB, useTestApp } from "../support/app";
import { assertRestorePointsUntouched, drillDisksLeft, drillResourceGroup, drillThroughApi, withDrills } from "../support/drills";
import { type InterceptPoint, intercept } from "../support/intercept";
import { recordOutcome } from "../support/reliability-report";

const quietLog = { info: () => undefined, warn: () => undefined, error: () => undefined };

describe("crash anywhere in a DR drill", () => {
  const app = useTestApp();
  let counter = 0;

  async function drilledDisk(): Promise<string> {
    const diskId = await app().createDisk(`disk-drill-crash-${++counter}`, 2 * GiB);
    const diskKey = await app().protect(diskId, withDrills(app()));
    for (let i = 0; i < 2; i++) {
      app().stack.disks.writeSeeded(diskId, (i * 700 + 3) * MiB, 6 * MiB, counter * 10 + i);
      await app().sync(diskKey);
    }
    return diskKey;
  }

  const points: [string, InterceptPoint, number][] = [
    ["after the drill's restore is recorded, before it is queued", "records.createRestore", 1],
    ["after the disk import is sent", "compute.beginImportDisk", 1],
    ["after the restore recorded success, before it told the drill", "records.putRestore", 2],
    ["after the DrillRun is recorded as verifying, before the compare", "records.putDrill", 1],
    ["after the drill disk is exported, before its window is compared", "compute.grantDiskRead", 1],
    ["after the first window is compared and recorded, before the next is queued", "records.putDrill", 2],
    ["after the DrillRun's end is recorded, before cleanup", "records.putDrill", 3],
    ["after the drill disk's export is revoked, before it is deleted", "compute.revokeDiskAccess", 1],
    ["after the drill disk is deleted, before the hold is released", "compute.deleteDisk", 1],
  ];

  for (const [where, point, after] of points) {
    it(`when the worker crashes ${where}, then after the next tick no drill disk is left and no RestorePoint is touched`, async () => {
      const diskKey = await drilledDisk();
      const before = await app().restorePoints(diskKey);
      const crashing = intercept(app().deps, point, after, "crash");
      const drill = await drillThroughApi(app().withDeps(crashing.deps), diskKey);
      assert.ok(crashing.fired(), `the crash at ${point} happened`);
      await scheduleDueBackups(app().deps, quietLog);
      await app().host.runUntilIdle();
      assert.equal(drill.state, "succeeded", JSON.stringify(drill));
      assert.deepEqual(await drillDisksLeft(app()), [], "no drill disk is left");
      await assertRestorePointsUntouched(app(), diskKey, before);
      recordOutcome({ area: "Crash anywhere (drills)", scenario: `crash ${where} (${point} #${after})`, runs: 1, faults: "1 simulated crash, message redelivered", result: "drill succeeded; no drill disk, no hold left; RestorePoints untouched" });
    });
  }

  it("when the tick finds disks in the drill resource group, then it deletes only those tagged as this disk's drills whose DrillRun ended or does not exist", async () => {
    const diskKey = await drilledDisk();
    const before = await app().restorePoints(diskKey);
    const { compute, stack } = app();
    const create = (name: string, tags: Record<string, string>) =>
      compute.disks.createOrUpdate(drillResourceGroup, name, { location: stack.target.location, diskSizeGB: 1, creationData: { createOption: "Empty" }, tags }, { updateIntervalInMs: 10 });
    await create("drill-leftover", drillTags(diskKey, "0000000000000-deadbeef"));
    await create("drill-of-another-disk", drillTags("0123456789abcdef", "0000000000000-deadbeef"));
    await create("operators-disk", { owner: "someone" });
    await create("drill-half-tagged", { "diskdelta-drill": "0000000000000-deadbeef" });
    const report = await scheduleDueBackups(app().deps, quietLog);
    assert.equal(report.drills.swept.length, 1);
    assert.match(report.drills.swept[0], /\/disks\/drill-leftover$/);
    const names: string[] = [];
    for await (const disk of compute.disks.listByResourceGroup(drillResourceGroup)) names.push(disk.name ?? "");
    assert.ok(!names.includes("drill-leftover"));
    for (const kept of ["drill-of-another-disk", "operators-disk", "drill-half-tagged"]) assert.ok(names.includes(kept), `${kept} is kept`);
    // The tick also started this disk's first scheduled drill (never drilled: due): it runs to its end.
    assert.equal(report.drills.started.length, 1);
    await app().host.runUntilIdle();
    await assertRestorePointsUntouched(app(), diskKey, before);
    for (const name of ["drill-of-another-disk", "operators-disk", "drill-half-tagged"]) await compute.disks.beginDeleteAndWait(drillResourceGroup, name, { updateIntervalInMs: 10 });
  });
});
