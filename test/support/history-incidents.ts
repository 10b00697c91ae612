/**
 * Outside events of the integrity property's histories, played on the local stack's real services: the TargetBlob
 * deleted with its snapshots, a run's own SourceSnapshot deleted while it copies (so that run fails midway), and a
 * second disk asking to be protected into a TargetBlob that is taken.
 */
import assert from "node:assert/strict";
import type { TargetLocation } from "../../src/adapters/target-blob";
import type { RunView } from "../../src/domain/records";
import { statusOf } from "../../src/domain/errors";
import { diskKeyOf } from "../../src/domain/model";
import { GiB, type TestApp } from "./app";
import { targetBlobService } from "./stack";

/** Deletes the TargetBlob and every blob snapshot of it (breaking a lease a run left behind first). */
export async function deleteTargetBlob(app: TestApp, target: TargetLocation): Promise<void> {
  const blob = targetBlobService(app.stack).getContainerClient(target.container).getBlobClient(target.blobName);
  try {
    await blob.delete({ deleteSnapshots: "include" });
  } catch (error) {
    if (statusOf(error) !== 412) throw error;
    await blob.getBlobLeaseClient().breakLease(0);
    await blob.delete({ deleteSnapshots: "include" });
  }
}

/**
 * Deletes the SourceSnapshot a run took, read access revoked first as Azure requires. The run's copies still in
 * flight re-grant access when theirs is revoked (409 on the delete), so revoke and delete are tried again.
 */
export async function deleteRunSourceSnapshot(app: TestApp, diskKey: string, runId: string): Promise<void> {
  const run: RunView | undefined = (await app.deps.records.getRun(diskKey, runId))?.value;
  const snapshotId = run?.sourceSnapshotId;
  if (!snapshotId) throw new Error(`run ${runId} recorded no SourceSnapshot to delete`);
  for (let attempt = 1; ; attempt++) {
    await app.deps.compute.revokeAccess(snapshotId);
    try {
      return await app.deps.compute.deleteSnapshot(snapshotId);
    } catch (error) {
      if (statusOf(error) !== 409 || attempt >= 10) throw error;
    }
  }
}

/**
 * A new disk asks, through the HTTP API, to be protected into `target`, which another ProtectedDisk uses: it must be
 * refused with 409 TargetBlobInUse, no ProtectedDisk row may appear, and the blob (if it exists) keeps its owner.
 */
export async function refuseSecondDisk(app: TestApp, name: string, target: TargetLocation, owner: string): Promise<void> {
  const diskId = await app.createDisk(name, GiB);
  const answer = await app.host.invokeHttp("POST", "/api/disks", { diskId, target });
  assert.equal(answer.status, 409, `a second disk was let into TargetBlob ${target.blobName}: ${answer.status} ${JSON.stringify(answer.body)}`);
  assert.match(JSON.stringify(answer.body), /TargetBlobInUse/);
  assert.equal(await app.deps.records.getDisk(diskKeyOf(diskId)), undefined, "no ProtectedDisk recorded for the refused disk");
  const blob = await app.deps.targets(target).inspect();
  if (blob) assert.equal(blob.owner, owner, "the TargetBlob still names its disk as owner");
}
