/**
 * The target account's catalog read from the target storage account of the local stack: manifests written by hand
 * beside page blobs with real blob snapshots, then listed — valid ones, broken ones, one whose snapshot is gone.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { StorageSharedKeyCredential, type ContainerClient } from "@azure/storage-blob";
import { PermanentError } from "../../src/domain/errors";
import { type RestorePointManifest, manifestBlobName, manifestVersion } from "../../src/domain/manifest";
import { diskKeyOf } from "../../src/domain/model";
import { type TargetCatalog, createTargetCatalog } from "../../src/adapters/target-catalog";
import { snapshotStampMetadata } from "../../src/adapters/target-blob";
import { quickRetries, targetBlobService, useTestStack } from "../support/stack";

const diskId = "/subscriptions/s1/resourceGroups/rg-app/providers/Microsoft.Compute/disks/data-01";
const blobBytes = 64 * 1024 + 512;

/** A manifest as the finalizer writes it, for a blob snapshot of `blobName` in `container`. */
function manifestOf(blobEndpoint: string, container: string, blobName: string, restorePointId: string, snapshot: string, time: string): RestorePointManifest {
  return {
    manifestVersion,
    restorePointId,
    diskKey: diskKeyOf(diskId),
    runId: `run-${restorePointId}`,
    diskId,
    diskUniqueId: "uid-1",
    sourceSnapshotId: `/subscriptions/s1/resourceGroups/rg-app/providers/Microsoft.Compute/snapshots/${restorePointId}`,
    sourceSnapshotTime: time,
    createdAt: time,
    target: { blobEndpoint, container, blobName, snapshot, storageAccountId: "/subscriptions/s1/resourceGroups/rg-dr/providers/Microsoft.Storage/storageAccounts/dr" },
    blobBytes,
    fullCopy: true,
    bytesChanged: 4096,
    bytesCopied: 4096,
    requests: 1,
    durationMs: 10,
    disk: { location: "westeurope", sizeBytes: blobBytes - 512, sku: "Premium_LRS", osType: "Linux", hyperVGeneration: "V2", securityType: "TrustedLaunch", tags: {} },
  };
}

async function putJson(container: ContainerClient, name: string, body: string): Promise<void> {
  await container.getBlockBlobClient(name).upload(body, Buffer.byteLength(body));
}

