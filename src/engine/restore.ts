/**
 * Restore: a new managed disk in the target region, created by the disk service importing a RestorePoint's blob
 * snapshot (`createOption: Import`, the target storage account's id) with the properties its manifest recorded (OS
 * type, Hyper-V generation, capabilities, security type, sku, tags), so an OS disk boots the VM it came from; a
 * Trusted Launch disk comes back with its VM guest state (`ImportSecure`, the guest state copy proven by its hash).
 * The same code restores from the app's records and, in the CLI's direct mode, from the manifest alone.
 * diskdelta never writes to the new disk itself.
 * A restore never touches an existing disk: a taken name is refused before anything is asked. The resource group
 * must exist (diskdelta does not create groups: where they live and who owns them is the operator's call). While
 * the import reads the blob snapshot, a hold recorded beside the TargetBlob keeps retention from deleting it.
 * A managed RestorePoint (Azure's managed copy) is restored as a disk copied from its target-region snapshot
 * (`createOption: Copy`) in that region, with the same recorded properties and the same hold.
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import type { DiskProperties, RestorePointManifest } from "../domain/manifest";
import { sameRegion } from "../domain/regions";
import { type TargetLocation, locationFromUrl } from "../domain/target-location";
import { ConflictError, PermanentError, codeOf, isPermanent } from "../domain/errors";
import { restoreHoldMs } from "../domain/limits";
import { type ProtectedDiskConfig, parseDiskId } from "../domain/model";
import { GiB, PAGE_BYTES } from "../domain/ranges";
import { withoutAbsent } from "../domain/objects";
import { heldDataOf } from "../domain/records";
import type { BootProperties, ComputeGateway, CopyDiskRequest, Deps, DiskInfo, ImportDiskRequest, TargetBlob, TargetBlobFactory } from "./deps";

const armName = /^[A-Za-z0-9_.-]{1,80}$/;

/** What an operator asks for when restoring. */
export const restoreRequestSchema = z
  .object({
    name: z.string().regex(armName, "must be a disk name: 1-80 letters, digits, _ . -"),
    resourceGroup: z.string().regex(/^[-\w._()]{1,90}$/, "must be a resource group name"),
    /** Region of the new disk: the target storage account's region. */
    location: z.string().min(1),
    /** ARM id of the target storage account; defaults to the one recorded with the ProtectedDisk. */
    storageAccountId: z.string().regex(/^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Storage\/storageAccounts\/[^/]+$/i, "must be a storage account resource id").optional(),
    subscriptionId: z.string().min(1).optional(),
    sku: z.enum(["Standard_LRS", "Premium_LRS", "StandardSSD_LRS", "UltraSSD_LRS", "Premium_ZRS", "StandardSSD_ZRS", "PremiumV2_LRS"]).optional(),
    diskSizeGB: z.number().int().positive().max(65_536).optional(),
    /** Overrides of the recorded boot properties, for a disk whose recorded ones are wrong or absent. */
    osType: z.enum(["Windows", "Linux"]).optional(),
    hyperVGeneration: z.enum(["V1", "V2"]).optional(),
    /** Availability zone of the new disk in the target region (the source's zone is not carried over). */
    zone: z.string().regex(/^[1-9]$/, "must be a zone number, e.g. 1").optional(),
  })
  .strict();
export type RestoreRequest = z.output<typeof restoreRequestSchema>;

/** A restored disk. */
export interface RestoreResult {
  readonly diskId: string;
  readonly uniqueId: string;
  readonly sizeBytes: number;
  readonly restorePointId: string;
  readonly sourceUri: string;
  /** `ImportSecure` when the disk came back with its VM guest state (Trusted Launch), `Copy` from a managed RestorePoint, else `Import`. */
  readonly createOption: RestoreCreateOption;
  /** The recorded properties the disk was created with (absent for RestorePoints recorded before manifests). */
  readonly properties?: Omit<DiskProperties, "tags" | "location">;
}

/** How a restore creates its disk: importing a blob snapshot (with the VM guest state: ImportSecure), or copying a target-region snapshot. */
export type RestoreCreateOption = "Import" | "ImportSecure" | "Copy";

/** What a restore works with: the disk service and the RestorePoint's TargetBlob. The app and the CLI's direct mode pass theirs. */
export interface RestorePorts {
  readonly compute: ComputeGateway;
  readonly targets: TargetBlobFactory;
  readonly now: () => Date;
  readonly randomId: () => string;
}

