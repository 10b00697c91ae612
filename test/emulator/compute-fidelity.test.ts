/**
 * Contract tests for ARM compute behaviours beyond the newest api-version: every registered DiskRP api-version,
 * throttling (x-ms-ratelimit-remaining-resource, 429 with Retry-After), long-running operations that stay
 * InProgress with the Retry-After of the recorded azure-mgmt-compute session, and the PUTs ARM refuses outright
 * (a Copy across regions, an existing resource moved or changed where it cannot be, a name the rules refuse).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ComputeManagementClient } from "@azure/arm-compute";
import { RestError } from "@azure/core-rest-pipeline";
import { BehaviourSettings } from "../../emulator/behaviour";
import { diskApiVersions } from "../../emulator/compute/api-versions";
import {
  armFailure,
  createDiskWith,
  credential,
  location,
  resourceGroup,
  startDiskEmulatorServer,
  subscriptionId,
  type DiskEmulatorServer,
} from "../support/disk-emulator-server";

const poll = { updateIntervalInMs: 10 };
const noRetries = { retryOptions: { maxRetries: 0 } };

function armUrl(server: DiskEmulatorServer, path: string, apiVersion: string): string {
  return `${server.baseUrl}/subscriptions/${subscriptionId}${path}?api-version=${apiVersion}`;
}

async function armFetch(url: string, init: RequestInit = {}): Promise<Response> {
  return fetch(url, { ...init, headers: { Authorization: "Bearer local", "Content-Type": "application/json", ...init.headers } });
}

describe("ARM api-versions", () => {
  let server: DiskEmulatorServer;
  before(async () => {
    server = await startDiskEmulatorServer();
  });
  after(() => server.close());

  test("when a client pinned to api-version 2022-07-02 creates, snapshots, exports and deletes, then every call is served", async () => {
    const compute = new ComputeManagementClient(credential, subscriptionId, { endpoint: server.baseUrl, apiVersion: "2022-07-02" });
    const disk = await compute.disks.beginCreateOrUpdateAndWait(
      resourceGroup,
      "v2022-disk",
      { location, creationData: { createOption: "Empty" }, diskSizeGB: 1 },
      poll,
    );
    const snapshot = await compute.snapshots.beginCreateOrUpdateAndWait(
      resourceGroup,
      "v2022-snap",
      { location, incremental: true, creationData: { createOption: "Copy", sourceResourceId: disk.id } },
      poll,
    );
    assert.equal(snapshot.creationData?.sourceUniqueId, disk.uniqueId);
    const access = await compute.snapshots.beginGrantAccessAndWait(resourceGroup, "v2022-snap", { access: "Read", durationInSeconds: 600 }, poll);
    assert.match(access.accessSAS ?? "", /\/md-/);
    await compute.snapshots.beginRevokeAccessAndWait(resourceGroup, "v2022-snap", poll);
    const names: string[] = [];
    for await (const s of compute.snapshots.listByResourceGroup(resourceGroup)) names.push(s.name ?? "");
    assert.ok(names.includes("v2022-snap"));
    await compute.snapshots.beginDeleteAndWait(resourceGroup, "v2022-snap", poll);
  });

  test("when an operation starts under an older api-version, then its polling links carry that version, as ARM's do", async () => {
    const res = await armFetch(armUrl(server, `/resourceGroups/${resourceGroup}/providers/Microsoft.Compute/disks/v2019-disk`, "2019-07-01"), {
      method: "PUT",
      body: JSON.stringify({ location, properties: { creationData: { createOption: "Empty" }, diskSizeGB: 1 } }),
    });
    assert.equal(res.status, 202);
    assert.match(res.headers.get("azure-asyncoperation") ?? "", /&api-version=2019-07-01$/);
    assert.match(res.headers.get("location") ?? "", /&monitor=true&api-version=2019-07-01$/);
  });

  test("when every registered version reads a disk, then each gets the same answer", async () => {
    const bodies = new Set<string>();
    for (const version of diskApiVersions) {
      const res = await armFetch(armUrl(server, `/resourceGroups/${resourceGroup}/providers/Microsoft.Compute/disks/v2022-disk`, version));
      assert.equal(res.status, 200, version);
      bodies.add(await res.text());
    }
    assert.ok(diskApiVersions.includes("2019-07-01") && diskApiVersions.includes("2025-01-02"));
    assert.equal(bodies.size, 1);
  });

  test("when the api-version is not registered, then the answer is 400 NoRegisteredProviderFound listing the registered ones", async () => {
    const res = await armFetch(armUrl(server, `/resourceGroups/${resourceGroup}/providers/Microsoft.Compute/disks/v2022-disk`, "2016-01-01"));
    assert.equal(res.status, 400);
    const body = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, "NoRegisteredProviderFound");
    assert.match(body.error.message, /API version '2016-01-01' for type 'disks'\. The supported api-versions are '2025-01-02, .*2019-07-01/);
    assert.match(body.error.message, /location 'eastus'/);
  });
});

describe("compute throttling", () => {
  const behaviour = new BehaviourSettings({ computeRateLimits: { HighCostSnapshotCreateHydrate: [3, 5] } });
  let server: DiskEmulatorServer;
  let diskId: string;
  before(async () => {
    server = await startDiskEmulatorServer({ behaviour });
    const disk = await server.compute.disks.beginCreateOrUpdateAndWait(
      resourceGroup,
      "throttled-disk",
      { location, creationData: { createOption: "Empty" }, diskSizeGB: 1 },
      poll,
    );
    diskId = disk.id ?? "";
  });
  after(() => server.close());

  const snapshotUrl = (name: string) =>
    armUrl(server, `/resourceGroups/${resourceGroup}/providers/Microsoft.Compute/snapshots/${name}`, "2025-01-02");
  const createSnapshot = (name: string) =>
    armFetch(snapshotUrl(name), {
      method: "PUT",
      body: JSON.stringify({ location, properties: { incremental: true, creationData: { createOption: "Copy", sourceResourceId: diskId } } }),
    });

  test("when calls draw on a policy, then x-ms-ratelimit-remaining-resource counts down in both windows and reads use their own policy", async () => {
    const first = await createSnapshot("t1");
    assert.equal(first.status, 202);
    assert.equal(
      first.headers.get("x-ms-ratelimit-remaining-resource"),
      "Microsoft.Compute/HighCostSnapshotCreateHydrate3Min;2,Microsoft.Compute/HighCostSnapshotCreateHydrate30Min;4",
    );
    const grant = await armFetch(snapshotUrl("t1").replace("?", "/beginGetAccess?"), {
      method: "POST",
      body: JSON.stringify({ access: "Read", durationInSeconds: 60 }),
    });
    assert.equal(
      grant.headers.get("x-ms-ratelimit-remaining-resource"),
      "Microsoft.Compute/HighCostSnapshotCreateHydrate3Min;1,Microsoft.Compute/HighCostSnapshotCreateHydrate30Min;3",
    );
    const read = await armFetch(snapshotUrl("t1"));
    assert.match(read.headers.get("x-ms-ratelimit-remaining-resource") ?? "", /^Microsoft\.Compute\/LowCostGet3Min;\d+,Microsoft\.Compute\/LowCostGet30Min;\d+$/);
    const pollAnswer = await armFetch(grant.headers.get("azure-asyncoperation") ?? "");
    assert.match(pollAnswer.headers.get("x-ms-ratelimit-remaining-resource") ?? "", /^Microsoft\.Compute\/GetOperation3Min;\d+,/);
  });

  test("when a window is used up, then the call is 429 OperationNotAllowed with Retry-After and changes nothing", async () => {
    assert.equal((await createSnapshot("t2")).status, 202);
    const refused = await createSnapshot("t3");
    assert.equal(refused.status, 429);
    const retryAfter = Number(refused.headers.get("retry-after"));
    assert.ok(retryAfter > 0 && retryAfter <= 180, `Retry-After ${retryAfter}`);
    assert.equal(
      refused.headers.get("x-ms-ratelimit-remaining-resource"),
      "Microsoft.Compute/HighCostSnapshotCreateHydrate3Min;0,Microsoft.Compute/HighCostSnapshotCreateHydrate30Min;2",
    );
    const body = (await refused.json()) as { error: { code: string; details: { code: string; target: string }[] } };
    assert.equal(body.error.code, "OperationNotAllowed");
    assert.deepEqual(body.error.details.map((d) => [d.code, d.target]), [["TooManyRequests", "HighCostSnapshotCreateHydrate3Min"]]);
    assert.equal((await armFetch(snapshotUrl("t3"))).status, 404, "the refused create made no snapshot");
  });

  test("when the SDK meets the throttle with retries off, then it sees a RestError 429", async () => {
    const compute = new ComputeManagementClient(credential, subscriptionId, { endpoint: server.baseUrl, ...noRetries });
    await assert.rejects(
      compute.snapshots.beginCreateOrUpdateAndWait(
        resourceGroup,
        "t4",
        { location, incremental: true, creationData: { createOption: "Copy", sourceResourceId: diskId } },
        poll,
      ),
      (error: unknown) => error instanceof RestError && error.statusCode === 429,
    );
  });

  test("when the budget is raised at run time, then calls are admitted again", async () => {
    await behaviour.setComputeRateLimits({ HighCostSnapshotCreateHydrate: [100, 100] });
    assert.equal((await createSnapshot("t5")).status, 202);
    await assert.rejects(behaviour.setComputeRateLimits({ LowCostGet: [0, 1] }), /InvalidBehaviour|too_small|>0|positive/i);
  });
});

describe("long-running operations that take a while", () => {
  let server: DiskEmulatorServer;
  before(async () => {
    server = await startDiskEmulatorServer({ lroDelayMs: 400, lroRetryAfterSeconds: 2, lroPollRetryAfterSeconds: 1 });
  });
  after(() => server.close());

  test("when a PUT is polled, then the 202 and the first InProgress poll carry Retry-After, later polls none, then Succeeded", async () => {
    const res = await armFetch(armUrl(server, `/resourceGroups/${resourceGroup}/providers/Microsoft.Compute/disks/slow-raw`, "2022-07-02"), {
      method: "PUT",
      body: JSON.stringify({ location, properties: { creationData: { createOption: "Empty" }, diskSizeGB: 1 } }),
    });
    assert.equal(res.status, 202);
    assert.equal(res.headers.get("retry-after"), "2");
    const operation = res.headers.get("azure-asyncoperation") ?? "";
    const first = await armFetch(operation);
    assert.equal(first.headers.get("retry-after"), "1");
    const firstBody = (await first.json()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(firstBody), ["startTime", "status", "name"]);
    assert.equal(firstBody.status, "InProgress");
    const second = await armFetch(operation);
    assert.equal(second.headers.get("retry-after"), null);
    assert.equal(((await second.json()) as { status: string }).status, "InProgress");
    await new Promise((resolve) => setTimeout(resolve, 450));
    const done = await armFetch(operation);
    assert.equal(done.headers.get("retry-after"), null);
    const doneBody = (await done.json()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(doneBody), ["startTime", "endTime", "status", "properties", "name"]);
    assert.equal(doneBody.status, "Succeeded");
  });

  test("when a grant is polled, then no poll carries Retry-After, as in the recording", async () => {
    await server.compute.disks.beginCreateOrUpdateAndWait(resourceGroup, "slow-disk", { location, creationData: { createOption: "Empty" }, diskSizeGB: 1 }, poll);
    const disk = await server.compute.disks.get(resourceGroup, "slow-disk");
    await server.compute.snapshots.beginCreateOrUpdateAndWait(
      resourceGroup,
      "slow-snap",
      { location, incremental: true, creationData: { createOption: "Copy", sourceResourceId: disk.id } },
      poll,
    );
    const res = await armFetch(
      armUrl(server, `/resourceGroups/${resourceGroup}/providers/Microsoft.Compute/snapshots/slow-snap/beginGetAccess`, "2025-01-02"),
      { method: "POST", body: JSON.stringify({ access: "Read", durationInSeconds: 60 }) },
    );
    assert.equal(res.status, 202);
    assert.equal(res.headers.get("retry-after"), null);
    const first = await armFetch(res.headers.get("azure-asyncoperation") ?? "");
    assert.equal(((await first.json()) as { status: string }).status, "InProgress");
    assert.equal(first.headers.get("retry-after"), null);
  });

  test("when the SDK creates a snapshot, then its poller sees at least one InProgress poll before Succeeded", async () => {
    const disk = await server.compute.disks.get(resourceGroup, "slow-disk");
    const poller = await server.compute.snapshots.beginCreateOrUpdate(
      resourceGroup,
      "slow-sdk",
      { location, incremental: true, creationData: { createOption: "Copy", sourceResourceId: disk.id } },
      { updateIntervalInMs: 50 },
    );
    const states: string[] = [];
    poller.onProgress((state) => states.push(state.status));
    const snapshot = await poller.pollUntilDone();
    assert.equal(snapshot.provisioningState, "Succeeded");
    assert.ok(states.filter((s) => s === "running").length >= 1, `states seen: ${states.join(",")}`);
    assert.equal(states[states.length - 1], "succeeded");
  });
});

describe("PUTs that ARM refuses", () => {
  const otherRegion = "westus";
  let server: DiskEmulatorServer;
  let diskId: string;
  let snapshotId: string;
  before(async () => {
    server = await startDiskEmulatorServer();
    diskId = (await createDiskWith(server.compute, location, "refusals-disk")).id ?? "";
    const snapshot = await server.compute.snapshots.beginCreateOrUpdateAndWait(
      resourceGroup,
      "refusals-snap",
      { location, incremental: true, creationData: { createOption: "Copy", sourceResourceId: diskId } },
      poll,
    );
    snapshotId = snapshot.id ?? "";
  });
  after(() => server.close());

  const resourceUrl = (type: "disks" | "snapshots", name: string) =>
    armUrl(server, `/resourceGroups/${resourceGroup}/providers/Microsoft.Compute/${type}/${name}`, "2025-01-02");
  const put = (type: "disks" | "snapshots", name: string, body: unknown) =>
    armFetch(resourceUrl(type, name), { method: "PUT", body: JSON.stringify(body) });
  const errorOf = async (res: Response): Promise<Record<string, unknown>> => ({ status: res.status, ...((await res.json()) as { error: object }).error });

  test("when a snapshot is PUT with createOption Copy of a disk in another region, then 400 InvalidParameter naming location and no snapshot is made", async () => {
    const refused = await put("snapshots", "copy-of-disk-elsewhere", {
      location: otherRegion,
      properties: { incremental: true, creationData: { createOption: "Copy", sourceResourceId: diskId } },
    });
    assert.deepEqual(await errorOf(refused), {
      status: 400,
      code: "InvalidParameter",
      target: "location",
      message: `A snapshot copied from disk 'refusals-disk' must be in its region '${location}', not '${otherRegion}'.`,
    });
    assert.equal((await armFetch(resourceUrl("snapshots", "copy-of-disk-elsewhere"))).status, 404);
  });

  test("when a snapshot is PUT with createOption Copy of a snapshot in another region, then 400 InvalidParameter naming location: only CopyStart crosses regions", async () => {
    const refused = await put("snapshots", "copy-of-snap-elsewhere", {
      location: otherRegion,
      properties: { incremental: true, creationData: { createOption: "Copy", sourceResourceId: snapshotId } },
    });
    assert.deepEqual(await errorOf(refused), {
      status: 400,
      code: "InvalidParameter",
      target: "location",
      message: `A snapshot copied from snapshot 'refusals-snap' must be in its region '${location}', not '${otherRegion}'.`,
    });
    assert.equal((await armFetch(resourceUrl("snapshots", "copy-of-snap-elsewhere"))).status, 404);
    const copy = await server.compute.snapshots.beginCreateOrUpdateAndWait(
      resourceGroup,
      "copystart-elsewhere",
      { location: otherRegion, incremental: true, creationData: { createOption: "CopyStart", sourceResourceId: snapshotId } },
      poll,
    );
    assert.equal(copy.location, otherRegion);
  });

  test("when an existing snapshot is PUT again with another incremental, then 409 PropertyChangeNotAllowed and it stays incremental", async () => {
    const body = (incremental: boolean) => ({ location, incremental, creationData: { createOption: "Copy", sourceResourceId: diskId } });
    const failure = await armFailure(() => server.compute.snapshots.beginCreateOrUpdateAndWait(resourceGroup, "refusals-snap", body(false), poll));
    assert.deepEqual(failure, { status: 409, code: "PropertyChangeNotAllowed", message: "Changing property 'incremental' is not allowed." });
    assert.equal((await server.compute.snapshots.get(resourceGroup, "refusals-snap")).incremental, true);
    const again = await server.compute.snapshots.beginCreateOrUpdateAndWait(resourceGroup, "refusals-snap", body(true), poll);
    assert.equal(again.provisioningState, "Succeeded", "a PUT repeating the same incremental is accepted");
  });

  test("when an existing snapshot is PUT again with another source, then 409 PropertyChangeNotAllowed and its source is unchanged", async () => {
    const otherDisk = diskId.replace(/[^/]+$/, "some-other-disk");
    const failure = await armFailure(() =>
      server.compute.snapshots.beginCreateOrUpdateAndWait(resourceGroup, "refusals-snap", { location, incremental: true, creationData: { createOption: "Copy", sourceResourceId: otherDisk } }, poll),
    );
    assert.deepEqual(failure, { status: 409, code: "PropertyChangeNotAllowed", message: "Changing property 'creationData' is not allowed." });
    assert.equal((await server.compute.snapshots.get(resourceGroup, "refusals-snap")).creationData?.sourceResourceId?.toLowerCase(), diskId.toLowerCase());
  });

  test("when an existing disk or snapshot is PUT again in another location, then 409 InvalidResourceLocation with ARM's message and it stays where it was", async () => {
    const moved = (name: string) =>
      `The resource '${name}' already exists in location '${location}' in resource group '${resourceGroup}'. ` +
      `A resource with the same name cannot be created in location '${otherRegion}'. Please select a new resource name.`;
    const disk = await armFailure(() =>
      server.compute.disks.beginCreateOrUpdateAndWait(
        resourceGroup,
        "refusals-disk",
        { location: otherRegion, diskSizeGB: 1, creationData: { createOption: "Empty" } },
        poll,
      ),
    );
    assert.deepEqual(disk, { status: 409, code: "InvalidResourceLocation", message: moved("refusals-disk") });
    assert.equal((await server.compute.disks.get(resourceGroup, "refusals-disk")).location, location);
    const snapshot = await armFailure(() =>
      server.compute.snapshots.beginCreateOrUpdateAndWait(
        resourceGroup,
        "refusals-snap",
        { location: otherRegion, incremental: true, creationData: { createOption: "Copy", sourceResourceId: diskId } },
        poll,
      ),
    );
    assert.deepEqual(snapshot, { status: 409, code: "InvalidResourceLocation", message: moved("refusals-snap") });
    assert.equal((await server.compute.snapshots.get(resourceGroup, "refusals-snap")).location, location);
  });

  test("when a disk or snapshot name breaks the naming rules, then the PUT is 400 InvalidParameter naming disk.name or snapshot.name and nothing is made", async () => {
    const refused = async (type: "disks" | "snapshots", name: string) => {
      const body =
        type === "disks"
          ? { location, properties: { diskSizeGB: 1, creationData: { createOption: "Empty" } } }
          : { location, properties: { incremental: true, creationData: { createOption: "Copy", sourceResourceId: diskId } } };
      const error = await errorOf(await put(type, encodeURIComponent(name), body));
      assert.equal((await armFetch(resourceUrl(type, encodeURIComponent(name)))).status, 404, `${type} '${name}' was made`);
      return [error.status, error.code, error.target, error.message];
    };
    for (const name of ["d".repeat(81), "-leading-hyphen", "_leading-underscore", "trailing-hyphen-", "trailing.period.", "with space", "with~tilde"]) {
      assert.deepEqual(await refused("disks", name), [400, "InvalidParameter", "disk.name", "The value of parameter disk.name is invalid."], name);
    }
    assert.deepEqual(await refused("snapshots", "s".repeat(81)), [400, "InvalidParameter", "snapshot.name", "The value of parameter snapshot.name is invalid."]);
    for (const name of ["d".repeat(80), "a", "A.b-c_d", "ends_with_underscore_"]) {
      const disk = await createDiskWith(server.compute, location, name);
      assert.equal(disk.name, name);
    }
  });

  test("when an existing disk is PUT in another location and with another creationData, then ARM's location refusal comes first", async () => {
    const refused = await put("disks", "refusals-disk", { location: "West US", properties: { diskSizeGB: 1, creationData: { createOption: "Upload", uploadSizeBytes: 20 * 1024 * 1024 + 512 } } });
    const error = await errorOf(refused);
    assert.deepEqual([error.status, error.code], [409, "InvalidResourceLocation"]);
    assert.match(String(error.message), /in location 'westus'\. Please select/);
  });
});
