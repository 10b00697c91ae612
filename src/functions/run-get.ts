/** GET /api/disks/{diskKey}/runs/{runId} — a BackupRun's state, progress and error. */
import { httpHandler, json, problem } from "../host/http";
import { register } from "../host/register";

export const getRunHandler = httpHandler(async (request, deps) => {
  const found = await deps.records.getRun(request.params.diskKey, request.params.runId);
  return found ? json(200, found.value) : problem(404, "RunNotFound", `no BackupRun ${request.params.runId} for disk ${request.params.diskKey}`);
});

export default register({ kind: "http", name: "getRun", methods: ["GET"], route: "disks/{diskKey}/runs/{runId}", handler: getRunHandler });
