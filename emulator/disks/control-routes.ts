/**
 * HTTP access to DiskControl for other processes (what a VM would do to its disk):
 * `POST /_emulator/disks/ops` (JSON batch of seeded writes and trims), `PUT /_emulator/disks/write?id=&offset=`
 * (raw bytes), `GET /_emulator/disks/read?id=&offset=&length=`, `PUT /_emulator/disks/snapshot-completion` (JSON
 * `{id, percent}`: the `completionPercent` ARM reports for a snapshot), `PUT|GET /_emulator/disks/guest-state?id=`
 * (a secure disk's VM guest state, raw bytes); the subscription's resource groups: `PUT /_emulator/resource-groups`
 * (`{name, location}`; 201 created, 200 already there) and `GET` (the list); and its VMs: `PUT
 * /_emulator/virtual-machines` (a `VirtualMachineSpec`; 201 with `{id, name, resourceGroup, location}`) and
 * `DELETE /_emulator/virtual-machines?resourceGroup=&name=` (204).
 * Errors are `{error: {code, message}}`.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { EmulatorHttpError } from "./api";
import { controlPaths, diskOpsRequestSchema, resourceGroupSeedSchema, snapshotCompletionRequestSchema } from "./control-protocol";
import { controlErrors, httpError } from "../error-catalog";
import { answeringJsonErrors } from "../service-errors";
import { readBody, readJson, sendJson } from "./http";
import type { ResourceGroupStore } from "./resource-groups";
import type { DiskStore } from "./store";
import type { VirtualMachineSpec, VirtualMachineStore } from "./virtual-machines";

const maxOpsBodyBytes = 256 << 20;
const maxWriteBytes = 64 << 20;

/** Serves the control routes; answers false for other paths. */
export type ControlRoute = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;

export function createControlRoute(store: DiskStore, groups: ResourceGroupStore, vms: VirtualMachineStore): ControlRoute {
  const served = new Set<string>(Object.values(controlPaths));
  return async (req, res, url) => {
    const path = url.pathname;
    if (!served.has(path)) return false;
    await answeringJsonErrors(res, async () => {
      if (path === controlPaths.resourceGroups && req.method === "PUT") {
        const parsed = resourceGroupSeedSchema.safeParse(await readJson(req));
        if (!parsed.success) throw new EmulatorHttpError(400, "InvalidRequestContent", parsed.error.message);
        const { group, created } = groups.createOrUpdate(parsed.data.name, parsed.data.location);
        sendJson(res, created ? 201 : 200, { name: group.name, location: group.location });
      } else if (path === controlPaths.resourceGroups && req.method === "GET") {
        sendJson(res, 200, await groups.listResourceGroups());
      } else if (path === controlPaths.ops && req.method === "POST") {
        const parsed = diskOpsRequestSchema.safeParse(await readJson(req, maxOpsBodyBytes));
        if (!parsed.success) throw new EmulatorHttpError(400, "InvalidRequestContent", parsed.error.message);
        store.applyOps(parsed.data.id, parsed.data.ops);
        sendJson(res, 200, { applied: parsed.data.ops.length });
      } else if (path === controlPaths.write && req.method === "PUT") {
        const data = await readBody(req, maxWriteBytes);
        store.write(requiredParam(url, "id"), numberParam(url, "offset"), data);
        sendJson(res, 200, { written: data.length });
      } else if (path === controlPaths.snapshotCompletion && req.method === "PUT") {
        const parsed = snapshotCompletionRequestSchema.safeParse(await readJson(req));
        if (!parsed.success) throw new EmulatorHttpError(400, "InvalidRequestContent", parsed.error.message);
        store.setSnapshotCompletion(parsed.data.id, parsed.data.percent);
        sendJson(res, 200, parsed.data);
      } else if (path === controlPaths.guestState && req.method === "PUT") {
        store.writeGuestState(requiredParam(url, "id"), await readBody(req, maxWriteBytes + 1));
        res.writeHead(204).end();
      } else if (path === controlPaths.guestState && req.method === "GET") {
        const data = store.readGuestState(requiredParam(url, "id"));
        res.writeHead(200, { "Content-Type": "application/octet-stream", "Content-Length": data.length });
        res.end(data);
      } else if (path === controlPaths.virtualMachines && req.method === "PUT") {
        sendJson(res, 201, await vms.createVirtualMachine((await readJson(req)) as VirtualMachineSpec));
      } else if (path === controlPaths.virtualMachines && req.method === "DELETE") {
        await vms.deleteVirtualMachine(requiredParam(url, "resourceGroup"), requiredParam(url, "name"));
        res.writeHead(204).end();
      } else if (path === controlPaths.read && req.method === "GET") {
        const data = store.read(requiredParam(url, "id"), numberParam(url, "offset"), numberParam(url, "length"));
        res.writeHead(200, { "Content-Type": "application/octet-stream", "Content-Length": data.length });
        res.end(data);
      } else {
        throw httpError(controlErrors.methodNotAllowed(req.method, path));
      }
    });
    return true;
  };
}

function requiredParam(url: URL, name: string): string {
  const value = url.searchParams.get(name);
  if (!value) throw new EmulatorHttpError(400, "InvalidParameter", `Query parameter '${name}' is required.`);
  return value;
}

function numberParam(url: URL, name: string): number {
  const value = Number(requiredParam(url, name));
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new EmulatorHttpError(400, "InvalidParameter", `Query parameter '${name}' must be a non-negative integer.`);
  }
  return value;
}
