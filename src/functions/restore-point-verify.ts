/**
 * POST /api/disks/{diskKey}/restore-points/{restorePointId}/verify — compare a RestorePoint with its SourceSnapshot,
 * or, when that is gone, with the checksums recorded when it was verified then (`basis` says which). 409 when there
 * is nothing to compare with. Answers when the comparison is done; a caller that wants to watch it meanwhile sends
 * `{ "verificationId": "<its own id, e.g. a UUID>" }` and follows GET …/verifications/{verificationId} (409
 * VerificationExists when that id was used before). The answer is the same either way.
 */
import { z } from "zod";
import { ConcurrencyError } from "../domain/errors";
import { verificationIdSchema } from "../domain/records";
import { type VerifyOutcome, verifyFollowed, verifyRestorePoint } from "../engine/verify-restore-point";
import { httpHandler, json, problem, readBody } from "../host/http";
import { register } from "../host/register";

const verifyBodySchema = z.object({ verificationId: verificationIdSchema.optional() });

export const verifyHandler = httpHandler(async (request, deps, log) => {
  const { diskKey, restorePointId } = request.params;
  const body = await readBody(request, verifyBodySchema);
  if ("response" in body) return body.response;
  const point = await deps.records.getRestorePoint(diskKey, restorePointId);
  if (!point) return problem(404, "RestorePointNotFound", `no RestorePoint ${restorePointId} for disk ${diskKey}`);
  const { verificationId } = body.value;
  let result: VerifyOutcome;
  try {
    result = verificationId === undefined ? await verifyRestorePoint(deps, point) : await verifyFollowed(deps, point, verificationId, log);
  } catch (error) {
    if (!(error instanceof ConcurrencyError)) throw error;
    return problem(409, "VerificationExists", `a verification ${verificationId} exists already for disk ${diskKey}; send a new verificationId`);
  }
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
