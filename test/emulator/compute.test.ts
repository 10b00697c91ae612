/**
 * Contract tests of the emulator's ARM compute API through the real `@azure/arm-compute` client: resources,
 * long-running operations, paging, errors and the limits the service enforces.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { ComputeManagementClient } from "@azure/arm-compute";
import {
  armFailure,
  createEmptyDisk,
  fastPolling,
  gib,
  grantRead,
  location,
  resourceGroup,
  startDiskEmulatorServer,
  subscriptionId,
  takeSnapshot,
  type DiskEmulatorServer,
} from "../support/disk-emulator-server";

async function listAll<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

describe("disk emulator ARM compute API", () => {
  let server: DiskEmulatorServer;
  let compute: ComputeManagementClient;

  before(async () => {
    server = await startDiskEmulatorServer({ pageSize: 2 });
    compute = server.compute;
  });
  after(() => server.close());

  it("when an empty disk is created, then get returns its size, uniqueId and Succeeded state", async () => {
    const id = await createEmptyDisk(compute, "disk-empty", 8);
    const disk = await compute.disks.get(resourceGroup, "disk-empty");
    assert.equal(disk.id, id);
    assert.equal(disk.diskSizeGB, 8);
    assert.equal(disk.diskSizeBytes, 8 * gib);
    assert.equal(disk.provisioningState, "Succeeded");
    assert.equal(disk.diskState, "Unattached");
    assert.match(disk.uniqueId ?? "", /^[0-9a-f-]{36}$/);
    assert.equal(disk.creationData?.createOption, "Empty");
  });

  it("when the resource group is written in another case, then the same disk is found", async () => {
    await createEmptyDisk(compute, "disk-case", 1);
    const disk = await compute.disks.get(resourceGroup.toUpperCase(), "disk-case");
    assert.equal(disk.name, "disk-case");
  });

  it("when a disk is snapshotted incrementally, then the snapshot names its source and family", async () => {
    const id = await createEmptyDisk(compute, "disk-snap", 4);
    const disk = await compute.disks.get(resourceGroup, "disk-snap");
    const snapshot = await takeSnapshot(compute, "snap-a", id);
    assert.equal(snapshot.incremental, true);
    assert.equal(snapshot.creationData?.createOption, "Copy");
    assert.equal(snapshot.creationData?.sourceResourceId, id);
    assert.equal(snapshot.creationData?.sourceUniqueId, disk.uniqueId);
    assert.equal(snapshot.diskSizeBytes, 4 * gib);
    assert.equal(snapshot.completionPercent, 100);
    assert.equal(snapshot.provisioningState, "Succeeded");
    assert.match(snapshot.incrementalSnapshotFamilyId ?? "", /^[0-9a-f-]{36}$/);
    const again = await takeSnapshot(compute, "snap-b", id);
    assert.equal(again.incrementalSnapshotFamilyId, snapshot.incrementalSnapshotFamilyId);
    assert.ok((again.timeCreated as Date) > (snapshot.timeCreated as Date), "timeCreated strictly increases");
  });

  it("when a disk is deleted and recreated under the same name, then it has a new uniqueId and snapshot family", async () => {
    const firstId = await createEmptyDisk(compute, "disk-recreate", 1);
    const first = await compute.disks.get(resourceGroup, "disk-recreate");
    const before = await takeSnapshot(compute, "snap-recreate-1", firstId);
    await compute.disks.delete(resourceGroup, "disk-recreate", fastPolling);
    const secondId = await createEmptyDisk(compute, "disk-recreate", 1);
    const second = await compute.disks.get(resourceGroup, "disk-recreate");
    const afterwards = await takeSnapshot(compute, "snap-recreate-2", secondId);
    assert.equal(secondId, firstId);
    assert.notEqual(second.uniqueId, first.uniqueId);
    assert.notEqual(afterwards.incrementalSnapshotFamilyId, before.incrementalSnapshotFamilyId);
    assert.equal(afterwards.creationData?.sourceUniqueId, second.uniqueId);
    assert.equal(before.creationData?.sourceUniqueId, first.uniqueId);
  });

  it("when snapshots outnumber the page size, then listByResourceGroup follows nextLink to all of them", async () => {
    const id = await createEmptyDisk(compute, "disk-list", 1);
    for (const n of [1, 2, 3, 4, 5]) await takeSnapshot(compute, `snap-list-${n}`, id);
    const names = (await listAll(compute.snapshots.listByResourceGroup(resourceGroup))).map((s) => s.name);
    for (const n of [1, 2, 3, 4, 5]) assert.ok(names.includes(`snap-list-${n}`), `snap-list-${n} listed`);
    assert.equal(new Set(names).size, names.length, "no snapshot listed twice");

    const raw = await fetch(
      `${server.baseUrl}/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.Compute/snapshots?api-version=2025-01-02`,
      { headers: { Authorization: "Bearer local" } },
    );
    const firstPage = (await raw.json()) as { value: unknown[]; nextLink?: string };
    assert.equal(firstPage.value.length, 2);
    assert.match(firstPage.nextLink ?? "", /^https:\/\/127\.0\.0\.1:\d+\/subscriptions\/.*\$skiptoken=2/);
  });

  it("when a long-running operation is started, then it answers 202 with Azure-AsyncOperation, a monitor Location and Retry-After", async () => {
    const url = `${server.baseUrl}/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.Compute/disks/disk-raw?api-version=2025-01-02`;
    const res = await fetch(url, {
      method: "PUT",
      headers: { Authorization: "Bearer local", "Content-Type": "application/json" },
      body: JSON.stringify({ location, properties: { creationData: { createOption: "Empty" }, diskSizeGB: 2 } }),
    });
    assert.equal(res.status, 202);
    const operation = res.headers.get("azure-asyncoperation") ?? "";
    assert.match(operation, /\/providers\/Microsoft\.Compute\/locations\/eastus\/DiskOperations\/[0-9a-f-]+\?p=.*&api-version=2025-01-02$/);
    assert.match(res.headers.get("location") ?? "", /&monitor=true&api-version=2025-01-02$/);
    assert.equal(res.headers.get("retry-after"), "0");
    assert.match(res.headers.get("x-ms-ratelimit-remaining-resource") ?? "", /^Microsoft\.Compute\/CreateUpdateDisks3Min;\d+,/);
    const accepted = (await res.json()) as { properties: { provisioningState: string } };
    assert.equal(accepted.properties.provisioningState, "Updating");
    const status = (await (await fetch(operation, { headers: { Authorization: "Bearer local" } })).json()) as {
      status: string;
      properties?: { output?: { properties?: { diskSizeBytes?: number } } };
    };
    assert.equal(status.status, "Succeeded");
    assert.equal(status.properties?.output?.properties?.diskSizeBytes, 2 * gib);
  });

  it("when an operation takes a while, then the SDK poller sees InProgress and then Succeeded", async () => {
    const slow = await startDiskEmulatorServer({ lroDelayMs: 300 });
    try {
      const poller = slow.compute.disks.createOrUpdate(
        resourceGroup,
        "disk-slow",
        { location, creationData: { createOption: "Empty" }, diskSizeGB: 1 },
        { updateIntervalInMs: 25 },
      );
      const states: string[] = [];
      poller.onProgress((state) => states.push(state.status));
      const disk = await poller.pollUntilDone();
      assert.equal(disk.provisioningState, "Succeeded");
      assert.ok(states.includes("running"), `states seen: ${states.join(",")}`);
      assert.equal(states[states.length - 1], "succeeded");
    } finally {
      await slow.close();
    }
  });

  it("when a disk is resized, then it can grow but not shrink", async () => {
    await createEmptyDisk(compute, "disk-resize", 2);
    const grown = await compute.disks.update(resourceGroup, "disk-resize", { diskSizeGB: 3 }, fastPolling);
    assert.equal(grown.diskSizeBytes, 3 * gib);
    const shrink = await armFailure(() => compute.disks.update(resourceGroup, "disk-resize", { diskSizeGB: 1 }, fastPolling));
    assert.equal(shrink.status, 400);
    assert.equal(shrink.code, "InvalidParameter");
  });

  it("when a resource does not exist, then the answer is 404 ResourceNotFound", async () => {
    const disk = await armFailure(() => compute.disks.get(resourceGroup, "no-such-disk"));
    assert.deepEqual([disk.status, disk.code], [404, "ResourceNotFound"]);
    const grant = await armFailure(() => grantRead(compute, "no-such-snapshot"));
    assert.deepEqual([grant.status, grant.code], [404, "ResourceNotFound"]);
  });

  it("when a request is invalid, then the answer is 400 naming the property", async () => {
    const missingSize = await armFailure(() =>
      compute.disks.createOrUpdate(resourceGroup, "disk-nosize", { location, creationData: { createOption: "Empty" } }, fastPolling),
    );
    assert.deepEqual([missingSize.status, missingSize.code], [400, "InvalidParameter"]);
    assert.match(missingSize.message, /diskSizeGB/);
    const noLocation = await armFailure(() =>
      compute.disks.createOrUpdate(resourceGroup, "disk-noloc", { location: "", creationData: { createOption: "Empty" }, diskSizeGB: 1 }, fastPolling),
    );
    assert.equal(noLocation.status, 400);
  });

  it("when no bearer token is sent, then the answer is 401", async () => {
    const res = await fetch(
      `${server.baseUrl}/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.Compute/disks?api-version=2025-01-02`,
    );
    assert.equal(res.status, 401);
    const body = (await res.json()) as { error: { code: string } };
    assert.equal(body.error.code, "AuthenticationFailed");
  });

  it("when access is granted, then the snapshot is ActiveSAS and cannot be deleted until access is revoked", async () => {
    const id = await createEmptyDisk(compute, "disk-sas", 1);
    await takeSnapshot(compute, "snap-sas", id);
    const sas = await grantRead(compute, "snap-sas");
    assert.match(sas, /^https:\/\/127\.0\.0\.1:\d+\/md-[a-z0-9]+\/[a-z0-9]+\/abcd\?sv=.*&sr=b&.*sig=.*&se=.*&sp=r$/);
    assert.equal((await compute.snapshots.get(resourceGroup, "snap-sas")).diskState, "ActiveSAS");
    const refused = await armFailure(() => compute.snapshots.delete(resourceGroup, "snap-sas", fastPolling));
    assert.deepEqual([refused.status, refused.code], [409, "OperationNotAllowed"]);
    await compute.snapshots.revokeAccess(resourceGroup, "snap-sas", fastPolling);
    assert.equal((await compute.snapshots.get(resourceGroup, "snap-sas")).diskState, "Unattached");
    await compute.snapshots.delete(resourceGroup, "snap-sas", fastPolling);
    const gone = await armFailure(() => compute.snapshots.get(resourceGroup, "snap-sas"));
    assert.equal(gone.status, 404);
  });

  it("when five snapshots of a family have access, then a sixth grant is refused but a repeated grant is not", async () => {
    const id = await createEmptyDisk(compute, "disk-five", 1);
    for (const n of [1, 2, 3, 4, 5, 6]) await takeSnapshot(compute, `snap-five-${n}`, id);
    for (const n of [1, 2, 3, 4, 5]) await grantRead(compute, `snap-five-${n}`);
    const again = await grantRead(compute, "snap-five-5");
    assert.match(again, /\/md-/);
    const sixth = await armFailure(() => grantRead(compute, "snap-five-6"));
    assert.deepEqual([sixth.status, sixth.code], [409, "OperationNotAllowed"]);
    await compute.snapshots.revokeAccess(resourceGroup, "snap-five-1", fastPolling);
    assert.match(await grantRead(compute, "snap-five-6"), /\/md-/);
    for (const n of [2, 3, 4, 5, 6]) await compute.snapshots.revokeAccess(resourceGroup, `snap-five-${n}`, fastPolling);
  });

  it("when another disk's snapshots have access, then they do not count against this family's five", async () => {
    const other = await createEmptyDisk(compute, "disk-other-family", 1);
    await takeSnapshot(compute, "snap-other-family", other);
    const id = await createEmptyDisk(compute, "disk-own-family", 1);
    for (const n of [1, 2, 3, 4, 5]) {
      await takeSnapshot(compute, `snap-own-${n}`, id);
      await grantRead(compute, `snap-own-${n}`);
    }
    assert.match(await grantRead(compute, "snap-other-family"), /\/md-/);
  });
});
