/**
 * ARM's resource groups (`Microsoft.Resources/resourceGroups`, REST reference api-version 2021-04-01) as far as
 * disks and snapshots need them (and, with the same checks, the Get of the stack's storage accounts:
 * `storage-account-routes.ts`): Create Or Update (201 new, 200 existing; the location cannot change), Get, Check
 * Existence (HEAD: 204 or 404), Update (tags) and Delete. Delete removes the group's disks and snapshots with it,
 * as Azure does, and answers 202 with a Location to poll (`/subscriptions/{sub}/operationresults/{id}`: 202 until
 * `lroDelayMs` has passed, then 200). The group is gone at once: Azure shows it "Deleting" until the job ends.
 * Any date-shaped api-version is served; ARM's subscription-level rate-limit headers are not emulated.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { randomUUID } from "node:crypto";
import type { DiskEmulatorOptions } from "../disks/api";
import { readJson } from "../disks/http";
import type { ResourceGroupRecord, ResourceGroupStore } from "../disks/resource-groups";
import type { DiskStore } from "../disks/store";
import type { VirtualMachineStore } from "../disks/virtual-machines";
import { armErrors, httpError } from "../error-catalog";
import { RouteTable } from "./route-table";
import type { StorageAccountDirectory } from "../storage-accounts";
import { storageAccountRoutes } from "./storage-account-routes";
import { answerArmError, checkAuthorization, decodeNames, sendArm, type ArmCall as Call } from "./arm-call";
import { bodyObject, optionalTags, requiredLocation } from "./validation";

/** Serves the resource group routes; answers false for other paths. */
export type ResourceGroupRoute = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;

const groupPath = "/subscriptions/{subscriptionId}/resourcegroups/{resourceGroup}";
const operationPath = "/subscriptions/{subscriptionId}/operationresults/{operation}";

export function createResourceGroupRoute(
  groups: ResourceGroupStore,
  store: DiskStore,
  options: DiskEmulatorOptions,
  vms?: VirtualMachineStore,
  accounts?: StorageAccountDirectory,
): ResourceGroupRoute {
  const baseUrl = options.baseUrl.replace(/\/$/, "");
  const deletions = new Map<string, number>();

  const send = sendArm;

  function requireGroup({ params }: Call): ResourceGroupRecord {
    const group = groups.find(params.resourceGroup);
    if (!group) throw httpError(armErrors.resourceGroupNotFound(params.resourceGroup));
    return group;
  }

  async function putGroup(call: Call) {
    const body = bodyObject(await readJson(call.req));
    const { group, created } = groups.createOrUpdate(call.params.resourceGroup, requiredLocation(body), optionalTags(body.tags));
    send(call.res, created ? 201 : 200, groupJson(group));
  }

  async function patchGroup(call: Call) {
    const group = requireGroup(call);
    const tags = optionalTags(bodyObject(await readJson(call.req)).tags);
    if (tags) group.tags = tags;
    send(call.res, 200, groupJson(group));
  }

  function deleteGroup(call: Call) {
    const group = requireGroup(call);
    // The group's VMs go first, so their disks are detached when the disks are deleted.
    vms?.deleteGroupContents(group.name);
    store.deleteGroupContents(group.name);
    groups.delete(group.name);
    const operation = Buffer.from(JSON.stringify({ jobId: `ResourceGroupDeletionJob-${randomUUID()}`, jobLocation: group.location })).toString(
      "base64url",
    );
    deletions.set(operation, Date.now() + (options.lroDelayMs ?? 0));
    send(call.res, 202, undefined, operationHeaders(call, operation));
  }

  function pollDeletion(call: Call) {
    const doneAt = deletions.get(call.params.operation);
    if (doneAt === undefined) throw httpError(armErrors.operationNotFound(call.params.operation));
    if (Date.now() < doneAt) return send(call.res, 202, undefined, operationHeaders(call, call.params.operation));
    send(call.res, 200, undefined);
  }

  function operationHeaders({ params, version }: Call, operation: string): Record<string, string> {
    return {
      Location: `${baseUrl}/subscriptions/${params.subscriptionId}/operationresults/${operation}?api-version=${version}`,
      "Retry-After": String(options.lroRetryAfterSeconds ?? 0),
    };
  }

  const routes = new RouteTable<(call: Call) => Promise<void> | void>([
    { method: "PUT", path: groupPath, handle: putGroup },
    { method: "GET", path: groupPath, handle: (call) => send(call.res, 200, groupJson(requireGroup(call))) },
    { method: "HEAD", path: groupPath, handle: (call) => send(call.res, groups.find(call.params.resourceGroup) ? 204 : 404, undefined) },
    { method: "PATCH", path: groupPath, handle: patchGroup },
    { method: "DELETE", path: groupPath, handle: deleteGroup },
    { method: "GET", path: operationPath, handle: pollDeletion, exact: true },
    ...(accounts ? storageAccountRoutes(accounts, baseUrl) : []),
  ]);

  return async (req, res, url) => {
    const method = req.method ?? "GET";
    const match = routes.match(method, url.pathname);
    if (!match) return false;
    // Decoded outside the try, as the compute routes do: a malformed escape is no ARM error.
    const params = decodeNames(match.params);
    try {
      checkAuthorization(req);
      const version = groupApiVersion(url);
      if (params.subscriptionId.toLowerCase() !== options.subscriptionId.toLowerCase()) {
        throw httpError(armErrors.subscriptionNotFound(params.subscriptionId));
      }
      if (!match.route) throw httpError(armErrors.methodNotAllowed(method));
      await match.route.handle({ req, res, url, params, version });
    } catch (error) {
      answerArmError(res, error);
    }
    return true;
  };
}

/** A resource group as Get and Create Or Update return it. */
export function groupJson(group: ResourceGroupRecord): Record<string, unknown> {
  return {
    id: group.id,
    name: group.name,
    type: "Microsoft.Resources/resourceGroups",
    location: group.location,
    ...(group.tags ? { tags: group.tags } : {}),
    properties: { provisioningState: "Succeeded" },
  };
}

/** The request's api-version; the emulator does not know which Microsoft.Resources versions exist, only their form. */
function groupApiVersion(url: URL): string {
  const version = url.searchParams.get("api-version");
  if (!version) throw httpError(armErrors.missingApiVersion);
  if (!/^\d{4}-\d{2}-\d{2}(-preview)?$/.test(version)) throw httpError(armErrors.invalidApiVersion(version));
  return version;
}
