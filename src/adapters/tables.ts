/**
 * diskdelta's records in Table Storage. Contract: reads parse every entity with zod and report bad ones instead of
 * using them; writes that must not race (the disk state, a BackupRun) take the ETag they read and fail with
 * `ConcurrencyError` when someone else wrote in between; creating a RestorePoint twice is a no-op.
 */
import { type TableEntity, TableClient, type TableEntityResult, type TableServiceClientOptions } from "@azure/data-tables";
import type { TokenCredential } from "@azure/core-auth";
import type { z } from "zod";
import { PermanentError, statusOf } from "../domain/errors";
import { type ProtectedDiskConfig, protectedDiskInputSchema, toProtectedDisk } from "../domain/model";
import {
  type BackupRun,
  type DiskState,
  type RestorePoint,
  backupRunSchema,
  diskStateSchema,
  restorePointSchema,
} from "../domain/records";
import { withoutAbsent } from "../domain/objects";

/** Another writer changed the entity since it was read. */
export class ConcurrencyError extends Error {
  constructor(what: string) {
    super(`${what} was changed by someone else; read it again`);
    this.name = "ConcurrencyError";
  }
}

/** A value with the ETag it was read at. */
export interface Versioned<T> {
  readonly value: T;
  readonly etag: string;
}

/** A ProtectedDisk row that could not be used, with what is wrong and where. */
export interface InvalidRow {
  readonly table: string;
  readonly partitionKey: string;
  readonly rowKey: string;
  readonly problems: string[];
}

/** The three tables. */
export interface Records {
  listDisks(): Promise<{ disks: ProtectedDiskConfig[]; invalid: InvalidRow[] }>;
  getDisk(diskKey: string): Promise<ProtectedDiskConfig | undefined>;
  /** Creates the configuration; false when the disk is protected already. */
  createDisk(config: ProtectedDiskConfig): Promise<boolean>;
  replaceDisk(config: ProtectedDiskConfig): Promise<void>;
  /** Removes configuration and state; RestorePoints are kept (they are the backups). */
  deleteDisk(diskKey: string): Promise<void>;
  getState(diskKey: string): Promise<Versioned<DiskState>>;
  /** Writes the state if unchanged since `etag` ("" = it did not exist yet). */
  putState(diskKey: string, state: DiskState, etag: string): Promise<string>;
  getRun(diskKey: string, runId: string): Promise<Versioned<BackupRun> | undefined>;
  createRun(run: BackupRun): Promise<void>;
  putRun(run: BackupRun, etag: string): Promise<string>;
  listRuns(diskKey: string, limit: number): Promise<BackupRun[]>;
  /** Creates the RestorePoint unless it exists; returns the stored one. */
  recordRestorePoint(point: RestorePoint): Promise<RestorePoint>;
  listRestorePoints(diskKey: string): Promise<RestorePoint[]>;
  getRestorePoint(diskKey: string, restorePointId: string): Promise<RestorePoint | undefined>;
  deleteRestorePoint(diskKey: string, restorePointId: string): Promise<void>;
}

export const tableNames = { disks: "diskdeltaDisks", runs: "diskdeltaRuns", restorePoints: "diskdeltaRestorePoints" } as const;

/** Where the tables live: a connection string (local) or an endpoint with a managed identity (Azure). */
export type TablesConnection =
  | { readonly connectionString: string }
  | { readonly endpoint: string; readonly credential: TokenCredential };

const configColumns = {
  diskId: "diskId",
  blobEndpoint: "targetBlobEndpoint",
  container: "targetContainer",
  blobName: "targetBlobName",
  storageAccountId: "targetStorageAccountId",
  schedule: "schedule",
  snapshotMode: "snapshotMode",
  keepLast: "retentionKeepLast",
  maxAgeDays: "retentionMaxAgeDays",
  copyMode: "copyMode",
  enabled: "enabled",
  rpoAlertMinutes: "rpoAlertMinutes",
  verifyAfterBackup: "verifyAfterBackup",
} as const;

function configToEntity(config: ProtectedDiskConfig): TableEntity {
  return withoutAbsent({
    partitionKey: config.diskKey,
    rowKey: "config",
    [configColumns.diskId]: config.diskId,
    [configColumns.blobEndpoint]: config.target.blobEndpoint,
    [configColumns.container]: config.target.container,
    [configColumns.blobName]: config.target.blobName,
    [configColumns.storageAccountId]: config.target.storageAccountId,
    [configColumns.schedule]: config.schedule,
    [configColumns.snapshotMode]: config.snapshotMode,
    [configColumns.keepLast]: config.retention.keepLast,
    [configColumns.maxAgeDays]: config.retention.maxAgeDays,
    [configColumns.copyMode]: config.copyMode,
    [configColumns.enabled]: config.enabled,
    [configColumns.rpoAlertMinutes]: config.rpoAlertMinutes,
    [configColumns.verifyAfterBackup]: config.verifyAfterBackup,
  });
}

