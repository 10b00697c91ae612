/** GET /api/vms/{vmKey}/drills — a VM set's drills, newest first (`?limit=`, default 20). */
import { httpHandler, json } from "../host/http";
import { register } from "../host/register";
import { drillsLimit } from "./drills-list";

export const listVmDrillsHandler = httpHandler(async (request, deps) => {
  const limit = drillsLimit(request);
  if (typeof limit !== "number") return limit;
  return json(200, { drills: await deps.records.listVmDrills(request.params.vmKey, limit) });
});

export default register({ kind: "http", name: "listVmDrills", methods: ["GET"], route: "vms/{vmKey}/drills", handler: listVmDrillsHandler });
