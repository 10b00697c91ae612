/**
 * POST /api/disks/{diskKey}/restore-points/{restorePointId}/verify — compare a RestorePoint with its SourceSnapshot,
 * or, when that is gone, with the checksums recorded when it was verified then (`basis` says which). 409 when there
 * is nothing to compare with.
 */
import { verifyRestorePoint } from "../engine/verify-restore-point";
import { httpHandler, json, problem } from "../host/http";
import { register } from "../host/register";

export const verifyHandler = httpHandler(async (request, deps, log) => {
  const { diskKey, restorePointId } = request.params;
  const point = await deps.records.getRestorePoint(diskKey, restorePointId);
  if (!point) return problem(404, "RestorePointNotFound", `no RestorePoint ${restorePointId} for disk ${diskKey}`);
  const result = await verifyRestorePoint(deps, point);
  log[result.equal ? "info" : "error"]("RestorePoint verified", { diskKey, restorePointId, basis: result.basis, equal: result.equal, mismatches: result.mismatches.length });
  deps.metrics.record("diskdelta.verify.mismatch", result.equal ? 0 : 1, { diskKey });
  return json(200, { diskKey, restorePointId, ...result });
});

export default register({
  kind: "http",
  name: "verifyRestorePoint",
  methods: ["POST"],
  route: "disks/{diskKey}/restore-points/{restorePointId}/verify",
  handler: verifyHandler,
});
