/**
 * The compiled `diskdelta` CLI as an operator runs it: a child process talking HTTP to the whole app on the local
 * stack, with the host polling its queues so that BackupRuns progress while the CLI waits.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { diskKeyOf } from "../../src/domain/model";
import type { RestorePoint } from "../../src/domain/records";
import { GiB, MiB, resourceGroup, useTestApp } from "../support/app";
import { runCli, useCliAgainst } from "../support/cli-process";

describe("diskdelta CLI against the local app", () => {
  const app = useTestApp();
  const { cli, succeeds, env } = useCliAgainst(app);

  it("when an operator protects, lists, syncs with --wait, inspects, verifies, restores and unprotects a disk, then each command reports it", async () => {
    const { stack, compute } = app();
    const diskId = await app().createDisk("disk-cli", 2 * GiB);
    stack.disks.writeSeeded(diskId, 0, 3 * MiB, 1);
    stack.disks.writeSeeded(diskId, GiB + 512, 1024, 2);
    const diskKey = diskKeyOf(diskId);

    const protectedText = await succeeds("protect", diskId, "--target-endpoint", stack.target.blobEndpoint, "--container", "backups",
      "--storage-account-id", stack.target.resourceId, "--schedule", "every 1d", "--keep-last", "3", "--rpo-alert-minutes", "1440");
    assert.match(protectedText, new RegExp(`as diskKey ${diskKey}`));
    assert.match(protectedText, /Retention\s+keep last 3/);

    const listed = await succeeds("list");
    assert.match(listed, /^DISK KEY\s+DISK\s+ENABLED/);
    assert.match(listed, new RegExp(`${diskKey}\\s+disk-cli \\(${resourceGroup}\\)\\s+yes\\s+every 1d\\s+never\\s+none`));

    const synced = await cli("sync", diskKey, "--wait", "--interval", "0.2", "--timeout", "120");
    assert.equal(synced.code, 0, synced.stderr + synced.stdout);
    assert.match(synced.stdout, /^BackupRun \S+ succeeded\./);
    assert.match(synced.stdout, /Copied\s+3\.0 MiB/, "3 MiB + 1 KiB of data + the VHD footer page");
    assert.match(synced.stderr, /BackupRun \S+ (queued|preparing|copying|finalizing|succeeded)/, "progress goes to stderr");

    const status = await succeeds("status", diskKey);
    assert.match(status, /Last run\s+succeeded/);
    assert.match(status, /Active run\s+none/);
    assert.match(status, /Newest RestorePoint\s+\S+ \(source snapshot /);

    const points = JSON.parse(await succeeds("restore-points", diskKey, "--json")) as { restorePoints: RestorePoint[] };
    assert.equal(points.restorePoints.length, 1);
    const [point] = points.restorePoints;
    assert.equal(point.bytesCopied, 3 * MiB + 1024 + 512);
    assert.match(await succeeds("restore-points", diskKey), new RegExp(`${point.restorePointId}\\s.*\\sfull\\s+2\\.0 GiB`));
    assert.match(await succeeds("runs", diskKey), new RegExp(`${point.runId}\\s+manual\\s+succeeded`));

    assert.match(await succeeds("verify", diskKey, point.restorePointId), /equals its source snapshot/);

    const restored = await succeeds("restore", diskKey, point.restorePointId, "--name", "disk-cli-restored", "--resource-group", "rg-cli-restore",
      "--location", stack.target.location);
    assert.match(restored, /Restored RestorePoint .* as a new managed disk/);
    const disk = await compute.disks.get("rg-cli-restore", "disk-cli-restored");
    assert.equal(disk.diskSizeGB, 2);

    assert.match(await succeeds("unprotect", diskKey), /Unprotected disk .*RestorePoints and the TargetBlob are kept/);
    assert.deepEqual((JSON.parse(await succeeds("list", "--json")) as { disks: unknown[] }).disks, []);
  });

  it("when an operator sets drills with update and runs `drill`, then it follows the drill's progress and reports the RTO; `drills` and `status` show it", async () => {
    const { stack } = app();
    const diskId = await app().createDisk("disk-cli-drill", GiB);
    stack.disks.writeSeeded(diskId, 5 * MiB, 2 * MiB, 7);
    const diskKey = diskKeyOf(diskId);
    await succeeds("protect", diskId, "--target-endpoint", stack.target.blobEndpoint, "--container", "backups", "--storage-account-id", stack.target.resourceId);
    const halfDrill = await cli("update", diskKey, "--drill-schedule", "every 7d");
    assert.equal(halfDrill.code, 2, "the three --drill-* options go together");
    await succeeds("update", diskKey, "--drill-schedule", "every 7d", "--drill-resource-group", "rg-cli-restore", "--drill-location", stack.target.location);
    await succeeds("sync", diskKey, "--wait", "--interval", "0.2", "--timeout", "120");
    const drilled = await cli("drill", diskKey, "--interval", "0.2", "--timeout", "120");
    assert.equal(drilled.code, 0, drilled.stderr + drilled.stdout);
    assert.match(drilled.stdout, /^Drill succeeded: the restored disk equals RestorePoint \S+ \(blob-snapshot\); the drill disk is deleted\./);
    assert.match(drilled.stdout, /RTO \(verified after\)\s+\d/);
    assert.match(drilled.stderr, /drill \S+: (restoring|comparing)/, "progress goes to stderr");
    assert.match(await succeeds("drills", diskKey), /^DRILL\s+STATE\s+TRIGGER[\s\S]*\ssucceeded\s+manual\s/);
    assert.match(await succeeds("status", diskKey), /Last drill\s+succeeded at .*, RTO /);
    await succeeds("update", diskKey, "--no-drill");
    assert.doesNotMatch(await succeeds("status", diskKey), /Last drill/);
    await succeeds("unprotect", diskKey);
  });

  it("when a disk is not protected, then status exits 1 with the API's error code and a hint", async () => {
    const run = await cli("status", "0000000000000000");
    assert.equal(run.code, 1);
    assert.equal(run.stdout, "");
    assert.match(run.stderr, /^error: DiskNotProtected \(HTTP 404\): no protected disk 0000000000000000\nlist protected disks with: diskdelta list/);
  });

  it("when the API refuses the input, then every problem is listed and the exit code is 1", async () => {
    const run = await cli("protect", "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/disks/d", "--target-endpoint", "http://insecure.example", "--schedule", "every 0m");
    assert.equal(run.code, 1);
    assert.match(run.stderr, /InvalidRequest \(HTTP 400\)/);
    assert.match(run.stderr, /\n {2}target\.blobEndpoint: must be the https blob endpoint/);
    assert.match(run.stderr, /\n {2}schedule: the interval must be at least 1/);
  });

  it("when the function key is wrong, then the CLI exits 1 with Unauthorized and never shows the key", async () => {
    const run = await runCli(["list", "--json"], { ...env(), DISKDELTA_FUNCTION_KEY: "not-the-key-0123456789" });
    assert.equal(run.code, 1);
    const error = JSON.parse(run.stderr) as { error: { code: string; status: number } };
    assert.deepEqual([error.error.code, error.error.status], ["Unauthorized", 401]);
    assert.ok(!run.stderr.includes("not-the-key-0123456789"));
  });

  it("when the command line is wrong, then the CLI exits 2 and says what to change", async () => {
    const missing = await cli("protect", "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/disks/d");
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^error: --target-endpoint is required\nsee: diskdelta protect --help/);
    const noUrl = await runCli(["list"], { DISKDELTA_LOCAL_DIR: "/nonexistent/diskdelta-no-local-app" });
    assert.equal(noUrl.code, 2);
    assert.match(noUrl.stderr, /no API URL: pass --api <url> or set DISKDELTA_API_URL .*, or run `npm start` in this clone for the local app/);
    const twoProblems = await cli("update", "0000000000000000", "--keep-last", "-1", "--max-age-days", "0");
    assert.equal(twoProblems.code, 2);
    assert.equal(twoProblems.stderr, 'error: 2 problems with the command line\n  --keep-last must be a positive number, not "-1"\n  --max-age-days must be a positive number, not "0"\nsee: diskdelta update --help\n');
  });
});
