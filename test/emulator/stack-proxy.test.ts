import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { before, describe, test } from "node:test";
import { BlobSASPermissions, RestError, type ContainerClient } from "@azure/storage-blob";
import { targetBlobService, useTestStack } from "../support/stack";

const MiB = 1024 * 1024;

describe("the blob proxy in front of Azurite", () => {
  const stack = useTestStack();
  let container: ContainerClient;

  before(async () => {
    container = targetBlobService(stack()).getContainerClient("round-trips");
    await container.create();
  });

  test("when a block blob is uploaded and downloaded through the proxy, then the bytes round-trip", async () => {
    const data = randomBytes(9 * MiB + 123);
    const blob = container.getBlockBlobClient("data.bin");
    await blob.uploadData(data, { blockSize: 4 * MiB, concurrency: 3 });
    assert.ok((await blob.downloadToBuffer()).equals(data));
    assert.equal((await blob.getProperties()).contentLength, data.length);
  });

  test("when pages are put, cleared and listed through the proxy, then Azurite's answers come back", async () => {
    const blob = container.getPageBlobClient("pages.vhd");
    await blob.create(64 * MiB);
    const data = randomBytes(4 * MiB);
    await blob.uploadPages(data, 60 * MiB, 4 * MiB);
    await blob.clearPages(60 * MiB, MiB);
    const ranges = await blob.getPageRanges();
    assert.deepEqual(ranges.pageRange, [{ offset: 61 * MiB, count: 3 * MiB - 1 }]);
    const read = await blob.downloadToBuffer(60 * MiB, 4 * MiB);
    assert.deepEqual(read.subarray(0, MiB), Buffer.alloc(MiB));
    assert.ok(read.subarray(MiB).equals(data.subarray(MiB)));
  });

  test("when a client drops a download midway, then the stack keeps serving", async () => {
    const blob = container.getBlockBlobClient("large.bin");
    await blob.uploadData(randomBytes(16 * MiB));
    const url = await blob.generateSasUrl({ permissions: BlobSASPermissions.parse("r"), expiresOn: new Date(Date.now() + 600_000) });
    await new Promise<void>((resolve, reject) => {
      const req = request(url, { ca: readFileSync(stack().caCertPath) }, (res) => {
        res.once("data", () => {
          req.destroy();
          resolve();
        });
      });
      req.on("error", (error) => (req.destroyed ? resolve() : reject(error)));
      req.end();
    });
    assert.equal((await blob.getProperties()).contentLength, 16 * MiB);
  });

  test("when a path matches no route, then the answer is 404", async () => {
    assert.equal(await statusOf(`${stack().arm.endpoint}/nosuchaccount/container/blob`, stack().caCertPath), 404);
    await assert.rejects(container.getBlobClient("does-not-exist").getProperties(), (error: unknown) => {
      return error instanceof RestError && error.statusCode === 404;
    });
  });
});

function statusOf(url: string, caCertPath: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca: readFileSync(caCertPath) }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end();
  });
}
