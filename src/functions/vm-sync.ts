/** POST /api/vms/{vmKey}/sync — start a BackupRun of every disk of a VM's set with one groupTime: 202 with the runs. */
import { syncVm } from "../engine/vm-sets";
import { httpHandler, json, problem } from "../host/http";
import { register } from "../host/register";

export const syncVmHandler = httpHandler(async (request, deps, log) => {
  const { vmKey } = request.params;
  const sync = await syncVm(deps, vmKey, log);
  if (!sync) return problem(404, "VmNotProtected", `no protected VM disk set ${vmKey}; protect the VM with POST /api/vms`);
  if (!sync.runs.length) {
    return problem(409, "RunInProgress", `no disk of VM ${sync.vmId} could start: ${sync.notStarted.map((d) => `${d.diskKey}: ${d.reason}`).join("; ")}`);
  }
  const runs = sync.runs.map((run) => ({ ...run, statusUrl: new URL(`/api/disks/${run.diskKey}/runs/${run.runId}`, request.url).toString() }));
  return json(202, { ...sync, runs });
});

export default register({ kind: "http", name: "syncVm", methods: ["POST"], route: "vms/{vmKey}/sync", handler: syncVmHandler });
