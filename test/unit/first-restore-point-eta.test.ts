/** The estimated time to a disk's first RestorePoint while its seed runs, and how status shows it. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatDiskStatus } from "../../src/cli/format";
import { protectedDiskInputSchema, toProtectedDisk } from "../../src/domain/model";
import { backupRunSchema, diskStateSchema } from "../../src/domain/records";
import { describeDisk, firstRestorePointEta } from "../../src/engine/status";

const GiB = 1024 ** 3;
const TiB = 1024 * GiB;
const started = "2026-01-01T00:00:00.000Z";
const at = (seconds: number) => new Date(Date.parse(started) + seconds * 1000);
const base = { diskKey: "k", runId: "r", trigger: "schedule", copyMode: "server", startedAt: started, updatedAt: started };
const prepared = {
  sourceSnapshotId: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/snapshots/s1", sourceSnapshotTime: started,
  diskUniqueId: "u", familyId: "f", blobBytes: 4 * TiB + 512, leaseId: "0a1b2c3d-0000-4000-a000-000000000000",
};
const seeding = (cursor: number) => backupRunSchema.parse({ ...base, ...prepared, state: "copying", cursor, fullCopyReason: "first-run", targetWasEmpty: true });
const noPoint = diskStateSchema.parse({ activeRunId: "r" });

describe("time to the first RestorePoint", () => {
  it("when a seed has covered a quarter of a 4 TiB disk in an hour, then the estimate is three more hours", () => {
    const eta = firstRestorePointEta(noPoint, seeding((4 * TiB + 512) / 4), at(3600));
    assert.deepEqual(eta, { seconds: 3 * 3600, basis: "disk-covered", fraction: 0.25, elapsedSeconds: 3600 });
  });

  it("when nothing is covered yet, or the disk has a RestorePoint already, then there is no estimate", () => {
    assert.equal(firstRestorePointEta(noPoint, seeding(0), at(60)), undefined);
    const backedUp = diskStateSchema.parse({ activeRunId: "r", lastRestorePointId: "p", lastRestorePointSourceTime: started });
    assert.equal(firstRestorePointEta(backedUp, seeding(2 * TiB), at(60)), undefined);
    assert.equal(firstRestorePointEta(noPoint, undefined, at(60)), undefined);
  });

  it("when a managed copy is at 40 %, then the estimate follows Azure's completionPercent", () => {
    const replicating = backupRunSchema.parse({
      ...base, state: "replicating", replication: "managed", sourceSnapshotId: prepared.sourceSnapshotId, sourceSnapshotTime: started, diskUniqueId: "u", familyId: "f",
      blobBytes: prepared.blobBytes, targetSnapshotId: "/subscriptions/s/resourceGroups/rg-t/providers/Microsoft.Compute/snapshots/t1",
      targetLocation: "swedencentral", copySlot: "000", copyStartedAt: started, completionPercent: 40,
    });
    assert.deepEqual(firstRestorePointEta(noPoint, replicating, at(400)), { seconds: 600, basis: "copy-percent", fraction: 0.4, elapsedSeconds: 400 });
  });

  it("when status is shown during a seed, then it names the estimate and what it was taken from", () => {
    const config = toProtectedDisk(protectedDiskInputSchema.parse({
      diskId: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/disks/big", target: { blobEndpoint: "https://account.blob.core.windows.net" },
    }));
    const status = describeDisk(config, noPoint, seeding((4 * TiB + 512) / 8), at(5400));
    assert.equal(status.firstRestorePointEta?.seconds, 7 * 5400);
    assert.match(formatDiskStatus(status), /^First RestorePoint +in ≈ 10h 30m \(estimated: 12% of the disk covered in 1h 30m\)$/m);
  });
});
