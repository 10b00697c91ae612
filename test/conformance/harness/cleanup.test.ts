/**
 * The conformance target's bookkeeping, on the local stack: cleanup removes what a suite tracked, revoking grants
 * first (a snapshot's read grant, an interrupted upload's write grant), and nothing else; a resource the plan does not
 * list cannot be tracked.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { computeClient, localTarget, runTags, targetBlobService, type ConformanceTarget } from "../target";

const MiB = 1024 * 1024;

async function namesOf<T extends { name?: string }>(items: AsyncIterable<T>): Promise<string[]> {
  const names: string[] = [];
  for await (const item of items) names.push(item.name ?? "");
  return names;
}

describe("conformance target cleanup", () => {
  let t: ConformanceTarget<"snapshot-data">;
  let stop = async (): Promise<void> => {};
  before(async () => {
    ({ target: t, stop } = await localTarget("snapshot-data"));
  });
  after(() => stop());

  it("when a test tracks an id or URL the plan does not list, then track refuses it", () => {
    const planned = t.resources.dataDisk.id;
    assert.throws(() => t.track(planned.replace(/-data$/, "-other")), /not in the conformance plan of suite snapshot-data/);
    assert.throws(() => t.track(`${t.target.blobEndpoint}/${t.prefix}-other`), /not in the conformance plan/);
    assert.throws(() => t.track(`${t.resources.container.url}/other.vhd`), /not in the conformance plan/);
    t.track(planned.toUpperCase()); // ARM ids are case-insensitive
  });

  it("when a suite's resources exist (a snapshot still granted), then cleanup deletes them all and leaves a disk it did not track", async () => {
    const compute = computeClient(t);
    const group = t.source.resourceGroup;
    const poll = { updateIntervalInMs: t.pollIntervalMs };
    const stranger = await compute.disks.beginCreateOrUpdateAndWait(
      group, `${t.prefix}-not-planned`, { location: t.source.location, diskSizeGB: 1, creationData: { createOption: "Empty" } }, poll);
    const disk = await t.createDiskWithData(t.resources.dataDisk, 32 * MiB, [{ offset: 0, data: Buffer.alloc(4096, 7) }]);
    const { baseSnapshot, container, copyBlob } = t.resources;
    t.track(baseSnapshot.id);
    await compute.snapshots.beginCreateOrUpdateAndWait(group, baseSnapshot.name, {
      location: t.source.location, tags: runTags(t), incremental: true, creationData: { createOption: "Copy", sourceResourceId: disk.id },
    }, poll);
    await compute.snapshots.beginGrantAccessAndWait(group, baseSnapshot.name, { access: "Read", durationInSeconds: 600 }, poll);
    const blobs = targetBlobService(t).getContainerClient(container.container);
    t.track(container.url);
    await blobs.create();
    t.track(copyBlob.url);
    await blobs.getPageBlobClient(copyBlob.blobName ?? "").create(MiB);

    await t.cleanup();

    assert.deepEqual(await namesOf(compute.disks.listByResourceGroup(group)), [stranger.name]);
    assert.deepEqual(await namesOf(compute.snapshots.listByResourceGroup(group)), []);
    assert.equal(await blobs.exists(), false);
    await t.cleanup(); // nothing left to do: a second cleanup is a no-op
  });

  it("when an upload is interrupted (a Put Page refused), then the disk is left ActiveUpload and cleanup revokes and deletes it", async () => {
    const compute = computeClient(t);
    const { dataDisk } = t.resources;
    const pastTheEnd = { offset: 64 * MiB, data: Buffer.alloc(4096, 7) };
    await assert.rejects(t.createDiskWithData(dataDisk, 32 * MiB, [pastTheEnd]), (error: { statusCode?: number }) => error.statusCode === 416);
    assert.equal((await compute.disks.get(t.source.resourceGroup, dataDisk.name)).diskState, "ActiveUpload");

    await t.cleanup();

    assert.deepEqual(await namesOf(compute.disks.listByResourceGroup(t.source.resourceGroup)), [`${t.prefix}-not-planned`]);
  });
});
