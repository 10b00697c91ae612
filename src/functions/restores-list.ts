/** GET /api/disks/{diskKey}/restores — a disk's tracked restores, newest first (`?limit=`, default 20). */
import { httpHandler, json, problem } from "../host/http";
import { register } from "../host/register";
import { restoreView } from "./restore-get";

export const listRestoresHandler = httpHandler(async (request, deps) => {
  const limit = Number(request.query.get("limit") ?? 20);
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) return problem(400, "InvalidRequest", "limit: must be an integer from 1 to 500");
  const restores = await deps.records.listRestores(request.params.diskKey, limit);
  return json(200, { restores: restores.map(restoreView) });
});

export default register({ kind: "http", name: "listRestores", methods: ["GET"], route: "disks/{diskKey}/restores", handler: listRestoresHandler });
