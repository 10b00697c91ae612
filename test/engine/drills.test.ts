/**
 * DR drills on the local stack: the newest RestorePoint restored into the drill resource group, read back through
 * the drill disk's own read SAS and compared, the RTO recorded and the drill disk deleted; a tampered RestorePoint
 * fails the drill naming the first differing block; retention waits for a running drill.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { DiskStatus } from "../../src/engine/status";
import type { MemoryMetrics } from "../../src/host/metrics";
import { locationFromUrl } from "../../src/adapters/target-blob";
import { GiB, MiB, useTestApp } from "../support/app";
import { assertRestorePointsUntouched, drillConfig, drillDisksLeft, drillOf, drillThroughApi, withDrills } from "../support/drills";
import { intercept } from "../support/intercept";

describe("DR drills", () => {
  const app = useTestApp();
  let counter = 0;

  /** A disk protected with drills and `syncs` RestorePoints, its data changed before each. */
  async function drilledDisk(syncs: number, options: Record<string, unknown> = {}): Promise<{ diskId: string; diskKey: string }> {
    const diskId = await app().createDisk(`disk-drill-${++counter}`, 2 * GiB);
    const diskKey = await app().protect(diskId, { ...withDrills(app()), ...options });
    for (let i = 0; i < syncs; i++) {
      app().stack.disks.writeSeeded(diskId, (i * 300 + 17) * MiB, 5 * MiB, counter * 100 + i);
      await app().sync(diskKey);
    }
    return { diskId, diskKey };
  }

  const metricsNamed = (name: string) => (app().deps.metrics as MemoryMetrics).values.filter((v) => v.name === name);

  it("when a disk with several RestorePoints is drilled, then the newest is restored, compares equal, the RTO is recorded and the drill disk is deleted", async () => {
    const { diskKey } = await drilledDisk(3);
    const points = await app().restorePoints(diskKey);
    assert.equal(points.length, 3);
    const drill = await drillThroughApi(app(), diskKey);
    assert.equal(drill.state, "succeeded", JSON.stringify(drill));
    assert.equal(drill.restorePointId, points[0].restorePointId, "the newest RestorePoint");
    assert.equal(drill.basis, "blob-snapshot", "no checksums were recorded: a full compare with the blob snapshot");
    assert.equal(drill.cursor, 2 * GiB - GiB, "the compare went window by window");
    assert.ok(drill.bytesRead >= 2 * 15 * MiB, "both sides' allocated blocks were read");
    assert.ok(drill.rtoSeconds >= drill.usableSeconds && drill.usableSeconds >= 0);
    assert.match(drill.drillDiskId, /\/resourceGroups\/rg-restore\/providers\/Microsoft\.Compute\/disks\/drill-disk-drill-\d+-/);
    assert.deepEqual(await drillDisksLeft(app()), [], "the drill disk is deleted");
    assert.ok(metricsNamed("diskdelta.drill.rto_seconds").some((m) => m.dimensions.diskKey === diskKey && m.value === drill.rtoSeconds));
    assert.ok(metricsNamed("diskdelta.drill.succeeded").some((m) => m.dimensions.diskKey === diskKey));
    await assertRestorePointsUntouched(app(), diskKey, points);
    const status = (await app().host.invokeHttp("GET", `/api/disks/${diskKey}`)).body as DiskStatus;
    assert.equal(status.lastDrill?.drillId, drill.drillId);
    assert.equal(status.drillStale, false);
    const list = (await app().host.invokeHttp("GET", `/api/disks/${diskKey}/drills`)).body as { drills: { drillId: string }[] };
    assert.deepEqual(list.drills.map((d) => d.drillId), [drill.drillId]);
  });

  it("when the RestorePoint has recorded checksums, then the drill compares against them", async () => {
    const { diskKey } = await drilledDisk(1, { verifyAfterBackup: true });
    const drill = await drillThroughApi(app(), diskKey);
    assert.equal(drill.state, "succeeded", JSON.stringify(drill));
    assert.equal(drill.basis, "recorded-checksums");
  });

  it("when the recorded checksums are tampered with, then the drill fails naming the first differing block, the failed metric is set and the drill disk is deleted", async () => {
    const { diskKey } = await drilledDisk(1, { verifyAfterBackup: true });
    const [point] = await app().restorePoints(diskKey);
    const target = app().deps.targets(locationFromUrl(point.targetBlobUrl));
    const recorded = (await target.readChecksums(point.restorePointId)) as { blocks: [number, string][] };
    const [block] = recorded.blocks[0];
    await target.writeChecksums(point.restorePointId, { ...recorded, blocks: recorded.blocks.map(([i, hash]) => [i, i === block ? "0".repeat(64) : hash]) });
    const drill = await drillThroughApi(app(), diskKey);
    assert.equal(drill.state, "failed");
    assert.match(drill.error, new RegExp(`first at block ${block} `));
    assert.equal(drill.firstDifferingByte, block * 4 * MiB);
    assert.ok(metricsNamed("diskdelta.drill.failed").some((m) => m.dimensions.diskKey === diskKey));
    assert.deepEqual(await drillDisksLeft(app()), []);
    const status = (await app().host.invokeHttp("GET", `/api/disks/${diskKey}`)).body as DiskStatus;
    assert.equal(status.drillStale, true, "no successful drill yet");
  });

  it("when the drill disk is changed before its compare, then the full compare fails naming the changed block", async () => {
    const { diskKey } = await drilledDisk(1);
    // The first DrillRun write after its creation is restoring → verifying: the disk is usable, not yet exported.
    const tampering = intercept(app().deps, "records.putDrill", 1, async () => {
      const [drill] = await app().deps.records.listDrills(diskKey, 1);
      app().stack.disks.write(drill.drillDiskId, 1500 * MiB + 4096, Buffer.alloc(512, 0x5a));
    });
    const drill = await drillThroughApi(app().withDeps(tampering.deps), diskKey);
    assert.ok(tampering.fired());
    assert.equal(drill.state, "failed", JSON.stringify(app().logs.filter((l) => l.functionName === "drillStep").slice(-5)));
    assert.equal(drill.firstDifferingByte, Math.floor((1500 * MiB) / (4 * MiB)) * 4 * MiB);
    assert.deepEqual(await drillDisksLeft(app()), []);
  });

  it("when a drill runs while retention wants its RestorePoint, then retention waits until the drill ends", async () => {
    const { diskId, diskKey } = await drilledDisk(1, { retention: { keepLast: 1 } });
    const [drilled] = await app().restorePoints(diskKey);
    // The drill is accepted, but its steps wait (their messages held back) while a backup's retention runs.
    const held: { diskKey: string; drillId: string; cursor: number }[] = [];
    const paused = { ...app().deps, queues: { send: async (queue: never, body: never, delay?: number) => (queue === "drills" ? void held.push(body) : app().deps.queues.send(queue, body, delay)) } };
    const answer = await app().withDeps(paused).host.invokeHttp("POST", `/api/disks/${diskKey}/drills`);
    assert.equal(answer.status, 202);
    app().stack.disks.writeSeeded(diskId, 900 * MiB, MiB, 4242);
    await app().sync(diskKey);
    const during = await app().restorePoints(diskKey);
    assert.ok(during.some((p) => p.restorePointId === drilled.restorePointId), "the drilled RestorePoint is kept while the drill runs");
    for (const body of held) await app().deps.queues.send("drills", body);
    await app().host.runUntilIdle();
    const drill = await drillOf(app(), diskKey, (answer.body as { drillId: string }).drillId);
    assert.equal(drill.state, "succeeded", JSON.stringify(drill));
    assert.equal(drill.restorePointId, drilled.restorePointId);
    app().stack.disks.writeSeeded(diskId, 901 * MiB, MiB, 4243);
    await app().sync(diskKey);
    assert.ok(!(await app().restorePoints(diskKey)).some((p) => p.restorePointId === drilled.restorePointId), "once the drill ended, retention removes it");
  });

  it("when a drill is given without target.storageAccountId, then protect and update answer 400 naming the field, and a stored one is refused at the drill's start with 409", async () => {
    const diskId = await app().createDisk(`disk-drill-${++counter}`, GiB);
    const target = { blobEndpoint: app().stack.target.blobEndpoint, container: "backups" };
    const protect = await app().host.invokeHttp("POST", "/api/disks", { diskId, target, ...drillConfig(app()) });
    assert.equal(protect.status, 400, JSON.stringify(protect.body));
    assert.match(JSON.stringify(protect.body), /target\.storageAccountId: required with a drill configuration/);
    const diskKey = await app().protect(diskId, { target });
    const patched = await app().host.invokeHttp("PATCH", `/api/disks/${diskKey}`, drillConfig(app()));
    assert.equal(patched.status, 400, JSON.stringify(patched.body));
    assert.match(JSON.stringify(patched.body), /target\.storageAccountId.*protect it again/);
    assert.equal((await app().deps.records.getDisk(diskKey))?.drill, undefined, "the refused update changed nothing");
    // A row stored before this check (drill set, no storage account) still loads; its drill is refused up front.
    const stored = await app().deps.records.getDisk(diskKey);
    assert.ok(stored);
    await app().deps.records.replaceDisk({ ...stored, ...drillConfig(app()) });
    app().stack.disks.writeSeeded(diskId, 8 * MiB, MiB, 77);
    await app().sync(diskKey);
    const started = await app().host.invokeHttp("POST", `/api/disks/${diskKey}/drills`);
    assert.equal(started.status, 409, JSON.stringify(started.body));
    assert.equal((started.body as { error: { code: string } }).error.code, "DrillNotRestorable");
    assert.deepEqual(await app().deps.records.listDrills(diskKey, 5), [], "no DrillRun was created");
  });

  it("when a drill is asked for while one runs, or for a disk without drills, then 409 says why", async () => {
    const diskId = await app().createDisk(`disk-drill-${++counter}`, GiB);
    const { drill: _drill, ...withoutDrill } = withDrills(app());
    const diskKey = await app().protect(diskId, withoutDrill);
    const answer = await app().host.invokeHttp("POST", `/api/disks/${diskKey}/drills`);
    assert.equal(answer.status, 409);
    assert.equal((answer.body as { error: { code: string } }).error.code, "DrillNotConfigured");
    const patched = await app().host.invokeHttp("PATCH", `/api/disks/${diskKey}`, drillConfig(app()));
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    const none = await app().host.invokeHttp("POST", `/api/disks/${diskKey}/drills`);
    assert.equal((none.body as { error: { code: string } }).error.code, "NoRestorePoint");
    const off = await app().host.invokeHttp("PATCH", `/api/disks/${diskKey}`, { drill: null });
    assert.equal(off.status, 200);
    assert.equal((off.body as { drill?: unknown }).drill, undefined);
  });
});
