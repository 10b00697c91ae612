/**
 * The Microsoft.Compute disks and snapshots API as `@azure/arm-compute` 24.x calls it (api-version 2025-01-02;
 * every registered DiskRP version is served with the same shapes): resource CRUD, list with nextLink paging,
 * grant/revoke access, and the DiskOperations resources its pollers follow. Long-running operations answer 202
 * with Azure-AsyncOperation and Location like the recorded service; every call draws on a throttling policy.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { DiskEmulatorOptions } from "../disks/api";
import { readJson } from "../disks/http";
import { gib, maxDiskSizeGB } from "../disks/limits";
import { vhdFooterSize } from "../disks/vhd";
import type { ResourceGroupStore } from "../disks/resource-groups";
import type { BootProperties, DiskRecord, DiskSettings, DiskStore, NewResource, SnapshotRecord } from "../disks/store";
import type { IssuedAccess, SasAuthority } from "../dataplane/sas";
import { isRegionDown, type ServiceBehaviour } from "../behaviour";
import type { VirtualMachineStore } from "../disks/virtual-machines";
import { armErrors, httpError } from "../error-catalog";
import { sendComputeThrottle } from "../service-errors";
import { servedApiVersion, type DiskResourceType } from "./api-versions";
import { importDisk, importGuestState, importSource, refuseOtherRegion, secureImportSource } from "./import";
import type { StorageAccountDirectory } from "../storage-accounts";
import { parseDiskPatch, parseDiskPut, type DiskPutSettings } from "./disk-properties";
import { armLocation, OperationRegistry, type OperationKind, type OperationLinks } from "./operations";
import { RateLimitCounters, type Policy } from "./rate-limits";
import { answerArmError, checkAuthorization, decodeNames, sendArm, type ArmCall } from "./arm-call";
import { RouteTable } from "./route-table";
import { acceptedJson, diskJson, snapshotJson, virtualMachineJson } from "./resources";
import { unchangedCreationData, unchangedIncremental } from "./creation-data";
import { copyDiskFromSnapshot, snapshotSourceDisk, startSnapshotCopy } from "./copy-sources";
import {
  armError,
  missingParameter,
  bodyObject,
  optionalObject,
  optionalPositiveInt,
  optionalTags,
  requiredLocation,
  requiredString,
  requireResourceName,
} from "./validation";

/** Serves ARM compute requests; answers false for paths that are not disk or snapshot routes. */
export type ComputeRoute = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;

type Handler = (call: ArmCall) => Promise<void> | void;

const inSubscription = "/subscriptions/{subscriptionId}/providers/Microsoft.Compute";
const inGroup = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroup}/providers/Microsoft.Compute";

/**
 * Serves the compute routes of `store`. The throttling budgets come from `behaviour` at every call; LRO timing
 * from `options` (`lroDelayMs`, `lroRetryAfterSeconds`, `lroPollRetryAfterSeconds`).
 */
