/** PATCH /api/disks/{diskKey} — change schedule, mode, retention, copy mode or enabled. */
import { protectedDiskUpdateSchema } from "../domain/model";
import { PermanentError } from "../domain/errors";
import { updateDisk } from "../engine/protection";
import { httpHandler, json, problem, readBody } from "../host/http";
import { register } from "../host/register";

export const updateDiskHandler = httpHandler(async (request, deps) => {
  const body = await readBody(request, protectedDiskUpdateSchema);
  if ("response" in body) return body.response;
  const updated = await updateDisk(deps, request.params.diskKey, body.value).catch((error: unknown) => {
    if (error instanceof PermanentError && error.code === "InvalidRequest") return problem(400, error.code, error.message);
    throw error;
  });
  if (updated && "status" in updated) return updated;
  return updated ? json(200, updated) : problem(404, "DiskNotProtected", `no protected disk ${request.params.diskKey}`);
});

export default register({ kind: "http", name: "updateDisk", methods: ["PATCH"], route: "disks/{diskKey}", handler: updateDiskHandler });
