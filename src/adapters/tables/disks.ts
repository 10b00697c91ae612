/**
 * Table `diskdeltaDisks`: per disk (partition key diskKey) its configuration (row `config`, one column per field, as
 * an operator reads it) and its state (row `state`). A config row edited by hand into something unusable is
 * reported column by column, not used; the state is written only if unchanged since it was read.
 */
import { PermanentError, statusOf } from "../../domain/errors";
import { type ProtectedDiskConfig, type ProtectedDiskUpdate, protectedDiskInputSchema, toProtectedDisk } from "../../domain/model";
import { withoutAbsent } from "../../domain/objects";
import { type DiskState, diskStateSchema } from "../../domain/records";
import { type Entity, type Table, type Versioned, deleteEntity, etagOf, getEntity, ifUnchanged, parseEntity, toEntity } from "./entities";

/** A ProtectedDisk row that could not be used, with what is wrong and where. */
export interface InvalidRow {
  readonly table: string;
  readonly partitionKey: string;
  readonly rowKey: string;
  readonly problems: string[];
}

/** A ProtectedDisk's config row as it stands: none, a usable configuration, or a row that is not one. */
export type DiskRow =
  | { readonly kind: "absent" }
  | { readonly kind: "valid"; readonly config: ProtectedDiskConfig }
  | { readonly kind: "invalid"; readonly problems: readonly string[] };

/** One page of the ProtectedDisk config rows. */
export interface DiskPage {
  readonly disks: ProtectedDiskConfig[];
  readonly invalid: InvalidRow[];
  readonly continuation?: string;
}

/** ProtectedDisk configuration and state. */
export interface DiskRecords {
  listDisks(): Promise<{ disks: ProtectedDiskConfig[]; invalid: InvalidRow[] }>;
  /**
   * One page of at most `pageSize` config rows, from `continuation` (undefined: the first page); the page's
   * `continuation` names the next one, undefined after the last. Reading the table page by page keeps a caller's
   * work per call bounded whatever the size of the fleet. A token is opaque and only meaningful to this table.
   */
  listDiskPage(pageSize: number, continuation?: string): Promise<DiskPage>;
  /** The configuration; throws a PermanentError `InvalidProtectedDisk` naming each bad column when the row is unusable. */
  getDisk(diskKey: string): Promise<ProtectedDiskConfig | undefined>;
  /** The config row whatever it holds, for the operations that must also work on an unusable row (update, unprotect). */
  readDisk(diskKey: string): Promise<DiskRow>;
  /**
   * Applies an update to the row's columns as they stand — a usable row, or one whose bad columns the update
   * replaces (how an unusable row is repaired) — and writes the result if it is a valid ProtectedDisk, only if the
   * row is unchanged since it was read (ETag; else ConcurrencyError); otherwise writes nothing and throws
   * `InvalidProtectedDisk` naming what is still wrong. `accept` sees the result first and may refuse it (throws). Undefined when there is no row.
   */
  updateDisk(diskKey: string, update: ProtectedDiskUpdate, accept?: (next: ProtectedDiskConfig) => Promise<void>): Promise<ProtectedDiskConfig | undefined>;
  /** Creates the configuration; false when the disk is protected already. */
  createDisk(config: ProtectedDiskConfig): Promise<boolean>;
  replaceDisk(config: ProtectedDiskConfig): Promise<void>;
  /** Removes configuration and state; RestorePoints are kept (they are the backups). */
  deleteDisk(diskKey: string): Promise<void>;
  getState(diskKey: string): Promise<Versioned<DiskState>>;
  /** Writes the state if unchanged since `etag` ("" = it did not exist yet). */
  putState(diskKey: string, state: DiskState, etag: string): Promise<string>;
}

/**
 * The PermanentError of an unusable config row: which columns are wrong, and the two ways out — PATCH (`diskdelta
 * update`) repairs the columns it sets, DELETE (`diskdelta unprotect`) removes the row (RestorePoints stay).
 */
function invalidRowError(tableName: string, diskKey: string, problems: readonly string[]): PermanentError {
  return new PermanentError(
    "InvalidProtectedDisk",
    `invalid ProtectedDisk row ${tableName}/${diskKey}/config: ${problems.join("; ")}; repair it with PATCH /api/disks/${diskKey} (diskdelta update) or remove it with DELETE /api/disks/${diskKey} (diskdelta unprotect) and protect the disk again`,
  );
}

