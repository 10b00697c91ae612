/** DELETE /api/disks/{diskKey} — stop protecting a disk; its RestorePoints are kept. */
import { unprotectDisk } from "../engine/protection";
import { httpHandler, json, problem } from "../host/http";
import { register } from "../host/register";

export const unprotectDiskHandler = httpHandler(async (request, deps) => {
  const removed = await unprotectDisk(deps, request.params.diskKey);
  return removed
    ? json(200, { diskKey: request.params.diskKey, unprotected: true, note: "RestorePoints and the TargetBlob are kept" })
    : problem(404, "DiskNotProtected", `no protected disk ${request.params.diskKey}`);
});

export default register({ kind: "http", name: "unprotectDisk", methods: ["DELETE"], route: "disks/{diskKey}", handler: unprotectDiskHandler });
