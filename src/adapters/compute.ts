/**
 * Managed disks and SourceSnapshots through Azure Resource Manager (`@azure/arm-compute`).
 * Contract: reads are safe to repeat; createIncrementalSnapshot and startSnapshotCopy are idempotent by name; deleteSnapshot and
 * revokeAccess treat "already gone" as done. A missing disk or snapshot is a PermanentError; throttling and 5xx
 * are retried by the SDK's retry policy (honouring Retry-After) and then surface as transient errors.
 * Calls that draw on ARM's scarce throttling budgets (snapshot create, grant, revoke and delete; disk import) are
 * paced by the budgets ARM reported to this worker (src/adapters/compute-throttling.ts); a call that would wait
 * longer than the pacing allows fails with the transient ComputeThrottledError. A CopyStart refused by one of
 * Azure's managed-copy limits fails with the transient CopyLimitError naming the limit.
 */
import { ComputeManagementClient, type Disk, type Snapshot, type VirtualMachine } from "@azure/arm-compute";
import type { TokenCredential } from "@azure/core-auth";
import { createDefaultHttpClient, createPipelineRequest } from "@azure/core-rest-pipeline";
import { CopyLimitError, PermanentError, codeOf, statusOf, type CopyLimit } from "../domain/errors";
import type { DiskProperties } from "../domain/manifest";
import { type DiskRef, type VmRef, parseDiskId } from "../domain/model";
import { withoutAbsent } from "../domain/objects";
import { ComputeThrottling, type PacingOptions, type ThrottlingObserver, computePolicies, defaultPacing } from "./compute-throttling";

/** What diskdelta needs to know of a managed disk. */
export interface DiskInfo {
  readonly ref: DiskRef;
  readonly location: string;
  readonly uniqueId: string;
  readonly sizeBytes: number;
  /** What a restore needs to recreate it: sku, OS and boot properties, security type, zones, sector size, tags. */
  readonly properties: DiskProperties;
  /** Succeeded once the disk is usable; Creating/Updating while an operation on it runs; Failed. */
  readonly provisioningState: string;
}

/** The properties a disk's data carries into its snapshots, and a bootable restore needs. */
export type BootProperties = Pick<DiskProperties, "osType" | "hyperVGeneration" | "supportedCapabilities" | "securityType">;

/** What diskdelta needs to know of an incremental SourceSnapshot. */
export interface SnapshotInfo {
  readonly id: string;
  readonly name: string;
  readonly resourceGroup: string;
  readonly subscriptionId: string;
  readonly location: string;
  readonly uniqueId: string;
  readonly timeCreated: Date;
  readonly sizeBytes: number;
  /** The incremental snapshot family; none for a full snapshot. */
  readonly familyId: string | undefined;
  /** The disk it was taken of; none for a snapshot imported from a VHD or uploaded. */
  readonly sourceResourceId: string | undefined;
  /** The uniqueId of the disk incarnation it was taken of, when ARM says. */
  readonly sourceUniqueId: string | undefined;
  readonly incremental: boolean;
  /** Premium SSD v2 / Ultra snapshots are readable only at 100. */
  readonly completionPercent: number;
  readonly provisioningState: string;
  readonly tags: Readonly<Record<string, string>>;
  /** Copied by the service from the disk when the snapshot was taken. */
  readonly boot: BootProperties;
  /** `creationData.createOption`: Copy for a snapshot of a disk, CopyStart for a managed copy into another region. */
  readonly createOption: string | undefined;
  /** Set once a managed copy (CopyStart) failed; the snapshot never reaches completionPercent 100. */
  readonly copyCompletionError: { code: string; message: string } | undefined;
}

/** Read access to a Trusted Launch snapshot: its data and its VM guest state. */
export interface SecureAccess {
  readonly accessSAS: string;
  /** Absent when the snapshot has no VM guest state. */
  readonly securityDataAccessSAS: string | undefined;
}

/** Where a disk is created and the properties it is given, whatever it is created from. */
export interface NewDiskRequest {
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  readonly name: string;
  readonly location: string;
  readonly sku?: string;
  readonly diskSizeGB?: number;
  readonly boot?: BootProperties;
  readonly zones?: readonly string[];
  readonly tags?: Readonly<Record<string, string>>;
}

