/**
 * diskdelta's records in Table Storage. Contract: reads parse every entity with zod and report bad ones instead of
 * using them; writes that must not race (the disk state, a BackupRun) take the ETag they read and fail with
 * `ConcurrencyError` when someone else wrote in between; creating a RestorePoint twice is a no-op.
 * One module per table: disks.ts (configuration and state), runs.ts, restore-points.ts, restores.ts, drills.ts, copy-slots.ts, verifications.ts; entities.ts holds what they share.
 */
import { TableClient, type TableServiceClientOptions } from "@azure/data-tables";
import type { TokenCredential } from "@azure/core-auth";
import { type CopySlotRecords, createCopySlotRecords } from "./copy-slots";
import { type DiskRecords, createDiskRecords } from "./disks";
import { type DrillRecords, createDrillRecords } from "./drills";
import type { Table } from "./entities";
import { type RestorePointRecords, createRestorePointRecords } from "./restore-points";
import { type RestoreRecords, createRestoreRecords } from "./restores";
import { type RunRecords, createRunRecords } from "./runs";
import { type VerificationRecords, createVerificationRecords } from "./verifications";

export { ConcurrencyError, type Versioned } from "./entities";
export type { InvalidRow } from "./disks";

/** The app's tables. */
export interface Records extends DiskRecords, RunRecords, RestorePointRecords, RestoreRecords, DrillRecords, CopySlotRecords, VerificationRecords {}

export const tableNames = { disks: "diskdeltaDisks", runs: "diskdeltaRuns", restorePoints: "diskdeltaRestorePoints", restores: "diskdeltaRestores",
  drills: "diskdeltaDrills", copySlots: "diskdeltaCopySlots", verifications: "diskdeltaVerifications",
} as const;

/** Where the tables live: a connection string (local) or an endpoint with a managed identity (Azure). */
export type TablesConnection =
  | { readonly connectionString: string }
  | { readonly endpoint: string; readonly credential: TokenCredential };

export function createRecords(connection: TablesConnection, options: TableServiceClientOptions = {}): Records {
  const client = (name: string) =>
    "connectionString" in connection
      ? TableClient.fromConnectionString(connection.connectionString, name, { ...options, allowInsecureConnection: true })
      : new TableClient(connection.endpoint, name, connection.credential, options);
  const clients = { disks: client(tableNames.disks), runs: client(tableNames.runs), restorePoints: client(tableNames.restorePoints), restores: client(tableNames.restores),
    drills: client(tableNames.drills), copySlots: client(tableNames.copySlots), verifications: client(tableNames.verifications),
  };
  const ready = Promise.all(Object.values(clients).map((table) => table.createTable()));
  const table = (name: keyof typeof tableNames): Table => ({
    name: tableNames[name],
    client: clients[name],
    async use(work) {
      await ready;
      return work();
    },
  });
  return {
    ...createDiskRecords(table("disks")),
    ...createRunRecords(table("runs")),
    ...createRestorePointRecords(table("restorePoints")),
    ...createRestoreRecords(table("restores")),
    ...createDrillRecords(table("drills")),
    ...createCopySlotRecords(table("copySlots")),
    ...createVerificationRecords(table("verifications")),
  };
}
