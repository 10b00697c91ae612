/** Checks on a disk created by a restore: its content against a RestorePoint's source, its VM guest state. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import type { RestorePoint } from "../../src/domain/records";
import { compareBlobs, sparseDigest } from "../../src/engine/verify";
import { restorePointDigest } from "../../src/engine/verify-restore-point";
import type { TestApp } from "./app";

const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");

/** Asserts that the restored disk's data equals the RestorePoint's SourceSnapshot (through a snapshot of the new disk). */
export async function assertRestoredContent(app: TestApp, restoredDiskId: string, point: RestorePoint, checkName: string): Promise<void> {
  const { compute, deps, stack } = app;
  const group = restoredDiskId.split("/")[4];
  const check = await compute.snapshots.createOrUpdate(
    group, checkName,
    { location: stack.target.location, incremental: true, creationData: { createOption: "Copy", sourceResourceId: restoredDiskId } },
    { updateIntervalInMs: 10 },
  );
  const [restoredSas, sourceSas] = await Promise.all([deps.compute.grantRead(check.id!, 3600), deps.compute.grantRead(point.sourceSnapshotId, 3600)]);
  const blob = (sas: string, size: number) => ({ sizeBytes: size, allocated: (w: { start: number; end: number }) => deps.source.allocated(sas, w), read: (r: { start: number; end: number }) => deps.source.read(sas, r) });
  // The disk's data, not the VHD footer: a restored disk is a new disk with a footer of its own.
  const diskBytes = point.blobBytes - 512;
  const result = await compareBlobs(blob(sourceSas, diskBytes), blob(restoredSas, diskBytes));
  assert.ok(result.equal, `restored disk differs at ${JSON.stringify(result.mismatches)}`);
}

/**
 * Asserts that the restored disk's data (read through a snapshot of it, as any client would) hashes as the
 * RestorePoint's disk: for a RestorePoint whose SourceSnapshot is gone, or one held elsewhere (a managed copy).
 */
export async function assertRestoredDigest(app: TestApp, restoredDiskId: string, point: RestorePoint, checkName: string): Promise<void> {
  const group = restoredDiskId.split("/")[4];
  const check = await app.compute.snapshots.createOrUpdate(group, checkName, { location: app.stack.target.location, incremental: true, creationData: { createOption: "Copy", sourceResourceId: restoredDiskId } }, { updateIntervalInMs: 10 });
  const sas = await app.deps.compute.grantRead(check.id!, 3600);
  const restored = await sparseDigest({ sizeBytes: point.blobBytes - 512, allocated: (w) => app.deps.source.allocated(sas, w), read: (r) => app.deps.source.read(sas, r) });
  await app.deps.compute.revokeAccess(check.id!);
  assert.equal(restored.digest, (await restorePointDigest(app.deps, point, "disk")).digest, `disk ${restoredDiskId} differs from RestorePoint ${point.restorePointId}`);
}

/**
 * The SHA-256 of a disk's VM guest state, read as any client would: a snapshot of the disk, granted with
 * getSecureVMGuestStateSAS (the snapshot freezes the guest state with the data).
 */
export async function guestStateHashOfDisk(app: TestApp, diskId: string, checkName: string): Promise<string> {
  const group = diskId.split("/")[4];
  const check = await app.compute.snapshots.createOrUpdate(
    group, checkName,
    { location: app.stack.target.location, incremental: true, creationData: { createOption: "Copy", sourceResourceId: diskId } },
    { updateIntervalInMs: 10 },
  );
  const access = await app.compute.snapshots.grantAccess(group, checkName, { access: "Read", durationInSeconds: 600, getSecureVMGuestStateSAS: true }, { updateIntervalInMs: 10 });
  assert.ok(access.securityDataAccessSAS, `snapshot ${check.name} of ${diskId} has no VM guest state`);
  const url = access.securityDataAccessSAS;
  const data = await app.deps.source.read(url, { start: 0, end: await app.deps.source.contentLength(url) });
  await app.compute.snapshots.revokeAccess(group, checkName, { updateIntervalInMs: 10 });
  return sha256(data);
}

export { sha256 };

/** A tracked restore as the API answers it. */
export interface RestoreView {
  readonly restoreId: string;
  readonly state: "accepted" | "creating" | "succeeded" | "failed";
  readonly newDiskId: string;
  readonly createOption?: "Import" | "ImportSecure";
  readonly error?: string;
  readonly requestedBy: string;
  readonly sizeBytes?: number;
  readonly statusUrl?: string;
}

/**
 * Restores through the HTTP API as a client would: POST (202, or the refusal as answered), then the queues are
 * worked until idle and the restore's status is read from its status URL.
 */
export async function restoreThroughApi(app: TestApp, diskKey: string, restorePointId: string, body: Record<string, unknown>): Promise<{ status: number; body: unknown; restore?: RestoreView }> {
  const answer = await app.host.invokeHttp("POST", `/api/disks/${diskKey}/restore-points/${restorePointId}/restore`, body);
  if (answer.status !== 202) return answer;
  const accepted = answer.body as RestoreView;
  await app.host.runUntilIdle();
  const status = await app.host.invokeHttp("GET", new URL(accepted.statusUrl!).pathname);
  assert.equal(status.status, 200, JSON.stringify(status.body));
  return { ...answer, restore: status.body as RestoreView };
}
