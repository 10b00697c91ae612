/**
 * Disk Import reads a blob where it lies: on the local stack, as in Azure, a disk created with `Import` or
 * `ImportSecure` from a storage account of another region is refused (400 BadRequest), and ARM's Get of that
 * storage account reports the same region to any client — both follow the stack's `targetLocation`.
 */
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { before, describe, test } from "node:test";
import type { ComputeManagementClient } from "@azure/arm-compute";
import type { ContainerClient } from "@azure/storage-blob";
import { buildFixedVhdFooter } from "../../emulator/disks/vhd";
import type { LocalStack } from "../../emulator/stack";
import { armFailure, fastPolling } from "../support/disk-emulator-server";
import { computeClient, targetBlobService, useTestStack } from "../support/stack";

const MiB = 1024 * 1024;
const group = "rg-restore";

/** ARM's Get of a storage account as any client sends it: a bearer token, an api-version. */
async function getStorageAccount(stack: LocalStack, id: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const answer = await fetch(`${stack.arm.endpoint}${id}?api-version=2023-05-01`, { headers: { Authorization: "Bearer local" } });
  return { status: answer.status, body: (await answer.json()) as Record<string, unknown> };
}

function importRegionSuite(name: string, targetLocation: string | undefined) {
  describe(name, () => {
    const stack = useTestStack(targetLocation ? { targetLocation } : {});
    let compute: ComputeManagementClient;
    let sources: ContainerClient;
    let sourceUri: string;
    let securityDataUri: string;

    async function pageBlob(blobName: string, content: Buffer): Promise<string> {
      const blob = sources.getPageBlobClient(blobName);
      await blob.create(content.length);
      await blob.uploadPages(content, 0, content.length);
      return blob.url;
    }

    before(async () => {
      compute = computeClient(stack());
      sources = targetBlobService(stack()).getContainerClient("region-imports");
      await sources.create();
      const data = Buffer.concat([randomBytes(MiB), Buffer.alloc(MiB)]);
      sourceUri = await pageBlob("import.vhd", Buffer.concat([data, buildFixedVhdFooter(data.length, randomUUID(), new Date())]));
      securityDataUri = await pageBlob("import.vmgs", randomBytes(4096));
    });

    test("when ARM is asked for the target storage account, then it reports the stack's target region", async () => {
      const { status, body } = await getStorageAccount(stack(), stack().target.resourceId);
      assert.equal(status, 200, JSON.stringify(body));
      assert.equal(body.location, stack().target.location);
      assert.equal(body.id, stack().target.resourceId);
      if (targetLocation) assert.equal(body.location, targetLocation);
      const missing = await getStorageAccount(stack(), stack().target.resourceId.replace(/[^/]+$/, "nosuchaccount"));
      assert.equal(missing.status, 404);
    });

    test("when a disk is imported from the target account into another region, then 400 BadRequest, as Azure, and no disk", async () => {
      const creationData = { createOption: "Import", sourceUri, storageAccountId: stack().target.resourceId };
      const failure = await armFailure(() => compute.disks.beginCreateOrUpdateAndWait(group, "import-elsewhere", { location: stack().arm.location, creationData }, fastPolling));
      assert.deepEqual([failure.status, failure.code], [400, "BadRequest"]);
      assert.match(failure.message, /does not belong to the same region as the disk/);
      await assert.rejects(compute.disks.get(group, "import-elsewhere"), { statusCode: 404 });
    });

    test("when a Trusted Launch disk is imported (ImportSecure) into another region, then 400 BadRequest too", async () => {
      const failure = await armFailure(() =>
        compute.disks.beginCreateOrUpdateAndWait(group, "import-secure-elsewhere", {
          location: stack().arm.location,
          osType: "Linux",
          hyperVGeneration: "V2",
          securityProfile: { securityType: "TrustedLaunch" },
          creationData: { createOption: "ImportSecure", sourceUri, securityDataUri, storageAccountId: stack().target.resourceId },
        }, fastPolling),
      );
      assert.deepEqual([failure.status, failure.code], [400, "BadRequest"]);
    });

    test("when a disk is imported in the account's own region (spelled as a display name), then it is created", async () => {
      const display = stack().target.location.replace(/^(north|west|south|east)(.*)$/, (_m, a: string, b: string) => `${a[0].toUpperCase()}${a.slice(1)} ${b[0].toUpperCase()}${b.slice(1)}`);
      const disk = await compute.disks.beginCreateOrUpdateAndWait(group, "import-here", { location: display, creationData: { createOption: "Import", sourceUri, storageAccountId: stack().target.resourceId } }, fastPolling);
      assert.equal(disk.provisioningState, "Succeeded");
      assert.equal(disk.diskSizeBytes, 2 * MiB);
    });
  });
}

importRegionSuite("Disk Import and the target account's region (default regions)", undefined);
importRegionSuite("Disk Import and the target account's region (targetLocation swedencentral)", "swedencentral");
