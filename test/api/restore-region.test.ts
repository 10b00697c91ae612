/**
 * A restore by Disk Import creates its disk where the RestorePoint's data is: the target storage account's region.
 * Through the HTTP API, a restore into another region (the source region, say) is refused with 400 naming
 * `location` before anything is asked of the disk service — nothing recorded, no disk — and one into the account's
 * region goes through, its disk equal to the RestorePoint's source.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ComputeGateway, ImportDiskRequest } from "../../src/engine/deps";
import { GiB, MiB, useTestApp } from "../support/app";
import { assertRestoredContent, restoreThroughApi } from "../support/restored";

type ErrorBody = { error: { code: string; message: string } };

describe("restore into the target storage account's region", () => {
  const app = useTestApp();

  it("when a blob RestorePoint is restored into the source region, then 400 names location and the account's region, and the disk service is not asked", async () => {
    const diskId = await app().createDisk("disk-region-1", 1 * GiB);
    app().stack.disks.writeSeeded(diskId, 5 * MiB, 3 * MiB, 11);
    const diskKey = await app().protect(diskId, { target: { blobEndpoint: app().stack.target.blobEndpoint, container: "backups", storageAccountId: app().stack.target.resourceId } });
    await app().sync(diskKey);
    const [point] = await app().restorePoints(diskKey);

    const imports: ImportDiskRequest[] = [];
    const compute: ComputeGateway = {
      ...app().deps.compute,
      beginImportDisk: (request) => (imports.push(request), app().deps.compute.beginImportDisk(request)),
      importDisk: (request) => (imports.push(request), app().deps.compute.importDisk(request)),
    };
    const watched = app().withDeps({ ...app().deps, compute });
    const refused = await restoreThroughApi(watched, diskKey, point.restorePointId, { name: "restored-in-source", resourceGroup: "rg-app", location: app().stack.arm.location });
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    const { code, message } = (refused.body as ErrorBody).error;
    assert.equal(code, "InvalidRequest");
    assert.match(message, new RegExp(`^location: ${app().stack.arm.location} is not the region of the target storage account .*give location ${app().stack.target.location}`));
    assert.deepEqual(imports, [], "nothing was sent to the disk service");
    const restores = await app().host.invokeHttp("GET", `/api/disks/${diskKey}/restores`);
    assert.deepEqual((restores.body as { restores: unknown[] }).restores, [], "no restore recorded");
    await assert.rejects(app().compute.disks.get("rg-app", "restored-in-source"), { statusCode: 404 });

    const accepted = await restoreThroughApi(watched, diskKey, point.restorePointId, { name: "restored-in-target", resourceGroup: "rg-restore", location: app().stack.target.location });
    assert.equal(accepted.restore?.state, "succeeded", JSON.stringify(accepted.body ?? accepted.restore));
    assert.equal(imports.length, 1);
    await assertRestoredContent(app(), accepted.restore.newDiskId, point, "check-region-1");
  });

  it("when the storage account's region cannot be read, then the disk service is the judge: its BadRequest fails the restore", async () => {
    const diskId = await app().createDisk("disk-region-2", 1 * GiB);
    app().stack.disks.writeSeeded(diskId, 1 * MiB, 1 * MiB, 12);
    const diskKey = await app().protect(diskId, { target: { blobEndpoint: app().stack.target.blobEndpoint, container: "backups", storageAccountId: app().stack.target.resourceId } });
    await app().sync(diskKey);
    const [point] = await app().restorePoints(diskKey);
    const blind = app().withDeps({ ...app().deps, compute: { ...app().deps.compute, storageAccountLocation: async () => undefined } });
    const answer = await restoreThroughApi(blind, diskKey, point.restorePointId, { name: "restored-blind", resourceGroup: "rg-app", location: app().stack.arm.location });
    assert.equal(answer.status, 202, JSON.stringify(answer.body));
    assert.equal(answer.restore?.state, "failed");
    assert.match(answer.restore?.error ?? "", /does not belong to the same region as the disk/);
  });
});
