/** GET /api/vms/{vmKey}/restore-points — a VM's disk set and its RestorePoint groups (one per groupTime), newest first. */
import { listVmRestorePoints } from "../engine/vm-sets";
import { httpHandler, json, problem } from "../host/http";
import { register } from "../host/register";

export const listVmRestorePointsHandler = httpHandler(async (request, deps) => {
  const { vmKey } = request.params;
  const listing = await listVmRestorePoints(deps, vmKey);
  return listing ? json(200, listing) : problem(404, "VmNotProtected", `no protected VM disk set ${vmKey}`);
});

export default register({ kind: "http", name: "listVmRestorePoints", methods: ["GET"], route: "vms/{vmKey}/restore-points", handler: listVmRestorePointsHandler });
