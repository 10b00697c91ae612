/**
 * Blob leases on the target storage, through the blob proxy, as the service enforces them: every write a backup
 * makes to a TargetBlob (Put Page From URL, Put Page, Clear Pages, resize, Set Blob Metadata) is refused with 412
 * without the lease's id and accepted with it. Azurite enforces them for forwarded requests; Put Page From URL
 * is the proxy's own and hands x-ms-lease-id to the Put Page it sends Azurite.
 */
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { before, describe, test } from "node:test";
import type { ContainerClient, PageBlobClient } from "@azure/storage-blob";
import { appBlobService, devAccountReadSasUrl, targetBlobService, useTestStack } from "../support/stack";
import { rejectsWithStorageError } from "./storage-errors";

const MiB = 1024 * 1024;
const blobBytes = 4 * MiB;

/** One write to a TargetBlob, with or without a lease id. */
interface LeasedWrite {
  name: string;
  run(blob: PageBlobClient, leaseId: string | undefined): Promise<unknown>;
}

/** What a refused write must leave as it was: size, metadata, written ranges and bytes. */
async function stateOf(blob: PageBlobClient) {
  const properties = await blob.getProperties();
  return {
    size: properties.contentLength,
    metadata: properties.metadata,
    ranges: (await blob.getPageRanges()).pageRange,
    bytes: (await blob.downloadToBuffer(0, 4096)).toString("base64"),
  };
}

describe("leases on the target storage, through the blob proxy", () => {
  const stack = useTestStack();
  const source = randomBytes(MiB);
  let sourceSasUrl: string;
  let container: ContainerClient;

  const writes: LeasedWrite[] = [
    {
      name: "Put Page From URL",
      run: (blob, leaseId) => blob.uploadPagesFromURL(sourceSasUrl, 0, 0, 512, { conditions: { leaseId } }),
    },
    { name: "Put Page", run: (blob, leaseId) => blob.uploadPages(Buffer.alloc(512, 7), 512, 512, { conditions: { leaseId } }) },
    { name: "Clear Pages", run: (blob, leaseId) => blob.clearPages(1024, 512, { conditions: { leaseId } }) },
    { name: "resize (Set Blob Properties)", run: (blob, leaseId) => blob.resize(2 * blobBytes, { conditions: { leaseId } }) },
    { name: "Set Blob Metadata", run: (blob, leaseId) => blob.setMetadata({ backup: "run-2" }, { conditions: { leaseId } }) },
  ];

  before(async () => {
    const sources = appBlobService(stack()).getContainerClient("lease-sources");
    await sources.create();
    const blob = sources.getBlockBlobClient("disk.bin");
    await blob.uploadData(source);
    sourceSasUrl = devAccountReadSasUrl(blob);
    container = targetBlobService(stack()).getContainerClient("leased-targets");
    await container.create();
  });

  /** A fresh target blob with one written page range, leased for ever with a new id. */
  async function leasedBlob(): Promise<{ blob: PageBlobClient; leaseId: string }> {
    const blob = container.getPageBlobClient(`${randomUUID()}.vhd`);
    await blob.create(blobBytes, { metadata: { backup: "run-1" } });
    await blob.uploadPages(Buffer.alloc(2048, 1), 0, 2048);
    const lease = await blob.getBlobLeaseClient(randomUUID()).acquireLease(-1);
    return { blob, leaseId: lease.leaseId ?? "" };
  }

  for (const write of writes) {
    test(`when ${write.name} carries no lease id on a leased blob, then it is refused with 412 LeaseIdMissing and nothing changes`, async () => {
      const { blob } = await leasedBlob();
      const before = await stateOf(blob);
      await rejectsWithStorageError(write.run(blob, undefined), 412, "LeaseIdMissing");
      assert.deepEqual(await stateOf(blob), before);
    });

    test(`when ${write.name} carries another lease id, then it is refused with 412 LeaseIdMismatchWithBlobOperation and nothing changes`, async () => {
      const { blob } = await leasedBlob();
      const before = await stateOf(blob);
      await rejectsWithStorageError(write.run(blob, randomUUID()), 412, "LeaseIdMismatchWithBlobOperation");
      assert.deepEqual(await stateOf(blob), before);
    });

    test(`when ${write.name} carries the lease id, then it is accepted`, async () => {
      const { blob, leaseId } = await leasedBlob();
      const before = await stateOf(blob);
      await write.run(blob, leaseId);
      assert.notDeepEqual(await stateOf(blob), before);
    });

    test(`when ${write.name} carries a lease id on a blob without a lease, then it is refused with 412 LeaseNotPresentWithBlobOperation`, async () => {
      const blob = container.getPageBlobClient(`${randomUUID()}.vhd`);
      await blob.create(blobBytes);
      const before = await stateOf(blob);
      await rejectsWithStorageError(write.run(blob, randomUUID()), 412, "LeaseNotPresentWithBlobOperation");
      assert.deepEqual(await stateOf(blob), before);
    });
  }

  test("when Put Page From URL lands with the lease id, then the source's bytes are at the offset", async () => {
    const { blob, leaseId } = await leasedBlob();
    await blob.uploadPagesFromURL(sourceSasUrl, 0, MiB, MiB, { conditions: { leaseId } });
    assert.ok((await blob.downloadToBuffer(MiB, MiB)).equals(source));
  });

  test("when a lease is acquired again with the same proposed id, then it succeeds and keeps that id", async () => {
    const { blob, leaseId } = await leasedBlob();
    const again = await blob.getBlobLeaseClient(leaseId).acquireLease(-1);
    assert.equal(again.leaseId, leaseId);
    await rejectsWithStorageError(blob.getBlobLeaseClient(randomUUID()).acquireLease(-1), 409, "LeaseAlreadyPresent");
  });

  test("when a lease is broken with breakPeriod 0, then a new id can be acquired and the old one no longer writes", async () => {
    const { blob, leaseId } = await leasedBlob();
    await blob.getBlobLeaseClient(leaseId).breakLease(0);
    const next = await blob.getBlobLeaseClient(randomUUID()).acquireLease(-1);
    assert.notEqual(next.leaseId, leaseId);
    await rejectsWithStorageError(blob.uploadPages(Buffer.alloc(512), 0, 512, { conditions: { leaseId } }), 412, "LeaseIdMismatchWithBlobOperation");
    await blob.uploadPages(Buffer.alloc(512), 0, 512, { conditions: { leaseId: next.leaseId } });
  });

  test("when a leased blob is snapshotted and the snapshot deleted without a lease id, then both succeed", async () => {
    const { blob } = await leasedBlob();
    const { snapshot } = await blob.createSnapshot();
    assert.ok(snapshot);
    await blob.withSnapshot(snapshot).delete();
    assert.equal(await blob.withSnapshot(snapshot).exists(), false);
    assert.equal((await blob.getProperties()).leaseState, "leased");
  });
});