/** Options for a disk created from a RestorePoint's blob snapshot (Import, ImportSecure). */
export interface ImportDiskRequest extends NewDiskRequest {
  readonly sourceUri: string;
  readonly storageAccountId: string;
  /** A blob holding the VM guest state: the disk is created with `ImportSecure` (Trusted Launch). */
  readonly securityDataUri?: string;
}

/** A disk created from a snapshot (`createOption: Copy`, in the snapshot's region), e.g. a managed RestorePoint's. */
export interface CopyDiskRequest extends NewDiskRequest {
  readonly sourceSnapshotId: string;
}

/** A managed copy (CopyStart) of an incremental snapshot into another region. */
export interface SnapshotCopyRequest {
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  readonly name: string;
  /** The target region; the source snapshot's own region is refused. */
  readonly location: string;
  readonly sourceSnapshotId: string;
  readonly tags: Record<string, string>;
}

/** A disk attached to a VM: its managed disk id, or none for an unmanaged (VHD) disk, which diskdelta cannot protect. */
export interface AttachedDisk {
  readonly name: string | undefined;
  readonly diskId: string | undefined;
}

/** What diskdelta needs to know of a virtual machine: its attached disks and how it boots. */
export interface VirtualMachineInfo {
  readonly ref: VmRef;
  readonly location: string;
  readonly vmSize: string | undefined;
  /** `securityProfile.securityType` (TrustedLaunch, ConfidentialVM), with its UEFI settings. */
  readonly securityType: string | undefined;
  readonly secureBootEnabled: boolean | undefined;
  readonly vTpmEnabled: boolean | undefined;
  readonly osDisk: AttachedDisk;
  readonly dataDisks: readonly (AttachedDisk & { readonly lun: number })[];
}

/** The compute operations diskdelta uses. */
export interface ComputeGateway {
  getDisk(ref: DiskRef): Promise<DiskInfo>;
  /** The VM and its attached disks; a PermanentError VmNotFound when it (or its resource group) does not exist. */
  getVirtualMachine(ref: VmRef): Promise<VirtualMachineInfo>;
  createIncrementalSnapshot(disk: DiskInfo, name: string, tags: Record<string, string>): Promise<SnapshotInfo>;
  getSnapshot(snapshotId: string): Promise<SnapshotInfo | undefined>;
  /** Incremental snapshots of this disk incarnation (sourceResourceId AND sourceUniqueId), oldest first. */
  listDiskSnapshots(disk: DiskInfo): Promise<SnapshotInfo[]>;
  /** A read SAS URL for the snapshot; cached in memory until shortly before it expires unless `fresh`. */
  grantRead(snapshotId: string, durationSeconds: number, fresh?: boolean): Promise<string>;
  /**
   * A fresh read grant that also asks for the VM guest state (`getSecureVMGuestStateSAS`); the data SAS it returns
   * replaces the cached one.
   */
  grantSecureRead(snapshotId: string, durationSeconds: number): Promise<SecureAccess>;
  revokeAccess(snapshotId: string): Promise<void>;
  deleteSnapshot(snapshotId: string): Promise<void>;
  importDisk(request: ImportDiskRequest): Promise<DiskInfo>;
  /** Sends the disk's creation and returns once ARM accepted it; follow it with getDisk (provisioningState). */
  beginImportDisk(request: ImportDiskRequest): Promise<void>;
  /**
   * A read SAS on an unattached disk's own data (its export: the disk is ActiveSAS until revoked). Granting again
   * during the export extends it; a missing disk is a PermanentError DiskNotFound. Never cached.
   */
  grantDiskRead(ref: DiskRef, durationSeconds: number): Promise<string>;
  /** Ends a disk's export; a disk that is gone, or not exported, is fine. */
  revokeDiskAccess(ref: DiskRef): Promise<void>;
  /** Deletes a disk (revoke its export first); one that is gone already is fine. */
  deleteDisk(ref: DiskRef): Promise<void>;
  /** The disks of a resource group; none when the group does not exist. */
  listDisks(subscriptionId: string, resourceGroup: string): Promise<DiskInfo[]>;
  /**
   * Starts a managed copy (CopyStart) of an incremental snapshot into another region: idempotent by name (an existing
   * snapshot of that name is returned as it is); returns once ARM accepted it, without waiting for the copy. A refusal
   * by one of Azure's copy limits is a CopyLimitError (transient); a source that is gone, a PermanentError
   * SnapshotNotFound.
   */
  startSnapshotCopy(request: SnapshotCopyRequest): Promise<SnapshotInfo>;
  /** Incremental and full snapshots of a resource group, oldest first (none when the group does not exist). */
  listSnapshots(subscriptionId: string, resourceGroup: string): Promise<SnapshotInfo[]>;
  /** Sends the creation of a disk from a snapshot (`createOption: Copy`) and returns once ARM accepted it; follow with getDisk. */
  beginCopyDisk(request: CopyDiskRequest): Promise<void>;
  /**
   * The region ARM reports for a storage account (Microsoft.Storage Get, which needs
   * `Microsoft.Storage/storageAccounts/read` on it); undefined when it cannot be read (no such account, no permission,
   * ARM failing after its retries): the region is then not known, and the disk service judges a Disk Import alone.
   */
  storageAccountLocation(storageAccountId: string): Promise<string | undefined>;
}

