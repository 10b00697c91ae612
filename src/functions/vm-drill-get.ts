/** GET /api/vms/{vmKey}/drills/{vmDrillId} — a VM drill: its result (or running), and each disk's DrillRun with its progress. */
import { getVmDrill } from "../engine/vm-drills";
import { httpHandler, json, problem } from "../host/http";
import { register } from "../host/register";

export const getVmDrillHandler = httpHandler(async (request, deps) => {
  const { vmKey, vmDrillId } = request.params;
  const found = await getVmDrill(deps, vmKey, vmDrillId);
  return found ? json(200, { ...found.vmDrill, drills: found.drills }) : problem(404, "DrillNotFound", `no drill ${vmDrillId} for VM set ${vmKey}`);
});

export default register({ kind: "http", name: "getVmDrill", methods: ["GET"], route: "vms/{vmKey}/drills/{vmDrillId}", handler: getVmDrillHandler });
