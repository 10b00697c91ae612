/**
 * POST /api/vms — protect every disk attached to a VM under one schedule: 201 with the set's ProtectedDisks (200 when
 * all were protected already); 400 for a VM with a disk diskdelta cannot protect (then nothing is protected); 404
 * for a VM that does not exist.
 */
import { PermanentError } from "../domain/errors";
import { InvalidProtectionError } from "../engine/protection";
import { UnsupportedVmError, protectVm, protectVmInputSchema } from "../engine/vm-sets";
import { httpHandler, json, problem, readBody } from "../host/http";
import { register } from "../host/register";

export const protectVmHandler = httpHandler(async (request, deps, log) => {
  const body = await readBody(request, protectVmInputSchema);
  if ("response" in body) return body.response;
  try {
    const outcome = await protectVm(deps, body.value);
    log.info("VM disk set protected", { vmId: outcome.vmId, disks: outcome.disks.map((d) => `${d.disk.diskKey}:${d.status}`) });
    return json(outcome.disks.some((d) => d.status === "created") ? 201 : 200, outcome);
  } catch (error) {
    if (error instanceof UnsupportedVmError) return problem(400, error.code, error.message);
    if (error instanceof InvalidProtectionError) return problem(400, error.code, `${error.message}; no disk of the VM was protected`);
    if (error instanceof PermanentError && error.code === "VmNotFound") return problem(404, error.code, error.message);
    throw error;
  }
});

export default register({ kind: "http", name: "protectVm", methods: ["POST"], route: "vms", handler: protectVmHandler });
