/**
 * DR drills of a VM's disk set on the local stack: the newest complete RestorePoint group drilled as one — each disk
 * restored into the drill resource group, read back and compared, one result for the set with the slowest disk's RTO,
 * every drill disk deleted; a tampered member fails the set's drill naming that disk and its first differing block.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { locationFromUrl } from "../../src/adapters/target-blob";
import { diskKeyOf, vmKeyOf } from "../../src/domain/model";
import type { DrillRun, VmDrillRun } from "../../src/domain/records";
import { scheduleDueBackups } from "../../src/engine/scheduler";
import type { VmRestorePoints } from "../../src/engine/vm-sets";
import type { MemoryMetrics } from "../../src/host/metrics";
import { MiB, resourceGroup, useTestApp } from "../support/app";
import { assertRestorePointsUntouched, drillConfig, drillDisksLeft } from "../support/drills";

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

type VmDrillAnswer = VmDrillRun & { drills: DrillRun[]; statusUrl?: string };

describe("DR drills of a VM's disk set", () => {
  const app = useTestApp();
  let counter = 0;

  /** A VM with an OS disk and a data disk, protected with drills, backed up twice (two groups); its disks and vmKey. */
  async function drilledVm(extra: Record<string, unknown> = {}): Promise<{ vmKey: string; osId: string; dataId: string }> {
    const n = ++counter;
    const create = async (name: string) =>
      (await app().compute.disks.createOrUpdate(resourceGroup, name, { location: app().stack.arm.location, diskSizeGB: 1, creationData: { createOption: "Empty" } }, { updateIntervalInMs: 10 })).id as string;
    const osId = await create(`vm-drill-${n}-os`);
    const dataId = await create(`vm-drill-${n}-data`);
    const vm = await app().stack.createVirtualMachine({ resourceGroup, name: `vm-drill-${n}`, osDiskId: osId, dataDisks: [{ lun: 0, diskId: dataId }] });
    const target = { blobEndpoint: app().stack.target.blobEndpoint, container: "backups", storageAccountId: app().stack.target.resourceId };
    const answer = await app().host.invokeHttp("POST", "/api/vms", { vmId: vm.id, target, ...drillConfig(app()), ...extra });
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    const vmKey = vmKeyOf(vm.id);
    for (let tick = 0; tick < 2; tick++) {
      for (const [i, id] of [osId, dataId].entries()) app().stack.disks.writeSeeded(id, (tick * 300 + i * 100 + 5) * MiB, 3 * MiB, n * 10 + tick * 2 + i);
      const synced = await app().host.invokeHttp("POST", `/api/vms/${vmKey}/sync`);
      assert.equal(synced.status, 202, JSON.stringify(synced.body));
      await app().host.runUntilIdle();
    }
    return { vmKey, osId, dataId };
  }

  async function vmDrillOf(vmKey: string, vmDrillId: string): Promise<VmDrillAnswer> {
    const answer = await app().host.invokeHttp("GET", `/api/vms/${vmKey}/drills/${vmDrillId}`);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    return answer.body as VmDrillAnswer;
  }

  async function drillVm(vmKey: string): Promise<VmDrillAnswer> {
    const answer = await app().host.invokeHttp("POST", `/api/vms/${vmKey}/drills`);
    assert.equal(answer.status, 202, JSON.stringify(answer.body));
    const started = answer.body as VmDrillAnswer;
    assert.match(started.statusUrl ?? "", new RegExp(`/api/vms/${vmKey}/drills/${started.vmDrillId}$`));
    await app().host.runUntilIdle();
    return vmDrillOf(vmKey, started.vmDrillId);
  }

  const metricsNamed = (name: string) => (app().deps.metrics as MemoryMetrics).values.filter((v) => v.name === name);

  it("when a VM set with two groups is drilled, then both disks of the newest group are restored and compare equal, the set's RTO is the slowest disk's and both drill disks are deleted", async () => {
    const { vmKey, osId, dataId } = await drilledVm();
    const groups = ((await app().host.invokeHttp("GET", `/api/vms/${vmKey}/restore-points`)).body as VmRestorePoints).groups;
    assert.equal(groups.length, 2);
    const before = { os: await app().restorePoints(diskKeyOf(osId)), data: await app().restorePoints(diskKeyOf(dataId)) };
    const drill = await drillVm(vmKey);
    assert.equal(drill.state, "succeeded", JSON.stringify(drill));
    assert.equal(drill.groupTime, groups[0].groupTime, "the newest complete group");
    assert.deepEqual(drill.diskKeys.split(","), [diskKeyOf(osId), diskKeyOf(dataId)], "OS disk first");
    assert.deepEqual(drill.drills.map((d) => d.restorePointId), groups[0].restorePoints.map((p) => p.restorePoint.restorePointId));
    for (const member of drill.drills) {
      assert.equal(member.state, "succeeded", JSON.stringify(member));
      assert.equal(member.vmKey, vmKey);
      assert.equal(member.requestedAt, drill.requestedAt, "the RTO of every disk counts from the set's request");
      assert.ok(member.state === "succeeded" && member.bytesRead >= 2 * 6 * MiB, "both sides' allocated blocks were read");
      assert.match(member.drillDiskId, /\/resourceGroups\/rg-restore\/providers\/Microsoft\.Compute\/disks\/drill-vm-drill-\d+-(os|data)-/);
    }
    const slowest = Math.max(...drill.drills.map((d) => (d.state === "succeeded" ? d.rtoSeconds : -1)));
    assert.ok(drill.state === "succeeded" && drill.rtoSeconds === slowest && drill.drills.some((d) => d.diskKey === drill.slowestDiskKey));
    assert.deepEqual(await drillDisksLeft(app()), [], "both drill disks are deleted");
    assert.ok(metricsNamed("diskdelta.drill.rto_seconds").some((m) => m.dimensions.vmKey === vmKey && m.value === slowest));
    assert.ok(metricsNamed("diskdelta.drill.succeeded").some((m) => m.dimensions.vmKey === vmKey));
    await assertRestorePointsUntouched(app(), diskKeyOf(osId), before.os);
    await assertRestorePointsUntouched(app(), diskKeyOf(dataId), before.data);
    const list = (await app().host.invokeHttp("GET", `/api/vms/${vmKey}/drills`)).body as { drills: VmDrillRun[] };
    assert.deepEqual(list.drills.map((d) => d.vmDrillId), [drill.vmDrillId]);
    const again = await app().host.invokeHttp("POST", `/api/vms/unknown0000000000/drills`);
    assert.equal(again.status, 404);
  });

  it("when one disk's RestorePoint is tampered with, then the set's drill fails naming that disk and its first differing block, and no drill disk is left", async () => {
    const { vmKey, dataId } = await drilledVm({ verifyAfterBackup: true });
    const [point] = await app().restorePoints(diskKeyOf(dataId));
    const target = app().deps.targets(locationFromUrl(point.targetBlobUrl));
    const recorded = (await target.readChecksums(point.restorePointId)) as { blocks: [number, string][] };
    const [block] = recorded.blocks[0];
    await target.writeChecksums(point.restorePointId, { ...recorded, blocks: recorded.blocks.map(([i, hash]) => [i, i === block ? "0".repeat(64) : hash]) });
    const drill = await drillVm(vmKey);
    assert.equal(drill.state, "failed", JSON.stringify(drill));
    assert.ok(drill.state === "failed");
    assert.equal(drill.failedDiskKey, diskKeyOf(dataId));
    assert.equal(drill.firstDifferingByte, block * 4 * MiB);
    assert.match(drill.error, new RegExp(`^1 of 2 disks failed their drill: vm-drill-\\d+-data \\(data, lun 0\\): .*first at block ${block} `));
    assert.deepEqual(drill.drills.map((d) => d.state), ["succeeded", "failed"], "the OS disk compared equal");
    assert.ok(metricsNamed("diskdelta.drill.failed").some((m) => m.dimensions.vmKey === vmKey));
    assert.deepEqual(await drillDisksLeft(app()), []);
  });

  it("when the VM set's drill is due, then the timer starts it (and not the disks' own), and its next tick reports it fresh", async () => {
    const { vmKey } = await drilledVm();
    const report = await scheduleDueBackups(app().deps, quiet);
    assert.equal(report.drills.started.length, 1, JSON.stringify(report.drills));
    await app().host.runUntilIdle();
    const [drill] = ((await app().host.invokeHttp("GET", `/api/vms/${vmKey}/drills`)).body as { drills: VmDrillRun[] }).drills;
    assert.equal(drill.vmDrillId, report.drills.started[0]);
    assert.equal(drill.state, "succeeded", JSON.stringify(drill));
    assert.equal(drill.trigger, "schedule");
    const next = await scheduleDueBackups(app().deps, quiet);
    assert.deepEqual(next.drills.started, [], "not due again");
    const stale = metricsNamed("diskdelta.drill.stale").filter((m) => m.dimensions.vmKey === vmKey);
    assert.deepEqual(stale.map((m) => m.value).slice(-2), [1, 0], "stale before its first drill, fresh after");
    assert.deepEqual(await drillDisksLeft(app()), []);
  });

  it("when a VM set is protected with a drill but without target.storageAccountId, then 400 names the field; when a member lost it, then the set's drill is refused with 409 before anything is created", async () => {
    const n = ++counter;
    const osId = (await app().compute.disks.createOrUpdate(resourceGroup, `vm-drill-${n}-os`, { location: app().stack.arm.location, diskSizeGB: 1, creationData: { createOption: "Empty" } }, { updateIntervalInMs: 10 })).id as string;
    const vm = await app().stack.createVirtualMachine({ resourceGroup, name: `vm-drill-${n}`, osDiskId: osId, dataDisks: [] });
    const target = { blobEndpoint: app().stack.target.blobEndpoint, container: "backups" };
    const refused = await app().host.invokeHttp("POST", "/api/vms", { vmId: vm.id, target, ...drillConfig(app()) });
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    assert.match(JSON.stringify(refused.body), /target\.storageAccountId/);
    const plain = await app().host.invokeHttp("POST", "/api/vms", { vmId: vm.id, target });
    assert.equal(plain.status, 201, JSON.stringify(plain.body));
    const config = await app().deps.records.getDisk(diskKeyOf(osId));
    assert.ok(config);
    await app().deps.records.replaceDisk({ ...config, ...drillConfig(app()) });
    const answer = await app().host.invokeHttp("POST", `/api/vms/${vmKeyOf(vm.id)}/drills`);
    assert.equal(answer.status, 409, JSON.stringify(answer.body));
    assert.equal((answer.body as { error: { code: string } }).error.code, "DrillNotRestorable");
    assert.match((answer.body as { error: { message: string } }).error.message, /target\.storageAccountId.*protect it again/);
    assert.deepEqual(await app().deps.records.listDrills(diskKeyOf(osId), 5), [], "no DrillRun was created");
  });
});
