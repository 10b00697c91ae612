import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { queueNames } from "../../src/adapters/queues";
import { tableNames } from "../../src/adapters/tables";
import { protectedDiskInputSchema } from "../../src/domain/model";
import { metricCatalog } from "../../src/host/metrics";
import { bicepMultilineStrings, bicepStringArrayVar, bicepStringVar, readRepoFile, repoRoot } from "../support/bicep-text";

const sorted = (values: Iterable<string>) => [...new Set(values)].sort();

/** Every TypeScript file under `dir`. */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

describe("infra/ and the names the code uses", () => {
  const appStorage = readRepoFile("infra/modules/app-storage.bicep");

  test("when the app storage is provisioned, then it has exactly the chain's queues and the records' tables", () => {
    assert.deepEqual(sorted(bicepStringArrayVar(appStorage, "queueNames")), sorted(Object.values(queueNames)));
    assert.deepEqual(sorted(bicepStringArrayVar(appStorage, "tableNames")), sorted(Object.values(tableNames)));
  });

  test("when a disk is protected without a container, then the default container is the one provisioned", () => {
    const input = protectedDiskInputSchema.parse({
      diskId: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/disks/d",
      target: { blobEndpoint: "https://account.blob.core.windows.net" },
    });
    assert.equal(bicepStringVar(readRepoFile("infra/modules/target.bicep"), "containerName"), input.target.container);
  });
});

