/**
 * Table `diskdeltaDrills`: every DR drill of a disk (partition key diskKey, row key drillId, which sorts newest
 * first). Created once, then written only if unchanged since it was read.
 */
import { type DrillRun, type Versioned, drillRunSchema } from "../../domain/records";
import { type Table, versionedRecords } from "./entities";

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
  const drills = versionedRecords(table, drillRunSchema, (drill) => drill.drillId, (id) => `drill ${id}`);
  return { createDrill: drills.create, getDrill: drills.get, putDrill: drills.put, listDrills: drills.list };
}
