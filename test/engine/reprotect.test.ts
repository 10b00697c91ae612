/**
 * Unprotect and protect again, end to end through the HTTP API as an operator would: the RestorePoints an
 * unprotect keeps stay listed (marked kept) and restorable, each restored disk equal on bytes to its RestorePoint's
 * source; protecting the disk again is refused until the caller chooses what becomes of the old chain — adopt it
 * (`adopt: true`: the RestorePoints come under the new protection and its retention) or start a new TargetBlob
 * (a new `target.blobName`: the old RestorePoints stay kept, never touched by the new retention).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type DiskList, formatDiskList } from "../../src/cli/format";
import type { BlobRestorePoint, RestorePoint } from "../../src/domain/records";
import { GiB, MiB, type TestApp, useTestApp } from "../support/app";
import { assertRestoredContent, assertRestoredDigest, restoreThroughApi } from "../support/restored";

type ErrorBody = { error: { code: string; message: string } };

/** The listing as the API answers it: the RestorePoints, which of them are kept, whether the disk is protected. */
async function listed(app: TestApp, diskKey: string): Promise<{ status: number; points: RestorePoint[]; kept: string[]; protected?: boolean; body: unknown }> {
  const answer = await app.host.invokeHttp("GET", `/api/disks/${diskKey}/restore-points`);
  const body = answer.body as { restorePoints?: RestorePoint[]; kept?: string[]; protected?: boolean };
  return { status: answer.status, points: body.restorePoints ?? [], kept: body.kept ?? [], protected: body.protected, body };
}