/** A RestorePoint to restore: where its data is, its description when one was written, and how to prove it still stands. */
export interface RestoreSource {
  readonly restorePointId: string;
  /** ARM id of the source disk (its subscription is the default for the new disk). */
  readonly diskId: string;
  readonly location: TargetLocation;
  /** The name restores hold the data by: the blob snapshot, or a managed RestorePoint's target snapshot name. */
  readonly targetSnapshot: string;
  /** A managed RestorePoint's data: the target-region snapshot (ARM id) and its region; absent for a blob snapshot. */
  readonly managedSnapshot?: { readonly id: string; readonly location: string };
  /** Bytes of the disk the RestorePoint holds (its blob less the VHD footer). */
  readonly diskBytes: number;
  readonly manifest: RestorePointManifest | undefined;
  readonly storageAccountId: string | undefined;
  /** True while the RestorePoint is still recorded (the app), or always (direct mode: the data listing is the proof). */
  readonly recorded: () => Promise<boolean>;
}

/** The new disk a restore creates, checked before anything is asked of the disk service. */
export interface ResolvedRestore {
  readonly subscriptionId: string;
  readonly newDiskId: string;
  /** Disk Import's storage account; a managed RestorePoint's copy needs none. */
  readonly storageAccountId: string | undefined;
}

/**
 * A disk creation ready to send: the request, what it reads (the blob snapshot's URL, or the target snapshot's id),
 * and how it creates the disk.
 */
export type PlannedImport = {
  readonly sourceUri: string;
  readonly properties: RestoreResult["properties"];
} & (
  | { readonly createOption: "Import" | "ImportSecure"; readonly importRequest: ImportDiskRequest }
  | { readonly createOption: "Copy"; readonly copyRequest: CopyDiskRequest }
);

/** Sends a planned disk creation to the disk service (returns once ARM accepted it). */
export function beginRestoreDisk(compute: ComputeGateway, planned: PlannedImport): Promise<void> {
  return planned.createOption === "Copy" ? compute.beginCopyDisk(planned.copyRequest) : compute.beginImportDisk(planned.importRequest);
}

/** A RestorePoint of the app's records as a RestoreSource; undefined when there is no such RestorePoint. */
export async function recordedSource(deps: Deps, diskKey: string, restorePointId: string): Promise<RestoreSource | undefined> {
  const point = await deps.records.getRestorePoint(diskKey, restorePointId);
  if (!point) return undefined;
  const location = locationFromUrl(point.targetBlobUrl);
  // RestorePoints recorded before manifests existed have none: they restore as a plain Import.
  const manifest = await deps.targets(location).readManifest(restorePointId);
  const config = await deps.records.getDisk(diskKey);
  return {
    restorePointId,
    diskId: point.diskId,
    location,
    targetSnapshot: heldDataOf(point),
    ...(point.kind === "managed" ? { managedSnapshot: { id: point.targetSnapshotId, location: point.targetLocation } } : {}),
    diskBytes: point.blobBytes - PAGE_BYTES,
    manifest,
    storageAccountId: manifest?.target.storageAccountId ?? accountIdOfProtection(config, location),
    recorded: async () => (await deps.records.getRestorePoint(diskKey, restorePointId)) !== undefined,
  };
}

/**
 * The storage account id the disk's protection records, when it is the account holding the RestorePoint's data: a
 * kept RestorePoint of an earlier protection may lie in another account than the one protecting the disk now.
 */
function accountIdOfProtection(config: ProtectedDiskConfig | undefined, location: TargetLocation): string | undefined {
  if (!config?.target.storageAccountId) return undefined;
  return config.target.blobEndpoint.toLowerCase() === location.blobEndpoint.toLowerCase() ? config.target.storageAccountId : undefined;
}

/** What a restore says when it does not know the target storage account: where to find it and how to pass it. */
function storageAccountUnknown(source: RestoreSource): PermanentError {
  const endpoint = source.location.blobEndpoint;
  const account = /^\d+\.\d+\.\d+\.\d+|^localhost/.test(new URL(endpoint).host) ? new URL(endpoint).pathname.split("/")[1] : new URL(endpoint).hostname.split(".")[0];
  return new PermanentError(
    "InvalidRequest",
    `storageAccountId: required: RestorePoint ${source.restorePointId} does not record the resource id of its target storage account (${endpoint}; it was protected without target.storageAccountId), which Disk Import needs; ` +
      `pass "storageAccountId": "/subscriptions/<subscription>/resourceGroups/<group>/providers/Microsoft.Storage/storageAccounts/${account ?? "<account>"}" in the restore request (CLI --storage-account-id)`,
  );
}

