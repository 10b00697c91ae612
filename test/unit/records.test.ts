/** Table records: BackupRun progress defaults, and bad rows reported rather than used. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { backupRunSchema, diskStateSchema, restorePointSchema } from "../../src/domain/records";

const run = { diskKey: "k", runId: "r", trigger: "manual", state: "queued", startedAt: "2026-01-01T00:00:00Z", updatedAt: "2026-01-01T00:00:00Z" };

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
  ];
  for (const c of refused) {
    it(c.name, () => assert.equal(backupRunSchema.safeParse(c.record).success, false));
  }

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
