/**
 * The source region is down: its compute and snapshot data endpoints, the app and its tables are gone, the target
 * region is not. An operator lists the RestorePoints from the target account alone and restores a data disk and a
 * Trusted Launch OS disk through ARM, with the CLI's direct mode; each restored disk holds exactly its RestorePoint's
 * data, the OS disk its VM guest state.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { CatalogListing } from "../../src/adapters/target-catalog";
import { parseDiskId } from "../../src/domain/model";
import type { RestorePoint } from "../../src/domain/records";
import type { RestoreResult } from "../../src/engine/restore";
import { sparseDigest } from "../../src/engine/verify";
import { restorePointDigest } from "../../src/engine/verify-restore-point";
import { writeStackFile } from "../../emulator/stack";
import { GiB, MiB, useTestApp } from "../support/app";
import { emptyAppTables } from "../support/app-tables";
import { syncAndVerify } from "../support/backup";
import { runCli } from "../support/cli-process";
import { sha256 } from "../support/restored";
import { recordOutcome } from "../support/reliability-report";

describe("region outage", () => {
  const app = useTestApp();

  /** Content digests of a RestorePoint's data and of a restored disk's (read as a VM would), without the VHD footer. */
  async function digests(point: RestorePoint, restoredDiskId: string): Promise<[string, string]> {
    const { deps, stack } = app();
    const sizeBytes = point.blobBytes - 512;
    const [expected, actual] = await Promise.all([
      restorePointDigest(deps, point, "disk"),
      sparseDigest({ sizeBytes, allocated: (window) => Promise.resolve([window]), read: async (range) => stack.disks.read(restoredDiskId, range.start, range.end - range.start) }),
    ]);
    return [expected.digest, actual.digest];
  }

  it("when the source region, the app and its tables are gone, then the CLI lists the RestorePoints from the target account and restores one whose content equals it", async () => {
    const { stack } = app();
    const diskId = await app().createDisk("disk-outage", GiB);
    stack.disks.writeSeeded(diskId, 4 * MiB, 3 * MiB, 41);
    stack.disks.writeSeeded(diskId, 700 * MiB, 512 * 1024, 42);
    const diskKey = await app().protect(diskId, { target: { blobEndpoint: stack.target.blobEndpoint, container: "backups", storageAccountId: stack.target.resourceId } });
    await syncAndVerify(app(), diskKey);
    stack.disks.writeSeeded(diskId, 5 * MiB, MiB, 43);
    const { point } = await syncAndVerify(app(), diskKey);
    stack.disks.writeSeeded(diskId, 0, MiB, 44); // after the last backup: not in any RestorePoint
    // A Trusted Launch OS disk beside it: its VM guest state must come back too.
    const osDisk = await app().compute.disks.createOrUpdate("rg-app", "disk-outage-os", {
      location: stack.arm.location, diskSizeGB: 1, creationData: { createOption: "Empty" },
      osType: "Linux", hyperVGeneration: "V2", securityProfile: { securityType: "TrustedLaunch" },
    }, { updateIntervalInMs: 10 });
    stack.disks.writeSeeded(osDisk.id!, 0, 2 * MiB, 45);
    const guestState = randomBytes(MiB);
    stack.disks.writeGuestState(osDisk.id!, guestState);
    const osKey = await app().protect(osDisk.id!, { target: { blobEndpoint: stack.target.blobEndpoint, container: "backups", storageAccountId: stack.target.resourceId } });
    const { point: osPoint } = await syncAndVerify(app(), osKey);

    // The source region goes down: its compute and snapshot data endpoints, the app and its tables.
    await app().host.stop();
    await emptyAppTables(stack);
    await stack.setRegionOutage(stack.arm.location, true);
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
    const [expected, actual] = await digests(point, result.diskId);
    assert.equal(actual, expected, "the restored disk holds the RestorePoint's content");
    assert.notEqual(actual, (await sparseDigest({ sizeBytes: diskBytes, allocated: (w) => Promise.resolve([w]), read: async (r) => stack.disks.read(diskId, r.start, r.end - r.start) })).digest, "and not the source disk's later writes");

    const osRestored = await runCli(
      ["restore", osKey, osPoint.restorePointId, "--target-account", stack.target.blobEndpoint, "--name", "disk-outage-os-restored",
        "--resource-group", "rg-restore", "--location", stack.target.location, "--json"],
      env,
    );
    assert.equal(osRestored.code, 0, osRestored.stderr);
    const os = JSON.parse(osRestored.stdout) as RestoreResult;
    assert.equal(os.createOption, "ImportSecure");
    assert.deepEqual([os.properties?.osType, os.properties?.hyperVGeneration, os.properties?.securityType], ["Linux", "V2", "TrustedLaunch"]);
    assert.equal(sha256(stack.disks.readGuestState(os.diskId)), sha256(guestState), "the restored OS disk has the snapshot's VM guest state");
    const [osExpected, osActual] = await digests(osPoint, os.diskId);
    assert.equal(osActual, osExpected, "the restored OS disk holds the RestorePoint's content");
    await stack.setRegionOutage(stack.arm.location, false);
    recordOutcome({
      area: "region outage",
      scenario: "the app and its tables are gone; list and restore from the target account alone (CLI direct mode)",
      runs: 2,
      faults: "source region down (compute, snapshot data), app stopped, its tables emptied",
      result: `${listing.restorePoints.length} RestorePoints of the data disk listed from their manifests, data present; restored data disk and Trusted Launch OS disk (ImportSecure) equal their RestorePoints, guest state equal by SHA-256`,
    });
  });
});