/** A RestorePoint described by its manifest alone: no app, no records, nothing in the source region. */
export function manifestSource(manifest: RestorePointManifest): RestoreSource {
  const { blobEndpoint, container, blobName, snapshot, storageAccountId } = manifest.target;
  return {
    restorePointId: manifest.restorePointId,
    diskId: manifest.diskId,
    location: { blobEndpoint, container, blobName },
    targetSnapshot: snapshot,
    diskBytes: manifest.blobBytes - PAGE_BYTES,
    manifest,
    storageAccountId,
    recorded: async () => true,
  };
}

/** Restores a RestorePoint from its manifest and waits for the disk (the CLI's direct mode). */
export async function restoreFromManifest(ports: RestorePorts, manifest: RestorePointManifest, request: RestoreRequest): Promise<RestoreResult> {
  const source = manifestSource(manifest);
  const resolved = await resolveRestore(ports, request, source);
  const target = ports.targets(source.location);
  const restoreId = ports.randomId();
  await target.holdForRestore(source.targetSnapshot, restoreId, ports.now());
  // Released when the import has provably ended (created, or refused); after a lost answer the import may still be
  // reading the RestorePoint, so the hold stays until it expires and retention keeps the data meanwhile.
  let ended = false;
  try {
    const planned = await planImport(ports, request, source, resolved).catch((error: unknown) => {
      ended = true;
      throw error;
    });
    if (planned.createOption === "Copy") throw new Error("a manifest describes a blob RestorePoint; it is never restored by copy");
    const disk: DiskInfo = await ports.compute.importDisk(planned.importRequest).catch((error: unknown) => {
      ended = isPermanent(error);
      throw importRefusal(error, request, resolved);
    });
    ended = true;
    return {
      diskId: disk.ref.id,
      uniqueId: disk.uniqueId,
      sizeBytes: disk.sizeBytes,
      restorePointId: source.restorePointId,
      sourceUri: planned.sourceUri,
      createOption: planned.createOption,
      ...(planned.properties ? { properties: { ...planned.properties, sizeBytes: disk.sizeBytes } } : {}),
    };
  } finally {
    if (ended) await target.releaseRestoreHold(source.targetSnapshot, restoreId);
  }
}

/**
 * Checks what can be checked before anything is created: the target storage account is known, the subscription
 * too, the resource group exists and the disk name is free.
 */
export async function resolveRestore(ports: Pick<RestorePorts, "compute">, request: RestoreRequest, source: RestoreSource): Promise<ResolvedRestore> {
  if (request.diskSizeGB !== undefined && request.diskSizeGB * GiB < source.diskBytes) {
    throw new PermanentError(
      "InvalidRequest",
      `diskSizeGB: ${request.diskSizeGB} GiB is smaller than the disk RestorePoint ${source.restorePointId} holds (${source.diskBytes} bytes, ${Math.ceil(source.diskBytes / GiB)} GiB); a restored disk can only be as large or larger`,
    );
  }
  if (source.managedSnapshot && !sameRegion(source.managedSnapshot.location, request.location)) {
    throw new PermanentError(
      "InvalidRequest",
      `location: RestorePoint ${source.restorePointId} is a managed copy in ${source.managedSnapshot.location}; a disk copied from it is created there (give location ${source.managedSnapshot.location})`,
    );
  }
  const storageAccountId = request.storageAccountId ?? source.storageAccountId;
  if (!storageAccountId && !source.managedSnapshot) throw storageAccountUnknown(source);
  if (storageAccountId && !source.managedSnapshot) await refuseOtherRegion(ports.compute, request, storageAccountId);
  const subscriptionId = request.subscriptionId ?? parseDiskId(source.diskId)?.subscriptionId;
  if (!subscriptionId) throw new PermanentError("InvalidRequest", `subscriptionId: required (RestorePoint ${source.restorePointId} names no source disk id to take it from)`);
  const newDiskId = `/subscriptions/${subscriptionId}/resourceGroups/${request.resourceGroup}/providers/Microsoft.Compute/disks/${request.name}`;
  const ref = parseDiskId(newDiskId);
  if (!ref) throw new PermanentError("InvalidRequest", `not a disk id: ${newDiskId}`);
  const exists = await ports.compute.getDisk(ref).then(
    () => true,
    (error: unknown) => {
      if (error instanceof PermanentError && error.code === "DiskNotFound") return false;
      if (codeOf(error) === "ResourceGroupNotFound") throw resourceGroupMissing(request, subscriptionId);
      throw error;
    },
  );
  if (exists) throw diskExists(newDiskId);
  return { subscriptionId, newDiskId, storageAccountId };
}

