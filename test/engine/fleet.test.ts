/**
 * The timer's fan-out: a tick reads the disk table a page at a time and sends one `schedule-pages` message per page
 * (it starts nothing itself); the workers of those messages start each due disk once, and
 * DISKDELTA_MAX_RUNS_PER_TICK bounds the runs one message starts.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { QueueClient } from "@azure/storage-queue";
import { queueNames } from "../../src/domain/messages";
import { fanOutSchedule, schedulePage } from "../../src/engine/scheduler";
import { diskKeyOf } from "../../src/domain/model";
import { GiB, MiB, resourceGroup, useTestApp } from "../support/app";
import { disksTable } from "../support/raw-input";

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

describe("the timer's fan-out", () => {
  const app = useTestApp();
  const diskKeys: string[] = [];

  it("when the timer ticks over more disks than a page, then it sends one message per page, starts nothing itself, and the workers start each due disk once", async () => {
    const { stack, deps } = app();
    for (let i = 0; i < 5; i++) {
      const diskId = await app().createDisk(`disk-fan-${i}`, GiB);
      stack.disks.writeSeeded(diskId, i * MiB, MiB, 700 + i);
      diskKeys.push(await app().protect(diskId, { schedule: "every 1d" }));
    }
    await disksTable(stack).upsertEntity({ partitionKey: "badrow-fleet", rowKey: "config", diskId: 42 }, "Replace");
    const queue = new QueueClient(stack.appStorage.connectionString, queueNames.schedulePages);
    await queue.createIfNotExists();
    await queue.clearMessages();

    const report = await fanOutSchedule(deps, quiet, 2);
    assert.equal(report.messages, 3, "5 disks in pages of 2");
    assert.equal(report.disks, 5);
    assert.deepEqual(report.invalid.map((r) => r.row), ["diskdeltaDisks/badrow-fleet/config"], "the invalid row is reported by the tick");
    for (const diskKey of diskKeys) {
      assert.equal((await deps.records.getState(diskKey)).value.activeRunId, undefined, "the timer started no run itself");
    }
    const peeked = await queue.peekMessages({ numberOfMessages: 32 });
    const bodies = peeked.peekedMessageItems.map((m) => JSON.parse(Buffer.from(m.messageText, "base64").toString("utf8")) as { v: number; kind: string; tickAt: string; diskKeys: string[] });
    assert.deepEqual(bodies.map((b) => b.diskKeys.length).sort(), [1, 2, 2]);
    assert.deepEqual(bodies.flatMap((b) => b.diskKeys).sort(), [...diskKeys].sort(), "every disk in exactly one message");
    assert.ok(bodies.every((b) => b.v === 1 && b.kind === "schedule-page" && b.tickAt === report.tickAt));

    await app().host.runUntilIdle();
    for (const diskKey of diskKeys) {
      const runs = await deps.records.listRuns(diskKey, 10);
      assert.equal(runs.length, 1, `one run for ${diskKey}`);
      assert.equal(runs[0].state, "succeeded");
    }

    const again = await fanOutSchedule(deps, quiet, 2);
    await app().host.runUntilIdle();
    assert.equal(again.disks, 5);
    for (const diskKey of diskKeys) assert.equal((await deps.records.listRuns(diskKey, 10)).length, 1, "not due again: nothing started");
    await disksTable(stack).deleteEntity("badrow-fleet", "config");
  });

  it("when one message names more due disks than DISKDELTA_MAX_RUNS_PER_TICK, then it starts that many, the rest wait, and a duplicate of the message starts none of them again", async () => {
    const { stack, deps } = app();
    const fresh: string[] = [];
    for (let i = 0; i < 3; i++) {
      const diskId = await app().createDisk(`disk-limit-${i}`, GiB);
      stack.disks.writeSeeded(diskId, 0, MiB, 800 + i);
      fresh.push(await app().protect(diskId, { schedule: "every 1d" }));
    }
    const limited = { ...deps, settings: { ...deps.settings, DISKDELTA_MAX_RUNS_PER_TICK: 2 } };
    const message = { v: 1, kind: "schedule-page", tickAt: new Date().toISOString(), diskKeys: fresh } as const;
    const report = await schedulePage(limited, message, quiet);
    assert.equal(report.started.length, 2);
    assert.deepEqual(report.skipped.map((s) => s.reason), ["run limit for this tick reached; next tick"]);
    await app().host.runUntilIdle();
    const duplicate = await schedulePage(limited, message, quiet);
    assert.deepEqual(duplicate.started, report.skipped.map((s) => s.diskKey), "the duplicate starts only the disk the limit deferred");
    await app().host.runUntilIdle();
    for (const diskKey of fresh) assert.equal((await deps.records.listRuns(diskKey, 10)).length, 1, `one run for ${diskKey}`);
  });

  it("when a VM's disks lie on different pages, then the tick sends its set whole in one message and the set starts together", async () => {
    const { stack, deps } = app();
    const disk = async (name: string, properties: Record<string, unknown> = {}) =>
      (await app().compute.disks.createOrUpdate(resourceGroup, name, { location: stack.arm.location, diskSizeGB: 1, creationData: { createOption: "Empty" }, ...properties } as never, { updateIntervalInMs: 10 })).id!;
    const osId = await disk("vm-fleet-os", { osType: "Linux", hyperVGeneration: "V2" });
    const dataIds = [await disk("vm-fleet-data0"), await disk("vm-fleet-data1")];
    const vm = await stack.createVirtualMachine({ resourceGroup, name: "vm-fleet", osDiskId: osId, dataDisks: dataIds.map((diskId, lun) => ({ lun, diskId })) });
    const protectedVm = await app().host.invokeHttp("POST", "/api/vms", { vmId: vm.id, schedule: "every 1d", target: { blobEndpoint: stack.target.blobEndpoint, container: "backups", storageAccountId: stack.target.resourceId } });
    assert.equal(protectedVm.status, 201, JSON.stringify(protectedVm.body));
    const setKeys = [osId, ...dataIds].map(diskKeyOf).sort();
    const queue = new QueueClient(stack.appStorage.connectionString, queueNames.schedulePages);
    await queue.clearMessages();

    // Pages of 2 rows: the set's 3 disks cannot share one page.
    await fanOutSchedule(deps, quiet, 2);
    const peeked = await queue.peekMessages({ numberOfMessages: 32 });
    const units = peeked.peekedMessageItems.map((m) => (JSON.parse(Buffer.from(m.messageText, "base64").toString("utf8")) as { diskKeys: string[] }).diskKeys);
    const holding = units.filter((keys) => keys.some((key) => setKeys.includes(key)));
    assert.equal(holding.length, 1, "one message holds the VM's disks");
    assert.deepEqual(holding[0].filter((key) => setKeys.includes(key)).sort(), setKeys, "the whole set");

    await app().host.runUntilIdle();
    const runs = await Promise.all(setKeys.map(async (diskKey) => (await deps.records.listRuns(diskKey, 10))));
    assert.ok(runs.every((r) => r.length === 1 && r[0].state === "succeeded"), JSON.stringify(runs.map((r) => r.map((run) => run.state))));
    assert.equal(new Set(runs.map((r) => r[0].groupTime)).size, 1, "one groupTime for the set");
  });
});
