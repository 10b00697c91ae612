/** PATCH /api/disks/{diskKey} — change schedule, mode, retention, copy mode or enabled. */
import { protectedDiskUpdateSchema } from "../domain/model";
import { InvalidProtectionError, updateDisk } from "../engine/protection";
import { httpHandler, json, problem, readBody } from "../host/http";
import { register } from "../host/register";

export const updateDiskHandler = httpHandler(async (request, deps) => {
  const body = await readBody(request, protectedDiskUpdateSchema);
  if ("response" in body) return body.response;
  let updated;
  try {
    updated = await updateDisk(deps, request.params.diskKey, body.value);
  } catch (error) {
    if (error instanceof InvalidProtectionError) return problem(400, error.code, error.message);
    throw error;
  }
  return updated ? json(200, updated) : problem(404, "DiskNotProtected", `no protected disk ${request.params.diskKey}`);
});

export default register({ kind: "http", name: "updateDisk", methods: ["PATCH"], route: "disks/{diskKey}", handler: updateDiskHandler });
