/** GET /api/disks — every ProtectedDisk with its status, and the rows that cannot be used with what is wrong. */
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
  return json(200, { disks: statuses, invalid });
});

export default register({ kind: "http", name: "listDisks", methods: ["GET"], route: "disks", handler: listDisksHandler });
