/** GET /api/disks/{diskKey}/restores/{restoreId} — a tracked restore: what was asked, by whom, and where it stands. */
import type { RestoreRecord } from "../domain/records";
import { httpHandler, json, problem } from "../host/http";
import { register } from "../host/register";

/** A restore as the API answers it: the record, with the accepted request as an object. */
export function restoreView(restore: RestoreRecord): Omit<RestoreRecord, "request"> & { request: unknown } {
  return { ...restore, request: JSON.parse(restore.request) as unknown };
}

export const getRestoreHandler = httpHandler(async (request, deps) => {
  const { diskKey, restoreId } = request.params;
  const found = await deps.records.getRestore(diskKey, restoreId);
  return found ? json(200, restoreView(found.value)) : problem(404, "RestoreNotFound", `no restore ${restoreId} for disk ${diskKey}`);
});

export default register({ kind: "http", name: "getRestore", methods: ["GET"], route: "disks/{diskKey}/restores/{restoreId}", handler: getRestoreHandler });
