/**
 * The Microsoft.Compute disks and snapshots API as `@azure/arm-compute` 24.x calls it (api-version 2025-01-02;
 * every registered DiskRP version is served with the same shapes): resource CRUD, list with nextLink paging,
 * grant/revoke access, and the DiskOperations resources its pollers follow. Long-running operations answer 202
 * with Azure-AsyncOperation and Location like the recorded service; every call draws on a throttling policy.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { randomUUID } from "node:crypto";
import { EmulatorHttpError, type DiskEmulatorOptions } from "../disks/api";
import { readJson, sendJson } from "../disks/http";
import { gib, maxDiskSizeGB } from "../disks/limits";
import type { DiskRecord, DiskStore, NewResource, SnapshotRecord } from "../disks/store";
import type { SasAuthority } from "../dataplane/sas";
import type { ServiceBehaviour } from "../behaviour";
import { sendComputeThrottle } from "../service-errors";
import { servedApiVersion, type DiskResourceType } from "./api-versions";
import { importDisk } from "./import";
import { armLocation, OperationRegistry, type OperationKind, type OperationLinks } from "./operations";
import { RateLimitCounters, type Policy } from "./rate-limits";
import { acceptedJson, diskJson, snapshotJson } from "./resources";
import { unchangedCreationData } from "./creation-data";
import { armError, PropertyError, bodyObject, optionalObject, optionalPositiveInt, optionalTags, requiredString } from "./validation";

/** Serves ARM compute requests; answers false for paths that are not disk or snapshot routes. */
export type ComputeRoute = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;

const resourcePath =
  /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Compute\/(disks|snapshots)(?:\/([^/]+)(?:\/(beginGetAccess|endGetAccess))?)?\/?$/i;
const subscriptionListPath = /^\/subscriptions\/([^/]+)\/providers\/Microsoft\.Compute\/(disks|snapshots)\/?$/i;
const operationPath = /^\/subscriptions\/([^/]+)\/providers\/Microsoft\.Compute\/locations\/([^/]+)\/DiskOperations\/([^/]+)$/i;

/** Starts an operation with the request's api-version: "write" for PUT and PATCH, "action" for POST and DELETE. */
type StartOperation = (location: string, kind: OperationKind, output?: () => unknown) => OperationLinks;

const operationType: DiskResourceType = "locations/DiskOperations";

/** A parsed route: which collection, which item, which action. */
interface Target {
  subscriptionId: string;
  resourceGroup?: string;
  kind: "disks" | "snapshots";
  name?: string;
  action?: "begingetaccess" | "endgetaccess";
}

/**
 * Serves the compute routes of `store`. The throttling budgets come from `behaviour` at every call; LRO timing
 * from `options` (`lroDelayMs`, `lroRetryAfterSeconds`, `lroPollRetryAfterSeconds`).
 */
