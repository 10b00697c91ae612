/**
 * The modelled scalability targets of the target account (emulator/dataplane/blob-limits.ts): a page write over a
 * blob's or the account's limit is answered 503 ServerBusy as the service answers it, with Retry-After, and writes
 * nothing; with the SDK's retries on, it goes through once the bucket refills; within the limits nothing is refused.
 * Rates are chosen so that the outcome does not depend on how fast this machine is (refills take seconds to minutes).
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { before, beforeEach, describe, test } from "node:test";
import { RestError, type ContainerClient, type PageBlobClient, type StoragePipelineOptions } from "@azure/storage-blob";
import { storageErrors } from "../../emulator/error-catalog";
import { appBlobService, devAccountReadSasUrl, targetBlobService, useTestStack } from "../support/stack";

const MiB = 1024 * 1024;
const noRetries: StoragePipelineOptions = { retryOptions: { maxTries: 1 } };
const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");
/** Limits that never bind, so that each test names only the one it is about. */
const roomy = { blobBytesPerSecond: 1024 * MiB, blobRequestsPerSecond: 100_000, accountRequestsPerSecond: 100_000 };

/** Asserts the service's throttling answer: 503, ServerBusy in header and body, the body's message, Retry-After. */
async function rejectsAsServerBusy(action: Promise<unknown>, message: string): Promise<number> {
  let retryAfter = Number.NaN;
  await assert.rejects(action, (error: unknown) => {
    assert.ok(error instanceof RestError, `expected a RestError, got ${String(error)}`);
    assert.equal(error.statusCode, 503);
    assert.equal(error.code, "ServerBusy");
    const body = error.response?.bodyAsText ?? "";
    assert.match(body, /<Error><Code>ServerBusy<\/Code><Message>/);
    assert.ok(body.includes(message), `the service's message "${message}" in ${body}`);
    retryAfter = Number(error.response?.headers.get("retry-after"));
    return true;
  });
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1, `Retry-After in whole seconds, got ${retryAfter}`);
  return retryAfter;
}

