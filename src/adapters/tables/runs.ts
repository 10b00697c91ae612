/**
 * Table `diskdeltaRuns`: every BackupRun of a disk (partition key diskKey, row key runId, which sorts newest first).
 * A run is created once and then written only if unchanged since it was read.
 */
import { type BackupRun, backupRunSchema } from "../../domain/records";
import { type Entity, type Table, type Versioned, etagOf, getEntity, ifUnchanged, listPartition, parseEntity, toEntity } from "./entities";

/** BackupRuns. */
export interface RunRecords {
  getRun(diskKey: string, runId: string): Promise<Versioned<BackupRun> | undefined>;
  createRun(run: BackupRun): Promise<void>;
  putRun(run: BackupRun, etag: string): Promise<string>;
  listRuns(diskKey: string, limit: number): Promise<BackupRun[]>;
}

export function createRunRecords(table: Table): RunRecords {
  const { client } = table;
  // The one place a BackupRun becomes an entity and back.
  const toRunEntity = (run: BackupRun) => toEntity(run.diskKey, run.runId, run);
  const parseRun = (diskKey: string, entity: Entity): BackupRun => parseEntity(backupRunSchema, entity, `${table.name}/${diskKey}/${entity.rowKey}`);
  return {
    getRun: (diskKey, runId) =>
      table.use(async () => {
        const entity = await getEntity(table, diskKey, runId);
        return entity ? { value: parseRun(diskKey, entity), etag: entity.etag } : undefined;
      }),
    createRun: (run) => table.use(() => ifUnchanged(`BackupRun ${run.runId}`, async () => void (await client.createEntity(toRunEntity(run))))),
    putRun: (run, etag) =>
      table.use(() =>
        ifUnchanged(`BackupRun ${run.runId}`, async () => {
          const answer = await client.updateEntity(toRunEntity(run), "Replace", { etag });
          return etagOf(answer, `BackupRun ${run.runId}`);
        }),
      ),
    listRuns: (diskKey, limit) =>
      table.use(async () => {
        const found: BackupRun[] = [];
        for await (const entity of listPartition(table, diskKey)) {
          found.push(parseRun(diskKey, entity));
          if (found.length >= limit) break;
        }
        return found;
      }),
  };
}
