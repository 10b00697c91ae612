/** POST /api/disks/{diskKey}/restore-points/{restorePointId}/restore — create a managed disk from a RestorePoint. */
import { ConflictError, PermanentError } from "../domain/errors";
import { restoreDisk, restoreRequestSchema } from "../engine/restore";
import { httpHandler, json, problem, readBody } from "../host/http";
import { register } from "../host/register";

export const restoreHandler = httpHandler(async (request, deps, log) => {
  const body = await readBody(request, restoreRequestSchema);
  if ("response" in body) return body.response;
  const { diskKey, restorePointId } = request.params;
  try {
    const restored = await restoreDisk(deps, diskKey, restorePointId, body.value);
    if (!restored) return problem(404, "RestorePointNotFound", `no RestorePoint ${restorePointId} for disk ${diskKey}`);
    log.info("disk restored", { diskKey, restorePointId, diskId: restored.diskId });
    return json(200, restored);
  } catch (error) {
    if (error instanceof PermanentError) return problem(error instanceof ConflictError ? 409 : 400, error.code, error.message);
    throw error;
  }
});

export default register({
  kind: "http",
  name: "restoreRestorePoint",
  methods: ["POST"],
  route: "disks/{diskKey}/restore-points/{restorePointId}/restore",
  handler: restoreHandler,
});
