/**
 * The CLI's direct mode and `catalog rebuild` as an operator runs them, against the whole app on the local stack:
 * RestorePoints made by real BackupRuns, listed from the target account with no API URL at all, and records
 * recreated from the manifests by an app whose tables are empty.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import type { CatalogListing } from "../../src/adapters/target-catalog";
import { manifestBlobName, restorePointOfManifest } from "../../src/domain/manifest";
import type { RestorePoint } from "../../src/domain/records";
import type { CatalogRebuild } from "../../src/engine/catalog";
import { writeStackFile } from "../../emulator/stack";
import { GiB, MiB, useTestApp } from "../support/app";
import { emptyAppTables } from "../support/app-tables";
import { syncAndVerify } from "../support/backup";
import { type CliRun, runCli } from "../support/cli-process";
import { targetBlobService } from "../support/stack";

describe("diskdelta CLI direct mode against the local stack", () => {
  const app = useTestApp();
  let direct: Record<string, string>;
  let diskId: string;
  let diskKey: string;
  let points: RestorePoint[];
  const cli = async (env: Record<string, string>, ...args: string[]): Promise<CliRun> => {
    const run = await runCli(args, env);
    for (const secret of [app().stack.target.accountKey, app().host.functionKey]) {
      assert.ok(!run.stdout.includes(secret) && !run.stderr.includes(secret), `a secret was printed by: diskdelta ${args.join(" ")}`);
    }
    return run;
  };
  const succeeds = async (env: Record<string, string>, ...args: string[]): Promise<string> => {
    const run = await cli(env, ...args);
    assert.equal(run.code, 0, `diskdelta ${args.join(" ")} exited ${run.code}:\n${run.stderr}${run.stdout}`);
    return run.stdout;
  };

  before(async () => {
    const { stack } = app();
    diskId = await app().createDisk("disk-direct", GiB);
    stack.disks.writeSeeded(diskId, 0, 2 * MiB, 31);
    diskKey = await app().protect(diskId, { target: { blobEndpoint: stack.target.blobEndpoint, container: "backups", storageAccountId: stack.target.resourceId } });
    await syncAndVerify(app(), diskKey);
    stack.disks.writeSeeded(diskId, 512 * MiB, MiB, 32);
    await syncAndVerify(app(), diskKey);
    points = await app().restorePoints(diskKey);
    const stackFile = join(mkdtempSync(join(tmpdir(), "diskdelta-direct-")), "stack.json");
    writeStackFile(stack, stackFile);
    // No API URL, no function key: only the stack file (the local stand-in for `az login`) and the CA that signs its endpoint.
    direct = { DISKDELTA_LOCAL_STACK_FILE: stackFile, NODE_EXTRA_CA_CERTS: stack.caCertPath };
  });

  it("when restore-points is given a target account and no API URL, then the RestorePoints are listed from their manifests, newest first", async () => {
    const endpoint = app().stack.target.blobEndpoint;
    const listing = JSON.parse(await succeeds(direct, "restore-points", "--target-account", endpoint, "--json")) as CatalogListing;
    assert.deepEqual(listing.problems, []);
    assert.deepEqual(listing.restorePoints.map((p) => [p.restorePointId, p.dataPresent]), points.map((p) => [p.restorePointId, true]));
    const [newest] = listing.restorePoints;
    assert.deepEqual(restorePointOfManifest(newest, app().deps.targets(newest.target).url), points[0], "the manifest describes the recorded RestorePoint");
    assert.equal(newest.disk.sizeBytes, GiB);

    const text = await succeeds(direct, "restore-points", "--target-account", endpoint, "--container", "backups", "--disk", diskId);
    assert.match(text, /^RESTORE POINT\s+DISK KEY\s+DISK\s+SOURCE SNAPSHOT TIME\s+CREATED\s+COPY\s+DISK SIZE\s+OS\s+SECURITY\s+DATA$/m);
    assert.match(text, new RegExp(`^${points[0].restorePointId}\\s+${diskKey}\\s+disk-direct \\(rg-app\\)\\s.*\\sdiff\\s+1\\.0 GiB\\s.*present$`, "m"));
    assert.match(text, new RegExp(`^${points[1].restorePointId}\\s.*\\sfull\\s`, "m"));
    assert.match(await succeeds(direct, "restore-points", "--target-account", endpoint, "--disk", "0000000000000000"), /^No RestorePoints found in the target account\.\n$/);
  });

  it("when a manifest in the target account is broken, then it is listed as a problem and the others still are", async () => {
    const { stack } = app();
    const container = targetBlobService(stack).getContainerClient("backups");
    const name = manifestBlobName(`disk-direct-${diskKey}.vhd`, "rp-broken");
    await container.getBlockBlobClient(name).upload("{}", 2);
    try {
      const text = await succeeds(direct, "restore-points", "--target-account", stack.target.blobEndpoint);
      assert.match(text, new RegExp(`^${points[0].restorePointId}\\s`, "m"));
      assert.match(text, new RegExp(`^1 manifest\\(s\\) cannot be used:\\n  backups/${name.replace(/\./g, "\\.")}: not a RestorePoint manifest`, "m"));
    } finally {
      await container.getBlockBlobClient(name).delete();
    }
  });

  it("when the target account does not exist, then the CLI exits 1 and names it", async () => {
    const unknown = new URL(app().stack.target.blobEndpoint);
    unknown.pathname = "/nosuchaccount";
    const run = await cli(direct, "restore-points", "--target-account", unknown.toString());
    assert.equal(run.code, 1);
    assert.equal(run.stdout, "");
    assert.match(run.stderr, /^error: TargetAccountUnreachable: the storage account at https:\/\/\S+\/nosuchaccount cannot be listed \(\S+.*\): check the blob endpoint/);
  });

  it("when a RestorePoint id is not in the target account, then restore exits 1 with RestorePointNotFound and how to list them", async () => {
    const endpoint = app().stack.target.blobEndpoint;
    const run = await cli(direct, "restore", diskKey, "rp-nope", "--target-account", endpoint, "--name", "never", "--resource-group", "rg-restore", "--location", app().stack.target.location);
    assert.equal(run.code, 1);
    assert.equal(
      run.stderr,
      `error: RestorePointNotFound: no RestorePoint rp-nope of disk ${diskKey} in ${endpoint}\n` +
        `list the target account's RestorePoints with: diskdelta restore-points --target-account ${endpoint} --disk ${diskKey}\n`,
    );
  });

  it("when catalog rebuild runs on an app with empty tables, then it records what the manifests describe, equal to the lost records; run again, it finds them recorded", async () => {
    const { stack, host } = app();
    await emptyAppTables(stack);
    assert.deepEqual(await app().restorePoints(diskKey), []);
    const api = { DISKDELTA_API_URL: await host.listen(), DISKDELTA_FUNCTION_KEY: host.functionKey };
    const first = JSON.parse(await succeeds(api, "catalog", "rebuild", "--target-account", stack.target.blobEndpoint, "--json")) as CatalogRebuild;
    assert.deepEqual(first, { found: 2, recorded: 2, alreadyRecorded: 0, dataMissing: 0, problems: [] });
    assert.deepEqual(await app().restorePoints(diskKey), points, "the rebuilt records equal the lost ones, field for field");

    const again = await succeeds(api, "catalog", "rebuild", "--target-account", stack.target.blobEndpoint, "--container", "backups");
    assert.match(again, /Manifests found\s+2\nRecorded now\s+0\nAlready recorded\s+2\nData missing\s+0\nProblems\s+0/);
    assert.deepEqual(await app().restorePoints(diskKey), points);
  });
});
