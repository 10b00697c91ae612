/**
 * POST /api/vms/{vmKey}/restore — restore a VM's disk set as of one RestorePoint group: 202 with one tracked restore
 * per disk (each with its status URL) and what recreating the VM needs; 404 for an unknown set; 409 when no complete
 * group is at or before `at` (unless allowPartial), a disk name is taken, or the resource group is missing.
 */
import { ConflictError, PermanentError } from "../domain/errors";
import { acceptVmRestore, vmRestoreRequestSchema } from "../engine/vm-restore";
import { httpHandler, json, problem, readBody } from "../host/http";
import { register } from "../host/register";
import { restoreView } from "./restore-get";

export const restoreVmHandler = httpHandler(async (request, deps, log) => {
  const body = await readBody(request, vmRestoreRequestSchema);
  if ("response" in body) return body.response;
  const { vmKey } = request.params;
  const requestedBy = request.headers.get("x-ms-client-principal-name") ?? request.headers.get("x-diskdelta-requested-by") ?? "function key";
  try {
    const accepted = await acceptVmRestore(deps, vmKey, body.value, requestedBy.slice(0, 200));
    if (!accepted) return problem(404, "VmNotProtected", `no protected VM disk set ${vmKey}`);
    log.info("VM restore accepted", { vmId: accepted.vmId, groupTime: accepted.groupTime, restores: accepted.restores.map((r) => r.restore.restoreId) });
    const restores = accepted.restores.map(({ restore, ...disk }) => ({
      ...disk,
      restore: { ...restoreView(restore), statusUrl: new URL(`/api/disks/${restore.diskKey}/restores/${restore.restoreId}`, request.url).toString() },
    }));
    return json(202, { ...accepted, restores });
  } catch (error) {
    if (error instanceof PermanentError) return problem(error instanceof ConflictError ? 409 : 400, error.code, error.message);
    throw error;
  }
});

export default register({ kind: "http", name: "restoreVm", methods: ["POST"], route: "vms/{vmKey}/restore", handler: restoreVmHandler });