export function createComputeRoute(
  store: DiskStore,
  sas: SasAuthority,
  options: DiskEmulatorOptions,
  behaviour: ServiceBehaviour,
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
  function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
    sendJson(res, status, body, {
      "x-ms-request-id": randomUUID(),
      "x-ms-correlation-request-id": randomUUID(),
      "Cache-Control": "no-cache",
      ...headers,
    });
  }

  /** The 202 of a long-running operation; PUT and PATCH also carry Retry-After and the accepted resource. */
  function accepted(res: ServerResponse, links: OperationLinks, body?: unknown) {
    send(res, 202, body, {
      "Azure-AsyncOperation": links.azureAsyncOperation,
      Location: links.location,
      ...(body === undefined ? {} : { "Retry-After": retryAfter }),
    });
  }

  function page<T>(url: URL, version: string, items: T[], render: (item: T) => unknown): { value: unknown[]; nextLink?: string } {
    const skip = Number(url.searchParams.get("$skiptoken") ?? "0");
    const start = Number.isSafeInteger(skip) && skip > 0 ? skip : 0;
    const value = items.slice(start, start + pageSize).map(render);
    if (start + pageSize >= items.length) return { value };
    return { value, nextLink: `${baseUrl}${url.pathname}?api-version=${version}&$skiptoken=${start + pageSize}` };
  }

  /** The location ARM names in NoRegisteredProviderFound: the resource's; "global" before there is one (assumed). */
  function locationOf(target: Target): string {
    if (target.resourceGroup === undefined || target.name === undefined) return "global";
    const found = target.kind === "disks" ? store.findDisk(target.resourceGroup, target.name) : store.findSnapshot(target.resourceGroup, target.name);
    return found ? armLocation(found.location) : "global";
  }

  function notFound(kind: "disks" | "snapshots", resourceGroup: string, name: string): EmulatorHttpError {
    return new EmulatorHttpError(
      404,
      "ResourceNotFound",
      `The Resource 'Microsoft.Compute/${kind}/${name}' under resource group '${resourceGroup}' was not found. ` +
        "For more details please go to https://aka.ms/ARMResourceNotFoundFix",
    );
  }

  function requireDisk(group: string, name: string): DiskRecord {
    const disk = store.findDisk(group, name);
    if (!disk) throw notFound("disks", group, name);
    return disk;
  }

  function requireSnapshot(group: string, name: string): SnapshotRecord {
    const snapshot = store.findSnapshot(group, name);
    if (!snapshot) throw notFound("snapshots", group, name);
    return snapshot;
  }

  async function putDisk(req: IncomingMessage, res: ServerResponse, start: StartOperation, group: string, name: string) {
    const body = bodyObject(await readJson(req));
    const location = requiredLocation(body);
    const properties = optionalObject(body.properties, "properties") ?? {};
    const tags = optionalTags(body.tags);
    const diskSizeGB = optionalPositiveInt(properties.diskSizeGB, "diskSizeGB", maxDiskSizeGB);
    let disk = store.findDisk(group, name);
    if (disk) {
      unchangedCreationData(disk.creationData, optionalObject(properties.creationData, "creationData"));
      if (tags) disk.tags = tags;
      if (diskSizeGB !== undefined) store.resizeDisk(disk, diskSizeGB * gib);
    } else {
      const creation = optionalObject(properties.creationData, "creationData");
      const createOption = requiredString(creation?.createOption, "creationData.createOption");
      const params: NewResource = { resourceGroup: group, name, location, tags };
      if (createOption.toLowerCase() === "empty") {
        if (diskSizeGB === undefined) throw armError("diskSizeGB", "Required parameter 'diskSizeGB' is missing (null).");
        disk = store.createDisk(params, diskSizeGB * gib, { createOption: "Empty" });
      } else if (createOption.toLowerCase() === "import") {
        const creationData = {
          createOption: "Import",
          sourceUri: requiredString(creation?.sourceUri, "creationData.sourceUri"),
          storageAccountId: requiredString(creation?.storageAccountId, "creationData.storageAccountId"),
        };
        disk = await importDisk(store, options.importReader, params, creationData, diskSizeGB);
      } else {
        throw armError(
          "creationData.createOption",
          `The disk emulator supports createOption 'Empty' and 'Import', not '${createOption}'.`,
        );
      }
    }
    const current = disk;
    accepted(res, start(current.location, "write", () => diskJson(current)), acceptedJson(diskJson(current)));
  }

  async function patchDisk(req: IncomingMessage, res: ServerResponse, start: StartOperation, disk: DiskRecord) {
    const body = bodyObject(await readJson(req));
    const properties = optionalObject(body.properties, "properties") ?? {};
    const diskSizeGB = optionalPositiveInt(properties.diskSizeGB, "diskSizeGB", maxDiskSizeGB);
    const tags = optionalTags(body.tags);
    if (diskSizeGB !== undefined) store.resizeDisk(disk, diskSizeGB * gib);
    if (tags) disk.tags = tags;
    accepted(res, start(disk.location, "write", () => diskJson(disk)), acceptedJson(diskJson(disk)));
  }

  async function putSnapshot(req: IncomingMessage, res: ServerResponse, start: StartOperation, group: string, name: string) {
    const body = bodyObject(await readJson(req));
    const location = requiredLocation(body);
    const properties = optionalObject(body.properties, "properties") ?? {};
    const tags = optionalTags(body.tags);
    let snapshot = store.findSnapshot(group, name);
    if (snapshot) {
      if (tags) snapshot.tags = tags;
    } else {
      const creation = optionalObject(properties.creationData, "creationData");
      const createOption = requiredString(creation?.createOption, "creationData.createOption");
      if (createOption.toLowerCase() !== "copy") {
        throw armError("creationData.createOption", `The disk emulator supports createOption 'Copy', not '${createOption}'.`);
      }
      // Older api-versions named the source disk in sourceUri (see the recorded session); both are accepted.
      const sourceId = requiredString(creation?.sourceResourceId ?? creation?.sourceUri, "creationData.sourceResourceId");
      const source = store.diskById(sourceId);
      if (!source) {
        if (store.snapshotById(sourceId)) {
          throw armError("creationData.sourceResourceId", "The disk emulator snapshots disks only, not snapshots.");
        }
        throw new EmulatorHttpError(404, "ResourceNotFound", `The source disk '${sourceId}' was not found.`);
      }
      const incremental = properties.incremental === true;
      snapshot = store.createSnapshot({ resourceGroup: group, name, location, tags }, source, incremental);
    }
    const current = snapshot;
    accepted(res, start(current.location, "write", () => snapshotJson(current, store)), acceptedJson(snapshotJson(current, store)));
  }

  async function patchSnapshot(req: IncomingMessage, res: ServerResponse, start: StartOperation, snapshot: SnapshotRecord) {
    const body = bodyObject(await readJson(req));
    const tags = optionalTags(body.tags);
    if (tags) snapshot.tags = tags;
    accepted(res, start(snapshot.location, "write", () => snapshotJson(snapshot, store)), acceptedJson(snapshotJson(snapshot, store)));
  }

  async function grantAccess(req: IncomingMessage, res: ServerResponse, start: StartOperation, snapshot: SnapshotRecord) {
    const body = bodyObject(await readJson(req));
    const access = requiredString(body.access, "access");
    if (access.toLowerCase() !== "read") {
      throw armError("access", `Snapshots can be exported for 'Read' access only, not '${access}'.`);
    }
    const duration = optionalPositiveInt(body.durationInSeconds, "durationInSeconds", Number.MAX_SAFE_INTEGER);
    if (duration === undefined) {
      throw armError("durationInSeconds", "Required parameter 'durationInSeconds' is missing (null).");
    }
    const accessSAS = sas.issue(store.grantAccess(snapshot, duration));
    accepted(res, start(snapshot.location, "action", () => ({ accessSAS })));
  }

  async function handle(req: IncomingMessage, res: ServerResponse, url: URL, target: Target, version: string): Promise<void> {
    const method = req.method ?? "GET";
    const { resourceGroup: group, kind, name, action } = target;
    const start: StartOperation = (location, operationKind, output) => operations.start(location, version, operationKind, output);
    if (group === undefined || name === undefined) {
      if (method !== "GET") throw methodNotAllowed(method);
      const items = kind === "disks" ? store.listDisks(group) : store.listSnapshots(group);
      const render = (item: DiskRecord | SnapshotRecord) =>
        kind === "disks" ? diskJson(item as DiskRecord) : snapshotJson(item as SnapshotRecord, store);
      send(res, 200, page(url, version, items, render));
      return;
    }
    if (kind === "disks") {
      if (action) {
        throw new EmulatorHttpError(501, "NotImplemented", "The disk emulator exports snapshots, not disks.");
      }
      if (method === "GET") return send(res, 200, diskJson(requireDisk(group, name)));
      if (method === "PUT") return putDisk(req, res, start, group, name);
      if (method === "PATCH") return patchDisk(req, res, start, requireDisk(group, name));
      if (method === "DELETE") {
        const disk = store.findDisk(group, name);
        if (!disk) return send(res, 204, undefined);
        store.deleteDisk(disk);
        return accepted(res, start(disk.location, "action"));
      }
      throw methodNotAllowed(method);
    }
    if (action === "begingetaccess" && method === "POST") return grantAccess(req, res, start, requireSnapshot(group, name));
    if (action === "endgetaccess" && method === "POST") {
      const snapshot = requireSnapshot(group, name);
      store.revokeAccess(snapshot);
      return accepted(res, start(snapshot.location, "action"));
    }
    if (action) throw methodNotAllowed(method);
    if (method === "GET") return send(res, 200, snapshotJson(requireSnapshot(group, name), store));
    if (method === "PUT") return putSnapshot(req, res, start, group, name);
    if (method === "PATCH") return patchSnapshot(req, res, start, requireSnapshot(group, name));
    if (method === "DELETE") {
      const snapshot = store.findSnapshot(group, name);
      if (!snapshot) return send(res, 204, undefined);
      store.deleteSnapshot(snapshot);
      return accepted(res, start(snapshot.location, "action"));
    }
    throw methodNotAllowed(method);
  }

  function pollOperation(res: ServerResponse, url: URL, name: string) {
    const answer = operations.poll(name, url.searchParams.get("monitor") === "true");
    if (!answer) throw new EmulatorHttpError(404, "NotFound", `The operation '${name}' was not found.`);
    send(res, answer.status, answer.body, answer.headers);
  }

  return async (req, res, url) => {
    const target = matchTarget(url.pathname);
    const operation = operationPath.exec(url.pathname);
    if (!target && !operation) return false;
    try {
      checkAuthorization(req);
      const version = target
        ? servedApiVersion(url, target.kind, locationOf(target))
        : servedApiVersion(url, operationType, armLocation(operation?.[2] ?? ""));
      const subscriptionId = target?.subscriptionId ?? operation?.[1] ?? "";
      if (subscriptionId.toLowerCase() !== options.subscriptionId.toLowerCase()) {
        throw new EmulatorHttpError(404, "SubscriptionNotFound", `The subscription '${subscriptionId}' could not be found.`);
      }
      const policy = target ? policyOf(req.method ?? "GET", target) : "GetOperation";
      const decision = rateLimits.admit(policy);
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
      if (operation) {
        if (req.method !== "GET") throw methodNotAllowed(req.method ?? "");
        pollOperation(res, url, operation[3]);
      } else if (target) {
        await handle(req, res, url, target, version);
      }
    } catch (error) {
      if (!(error instanceof EmulatorHttpError)) throw error;
      const headers: Record<string, string> = { "x-ms-request-id": randomUUID() };
      if (error.status === 401) {
        headers["WWW-Authenticate"] =
          'Bearer authorization_uri="https://login.microsoftonline.com/common", error="invalid_token", ' +
          `error_description="${error.message}"`;
      }
      const target = error instanceof PropertyError ? { target: error.target } : {};
      sendJson(res, error.status, { error: { code: error.code, message: error.message, ...target } }, headers);
    }
    return true;
  };
}

