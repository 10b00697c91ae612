/**
 * The timer's work, fanned out so that a tick stays bounded whatever the size of the fleet:
 * - `fanOutSchedule` (the timer) reads the disk table a page at a time, reports rows that cannot be used (without
 *   stopping the others) and sends one `schedule-pages` message per page; a VM's disk set always goes whole into one
 *   message, so that the set starts whole or waits whole.
 * - `scheduleDisks` (queue `schedule-pages`, any worker) does the disks of one message: records their RPO, nudges
 *   runs that stopped moving (a lost queue message) by re-queueing their current message — page writes and the step
 *   counter make that safe — starts the runs that are due, then does their drill housekeeping.
 * - `scheduleDueBackups` does both in one process, for a caller that wants the whole tick's report at once.
 * DISKDELTA_MAX_RUNS_PER_TICK applies to each message: one message starts at most that many runs (whole VM sets
 * first come, first started), the rest wait for the next tick; so a tick of P messages starts at most P × that many.
 */
import { describeError } from "../domain/errors";
import { stalledAfterMs } from "../domain/limits";
import { type SchedulePageMessage, queueNames } from "../domain/messages";
import { type ProtectedDiskConfig, isActive, vmKeyOf } from "../domain/model";
import { isDue } from "../domain/schedule";
import type { InvalidRow } from "../adapters/tables/disks";
import type { Deps, Log } from "./deps";
import { type DrillTickReport, tickDrills } from "./drills";
import { type StartOutcome, startBackupRun } from "./runs";
import { tickVmDrills } from "./vm-drills";
import { type DiskStatus, describeDisk } from "./status";

/**
 * Config rows the timer reads per page of the disk table, and so (VM sets aside) the disks of one `schedule-pages`
 * message: one message's work (a few table calls per disk) stays well inside a queue invocation.
 */
export const schedulePageSize = 100;

/** A row that could not be used, as reports name it. */
export interface InvalidReport {
  readonly row: string;
  readonly problems: string[];
}

/** What one tick (or one message of it) did, for logs and tests. */
export interface TickReport {
  readonly started: string[];
  readonly skipped: { diskKey: string; reason: string }[];
  readonly invalid: InvalidReport[];
  readonly nudged: string[];
  /** DR drills: started, leftover drill disks deleted, stalled drills nudged. */
  readonly drills: DrillTickReport;
}

/** What the timer did: the tick's time, the messages it sent and the disks they name, the rows it could not use. */
export interface FanOutReport {
  readonly tickAt: string;
  readonly messages: number;
  readonly disks: number;
  readonly invalid: InvalidReport[];
}

const emptyReport = (): TickReport => ({ started: [], skipped: [], invalid: [], nudged: [], drills: { started: [], swept: [], nudged: [] } });

/** The timer: one `schedule-pages` message per page of the disk table (and per group of whole VM sets). */
export async function fanOutSchedule(deps: Deps, log: Log, pageSize = schedulePageSize): Promise<FanOutReport> {
  const tickAt = deps.now().toISOString();
  const invalid: InvalidReport[] = [];
  let messages = 0;
  let disks = 0;
  await eachScheduleUnit(deps, log, pageSize, invalid, async (diskKeys) => {
    await deps.queues.send(queueNames.schedulePages, { tickAt, diskKeys });
    messages += 1;
    disks += diskKeys.length;
  });
  return { tickAt, messages, disks, invalid };
}

/** A whole tick in this process: the timer's units scheduled one after the other, their reports merged. */
export async function scheduleDueBackups(deps: Deps, log: Log): Promise<TickReport> {
  const tickAt = deps.now();
  const report = emptyReport();
  await eachScheduleUnit(deps, log, schedulePageSize, report.invalid, async (diskKeys) => {
    const unit = await scheduleDisks(deps, diskKeys, tickAt, log);
    report.started.push(...unit.started);
    report.skipped.push(...unit.skipped);
    report.nudged.push(...unit.nudged);
    report.drills.started.push(...unit.drills.started);
    report.drills.swept.push(...unit.drills.swept);
    report.drills.nudged.push(...unit.drills.nudged);
  });
  return report;
}