/** Parses a config row; a problem names the column, as the user would look for it in the table. */
function entityToConfig(entity: Record<string, unknown>): { config?: ProtectedDiskConfig; problems: string[] } {
  const input = {
    diskId: entity[configColumns.diskId],
    target: withoutAbsent({
      blobEndpoint: entity[configColumns.blobEndpoint],
      container: entity[configColumns.container],
      blobName: entity[configColumns.blobName],
      storageAccountId: entity[configColumns.storageAccountId],
    }),
    schedule: entity[configColumns.schedule],
    snapshotMode: entity[configColumns.snapshotMode],
    retention: withoutAbsent({ keepLast: entity[configColumns.keepLast], maxAgeDays: entity[configColumns.maxAgeDays] }),
    copyMode: entity[configColumns.copyMode],
    enabled: entity[configColumns.enabled],
    rpoAlertMinutes: entity[configColumns.rpoAlertMinutes],
    verifyAfterBackup: entity[configColumns.verifyAfterBackup],
  };
  const parsed = protectedDiskInputSchema.safeParse(withoutAbsent(input));
  if (!parsed.success) {
    const column = (path: PropertyKey[]) => {
      const leaf = String(path[path.length - 1] ?? "");
      return (configColumns as Record<string, string>)[leaf] ?? path.join(".");
    };
    return { problems: parsed.error.issues.map((issue) => `${column(issue.path)}: ${issue.message}`) };
  }
  const config = toProtectedDisk(parsed.data);
  if (config.diskKey !== entity.partitionKey) {
    return { problems: [`partitionKey: does not match diskId (expected ${config.diskKey})`] };
  }
  return { config, problems: [] };
}

/** Strips the table's own fields and parses the rest. */
function parseEntity<S extends z.ZodType>(schema: S, entity: TableEntityResult<Record<string, unknown>>, where: string): z.output<S> {
  const { partitionKey: _pk, rowKey: _rk, etag: _etag, timestamp: _ts, "odata.metadata": _m, ...fields } = entity as Record<string, unknown>;
  const parsed = schema.safeParse(fields);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("; ");
    throw new Error(`invalid record ${where}: ${problems}`);
  }
  return parsed.data;
}