describe("unprotect, then protect again", () => {
  const app = useTestApp();
  let counter = 0;

  /** A disk protected (with the target account's id), synced twice with a change between, then unprotected. */
  async function unprotectedDisk(extra: Record<string, unknown> = {}): Promise<{ diskId: string; diskKey: string; points: BlobRestorePoint[] }> {
    const n = ++counter;
    const diskId = await app().createDisk(`disk-kept-${n}`, 1 * GiB);
    app().stack.disks.writeSeeded(diskId, 3 * MiB, 5 * MiB, 40 + n);
    const diskKey = await app().protect(diskId, { target: { blobEndpoint: app().stack.target.blobEndpoint, container: "backups", storageAccountId: app().stack.target.resourceId }, verifyAfterBackup: true, ...extra });
    await app().sync(diskKey);
    app().stack.disks.writeSeeded(diskId, 200 * MiB, 2 * MiB, 80 + n);
    await app().sync(diskKey);
    const points = await app().restorePoints(diskKey);
    assert.equal(points.length, 2);
    const unprotected = await app().host.invokeHttp("DELETE", `/api/disks/${diskKey}`);
    assert.equal(unprotected.status, 200, JSON.stringify(unprotected.body));
    return { diskId, diskKey, points };
  }

  function restoreBody(name: string): Record<string, unknown> {
    return { name, resourceGroup: "rg-restore", location: app().stack.target.location };
  }

  it("when a disk is unprotected, then its RestorePoints are still listed, marked kept, and each restores to a disk equal to its source", async () => {
    const { diskId, diskKey, points } = await unprotectedDisk();
    const after = await listed(app(), diskKey);
    assert.equal(after.status, 200, JSON.stringify(after.body));
    assert.deepEqual(after.points.map((p) => p.restorePointId), points.map((p) => p.restorePointId), "both RestorePoints are still listed");
    assert.deepEqual(after.kept, points.map((p) => p.restorePointId), "each is marked kept");
    assert.equal(after.protected, false);
    const list = await app().host.invokeHttp("GET", "/api/disks");
    const answer = list.body as DiskList;
    assert.ok(!answer.disks.some((d) => d.diskKey === diskKey), "not among the protected disks");
    assert.deepEqual(answer.kept?.find((k) => k.diskKey === diskKey), { diskKey, diskId, restorePoints: 2, newestSourceSnapshotTime: points[0].sourceSnapshotTime }, "listed as kept");
    const text = formatDiskList(answer);
    assert.match(text, /^Not protected, RestorePoints kept/m);
    assert.match(text, new RegExp(`^${diskKey} .* 2 +\\d{4}-`, "m"), "the CLI's list shows it with its RestorePoints");

    const [newest, oldest] = points;
    const restoredNewest = await restoreThroughApi(app(), diskKey, newest.restorePointId, restoreBody(`restored-kept-new-${counter}`));
    assert.equal(restoredNewest.status, 202, JSON.stringify(restoredNewest.body));
    assert.equal(restoredNewest.restore?.state, "succeeded", JSON.stringify(restoredNewest.restore));
    await assertRestoredContent(app(), restoredNewest.restore.newDiskId, newest, `check-kept-new-${counter}`);

    // The oldest RestorePoint's SourceSnapshot is gone (superseded): its data was verified against it at backup time.
    assert.equal((await app().verify(oldest)).equal, true);
    const restoredOldest = await restoreThroughApi(app(), diskKey, oldest.restorePointId, restoreBody(`restored-kept-old-${counter}`));
    assert.equal(restoredOldest.status, 202, JSON.stringify(restoredOldest.body));
    assert.equal(restoredOldest.restore?.state, "succeeded", JSON.stringify(restoredOldest.restore));
    await assertRestoredDigest(app(), restoredOldest.restore.newDiskId, oldest, `check-kept-old-${counter}`);
  });

  it("when an unprotected disk is protected again without saying what becomes of its old chain, then it is refused with 409 naming adopt and target.blobName, and nothing is written", async () => {
    const { diskId, diskKey } = await unprotectedDisk();
    const again = await app().host.invokeHttp("POST", "/api/disks", { diskId, target: { blobEndpoint: app().stack.target.blobEndpoint, container: "backups" } });
    assert.equal(again.status, 409, JSON.stringify(again.body));
    const { code, message } = (again.body as ErrorBody).error;
    assert.equal(code, "KeptRestorePoints");
    assert.match(message, /2 kept RestorePoints/);
    assert.match(message, /"adopt": true/);
    assert.match(message, /target\.blobName/);
    assert.equal((await app().host.invokeHttp("GET", `/api/disks/${diskKey}`)).status, 404, "the disk is not protected");
  });

  it("when protected again with adopt, then the answer says what was adopted, the old RestorePoints come under the new protection and its retention removes them in time", async () => {
    const { diskId, diskKey, points } = await unprotectedDisk();
    const adopted = await app().host.invokeHttp("POST", "/api/disks", { diskId, target: { blobEndpoint: app().stack.target.blobEndpoint, container: "backups", storageAccountId: app().stack.target.resourceId }, verifyAfterBackup: true, retention: { keepLast: 2 }, adopt: true });
    assert.equal(adopted.status, 201, JSON.stringify(adopted.body));
    const answer = adopted.body as { adopted?: { restorePoints: number; targetBlobUrl: string } };
    assert.deepEqual(answer.adopted, { restorePoints: 2, targetBlobUrl: points[0].targetBlobUrl });
    const now = await listed(app(), diskKey);
    assert.deepEqual(now.kept, [], "adopted: under the protection again");
    assert.equal(now.protected, true);

    app().stack.disks.writeSeeded(diskId, 400 * MiB, 1 * MiB, 500 + counter);
    await app().sync(diskKey);
    const after = await app().restorePoints(diskKey);
    assert.equal(after.length, 2, "keepLast 2 applies to the adopted RestorePoints");
    assert.equal(after[1].restorePointId, points[0].restorePointId, "the oldest adopted RestorePoint went to retention");
    for (const point of after) assert.equal((await app().verify(point)).equal, true);
  });

  it("when protected again with a new target.blobName, then the old RestorePoints stay kept, listed and restorable, and the new retention never deletes them", async () => {
    const { diskId, diskKey, points } = await unprotectedDisk();
    const fresh = await app().host.invokeHttp("POST", "/api/disks", { diskId, target: { blobEndpoint: app().stack.target.blobEndpoint, container: "backups", blobName: `fresh-${counter}.vhd`, storageAccountId: app().stack.target.resourceId }, retention: { keepLast: 1 } });
    assert.equal(fresh.status, 201, JSON.stringify(fresh.body));
    assert.equal((fresh.body as { adopted?: unknown }).adopted, undefined, "nothing adopted");
    for (let i = 0; i < 2; i++) {
      app().stack.disks.writeSeeded(diskId, (300 + i * 50) * MiB, 1 * MiB, 700 + i);
      await app().sync(diskKey);
    }
    const now = await listed(app(), diskKey);
    assert.equal(now.points.length, 3, "keepLast 1 of the new chain, and both kept ones");
    assert.deepEqual([...now.kept].sort(), points.map((p) => p.restorePointId).sort(), "the old RestorePoints are the kept ones");
    for (const point of points) assert.equal((await app().verify(point)).equal, true, "their data is intact");
    const restored = await restoreThroughApi(app(), diskKey, points[1].restorePointId, restoreBody(`restored-kept-fresh-${counter}`));
    assert.equal(restored.restore?.state, "succeeded", JSON.stringify(restored.body ?? restored.restore));
    await assertRestoredDigest(app(), restored.restore.newDiskId, points[1], `check-kept-fresh-${counter}`);
  });

  it("when a kept RestorePoint was recorded without the storage account's id, then its restore says to pass storageAccountId, and succeeds with it", async () => {
    const { diskKey, points } = await unprotectedDisk({ target: { blobEndpoint: app().stack.target.blobEndpoint, container: "backups" } });
    const refused = await restoreThroughApi(app(), diskKey, points[0].restorePointId, restoreBody(`restored-kept-noid-${counter}`));
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    assert.match((refused.body as ErrorBody).error.message, /storageAccountId: .*pass "storageAccountId"/);
    const given = await restoreThroughApi(app(), diskKey, points[0].restorePointId, { ...restoreBody(`restored-kept-noid-${counter}`), storageAccountId: app().stack.target.resourceId });
    assert.equal(given.restore?.state, "succeeded", JSON.stringify(given.body ?? given.restore));
    await assertRestoredContent(app(), given.restore.newDiskId, points[0], `check-kept-noid-${counter}`);
  });
});
