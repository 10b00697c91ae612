/** The wire format of the disk control routes, shared by the routes and their client. */
import { z } from "zod";

const span = { offset: z.number().int().nonnegative(), length: z.number().int().nonnegative() };

/** One write of a batch: seeded content or a trim. */
export const diskOpSchema = z.discriminatedUnion("op", [
  z.object({ op: z.literal("write-seeded"), ...span, seed: z.number().int() }),
  z.object({ op: z.literal("trim"), ...span }),
]);

/** Body of `POST /_emulator/disks/ops`. */
export const diskOpsRequestSchema = z.object({ id: z.string().min(1), ops: z.array(diskOpSchema) });

export type DiskOpsRequest = z.infer<typeof diskOpsRequestSchema>;

/** Body of `PUT /_emulator/resource-groups`: a group to create (or to find where it already is). */
export const resourceGroupSeedSchema = z.strictObject({
  name: z.string().regex(/^[-\w._()]{1,90}$/, "must be a resource group name: 1-90 letters, digits, - _ . ( )"),
  location: z.string().min(1),
});
/** Body of `PUT /_emulator/disks/snapshot-completion`: the snapshot's resource id and the percentage ARM reports. */
export const snapshotCompletionRequestSchema = z.object({ id: z.string().min(1), percent: z.number().int().min(0).max(100) });

/** Body of `PUT /_emulator/disks/snapshot-copy-rate`: bytes per second for every managed copy (0 pauses), or "instant". */
export const snapshotCopyRateRequestSchema = z.strictObject({
  bytesPerSecond: z.union([z.number().nonnegative().finite(), z.literal("instant")]),
});
/** Body of `PUT /_emulator/disks/snapshot-copy-failure`: the CopyStart snapshot whose copy fails, and how. */
export const snapshotCopyFailureRequestSchema = z.strictObject({
  id: z.string().min(1),
  errorMessage: z.string().min(1).optional(),
  errorCode: z.string().min(1).optional(),
});

export const controlPaths = {
  ops: "/_emulator/disks/ops",
  write: "/_emulator/disks/write",
  read: "/_emulator/disks/read",
  resourceGroups: "/_emulator/resource-groups",
  snapshotCompletion: "/_emulator/disks/snapshot-completion",
  snapshotCopy: "/_emulator/disks/snapshot-copy",
  snapshotCopyRate: "/_emulator/disks/snapshot-copy-rate",
  snapshotCopyFailure: "/_emulator/disks/snapshot-copy-failure",
  guestState: "/_emulator/disks/guest-state",
  virtualMachines: "/_emulator/virtual-machines",
} as const;
