/**
 * The disk control routes over HTTP through DiskControlClient (what a VM, in another process, does to a disk),
 * and disk Import from a blob through the ARM API.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { EmulatorHttpError, type ImportSource } from "../../emulator/disks";
import { DiskControlClient, type DiskOpInput } from "../../emulator/disks/control-client";
import { seededBytes } from "../../emulator/disks/seeded";
import { buildFixedVhdFooter } from "../../emulator/disks/vhd";
import {
  createEmptyDisk,
  fastPolling,
  gib,
  location,
  resourceGroup,
  startDiskEmulatorServer,
  takeSnapshot,
  type DiskEmulatorServer,
} from "../support/disk-emulator-server";

const mib = 2 ** 20;

/** An in-memory page blob holding `data` followed by `footer`, listed as the pages in `written`. */
function memoryBlob(data: Buffer, footer: Buffer, written: { start: number; end: number }[]): ImportSource {
  const content = Buffer.concat([data, footer]);
  return {
    sizeBytes: content.length,
    read: async (offset, length) => content.subarray(offset, offset + length),
    pageRanges: async () => [...written, { start: data.length, end: content.length - 1 }],
  };
}

describe("disk emulator control routes and import", () => {
  let server: DiskEmulatorServer;
  const blobs = new Map<string, ImportSource>();

  before(async () => {
    server = await startDiskEmulatorServer({
      importReader: async (uri) => {
        const blob = blobs.get(uri);
        if (!blob) throw new EmulatorHttpError(404, "BlobNotFound", "The specified blob does not exist.");
        return blob;
      },
    });
  });
  after(() => server.close());

  it("when 200,000 scattered writes and trims arrive in one call, then they all land at their offsets", async () => {
    const id = await createEmptyDisk(server.compute, "disk-batch", 4 * 1024);
    const client = new DiskControlClient(server.baseUrl);
    const ops: DiskOpInput[] = [];
    for (let i = 0; i < 200_000; i++) {
      const offset = i * 20 * mib + (i % 7) * 4096;
      ops.push(i % 5 === 4 ? { op: "trim", offset, length: 1024 } : { op: "write-seeded", offset, length: 4096, seed: i });
    }
    await client.applyOps(id, ops);
    const last = 199_998;
    const at = last * 20 * mib + (last % 7) * 4096;
    assert.ok((await client.read(id, at, 4096)).equals(seededBytes(at, 4096, last)));
    const trimmed = 199_999 * 20 * mib + (199_999 % 7) * 4096;
    assert.ok((await client.read(id, trimmed, 1024)).equals(Buffer.alloc(1024)));
  });

  it("when raw bytes are written over HTTP, then they read back, and unaligned writes are refused", async () => {
    const id = await createEmptyDisk(server.compute, "disk-raw-write", 1);
    const client = new DiskControlClient(server.baseUrl);
    const data = Buffer.alloc(8192, 0xab);
    await client.write(id, 512 * 1024, data);
    assert.ok((await client.read(id, 512 * 1024, 8192)).equals(data));
    await assert.rejects(client.write(id, 100, Buffer.alloc(512)), (e: EmulatorHttpError) => e.status === 400);
    await assert.rejects(client.trim(id, gib, 512), (e: EmulatorHttpError) => e.status === 400);
    await assert.rejects(client.trim(`${id}-missing`, 0, 512), (e: EmulatorHttpError) => e.status === 404);
  });

  it("when a snapshot's completion is set, then ARM reports it until set again, and bad values are refused", async () => {
    const id = await createEmptyDisk(server.compute, "disk-hydrating", 1);
    const snapshot = await takeSnapshot(server.compute, "snap-hydrating", id);
    assert.equal(snapshot.completionPercent, 100, "a new snapshot is complete");
    const client = new DiskControlClient(server.baseUrl);
    await client.setSnapshotCompletion(snapshot.id as string, 40);
    assert.equal((await server.compute.snapshots.get(resourceGroup, "snap-hydrating")).completionPercent, 40);
    await client.setSnapshotCompletion(snapshot.id as string, 100);
    assert.equal((await server.compute.snapshots.get(resourceGroup, "snap-hydrating")).completionPercent, 100);
    await assert.rejects(client.setSnapshotCompletion(snapshot.id as string, 101), (e: EmulatorHttpError) => e.status === 400);
    await assert.rejects(client.setSnapshotCompletion(`${snapshot.id as string}-missing`, 50), (e: EmulatorHttpError) => e.status === 404);
  });

  it("when a disk is imported from a fixed VHD blob, then it has the blob's size and written pages", async () => {
    const size = 4 * mib;
    const data = Buffer.alloc(size);
    seededBytes(mib, mib, 31).copy(data, mib);
    const uri = "https://127.0.0.1:1/restore/disk.vhd?snapshot=2025-01-01T00:00:00.0000000Z";
    blobs.set(uri, memoryBlob(data, buildFixedVhdFooter(size, "0b7f4a4e-8f0c-4d2e-9a51-2f1e8b9c0d11", new Date()), [
      { start: mib, end: 2 * mib - 1 },
    ]));
    const disk = await server.compute.disks.createOrUpdate(
      resourceGroup,
      "disk-imported",
      { location, creationData: { createOption: "Import", sourceUri: uri, storageAccountId: "/subscriptions/x/resourceGroups/y/providers/Microsoft.Storage/storageAccounts/z" } },
      fastPolling,
    );
    assert.equal(disk.diskSizeBytes, size);
    assert.equal(disk.creationData?.createOption, "Import");
    assert.equal(disk.creationData?.sourceUri, uri);
    assert.ok(server.emulator.control.read(disk.id as string, 0, size).equals(data));
  });

  it("when the import source is not a fixed VHD, then the create is refused with 400 InvalidVhd", async () => {
    const uri = "https://127.0.0.1:1/restore/not-a-vhd";
    blobs.set(uri, memoryBlob(Buffer.alloc(mib), Buffer.alloc(512, 1), []));
    const failure = await server.compute.disks
      .createOrUpdate(
        resourceGroup,
        "disk-bad-import",
        { location, creationData: { createOption: "Import", sourceUri: uri, storageAccountId: "/subscriptions/x" } },
        fastPolling,
      )
      .then(
        () => assert.fail("import of a non-VHD succeeded"),
        (error: { statusCode?: number; code?: string }) => error,
      );
    assert.deepEqual([failure.statusCode, failure.code], [400, "InvalidVhd"]);
    await assert.rejects(server.compute.disks.get(resourceGroup, "disk-bad-import"), (e: { statusCode?: number }) => e.statusCode === 404);
  });
});