describe("custom roles and src/adapters/compute.ts", () => {
  const diskOperations = "Microsoft.Compute/locations/diskOperations/read";
  // What each SDK call needs. Long-running ones also poll their operation; creating a snapshot from a disk is
  // checked against read access to the disk's data.
  const snapshotsRoleCalls: Record<string, string[]> = {
    "disks.get": ["Microsoft.Compute/disks/read"],
    "virtualMachines.get": ["Microsoft.Compute/virtualMachines/read"],
    "snapshots.get": ["Microsoft.Compute/snapshots/read"],
    "snapshots.listByResourceGroup": ["Microsoft.Compute/snapshots/read"],
    "snapshots.createOrUpdate": ["Microsoft.Compute/snapshots/write", "Microsoft.Compute/disks/beginGetAccess/action", diskOperations],
    "snapshots.grantAccess": ["Microsoft.Compute/snapshots/beginGetAccess/action", diskOperations],
    "snapshots.revokeAccess": ["Microsoft.Compute/snapshots/endGetAccess/action", diskOperations],
    "snapshots.delete": ["Microsoft.Compute/snapshots/delete", diskOperations],
    // startSnapshotCopy (CopyStart): writes the target snapshot, reads the source snapshot (assumed: the action
    // checked on the source is not documented).
    "snapshots.beginCreateOrUpdate": ["Microsoft.Compute/snapshots/write", "Microsoft.Compute/snapshots/read", diskOperations],
  };
  const restoreRoleCalls: Record<string, string[]> = {
    "disks.beginCreateOrUpdate": ["Microsoft.Compute/disks/write", "Microsoft.Compute/disks/read", diskOperations],
  };
  const drillRoleCalls: Record<string, string[]> = {
    "disks.grantAccess": ["Microsoft.Compute/disks/beginGetAccess/action"],
    "disks.revokeAccess": ["Microsoft.Compute/disks/endGetAccess/action"],
    "disks.delete": ["Microsoft.Compute/disks/delete"],
    "disks.listByResourceGroup": [],
  };
  const roles = readRepoFile("infra/modules/roles.bicep");

  test("when compute.ts calls the compute API, then every call is one the roles were derived from", () => {
    const calls = sorted([...readRepoFile("src/adapters/compute.ts").matchAll(/\.(disks|snapshots|virtualMachines)\.(\w+)\(/g)].map((m) => `${m[1]}.${m[2]}`));
    assert.deepEqual(calls, sorted([...Object.keys(snapshotsRoleCalls), ...Object.keys(restoreRoleCalls), ...Object.keys(drillRoleCalls)]));
  });

  test("when compute.ts reads the target storage account's region, then the target account role holds exactly that read", () => {
    const compute = readRepoFile("src/adapters/compute.ts");
    assert.match(compute, /async storageAccountLocation\(/);
    assert.deepEqual(sorted(bicepStringArrayVar(roles, "targetAccountActions")), ["Microsoft.Storage/storageAccounts/read"]);
    const target = readRepoFile("infra/modules/target.bicep");
    assert.match(target, /scope: account\n {2}properties: \{\n {4}roleDefinitionId: targetAccountRoleDefinitionId/, "assigned on the target account only");
    // Managed copies create and delete their snapshots in the target resource group.
    assert.match(target, /roleDefinitionId: snapshotsRoleDefinitionId/);
  });

  test("when the roles are defined, then they hold exactly the actions of those calls and nothing more", () => {
    assert.deepEqual(sorted(bicepStringArrayVar(roles, "snapshotsActions")), sorted(Object.values(snapshotsRoleCalls).flat()));
    assert.deepEqual(sorted(bicepStringArrayVar(roles, "restoreActions")), sorted(Object.values(restoreRoleCalls).flat()));
    // disks.listByResourceGroup (the drill sweep) needs disks/read, which the restore role on the same group has.
    assert.deepEqual(sorted(bicepStringArrayVar(roles, "drillActions")), sorted(Object.values(drillRoleCalls).flat()));
  });
});

describe("telemetry names in alerts and the workbook", () => {
  const alertQueries = bicepMultilineStrings(readRepoFile("infra/modules/alerts.bicep"));
  const workbook = JSON.parse(readRepoFile("infra/workbook/diskdelta.workbook.json")) as { items: { content?: { query?: string } }[] };
  const workbookQueries = workbook.items.flatMap((item) => (item.content?.query ? [item.content.query] : []));
  const queries = [...alertQueries, ...workbookQueries].join("\n");
  const source = sourceFiles(join(repoRoot, "src")).map((path) => readFileSync(path, "utf8")).join("\n");

  test("when a query reads a metric, then the catalog defines it", () => {
    const used = sorted([...queries.matchAll(/"(diskdelta\.[a-z_.]+)"/g)].map((m) => m[1]));
    assert.ok(used.length > 0);
    assert.deepEqual(used.filter((name) => !(name in metricCatalog)), []);
  });

  test("when the code records a metric, then the catalog defines its instrument", () => {
    const recorded = sorted([...source.matchAll(/metrics\.record\(\s*"([^"]+)"/g)].map((m) => m[1]));
    assert.deepEqual(recorded.filter((name) => !(name in metricCatalog)), [], "add the name to metricCatalog in src/host/metrics.ts");
  });

  test("when the catalog defines a metric, then the code records it", () => {
    const recorded = new Set([...source.matchAll(/metrics\.record\(\s*"([^"]+)"/g)].map((m) => m[1]));
    assert.deepEqual(Object.keys(metricCatalog).filter((name) => !recorded.has(name)), []);
  });

  test("when a query reads a log line, then the code still writes that message with the fields the query reads", () => {
    const messages = sorted([...queries.matchAll(/message has "([^"]+)"/g)].map((m) => m[1]));
    assert.ok(messages.length > 0);
    const calls = messages.map((message) => {
      const call = new RegExp(`log\\.(info|warn|error)\\(\\s*"${message}"[^\\n]*`).exec(source);
      assert.ok(call, `no log line "${message}" in src/`);
      return call[0];
    });
    const fields = sorted([...queries.matchAll(/entry\.(\w+)/g)].map((m) => m[1])).filter((field) => field !== "message");
    assert.deepEqual(fields.filter((field) => !calls.some((call) => new RegExp(`\\b${field}\\b`).test(call))), []);
  });

  test("when a query reads the host's requests, then it names a function the app registers", () => {
    const functions = sorted([...queries.matchAll(/operation_Name == "(\w+)"/g)].map((m) => m[1]));
    assert.ok(functions.length > 0);
    for (const name of functions) assert.match(source, new RegExp(`name: "${name}"`));
  });
});
