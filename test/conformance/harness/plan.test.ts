/**
 * The live plan: what `conformance --live --plan` prints, read from the env file, with no network use at all.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, describe, it } from "node:test";
import { parseEnvText, parseLiveSettings } from "../live-settings";
import { conformancePlan, newRunPrefix, renderPlan, runPrefixPattern, suiteResources, type Placement } from "../plan";

const dist = resolve(__dirname, "..", "..", "..");
const runner = join(dist, "scripts", "conformance.js");
const noNetwork = join(dist, "test", "support", "no-network.js");
const prefix = "ddconf-202501021230-abcdef";
const subscription = "00000000-1111-2222-3333-444444444444";
const envText = `# a live conformance env file
AZURE_SUBSCRIPTION_ID=${subscription}
DISKDELTA_CONFORMANCE_SOURCE_RESOURCE_GROUP=rg-dd-src
DISKDELTA_CONFORMANCE_SOURCE_LOCATION=westeurope
DISKDELTA_CONFORMANCE_TARGET_RESOURCE_GROUP=rg-dd-dr
DISKDELTA_CONFORMANCE_TARGET_LOCATION=northeurope
DISKDELTA_CONFORMANCE_TARGET_STORAGE_ACCOUNT="ddconfdr"
`;
const place: Placement = parseLiveSettings(parseEnvText(envText), "test");

const src = `/subscriptions/${subscription}/resourceGroups/rg-dd-src/providers/Microsoft.Compute`;
const blob = "https://ddconfdr.blob.core.windows.net";
const expectedPlan = `conformance plan, run prefix ${prefix} (dry run: nothing was sent to Azure)
subscription ${subscription}
source: resource group rg-dd-src in westeurope (given; never created or deleted)
target: resource group rg-dd-dr in northeurope, storage account ddconfdr at ${blob} (given; never created or deleted)

suite disk-lifecycle
  create disk      ${src}/disks/${prefix}-empty
  delete disk      ${src}/disks/${prefix}-empty  (access revoked first; skipped if already gone)

suite snapshot-data
  create disk      ${src}/disks/${prefix}-data
  create snapshot  ${src}/snapshots/${prefix}-data-s1
  create snapshot  ${src}/snapshots/${prefix}-data-s2
  create container ${blob}/${prefix}
  create blob      ${blob}/${prefix}/copy.vhd
  delete blob      ${blob}/${prefix}/copy.vhd  (skipped if already gone)
  delete container ${blob}/${prefix}  (skipped if already gone)
  delete snapshot  ${src}/snapshots/${prefix}-data-s2  (access revoked first; skipped if already gone)
  delete snapshot  ${src}/snapshots/${prefix}-data-s1  (access revoked first; skipped if already gone)
  delete disk      ${src}/disks/${prefix}-data  (access revoked first; skipped if already gone)
`;

describe("conformance live plan", () => {
  const dir = mkdtempSync(join(tmpdir(), "ddconf-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  function runPlan(text: string, args = ["--live", "--plan"]) {
    const envFile = join(dir, "conformance.env");
    writeFileSync(envFile, text);
    return spawnSync(process.execPath, ["--require", noNetwork, runner, ...args], {
      encoding: "utf8",
      env: { PATH: process.env.PATH, DISKDELTA_CONFORMANCE_ENV: envFile, DISKDELTA_CONFORMANCE_PREFIX: prefix },
    });
  }

  it("when the plan is rendered, then it lists every create and delete in order, by ARM id and blob URL", () => {
    assert.equal(renderPlan(place, prefix), expectedPlan);
  });

  it("when `conformance --live --plan` runs with network use refused, then it prints exactly the plan and succeeds", () => {
    const run = runPlan(envText);
    assert.equal(run.stderr, "");
    assert.equal(run.status, 0);
    assert.equal(run.stdout, expectedPlan);
  });

  it("when the no-network preload is on, then a connection attempt fails (the plan test above would see one)", () => {
    const run = spawnSync(process.execPath, ["--require", noNetwork, "-e", "require('node:net').connect(443, '127.0.0.1')"], { encoding: "utf8" });
    assert.notEqual(run.status, 0);
    assert.match(run.stderr, /network use refused by no-network preload: socket connect/);
  });

  it("when the env file has bad and missing keys, then the runner names every one and stops before any plan", () => {
    const run = runPlan("AZURE_SUBSCRIPTION_ID=not-a-guid\nDISKDELTA_CONFORMANCE_TARGET_STORAGE_ACCOUNT=Bad_Name\n");
    assert.equal(run.status, 1);
    assert.equal(run.stdout, "");
    for (const key of [
      "AZURE_SUBSCRIPTION_ID",
      "DISKDELTA_CONFORMANCE_SOURCE_RESOURCE_GROUP",
      "DISKDELTA_CONFORMANCE_SOURCE_LOCATION",
      "DISKDELTA_CONFORMANCE_TARGET_RESOURCE_GROUP",
      "DISKDELTA_CONFORMANCE_TARGET_LOCATION",
      "DISKDELTA_CONFORMANCE_TARGET_STORAGE_ACCOUNT",
    ]) {
      assert.match(run.stderr, new RegExp(`${key}:`), key);
    }
  });

  it("when --plan is given without --live, then the runner refuses", () => {
    const run = runPlan(envText, ["--plan"]);
    assert.equal(run.status, 1);
    assert.match(run.stderr, /use it with --live/);
  });

  it("when a plan is made, then every resource carries the run prefix and each suite deletes in the reverse order it creates", () => {
    const steps = conformancePlan(place, prefix);
    for (const step of steps) {
      const name = "id" in step.resource ? step.resource.name : step.resource.container;
      assert.ok(name.startsWith(prefix), name);
    }
    for (const suite of Object.keys(suiteResources(place, prefix))) {
      const of = (action: string) => steps.filter((s) => s.suite === suite && s.action === action).map((s) => s.resource);
      assert.deepEqual(of("delete"), [...of("create")].reverse());
    }
  });

  it("when prefixes are made, then they fit the pattern and names; a prefix not of the pattern is refused", () => {
    assert.equal(newRunPrefix(new Date("2025-01-02T12:30:59Z"), "abcdef"), prefix);
    assert.match(newRunPrefix(), runPrefixPattern);
    assert.throws(() => suiteResources(place, "prod"), /not of the form/);
  });
});
