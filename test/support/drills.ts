/** DR drills through the HTTP API on the local stack, and what a drill may leave behind. */
import assert from "node:assert/strict";
import type { DrillRun, RestorePoint } from "../../src/domain/records";
import { drillTag } from "../../src/engine/restores";
import { locationFromUrl } from "../../src/adapters/target-blob";
import type { TestApp } from "./app";

/** The drill resource group (one of the emulator's target-region groups). */
export const drillResourceGroup = "rg-restore";

/** A drill configuration: daily, into the drill resource group, in the target region. */
export function drillConfig(app: TestApp): { drill: { schedule: string; resourceGroup: string; location: string } } {
  return { drill: { schedule: "every 1d", resourceGroup: drillResourceGroup, location: app.stack.target.location } };
}

/** Options for `protect` with drills: the drill configuration and the target storage account's id (restores need it). */
export function withDrills(app: TestApp): Record<string, unknown> {
  const { blobEndpoint, resourceId } = app.stack.target;
  return { ...drillConfig(app), target: { blobEndpoint, container: "backups", storageAccountId: resourceId } };
}

/** Starts a drill through the API, processes the queues until idle and answers the DrillRun as it ended. */
export async function drillThroughApi(app: TestApp, diskKey: string): Promise<DrillRun> {
  const answer = await app.host.invokeHttp("POST", `/api/disks/${diskKey}/drills`);
  assert.equal(answer.status, 202, JSON.stringify(answer.body));
  const { drillId, statusUrl } = answer.body as { drillId: string; statusUrl: string };
  assert.match(statusUrl, new RegExp(`/api/disks/${diskKey}/drills/${drillId}$`));
  await app.host.runUntilIdle();
  return drillOf(app, diskKey, drillId);
}

export async function drillOf(app: TestApp, diskKey: string, drillId: string): Promise<DrillRun> {
  const answer = await app.host.invokeHttp("GET", `/api/disks/${diskKey}/drills/${drillId}`);
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  return answer.body as DrillRun;
}

/** Disks in the drill resource group that carry a drill tag. */
export async function drillDisksLeft(app: TestApp): Promise<string[]> {
  const left: string[] = [];
  for await (const disk of app.compute.disks.listByResourceGroup(drillResourceGroup)) if (disk.tags?.[drillTag]) left.push(disk.name ?? "");
  return left;
}

/** Asserts a disk's RestorePoints are exactly `before` (same records, same data) and no hold is left on them. */
export async function assertRestorePointsUntouched(app: TestApp, diskKey: string, before: readonly RestorePoint[]): Promise<void> {
  const after = await app.restorePoints(diskKey);
  assert.deepEqual(after, before, "the RestorePoints are as they were");
  for (const point of after) {
    const target = app.deps.targets(locationFromUrl(point.targetBlobUrl));
    assert.ok((await target.listSnapshots()).some((s) => s.snapshot === point.targetSnapshot), `the data of ${point.restorePointId} is there`);
    assert.deepEqual(await target.listRestoreHolds(), [], "no hold is left");
  }
}