export function createComputeRoute(
  store: DiskStore,
  groups: ResourceGroupStore,
  sas: SasAuthority,
  options: DiskEmulatorOptions,
  behaviour: ServiceBehaviour,
  vms: VirtualMachineStore,
  accounts?: StorageAccountDirectory,
): ComputeRoute {
  const baseUrl = options.baseUrl.replace(/\/$/, "");
  const retryAfterSeconds = options.lroRetryAfterSeconds ?? 0;
  const operations = new OperationRegistry(
    baseUrl,
    options.subscriptionId,
    options.lroDelayMs ?? 0,
    options.lroPollRetryAfterSeconds ?? retryAfterSeconds,
  );
  const rateLimits = new RateLimitCounters(() => behaviour.computeRateLimits);
  const pageSize = Math.max(1, options.pageSize ?? 100);
  const retryAfter = String(retryAfterSeconds);

  // The throttling header was set on `res` when the call was admitted; writeHead merges it in.
  const send = sendArm;

  /** The 202 of a long-running operation; PUT and PATCH also carry Retry-After and the accepted resource. */
  function accepted(res: ServerResponse, links: OperationLinks, body?: unknown) {
    send(res, 202, body, {
      "Azure-AsyncOperation": links.azureAsyncOperation,
      Location: links.location,
      ...(body === undefined ? {} : { "Retry-After": retryAfter }),
    });
  }

  /** Starts an operation with the call's api-version and answers its 202. */
  function acceptOperation(call: ArmCall, location: string, kind: OperationKind, output?: () => unknown, body?: unknown) {
    accepted(call.res, operations.start(location, call.version, kind, output), body);
  }

  function page<T>(url: URL, version: string, items: T[], render: (item: T) => unknown): { value: unknown[]; nextLink?: string } {
    const skip = Number(url.searchParams.get("$skiptoken") ?? "0");
    const start = Number.isSafeInteger(skip) && skip > 0 ? skip : 0;
    const value = items.slice(start, start + pageSize).map(render);
    if (start + pageSize >= items.length) return { value };
    return { value, nextLink: `${baseUrl}${url.pathname}?api-version=${version}&$skiptoken=${start + pageSize}` };
  }

  /** The location ARM names in NoRegisteredProviderFound: the resource's; "global" before there is one (assumed). */
  function locationOf(type: DiskResourceType, params: Readonly<Record<string, string>>): string {
    if (type === operationType) return armLocation(params.location);
    const { resourceGroup: group, name } = params;
    if (group === undefined || name === undefined) return "global";
    const found =
      type === "disks" ? store.findDisk(group, name) : type === "snapshots" ? store.findSnapshot(group, name) : vms.find(group, name);
    return found ? armLocation(found.location) : "global";
  }

  /**
   * The regions a call is about, for `setRegionOutage`: its resource group's and the existing resource's, or the
   * operation's location; none for subscription-wide lists (served in an outage).
   */
  function regionsOf(type: DiskResourceType, params: Readonly<Record<string, string>>): (string | undefined)[] {
    if (params.resourceGroup === undefined) return [params.location];
    const resource = params.name === undefined ? undefined : locationOf(type, params);
    return [groups.find(params.resourceGroup)?.location, resource === "global" ? undefined : resource];
  }

  function requireVirtualMachine({ params }: ArmCall) {
    const vm = vms.find(params.resourceGroup, params.name);
    if (!vm) throw httpError(armErrors.resourceNotFound("virtualMachines", params.resourceGroup, params.name));
    return vm;
  }

  function requireDisk({ params }: ArmCall): DiskRecord {
    const disk = store.findDisk(params.resourceGroup, params.name);
    if (!disk) throw httpError(armErrors.resourceNotFound("disks", params.resourceGroup, params.name));
    return disk;
  }

  function requireSnapshot({ params }: ArmCall): SnapshotRecord {
    const snapshot = store.findSnapshot(params.resourceGroup, params.name);
    if (!snapshot) throw httpError(armErrors.resourceNotFound("snapshots", params.resourceGroup, params.name));
    return snapshot;
  }

  function listDisks({ res, url, version, params }: ArmCall) {
    send(res, 200, page(url, version, store.listDisks(params.resourceGroup), (disk) => diskJson(disk, store)));
  }

  function listSnapshots({ res, url, version, params }: ArmCall) {
    send(res, 200, page(url, version, store.listSnapshots(params.resourceGroup), (item) => snapshotJson(item, store)));
  }

  async function putDisk(call: ArmCall) {
    const { group, name, location, properties, tags, body } = await readResourcePut(call);
    requireResourceName("disk", name);
    let disk = store.findDisk(group, name);
    if (disk) requireSameLocation(disk, group, location);
    const diskSizeGB = optionalPositiveInt(properties.diskSizeGB, "diskSizeGB", maxDiskSizeGB);
    const settings = parseDiskPut(body, properties);
    if (disk) {
      unchangedCreationData(disk.creationData, optionalObject(properties.creationData, "creationData"));
      if (diskSizeGB !== undefined) store.resizeDisk(disk, diskSizeGB * gib);
      if (tags) disk.tags = tags;
      // As a PATCH may: sku, osType and supportedCapabilities change; zones, hyperVGeneration, securityProfile stay.
      updateDisk(disk, { sku: settings.sku, boot: { osType: settings.boot.osType, supportedCapabilities: settings.boot.supportedCapabilities } });
    } else {
      disk = await createDisk({ resourceGroup: group, name, location, tags }, properties, diskSizeGB, settings);
    }
    const current = disk;
    acceptOperation(call, current.location, "write", () => diskJson(current, store), acceptedJson(diskJson(current, store)));
  }

  /** A new disk from the PUT's creationData; every parameter is checked before anything is read or created. */
  async function createDisk(
    params: NewResource,
    properties: Record<string, unknown>,
    diskSizeGB: number | undefined,
    { sku, zones, boot, logicalSectorSize }: DiskPutSettings,
  ): Promise<DiskRecord> {
    const creation = optionalObject(properties.creationData, "creationData");
    const createOption = requiredString(creation?.createOption, "creationData.createOption");
    const sector = logicalSectorSize === undefined ? {} : { logicalSectorSize };
    const settings: DiskSettings = { sku, zones, boot };
    switch (createOption.toLowerCase()) {
      case "empty":
        if (diskSizeGB === undefined) throw missingParameter("diskSizeGB");
        return store.createDisk(params, diskSizeGB * gib, { createOption: "Empty", ...sector }, settings);
      case "upload": {
        const uploadSizeBytes = requiredUploadSize(creation?.uploadSizeBytes);
        return store.createDisk(params, uploadSizeBytes - vhdFooterSize, { createOption: "Upload", uploadSizeBytes, ...sector }, settings);
      }
      case "copy":
        return copyDiskFromSnapshot(store, params, creation, diskSizeGB, settings);
      case "import": {
        const creationData = { createOption: "Import", ...importSource(creation), ...sector };
        refuseOtherRegion(accounts, creationData, params.location);
        return importDisk(store, options.importReader, params, creationData, diskSizeGB, settings);
      }
      case "importsecure": {
        const secure = secureImportSource(creation, boot);
        const creationData = { createOption: "ImportSecure", ...importSource(creation), ...secure, ...sector };
        refuseOtherRegion(accounts, creationData, params.location);
        const guestState = await importGuestState(options.importReader, secure);
        return importDisk(store, options.importReader, params, creationData, diskSizeGB, { ...settings, guestState });
      }
      default:
        throw armError(
          "creationData.createOption",
          `The disk emulator supports createOption 'Copy' (from a snapshot), 'Empty', 'Import', 'ImportSecure' and 'Upload', not '${createOption}'.`,
        );
    }
  }

  /** What a PATCH (or a PUT of an existing disk) may change besides size and tags: the sku, osType, supportedCapabilities. */
  function updateDisk(disk: DiskRecord, { sku, boot }: { sku?: string; boot: BootProperties }) {
    if (sku) disk.sku = sku;
    if (boot.osType) disk.boot.osType = boot.osType;
    if (boot.supportedCapabilities) disk.boot.supportedCapabilities = boot.supportedCapabilities;
  }

  async function patchDisk(call: ArmCall) {
    const disk = requireDisk(call);
    const body = bodyObject(await readJson(call.req));
    const properties = optionalObject(body.properties, "properties") ?? {};
    const diskSizeGB = optionalPositiveInt(properties.diskSizeGB, "diskSizeGB", maxDiskSizeGB);
    const tags = optionalTags(body.tags);
    const update = parseDiskPatch(body, properties);
    if (diskSizeGB !== undefined) store.resizeDisk(disk, diskSizeGB * gib);
    if (tags) disk.tags = tags;
    updateDisk(disk, update);
    acceptOperation(call, disk.location, "write", () => diskJson(disk, store), acceptedJson(diskJson(disk, store)));
  }

  async function putSnapshot(call: ArmCall) {
    const { group, name, location, properties, tags } = await readResourcePut(call);
    requireResourceName("snapshot", name);
    let snapshot = store.findSnapshot(group, name);
    if (snapshot) {
      requireSameLocation(snapshot, group, location);
      unchangedIncremental(snapshot.incremental, properties.incremental);
      unchangedCreationData(snapshot.creationData, optionalObject(properties.creationData, "creationData"));
      if (tags) snapshot.tags = tags;
    } else {
      const creation = optionalObject(properties.creationData, "creationData");
      const createOption = requiredString(creation?.createOption, "creationData.createOption");
      const params = { resourceGroup: group, name, location, tags };
      if (createOption.toLowerCase() === "copystart") {
        snapshot = startSnapshotCopy(store, params, properties, creation);
        const current = snapshot;
        acceptOperation(call, current.location, "write", () => snapshotJson(current, store), acceptedJson(snapshotJson(current, store)));
        return;
      }
      if (createOption.toLowerCase() !== "copy") {
        throw armError("creationData.createOption", `The disk emulator supports createOption 'Copy' and 'CopyStart', not '${createOption}'.`);
      }
      const source = snapshotSourceDisk(store, location, creation);
      const incremental = properties.incremental === true;
      snapshot = store.createSnapshot(params, source, incremental);
    }
    const current = snapshot;
    acceptOperation(call, current.location, "write", () => snapshotJson(current, store), acceptedJson(snapshotJson(current, store)));
  }

  async function patchSnapshot(call: ArmCall) {
    const snapshot = requireSnapshot(call);
    const body = bodyObject(await readJson(call.req));
    const tags = optionalTags(body.tags);
    if (tags) snapshot.tags = tags;
    acceptOperation(call, snapshot.location, "write", () => snapshotJson(snapshot, store), acceptedJson(snapshotJson(snapshot, store)));
  }

  /** DELETE as ARM answers it: 204 when there is nothing to delete, else 202 with the operation. */
  function deleteResource<T extends DiskRecord | SnapshotRecord>(
    find: (group: string, name: string) => T | undefined,
    remove: (resource: T) => void,
  ): Handler {
    return (call) => {
      const resource = find(call.params.resourceGroup, call.params.name);
      if (!resource) return send(call.res, 204, undefined);
      remove(resource);
      acceptOperation(call, resource.location, "action");
    };
  }

  const deleteDisk = deleteResource((group, name) => store.findDisk(group, name), (disk) => store.deleteDisk(disk));
  const deleteSnapshot = deleteResource((group, name) => store.findSnapshot(group, name), (snapshot) => store.deleteSnapshot(snapshot));

  async function grantAccess(call: ArmCall) {
    const snapshot = requireSnapshot(call);
    const body = bodyObject(await readJson(call.req));
    const access = requiredString(body.access, "access");
    if (access.toLowerCase() !== "read") {
      throw armError("access", `Snapshots can be exported for 'Read' access only, not '${access}'.`);
    }
    const duration = requiredDuration(body);
    const guestState = guestStateFlag(body);
    const granted = store.grantAccess(snapshot, duration, guestState);
    const output = readGrantOutput(granted, guestState);
    acceptOperation(call, snapshot.location, "action", () => output);
  }

  /**
   * A Read grant's output: `accessSAS`, and `securityDataAccessSAS` when the guest state was asked for and the
   * snapshot or disk has one (without one, only accessSAS: assumed, the reference does not say).
   */
  function readGrantOutput(granted: IssuedAccess & { guestStateBlobId?: string }, guestState: boolean) {
    return {
      accessSAS: sas.issue(granted),
      ...(guestState && granted.guestStateBlobId ? { securityDataAccessSAS: sas.issue(granted, granted.guestStateBlobId) } : {}),
    };
  }

  /**
   * A disk's grant: Write starts (or extends) the upload of a ReadyToUpload disk and answers its upload SAS; Read
   * exports an Unattached disk (ActiveSAS) and answers like a snapshot's grant. Read of a disk being uploaded or
   * attached to a VM is refused (409, code assumed).
   */
  async function grantDiskAccess(call: ArmCall) {
    const disk = requireDisk(call);
    const body = bodyObject(await readJson(call.req));
    const access = requiredString(body.access, "access");
    const duration = requiredDuration(body);
    if (access.toLowerCase() === "write") {
      const accessSAS = sas.issueWrite(store.grantUpload(disk, duration));
      acceptOperation(call, disk.location, "action", () => ({ accessSAS }));
      return;
    }
    if (access.toLowerCase() !== "read") throw armError("access", `Access is 'Read' or 'Write', not '${access}'.`);
    const guestState = guestStateFlag(body);
    const output = readGrantOutput(store.grantExport(disk, duration, guestState), guestState);
    acceptOperation(call, disk.location, "action", () => output);
  }

  /** Ends a disk's upload (ActiveUpload becomes Unattached) or export (ActiveSAS becomes Unattached); else nothing happens. */
  function revokeDiskAccess(call: ArmCall) {
    const disk = requireDisk(call);
    store.revokeUpload(disk);
    store.revokeExport(disk);
    acceptOperation(call, disk.location, "action");
  }

  function revokeAccess(call: ArmCall) {
    const snapshot = requireSnapshot(call);
    store.revokeAccess(snapshot);
    acceptOperation(call, snapshot.location, "action");
  }

  function pollOperation({ res, url, params }: ArmCall) {
    const answer = operations.poll(params.operation, url.searchParams.get("monitor") === "true");
    if (!answer) throw httpError(armErrors.operationNotFound(params.operation));
    send(res, answer.status, answer.body, answer.headers);
  }

  const routes = new RouteTable<Handler>([
    { method: "GET", path: `${inSubscription}/disks`, handle: listDisks },
    { method: "GET", path: `${inGroup}/disks`, handle: listDisks },
    { method: "GET", path: `${inGroup}/disks/{name}`, handle: (call) => send(call.res, 200, diskJson(requireDisk(call), store)) },
    { method: "PUT", path: `${inGroup}/disks/{name}`, handle: putDisk },
    { method: "PATCH", path: `${inGroup}/disks/{name}`, handle: patchDisk },
    { method: "DELETE", path: `${inGroup}/disks/{name}`, handle: deleteDisk },
    { method: "POST", path: `${inGroup}/disks/{name}/beginGetAccess`, handle: grantDiskAccess },
    { method: "POST", path: `${inGroup}/disks/{name}/endGetAccess`, handle: revokeDiskAccess },
    { method: "GET", path: `${inSubscription}/snapshots`, handle: listSnapshots },
    { method: "GET", path: `${inGroup}/snapshots`, handle: listSnapshots },
    { method: "GET", path: `${inGroup}/snapshots/{name}`, handle: (call) => send(call.res, 200, snapshotJson(requireSnapshot(call), store)) },
    { method: "PUT", path: `${inGroup}/snapshots/{name}`, handle: putSnapshot },
    { method: "PATCH", path: `${inGroup}/snapshots/{name}`, handle: patchSnapshot },
    { method: "DELETE", path: `${inGroup}/snapshots/{name}`, handle: deleteSnapshot },
    { method: "POST", path: `${inGroup}/snapshots/{name}/beginGetAccess`, handle: grantAccess },
    { method: "POST", path: `${inGroup}/snapshots/{name}/endGetAccess`, handle: revokeAccess },
    { method: "GET", path: `${inGroup}/virtualMachines/{name}`, handle: (call) => send(call.res, 200, virtualMachineJson(requireVirtualMachine(call))) },
    // Operation URLs are followed as handed out, so no trailing slash is tolerated.
    { method: "GET", path: `${inSubscription}/locations/{location}/DiskOperations/{operation}`, handle: pollOperation, exact: true },
  ]);

  return async (req, res, url) => {
    const method = req.method ?? "GET";
    const match = routes.match(method, url.pathname);
    if (!match) return false;
    // Decoded outside the try: a malformed escape is no ARM error, it throws past the catch and the stack answers 500.
    const params = decodeNames(match.params);
    const type = resourceTypeOf(match.path);
    try {
      checkAuthorization(req);
      const version = servedApiVersion(url, type, locationOf(type, params));
      if (params.subscriptionId.toLowerCase() !== options.subscriptionId.toLowerCase()) {
        throw httpError(armErrors.subscriptionNotFound(params.subscriptionId));
      }
      // ARM's front door checks the group before the resource provider (and its throttling) sees the call.
      if (params.resourceGroup !== undefined && !groups.find(params.resourceGroup)) {
        throw httpError(armErrors.resourceGroupNotFound(params.resourceGroup));
      }
      const down = regionsOf(type, params).find((region) => isRegionDown(behaviour, region));
      if (down !== undefined) throw httpError(armErrors.regionUnavailable(armLocation(down)));
      const decision = rateLimits.admit(policyOf(method, type, isAction(match.path)));
      res.setHeader("x-ms-ratelimit-remaining-resource", decision.header);
      if (!decision.admitted) {
        sendComputeThrottle(res, decision.retryAfterSeconds, {
          target: decision.window,
          message: JSON.stringify({
            operationGroup: decision.window,
            allowedRequestCount: decision.allowed,
            measuredRequestCount: decision.measured,
          }),
        });
        return true;
      }
      if (!match.route) throw httpError(armErrors.methodNotAllowed(method));
      await match.route.handle({ req, res, url, params, version });
    } catch (error) {
      answerArmError(res, error);
    }
    return true;
  };
}