const snapshotIdPattern =
  /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Compute\/snapshots\/([^/]+)$/i;

function parseSnapshotId(id: string): { subscriptionId: string; resourceGroup: string; name: string } {
  const match = snapshotIdPattern.exec(id);
  if (!match) throw new PermanentError("InvalidSnapshotId", `not a snapshot resource id: ${id}`);
  return { subscriptionId: match[1], resourceGroup: match[2], name: match[3] };
}

function isNotFound(error: unknown): boolean {
  return statusOf(error) === 404 || codeOf(error) === "ResourceNotFound" || codeOf(error) === "NotFound";
}

/**
 * A field ARM always returns on the resource: its absence is an answer diskdelta cannot decide on (which chain a
 * snapshot is in, how big it is), so it is an error naming the field, never a default.
 */
function required<T>(value: T | undefined | null, field: string, resource: string): T {
  if (value === undefined || value === null || value === "") throw new Error(`ARM answered ${resource} without ${field}; retrying`);
  return value;
}

/** Bytes of a disk or snapshot: `diskSizeBytes`, or `diskSizeGB` when only that is returned (whole GiB). */
function sizeOf(resource: { diskSizeBytes?: number; diskSizeGB?: number }, what: string): number {
  return resource.diskSizeBytes ?? required(resource.diskSizeGB, "diskSizeBytes or diskSizeGB", what) * 1024 ** 3;
}

function toSnapshotInfo(snapshot: Snapshot): SnapshotInfo {
  const id = required(snapshot.id, "id", "a snapshot");
  const where = parseSnapshotId(id);
  const what = `snapshot ${id}`;
  return {
    id,
    name: snapshot.name ?? where.name,
    resourceGroup: where.resourceGroup,
    subscriptionId: where.subscriptionId,
    location: snapshot.location,
    uniqueId: required(snapshot.uniqueId, "uniqueId", what),
    timeCreated: new Date(required(snapshot.timeCreated, "timeCreated", what)),
    sizeBytes: sizeOf(snapshot, what),
    // Full (not incremental) snapshots have no family; diskdelta only chains incremental ones.
    familyId: snapshot.incremental ? required(snapshot.incrementalSnapshotFamilyId, "incrementalSnapshotFamilyId", what) : undefined,
    // Absent for snapshots made by Import or Upload: such a snapshot is of no disk, never in a disk's chain.
    sourceResourceId: snapshot.creationData?.sourceResourceId,
    sourceUniqueId: snapshot.creationData?.sourceUniqueId,
    incremental: snapshot.incremental === true,
    // Only snapshots that complete in the background (Premium SSD v2, Ultra, CopyStart) report a percentage.
    completionPercent: snapshot.completionPercent ?? 100,
    provisioningState: required(snapshot.provisioningState, "provisioningState", what),
    tags: snapshot.tags ?? {},
    boot: bootPropertiesOf(snapshot),
    createOption: snapshot.creationData?.createOption,
    copyCompletionError: snapshot.copyCompletionError
      ? { code: snapshot.copyCompletionError.errorCode, message: snapshot.copyCompletionError.errorMessage }
      : undefined,
  };
}

