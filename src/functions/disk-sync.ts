/** POST /api/disks/{diskKey}/sync — start a BackupRun now: 202 with the run id and its status URL, 409 if one is active. */
import { startBackupRun } from "../engine/runs";
import { httpHandler, problem } from "../host/http";
import { register } from "../host/register";

export const syncDiskHandler = httpHandler(async (request, deps, log) => {
  const diskKey = request.params.diskKey;
  const outcome = await startBackupRun(deps, diskKey, "manual", log);
  switch (outcome.status) {
    case "started": {
      const statusUrl = new URL(`/api/disks/${diskKey}/runs/${outcome.runId}`, request.url).toString();
      return { status: 202, jsonBody: { diskKey, runId: outcome.runId, statusUrl }, headers: { Location: statusUrl } };
    }
    case "busy":
      return problem(409, "RunInProgress", `disk ${diskKey} has an active BackupRun ${outcome.activeRunId}: ${outcome.reason}`);
    case "not-found":
      return problem(404, "DiskNotProtected", `no protected disk ${diskKey}`);
    case "disabled":
      return problem(409, "DiskDisabled", `disk ${diskKey} is disabled`);
  }
});

export default register({ kind: "http", name: "syncDisk", methods: ["POST"], route: "disks/{diskKey}/sync", handler: syncDiskHandler });
