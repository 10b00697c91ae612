/**
 * Table `diskdeltaRestores`: every tracked restore of a disk's RestorePoints (partition key diskKey, row key
 * restoreId, which sorts newest first). Created once, then written only if unchanged since it was read.
 */
import { type RestoreRecord, type Versioned, restoreRecordSchema } from "../../domain/records";
import { type Entity, type Table, etagOf, getEntity, ifUnchanged, listPartition, parseEntity, toEntity } from "./entities";

/** Tracked restores. */
export interface RestoreRecords {
  createRestore(restore: RestoreRecord): Promise<void>;
  getRestore(diskKey: string, restoreId: string): Promise<Versioned<RestoreRecord> | undefined>;
  putRestore(restore: RestoreRecord, etag: string): Promise<string>;
  listRestores(diskKey: string, limit: number): Promise<RestoreRecord[]>;
}

export function createRestoreRecords(table: Table): RestoreRecords {
  const { client } = table;
  const toRestoreEntity = (restore: RestoreRecord) => toEntity(restore.diskKey, restore.restoreId, restore);
  const parseRestore = (diskKey: string, entity: Entity): RestoreRecord => parseEntity(restoreRecordSchema, entity, `${table.name}/${diskKey}/${entity.rowKey}`);
  return {
    createRestore: (restore) => table.use(() => ifUnchanged(`restore ${restore.restoreId}`, async () => void (await client.createEntity(toRestoreEntity(restore))))),
    getRestore: (diskKey, restoreId) =>
      table.use(async () => {
        const entity = await getEntity(table, diskKey, restoreId);
        return entity ? { value: parseRestore(diskKey, entity), etag: entity.etag } : undefined;
      }),
    putRestore: (restore, etag) =>
      table.use(() =>
        ifUnchanged(`restore ${restore.restoreId}`, async () => etagOf(await client.updateEntity(toRestoreEntity(restore), "Replace", { etag }), `restore ${restore.restoreId}`)),
      ),
    listRestores: (diskKey, limit) =>
      table.use(async () => {
        const found: RestoreRecord[] = [];
        for await (const entity of listPartition(table, diskKey)) {
          found.push(parseRestore(diskKey, entity));
          if (found.length >= limit) break;
        }
        return found;
      }),
  };
}
