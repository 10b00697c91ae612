/** GET /api/disks/{diskKey}/drills/{drillId} — a DrillRun: where it stands, its compare progress, its RTO. */
import { httpHandler, json, problem } from "../host/http";
import { register } from "../host/register";

export const getDrillHandler = httpHandler(async (request, deps) => {
  const { diskKey, drillId } = request.params;
  const found = await deps.records.getDrill(diskKey, drillId);
  return found ? json(200, found.value) : problem(404, "DrillNotFound", `no drill ${drillId} for disk ${diskKey}`);
});

export default register({ kind: "http", name: "getDrill", methods: ["GET"], route: "disks/{diskKey}/drills/{drillId}", handler: getDrillHandler });