/**
 * Disk Import reads the blob snapshot where it lies: the new disk must be in the target storage account's region
 * (the disk service refuses another with 400 BadRequest "…does not belong to the same region as the disk"). Refused
 * here first, naming `location`, when ARM says where the account is; an account whose region cannot be read (the
 * identity may lack `Microsoft.Storage/storageAccounts/read`) is left to the disk service's own refusal.
 */
async function refuseOtherRegion(compute: Pick<ComputeGateway, "storageAccountLocation">, request: RestoreRequest, storageAccountId: string): Promise<void> {
  const accountLocation = await compute.storageAccountLocation(storageAccountId);
  if (accountLocation && !sameRegion(accountLocation, request.location)) {
    throw new PermanentError(
      "InvalidRequest",
      `location: ${request.location} is not the region of the target storage account ${storageAccountId.split("/").at(-1)} (${accountLocation}); Disk Import creates the disk where the RestorePoint's data is: give location ${accountLocation}`,
    );
  }
}

/**
 * Under a restore hold (written by the caller first): proves the RestorePoint and its data still there, and the guest
 * state copy the one recorded, then builds the import with the recorded properties and the request's overrides.
 * Retention deletes a record before looking for holds, so a RestorePoint found after the hold keeps its data.
 */
export async function planImport(
  ports: Pick<RestorePorts, "targets" | "compute">, request: RestoreRequest, source: RestoreSource, resolved: ResolvedRestore, extraTags: Readonly<Record<string, string>> = {},
): Promise<PlannedImport> {
  const target = ports.targets(source.location);
  if (source.managedSnapshot) return planCopy(ports, request, source, source.managedSnapshot, resolved, extraTags);
  if (!(await source.recorded()) || !(await target.listSnapshots()).some((s) => s.snapshot === source.targetSnapshot)) {
    throw restorePointGone(source);
  }
  const storageAccountId = resolved.storageAccountId;
  if (!storageAccountId) throw storageAccountUnknown(source);
  const sourceUri = target.snapshotUrl(source.targetSnapshot);
  const recorded = source.manifest?.disk;
  const securityDataUri = source.manifest?.guestState ? await provenGuestState(target, source.manifest) : undefined;
  const { boot, zones, sku, properties } = recordedProperties(request, recorded);
  return {
    importRequest: {
      subscriptionId: resolved.subscriptionId,
      resourceGroup: request.resourceGroup,
      name: request.name,
      location: request.location,
      sourceUri,
      storageAccountId,
      sku,
      diskSizeGB: request.diskSizeGB,
      boot,
      zones,
      tags: { ...recorded?.tags, ...extraTags },
      securityDataUri,
    },
    sourceUri,
    createOption: securityDataUri ? "ImportSecure" : "Import",
    properties,
  };
}

/**
 * A managed RestorePoint's disk: copied by the disk service from the target-region snapshot, once that snapshot is
 * proven there, complete and the one recorded (its copy's source is the RestorePoint's SourceSnapshot).
 */
async function planCopy(
  ports: Pick<RestorePorts, "compute">, request: RestoreRequest, source: RestoreSource, snapshot: { id: string; location: string }, resolved: ResolvedRestore,
  extraTags: Readonly<Record<string, string>>,
): Promise<PlannedImport> {
  const found = (await source.recorded()) ? await ports.compute.getSnapshot(snapshot.id) : undefined;
  if (!found) throw restorePointGone(source);
  if (found.completionPercent < 100 || found.copyCompletionError) {
    throw new ConflictError("RestorePointNotReady", `the target snapshot of RestorePoint ${source.restorePointId} is at ${found.completionPercent}%${found.copyCompletionError ? ` (${found.copyCompletionError.code})` : ""}; it cannot be restored`);
  }
  const recorded = source.manifest?.disk;
  const { boot: recordedBoot, zones, sku, properties } = recordedProperties(request, recorded);
  // Without a manifest, the snapshot's own boot properties (copied by the service from the disk) stand.
  const boot = recordedBoot ?? withoutAbsent({ ...found.boot, osType: request.osType ?? found.boot.osType, hyperVGeneration: request.hyperVGeneration ?? found.boot.hyperVGeneration });
  return {
    copyRequest: withoutAbsent({
      subscriptionId: resolved.subscriptionId,
      resourceGroup: request.resourceGroup,
      name: request.name,
      location: snapshot.location,
      sourceSnapshotId: snapshot.id,
      sku,
      diskSizeGB: request.diskSizeGB,
      boot,
      zones,
      tags: { ...recorded?.tags, ...extraTags },
    }),
    sourceUri: snapshot.id,
    createOption: "Copy",
    properties: properties ?? withoutAbsent({ ...boot, sku, zones, sizeBytes: found.sizeBytes }),
  };
}