describe("target catalog", () => {
  const stack = useTestStack();
  let catalog: TargetCatalog;
  let endpoint: string;
  const snapshots: Record<string, string> = {};

  before(async () => {
    endpoint = stack().target.blobEndpoint;
    catalog = createTargetCatalog(new StorageSharedKeyCredential(stack().target.accountName, stack().target.accountKey), quickRetries);
    const service = targetBlobService(stack());
    const backups = service.getContainerClient("backups");
    const other = service.getContainerClient("other");
    await backups.create();
    await other.create();
    const blob = backups.getPageBlobClient("data-01.vhd");
    await blob.create(blobBytes);
    await blob.uploadPages(Buffer.alloc(4096, 7), 0, 4096);
    // Stamped as the finalizer stamps them: which run of which disk made each.
    const stamped = (id: string) => ({ metadata: snapshotStampMetadata({ runId: `run-${id}`, diskKey: diskKeyOf(diskId) }) });
    for (const id of ["rp-old", "rp-new", "rp-gone"]) snapshots[id] = (await blob.createSnapshot(stamped(id))).snapshot!;
    const otherBlob = other.getPageBlobClient("data-02.vhd");
    await otherBlob.create(blobBytes);
    snapshots["rp-other"] = (await otherBlob.createSnapshot(stamped("rp-other"))).snapshot!;

    const write = (container: ContainerClient, blobName: string, id: string, time: string, change: (m: RestorePointManifest) => object = (m) => m) =>
      putJson(container, manifestBlobName(blobName, id), JSON.stringify(change(manifestOf(endpoint, container.containerName, blobName, id, snapshots[id], time))));
    await write(backups, "data-01.vhd", "rp-old", "2026-01-01T00:00:00.000Z");
    await write(backups, "data-01.vhd", "rp-new", "2026-01-02T00:00:00.000Z");
    await write(backups, "data-01.vhd", "rp-gone", "2026-01-03T00:00:00.000Z");
    await blob.withSnapshot(snapshots["rp-gone"]).delete();
    await write(other, "data-02.vhd", "rp-other", "2026-01-04T00:00:00.000Z");
    await putJson(backups, manifestBlobName("data-01.vhd", "rp-broken"), "{ not json");
    await putJson(backups, manifestBlobName("data-01.vhd", "rp-partial"), JSON.stringify({ manifestVersion, restorePointId: "rp-partial" }));
    // A valid manifest copied to the wrong name: it describes rp-new, not what its name says.
    await putJson(backups, manifestBlobName("data-01.vhd", "rp-copied"), JSON.stringify(manifestOf(endpoint, "backups", "data-01.vhd", "rp-new", snapshots["rp-new"], "2026-01-02T00:00:00.000Z")));
  });

  it("when manifests are valid, broken or point at a deleted snapshot, then each is listed, reported or marked without data", async () => {
    const listing = await catalog.list({ blobEndpoint: endpoint });
    assert.deepEqual(
      listing.restorePoints.map((p) => [p.restorePointId, p.dataPresent]),
      [["rp-other", true], ["rp-gone", false], ["rp-new", true], ["rp-old", true]],
      "every container, newest first; rp-gone's blob snapshot was deleted",
    );
    const newest = listing.restorePoints.find((p) => p.restorePointId === "rp-new")!;
    const { dataPresent: _present, ...manifest } = newest;
    assert.deepEqual(manifest, manifestOf(endpoint, "backups", "data-01.vhd", "rp-new", snapshots["rp-new"], "2026-01-02T00:00:00.000Z"));
    assert.deepEqual(listing.problems.map((p) => p.blob), [
      "backups/data-01.vhd.manifests/rp-broken.json",
      "backups/data-01.vhd.manifests/rp-copied.json",
      "backups/data-01.vhd.manifests/rp-partial.json",
    ]);
    assert.match(listing.problems[0].problem, /^not JSON/);
    assert.match(listing.problems[1].problem, /restorePointId is rp-new, its blob name says rp-copied/);
    assert.match(listing.problems[2].problem, /^not a RestorePoint manifest: .*diskKey/);
  });

  it("when a container or a RestorePoint id is given, then only those manifests are read", async () => {
    const other = await catalog.list({ blobEndpoint: `${endpoint}/`, container: "other" });
    assert.deepEqual(other.restorePoints.map((p) => p.restorePointId), ["rp-other"]);
    assert.deepEqual(other.problems, []);
    const one = await catalog.list({ blobEndpoint: endpoint, restorePointId: "rp-old" });
    assert.deepEqual(one.restorePoints.map((p) => [p.restorePointId, p.dataPresent]), [["rp-old", true]]);
    assert.deepEqual(one.problems, []);
  });

  it("when the account or the container does not exist, then a PermanentError names it", async () => {
    const unknown = new URL(endpoint);
    unknown.pathname = "/nosuchaccount";
    await assert.rejects(catalog.list({ blobEndpoint: unknown.toString() }), (error: unknown) => {
      assert.ok(error instanceof PermanentError, String(error));
      assert.equal(error.code, "TargetAccountUnreachable");
      assert.match(error.message, /nosuchaccount cannot be listed/);
      return true;
    });
    await assert.rejects(catalog.list({ blobEndpoint: endpoint, container: "missing" }), (error: unknown) => {
      assert.ok(error instanceof PermanentError && error.code === "ContainerNotFound", String(error));
      assert.match(error.message, /container missing of .* does not exist/);
      return true;
    });
  });
});
