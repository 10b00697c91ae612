import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { afterEach, before, describe, test } from "node:test";
import { RestError, type ContainerClient, type PageBlobClient } from "@azure/storage-blob";
import { FaultControlClient } from "../../emulator/faults";
import type { LocalStack } from "../../emulator/stack";
import { computeClient, targetBlobService, useTestStack } from "../support/stack";

interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One plain HTTPS request, no SDK and no retries, to see an injected answer as it is on the wire. */
function rawRequest(stack: LocalStack, method: string, path: string): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, stack.arm.endpoint), { method, ca: readFileSync(stack.caCertPath) }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on("error", reject);
    req.end();
  });
}

async function streamBytes(body: NodeJS.ReadableStream | undefined): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of (body ?? []) as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

describe("fault injection on the local stack", () => {
  const stack = useTestStack();
  const page = Buffer.alloc(512, 0x5a);
  let container: ContainerClient;
  let blob: PageBlobClient;

  before(async () => {
    container = targetBlobService(stack()).getContainerClient("faults");
    await container.create();
    blob = container.getPageBlobClient("disk.vhd");
    await blob.create(1024 * 1024);
  });

  afterEach(() => stack().faults.clear());

  /** The same blob through a client that retries as often as told (1 = never). */
  function blobWithTries(maxTries: number): PageBlobClient {
    return targetBlobService(stack(), { retryOptions: { maxTries, retryDelayInMs: 1, maxRetryDelayInMs: 5 } })
      .getContainerClient(container.containerName)
      .getPageBlobClient(blob.name);
  }

  test("when blob requests fail with 500 and 503, then the SDK retries and every page still lands", async () => {
    await stack().faults.set(
      [
        { scope: "blob", kind: "error", status: 500, rate: 0.25 },
        { scope: "blob", kind: "error", status: 503, rate: 0.25 },
      ],
      42,
    );
    const patient = blobWithTries(12);
    for (let i = 0; i < 16; i++) await patient.uploadPages(Buffer.alloc(512, i + 1), i * 512, 512);
    const stats = await stack().faults.stats();
    await stack().faults.clear();

    assert.ok(stats.rules[0].injected > 0 && stats.rules[1].injected > 0, JSON.stringify(stats));
    assert.equal(stats.injected.error, stats.rules[0].injected + stats.rules[1].injected);
    assert.equal(stats.requests, 16 + stats.injected.error);
    const written = await blob.downloadToBuffer(0, 16 * 512);
    for (let i = 0; i < 16; i++) assert.deepEqual(written.subarray(i * 512, (i + 1) * 512), Buffer.alloc(512, i + 1));
  });

  test("when the same seed is set again, then the same requests fail, with ServerBusy", async () => {
    const impatient = blobWithTries(1);
    const outcomes = async (): Promise<string> => {
      await stack().faults.set([{ scope: "blob", kind: "error", status: 503, rate: 0.5 }], 7);
      let pattern = "";
      for (let i = 0; i < 24; i++) {
        try {
          await impatient.downloadToBuffer(0, 512);
          pattern += ".";
        } catch (error) {
          assert.ok(error instanceof RestError);
          assert.equal(error.statusCode, 503);
          assert.equal(error.code, "ServerBusy");
          pattern += "x";
        }
      }
      return pattern;
    };
    const first = await outcomes();
    assert.equal(await outcomes(), first);
    assert.match(first, /x/);
    assert.match(first, /\./);
  });

  test("when compute is throttled, then the answer is an ARM 429 with Retry-After and the rate-limit header", async () => {
    await stack().faults.set([
      {
        scope: "compute",
        kind: "throttle",
        rate: 1,
        retryAfterSeconds: 3,
        remainingResource: "Microsoft.Compute/HighCostSnapshotCreateHydrate3Min;0",
      },
    ]);
    const answer = await rawRequest(stack(), "GET", `/subscriptions/${stack().arm.subscriptionId}/providers/Microsoft.Compute/snapshots`);
    assert.equal(answer.status, 429);
    assert.equal(answer.headers["retry-after"], "3");
    assert.equal(answer.headers["x-ms-ratelimit-remaining-resource"], "Microsoft.Compute/HighCostSnapshotCreateHydrate3Min;0");
    assert.equal((JSON.parse(answer.body) as { error: { code: string } }).error.code, "OperationNotAllowed");
  });

  test("when compute is throttled once, then the ARM SDK honours Retry-After and retries", async () => {
    await stack().faults.set([{ scope: "compute", kind: "throttle", rate: 1, retryAfterSeconds: 1, maxCount: 1 }]);
    // Whatever the emulator answers after the retry (here: no such snapshot), it is not the 429.
    await assert.rejects(computeClient(stack()).snapshots.get("diskdelta-faults", "no-such-snapshot"), (error: unknown) => {
      assert.ok(error instanceof RestError);
      assert.equal(error.statusCode, 404);
      return true;
    });
    const stats = await stack().faults.stats();
    assert.equal(stats.requests, 2);
    assert.equal(stats.injected.throttle, 1);
  });

  test("when storage is throttled, then it answers 503 ServerBusy with Retry-After, as Azure Storage does", async () => {
    await stack().faults.set([{ scope: "blob", kind: "throttle", rate: 1, retryAfterSeconds: 2 }]);
    const answer = await rawRequest(stack(), "GET", `/${stack().target.accountName}/faults/disk.vhd`);
    assert.equal(answer.status, 503);
    assert.equal(answer.headers["retry-after"], "2");
    assert.equal(answer.headers["x-ms-error-code"], "ServerBusy");
    assert.match(answer.body, /<Code>ServerBusy<\/Code>/);
  });

  test("when connections are reset, then the SDK retries and the write succeeds", async () => {
    await stack().faults.set([{ scope: "blob", kind: "reset", rate: 1, maxCount: 2 }]);
    await blobWithTries(4).uploadPages(page, 512 * 100, 512);
    assert.equal((await stack().faults.stats()).injected.reset, 2);
    await stack().faults.clear();
    assert.deepEqual(await blob.downloadToBuffer(512 * 100, 512), page);
  });

  test("when latency is injected, then requests are held back but succeed", async () => {
    await stack().faults.set([{ scope: "all", kind: "latency", latencyMs: 20, rate: 1, maxCount: 3 }]);
    for (let i = 0; i < 4; i++) await blob.getProperties();
    const stats = await stack().faults.stats();
    assert.equal(stats.injected.latency, 3);
    assert.deepEqual(stats.rules, [{ matched: 3, injected: 3 }]);
  });

  test("when answers are corrupted, then the body differs in one byte and its length and Content-MD5 are the service's", async () => {
    await blob.uploadPages(page, 512 * 200, 512);
    await stack().faults.set([{ scope: "blob", kind: "corrupt", rate: 1, method: "GET", maxCount: 1 }]);
    const corrupted = await blob.download(512 * 200, 512, { rangeGetContentMD5: true, maxRetryRequests: 0 });
    const bytes = await streamBytes(corrupted.readableStreamBody);
    assert.equal((await stack().faults.stats()).injected.corrupt, 1);
    assert.equal(bytes.length, 512);
    assert.equal(bytes.filter((b, i) => b !== page[i]).length, 1, "exactly one byte differs");
    assert.deepEqual(Buffer.from(corrupted.contentMD5 ?? []), createHash("md5").update(page).digest(), "the checksum is that of the bytes the service sent");
    assert.deepEqual(await blob.downloadToBuffer(512 * 200, 512), page, "the stored bytes are untouched");
  });

  test("when a rule filters on method and path, then only matching requests get the fault", async () => {
    await stack().faults.set([{ scope: "blob", kind: "error", rate: 1, method: "PUT", path: "comp=page" }]);
    const impatient = blobWithTries(1);
    await impatient.getProperties();
    await assert.rejects(impatient.uploadPages(page, 0, 512), (error: unknown) => error instanceof RestError && error.statusCode === 503);
    assert.deepEqual((await stack().faults.stats()).rules, [{ matched: 1, injected: 1 }]);
  });

  test("when faults are switched over HTTP, then the stack applies them and the control routes stay reachable", async () => {
    const remote = new FaultControlClient(stack().arm.endpoint, stack().caCertPath);
    await remote.set([{ scope: "all", kind: "error", status: 500, rate: 1 }]);
    await assert.rejects(blobWithTries(1).getProperties(), (error: unknown) => error instanceof RestError && error.statusCode === 500);
    const stats = await remote.stats();
    assert.equal(stats.injected.error, 1);
    await remote.clear();
    await blobWithTries(1).getProperties();
    assert.equal((await remote.stats()).requests, 0);
    await assert.rejects(remote.set([{ scope: "blob", kind: "error", rate: 2 }]), /400/);
  });
});
