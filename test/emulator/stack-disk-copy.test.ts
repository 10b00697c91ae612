/**
 * The stack end to end, as a backup uses it: a snapshot's accessSAS as the Put Page From URL source, and a
 * target blob snapshot as the source of a disk Import (restore).
 */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { RestError, type PageBlobClient } from "@azure/storage-blob";
import { createEmptyDisk, fastPolling, grantRead, resourceGroup, takeSnapshot } from "../support/disk-emulator-server";
import { computeClient, targetBlobService, useTestStack } from "../support/stack";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const diskBytes = 4 * GiB;
/** The disk's changed pages in this test: one literal page range at the start, seeded bytes at 3 GiB. */
const changed = [
  { offset: 0, length: MiB },
  { offset: 3 * GiB, length: 4 * MiB },
];

describe("disk snapshots copied through the local stack", () => {
  const stack = useTestStack();
  let diskId: string;
  let accessSas: string;
  let target: PageBlobClient;

  before(async () => {
    const compute = computeClient(stack());
    diskId = await createEmptyDisk(compute, "source-disk", diskBytes / GiB);
    stack().disks.write(diskId, 0, Buffer.alloc(MiB, 0xab));
    stack().disks.writeSeeded(diskId, 3 * GiB, 4 * MiB, 17);
    await takeSnapshot(compute, "source-snap-1", diskId);
    accessSas = await grantRead(compute, "source-snap-1");
    const container = targetBlobService(stack()).getContainerClient("disk-copies");
    await container.create();
    target = container.getPageBlobClient("source-disk.vhd");
    await target.create(diskBytes + 512);
  });

  test("when changed pages and the VHD footer are copied from the accessSAS, then the target holds the disk's bytes at the same offsets", async () => {
    for (const { offset, length } of changed) await target.uploadPagesFromURL(accessSas, offset, offset, length);
    await target.uploadPagesFromURL(accessSas, diskBytes, diskBytes, 512);

    for (const { offset, length } of changed) {
      assert.ok((await target.downloadToBuffer(offset, length)).equals(stack().disks.read(diskId, offset, length)));
    }
    assert.deepEqual(await target.downloadToBuffer(GiB, MiB), Buffer.alloc(MiB));
    assert.match((await target.downloadToBuffer(diskBytes, 512)).subarray(0, 8).toString("latin1"), /^conectix$/);
  });

  test("when a disk is imported from a snapshot of the target blob, then it reads as the source disk", async () => {
    const { snapshot } = await target.createSnapshot();
    const sourceUri = `${target.url}?snapshot=${encodeURIComponent(snapshot ?? "")}`;
    const restored = await computeClient(stack()).disks.createOrUpdate(
      resourceGroup,
      "restored-disk",
      { location: stack().target.location, creationData: { createOption: "Import", sourceUri, storageAccountId: stack().target.resourceId } },
      fastPolling,
    );
    assert.equal(restored.diskSizeBytes, diskBytes);
    for (const { offset, length } of changed) {
      assert.ok(stack().disks.read(restored.id!, offset, length).equals(stack().disks.read(diskId, offset, length)));
    }
  });

  test("when the accessSAS has been revoked, then Put Page From URL fails with CannotVerifyCopySource", async () => {
    await computeClient(stack()).snapshots.revokeAccess(resourceGroup, "source-snap-1", fastPolling);
    await assert.rejects(target.uploadPagesFromURL(accessSas, 0, 0, 512), (error: unknown) => {
      assert.ok(error instanceof RestError);
      assert.equal(error.statusCode, 403);
      assert.equal(error.code, "CannotVerifyCopySource");
      return true;
    });
  });
});
