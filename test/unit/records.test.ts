/** Table records: BackupRun states and progress defaults, and bad rows reported rather than used. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { backupRunSchema, diskStateSchema, restorePointSchema } from "../../src/domain/records";

const run = { diskKey: "k", runId: "r", trigger: "manual", copyMode: "server", state: "queued", startedAt: "2026-01-01T00:00:00Z", updatedAt: "2026-01-01T00:00:00Z" };
/** What prepare records, and a run that diffs from its base. */
const prepared = {
  sourceSnapshotId: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/snapshots/s2", sourceSnapshotTime: "2026-01-01T00:00:01Z",
  diskUniqueId: "u", familyId: "f", blobBytes: 1024 * 1024 + 512, leaseId: "0a1b2c3d-0000-4000-a000-000000000000",
};
const copying = { ...run, ...prepared, state: "copying", baseSnapshotId: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/snapshots/s1" };
const fullCopying = { ...run, ...prepared, state: "copying", fullCopyReason: "first-run", targetWasEmpty: true };
/** A run waiting for its SourceSnapshot's background copy. */
const waiting = { ...run, state: "preparing", waitingForSnapshotId: prepared.sourceSnapshotId, waitingSince: "2026-01-01T00:00:01Z", completionPercent: 40 };

describe("records", () => {
  it("when a new BackupRun is read, then its progress counters start at zero", () => {
    const parsed = backupRunSchema.parse(run);
    assert.deepEqual(
      [parsed.step, parsed.cursor, parsed.windowsDone, parsed.bytesChanged, parsed.bytesCopied, parsed.bytesCleared, parsed.requests],
      [0, 0, 0, 0, 0, 0, 0],
    );
  });

  const refused: { name: string; record: unknown }[] = [
    { name: "when a BackupRun has an unknown state, then it is refused", record: { ...run, state: "paused" } },
    { name: "when a BackupRun has an unknown trigger, then it is refused", record: { ...run, trigger: "cron" } },
    { name: "when a BackupRun counts negative bytes, then it is refused", record: { ...run, bytesCopied: -1 } },
    { name: "when a BackupRun has a fractional cursor, then it is refused", record: { ...run, cursor: 1.5 } },
    { name: "when a BackupRun does not say how it copies, then it is refused", record: { ...run, copyMode: undefined } },
    { name: "when a copying BackupRun lacks its TargetBlob lease, then it is refused", record: { ...copying, leaseId: undefined } },
    { name: "when a copying BackupRun lacks its SourceSnapshot, then it is refused", record: { ...copying, sourceSnapshotId: undefined } },
    { name: "when a copying BackupRun lacks the TargetBlob's size, then it is refused", record: { ...copying, blobBytes: undefined } },
    { name: "when a copying BackupRun neither diffs nor copies in full, then it is refused", record: { ...copying, baseSnapshotId: undefined } },
    { name: "when a copying BackupRun both diffs and copies in full, then it is refused", record: { ...fullCopying, baseSnapshotId: copying.baseSnapshotId } },
    { name: "when a full copy does not say whether the TargetBlob was empty, then it is refused", record: { ...fullCopying, targetWasEmpty: undefined } },
    { name: "when a full copy gives an unknown reason, then it is refused", record: { ...fullCopying, fullCopyReason: "because" } },
    { name: "when a finalizing BackupRun lacks its TargetBlob lease, then it is refused", record: { ...copying, state: "finalizing", leaseId: undefined } },
    { name: "when a succeeded BackupRun has neither a RestorePoint nor a note, then it is refused", record: { ...copying, state: "succeeded", endedAt: "2026-01-01T00:00:09Z" } },
    { name: "when a waiting BackupRun does not say since when, then it is refused", record: { ...waiting, waitingSince: undefined } },
    { name: "when a waiting BackupRun does not say how far its snapshot is, then it is refused", record: { ...waiting, completionPercent: undefined } },
    { name: "when a waiting BackupRun names a completion over 100 %, then it is refused", record: { ...waiting, completionPercent: 140 } },
    { name: "when a failed BackupRun has no error, then it is refused", record: { ...run, state: "failed", endedAt: "2026-01-01T00:00:09Z" } },
  ];
  for (const c of refused) {
    it(c.name, () => assert.equal(backupRunSchema.safeParse(c.record).success, false));
  }

  const accepted: { name: string; record: unknown }[] = [
    { name: "when a copying BackupRun diffs from its base, then it is read", record: copying },
    { name: "when a preparing BackupRun written before hydration waits existed is read, then it is read", record: { ...run, state: "preparing" } },
    { name: "when a preparing BackupRun waits for its snapshot's background copy, then it is read with the wait", record: waiting },
    { name: "when a copying BackupRun copies in full, then it is read", record: fullCopying },
    { name: "when a BackupRun succeeded with its RestorePoint, then it is read", record: { ...copying, state: "succeeded", endedAt: "2026-01-01T00:00:09Z", restorePointId: "p" } },
    { name: "when a BackupRun succeeded with nothing new to copy, then it is read", record: { ...run, state: "succeeded", endedAt: "2026-01-01T00:00:09Z", note: "no new snapshot to replicate" } },
    { name: "when a BackupRun failed before prepare recorded anything, then it is read", record: { ...run, state: "failed", endedAt: "2026-01-01T00:00:09Z", error: "disk gone" } },
    { name: "when a BackupRun failed while copying, then it is read with what it prepared", record: { ...copying, state: "failed", endedAt: "2026-01-01T00:00:09Z", error: "lease lost" } },
  ];
  for (const c of accepted) {
    it(c.name, () => assert.equal(backupRunSchema.safeParse(c.record).success, true, JSON.stringify(backupRunSchema.safeParse(c.record).error?.issues)));
  }

  it("when a diff run is read, then it answers targetWasEmpty false, as the API always has", () => {
    assert.equal((backupRunSchema.parse(copying) as { targetWasEmpty?: boolean }).targetWasEmpty, false);
    assert.equal(backupRunSchema.safeParse({ ...copying, targetWasEmpty: true }).success, false, "a diff never claims an empty TargetBlob");
  });

  it("when a copying BackupRun is refused, then the problem names the field and the state", () => {
    const parsed = backupRunSchema.safeParse({ ...copying, leaseId: undefined });
    assert.equal(parsed.success, false);
    assert.match(parsed.error?.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ") ?? "", /leaseId: .*a copying BackupRun/);
  });

  it("when a disk has never run, then its state is empty and valid", () => {
    assert.deepEqual(diskStateSchema.parse({}), {});
  });

  it("when a RestorePoint lacks its blob snapshot, then it is refused: a record never points at nothing", () => {
    const point = {
      diskKey: "k", restorePointId: "p", runId: "r", diskId: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/disks/d",
      sourceSnapshotId: "snap", sourceSnapshotTime: "2026-01-01T00:00:00Z", diskUniqueId: "u", blobBytes: 1024,
      targetBlobUrl: "https://a.blob.core.windows.net/c/b", targetSnapshot: "2026-01-01T00:00:01.0000000Z", createdAt: "2026-01-01T00:00:02Z",
      fullCopy: true, bytesChanged: 512, bytesCopied: 512, requests: 1, durationMs: 10,
    };
    assert.equal(restorePointSchema.safeParse(point).success, true);
    assert.equal(restorePointSchema.safeParse({ ...point, targetSnapshot: "" }).success, false);
  });
});
