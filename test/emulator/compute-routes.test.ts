/**
 * The compute route table as ARM answers around its routes: a served path with another method is 405, and a path
 * the table does not know is left to the stack's other routes.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startDiskEmulatorServer, subscriptionId, type DiskEmulatorServer } from "../support/disk-emulator-server";

const group = `/subscriptions/${subscriptionId}/resourceGroups/rg-routes/providers/Microsoft.Compute`;
const version = "?api-version=2025-01-02";

describe("the compute route table", () => {
  let server: DiskEmulatorServer;
  before(async () => {
    server = await startDiskEmulatorServer();
  });
  after(() => server.close());

  async function call(method: string, path: string): Promise<{ status: number; code?: string }> {
    const res = await fetch(`${server.baseUrl}${path}${version}`, { method, headers: { Authorization: "Bearer local" } });
    const body = (await res.json()) as { error?: { code?: string; message?: string } };
    // The test server's own answer for a request no emulator route took.
    if (body.error?.message === "No emulator route.") return { status: res.status, code: "(not served)" };
    return { status: res.status, code: body.error?.code };
  }

  const cases = [
    { when: "a disk collection is PUT", method: "PUT", path: `${group}/disks`, status: 405, code: "MethodNotAllowed" },
    { when: "a snapshot is POSTed", method: "POST", path: `${group}/snapshots/s1`, status: 405, code: "MethodNotAllowed" },
    { when: "beginGetAccess of a snapshot is a GET", method: "GET", path: `${group}/snapshots/s1/beginGetAccess`, status: 405, code: "MethodNotAllowed" },
    { when: "an operation is POSTed", method: "POST", path: `/subscriptions/${subscriptionId}/providers/Microsoft.Compute/locations/eastus/DiskOperations/op`, status: 405, code: "MethodNotAllowed" },
    { when: "a disk that does not exist is granted access", method: "POST", path: `${group}/disks/d1/beginGetAccess`, status: 404, code: "ResourceNotFound" },
    { when: "a disk's access is ended with a GET", method: "GET", path: `${group}/disks/d1/endGetAccess`, status: 405, code: "MethodNotAllowed" },
    { when: "a path names another action", method: "POST", path: `${group}/disks/d1/restart`, status: 404, code: "(not served)" },
    { when: "an operation URL gets a trailing slash", method: "GET", path: `/subscriptions/${subscriptionId}/providers/Microsoft.Compute/locations/eastus/DiskOperations/op/`, status: 404, code: "(not served)" },
  ];

  for (const c of cases) {
    test(`when ${c.when}, then the answer is ${c.status} ${c.code}`, async () => {
      assert.deepEqual(await call(c.method, c.path), { status: c.status, code: c.code });
    });
  }

  test("when paths differ only in case or a trailing slash, then they reach the same resource", async () => {
    assert.deepEqual(await call("GET", `${group}/disks/nope/`), { status: 404, code: "ResourceNotFound" });
    assert.deepEqual(await call("GET", `${group.toUpperCase()}/DISKS/nope`.replace(subscriptionId.toUpperCase(), subscriptionId)), {
      status: 404,
      code: "ResourceNotFound",
    });
  });
});
