/** What an operator asks about a ProtectedDisk: its configuration, the active run, the newest RestorePoint and the RPO. */
import type { ProtectedDiskConfig } from "../domain/model";
import type { BackupRun, DiskState, DrillRun, RestorePoint } from "../domain/records";
import { withoutAbsent } from "../domain/objects";
import type { Deps } from "./deps";
import { describeDrills } from "./drills";

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
  /** The newest DR drill, whatever its state. */
  readonly lastDrill?: DrillRun;
  /** True when drills are configured and the last successful one is older than its schedule allows (two intervals). */
  readonly drillStale?: boolean;  /**
   * While the disk has no RestorePoint yet (its seed, the first full copy, is running): the estimated time until the
   * first one, extrapolated from the run so far. Absent until the run has progress to extrapolate from.
   */
  readonly firstRestorePointEta?: FirstRestorePointEta;
}

/** The estimate of the time to a disk's first RestorePoint, and what it was taken from. */
export interface FirstRestorePointEta {
  readonly seconds: number;
  /** `disk-covered`: the share of the disk's address space the CopySteps passed; `copy-percent`: Azure's completionPercent. */
  readonly basis: "disk-covered" | "copy-percent";
  /** That share, 0–1. */
  readonly fraction: number;
  readonly elapsedSeconds: number;
}

/**
 * Time to the first RestorePoint, from a run that has covered a share of the work: elapsed × (1 − share) ÷ share. For a
 * diff run the share is the address space its CopySteps passed (the cursor: a seed copies the allocated ranges in
 * disk order, so the estimate assumes the rest is as allocated as what was passed); for a managed run, Azure's
 * completionPercent. Undefined with a RestorePoint already, or before any share is done.
 */
export function firstRestorePointEta(state: DiskState, run: BackupRun | undefined, now: Date): FirstRestorePointEta | undefined {
  if (state.lastRestorePointId || !run) return undefined;
  const share = run.state === "copying" && run.blobBytes > 0 ? run.cursor / run.blobBytes
    : run.state === "replicating" ? run.completionPercent / 100
    : run.state === "finalizing" ? 1 : 0;
  const elapsedSeconds = Math.max(0, (now.getTime() - Date.parse(run.startedAt)) / 1000);
  if (!(share > 0) || !Number.isFinite(elapsedSeconds)) return undefined;
  const fraction = Math.min(1, share);
  return { seconds: Math.round((elapsedSeconds * (1 - fraction)) / fraction), basis: run.state === "replicating" ? "copy-percent" : "disk-covered", fraction, elapsedSeconds: Math.round(elapsedSeconds) };
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
    ...withoutAbsent({ firstRestorePointEta: firstRestorePointEta(state, activeRun, now) }),
  };
}

export async function diskStatus(deps: Deps, diskKey: string): Promise<DiskStatus | undefined> {
  const config = await deps.records.getDisk(diskKey);
  if (!config) return undefined;
  const { value: state } = await deps.records.getState(diskKey);
  const active = state.activeRunId ? (await deps.records.getRun(diskKey, state.activeRunId))?.value : undefined;
  // The newest drills, enough to find the last success behind a few failures.
  const drills = config.drill ? await deps.records.listDrills(diskKey, 20) : [];
  return { ...describeDisk(config, state, active, deps.now()), ...describeDrills(config, drills, deps.now()) };
}

/** RestorePoints of a disk, newest first. */
export async function listRestorePoints(deps: Deps, diskKey: string): Promise<RestorePoint[]> {
  const points = await deps.records.listRestorePoints(diskKey);
  return points.sort((a, b) => b.sourceSnapshotTime.localeCompare(a.sourceSnapshotTime));
}
