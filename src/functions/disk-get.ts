/** GET /api/disks/{diskKey} — a ProtectedDisk's status: active run, newest RestorePoint, RPO. */
import { diskStatus } from "../engine/status";
import { httpHandler, json, problem } from "../host/http";
import { register } from "../host/register";

export const getDiskHandler = httpHandler(async (request, deps) => {
  const status = await diskStatus(deps, request.params.diskKey);
  return status ? json(200, status) : problem(404, "DiskNotProtected", `no protected disk ${request.params.diskKey}`);
});

export default register({ kind: "http", name: "getDisk", methods: ["GET"], route: "disks/{diskKey}", handler: getDiskHandler });
