/**
 * Table `diskdeltaDrills`: every DR drill of a disk (partition key diskKey, row key drillId, which sorts newest
 * first). Created once, then written only if unchanged since it was read.
 */
import { type DrillRun, type Versioned, drillRunSchema } from "../../domain/records";
import { type Entity, type Table, etagOf, getEntity, ifUnchanged, listPartition, parseEntity, toEntity } from "./entities";

/** DrillRuns. */
export interface DrillRecords {
  /** Creates the DrillRun; a `ConcurrencyError` when one with its id exists. */
  createDrill(drill: DrillRun): Promise<void>;
  getDrill(diskKey: string, drillId: string): Promise<Versioned<DrillRun> | undefined>;
  putDrill(drill: DrillRun, etag: string): Promise<string>;
  /** A disk's DrillRuns, newest first. */
  listDrills(diskKey: string, limit: number): Promise<DrillRun[]>;
}

export function createDrillRecords(table: Table): DrillRecords {
  const { client } = table;
  const toDrillEntity = (drill: DrillRun) => toEntity(drill.diskKey, drill.drillId, drill);
  const parseDrill = (diskKey: string, entity: Entity): DrillRun => parseEntity(drillRunSchema, entity, `${table.name}/${diskKey}/${entity.rowKey}`);
  return {
    createDrill: (drill) => table.use(() => ifUnchanged(`drill ${drill.drillId}`, async () => void (await client.createEntity(toDrillEntity(drill))))),
    getDrill: (diskKey, drillId) =>
      table.use(async () => {
        const entity = await getEntity(table, diskKey, drillId);
        return entity ? { value: parseDrill(diskKey, entity), etag: entity.etag } : undefined;
      }),
    putDrill: (drill, etag) =>
      table.use(() => ifUnchanged(`drill ${drill.drillId}`, async () => etagOf(await client.updateEntity(toDrillEntity(drill), "Replace", { etag }), `drill ${drill.drillId}`))),
    listDrills: (diskKey, limit) =>
      table.use(async () => {
        const found: DrillRun[] = [];
        for await (const entity of listPartition(table, diskKey)) {
          found.push(parseDrill(diskKey, entity));
          if (found.length >= limit) break;
        }
        return found;
      }),
  };
}