const operationType: DiskResourceType = "locations/DiskOperations";

/** The resource type a route template addresses: the segment after Microsoft.Compute, or the operations type. */
function resourceTypeOf(path: string): DiskResourceType {
  const [type] = path.split("/providers/Microsoft.Compute/")[1].split("/");
  return type === "locations" ? operationType : (type as "disks" | "snapshots" | "virtualMachines");
}

/** Whether a route template names an action on a resource (beginGetAccess, endGetAccess). */
function isAction(path: string): boolean {
  return /\/\{name\}\/\w+$/.test(path);
}

/** The throttling policy a call draws on, as the recorded session shows them (lists assumed LowCostGet). */
function policyOf(method: string, type: DiskResourceType, action: boolean): Policy {
  if (type === operationType) return "GetOperation";
  const verb = method.toUpperCase();
  if (verb === "GET") return "LowCostGet";
  if (verb === "DELETE") return "DeleteDisks";
  if (type === "snapshots" && (verb === "POST" || (verb === "PUT" && !action))) return "HighCostSnapshotCreateHydrate";
  return "CreateUpdateDisks";
}

/** The smallest and largest `uploadSizeBytes` (DiskRP reference: 20 MiB + 512 to 32 TiB + 512). */
const minUploadSizeBytes = 20 * 1024 * 1024 + vhdFooterSize;
const maxUploadSizeBytes = 32 * 1024 ** 4 + vhdFooterSize;
const mib = 1024 * 1024;

