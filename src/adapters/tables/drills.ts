/**
 * Table `diskdeltaDrills`: every DR drill of a disk (partition key diskKey, row key drillId, which sorts newest
 * first), and every DR drill of a VM's disk set (partition key `vm-<vmKey>`, row key vmDrillId). Created once, then
 * written only if unchanged since it was read.
 */
import { type DrillRun, type Versioned, type VmDrillRun, drillRunSchema, vmDrillRunSchema } from "../../domain/records";
import { type Table, versionedRecords } from "./entities";

/** DrillRuns and VM drills. */
export interface DrillRecords {
  /** Creates the DrillRun; a `ConcurrencyError` when one with its id exists. */
  createDrill(drill: DrillRun): Promise<void>;
  getDrill(diskKey: string, drillId: string): Promise<Versioned<DrillRun> | undefined>;
  putDrill(drill: DrillRun, etag: string): Promise<string>;
  /** A disk's DrillRuns, newest first. */
  listDrills(diskKey: string, limit: number): Promise<DrillRun[]>;
  /** Creates the VM drill; a `ConcurrencyError` when one with its id exists. */
  createVmDrill(drill: VmDrillRun): Promise<void>;
  getVmDrill(vmKey: string, vmDrillId: string): Promise<Versioned<VmDrillRun> | undefined>;
  /** Writes the VM drill if unchanged since read at `etag`; a `ConcurrencyError` otherwise. */
  putVmDrill(drill: VmDrillRun, etag: string): Promise<string>;
  /** A VM set's drills, newest first. */
  listVmDrills(vmKey: string, limit: number): Promise<VmDrillRun[]>;
}

/** The partition of a VM set's drills: apart from any disk's (a diskKey never starts with `vm-`). */
const vmPartition = (vmKey: string) => `vm-${vmKey}`;

export function createDrillRecords(table: Table): DrillRecords {
  const drills = versionedRecords(table, drillRunSchema, (drill) => drill.drillId, (id) => `drill ${id}`);
  const vmDrills = versionedRecords(table, vmDrillRunSchema, (drill) => drill.vmDrillId, (id) => `VM drill ${id}`, (drill) => vmPartition(drill.vmKey));
  return {
    createDrill: drills.create,
    getDrill: drills.get,
    putDrill: drills.put,
    listDrills: drills.list,
    createVmDrill: vmDrills.create,
    getVmDrill: (vmKey, id) => vmDrills.get(vmPartition(vmKey), id),
    putVmDrill: vmDrills.put,
    listVmDrills: (vmKey, limit) => vmDrills.list(vmPartition(vmKey), limit),
  };
}
