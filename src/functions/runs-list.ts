/** GET /api/disks/{diskKey}/runs — the newest BackupRuns of a disk (?limit=, default 20). */
import { httpHandler, json, problem } from "../host/http";
import { register } from "../host/register";

export const listRunsHandler = httpHandler(async (request, deps) => {
  const limit = Number(request.query.get("limit") ?? 20);
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) return problem(400, "InvalidRequest", "limit: must be an integer from 1 to 500");
  return json(200, { runs: await deps.records.listRuns(request.params.diskKey, limit) });
});

export default register({ kind: "http", name: "listRuns", methods: ["GET"], route: "disks/{diskKey}/runs", handler: listRunsHandler });
