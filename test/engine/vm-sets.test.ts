/**
 * VM disk sets: `protect-vm` protects every disk a VM holds under one schedule; the set's runs of one scheduled tick
 * share a groupTime, and `restore-vm` restores every disk as of one group and prints the `az vm create` that makes the
 * VM of them. Contents are compared by hash with the RestorePoints of the chosen group (and not the other's).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { ApiError, type Api } from "../../src/cli/api";
import { parseCommandLine } from "../../src/cli/args";
import { runCommand } from "../../src/cli/commands";
import { runDirectCommand } from "../../src/cli/direct";
import type { VmRestoreAnswer } from "../../src/cli/format";
import { locationFromUrl } from "../../src/adapters/target-blob";
import { diskKeyOf, vmKeyOf } from "../../src/domain/model";
import type { RestorePoint } from "../../src/domain/records";
import { scheduleDueBackups } from "../../src/engine/scheduler";
import { sparseDigest } from "../../src/engine/verify";
import { restorePointDigest } from "../../src/engine/verify-restore-point";
import type { DirectVmRestore } from "../../src/engine/vm-restore";
import type { ProtectVmOutcome, VmRestorePoints } from "../../src/engine/vm-sets";
import { MiB, type TestApp, resourceGroup, useTestApp } from "../support/app";
import { guestStateHashOfDisk, sha256 } from "../support/restored";

const poll = { updateIntervalInMs: 10 };
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** The CLI's commands in-process against the local host; waiting works the queues instead of sleeping. */
function cliApi(app: TestApp): Api {
  return {
    pathOf: (url) => new URL(url).pathname.replace(/^\/api/, ""),
    async request<T>(method: string, path: string, body?: unknown): Promise<T> {
      const answer = await app.host.invokeHttp(method, `/api${path}`, body);
      if (answer.status >= 400) {
        const error = (answer.body as { error: { code: string; message: string } }).error;
        throw new ApiError(answer.status, error.code, error.message);
      }
      return answer.body as T;
    },
  };
}

async function cli(app: TestApp, ...argv: string[]) {
  const { command } = parseCommandLine(argv);
  if (command.name === "help" || command.name.startsWith("direct")) throw new Error(`not an API command: ${argv.join(" ")}`);
  const progress: string[] = [];
  const outcome = await runCommand(command as Parameters<typeof runCommand>[0], {
    api: cliApi(app),
    progress: (line) => progress.push(line),
    sleep: () => app.host.runUntilIdle(),
    now: Date.now,
  });
  return { ...outcome, progress };
}

/** The hash of a disk's data (no VHD footer) as a snapshot of it reads. */
async function diskDigest(app: TestApp, diskId: string, sizeBytes: number, checkName: string): Promise<string> {
  const group = diskId.split("/")[4];
  const check = await app.compute.snapshots.createOrUpdate(
    group, checkName, { location: app.stack.target.location, incremental: true, creationData: { createOption: "Copy", sourceResourceId: diskId } }, poll,
  );
  const sas = await app.deps.compute.grantRead(check.id!, 3600);
  return (await sparseDigest({ sizeBytes, allocated: (w) => app.deps.source.allocated(sas, w), read: (r) => app.deps.source.read(sas, r) })).digest;
}

/** The hash of a RestorePoint's data (no VHD footer), from its data alone. */
async function pointDigest(app: TestApp, point: RestorePoint): Promise<string> {
  return (await restorePointDigest(app.deps, point, "disk")).digest;
}

