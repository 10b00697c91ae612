/**
 * What the record modules share: a table that is used once the app's tables exist, reads that parse entities with
 * zod, conditional writes that turn a lost race into `ConcurrencyError`, and deletes and reads that accept absence.
 */
import type { TableClient, TableEntity, TableEntityResult } from "@azure/data-tables";
import type { z } from "zod";
import { ConcurrencyError, InvalidRecordError, statusOf } from "../../domain/errors";
import { withoutAbsent } from "../../domain/objects";

export { ConcurrencyError } from "../../domain/errors";
export type { Versioned } from "../../domain/records";
import type { Versioned } from "../../domain/records";

/** An entity as read: its columns, untyped until parsed. */
export type Entity = TableEntityResult<Record<string, unknown>>;

/** One of the app's tables. */
export interface Table {
  readonly name: string;
  readonly client: TableClient;
  /** Runs `work` once every table of the app exists (they are created when the records are built). */
  use<T>(work: () => Promise<T>): Promise<T>;
}

/** The entity, or undefined when there is none. */
export async function getEntity(table: Table, partitionKey: string, rowKey: string): Promise<Entity | undefined> {
  try {
    return await table.client.getEntity<Record<string, unknown>>(partitionKey, rowKey);
  } catch (error) {
    if (statusOf(error) === 404) return undefined;
    throw error;
  }
}

/** Deletes the entity; one that is gone already is fine. */
export async function deleteEntity(table: Table, partitionKey: string, rowKey: string): Promise<void> {
  await table.client.deleteEntity(partitionKey, rowKey).catch((error: unknown) => {
    if (statusOf(error) !== 404) throw error;
  });
}

/** Every entity of a partition (one disk), in row key order. */
export function listPartition(table: Table, partitionKey: string): AsyncIterable<Entity> {
  return table.client.listEntities<Record<string, unknown>>({ queryOptions: { filter: `PartitionKey eq '${partitionKey.replace(/'/g, "''")}'` } });
}

/** A record as an entity: its keys, and its fields without the absent ones (a table has no empty columns). */
export function toEntity(partitionKey: string, rowKey: string, fields: object): TableEntity {
  return withoutAbsent({ partitionKey, rowKey, ...fields });
}

/** The ETag a write answered with: the next conditional write needs it, so an answer without one is an error. */
export function etagOf(answer: { etag?: string }, what: string): string {
  if (!answer.etag) throw new Error(`Table Storage answered the write of ${what} without an ETag; retrying`);
  return answer.etag;
}

/** Runs a write that must not race; a 412 (ETag changed) or 409 (created meanwhile) is a `ConcurrencyError`. */
export async function ifUnchanged<T>(what: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (statusOf(error) === 412 || statusOf(error) === 409) throw new ConcurrencyError(what);
    throw error;
  }
}

/** Strips the table's own fields and parses the rest; a bad record is an error naming the entity and its fields. */
export function parseEntity<S extends z.ZodType>(schema: S, entity: Entity, where: string): z.output<S> {
  const { partitionKey: _pk, rowKey: _rk, etag: _etag, timestamp: _ts, "odata.metadata": _m, ...fields } = entity as Record<string, unknown>;
  const parsed = schema.safeParse(fields);
  if (!parsed.success) {
    throw new InvalidRecordError(where, parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`));
  }
  return parsed.data;
}

/**
 * The records of one table that are created once and then written only if unchanged since they were read
 * (BackupRuns, tracked restores, DrillRuns): partition key diskKey, row key the record's id (inverted time, so a
 * partition lists newest first), each read parsed with `schema`.
 */
export interface VersionedRecords<T> {
  create(record: T): Promise<void>;
  get(diskKey: string, id: string): Promise<Versioned<T> | undefined>;
  put(record: T, etag: string): Promise<string>;
  list(diskKey: string, limit: number): Promise<T[]>;
}

export function versionedRecords<T extends { diskKey: string }>(
  table: Table, schema: z.ZodType<T>, idOf: (record: T) => string, what: (id: string) => string,
): VersionedRecords<T>;
/** The same, for records of another partition key (a VM's records: `partitionOf`). */
export function versionedRecords<T extends object>(
  table: Table, schema: z.ZodType<T>, idOf: (record: T) => string, what: (id: string) => string, partitionOf: (record: T) => string,
): VersionedRecords<T>;
export function versionedRecords<T extends object>(
  table: Table, schema: z.ZodType<T>, idOf: (record: T) => string, what: (id: string) => string,
  partitionOf = (record: T) => (record as T & { diskKey: string }).diskKey,
): VersionedRecords<T> {
  const { client } = table;
  // The one place such a record becomes an entity and back.
  const toRecordEntity = (record: T) => toEntity(partitionOf(record), idOf(record), record);
  const parse = (diskKey: string, entity: Entity): T => parseEntity(schema, entity, `${table.name}/${diskKey}/${entity.rowKey}`);
  return {
    create: (record) => table.use(() => ifUnchanged(what(idOf(record)), async () => void (await client.createEntity(toRecordEntity(record))))),
    get: (diskKey, id) =>
      table.use(async () => {
        const entity = await getEntity(table, diskKey, id);
        return entity ? { value: parse(diskKey, entity), etag: entity.etag } : undefined;
      }),
    put: (record, etag) =>
      table.use(() => ifUnchanged(what(idOf(record)), async () => etagOf(await client.updateEntity(toRecordEntity(record), "Replace", { etag }), what(idOf(record))))),
    list: (diskKey, limit) =>
      table.use(async () => {
        const found: T[] = [];
        for await (const entity of listPartition(table, diskKey)) {
          found.push(parse(diskKey, entity));
          if (found.length >= limit) break;
        }
        return found;
      }),
  };
}