export function createDiskRecords(table: Table): DiskRecords {
  const { client } = table;
  const readDisk = (diskKey: string): Promise<DiskRow> =>
    table.use(async () => {
      const entity = await getEntity(table, diskKey, "config");
      if (!entity) return { kind: "absent" };
      const { config, problems } = entityToConfig(entity);
      return config ? { kind: "valid", config } : { kind: "invalid", problems };
    });
  const configRows = () => client.listEntities<Record<string, unknown>>({ queryOptions: { filter: "RowKey eq 'config'" } });
  const sortRow = (entity: Entity, page: { disks: ProtectedDiskConfig[]; invalid: InvalidRow[] }) => {
    const { config, problems } = entityToConfig(entity);
    if (config) page.disks.push(config);
    else page.invalid.push({ table: table.name, partitionKey: entity.partitionKey ?? "", rowKey: entity.rowKey ?? "", problems });
  };
  return {
    listDisks: () =>
      table.use(async () => {
        const all = { disks: [] as ProtectedDiskConfig[], invalid: [] as InvalidRow[] };
        for await (const entity of configRows()) sortRow(entity as Entity, all);
        return all;
      }),
    listDiskPage: (pageSize, continuation) =>
      table.use(async () => {
        const page = { disks: [] as ProtectedDiskConfig[], invalid: [] as InvalidRow[] };
        const pages = configRows().byPage({ maxPageSize: pageSize, continuationToken: continuation });
        const { value, done } = await pages.next();
        if (done || !value) return page;
        for (const entity of value) sortRow(entity as Entity, page);
        return value.continuationToken ? { ...page, continuation: value.continuationToken } : page;
      }),
    getDisk: async (diskKey) => {
      const row = await readDisk(diskKey);
      if (row.kind === "invalid") throw invalidRowError(table.name, diskKey, row.problems);
      return row.kind === "valid" ? row.config : undefined;
    },
    readDisk,
    updateDisk: (diskKey, update, accept) =>
      table.use(async () => {
        const entity = await getEntity(table, diskKey, "config");
        if (!entity) return undefined;
        const { config, problems } = inputToConfig(withUpdate(entityToInput(entity), update), diskKey);
        if (!config) throw invalidRowError(table.name, diskKey, problems);
        await accept?.(config);
        await ifUnchanged(`config of disk ${diskKey}`, () => client.updateEntity(configToEntity(config), "Replace", { etag: entity.etag }));
        return config;
      }),
    createDisk: (config) =>
      table.use(async () => {
        try {
          await client.createEntity(configToEntity(config));
          return true;
        } catch (error) {
          if (statusOf(error) === 409) return false;
          throw error;
        }
      }),
    replaceDisk: (config) => table.use(async () => void (await client.updateEntity(configToEntity(config), "Replace"))),
    deleteDisk: (diskKey) =>
      table.use(async () => {
        for (const rowKey of ["config", "state"]) await deleteEntity(table, diskKey, rowKey);
      }),
    getState: (diskKey) =>
      table.use(async () => {
        const entity = await getEntity(table, diskKey, "state");
        if (!entity) return { value: {}, etag: "" };
        return { value: parseEntity(diskStateSchema, unflatten(entity), `${table.name}/${diskKey}/state`), etag: entity.etag };
      }),
    putState: (diskKey, state, etag) =>
      table.use(() =>
        ifUnchanged(`state of disk ${diskKey}`, async () => {
          const entity = toEntity(diskKey, "state", flatten(state));
          const answer = etag ? await client.updateEntity(entity, "Replace", { etag }) : await client.createEntity(entity);
          return etagOf(answer, `state of disk ${diskKey}`);
        }),
      ),
  };
}

const configColumns = {
  diskId: "diskId",
  blobEndpoint: "targetBlobEndpoint",
  container: "targetContainer",
  blobName: "targetBlobName",
  storageAccountId: "targetStorageAccountId",
  schedule: "schedule",
  snapshotMode: "snapshotMode",
  keepAll: "retentionKeepAll",
  keepLast: "retentionKeepLast",
  maxAgeDays: "retentionMaxAgeDays",
  copyMode: "copyMode",
  enabled: "enabled",
  rpoAlertMinutes: "rpoAlertMinutes",
  verifyAfterBackup: "verifyAfterBackup",
  vmId: "vmGroupVmId",
  role: "vmGroupRole",
  lun: "vmGroupLun",
  drillSchedule: "drillSchedule",
  drillResourceGroup: "drillResourceGroup",
  drillLocation: "drillLocation",
  replication: "replication",
  managedResourceGroup: "managedTargetResourceGroup",
  managedLocation: "managedTargetLocation",
} as const;

function configToEntity(config: ProtectedDiskConfig) {
  return toEntity(config.diskKey, "config", {
    [configColumns.diskId]: config.diskId,
    [configColumns.blobEndpoint]: config.target.blobEndpoint,
    [configColumns.container]: config.target.container,
    [configColumns.blobName]: config.target.blobName,
    [configColumns.storageAccountId]: config.target.storageAccountId,
    [configColumns.schedule]: config.schedule,
    [configColumns.snapshotMode]: config.snapshotMode,
    ...(config.retention.keepAll
      ? { [configColumns.keepAll]: true }
      : { [configColumns.keepLast]: config.retention.keepLast, [configColumns.maxAgeDays]: config.retention.maxAgeDays }),
    [configColumns.copyMode]: config.copyMode,
    [configColumns.enabled]: config.enabled,
    [configColumns.rpoAlertMinutes]: config.rpoAlertMinutes,
    [configColumns.verifyAfterBackup]: config.verifyAfterBackup,
    [configColumns.vmId]: config.vmGroup?.vmId,
    [configColumns.role]: config.vmGroup?.role,
    [configColumns.lun]: config.vmGroup?.lun,
    [configColumns.drillSchedule]: config.drill?.schedule,
    [configColumns.drillResourceGroup]: config.drill?.resourceGroup,
    [configColumns.drillLocation]: config.drill?.location,
    [configColumns.replication]: config.replication,
    [configColumns.managedResourceGroup]: config.managedTarget?.resourceGroup,
    [configColumns.managedLocation]: config.managedTarget?.location,
  });
}

