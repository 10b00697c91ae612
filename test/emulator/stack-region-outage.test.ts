/**
 * A source-region outage on the local stack (`setRegionOutage`), through the real SDK clients: ARM compute about the
 * region's resource groups answers 503, its snapshot data URLs reset the connection, and Put Page From URL from them
 * fails with CannotVerifyCopySource, while the target region (its groups, its blob storage, disk Import) keeps
 * working; once the region is back, so is everything (an unexpired SAS included).
 */
import assert from "node:assert/strict";
import { createHash, randomUUID } from "node:crypto";
import { before, describe, test } from "node:test";
import { ComputeManagementClient } from "@azure/arm-compute";
import { AnonymousCredential, PageBlobClient, type ContainerClient } from "@azure/storage-blob";
import { BehaviourControlClient } from "../../emulator/behaviour";
import { buildFixedVhdFooter } from "../../emulator/disks/vhd";
import { armFailure, fastPolling, resourceGroup as sourceGroup } from "../support/disk-emulator-server";
import { targetBlobService, useTestStack } from "../support/stack";
import { rejectsWithStorageError } from "./storage-errors";

const MiB = 1024 * 1024;
const targetGroup = "rg-restore";
const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

describe("a region outage", () => {
  const stack = useTestStack();
  let compute: ComputeManagementClient;
  let sourceRegion: string;
  let snapshotSas: string;
  let restorePoints: ContainerClient;
  let diskBytes: Buffer;

  /** A data URL client that fails at once instead of retrying the reset. */
  const dataClient = (url: string) => new PageBlobClient(url, new AnonymousCredential(), { retryOptions: { maxTries: 1 } });

  before(async () => {
    // No retries: a 503 should be seen, not waited out.
    compute = new ComputeManagementClient(stack().arm.credential, stack().arm.subscriptionId, {
      endpoint: stack().arm.endpoint,
      retryOptions: { maxRetries: 0 },
    });
    sourceRegion = stack().arm.location;
    const disk = await compute.disks.beginCreateOrUpdateAndWait(
      sourceGroup,
      "outage-source",
      { location: sourceRegion, diskSizeGB: 1, creationData: { createOption: "Empty" } },
      fastPolling,
    );
    stack().disks.writeSeeded(disk.id ?? "", 0, 4 * MiB, 42);
    diskBytes = stack().disks.read(disk.id ?? "", 0, 4 * MiB);
    await compute.snapshots.beginCreateOrUpdateAndWait(
      sourceGroup,
      "outage-snap",
      { location: sourceRegion, incremental: true, creationData: { createOption: "Copy", sourceResourceId: disk.id } },
      fastPolling,
    );
    const access = await compute.snapshots.beginGrantAccessAndWait(sourceGroup, "outage-snap", { access: "Read", durationInSeconds: 3600 }, fastPolling);
    snapshotSas = access.accessSAS ?? "";
    restorePoints = targetBlobService(stack()).getContainerClient("outage-restores");
    await restorePoints.create();
  });

  test("when the source region is down, then its compute and data fail as unreachable while the target region's import and storage work; back up, then all works", async () => {
    await stack().setRegionOutage(sourceRegion, true);
    try {
      const get = await armFailure(() => compute.snapshots.get(sourceGroup, "outage-snap"));
      assert.deepEqual([get.status, get.code], [503, "ServiceUnavailable"]);
      const grant = await armFailure(() =>
        compute.snapshots.beginGrantAccessAndWait(sourceGroup, "outage-snap", { access: "Read", durationInSeconds: 60 }, fastPolling),
      );
      assert.deepEqual([grant.status, grant.code], [503, "ServiceUnavailable"]);
      const diskGet = await armFailure(() => compute.disks.get(sourceGroup, "outage-source"));
      assert.equal(diskGet.status, 503);

      // The snapshot's storage host is gone: the connection is reset, no answer comes.
      await assert.rejects(dataClient(snapshotSas).downloadToBuffer(0, 512), (error: unknown) => {
        assert.ok(error instanceof Error);
        assert.equal((error as { statusCode?: number }).statusCode, undefined, "no HTTP answer is expected");
        return true;
      });
      const target = restorePoints.getPageBlobClient("during-outage.vhd");
      await target.create(4 * MiB + 512);
      await rejectsWithStorageError(target.uploadPagesFromURL(snapshotSas, 0, 0, MiB), 500, "CannotVerifyCopySource");

      // The target region: its blob storage and a disk Import into its resource group.
      await target.uploadPages(diskBytes, 0, 4 * MiB);
      await target.uploadPages(buildFixedVhdFooter(4 * MiB, randomUUID(), new Date()), 4 * MiB, 512);
      const restored = await compute.disks.beginCreateOrUpdateAndWait(
        targetGroup,
        "outage-restore",
        {
          location: stack().target.location,
          creationData: { createOption: "Import", sourceUri: target.url, storageAccountId: stack().target.resourceId },
        },
        fastPolling,
      );
      assert.equal(sha256(stack().disks.read(restored.id ?? "", 0, 4 * MiB)), sha256(diskBytes));
    } finally {
      await stack().setRegionOutage(sourceRegion, false);
    }

    assert.equal((await compute.snapshots.get(sourceGroup, "outage-snap")).name, "outage-snap");
    assert.equal(sha256(await dataClient(snapshotSas).downloadToBuffer(0, 4 * MiB)), sha256(diskBytes));
    const after = restorePoints.getPageBlobClient("after-outage.vhd");
    await after.create(4 * MiB);
    await after.uploadPagesFromURL(snapshotSas, 0, 0, 4 * MiB);
    assert.equal(sha256(await after.downloadToBuffer()), sha256(diskBytes));
  });

  test("when the outage is switched over HTTP, then it applies and lifts the same way; a bad body is 400 InvalidBehaviour", async () => {
    const client = new BehaviourControlClient(stack().arm.endpoint);
    await client.setRegionOutage("West Europe", true);
    try {
      assert.equal((await armFailure(() => compute.snapshots.get(sourceGroup, "outage-snap"))).status, 503);
    } finally {
      await client.setRegionOutage(sourceRegion, false);
    }
    assert.equal((await compute.snapshots.get(sourceGroup, "outage-snap")).name, "outage-snap");
    await assert.rejects(client.setRegionOutage("", true), { status: 400, code: "InvalidBehaviour" });
  });
});
