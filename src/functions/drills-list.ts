/** GET /api/disks/{diskKey}/drills — a disk's DrillRuns, newest first (`?limit=`, default 20). */
import type { HttpRequest, HttpResponseInit } from "@azure/functions";
import { httpHandler, json, problem } from "../host/http";
import { register } from "../host/register";

/** The `?limit=` of a drill listing (1-500, default 20), or the 400 answer for a bad one. */
export function drillsLimit(request: HttpRequest): number | HttpResponseInit {
  const limit = Number(request.query.get("limit") ?? 20);
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) return problem(400, "InvalidRequest", "limit: must be an integer from 1 to 500");
  return limit;
}

export const listDrillsHandler = httpHandler(async (request, deps) => {
  const limit = drillsLimit(request);
  if (typeof limit !== "number") return limit;
  return json(200, { drills: await deps.records.listDrills(request.params.diskKey, limit) });
});

export default register({ kind: "http", name: "listDrills", methods: ["GET"], route: "disks/{diskKey}/drills", handler: listDrillsHandler });
