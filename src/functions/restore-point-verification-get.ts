/**
 * GET /api/disks/{diskKey}/restore-points/{restorePointId}/verifications/{verificationId} — how far a verification
 * asked for with that verificationId is (`phase`, bytes listed and compared of their totals), then its result or error.
 */
import { httpHandler, json, problem } from "../host/http";
import { register } from "../host/register";

export const getVerificationHandler = httpHandler(async (request, deps) => {
  const { diskKey, restorePointId, verificationId } = request.params;
  const found = await deps.records.getVerification(diskKey, verificationId);
  if (!found || found.value.restorePointId !== restorePointId) {
    return problem(404, "VerificationNotFound", `no verification ${verificationId} of RestorePoint ${restorePointId} for disk ${diskKey}`);
  }
  return json(200, found.value);
});

export default register({
  kind: "http",
  name: "getVerification",
  methods: ["GET"],
  route: "disks/{diskKey}/restore-points/{restorePointId}/verifications/{verificationId}",
  handler: getVerificationHandler,
});
