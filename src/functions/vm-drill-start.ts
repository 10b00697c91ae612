/**
 * POST /api/vms/{vmKey}/drills — start a DR drill of the VM set's newest complete RestorePoint group now: 202 with
 * the VM drill, each disk's DrillRun (with its status URL) and the VM drill's status URL; 404 for an unknown set; 409
 * when a drill of the set or of one of its disks is running, a disk has no drill configuration or no
 * target.storageAccountId, or there is no complete group yet.
 */
import { startVmDrill } from "../engine/vm-drills";
import { httpHandler, json, problem } from "../host/http";
import { register } from "../host/register";

export const startVmDrillHandler = httpHandler(async (request, deps, log) => {
  const { vmKey } = request.params;
  const outcome = await startVmDrill(deps, vmKey, "manual", log);
  if (!outcome) return problem(404, "VmNotProtected", `no protected VM disk set ${vmKey}; protect the VM with POST /api/vms`);
  if (outcome.status === "busy") return problem(409, "DrillRunning", `VM set ${vmKey}: ${outcome.reason}; wait for it to end`);
  const statusUrl = new URL(`/api/vms/${vmKey}/drills/${outcome.vmDrill.vmDrillId}`, request.url).toString();
  const drills = outcome.drills.map((drill) => ({ ...drill, statusUrl: new URL(`/api/disks/${drill.diskKey}/drills/${drill.drillId}`, request.url).toString() }));
  return { ...json(202, { ...outcome.vmDrill, drills, statusUrl }), headers: { Location: statusUrl } };
});

export default register({ kind: "http", name: "startVmDrill", methods: ["POST"], route: "vms/{vmKey}/drills", handler: startVmDrillHandler });