/**
 * Which managed-copy limit a refused CopyStart names, if any. Azure documents the limits, not their answers; this
 * reads a 409 OperationNotAllowed whose message names the limit, as the local emulator's do (assumed, see
 * docs/local-stack.md); any other refusal stays what it is.
 */
function copyLimitOf(error: unknown): CopyLimit | undefined {
  if (statusOf(error) !== 409 || codeOf(error) !== "OperationNotAllowed") return undefined;
  const message = error instanceof Error ? error.message : "";
  if (/maxCopiesInFlight|in parallel/i.test(message)) return "regionInFlight";
  if (/oneCopyPerDisk|one incremental snapshot of a disk|at a time/i.test(message)) return "diskInFlight";
  if (/copyOrder|order they were created/i.test(message)) return "creationOrder";
  return undefined;
}

function bootPropertiesOf(resource: Disk | Snapshot): BootProperties {
  const capabilities = resource.supportedCapabilities;
  return withoutAbsent({
    osType: resource.osType,
    hyperVGeneration: resource.hyperVGeneration as BootProperties["hyperVGeneration"],
    supportedCapabilities: capabilities
      ? withoutAbsent({ architecture: capabilities.architecture, diskControllerTypes: capabilities.diskControllerTypes, acceleratedNetwork: capabilities.acceleratedNetwork })
      : undefined,
    securityType: resource.securityProfile?.securityType,
  });
}

function diskPropertiesOf(disk: Disk, sizeBytes: number): DiskProperties {
  return withoutAbsent({
    location: disk.location,
    sizeBytes,
    sku: disk.sku?.name,
    ...bootPropertiesOf(disk),
    zones: disk.zones?.length ? disk.zones : undefined,
    logicalSectorSize: disk.creationData?.logicalSectorSize,
    tags: disk.tags ?? {},
  });
}

function toDiskInfo(disk: Disk, fallbackId: string): DiskInfo {
  const ref = parseDiskId(disk.id ?? fallbackId);
  if (!ref) throw new Error(`ARM answered a disk with an unexpected id: ${disk.id}`);
  const sizeBytes = sizeOf(disk, `disk ${ref.id}`);
  return {
    ref,
    location: disk.location,
    uniqueId: required(disk.uniqueId, "uniqueId", `disk ${ref.id}`),
    sizeBytes,
    properties: diskPropertiesOf(disk, sizeBytes),
    provisioningState: required(disk.provisioningState, "provisioningState", `disk ${ref.id}`),
  };
}

function toVirtualMachineInfo(vm: VirtualMachine, ref: VmRef): VirtualMachineInfo {
  const storage = vm.storageProfile;
  const security = vm.securityProfile;
  return {
    ref,
    location: vm.location,
    vmSize: vm.hardwareProfile?.vmSize,
    securityType: security?.securityType,
    secureBootEnabled: security?.uefiSettings?.secureBootEnabled,
    vTpmEnabled: security?.uefiSettings?.vTpmEnabled,
    osDisk: { name: storage?.osDisk?.name, diskId: storage?.osDisk?.managedDisk?.id },
    dataDisks: (storage?.dataDisks ?? []).map((d) => ({ lun: d.lun, name: d.name, diskId: d.managedDisk?.id })),
  };
}

/**
 * Options for the ARM client: the endpoint (Azure's by default), how often to poll long-running operations, how
 * calls are paced by ARM's throttling budgets (`defaultPacing`; `false` only to measure a worker without pacing), and
 * where throttling is reported.
 */
export interface ComputeOptions {
  readonly endpoint: string;
  readonly pollIntervalMs?: number;
  readonly pacing?: PacingOptions | false;
  readonly observer: ThrottlingObserver;
}

/** Sends the requests the compute clients' pipelines carry to other ARM resource types (a storage account's Get). */
const armHttpClient = createDefaultHttpClient();