describe("VM disk sets", () => {
  const app = useTestApp();
  const target = () => ({ blobEndpoint: app().stack.target.blobEndpoint, container: "backups", storageAccountId: app().stack.target.resourceId });

  async function createDisk(name: string, properties: Record<string, unknown> = {}): Promise<string> {
    const disk = await app().compute.disks.createOrUpdate(
      resourceGroup, name, { location: app().stack.arm.location, diskSizeGB: 1, creationData: { createOption: "Empty" }, ...properties } as never, poll,
    );
    return disk.id!;
  }

  async function createVm(name: string, osDiskId: string, dataDiskIds: readonly string[], luns = dataDiskIds.map((_, i) => i)): Promise<string> {
    const vm = await app().stack.createVirtualMachine({ resourceGroup, name, osDiskId, dataDisks: dataDiskIds.map((diskId, i) => ({ lun: luns[i], diskId })) });
    return vm.id;
  }

  async function protectVm(vmId: string, extra: Record<string, unknown> = {}): Promise<{ status: number; body: ProtectVmOutcome }> {
    const answer = await app().host.invokeHttp("POST", "/api/vms", { vmId, target: target(), ...extra });
    return answer as { status: number; body: ProtectVmOutcome };
  }

  async function groupsOf(vmId: string): Promise<VmRestorePoints> {
    const answer = await app().host.invokeHttp("GET", `/api/vms/${vmKeyOf(vmId)}/restore-points`);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    return answer.body as VmRestorePoints;
  }

  /** One timer tick at `now` (the schedule's clock), then the queues worked until idle. */
  async function tick(now: Date): Promise<void> {
    await scheduleDueBackups({ ...app().deps, now: () => now }, quiet);
    await app().host.runUntilIdle();
  }

  it("when a 3-disk Trusted Launch VM is protected with protect-vm and backed up on two ticks, then restore-vm at the first group's time restores all 3 disks as of that group and prints the az command", async () => {
    const { stack } = app();
    const osId = await createDisk("vm-a-os", { osType: "Linux", hyperVGeneration: "V2", securityProfile: { securityType: "TrustedLaunch" }, diskSizeGB: 2 });
    const data0 = await createDisk("vm-a-data0");
    const data1 = await createDisk("vm-a-data1");
    const guestState1 = randomBytes(MiB);
    stack.disks.writeGuestState(osId, guestState1);
    for (const [i, id] of [osId, data0, data1].entries()) stack.disks.writeSeeded(id, 0, 2 * MiB, 400 + i);
    const vmId = await createVm("vm-a", osId, [data0, data1], [0, 3]);

    const protectedSet = await cli(app(), "protect-vm", vmId, "--target-endpoint", stack.target.blobEndpoint, "--container", "backups",
      "--storage-account-id", stack.target.resourceId, "--schedule", "every 4h");
    const outcome = protectedSet.data as ProtectVmOutcome;
    assert.deepEqual(
      outcome.disks.map((d) => [d.status, d.disk.diskId, d.disk.schedule, d.disk.vmGroup]),
      [
        ["created", osId, "every 4h", { vmId, role: "os" }],
        ["created", data0, "every 4h", { vmId, role: "data", lun: 0 }],
        ["created", data1, "every 4h", { vmId, role: "data", lun: 3 }],
      ],
    );
    assert.match(protectedSet.text, /snapshotted one after another: each RestorePoint is crash-consistent for its own disk, not across/);

    const firstTick = new Date();
    await tick(firstTick);
    const afterFirst = await groupsOf(vmId);
    assert.deepEqual(afterFirst.groups.map((g) => [g.groupTime, g.complete, g.restorePoints.length]), [[firstTick.toISOString(), true, 3]]);
    const first = afterFirst.groups[0].restorePoints.map((p) => p.restorePoint);
    for (const point of first) assert.ok((await app().verify(point)).equal, `RestorePoint ${point.restorePointId} equals its SourceSnapshot`);
    const manifests = await Promise.all(first.map((p) => app().deps.targets(locationFromUrl(p.targetBlobUrl)).readManifest(p.restorePointId)));
    assert.deepEqual(manifests.map((m) => m?.vmGroup), [
      { vmId, role: "os", groupTime: firstTick.toISOString() },
      { vmId, role: "data", lun: 0, groupTime: firstTick.toISOString() },
      { vmId, role: "data", lun: 3, groupTime: firstTick.toISOString() },
    ]);

    // Writes between the ticks, to every disk and to the OS disk's guest state.
    stack.disks.writeGuestState(osId, randomBytes(MiB));
    for (const [i, id] of [osId, data0, data1].entries()) stack.disks.writeSeeded(id, MiB, 2 * MiB, 500 + i);
    const secondTick = new Date(firstTick.getTime() + 5 * 3600_000);
    await tick(secondTick);
    const groups = (await groupsOf(vmId)).groups;
    assert.deepEqual(groups.map((g) => [g.groupTime, g.complete]), [[secondTick.toISOString(), true], [firstTick.toISOString(), true]]);
    const second = groups[0].restorePoints.map((p) => p.restorePoint);

    const listed = await cli(app(), "vm-restore-points", vmId);
    assert.match(listed.text, /GROUP TIME\s+COMPLETE\s+vm-a-os \[os\]\s+vm-a-data0 \[data \(lun 0\)\]\s+vm-a-data1 \[data \(lun 3\)\]/);

    const restored = await cli(app(), "restore-vm", vmId, "--at", new Date(secondTick.getTime() - 1).toISOString(), "--resource-group", "rg-restore",
      "--location", stack.target.location, "--name-prefix", "dr-", "--interval", "0.01");
    assert.equal(restored.exitCode, 0, restored.text);
    const answer = restored.data as VmRestoreAnswer;
    assert.equal(answer.groupTime, firstTick.toISOString());
    assert.deepEqual(answer.restores.map((r) => [r.role, r.restore.state, r.restore.restorePointId]), [
      ["os", "succeeded", first[0].restorePointId],
      ["data", "succeeded", first[1].restorePointId],
      ["data", "succeeded", first[2].restorePointId],
    ]);
    assert.ok(restored.progress.some((line) => /vm-a-os \[os\]: restore \S+: (creating|succeeded)/.test(line)), restored.progress.join("\n"));
    for (const [i, r] of answer.restores.entries()) {
      const digest = await diskDigest(app(), r.restore.newDiskId, first[i].blobBytes - 512, `check-vm-a-${i}`);
      assert.equal(digest, await pointDigest(app(), first[i]), `${r.restore.newDiskId} holds the first group's data`);
      assert.notEqual(digest, await pointDigest(app(), second[i]), `${r.restore.newDiskId} does not hold the second group's data`);
    }
    const osDisk = await app().compute.disks.get("rg-restore", "dr-vm-a-os");
    assert.deepEqual([osDisk.osType, osDisk.securityProfile?.securityType, osDisk.creationData?.createOption], ["Linux", "TrustedLaunch", "ImportSecure"]);
    assert.equal(await guestStateHashOfDisk(app(), osDisk.id!, "check-vm-a-guest-state"), sha256(guestState1), "the OS disk boots with the first group's guest state");

    const [os, d0, d1] = answer.restores.map((r) => r.restore.newDiskId);
    assert.ok(restored.text.includes(
      `az vm create --resource-group rg-restore --name dr-vm-a --location ${stack.target.location} \\\n  --attach-os-disk ${os} \\\n  ` +
        `--attach-data-disks ${d0} ${d1} \\\n  --os-type linux \\\n  --security-type TrustedLaunch --enable-secure-boot true --enable-vtpm true`,
    ), restored.text);
    assert.match(restored.text, /the source VM had them at luns 0, 3/);
  });

  it("when a VM's disks were unprotected, then protect-vm again is refused naming --adopt, and protect-vm --adopt keeps their RestorePoints under the set", async () => {
    const { stack } = app();
    const osId = await createDisk("vm-k-os", { osType: "Linux" });
    stack.disks.writeSeeded(osId, 0, 2 * MiB, 470);
    const vmId = await createVm("vm-k", osId, []);
    assert.equal((await protectVm(vmId)).status, 201);
    await tick(new Date());
    const [point] = (await groupsOf(vmId)).groups[0].restorePoints.map((p) => p.restorePoint);
    assert.ok((await app().verify(point)).equal, "the RestorePoint equals its SourceSnapshot");
    assert.equal((await app().host.invokeHttp("DELETE", `/api/disks/${diskKeyOf(osId)}`)).status, 200);

    const refused = await protectVm(vmId);
    assert.equal(refused.status, 409, JSON.stringify(refused.body));
    assert.match(JSON.stringify(refused.body), /KeptRestorePoints.*CLI --adopt/);
    const adopted = await cli(app(), "protect-vm", vmId, "--target-endpoint", stack.target.blobEndpoint, "--container", "backups",
      "--storage-account-id", stack.target.resourceId, "--adopt");
    assert.deepEqual((adopted.data as ProtectVmOutcome).disks.map((d) => [d.status, d.disk.target.blobName]), [["created", locationFromUrl(point.targetBlobUrl).blobName]]);
    const kept = (await app().restorePoints(diskKeyOf(osId))).map((p) => p.restorePointId);
    assert.deepEqual(kept, [point.restorePointId], "the adopted RestorePoint is listed under the new protection");
    assert.ok((await app().verify(point)).equal, "and still equals its SourceSnapshot");
  });

  it("when protect-vm runs again after a disk was attached, then protected disks are adopted or left as they are and the new one is added", async () => {
    const osId = await createDisk("vm-b-os", { osType: "Windows" });
    const data0 = await createDisk("vm-b-data0");
    const before = await app().protect(data0, { target: target(), schedule: "every 1d" });
    let vmId = await createVm("vm-b", osId, [data0]);
    const first = await protectVm(vmId, { schedule: "every 2h" });
    assert.equal(first.status, 201, JSON.stringify(first.body));
    assert.deepEqual(first.body.disks.map((d) => [d.status, d.disk.diskKey, d.disk.schedule]), [["created", diskKeyOf(osId), "every 2h"], ["adopted", before, "every 2h"]]);

    const again = await protectVm(vmId, { schedule: "every 2h" });
    assert.equal(again.status, 200, "nothing new: 200");
    assert.deepEqual(again.body.disks.map((d) => d.status), ["unchanged", "unchanged"]);

    const data1 = await createDisk("vm-b-data1");
    await app().stack.deleteVirtualMachine(resourceGroup, "vm-b");
    vmId = await createVm("vm-b", osId, [data0, data1]);
    const grown = await protectVm(vmId);
    assert.equal(grown.status, 201);
    assert.deepEqual(
      grown.body.disks.map((d) => [d.status, d.disk.diskId, d.disk.schedule]),
      [["unchanged", osId, "every 2h"], ["unchanged", data0, "every 2h"], ["created", data1, "every 2h"]],
      "without a schedule, the set keeps its own and the new disk takes it",
    );
    assert.deepEqual((await groupsOf(vmId)).disks.map((d) => d.diskKey), [osId, data0, data1].map(diskKeyOf));
  });

  it("when the only group at or before the time lacks a disk, then restore-vm is refused naming it, and --allow-partial restores the others", async () => {
    const { stack } = app();
    const osId = await createDisk("vm-c-os", { osType: "Linux" });
    const data0 = await createDisk("vm-c-data0");
    stack.disks.writeSeeded(data0, 0, MiB, 601);
    const vmId = await createVm("vm-c", osId, [data0]);
    assert.equal((await protectVm(vmId)).status, 201);
    // One disk synced alone makes a group of its own, without the OS disk; then sync-vm makes a complete one.
    await app().sync(diskKeyOf(data0));
    const synced = await cli(app(), "sync-vm", vmId);
    assert.equal(synced.exitCode, 0, synced.text);
    await app().host.runUntilIdle();
    const groups = (await groupsOf(vmId)).groups;
    assert.deepEqual(groups.map((g) => g.complete), [true, false]);
    const partialTime = groups[1].groupTime;
    const where = ["--resource-group", "rg-restore", "--location", stack.target.location, "--interval", "0.01"];

    await assert.rejects(cli(app(), "restore-vm", vmId, "--at", partialTime, ...where), (error: unknown) => {
      assert.ok(error instanceof ApiError);
      assert.deepEqual([error.status, error.code], [409, "NoCompleteGroup"]);
      assert.match(error.message, /has no RestorePoint of vm-c-os \(OS disk\); restore the disks that have one with --allow-partial/);
      return true;
    });
    const restoresOf = async (diskId: string) => ((await app().host.invokeHttp("GET", `/api/disks/${diskKeyOf(diskId)}/restores`)).body as { restores: unknown[] }).restores;
    assert.deepEqual([await restoresOf(osId), await restoresOf(data0)], [[], []], "nothing restored");

    const partial = await cli(app(), "restore-vm", vmId, "--at", partialTime, "--allow-partial", "--name-prefix", "part-", ...where);
    assert.equal(partial.exitCode, 0, partial.text);
    const answer = partial.data as VmRestoreAnswer;
    assert.deepEqual(answer.restores.map((r) => [r.role, r.restore.state]), [["data", "succeeded"]]);
    assert.deepEqual(answer.notRestored.map((d) => d.diskId), [osId]);
    assert.match(partial.text, /Not restored \(no RestorePoint in this group\): vm-c-os \(rg-app\) \[os\]/);
    assert.match(partial.text, /No OS disk was restored/);

    const latest = await cli(app(), "restore-vm", vmId, "--at", "latest", "--name-prefix", "latest-", ...where);
    assert.equal((latest.data as VmRestoreAnswer).groupTime, groups[0].groupTime);
    assert.equal((latest.data as VmRestoreAnswer).restores.length, 2);
  });

  it("when a VM holds a disk diskdelta cannot restore, then 400 says which and nothing is protected; a VM that does not exist is 404", async () => {
    const osId = await createDisk("vm-d-os", { osType: "Linux" });
    const data4k = await createDisk("vm-d-4k", { creationData: { createOption: "Empty", logicalSectorSize: 4096 }, sku: { name: "PremiumV2_LRS" } });
    const vmId = await createVm("vm-d", osId, [data4k]);
    const refused = await app().host.invokeHttp("POST", "/api/vms", { vmId, target: target() });
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    const error = (refused.body as { error: { code: string; message: string } }).error;
    assert.equal(error.code, "UnsupportedDisk");
    assert.match(error.message, /vm-d-4k cannot be protected: its logical sector size is 4096 bytes.*no disk of the VM was protected/);
    for (const id of [osId, data4k]) assert.equal((await app().host.invokeHttp("GET", `/api/disks/${diskKeyOf(id)}`)).status, 404);

    const missing = await app().host.invokeHttp("POST", "/api/vms", { vmId: vmId.replace("vm-d", "vm-nowhere"), target: target() });
    assert.equal(missing.status, 404);
    assert.match(JSON.stringify(missing.body), /VmNotFound.*virtual machine .*vm-nowhere does not exist/);
  });

  it("when the app is gone, then restore-vm --target-account restores the set as of a group from the manifests alone", async () => {
    const { stack, deps } = app();
    const osId = await createDisk("vm-e-os", { osType: "Windows", hyperVGeneration: "V1" });
    const data0 = await createDisk("vm-e-data0");
    stack.disks.writeSeeded(osId, 0, MiB, 701);
    stack.disks.writeSeeded(data0, 0, MiB, 702);
    const vmId = await createVm("vm-e", osId, [data0]);
    assert.equal((await protectVm(vmId)).status, 201);
    assert.equal((await app().host.invokeHttp("POST", `/api/vms/${vmKeyOf(vmId)}/sync`)).status, 202);
    await app().host.runUntilIdle();
    const [group] = (await groupsOf(vmId)).groups;
    stack.disks.writeSeeded(data0, 0, MiB, 703);

    const { command } = parseCommandLine(["restore-vm", vmId, "--at", "latest", "--target-account", stack.target.blobEndpoint, "--container", "backups",
      "--resource-group", "rg-restore", "--location", stack.target.location, "--name-prefix", "direct-"]);
    assert.equal(command.name, "direct restore-vm");
    const ports = { catalog: deps.catalog, targets: deps.targets, compute: deps.compute, now: deps.now, randomId: deps.randomId };
    const outcome = await runDirectCommand(command as Parameters<typeof runDirectCommand>[0], ports);
    const result = outcome.data as DirectVmRestore;
    assert.equal(result.groupTime, group.groupTime);
    assert.deepEqual(result.restores.map((r) => [r.role, r.result.restorePointId]), group.restorePoints.map((p) => [p.role, p.restorePoint.restorePointId]));
    for (const [i, r] of result.restores.entries()) {
      const point = group.restorePoints[i].restorePoint;
      assert.equal(await diskDigest(app(), r.result.diskId, point.blobBytes - 512, `check-vm-e-${i}`), await pointDigest(app(), point), `${r.result.diskId} holds the group's data`);
    }
    assert.match(outcome.text, new RegExp(`--attach-os-disk ${result.restores[0].result.diskId} \\\\\n  --attach-data-disks ${result.restores[1].result.diskId} \\\\\n  --os-type windows$`, "m"));
  });
});
