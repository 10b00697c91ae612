/** GET /api/disks/{diskKey}/drills — a disk's DrillRuns, newest first (`?limit=`, default 20). */
import { httpHandler, json, problem } from "../host/http";
import { register } from "../host/register";

export const listDrillsHandler = httpHandler(async (request, deps) => {
  const limit = Number(request.query.get("limit") ?? 20);
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) return problem(400, "InvalidRequest", "limit: must be an integer from 1 to 500");
  return json(200, { drills: await deps.records.listDrills(request.params.diskKey, limit) });
});

export default register({ kind: "http", name: "listDrills", methods: ["GET"], route: "disks/{diskKey}/drills", handler: listDrillsHandler });
