/**
 * What the engine works with — its ports: the adapters' interfaces (only types cross; the engine imports no adapter
 * code), built once per worker by the composition root (src/composition.ts).
 */
import type { Settings } from "../config";
import type { ComputeGateway } from "../adapters/compute";
import type { WorkQueues } from "../adapters/queues";
import type { SourceSnapshotReader } from "../adapters/source-snapshot";
import type { Records } from "../adapters/tables";
import type { TargetBlobFactory } from "../adapters/target-blob";
import type { TargetCatalog } from "../adapters/target-catalog";

export type { BootProperties, ComputeGateway, CopyDiskRequest, DiskInfo, ImportDiskRequest, SnapshotCopyRequest, SnapshotInfo, VirtualMachineInfo } from "../adapters/compute";
export type { TargetBlob, TargetBlobFactory, TargetLease, TargetState } from "../adapters/target-blob";

/** Structured log lines: a message and the ids that let an operator follow one disk or run. */
export interface Log {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Counters and gauges for monitoring (Application Insights in Azure, nothing locally unless asked). */
export interface Metrics {
  record(name: string, value: number, dimensions: Record<string, string>): void;
}

/** How a queue message got here: its delivery count (1 = first delivery; more = an earlier attempt failed or died). */
export interface Delivery {
  readonly attempt: number;
  /** The queue message's id, the same on each of its redeliveries and different for a duplicate sent again. */
  readonly messageId?: string;
}

export interface Deps {
  readonly settings: Settings;
  readonly compute: ComputeGateway;
  readonly source: SourceSnapshotReader;
  readonly targets: TargetBlobFactory;
  /** The RestorePoints a target account describes itself (manifests), for `catalog rebuild`. */
  readonly catalog: TargetCatalog;
  readonly records: Records;
  readonly queues: WorkQueues;
  readonly metrics: Metrics;
  readonly now: () => Date;
  /** Used to fence run ids; random in production. */
  readonly randomId: () => string;
}
