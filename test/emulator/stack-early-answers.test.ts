/**
 * Answers the stack gives before it has read a request's body — a lease refusal, an injected fault — must leave
 * the client's keep-alive connection usable: the next request on it is answered at once, not after the server's
 * keep-alive timeout. The client is plain node:https with one pooled socket, so both requests share a connection.
 */
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { Agent, request } from "node:https";
import { afterEach, before, beforeEach, describe, test } from "node:test";
import type { PageBlobClient } from "@azure/storage-blob";
import { storageServiceVersion } from "../../emulator/service-errors";
import { sharedKeyAuthorization } from "../../emulator/shared-key";
import { targetBlobService, useTestStack } from "../support/stack";

const MiB = 1024 * 1024;
const pageBytes = 4 * MiB;
/** Far below the server's 60 s keep-alive timeout, far above what two local requests take. */
const bound = { timeout: 10_000 };

interface Answer {
  status: number;
  errorCode?: string;
}

describe("early answers on a keep-alive connection", () => {
  const stack = useTestStack();
  let agent: Agent;
  let blob: PageBlobClient;

  before(async () => {
    const container = targetBlobService(stack()).getContainerClient("early-answers");
    await container.create();
    blob = container.getPageBlobClient("leased.vhd");
    await blob.create(2 * pageBytes);
    await blob.getBlobLeaseClient(randomUUID()).acquireLease(-1);
  });

  // A fresh connection per test, so one test's stalled socket cannot fail the next.
  beforeEach(() => {
    agent = new Agent({ keepAlive: true, maxSockets: 1, ca: readFileSync(stack().caCertPath) });
  });
  afterEach(async () => {
    agent.destroy();
    await stack().faults.clear();
  });

  /** One Shared Key request on the single pooled connection; resolves once the whole answer has been read. */
  function send(method: string, query: string, headers: Record<string, string>, body?: Buffer): Promise<Answer> {
    const { target } = stack();
    const path = `${new URL(blob.url).pathname}${query}`;
    const signed: Record<string, string> = {
      "x-ms-date": new Date().toUTCString(),
      "x-ms-version": storageServiceVersion,
      "content-length": String(body?.length ?? 0),
      ...headers,
    };
    signed.authorization = sharedKeyAuthorization(method, path, signed, { name: target.accountName, key: target.accountKey });
    return new Promise((resolve, reject) => {
      const req = request(new URL(path, target.blobEndpoint), { method, headers: signed, agent }, (res) => {
        res.resume();
        res.on("error", reject);
        res.on("end", () => resolve({ status: res.statusCode ?? 0, errorCode: res.headers["x-ms-error-code"] as string | undefined }));
      });
      req.on("error", reject);
      req.end(body);
    });
  }

  /** A 4 MiB Put Page to the leased blob; `leaseId` decides whether it may write. */
  function putPage(leaseId: string): Promise<Answer> {
    const headers = { "x-ms-page-write": "update", "x-ms-range": `bytes=0-${pageBytes - 1}`, "x-ms-lease-id": leaseId };
    return send("PUT", "?comp=page", headers, randomBytes(pageBytes));
  }

  const getProperties = () => send("HEAD", "", {});

  test("when a 4 MiB Put Page is refused for a lease mismatch, then the next request on the connection is answered", bound, async () => {
    assert.deepEqual(await putPage(randomUUID()), { status: 412, errorCode: "LeaseIdMismatchWithBlobOperation" });
    assert.equal((await getProperties()).status, 200);
  });

  test("when a fault answers a 4 MiB Put Page, then the next request on the connection is answered", bound, async () => {
    await stack().faults.set([{ scope: "blob", kind: "error", status: 503, rate: 1, method: "PUT", maxCount: 1 }]);
    assert.deepEqual(await putPage(randomUUID()), { status: 503, errorCode: "ServerBusy" });
    assert.equal((await getProperties()).status, 200);
  });
});
