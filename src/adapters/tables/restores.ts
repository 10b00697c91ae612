/**
 * Table `diskdeltaRestores`: every tracked restore of a disk's RestorePoints (partition key diskKey, row key
 * restoreId, which sorts newest first). Created once, then written only if unchanged since it was read.
 */
import { type RestoreRecord, type Versioned, restoreRecordSchema } from "../../domain/records";
import { type Table, versionedRecords } from "./entities";

/** Tracked restores. */
export interface RestoreRecords {
  createRestore(restore: RestoreRecord): Promise<void>;
  getRestore(diskKey: string, restoreId: string): Promise<Versioned<RestoreRecord> | undefined>;
  putRestore(restore: RestoreRecord, etag: string): Promise<string>;
  listRestores(diskKey: string, limit: number): Promise<RestoreRecord[]>;
}

export function createRestoreRecords(table: Table): RestoreRecords {
  const restores = versionedRecords(table, restoreRecordSchema, (restore) => restore.restoreId, (id) => `restore ${id}`);
  return { createRestore: restores.create, getRestore: restores.get, putRestore: restores.put, listRestores: restores.list };
}