function matchTarget(pathname: string): Target | undefined {
  const m = resourcePath.exec(pathname);
  if (m) {
    return {
      subscriptionId: m[1],
      resourceGroup: decodeURIComponent(m[2]),
      kind: m[3].toLowerCase() as Target["kind"],
      name: m[4] === undefined ? undefined : decodeURIComponent(m[4]),
      action: m[5]?.toLowerCase() as Target["action"],
    };
  }
  const s = subscriptionListPath.exec(pathname);
  if (s) return { subscriptionId: s[1], kind: s[2].toLowerCase() as Target["kind"] };
  return undefined;
}

function checkAuthorization(req: IncomingMessage): void {
  const value = req.headers.authorization;
  if (!value) {
    throw new EmulatorHttpError(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.");
  }
  if (!/^Bearer \S+$/i.test(value)) {
    throw new EmulatorHttpError(401, "InvalidAuthenticationToken", "The access token is invalid.");
  }
}


/** The throttling policy a call draws on, as the recorded session shows them (lists assumed LowCostGet). */
function policyOf(method: string, target: Target): Policy {
  const verb = method.toUpperCase();
  if (verb === "GET") return "LowCostGet";
  if (verb === "DELETE") return "DeleteDisks";
  if (target.kind === "snapshots" && (verb === "POST" || (verb === "PUT" && !target.action))) return "HighCostSnapshotCreateHydrate";
  return "CreateUpdateDisks";
}

function methodNotAllowed(method: string): EmulatorHttpError {
  return new EmulatorHttpError(405, "MethodNotAllowed", `The method '${method}' is not allowed on this resource.`);
}

function requiredLocation(body: Record<string, unknown>): string {
  if (typeof body.location !== "string" || body.location.trim() === "") {
    throw new EmulatorHttpError(400, "LocationRequired", "The location property is required for this definition.");
  }
  return body.location;
}

