/**
 * Table `diskdeltaDisks`: per disk (partition key diskKey) its configuration (row `config`, one column per field, as
 * an operator reads it) and its state (row `state`). A config row edited by hand into something unusable is
 * reported column by column, not used; the state is written only if unchanged since it was read.
 */
import { PermanentError, statusOf } from "../../domain/errors";
import { type ProtectedDiskConfig, protectedDiskInputSchema, toProtectedDisk } from "../../domain/model";
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

/** ProtectedDisk configuration and state. */
export interface DiskRecords {
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
}

export function createDiskRecords(table: Table): DiskRecords {
  const { client } = table;
  return {
    listDisks: () =>
      table.use(async () => {
        const found: ProtectedDiskConfig[] = [];
        const invalid: InvalidRow[] = [];
        for await (const entity of client.listEntities<Record<string, unknown>>({ queryOptions: { filter: "RowKey eq 'config'" } })) {
          const { config, problems } = entityToConfig(entity);
          if (config) found.push(config);
          else invalid.push({ table: table.name, partitionKey: entity.partitionKey ?? "", rowKey: entity.rowKey ?? "", problems });
        }
        return { disks: found, invalid };
      }),
    getDisk: (diskKey) =>
      table.use(async () => {
        const entity = await getEntity(table, diskKey, "config");
        if (!entity) return undefined;
        const { config, problems } = entityToConfig(entity);
        if (!config) {
          throw new PermanentError("InvalidProtectedDisk", `invalid ProtectedDisk row ${table.name}/${diskKey}/config: ${problems.join("; ")}; fix it with PATCH or protect the disk again`);
        }
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
    [configColumns.keepLast]: config.retention.keepLast,
    [configColumns.maxAgeDays]: config.retention.maxAgeDays,
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