export function createRecords(connection: TablesConnection, options: TableServiceClientOptions = {}): Records {
  const table = (name: string) =>
    "connectionString" in connection
      ? TableClient.fromConnectionString(connection.connectionString, name, { ...options, allowInsecureConnection: true })
      : new TableClient(connection.endpoint, name, connection.credential, options);
  const disks = table(tableNames.disks);
  const runs = table(tableNames.runs);
  const points = table(tableNames.restorePoints);
  const ready = Promise.all([disks.createTable(), runs.createTable(), points.createTable()]);
  const withTables = async <T>(work: () => Promise<T>): Promise<T> => {
    await ready;
    return work();
  };
  const get = async (client: TableClient, pk: string, rk: string) => {
    try {
      return await client.getEntity<Record<string, unknown>>(pk, rk);
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  };
  const ifMatch = async <T>(what: string, write: () => Promise<T>): Promise<T> => {
    try {
      return await write();
    } catch (error) {
      if (statusOf(error) === 412 || statusOf(error) === 409) throw new ConcurrencyError(what);
      throw error;
    }
  };

  return {
    listDisks: () =>
      withTables(async () => {
        const found: ProtectedDiskConfig[] = [];
        const invalid: InvalidRow[] = [];
        for await (const entity of disks.listEntities<Record<string, unknown>>({ queryOptions: { filter: "RowKey eq 'config'" } })) {
          const { config, problems } = entityToConfig(entity);
          if (config) found.push(config);
          else invalid.push({ table: tableNames.disks, partitionKey: entity.partitionKey ?? "", rowKey: entity.rowKey ?? "", problems });
        }
        return { disks: found, invalid };
      }),
    getDisk: (diskKey) =>
      withTables(async () => {
        const entity = await get(disks, diskKey, "config");
        if (!entity) return undefined;
        const { config, problems } = entityToConfig(entity);
        if (!config) {
          throw new PermanentError("InvalidProtectedDisk", `invalid ProtectedDisk row ${tableNames.disks}/${diskKey}/config: ${problems.join("; ")}; fix it with PATCH or protect the disk again`);
        }
        return config;
      }),
    createDisk: (config) =>
      withTables(async () => {
        try {
          await disks.createEntity(configToEntity(config));
          return true;
        } catch (error) {
          if (statusOf(error) === 409) return false;
          throw error;
        }
      }),
    replaceDisk: (config) => withTables(async () => void (await disks.updateEntity(configToEntity(config), "Replace"))),
    deleteDisk: (diskKey) =>
      withTables(async () => {
        for (const rowKey of ["config", "state"]) {
          await disks.deleteEntity(diskKey, rowKey).catch((error: unknown) => {
            if (statusOf(error) !== 404) throw error;
          });
        }
      }),
    getState: (diskKey) =>
      withTables(async () => {
        const entity = await get(disks, diskKey, "state");
        if (!entity) return { value: {}, etag: "" };
        return { value: parseEntity(diskStateSchema, unflatten(entity), `${tableNames.disks}/${diskKey}/state`), etag: entity.etag };
      }),
    putState: (diskKey, state, etag) =>
      withTables(() =>
        ifMatch(`state of disk ${diskKey}`, async () => {
          const entity = withoutAbsent({ partitionKey: diskKey, rowKey: "state", ...flatten(state) });
          const answer = etag
            ? await disks.updateEntity(entity, "Replace", { etag })
            : await disks.createEntity(entity);
          return answer.etag ?? "";
        }),
      ),
    getRun: (diskKey, runId) =>
      withTables(async () => {
        const entity = await get(runs, diskKey, runId);
        if (!entity) return undefined;
        return { value: parseEntity(backupRunSchema, entity, `${tableNames.runs}/${diskKey}/${runId}`), etag: entity.etag };
      }),
    createRun: (run) =>
      withTables(() =>
        ifMatch(`BackupRun ${run.runId}`, async () => void (await runs.createEntity(withoutAbsent({ partitionKey: run.diskKey, rowKey: run.runId, ...run })))),
      ),
    putRun: (run, etag) =>
      withTables(() =>
        ifMatch(`BackupRun ${run.runId}`, async () => {
          const answer = await runs.updateEntity(withoutAbsent({ partitionKey: run.diskKey, rowKey: run.runId, ...run }), "Replace", { etag });
          return answer.etag ?? "";
        }),
      ),
    listRuns: (diskKey, limit) =>
      withTables(async () => {
        const found: BackupRun[] = [];
        const pages = runs.listEntities<Record<string, unknown>>({ queryOptions: { filter: `PartitionKey eq '${escape(diskKey)}'` } });
        for await (const entity of pages) {
          found.push(parseEntity(backupRunSchema, entity, `${tableNames.runs}/${diskKey}/${entity.rowKey}`));
          if (found.length >= limit) break;
        }
        return found;
      }),
    recordRestorePoint: (point) =>
      withTables(async () => {
        try {
          await points.createEntity(withoutAbsent({ partitionKey: point.diskKey, rowKey: point.restorePointId, ...point }));
          return point;
        } catch (error) {
          if (statusOf(error) !== 409) throw error;
          const stored = await get(points, point.diskKey, point.restorePointId);
          return parseEntity(restorePointSchema, stored!, `${tableNames.restorePoints}/${point.diskKey}/${point.restorePointId}`);
        }
      }),
    listRestorePoints: (diskKey) =>
      withTables(async () => {
        const found: RestorePoint[] = [];
        const pages = points.listEntities<Record<string, unknown>>({ queryOptions: { filter: `PartitionKey eq '${escape(diskKey)}'` } });
        for await (const entity of pages) {
          found.push(parseEntity(restorePointSchema, entity, `${tableNames.restorePoints}/${diskKey}/${entity.rowKey}`));
        }
        return found;
      }),
    getRestorePoint: (diskKey, restorePointId) =>
      withTables(async () => {
        const entity = await get(points, diskKey, restorePointId);
        return entity ? parseEntity(restorePointSchema, entity, `${tableNames.restorePoints}/${diskKey}/${restorePointId}`) : undefined;
      }),
    deleteRestorePoint: (diskKey, restorePointId) =>
      withTables(async () => {
        await points.deleteEntity(diskKey, restorePointId).catch((error: unknown) => {
          if (statusOf(error) !== 404) throw error;
        });
      }),
  };
}

/** The state's chain base is nested; tables hold scalars, so it is stored as `base_<field>` columns. */
function flatten(state: DiskState): Record<string, unknown> {
  const { base, ...rest } = state;
  const flat: Record<string, unknown> = { ...rest };
  if (base) for (const [key, value] of Object.entries(base)) flat[`base_${key}`] = value;
  return flat;
}

function unflatten(entity: TableEntityResult<Record<string, unknown>>): TableEntityResult<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const base: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(entity)) {
    if (key.startsWith("base_")) base[key.slice(5)] = value;
    else out[key] = value;
  }
  if (Object.keys(base).length > 0) out.base = base;
  return out as TableEntityResult<Record<string, unknown>>;
}

function escape(value: string): string {
  return value.replace(/'/g, "''");
}
