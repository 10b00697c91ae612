/**
 * Table `diskdeltaRuns`: every BackupRun of a disk (partition key diskKey, row key runId, which sorts newest first).
 * A run is created once and then written only if unchanged since it was read.
 */
import { type BackupRun, backupRunSchema } from "../../domain/records";
import { type Table, type Versioned, versionedRecords } from "./entities";

/** BackupRuns. */
export interface RunRecords {
  getRun(diskKey: string, runId: string): Promise<Versioned<BackupRun> | undefined>;
  createRun(run: BackupRun): Promise<void>;
  putRun(run: BackupRun, etag: string): Promise<string>;
  listRuns(diskKey: string, limit: number): Promise<BackupRun[]>;
}

export function createRunRecords(table: Table): RunRecords {
  const runs = versionedRecords(table, backupRunSchema, (run) => run.runId, (id) => `BackupRun ${id}`);
  return { getRun: runs.get, createRun: runs.create, putRun: runs.put, listRuns: runs.list };
}
