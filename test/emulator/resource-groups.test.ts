/**
 * Contract tests of the emulator's resource groups: the group endpoints over raw HTTPS as the REST reference
 * (api-version 2021-04-01) describes them, and disks and snapshots in a group that does not exist through the real
 * `@azure/arm-compute` client (404 ResourceGroupNotFound, as ARM answers).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ResourceGroupControlClient } from "../../emulator/disks/control-client";
import {
  armFailure,
  createEmptyDisk,
  fastPolling,
  location,
  resourceGroup,
  startDiskEmulatorServer,
  subscriptionId,
  type DiskEmulatorServer,
} from "../support/disk-emulator-server";

const version = "api-version=2021-04-01";

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown> | undefined;
}

describe("resource groups in the emulated ARM", () => {
  let server: DiskEmulatorServer;
  before(async () => {
    server = await startDiskEmulatorServer({
      resourceGroups: [
        { name: "rg-seeded", location: "West Europe" },
        { name: resourceGroup, location },
      ],
    });
  });
  after(() => server.close());

  async function call(method: string, path: string, body?: unknown, query = version): Promise<Answer> {
    const res = await fetch(`${server.baseUrl}${path}${query ? `?${query}` : ""}`, {
      method,
      headers: { Authorization: "Bearer local", ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
  }

  const group = (name: string, segment = "resourcegroups") => `/subscriptions/${subscriptionId}/${segment}/${name}`;

  it("when a group is created, then PUT answers 201 with the group, again 200, and GET and HEAD find it whatever the casing", async () => {
    const expected = {
      id: `/subscriptions/${subscriptionId}/resourceGroups/rg-new`,
      name: "rg-new",
      type: "Microsoft.Resources/resourceGroups",
      location: "eastus",
      properties: { provisioningState: "Succeeded" },
    };
    const created = await call("PUT", group("rg-new"), { location: "eastus" });
    assert.deepEqual([created.status, created.body], [201, expected]);
    const again = await call("PUT", group("RG-NEW", "resourceGroups"), { location: "eastus", tags: { team: "dr" } });
    assert.deepEqual([again.status, again.body], [200, { ...expected, tags: { team: "dr" } }]);
    const got = await call("GET", group("rg-New", "RESOURCEGROUPS"));
    assert.deepEqual([got.status, got.body], [200, { ...expected, tags: { team: "dr" } }]);
    const head = await call("HEAD", group("rg-new"));
    assert.deepEqual([head.status, head.body], [204, undefined]);
  });

  it("when a group is missing, then GET is 404 ResourceGroupNotFound with ARM's message and HEAD is 404 without a body", async () => {
    const got = await call("GET", group("rg-nowhere"));
    assert.equal(got.status, 404);
    assert.deepEqual(got.body, { error: { code: "ResourceGroupNotFound", message: "Resource group 'rg-nowhere' could not be found." } });
    const head = await call("HEAD", group("rg-nowhere"));
    assert.deepEqual([head.status, head.body], [404, undefined]);
  });

  it("when a group is PUT without a location or in another location, then it is refused and stays where it was", async () => {
    assert.deepEqual((await call("PUT", group("rg-seeded"), {})).body?.error, {
      code: "LocationRequired",
      message: "The location property is required for this definition.",
    });
    const moved = await call("PUT", group("rg-seeded"), { location: "eastus" });
    assert.equal(moved.status, 409);
    assert.deepEqual(moved.body?.error, {
      code: "InvalidResourceGroupLocation",
      message: "Invalid resource group location 'eastus'. The Resource group already exists in location 'westeurope'.",
    });
    assert.equal((await call("GET", group("rg-seeded"))).body?.location, "westeurope");
  });

  it("when the api-version is missing or not one, then the group routes answer 400 as ARM does", async () => {
    const refusal = async (query: string) => {
      const answer = await call("GET", group("rg-seeded"), undefined, query);
      return [answer.status, (answer.body?.error as { code?: string } | undefined)?.code];
    };
    assert.deepEqual(await refusal(""), [400, "MissingApiVersionParameter"]);
    assert.deepEqual(await refusal("api-version=latest"), [400, "InvalidApiVersionParameter"]);
  });

  it("when a disk or snapshot is created in a group that does not exist, then the SDK fails with 404 ResourceGroupNotFound", async () => {
    const notFound = { status: 404, code: "ResourceGroupNotFound", message: "Resource group 'rg-missing' could not be found." };
    const disk = { location, creationData: { createOption: "Empty" }, diskSizeGB: 1 };
    assert.deepEqual(await armFailure(() => server.compute.disks.createOrUpdate("rg-missing", "d1", disk, fastPolling)), notFound);
    const sourceId = await createEmptyDisk(server.compute, "rg-check-source", 1);
    const snapshot = { location, incremental: true, creationData: { createOption: "Copy", sourceResourceId: sourceId } };
    assert.deepEqual(await armFailure(() => server.compute.snapshots.createOrUpdate("rg-missing", "s1", snapshot, fastPolling)), notFound);
    assert.deepEqual(await armFailure(() => server.compute.disks.get("rg-missing", "d1")), notFound);
    // The SDK's pager replaces the message with its own; status and code are ARM's.
    const listed = await armFailure(async () => server.compute.snapshots.listByResourceGroup("rg-missing").next());
    assert.deepEqual([listed.status, listed.code], [404, "ResourceGroupNotFound"]);
  });

  it("when a group is created through the control route, then disks can be created in it", async () => {
    const control = new ResourceGroupControlClient(server.baseUrl);
    await control.createResourceGroup({ name: "rg-control", location: "northeurope" });
    await control.createResourceGroup({ name: "rg-control", location: "northeurope" });
    assert.ok((await control.listResourceGroups()).some((g) => g.name === "rg-control" && g.location === "northeurope"));
    const disk = await server.compute.disks.createOrUpdate("rg-control", "d1", { location, creationData: { createOption: "Empty" }, diskSizeGB: 1 }, fastPolling);
    assert.equal(disk.id, `/subscriptions/${subscriptionId}/resourceGroups/rg-control/providers/Microsoft.Compute/disks/d1`);
    await assert.rejects(control.createResourceGroup({ name: "rg-control", location: "eastus" }), { status: 409, code: "InvalidResourceGroupLocation" });
  });

  it("when a group with a disk, an exported disk and a snapshot under an active SAS is deleted, then 202 polls to 200 and its resources are gone", async () => {
    await call("PUT", group("rg-doomed"), { location: "eastus" });
    const disk = await server.compute.disks.createOrUpdate("rg-doomed", "d1", { location, creationData: { createOption: "Empty" }, diskSizeGB: 1 }, fastPolling);
    await server.compute.snapshots.createOrUpdate(
      "rg-doomed",
      "s1",
      { location, incremental: true, creationData: { createOption: "Copy", sourceResourceId: disk.id } },
      fastPolling,
    );
    const sas = await server.compute.snapshots.grantAccess("rg-doomed", "s1", { access: "Read", durationInSeconds: 600 }, fastPolling);
    await server.compute.disks.createOrUpdate("rg-doomed", "d2", { location, creationData: { createOption: "Empty" }, diskSizeGB: 1 }, fastPolling);
    const exported = await server.compute.disks.grantAccess("rg-doomed", "d2", { access: "Read", durationInSeconds: 600 }, fastPolling);

    const deleted = await call("DELETE", group("rg-doomed"));
    assert.equal(deleted.status, 202);
    const poll = deleted.headers.get("location") ?? assert.fail("a 202 of a delete carries Location");
    assert.match(poll, new RegExp(`^${server.baseUrl}/subscriptions/${subscriptionId}/operationresults/[\\w-]+\\?api-version=2021-04-01$`));
    assert.equal((await fetch(poll, { headers: { Authorization: "Bearer local" } })).status, 200);

    assert.equal((await call("HEAD", group("rg-doomed"))).status, 404);
    assert.equal((await armFailure(() => server.compute.disks.get("rg-doomed", "d1"))).code, "ResourceGroupNotFound");
    assert.equal((await fetch(sas.accessSAS ?? "")).status, 403, "the snapshot's SAS dies with it");
    assert.equal((await fetch(exported.accessSAS ?? "")).status, 403, "the disk export's SAS dies with it");
    const left: string[] = [];
    for await (const d of server.compute.disks.list()) left.push(d.id ?? "");
    assert.ok(!left.some((id) => /\/rg-doomed\//i.test(id)), "no disk of the group is left");

    await call("PUT", group("rg-doomed"), { location: "eastus" });
    assert.equal((await armFailure(() => server.compute.disks.get("rg-doomed", "d1"))).code, "ResourceNotFound", "a recreated group starts empty");
    const missing = await call("DELETE", group("rg-nowhere"));
    assert.deepEqual([missing.status, (missing.body?.error as { code?: string } | undefined)?.code], [404, "ResourceGroupNotFound"]);
  });

  it("when nothing is said about groups, then the emulator serves those the tests and scripts use", async () => {
    const plain = await startDiskEmulatorServer();
    try {
      const names = (await new ResourceGroupControlClient(plain.baseUrl).listResourceGroups()).map((g) => g.name);
      for (const name of ["rg-app", "rg-restore", "rg-cli-restore", "rg-diskdelta", "rg-data", "rg-routes", "rg-demo", "rg-bench"]) {
        assert.ok(names.includes(name), `${name} exists by default`);
      }
    } finally {
      await plain.close();
    }
  });
});