/**
 * `creationData.uploadSizeBytes` of an Upload disk: a whole number of MiB plus the 512-byte VHD footer (as Add-AzVhd
 * documents the VHD: N MiB + 512), within the reference's bounds. 400 InvalidParameter is assumed.
 */
function requiredUploadSize(value: unknown): number {
  const name = "creationData.uploadSizeBytes";
  if (value === undefined || value === null) throw missingParameter(name);
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < minUploadSizeBytes || value > maxUploadSizeBytes) {
    throw armError(name, `'${name}' ${String(value)} must be from ${minUploadSizeBytes} (20 MiB + 512 bytes) to ${maxUploadSizeBytes} (32 TiB + 512 bytes).`);
  }
  if ((value - vhdFooterSize) % mib !== 0) {
    throw armError(name, `'${name}' ${value} must be a whole number of MiB plus 512 bytes for the VHD footer.`);
  }
  return value;
}

/** A grant's `durationInSeconds`, required by the reference. */
function requiredDuration(body: Record<string, unknown>): number {
  const duration = optionalPositiveInt(body.durationInSeconds, "durationInSeconds", Number.MAX_SAFE_INTEGER);
  if (duration === undefined) throw missingParameter("durationInSeconds");
  return duration;
}

/** A Read grant's `getSecureVMGuestStateSAS` (default false). */
function guestStateFlag(body: Record<string, unknown>): boolean {
  const guestState = body.getSecureVMGuestStateSAS ?? false;
  if (typeof guestState !== "boolean") throw armError("getSecureVMGuestStateSAS", "Parameter 'getSecureVMGuestStateSAS' must be true or false.");
  return guestState;
}

/**
 * A PUT of an existing disk or snapshot names its location: another one is ARM's 409 InvalidResourceLocation, answered
 * before the resource provider checks anything else (a resource cannot move; the resource group check is alike).
 */
function requireSameLocation(existing: DiskRecord | SnapshotRecord, group: string, location: string): void {
  if (armLocation(existing.location) === armLocation(location)) return;
  throw httpError(armErrors.resourceInOtherLocation(existing.name, armLocation(existing.location), group, armLocation(location)));
}

/** What a PUT of any resource type reads first, checked in this order: its body, location, properties, tags. */
async function readResourcePut({ req, params }: ArmCall) {
  const body = bodyObject(await readJson(req));
  return {
    body,
    group: params.resourceGroup,
    name: params.name,
    location: requiredLocation(body),
    properties: optionalObject(body.properties, "properties") ?? {},
    tags: optionalTags(body.tags),
  };
}