describe("the target account's modelled scalability targets", () => {
  const stack = useTestStack();
  const data = randomBytes(4 * MiB);
  let targets: ContainerClient;
  let unretried: ContainerClient;
  let sourceSasUrl: string;
  let count = 0;

  before(async () => {
    targets = targetBlobService(stack()).getContainerClient("limits");
    await targets.create();
    unretried = targetBlobService(stack(), noRetries).getContainerClient("limits");
    const sources = appBlobService(stack()).getContainerClient("limit-sources");
    await sources.create();
    const source = sources.getBlockBlobClient("disk.bin");
    await source.uploadData(data);
    sourceSasUrl = devAccountReadSasUrl(source);
  });

  beforeEach(() => stack().blobLimits.set(undefined));

  async function newBlob(): Promise<{ retried: PageBlobClient; unretried: PageBlobClient }> {
    const name = `blob-${++count}.vhd`;
    await targets.getPageBlobClient(name).create(8 * MiB);
    return { retried: targets.getPageBlobClient(name), unretried: unretried.getPageBlobClient(name) };
  }

  test("when the model is off (the default), then a burst of writes far over the service's targets is never refused", async () => {
    const { unretried: blob } = await newBlob();
    await Promise.all(Array.from({ length: 64 }, (_, i) => blob.uploadPages(data.subarray(i * 65536, (i + 1) * 65536), i * 65536, 65536)));
    assert.equal(sha256(await blob.downloadToBuffer(0, 4 * MiB)), sha256(data));
    assert.deepEqual({ ...stack().blobLimits.counts }, { admitted: 0, refused: 0 });
  });

  test("when a blob's requests per second are spent, then the next Put Page is 503 ServerBusy with Retry-After and writes nothing", async () => {
    // One request of burst, refilled once every 100 s.
    stack().blobLimits.set({ ...roomy, blobRequestsPerSecond: 0.01, burstSeconds: 100 });
    const { unretried: blob } = await newBlob();
    await blob.uploadPages(data.subarray(0, 512), 0, 512);
    const retryAfter = await rejectsAsServerBusy(blob.uploadPages(data.subarray(512, 1024), 512, 512), storageErrors.serverBusy.message);
    assert.ok(retryAfter > 1 && retryAfter <= 100, `Retry-After says when a request is free again: ${retryAfter}`);
    assert.deepEqual(await blob.downloadToBuffer(0, 1024), Buffer.concat([data.subarray(0, 512), Buffer.alloc(512)]));
    assert.deepEqual({ ...stack().blobLimits.counts }, { admitted: 1, refused: 1 });
  });

  test("when a blob's bytes per second are spent, then the next Put Page From URL is 503 ServerBusy and writes nothing", async () => {
    // 1 MiB of burst, refilled at 1 KiB/s.
    stack().blobLimits.set({ ...roomy, blobBytesPerSecond: 1024, burstSeconds: 1024 });
    const { unretried: blob } = await newBlob();
    await blob.uploadPagesFromURL(sourceSasUrl, 0, 0, MiB);
    await rejectsAsServerBusy(blob.uploadPagesFromURL(sourceSasUrl, MiB, MiB, 4 * MiB), storageErrors.serverBusy.message);
    const ranges = await blob.getPageRanges();
    assert.deepEqual(ranges.pageRange, [{ offset: 0, count: MiB - 1 }]);
    assert.equal(sha256(await blob.downloadToBuffer(0, MiB)), sha256(data.subarray(0, MiB)));
  });

  test("when the account's requests per second are spent, then a write to another blob is refused with the account's message", async () => {
    stack().blobLimits.set({ ...roomy, accountRequestsPerSecond: 0.01, burstSeconds: 100 });
    const first = await newBlob();
    const second = await newBlob();
    await first.unretried.uploadPages(data.subarray(0, 512), 0, 512);
    await rejectsAsServerBusy(second.unretried.uploadPages(data.subarray(0, 512), 0, 512), storageErrors.accountThrottled.message);
    assert.deepEqual(await second.unretried.downloadToBuffer(0, 512), Buffer.alloc(512));
  });

  test("when the SDK retries as configured, then a write refused for the blob's rate goes through once it refills, with its bytes", async () => {
    // One request per 2 s; the SDK's exponential retries (0.5 s, 1 s, 2 s, ...) outlast that.
    stack().blobLimits.set({ ...roomy, blobRequestsPerSecond: 0.5, burstSeconds: 2 });
    const { retried, unretried: blob } = await newBlob();
    await blob.uploadPages(data.subarray(0, MiB), 0, MiB);
    await rejectsAsServerBusy(blob.uploadPages(data.subarray(MiB, 2 * MiB), MiB, MiB), storageErrors.serverBusy.message);
    const patient = targetBlobService(stack(), { retryOptions: { maxTries: 8, retryDelayInMs: 500, maxRetryDelayInMs: 4000 } });
    const sameBlob = patient.getContainerClient(retried.containerName).getPageBlobClient(retried.name);
    await sameBlob.uploadPages(data.subarray(MiB, 2 * MiB), MiB, MiB);
    assert.equal(sha256(await sameBlob.downloadToBuffer(0, 2 * MiB)), sha256(data.subarray(0, 2 * MiB)));
  });

  test("when writes stay within the service's own targets, then none is refused and every byte lands", async () => {
    stack().blobLimits.set({});
    const { unretried: blob } = await newBlob();
    // 48 writes and 3 MiB: inside one second's burst of 500 requests and 60 MiB, however slow this machine is.
    await Promise.all(Array.from({ length: 48 }, (_, i) => blob.uploadPages(data.subarray(i * 65536, (i + 1) * 65536), i * 65536, 65536)));
    assert.equal(sha256(await blob.downloadToBuffer(0, 48 * 65536)), sha256(data.subarray(0, 48 * 65536)));
    assert.deepEqual({ ...stack().blobLimits.counts }, { admitted: 48, refused: 0 });
  });
});
