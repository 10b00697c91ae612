/** What an operator asks about a ProtectedDisk: its configuration, the active run, the newest RestorePoint and the RPO. */
import type { ProtectedDiskConfig } from "../domain/model";
import type { BackupRun, DiskState, RestorePoint } from "../domain/records";
import type { Deps } from "./deps";

/** A ProtectedDisk as the HTTP API and CLI show it. */
export interface DiskStatus {
  readonly diskKey: string;
  readonly diskId: string;
  readonly config: ProtectedDiskConfig;
  readonly activeRun?: BackupRun;
  readonly lastRunState?: string;
  readonly lastError?: string;
  readonly lastRestorePoint?: { readonly restorePointId: string; readonly sourceSnapshotTime: string; readonly createdAt: string };
  /** Age of the newest RestorePoint's source snapshot: the recovery point objective achieved right now. */
  readonly rpoSeconds?: number;
  /** True when rpoAlertMinutes is set and the RPO exceeds it (or there is no RestorePoint yet). */
  readonly rpoExceeded: boolean;
}

export function describeDisk(config: ProtectedDiskConfig, state: DiskState, activeRun: BackupRun | undefined, now: Date): DiskStatus {
  const sourceTime = state.lastRestorePointSourceTime ? Date.parse(state.lastRestorePointSourceTime) : undefined;
  const rpoSeconds = sourceTime === undefined ? undefined : Math.max(0, Math.round((now.getTime() - sourceTime) / 1000));
  const limit = config.rpoAlertMinutes;
  return {
    diskKey: config.diskKey,
    diskId: config.diskId,
    config,
    activeRun,
    lastRunState: state.lastRunState,
    lastError: state.lastError,
    lastRestorePoint: state.lastRestorePointId
      ? { restorePointId: state.lastRestorePointId, sourceSnapshotTime: state.lastRestorePointSourceTime ?? "", createdAt: state.lastRestorePointAt ?? "" }
      : undefined,
    rpoSeconds,
    rpoExceeded: limit !== undefined && (rpoSeconds === undefined || rpoSeconds > limit * 60),
  };
}

export async function diskStatus(deps: Deps, diskKey: string): Promise<DiskStatus | undefined> {
  const config = await deps.records.getDisk(diskKey);
  if (!config) return undefined;
  const { value: state } = await deps.records.getState(diskKey);
  const active = state.activeRunId ? (await deps.records.getRun(diskKey, state.activeRunId))?.value : undefined;
  return describeDisk(config, state, active, deps.now());
}

/** RestorePoints of a disk, newest first. */
export async function listRestorePoints(deps: Deps, diskKey: string): Promise<RestorePoint[]> {
  const points = await deps.records.listRestorePoints(diskKey);
  return points.sort((a, b) => b.sourceSnapshotTime.localeCompare(a.sourceSnapshotTime));
}
