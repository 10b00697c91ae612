/** Disks and snapshots as ARM returns them (api-version 2025-01-02; shapes from the recorded session). */
import { gib } from "../disks/limits";
import type { DiskRecord, DiskStore, SnapshotRecord } from "../disks/store";
import type { VirtualMachineRecord } from "../disks/virtual-machines";
import type { CopyCompletionError } from "../disks/snapshot-copies";

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
function resourceEnvelope(resource: DiskRecord | SnapshotRecord, type: "disks" | "snapshots", sku = "Standard_LRS"): Record<string, unknown> {
  return {
    name: resource.name,
    id: resource.id,
    type: `Microsoft.Compute/${type}`,
    location: resource.location,
    ...(resource.tags ? { tags: resource.tags } : {}),
    sku: { name: sku, tier: skuTier(sku) },
  };
}

/** The sku's read-only `tier` (assumed from the names: Premium_*, PremiumV2_* Premium; UltraSSD_* Ultra; else Standard). */
function skuTier(sku: string): string {
  if (sku.startsWith("Premium")) return "Premium";
  if (sku.startsWith("UltraSSD")) return "Ultra";
  return "Standard";
}

/** osType, hyperVGeneration, supportedCapabilities and securityProfile, where set, in the reference's order. */
function bootJson({ boot }: DiskRecord | SnapshotRecord): Record<string, unknown> {
  return {
    ...(boot.osType ? { osType: boot.osType } : {}),
    ...(boot.hyperVGeneration ? { hyperVGeneration: boot.hyperVGeneration } : {}),
    ...(boot.supportedCapabilities ? { supportedCapabilities: boot.supportedCapabilities } : {}),
    ...(boot.securityProfile ? { securityProfile: boot.securityProfile } : {}),
  };
}

export function diskJson(disk: DiskRecord, store: DiskStore): Record<string, unknown> {
  return {
    ...(disk.managedBy ? { managedBy: disk.managedBy } : {}),
    ...resourceEnvelope(disk, "disks", disk.sku),
    ...(disk.zones ? { zones: disk.zones } : {}),
    properties: {
      ...bootJson(disk),
      creationData: disk.creationData,
      diskSizeGB: Math.ceil(disk.sizeBytes / gib),
      diskIOPSReadWrite: 500,
      diskMBpsReadWrite: 60,
      ...common,
      timeCreated: armTime(disk.timeCreated),
      provisioningState: provisioningState(disk),
      diskState: store.diskState(disk),
      diskSizeBytes: disk.sizeBytes,
      uniqueId: disk.uniqueId,
    },
  };
}

export function snapshotJson(snapshot: SnapshotRecord, store: DiskStore): Record<string, unknown> {
  return {
    ...resourceEnvelope(snapshot, "snapshots"),
    properties: {
      ...bootJson(snapshot),
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
      completionPercent: store.completionPercentOf(snapshot),
      ...copyErrorJson(store.copyErrorOf(snapshot)),
    },
  };
}

/** `copyCompletionError` of a CopyStart snapshot whose copy failed; nothing otherwise. */
function copyErrorJson(error: CopyCompletionError | undefined): Record<string, unknown> {
  return error ? { copyCompletionError: { errorCode: error.errorCode, errorMessage: error.errorMessage } } : {};
}

/** The body of a 202 to a PUT or PATCH: the resource as submitted, still "Updating". */
export function acceptedJson(resource: Record<string, unknown>): Record<string, unknown> {
  const properties = resource.properties as Record<string, unknown>;
  return { ...resource, properties: { ...properties, provisioningState: "Updating" } };
}

/**
 * A VM as `virtualMachines.get` parses it (ComputeRP shapes): its disks attached (`createOption` Attach), the OS
 * disk's osType, and the securityProfile its OS disk's securityType implies (TrustedLaunch, or ConfidentialVM for the
 * ConfidentialVM_* disk types, with secure boot and vTPM on: assumed, as a VM made from such a disk is).
 */
export function virtualMachineJson(vm: VirtualMachineRecord): Record<string, unknown> {
  const { osDisk } = vm;
  const securityType = osDisk.boot.securityProfile?.securityType;
  return {
    name: vm.name,
    id: vm.id,
    type: "Microsoft.Compute/virtualMachines",
    location: vm.location,
    ...(osDisk.zones ? { zones: osDisk.zones } : {}),
    properties: {
      vmId: vm.vmId,
      hardwareProfile: { vmSize: vm.vmSize },
      ...(securityType
        ? {
            securityProfile: {
              securityType: securityType === "TrustedLaunch" ? "TrustedLaunch" : "ConfidentialVM",
              uefiSettings: { secureBootEnabled: true, vTpmEnabled: true },
            },
          }
        : {}),
      storageProfile: {
        osDisk: {
          ...(osDisk.boot.osType ? { osType: osDisk.boot.osType } : {}),
          name: osDisk.name,
          createOption: "Attach",
          caching: "ReadWrite",
          managedDisk: { storageAccountType: osDisk.sku, id: osDisk.id },
          deleteOption: "Detach",
          diskSizeGB: Math.ceil(osDisk.sizeBytes / gib),
        },
        dataDisks: vm.dataDisks.map(({ lun, disk }) => ({
          lun,
          name: disk.name,
          createOption: "Attach",
          caching: "None",
          managedDisk: { storageAccountType: disk.sku, id: disk.id },
          deleteOption: "Detach",
          diskSizeGB: Math.ceil(disk.sizeBytes / gib),
          toBeDetached: false,
        })),
      },
      provisioningState: "Succeeded",
      timeCreated: armTime(vm.timeCreated),
    },
  };
}
