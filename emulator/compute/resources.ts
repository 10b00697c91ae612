/** Disks and snapshots as ARM returns them (api-version 2025-01-02; shapes from the recorded session). */
import { gib } from "../disks/limits";
import type { DiskRecord, DiskStore, SnapshotRecord } from "../disks/store";

/** ARM's timestamp form, 7 fractional digits and an explicit offset: 2023-01-11T03:08:41.9044038+00:00. */
export function armTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$10000+00:00");
}

function provisioningState(resource: { readyAt: number }): string {
  return Date.now() >= resource.readyAt ? "Succeeded" : "Updating";
}

const common = {
  encryption: { type: "EncryptionAtRestWithPlatformKey" },
  networkAccessPolicy: "AllowAll",
  publicNetworkAccess: "Enabled",
};

/** The fields every tracked resource of the two types starts with, in ARM's order. */
function resourceEnvelope(resource: DiskRecord | SnapshotRecord, type: "disks" | "snapshots"): Record<string, unknown> {
  return {
    name: resource.name,
    id: resource.id,
    type: `Microsoft.Compute/${type}`,
    location: resource.location,
    ...(resource.tags ? { tags: resource.tags } : {}),
    sku: { name: "Standard_LRS", tier: "Standard" },
  };
}

export function diskJson(disk: DiskRecord): Record<string, unknown> {
  return {
    ...resourceEnvelope(disk, "disks"),
    properties: {
      creationData: disk.creationData,
      diskSizeGB: Math.ceil(disk.sizeBytes / gib),
      diskIOPSReadWrite: 500,
      diskMBpsReadWrite: 60,
      ...common,
      timeCreated: armTime(disk.timeCreated),
      provisioningState: provisioningState(disk),
      diskState: disk.phase.state,
      diskSizeBytes: disk.sizeBytes,
      uniqueId: disk.uniqueId,
    },
  };
}

export function snapshotJson(snapshot: SnapshotRecord, store: DiskStore): Record<string, unknown> {
  return {
    ...resourceEnvelope(snapshot, "snapshots"),
    properties: {
      creationData: snapshot.creationData,
      diskSizeGB: Math.ceil(snapshot.view.diskSizeBytes / gib),
      ...common,
      incremental: snapshot.incremental,
      ...(snapshot.familyId ? { incrementalSnapshotFamilyId: snapshot.familyId } : {}),
      timeCreated: armTime(snapshot.timeCreated),
      provisioningState: provisioningState(snapshot),
      diskState: store.activeAccess(snapshot) ? "ActiveSAS" : "Unattached",
      diskSizeBytes: snapshot.view.diskSizeBytes,
      uniqueId: snapshot.uniqueId,
      completionPercent: snapshot.completionPercent,
    },
  };
}

/** The body of a 202 to a PUT or PATCH: the resource as submitted, still "Updating". */
export function acceptedJson(resource: Record<string, unknown>): Record<string, unknown> {
  const properties = resource.properties as Record<string, unknown>;
  return { ...resource, properties: { ...properties, provisioningState: "Updating" } };
}
