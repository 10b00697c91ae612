/**
 * The timer's work: start a BackupRun for every enabled ProtectedDisk that is due, report rows that cannot be used
 * (without stopping the others), and nudge runs that stopped moving (a lost queue message) by re-queueing their
 * current message; page writes and the step counter make that safe.
 */
import { describeError } from "../domain/errors";
import { stalledAfterMs } from "../domain/limits";
import { queueNames } from "../domain/messages";
import { type ProtectedDiskConfig, isActive, vmKeyOf } from "../domain/model";
import { isDue } from "../domain/schedule";
import type { Deps, Log } from "./deps";
import { type DrillTickReport, tickDrills } from "./drills";
import { type StartOutcome, startBackupRun } from "./runs";
import { tickVmDrills } from "./vm-drills";
import { type DiskStatus, describeDisk } from "./status";


/** What one tick did, for logs and tests. */
export interface TickReport {
  readonly started: string[];
  readonly skipped: { diskKey: string; reason: string }[];
  readonly invalid: { row: string; problems: string[] }[];
  readonly nudged: string[];
  /** DR drills: started, leftover drill disks deleted, stalled drills nudged. */
  readonly drills: DrillTickReport;
}

export async function scheduleDueBackups(deps: Deps, log: Log): Promise<TickReport> {
  const report: TickReport = { started: [], skipped: [], invalid: [], nudged: [], drills: { started: [], swept: [], nudged: [] } };
  const { disks, invalid } = await deps.records.listDisks();
  for (const row of invalid) {
    const name = `${row.table}/${row.partitionKey}/${row.rowKey}`;
    report.invalid.push({ row: name, problems: row.problems });
    log.error("invalid ProtectedDisk row skipped", { row: name, problems: row.problems });
  }
  const now = deps.now();
  const candidates: Candidate[] = [];
  for (const disk of disks) {
    if (!disk.enabled) continue;
    try {
      const { value: state } = await deps.records.getState(disk.diskKey);
      recordRpo(deps, describeDisk(disk, state, undefined, now));
      if (state.activeRunId) {
        if (await nudgeIfStalled(deps, disk.diskKey, state.activeRunId, now, log)) report.nudged.push(disk.diskKey);
      }
      const lastStarted = state.lastRunStartedAt ? new Date(state.lastRunStartedAt) : undefined;
      candidates.push({ disk, due: isDue(disk.schedule, lastStarted, now) });
    } catch (error) {
      report.skipped.push({ diskKey: disk.diskKey, reason: describeError(error) });
      log.error("could not schedule disk; other disks go on", { diskKey: disk.diskKey, error: describeError(error) });
    }
  }
  for (const batch of dueBatches(candidates)) {
    // A VM's disk set starts whole or waits whole, so that its RestorePoints of this tick make one group.
    if (report.started.length > 0 && report.started.length + batch.length > deps.settings.DISKDELTA_MAX_RUNS_PER_TICK) {
      for (const disk of batch) report.skipped.push({ diskKey: disk.diskKey, reason: "run limit for this tick reached; next tick" });
      continue;
    }
    const groupTime = batch[0].vmGroup ? now.toISOString() : undefined;
    for (const disk of batch) {
      try {
        const outcome: StartOutcome = await startBackupRun(deps, disk.diskKey, "schedule", log, groupTime);
        if (outcome.status === "started") report.started.push(disk.diskKey);
        else report.skipped.push({ diskKey: disk.diskKey, reason: outcome.status === "busy" ? outcome.reason : outcome.status });
      } catch (error) {
        report.skipped.push({ diskKey: disk.diskKey, reason: describeError(error) });
        log.error("could not schedule disk; other disks go on", { diskKey: disk.diskKey, error: describeError(error) });
      }
    }
  }
  // Drills come after the backups and go their own way: a drill never delays or blocks a BackupRun.
  for (const disk of disks) {
    await tickDrills(deps, disk, report.drills, log).catch((error: unknown) => {
      log.error("drill housekeeping failed; other disks go on", { diskKey: disk.diskKey, error: describeError(error) });
    });
  }
  await tickVmDrills(deps, disks, report.drills, log);
  return report;
}

interface Candidate {
  readonly disk: ProtectedDiskConfig;
  readonly due: boolean;
}

/**
 * The disks to start this tick, in batches: a disk alone, or a VM's whole disk set when any of its disks is due (the
 * set shares one schedule, but its disks' last starts differ by moments, so one may be due a tick before another).
 */
function dueBatches(candidates: readonly Candidate[]): ProtectedDiskConfig[][] {
  const sets = new Map<string, Candidate[]>();
  const batches: Candidate[][] = [];
  for (const candidate of candidates) {
    const vmKey = candidate.disk.vmGroup ? vmKeyOf(candidate.disk.vmGroup.vmId) : undefined;
    const set = vmKey ? sets.get(vmKey) : undefined;
    if (set) {
      set.push(candidate);
      continue;
    }
    const batch = [candidate];
    if (vmKey) sets.set(vmKey, batch);
    batches.push(batch);
  }
  return batches.filter((batch) => batch.some((c) => c.due)).map((batch) => batch.map((c) => c.disk));
}

async function nudgeIfStalled(deps: Deps, diskKey: string, runId: string, now: Date, log: Log): Promise<boolean> {
  const found = await deps.records.getRun(diskKey, runId);
  const run = found?.value;
  if (!run || !isActive(run.state) || now.getTime() - Date.parse(run.updatedAt) < stalledAfterMs) return false;
  if (run.state === "queued" || run.state === "preparing") {
    await deps.queues.send(queueNames.runStarts, { diskKey, runId });
  } else if (run.state === "replicating") {
    await deps.queues.send(queueNames.managedCopies, { diskKey, runId });
  } else if (run.state === "copying") {
    await deps.queues.send(queueNames.copySteps, { diskKey, runId, step: run.step, cursor: run.cursor, windowBytes: deps.settings.DISKDELTA_DIFF_WINDOW_BYTES });
  } else {
    await deps.queues.send(queueNames.finalizations, { diskKey, runId });
  }
  log.warn("stalled BackupRun nudged", { diskKey, runId, state: run.state, since: run.updatedAt });
  return true;
}

/** The RPO per disk, on every tick, for the RPO alert and the workbook. */
function recordRpo(deps: Deps, status: DiskStatus): void {
  const dims = { diskKey: status.diskKey };
  if (status.rpoSeconds !== undefined) deps.metrics.record("diskdelta.disk.rpo_seconds", status.rpoSeconds, dims);
  if (status.config.rpoAlertMinutes !== undefined) deps.metrics.record("diskdelta.disk.rpo_exceeded", status.rpoExceeded ? 1 : 0, dims);
}
