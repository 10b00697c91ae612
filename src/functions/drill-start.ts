/**
 * POST /api/disks/{diskKey}/drills — start a DR drill of the disk's newest RestorePoint now: 202 with the DrillRun
 * and its status URL; 404 for an unknown disk; 409 when a drill is running, drills are not configured or there is
 * no RestorePoint yet.
 */
import { startDrill } from "../engine/drills";
import { httpHandler, json, problem } from "../host/http";
import { register } from "../host/register";

export const startDrillHandler = httpHandler(async (request, deps, log) => {
  const diskKey = request.params.diskKey;
  const config = await deps.records.getDisk(diskKey);
  if (!config) return problem(404, "DiskNotProtected", `no protected disk ${diskKey}`);
  const outcome = await startDrill(deps, config, "manual", log);
  if (outcome.status === "busy") return problem(409, "DrillRunning", `drill ${outcome.drill.drillId} of disk ${diskKey} is still ${outcome.drill.state}; wait for it to end`);
  const statusUrl = new URL(`/api/disks/${diskKey}/drills/${outcome.drill.drillId}`, request.url).toString();
  return { ...json(202, { ...outcome.drill, statusUrl }), headers: { Location: statusUrl } };
});

export default register({ kind: "http", name: "startDrill", methods: ["POST"], route: "disks/{diskKey}/drills", handler: startDrillHandler });
