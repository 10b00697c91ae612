/**
 * DR drills of a VM's disk set: the newest complete RestorePoint group (every disk's RestorePoint of one groupTime)
 * drilled as one. Each disk is drilled by the per-disk drill machinery (drills.ts: tracked restore into the drill
 * resource group, compare, cleanup), its DrillRun marked with the VM's key and carrying the VM drill's id; the VM
 * drill's one result is recorded when every member has ended (vm-drill-result.ts). The set's drill configuration is
 * its disks' (protect-vm sets it on each); the timer starts a set's drill when the OS disk's drill schedule is due.
 */
import { ConflictError, describeError } from "../domain/errors";
import { type ProtectedDiskConfig, newRunId, vmKeyOf } from "../domain/model";
import type { DrillRun, VmDrillRun } from "../domain/records";
import { chooseGroup, diskText } from "../domain/vm-groups";
import type { Deps, Log } from "./deps";
import { type DrillTickReport, beginDrill, drillConfigOf, drillablePoint, isDrillActive, isDrillDue, isDrillStale } from "./drills";
import { settleVmDrill } from "./vm-drill-result";
import { listVmRestorePoints, setDisks } from "./vm-sets";

/** The outcome of asking for a VM drill: started (the VM drill and its members' DrillRuns), or why not. */
export type VmDrillStart =
  | { readonly status: "started"; readonly vmDrill: VmDrillRun; readonly drills: readonly DrillRun[] }
  | { readonly status: "busy"; readonly reason: string };

/**
 * Starts a drill of the VM set's newest complete RestorePoint group; undefined when the VM has no protected disk
 * set. Everything is checked before anything is created: a ConflictError when a disk has no drill configuration or
 * cannot be restored, or when there is no complete group. The members' DrillRuns are recorded first, the VM drill
 * last: a worker dying in between leaves member drills that end (and clean up) on their own and no VM drill.
 */
export async function startVmDrill(deps: Deps, vmKey: string, trigger: DrillRun["trigger"], log: Log): Promise<VmDrillStart | undefined> {
  const disks = await setDisks(deps, vmKey);
  if (!disks.length) return undefined;
  const drillConfigs = new Map(disks.map((disk) => [disk.diskKey, drillConfigOf(disk)]));
  const [last] = await deps.records.listVmDrills(vmKey, 1);
  if (last?.state === "running") return { status: "busy", reason: `VM drill ${last.vmDrillId} is still running` };
  for (const disk of disks) {
    const [lastOfDisk] = await deps.records.listDrills(disk.diskKey, 1);
    if (lastOfDisk && isDrillActive(lastOfDisk)) return { status: "busy", reason: `drill ${lastOfDisk.drillId} of disk ${disk.diskKey} is still ${lastOfDisk.state}` };
  }
  const listing = await listVmRestorePoints(deps, vmKey);
  const choice = chooseGroup(listing?.groups ?? [], "latest", false);
  if (!choice.ok) throw new ConflictError("NoCompleteGroup", `virtual machine ${disks[0].vmGroup.vmId}: ${choice.reason.replace(/; restore .*$/, "")}; sync the VM (sync-vm) first`);
  const now = deps.now();
  const vmDrillId = newRunId(now, deps.randomId());
  const points = new Map(choice.group.restorePoints.map((member) => [member.diskKey, drillablePoint(member.restorePoint)]));
  const drills: DrillRun[] = [];
  for (const member of choice.group.restorePoints) {
    const config = disks.find((disk) => disk.diskKey === member.diskKey);
    const drillConfig = drillConfigs.get(member.diskKey);
    if (!config || !drillConfig) throw new Error(`disk ${diskText(member)} of the group is not of VM set ${vmKey}`);
    drills.push(await beginDrill(deps, { config, drillConfig, point: points.get(member.diskKey) ?? drillablePoint(member.restorePoint), trigger, drillId: vmDrillId, requestedAt: now, vmKey }, log));
  }
  const vmDrill: VmDrillRun = {
    vmKey,
    vmDrillId,
    vmId: disks[0].vmGroup.vmId,
    groupTime: choice.group.groupTime,
    diskKeys: drills.map((d) => d.diskKey).join(","),
    trigger,
    requestedAt: now.toISOString(),
    updatedAt: now.toISOString(),
    state: "running",
  };
  await deps.records.createVmDrill(vmDrill);
  log.info("VM drill started", { vmKey, vmDrillId, groupTime: vmDrill.groupTime, disks: vmDrill.diskKeys });
  // A member may have ended before the VM drill was recorded: its end found nothing to settle.
  return { status: "started", vmDrill: (await settleVmDrill(deps, vmKey, vmDrillId, log)) ?? vmDrill, drills };
}

/** A VM drill with its members' DrillRuns (their progress while it runs). */
export interface VmDrillView {
  readonly vmDrill: VmDrillRun;
  readonly drills: readonly DrillRun[];
}

export async function getVmDrill(deps: Deps, vmKey: string, vmDrillId: string): Promise<VmDrillView | undefined> {
  const found = await deps.records.getVmDrill(vmKey, vmDrillId);
  if (!found) return undefined;
  const drills: DrillRun[] = [];
  for (const diskKey of found.value.diskKeys.split(",")) {
    const drill = await deps.records.getDrill(diskKey, vmDrillId);
    if (drill) drills.push(drill.value);
  }
  return { vmDrill: found.value, drills };
}

/**
 * The timer's VM drill work: for every VM set whose disks have drills, record a running VM drill's result once its
 * members have ended (their own disks' ticks nudge, fail and sweep them), report staleness, and start a due drill.
 * One set's trouble does not stop the others.
 */
export async function tickVmDrills(deps: Deps, disks: readonly ProtectedDiskConfig[], report: DrillTickReport, log: Log): Promise<void> {
  const vmKeys = new Set(disks.flatMap((disk) => (disk.vmGroup && disk.drill ? [vmKeyOf(disk.vmGroup.vmId)] : [])));
  for (const vmKey of vmKeys) {
    await tickVmDrill(deps, vmKey, report, log).catch((error: unknown) => {
      log.error("VM drill housekeeping failed; other VM sets go on", { vmKey, error: describeError(error) });
    });
  }
}

async function tickVmDrill(deps: Deps, vmKey: string, report: DrillTickReport, log: Log): Promise<void> {
  // The set's schedule is its OS disk's (protect-vm gives every disk of the set the same drill configuration).
  const [first] = await setDisks(deps, vmKey);
  if (!first?.drill) return;
  const now = deps.now();
  const recent = await deps.records.listVmDrills(vmKey, 20);
  deps.metrics.record("diskdelta.drill.stale", isDrillStale(first.drill.schedule, recent, now) ? 1 : 0, { vmKey });
  const [last] = recent;
  if (last?.state === "running") {
    await settleVmDrill(deps, vmKey, last.vmDrillId, log);
    return;
  }
  if (!isDrillDue(first, last, now)) return;
  const started = await startVmDrill(deps, vmKey, "schedule", log).catch((error: unknown) => {
    // No complete group yet: the next tick tries again.
    if (error instanceof ConflictError && error.code === "NoCompleteGroup") return undefined;
    throw error;
  });
  if (started?.status === "started") report.started.push(started.vmDrill.vmDrillId);
}
