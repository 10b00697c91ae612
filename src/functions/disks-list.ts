/**
 * GET /api/disks — every ProtectedDisk with its status, the rows that cannot be used with what is wrong, and `kept`:
 * the disks no longer protected whose RestorePoints are kept (listed and restorable under their diskKey).
 */
import { describeDisk } from "../engine/status";
import { httpHandler, json } from "../host/http";
import { register } from "../host/register";

export const listDisksHandler = httpHandler(async (_request, deps) => {
  const { disks, invalid } = await deps.records.listDisks();
  const now = deps.now();
  const statuses = await Promise.all(
    disks.map(async (config) => {
      const { value: state } = await deps.records.getState(config.diskKey);
      return describeDisk(config, state, undefined, now);
    }),
  );
  const rows = new Set([...disks.map((d) => d.diskKey), ...invalid.map((row) => row.partitionKey)]);
  const kept = (await deps.records.summarizeRestorePoints()).filter((summary) => !rows.has(summary.diskKey));
  return json(200, { disks: statuses, invalid, kept });
});

export default register({ kind: "http", name: "listDisks", methods: ["GET"], route: "disks", handler: listDisksHandler });
