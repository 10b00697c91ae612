/**
 * Conformance: a managed disk's lifecycle through `@azure/arm-compute`, each step a long-running operation.
 * Runs unchanged against the local stack and a real subscription (docs/conformance.md). The tests run in order:
 * each starts from the state the previous one left.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { computeClient, runTags, testTimeoutMs, useConformanceTarget } from "./target";

const gib = 1024 ** 3;

/** The status and ARM error code a call failed with. */
async function failureOf(call: () => Promise<unknown>): Promise<{ status?: number; code?: string }> {
  try {
    await call();
  } catch (error) {
    const e = error as { statusCode?: number; code?: string };
    return { status: e.statusCode, code: e.code };
  }
  assert.fail("the call was expected to fail");
}

describe("conformance: managed disk lifecycle", { timeout: 6 * testTimeoutMs }, () => {
  const target = useConformanceTarget("disk-lifecycle");
  const poll = () => ({ updateIntervalInMs: target().pollIntervalMs });

  it("when an empty 1 GiB disk is created, then the operation succeeds and get reports its size, id and Empty creation", { timeout: testTimeoutMs }, async () => {
    const t = target();
    const { emptyDisk } = t.resources;
    const compute = computeClient(t);
    t.track(emptyDisk.id);
    const created = await compute.disks.beginCreateOrUpdateAndWait(
      t.source.resourceGroup,
      emptyDisk.name,
      { location: t.source.location, sku: { name: "Standard_LRS" }, tags: runTags(t), diskSizeGB: 1, creationData: { createOption: "Empty" } },
      poll(),
    );
    assert.equal(created.provisioningState, "Succeeded");
    const disk = await compute.disks.get(t.source.resourceGroup, emptyDisk.name);
    assert.equal(disk.id?.toLowerCase(), emptyDisk.id.toLowerCase());
    assert.equal(disk.diskSizeGB, 1);
    assert.equal(disk.diskSizeBytes, gib);
    assert.equal(disk.provisioningState, "Succeeded");
    assert.equal(disk.diskState, "Unattached");
    assert.match(disk.uniqueId ?? "", /^[0-9a-f-]{36}$/i);
    assert.equal(disk.creationData?.createOption, "Empty");
    assert.equal(disk.location, t.source.location);
  });

  it("when the disk's size is updated to 2 GiB, then the operation succeeds and get reports the new size with the same uniqueId", { timeout: testTimeoutMs }, async () => {
    const t = target();
    const compute = computeClient(t);
    const before = await compute.disks.get(t.source.resourceGroup, t.resources.emptyDisk.name);
    const updated = await compute.disks.beginUpdateAndWait(t.source.resourceGroup, t.resources.emptyDisk.name, { diskSizeGB: 2 }, poll());
    assert.equal(updated.diskSizeGB, 2);
    const disk = await compute.disks.get(t.source.resourceGroup, t.resources.emptyDisk.name);
    assert.equal(disk.diskSizeGB, 2);
    assert.equal(disk.diskSizeBytes, 2 * gib);
    assert.equal(disk.uniqueId, before.uniqueId);
  });

  it("when the disk is asked to shrink, then ARM refuses with 400 InvalidParameter and the size stays (code assumed)", { timeout: testTimeoutMs }, async () => {
    const t = target();
    const compute = computeClient(t);
    const failure = await failureOf(() =>
      compute.disks.beginUpdateAndWait(t.source.resourceGroup, t.resources.emptyDisk.name, { diskSizeGB: 1 }, poll()));
    assert.deepEqual(failure, { status: 400, code: "InvalidParameter" });
    assert.equal((await compute.disks.get(t.source.resourceGroup, t.resources.emptyDisk.name)).diskSizeGB, 2);
  });

  it("when the disk is PUT again with another creationData, then ARM refuses with 409 PropertyChangeNotAllowed (assumed)", { timeout: testTimeoutMs }, async () => {
    const t = target();
    const compute = computeClient(t);
    const failure = await failureOf(() =>
      compute.disks.beginCreateOrUpdateAndWait(
        t.source.resourceGroup,
        t.resources.emptyDisk.name,
        { location: t.source.location, tags: runTags(t), creationData: { createOption: "Upload", uploadSizeBytes: 32 * 1024 * 1024 + 512 } },
        poll(),
      ));
    assert.deepEqual(failure, { status: 409, code: "PropertyChangeNotAllowed" });
    assert.equal((await compute.disks.get(t.source.resourceGroup, t.resources.emptyDisk.name)).creationData?.createOption, "Empty");
  });

  it("when the disk is deleted, then the operation succeeds and get answers 404 ResourceNotFound", { timeout: testTimeoutMs }, async () => {
    const t = target();
    const compute = computeClient(t);
    await compute.disks.beginDeleteAndWait(t.source.resourceGroup, t.resources.emptyDisk.name, poll());
    const failure = await failureOf(() => compute.disks.get(t.source.resourceGroup, t.resources.emptyDisk.name));
    assert.deepEqual(failure, { status: 404, code: "ResourceNotFound" });
  });
});