/** The recorded properties with the request's overrides: boot properties, zone (never the source's) and sku. */
function recordedProperties(request: RestoreRequest, recorded: DiskProperties | undefined) {
  const boot = recorded ? withoutAbsent({ ...pickBoot(recorded), osType: request.osType ?? recorded.osType, hyperVGeneration: request.hyperVGeneration ?? recorded.hyperVGeneration }) : undefined;
  // Zones are numbered per region and subscription: the source's zone means nothing in the target region.
  const zones = request.zone ? [request.zone] : undefined;
  const sku = request.sku ?? recorded?.sku;
  const properties: RestoreResult["properties"] = recorded ? withoutAbsent({ ...boot, sku, zones, logicalSectorSize: recorded.logicalSectorSize, sizeBytes: recorded.sizeBytes }) : undefined;
  return { boot, zones, sku, properties };
}

function restorePointGone(source: RestoreSource): ConflictError {
  return new ConflictError("RestorePointDataGone", `RestorePoint ${source.restorePointId} was removed (by retention or by hand) before its restore could start`);
}

/** What the disk service's refusal of an import means to the operator. */
export function importRefusal(error: unknown, request: RestoreRequest, resolved: ResolvedRestore): unknown {
  // ARM answers 404 ResourceGroupNotFound to the disk's PUT when the group went away since it was checked.
  if (codeOf(error) === "ResourceGroupNotFound") return resourceGroupMissing(request, resolved.subscriptionId);
  // Someone created the name in the meantime: the service refuses to change an existing disk's source.
  if (codeOf(error) === "PropertyChangeNotAllowed") return diskExists(resolved.newDiskId);
  return error;
}

function pickBoot(properties: DiskProperties): BootProperties {
  const { osType, hyperVGeneration, supportedCapabilities, securityType } = properties;
  return withoutAbsent({ osType, hyperVGeneration, supportedCapabilities, securityType });
}

/** The guest state copy's URL, once its bytes are proven to be those the manifest recorded. */
async function provenGuestState(target: TargetBlob, manifest: RestorePointManifest): Promise<string> {
  const stored = await target.readGuestState(manifest.restorePointId);
  const hash = stored ? createHash("sha256").update(stored).digest("hex") : undefined;
  if (hash !== manifest.guestState?.sha256) {
    throw new ConflictError(
      "GuestStateMismatch",
      `the VM guest state stored with RestorePoint ${manifest.restorePointId} is ${stored ? "not the one recorded (sha256 differs)" : "missing"}; a Trusted Launch disk cannot be restored without it`,
    );
  }
  return target.guestStateUrl(manifest.restorePointId);
}

/** Blob snapshots of this TargetBlob that a restore is reading now; holds older than `restoreHoldMs` are removed. */
export async function heldSnapshots(deps: Deps, target: TargetBlob): Promise<Set<string>> {
  const held = new Set<string>();
  for (const hold of await target.listRestoreHolds()) {
    if (deps.now().getTime() - hold.startedAt.getTime() < restoreHoldMs) held.add(hold.snapshot);
    else await target.releaseRestoreHold(hold.snapshot, hold.restoreId);
  }
  return held;
}

function resourceGroupMissing(request: RestoreRequest, subscriptionId: string): ConflictError {
  return new ConflictError(
    "ResourceGroupNotFound",
    `resource group '${request.resourceGroup}' does not exist in subscription ${subscriptionId}; create it first ` +
      `(az group create --name ${request.resourceGroup} --location ${request.location}), then restore again`,
  );
}

function diskExists(diskId: string): ConflictError {
  return new ConflictError("DiskExists", `disk ${diskId} already exists; a restore creates a new disk: choose another name or delete that disk first`);
}