/** Queue `schedule-pages`: the disks of one message of a tick. */
export function schedulePage(deps: Deps, message: SchedulePageMessage, log: Log): Promise<TickReport> {
  return scheduleDisks(deps, message.diskKeys, new Date(message.tickAt), log);
}

/**
 * Visits the tick's units of work: each page's disks that are not part of a VM set, as the page is read; then the VM
 * sets, whole (a set's disks may lie on different pages), packed into units of about a page. Only the VM sets' keys
 * are held until the end of the table.
 */
async function eachScheduleUnit(deps: Deps, log: Log, pageSize: number, invalid: InvalidReport[], visit: (diskKeys: string[]) => Promise<void>): Promise<void> {
  const vmSets = new Map<string, string[]>();
  let continuation: string | undefined;
  do {
    const page = await deps.records.listDiskPage(pageSize, continuation);
    for (const row of page.invalid) invalid.push(reportInvalid(row, log));
    const alone: string[] = [];
    for (const disk of page.disks) {
      if (!disk.vmGroup) {
        alone.push(disk.diskKey);
        continue;
      }
      const vmKey = vmKeyOf(disk.vmGroup.vmId);
      vmSets.set(vmKey, [...(vmSets.get(vmKey) ?? []), disk.diskKey]);
    }
    if (alone.length > 0) await visit(alone);
    continuation = page.continuation;
  } while (continuation);
  let unit: string[] = [];
  for (const set of vmSets.values()) {
    if (unit.length > 0 && unit.length + set.length > pageSize) {
      await visit(unit);
      unit = [];
    }
    unit.push(...set);
  }
  if (unit.length > 0) await visit(unit);
}

function reportInvalid(row: InvalidRow, log: Log): InvalidReport {
  const name = `${row.table}/${row.partitionKey}/${row.rowKey}`;
  log.error("invalid ProtectedDisk row skipped", { row: name, problems: row.problems });
  return { row: name, problems: row.problems };
}

/**
 * The disks of one unit: due at `tickAt` (the tick's time, so that a duplicate of the unit, delivered after a disk
 * started, finds it not due; the timer's and the workers' clocks agree far closer than any schedule's interval), stalled runs nudged, due ones started, then drill housekeeping. A disk that cannot be
 * read is reported and skipped; a disk unprotected since the tick is passed over.
 */
export async function scheduleDisks(deps: Deps, diskKeys: readonly string[], tickAt: Date, log: Log): Promise<TickReport> {
  const report = emptyReport();
  const now = deps.now();
  const disks: ProtectedDiskConfig[] = [];
  const candidates: Candidate[] = [];
  for (const diskKey of diskKeys) {
    try {
      const disk = await deps.records.getDisk(diskKey);
      if (!disk) continue;
      disks.push(disk);
      if (!disk.enabled) continue;
      const { value: state } = await deps.records.getState(disk.diskKey);
      recordRpo(deps, describeDisk(disk, state, undefined, now));
      if (state.activeRunId) {
        if (await nudgeIfStalled(deps, disk.diskKey, state.activeRunId, now, log)) report.nudged.push(disk.diskKey);
      }
      const lastStarted = state.lastRunStartedAt ? new Date(state.lastRunStartedAt) : undefined;
      candidates.push({ disk, due: isDue(disk.schedule, lastStarted, tickAt) });
    } catch (error) {
      report.skipped.push({ diskKey, reason: describeError(error) });
      log.error("could not schedule disk; other disks go on", { diskKey, error: describeError(error) });
    }
  }
  for (const batch of dueBatches(candidates)) {
    // A VM's disk set starts whole or waits whole, so that its RestorePoints of this tick make one group.
    if (report.started.length > 0 && report.started.length + batch.length > deps.settings.DISKDELTA_MAX_RUNS_PER_TICK) {
      for (const disk of batch) report.skipped.push({ diskKey: disk.diskKey, reason: "run limit for this tick reached; next tick" });
      continue;
    }
    const groupTime = batch[0].vmGroup ? tickAt.toISOString() : undefined;
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