/** Parses a config row; a problem names the column, as the user would look for it in the table. */
function entityToConfig(entity: Record<string, unknown>): { config?: ProtectedDiskConfig; problems: string[] } {
  return inputToConfig(entityToInput(entity), entity.partitionKey);
}

/** A config row's columns in the shape of a ProtectedDisk input, unchecked. */
type RowInput = Record<string, unknown>;

function entityToInput(entity: Record<string, unknown>): RowInput {
  return withoutAbsent({
    diskId: entity[configColumns.diskId],
    target: withoutAbsent({
      blobEndpoint: entity[configColumns.blobEndpoint],
      container: entity[configColumns.container],
      blobName: entity[configColumns.blobName],
      storageAccountId: entity[configColumns.storageAccountId],
    }),
    schedule: entity[configColumns.schedule],
    snapshotMode: entity[configColumns.snapshotMode],
    retention: retentionOf(entity),
    copyMode: entity[configColumns.copyMode],
    enabled: entity[configColumns.enabled],
    rpoAlertMinutes: entity[configColumns.rpoAlertMinutes],
    verifyAfterBackup: entity[configColumns.verifyAfterBackup],
    // A disk of no VM's set has none of the three columns; one with some of them is reported by the schema.
    vmGroup: [configColumns.vmId, configColumns.role, configColumns.lun].some((column) => entity[column] !== undefined)
      ? withoutAbsent({ vmId: entity[configColumns.vmId], role: entity[configColumns.role], lun: entity[configColumns.lun] })
      : undefined,
    // Drills are off when none of the three columns is there; some of them only are reported by the schema.
    drill: [configColumns.drillSchedule, configColumns.drillResourceGroup, configColumns.drillLocation].some((column) => entity[column] !== undefined)
      ? withoutAbsent({ schedule: entity[configColumns.drillSchedule], resourceGroup: entity[configColumns.drillResourceGroup], location: entity[configColumns.drillLocation] })
      : undefined,
    // Rows written before managed copies have no replication column: they are `diff` (the schema's default).
    replication: entity[configColumns.replication],
    managedTarget: [configColumns.managedResourceGroup, configColumns.managedLocation].some((column) => entity[column] !== undefined)
      ? withoutAbsent({ resourceGroup: entity[configColumns.managedResourceGroup], location: entity[configColumns.managedLocation] })
      : undefined,
  });
}

/** The row's columns with an update's fields in place of theirs; `drill: null` removes the drill columns. */
function withUpdate(input: RowInput, update: ProtectedDiskUpdate): RowInput {
  const { drill, ...fields } = update;
  const { drill: currentDrill, ...rest } = input;
  const nextDrill = drill === null ? undefined : (drill ?? currentDrill);
  return withoutAbsent({ ...rest, ...withoutAbsent(fields), drill: nextDrill });
}

function inputToConfig(input: RowInput, partitionKey: unknown): { config?: ProtectedDiskConfig; problems: string[] } {
  const parsed = protectedDiskInputSchema.safeParse(input);
  if (!parsed.success) {
    const column = (path: PropertyKey[]) => {
      const leaf = String(path[path.length - 1] ?? "");
      return (configColumns as Record<string, string>)[leaf] ?? path.join(".");
    };
    return { problems: parsed.error.issues.map((issue) => `${column(issue.path)}: ${issue.message}`) };
  }
  const config = toProtectedDisk(parsed.data);
  if (config.diskKey !== partitionKey) {
    return { problems: [`partitionKey: does not match diskId (expected ${config.diskKey})`] };
  }
  return { config, problems: [] };
}

/**
 * The row's RetentionPolicy columns as the schema takes them. A row with none of them was written before `keepAll`
 * existed, when `"retention": {}` was accepted and meant keeping everything: it still means that.
 */
function retentionOf(entity: Record<string, unknown>): Record<string, unknown> {
  const columns = withoutAbsent({ keepAll: entity[configColumns.keepAll], keepLast: entity[configColumns.keepLast], maxAgeDays: entity[configColumns.maxAgeDays] });
  return Object.keys(columns).length === 0 ? { keepAll: true } : columns;
}

/** The state's chain base is nested; tables hold scalars, so it is stored as `base_<field>` columns. */
function flatten(state: DiskState): Record<string, unknown> {
  const { base, ...rest } = state;
  const flat: Record<string, unknown> = { ...rest };
  if (base) for (const [key, value] of Object.entries(base)) flat[`base_${key}`] = value;
  return flat;
}

function unflatten(entity: Entity): Entity {
  const out: Record<string, unknown> = {};
  const base: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(entity)) {
    if (key.startsWith("base_")) base[key.slice(5)] = value;
    else out[key] = value;
  }
  if (Object.keys(base).length > 0) out.base = base;
  return out as Entity;
}