/** Builds the gateway over one ComputeManagementClient per subscription, created once per worker. */
export function createComputeGateway(credential: TokenCredential, options: ComputeOptions): ComputeGateway {
  const clients = new Map<string, ComputeManagementClient>();
  const sasCache = new Map<string, { url: string; renewAfter: number }>();
  const poll = { updateIntervalInMs: options.pollIntervalMs ?? 2000 };
  const throttling = new ComputeThrottling(options.pacing ?? defaultPacing, options.observer);

  const clientFor = (subscriptionId: string): ComputeManagementClient => {
    let client = clients.get(subscriptionId);
    if (!client) {
      client = new ComputeManagementClient(credential, subscriptionId, {
        endpoint: options.endpoint,
        additionalPolicies: [{ policy: throttling.policyFor(subscriptionId), position: "perRetry" }],
      });
      clients.set(subscriptionId, client);
    }
    return client;
  };

  /** Revoke and delete: forget the cached SAS, and treat a snapshot that is already gone as done. */
  const endSnapshotOperation = async (
    snapshotId: string,
    operation: (where: ReturnType<typeof parseSnapshotId>) => PromiseLike<unknown>,
  ): Promise<void> => {
    sasCache.delete(snapshotId.toLowerCase());
    try {
      await operation(parseSnapshotId(snapshotId));
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  };

  const getSnapshot = async (snapshotId: string): Promise<SnapshotInfo | undefined> => {
    const where = parseSnapshotId(snapshotId);
    try {
      return toSnapshotInfo(await clientFor(where.subscriptionId).snapshots.get(where.resourceGroup, where.name));
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  };

  /** Sends a disk's creation (Import, ImportSecure or Copy) with the properties a restore records. */
  const beginCreateDisk = async (request: NewDiskRequest, creationData: Disk["creationData"]) => {
    await throttling.pace(request.subscriptionId, computePolicies.diskWrite, `creating disk ${request.name}`);
    const { boot } = request;
    return clientFor(request.subscriptionId).disks.beginCreateOrUpdate(
      request.resourceGroup,
      request.name,
      {
        location: request.location,
        sku: request.sku ? { name: request.sku as never } : undefined,
        zones: request.zones?.length ? [...request.zones] : undefined,
        tags: request.tags ? { ...request.tags } : undefined,
        diskSizeGB: request.diskSizeGB,
        osType: boot?.osType,
        hyperVGeneration: boot?.hyperVGeneration,
        supportedCapabilities: boot?.supportedCapabilities,
        securityProfile: boot?.securityType ? { securityType: boot.securityType } : undefined,
        creationData,
      },
      poll,
    );
  };

  const beginImport = (request: ImportDiskRequest) => {
    const { sourceUri, storageAccountId, securityDataUri } = request;
    return beginCreateDisk(
      request,
      securityDataUri ? { createOption: "ImportSecure", sourceUri, storageAccountId, securityDataUri } : { createOption: "Import", sourceUri, storageAccountId },
    );
  };

  /** A read grant (with the VM guest state when `secure`); its data SAS replaces the cached one. */
  const grant = async (snapshotId: string, durationSeconds: number, secure: boolean): Promise<SecureAccess> => {
    const where = parseSnapshotId(snapshotId);
    await throttling.pace(where.subscriptionId, computePolicies.snapshotWrite, `granting read access on ${snapshotId}`);
    try {
      const access = await clientFor(where.subscriptionId).snapshots.grantAccess(
        where.resourceGroup,
        where.name,
        { access: "Read", durationInSeconds: durationSeconds, ...(secure ? { getSecureVMGuestStateSAS: true } : {}) },
        poll,
      );
      if (!access.accessSAS) throw new PermanentError("NoAccessSAS", `grant access on ${snapshotId} returned no SAS`);
      // Renew well before expiry so that a long CopyStep never starts with a SAS about to run out.
      sasCache.set(snapshotId.toLowerCase(), { url: access.accessSAS, renewAfter: Date.now() + (durationSeconds * 1000) / 2 });
      return { accessSAS: access.accessSAS, securityDataAccessSAS: access.securityDataAccessSAS || undefined };
    } catch (error) {
      if (isNotFound(error)) throw new PermanentError("SnapshotNotFound", `snapshot ${snapshotId} no longer exists`);
      throw error;
    }
  };

  return {
    async getDisk(ref) {
      try {
        return toDiskInfo(await clientFor(ref.subscriptionId).disks.get(ref.resourceGroup, ref.name), ref.id);
      } catch (error) {
        if (codeOf(error) === "ResourceGroupNotFound") throw new PermanentError("ResourceGroupNotFound", `resource group '${ref.resourceGroup}' of disk ${ref.id} does not exist`);
        if (isNotFound(error)) throw new PermanentError("DiskNotFound", `disk ${ref.id} does not exist (deleted?)`);
        throw error;
      }
    },

    async getVirtualMachine(ref) {
      try {
        return toVirtualMachineInfo(await clientFor(ref.subscriptionId).virtualMachines.get(ref.resourceGroup, ref.name), ref);
      } catch (error) {
        if (isNotFound(error) || codeOf(error) === "ResourceGroupNotFound") {
          throw new PermanentError("VmNotFound", `virtual machine ${ref.id} does not exist (check the subscription, resource group and name)`);
        }
        throw error;
      }
    },

    async createIncrementalSnapshot(disk, name, tags) {
      const id = `/subscriptions/${disk.ref.subscriptionId}/resourceGroups/${disk.ref.resourceGroup}/providers/Microsoft.Compute/snapshots/${name}`;
      const existing = await getSnapshot(id);
      if (existing) return existing;
      await throttling.pace(disk.ref.subscriptionId, computePolicies.snapshotWrite, `creating snapshot ${name}`);
      const created = await clientFor(disk.ref.subscriptionId).snapshots.createOrUpdate(
        disk.ref.resourceGroup,
        name,
        { location: disk.location, incremental: true, tags, creationData: { createOption: "Copy", sourceResourceId: disk.ref.id } },
        poll,
      );
      return toSnapshotInfo(created);
    },

    getSnapshot,

    async listDiskSnapshots(disk) {
      const found: SnapshotInfo[] = [];
      for await (const snapshot of clientFor(disk.ref.subscriptionId).snapshots.listByResourceGroup(disk.ref.resourceGroup)) {
        const info = toSnapshotInfo(snapshot);
        const sameDisk = info.sourceResourceId?.toLowerCase() === disk.ref.id.toLowerCase();
        if (info.incremental && sameDisk && info.sourceUniqueId === disk.uniqueId) found.push(info);
      }
      return found.sort((a, b) => a.timeCreated.getTime() - b.timeCreated.getTime());
    },

    async grantRead(snapshotId, durationSeconds, fresh = false) {
      const cached = sasCache.get(snapshotId.toLowerCase());
      if (!fresh && cached && cached.renewAfter > Date.now()) return cached.url;
      return (await grant(snapshotId, durationSeconds, false)).accessSAS;
    },

    grantSecureRead: (snapshotId, durationSeconds) => grant(snapshotId, durationSeconds, true),

    revokeAccess: (snapshotId) =>
      endSnapshotOperation(snapshotId, async (where) => {
        await throttling.pace(where.subscriptionId, computePolicies.snapshotWrite, `revoking read access on ${snapshotId}`);
        return clientFor(where.subscriptionId).snapshots.revokeAccess(where.resourceGroup, where.name, poll);
      }),

    deleteSnapshot: (snapshotId) =>
      endSnapshotOperation(snapshotId, async (where) => {
        await throttling.pace(where.subscriptionId, computePolicies.snapshotDelete, `deleting snapshot ${snapshotId}`);
        return clientFor(where.subscriptionId).snapshots.delete(where.resourceGroup, where.name, poll);
      }),

    async importDisk(request) {
      const poller = await beginImport(request);
      return toDiskInfo(await poller.pollUntilDone(), "");
    },

    async beginImportDisk(request) {
      await beginImport(request);
    },

    async grantDiskRead(ref, durationSeconds) {
      await throttling.pace(ref.subscriptionId, computePolicies.diskWrite, `granting read access on disk ${ref.id}`);
      try {
        const access = await clientFor(ref.subscriptionId).disks.grantAccess(ref.resourceGroup, ref.name, { access: "Read", durationInSeconds: durationSeconds }, poll);
        if (!access.accessSAS) throw new PermanentError("NoAccessSAS", `grant access on disk ${ref.id} returned no SAS`);
        return access.accessSAS;
      } catch (error) {
        if (isNotFound(error)) throw new PermanentError("DiskNotFound", `disk ${ref.id} does not exist (deleted?)`);
        throw error;
      }
    },

    async revokeDiskAccess(ref) {
      await throttling.pace(ref.subscriptionId, computePolicies.diskWrite, `revoking read access on disk ${ref.id}`);
      await clientFor(ref.subscriptionId).disks.revokeAccess(ref.resourceGroup, ref.name, poll).catch((error: unknown) => {
        if (!isNotFound(error)) throw error;
      });
    },

    async deleteDisk(ref) {
      await throttling.pace(ref.subscriptionId, computePolicies.diskWrite, `deleting disk ${ref.id}`);
      await clientFor(ref.subscriptionId).disks.delete(ref.resourceGroup, ref.name, poll).catch((error: unknown) => {
        if (!isNotFound(error)) throw error;
      });
    },

    async startSnapshotCopy(request) {
      const id = `/subscriptions/${request.subscriptionId}/resourceGroups/${request.resourceGroup}/providers/Microsoft.Compute/snapshots/${request.name}`;
      const existing = await getSnapshot(id);
      if (existing) return existing;
      await throttling.pace(request.subscriptionId, computePolicies.snapshotWrite, `starting the copy of ${request.sourceSnapshotId} as ${request.name}`);
      try {
        await clientFor(request.subscriptionId).snapshots.beginCreateOrUpdate(
          request.resourceGroup,
          request.name,
          {
            location: request.location,
            incremental: true,
            tags: request.tags,
            creationData: { createOption: "CopyStart", sourceResourceId: request.sourceSnapshotId },
          },
          poll,
        );
      } catch (error) {
        const limit = copyLimitOf(error);
        if (limit) throw new CopyLimitError(limit, `the copy of ${request.sourceSnapshotId} into ${request.location} was refused: ${error instanceof Error ? error.message : String(error)}`);
        if (isNotFound(error)) throw new PermanentError("SnapshotNotFound", `source snapshot ${request.sourceSnapshotId} of copy ${request.name} does not exist`);
        throw error;
      }
      return required(await getSnapshot(id), "the accepted snapshot", `copy ${id}`);
    },

    async listSnapshots(subscriptionId, resourceGroup) {
      const found: SnapshotInfo[] = [];
      try {
        for await (const snapshot of clientFor(subscriptionId).snapshots.listByResourceGroup(resourceGroup)) found.push(toSnapshotInfo(snapshot));
      } catch (error) {
        if (isNotFound(error) || codeOf(error) === "ResourceGroupNotFound") return [];
        throw error;
      }
      return found.sort((a, b) => a.timeCreated.getTime() - b.timeCreated.getTime());
    },

    async beginCopyDisk(request) {
      await beginCreateDisk(request, { createOption: "Copy", sourceResourceId: request.sourceSnapshotId });
    },

    async storageAccountLocation(storageAccountId) {
      const subscriptionId = /^\/subscriptions\/([^/]+)\//i.exec(storageAccountId)?.[1];
      if (!subscriptionId) return undefined;
      // The compute client's pipeline (credential, retries) serves any ARM resource; Microsoft.Storage's GA version.
      const url = `${options.endpoint.replace(/\/+$/, "")}${storageAccountId}?api-version=2023-05-01`;
      const answer = await clientFor(subscriptionId).pipeline.sendRequest(armHttpClient, createPipelineRequest({ url, method: "GET" })).catch(() => undefined);
      if (answer?.status !== 200) return undefined;
      const location: unknown = (JSON.parse(answer.bodyAsText ?? "{}") as { location?: unknown }).location;
      return typeof location === "string" && location ? location : undefined;
    },

    async listDisks(subscriptionId, resourceGroup) {
      const found: DiskInfo[] = [];
      try {
        for await (const disk of clientFor(subscriptionId).disks.listByResourceGroup(resourceGroup)) found.push(toDiskInfo(disk, ""));
      } catch (error) {
        if (isNotFound(error) || codeOf(error) === "ResourceGroupNotFound") return [];
        throw error;
      }
      return found;
    },
  };
}
