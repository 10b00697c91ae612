/** GET /api/disks/{diskKey}/restore-points — RestorePoints of a disk, newest first. */
import { listRestorePoints } from "../engine/status";
import { httpHandler, json } from "../host/http";
import { register } from "../host/register";

export const listRestorePointsHandler = httpHandler(async (request, deps) => {
  return json(200, { restorePoints: await listRestorePoints(deps, request.params.diskKey) });
});

export default register({ kind: "http", name: "listRestorePoints", methods: ["GET"], route: "disks/{diskKey}/restore-points", handler: listRestorePointsHandler });
