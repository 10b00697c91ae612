/**
 * The source region is down: the app and its tables are gone, the target account is not. An operator lists the
 * RestorePoints from the target account alone and restores one through ARM, with the CLI's direct mode; the
 * restored disk holds exactly the RestorePoint's data.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { CatalogListing } from "../../src/adapters/target-catalog";
import { locationFromUrl } from "../../src/adapters/target-blob";
import { parseDiskId } from "../../src/domain/model";
import type { RestoreResult } from "../../src/engine/restore";
import { sparseDigest } from "../../src/engine/verify";
import { writeStackFile } from "../../emulator/stack";
import { GiB, MiB, useTestApp } from "../support/app";
import { emptyAppTables } from "../support/app-tables";
import { syncAndVerify } from "../support/backup";
import { runCli } from "../support/cli-process";
import { recordOutcome } from "../support/reliability-report";

describe("region outage", () => {
  const app = useTestApp();

  it("when the app and its tables are gone, then the CLI lists the RestorePoints from the target account and restores one whose content equals it", async () => {
    const { stack, deps } = app();
    const diskId = await app().createDisk("disk-outage", GiB);
    stack.disks.writeSeeded(diskId, 4 * MiB, 3 * MiB, 41);
    stack.disks.writeSeeded(diskId, 700 * MiB, 512 * 1024, 42);
    const diskKey = await app().protect(diskId, { target: { blobEndpoint: stack.target.blobEndpoint, container: "backups", storageAccountId: stack.target.resourceId } });
    await syncAndVerify(app(), diskKey);
    stack.disks.writeSeeded(diskId, 5 * MiB, MiB, 43);
    const { point } = await syncAndVerify(app(), diskKey);
    stack.disks.writeSeeded(diskId, 0, MiB, 44); // after the last backup: not in any RestorePoint

    // The source region goes down: no app, no tables.
    await app().host.stop();
    await emptyAppTables(stack);
    const stackFile = join(mkdtempSync(join(tmpdir(), "diskdelta-outage-")), "stack.json");
    writeStackFile(stack, stackFile);
    const env = { DISKDELTA_LOCAL_STACK_FILE: stackFile, NODE_EXTRA_CA_CERTS: stack.caCertPath };

    const listed = await runCli(["restore-points", "--target-account", stack.target.blobEndpoint, "--disk", diskKey, "--json"], env);
    assert.equal(listed.code, 0, listed.stderr);
    const listing = JSON.parse(listed.stdout) as CatalogListing;
    assert.deepEqual(listing.restorePoints.map((p) => [p.restorePointId, p.dataPresent]).slice(0, 1), [[point.restorePointId, true]], "the newest first, with its data");
    assert.equal(listing.restorePoints.length, 2);

    const restored = await runCli(
      ["restore", diskKey, point.restorePointId, "--target-account", stack.target.blobEndpoint, "--name", "disk-outage-restored",
        "--resource-group", "rg-restore", "--location", stack.target.location, "--json"],
      env,
    );
    assert.equal(restored.code, 0, restored.stderr);
    const result = JSON.parse(restored.stdout) as RestoreResult;
    assert.equal(result.sizeBytes, GiB);
    assert.equal(parseDiskId(result.diskId)?.resourceGroup, "rg-restore");

    // The disk's data, not the VHD footer: the RestorePoint's blob snapshot against the restored disk's content.
    const diskBytes = point.blobBytes - 512;
    const target = deps.targets(locationFromUrl(point.targetBlobUrl));
    const [expected, actual] = await Promise.all([
      sparseDigest({ sizeBytes: diskBytes, allocated: (window) => target.snapshotRanges(point.targetSnapshot, window), read: (range) => target.readSnapshot(point.targetSnapshot, range) }),
      sparseDigest({ sizeBytes: diskBytes, allocated: (window) => Promise.resolve([window]), read: async (range) => stack.disks.read(result.diskId, range.start, range.end - range.start) }),
    ]);
    assert.equal(actual.digest, expected.digest, "the restored disk holds the RestorePoint's content");
    assert.notEqual(actual.digest, (await sparseDigest({ sizeBytes: diskBytes, allocated: (w) => Promise.resolve([w]), read: async (r) => stack.disks.read(diskId, r.start, r.end - r.start) })).digest, "and not the source disk's later writes");
    recordOutcome({
      area: "region outage",
      scenario: "the app and its tables are gone; list and restore from the target account alone (CLI direct mode)",
      runs: 2,
      faults: "app stopped, its tables emptied",
      result: `${listing.restorePoints.length} RestorePoints listed from their manifests, data present; restored disk's content digest equals the newest RestorePoint's`,
    });
  });
});
