/**
 * What a disk has backed up at one moment, for tests that throw bad input, faults or crashes at the app: its
 * RestorePoints and the content digest of each one's blob snapshot, which must not change afterwards.
 */
import assert from "node:assert/strict";
import type { TestApp } from "./app";

/** A disk's RestorePoints at one moment. */
export interface BackupBaseline {
  readonly diskKey: string;
  /** restorePointId → digest of the blob snapshot's content. */
  readonly digests: ReadonlyMap<string, string>;
}

export async function takeBaseline(app: TestApp, diskKey: string): Promise<BackupBaseline> {
  const digests = new Map<string, string>();
  for (const point of await app.restorePoints(diskKey)) digests.set(point.restorePointId, await app.targetDigest(point));
  return { diskKey, digests };
}

/** Every RestorePoint of the baseline still lists, and its blob snapshot still holds the same bytes. */
export async function assertBackupsUnchanged(app: TestApp, baseline: BackupBaseline): Promise<void> {
  const listed = new Map((await app.restorePoints(baseline.diskKey)).map((p) => [p.restorePointId, p]));
  for (const [restorePointId, digest] of baseline.digests) {
    const point = listed.get(restorePointId);
    assert.ok(point, `RestorePoint ${restorePointId} of disk ${baseline.diskKey} no longer lists`);
    assert.equal(await app.targetDigest(point), digest, `RestorePoint ${restorePointId} changed content`);
  }
}
