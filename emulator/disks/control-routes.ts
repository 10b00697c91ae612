/**
 * HTTP access to DiskControl for other processes (what a VM would do to its disk):
 * `POST /_emulator/disks/ops` (JSON batch of seeded writes and trims), `PUT /_emulator/disks/write?id=&offset=`
 * (raw bytes), `GET /_emulator/disks/read?id=&offset=&length=`, `PUT /_emulator/disks/snapshot-completion` (JSON
 * `{id, percent}`: the `completionPercent` ARM reports for a snapshot), managed copies (`GET
 * /_emulator/disks/snapshot-copy?id=`: a CopyStart snapshot's copy; `PUT /_emulator/disks/snapshot-copy-rate`
 * `{bytesPerSecond}`, a number or "instant"; `PUT /_emulator/disks/snapshot-copy-failure` `{id, errorMessage?,
 * errorCode?}`: the copy ends in copyCompletionError, answered with the copy), `PUT|GET /_emulator/disks/guest-state?id=`
 * (a secure disk's VM guest state, raw bytes); the subscription's resource groups: `PUT /_emulator/resource-groups`
 * (`{name, location}`; 201 created, 200 already there) and `GET` (the list); and its VMs: `PUT
 * /_emulator/virtual-machines` (a `VirtualMachineSpec`; 201 with `{id, name, resourceGroup, location}`) and
 * `DELETE /_emulator/virtual-machines?resourceGroup=&name=` (204).
 * Errors are `{error: {code, message}}`.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { EmulatorHttpError } from "./api";
import type { z } from "zod";
import {
  controlPaths,
  diskOpsRequestSchema,
  resourceGroupSeedSchema,
  snapshotCompletionRequestSchema,
  snapshotCopyFailureRequestSchema,
  snapshotCopyRateRequestSchema,
} from "./control-protocol";
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
        const seed = parsed(resourceGroupSeedSchema, await readJson(req));
        const { group, created } = groups.createOrUpdate(seed.name, seed.location);
        sendJson(res, created ? 201 : 200, { name: group.name, location: group.location });
      } else if (path === controlPaths.resourceGroups && req.method === "GET") {
        sendJson(res, 200, await groups.listResourceGroups());
      } else if (path === controlPaths.ops && req.method === "POST") {
        const batch = parsed(diskOpsRequestSchema, await readJson(req, maxOpsBodyBytes));
        store.applyOps(batch.id, batch.ops);
        sendJson(res, 200, { applied: batch.ops.length });
      } else if (path === controlPaths.write && req.method === "PUT") {
        const data = await readBody(req, maxWriteBytes);
        store.write(requiredParam(url, "id"), numberParam(url, "offset"), data);
        sendJson(res, 200, { written: data.length });
      } else if (path === controlPaths.snapshotCompletion && req.method === "PUT") {
        const completion = parsed(snapshotCompletionRequestSchema, await readJson(req));
        store.setSnapshotCompletion(completion.id, completion.percent);
        sendJson(res, 200, completion);
      } else if (path === controlPaths.snapshotCopy && req.method === "GET") {
        sendJson(res, 200, store.readSnapshotCopy(requiredParam(url, "id")));
      } else if (path === controlPaths.snapshotCopyRate && req.method === "PUT") {
        const rate = parsed(snapshotCopyRateRequestSchema, await readJson(req));
        store.setSnapshotCopyRate(rate.bytesPerSecond);
        sendJson(res, 200, rate);
      } else if (path === controlPaths.snapshotCopyFailure && req.method === "PUT") {
        const failure = parsed(snapshotCopyFailureRequestSchema, await readJson(req));
        store.failSnapshotCopy(failure.id, failure.errorMessage, failure.errorCode);
        sendJson(res, 200, store.readSnapshotCopy(failure.id));
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

/** A control body parsed by its schema; 400 InvalidRequestContent with zod's message otherwise. */
function parsed<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body);
  if (!result.success) throw new EmulatorHttpError(400, "InvalidRequestContent", result.error.message);
  return result.data;
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
