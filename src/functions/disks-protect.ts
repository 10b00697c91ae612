/**
 * POST /api/disks — protect a disk. 201 with the ProtectedDisk (and `adopted`: the RestorePoints and TargetBlob taken
 * over with `adopt: true`; or `kept`: how many RestorePoints of an earlier protection stay kept beside a new
 * TargetBlob); 409 if it is protected already, or `KeptRestorePoints` when it was protected before and the body does
 * not say what becomes of that chain; 400 for a disk type diskdelta cannot restore.
 */
import { protectRequestSchema } from "../domain/model";
import { type ProtectOutcome, InvalidProtectionError, protectDisk } from "../engine/protection";
import { httpHandler, json, problem, readBody } from "../host/http";
import { register } from "../host/register";

export const protectDiskHandler = httpHandler(async (request, deps) => {
  const body = await readBody(request, protectRequestSchema);
  if ("response" in body) return body.response;
  let outcome: ProtectOutcome;
  try {
    outcome = await protectDisk(deps, body.value);
  } catch (error) {
    if (error instanceof InvalidProtectionError) return problem(400, error.code, error.message);
    throw error;
  }
  if (outcome.status === "exists") {
    return problem(409, "AlreadyProtected", `disk ${outcome.disk.diskId} is protected already as ${outcome.disk.diskKey}; use PATCH /api/disks/${outcome.disk.diskKey}`);
  }
  return json(201, { ...outcome.disk, ...(outcome.adopted ? { adopted: outcome.adopted } : {}), ...(outcome.kept ? { kept: outcome.kept } : {}) });
});

export default register({ kind: "http", name: "protectDisk", methods: ["POST"], route: "disks", handler: protectDiskHandler });
