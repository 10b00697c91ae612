/**
 * POST /api/disks/{diskKey}/restore-points/{restorePointId}/restore — restore a RestorePoint to a new managed disk:
 * 202 with the restore's id and status URL once it is checked and recorded (the import runs through the `restores`
 * queue); 404 for an unknown RestorePoint; 409 for a taken disk name or a missing resource group.
 */
import { ConflictError, PermanentError } from "../domain/errors";
import { restoreRequestSchema } from "../engine/restore";
import { acceptRestore } from "../engine/restores";
import { httpHandler, problem, readBody } from "../host/http";
import { register } from "../host/register";
import { restoreView } from "./restore-get";

export const restoreHandler = httpHandler(async (request, deps, log) => {
  const body = await readBody(request, restoreRequestSchema);
  if ("response" in body) return body.response;
  const { diskKey, restorePointId } = request.params;
  // Who asked, and who says so: the front end's authenticated principal (App Service authentication sets the header
  // and strips a client's own), else the name the client gives, recorded as such.
  const principal = request.headers.get("x-ms-client-principal-name");
  const claimed = request.headers.get("x-diskdelta-requested-by");
  const requestedBy = principal ? `${principal} (authenticated)` : claimed ? `${claimed} (as the client says; function key)` : "a function key holder";
  try {
    const restore = await acceptRestore(deps, diskKey, restorePointId, body.value, requestedBy.slice(0, 200));
    if (!restore) return problem(404, "RestorePointNotFound", `no RestorePoint ${restorePointId} for disk ${diskKey}`);
    log.info("restore accepted", { diskKey, restorePointId, restoreId: restore.restoreId, diskId: restore.newDiskId });
    const statusUrl = new URL(`/api/disks/${diskKey}/restores/${restore.restoreId}`, request.url).toString();
    return { status: 202, jsonBody: { ...restoreView(restore), statusUrl }, headers: { Location: statusUrl } };
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
