/**
 * GET /api/disks/{diskKey}/restore-points — RestorePoints of a disk, newest first, also after it was unprotected;
 * `kept` names those no protection's RetentionPolicy judges (the disk is not protected, or it is protected again with
 * a new TargetBlob), `protected` says whether the disk is protected now.
 */
import { describeRestorePoints } from "../engine/protection";
import { listRestorePoints } from "../engine/status";
import { httpHandler, json } from "../host/http";
import { register } from "../host/register";

export const listRestorePointsHandler = httpHandler(async (request, deps) => {
  const { diskKey } = request.params;
  return json(200, await describeRestorePoints(deps, diskKey, await listRestorePoints(deps, diskKey)));
});

export default register({ kind: "http", name: "listRestorePoints", methods: ["GET"], route: "disks/{diskKey}/restore-points", handler: listRestorePointsHandler });
