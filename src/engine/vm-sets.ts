/**
 * VM disk sets (`protect-vm`): every disk attached to a VM (OS and data disks) protected as a ProtectedDisk of its
 * own under one schedule, each config naming the VM and the disk's role. The set's runs of one scheduled tick (or of
 * one `sync-vm`) share a `groupTime`, which their RestorePoints carry, so that the set is restored as of one time.
 * The disks are snapshotted one after another: each RestorePoint is crash-consistent for its disk, not across disks.
 * Restoring a set is in vm-restore.ts.
 */
import { z } from "zod";
import { PermanentError } from "../domain/errors";
import {
  type ProtectedDiskConfig,
  type ProtectedDiskParsed,
  type VmMember,
  drillStorageProblem,
  parseVmId,
  protectedDiskInputSchema,
  refineDrillStorage,
  scheduleSchema,
  vmIdSchema,
  toProtectedDisk,
  vmKeyOf,
} from "../domain/model";
import { type VmRestorePointGroup, type VmSetDisk, bySetOrder, groupRestorePoints } from "../domain/vm-groups";
import type { Deps, Log } from "./deps";
import { planProtection, protectDisk, refuseUnsupportedDisk } from "./protection";
import { startBackupRun } from "./runs";
import { listRestorePoints } from "./status";

/**
 * What `POST /api/vms` takes: what protect takes, for a VM; each disk gets its own TargetBlob (no blobName). Without
 * a schedule, a set protected before keeps its schedule (a new one gets protect's default).
 */
export const protectVmInputSchema = protectedDiskInputSchema
  .omit({ diskId: true, vmGroup: true })
  .extend({
    vmId: vmIdSchema,
    target: protectedDiskInputSchema.shape.target.omit({ blobName: true }),
    schedule: scheduleSchema.optional(),
    /** Disks protected before: take their kept RestorePoints under the set's protection (see protectDisk). */
    adopt: z.boolean().optional(),
  })
  .strict()
  .superRefine(refineDrillStorage);
export type ProtectVmInput = z.input<typeof protectVmInputSchema>;

/** A disk of the set after protect-vm: newly protected, adopted (protected before, now of the set), or as it was. */
export interface VmSetMember {
  readonly status: "created" | "adopted" | "unchanged";
  readonly disk: ProtectedDiskConfig;
}

/** What protect-vm did. `notAttached`: disks of the set that the VM no longer holds (left as they are). */
export interface ProtectVmOutcome {
  readonly vmKey: string;
  readonly vmId: string;
  readonly disks: readonly VmSetMember[];
  readonly notAttached: readonly ProtectedDiskConfig[];
}

/**
 * Protects every disk the VM holds. Every disk is checked before any is protected: a VM with an unmanaged disk or
 * one diskdelta cannot restore (Confidential VM, 4K sectors) protects nothing. Running it again adopts the disks that
 * are protected already (they join the set and its schedule) and adds newly attached ones.
 */
export async function protectVm(deps: Deps, input: unknown): Promise<ProtectVmOutcome> {
  const { vmId, schedule, adopt, ...settings } = protectVmInputSchema.parse(input);
  const ref = parseVmId(vmId);
  if (!ref) throw new PermanentError("InvalidRequest", `vmId: not a virtual machine resource id: ${vmId}`);
  const vm = await deps.compute.getVirtualMachine(ref);
  const current = await setDisks(deps, vmKeyOf(vm.ref.id));
  const setSchedule = schedule ?? current[0]?.schedule;
  const attached: { diskId: string | undefined; name: string | undefined; member: VmMember }[] = [
    { ...vm.osDisk, member: { vmId: vm.ref.id, role: "os" } },
    ...vm.dataDisks.map((d) => ({ ...d, member: { vmId: vm.ref.id, role: "data" as const, lun: d.lun } })),
  ];
  const planned = attached.map(({ diskId, name, member }) => {
    if (!diskId) {
      const which = member.role === "os" ? "its OS disk" : `its data disk at lun ${member.lun}`;
      throw new UnsupportedVmError(vm.ref.id, `${which} (${name ?? "unnamed"}) is not a managed disk; diskdelta protects managed disks only`);
    }
    const input = protectedDiskInputSchema.parse({ ...settings, ...(setSchedule ? { schedule: setSchedule } : {}), diskId, vmGroup: member });
    return { input, config: toProtectedDisk(input), adopt: adopt === true };
  });
  for (const { config } of planned) await refuseUnsupportedDisk(deps, config);
  for (const { config } of planned) await refuseUndrillableAdoption(deps, config);
  // A disk not protected yet is checked as protect would (its kept chain, its TargetBlob) before any is protected.
  for (const disk of planned) {
    if (!(await deps.records.getDisk(disk.config.diskKey))) await planProtection(deps, { ...disk.input, ...(disk.adopt ? { adopt: true } : {}) });
  }

  const disks: VmSetMember[] = [];
  for (const disk of planned) disks.push(await joinSet(deps, disk));
  const attachedKeys = new Set(planned.map((d) => d.config.diskKey));
  const notAttached = current.filter((d) => !attachedKeys.has(d.diskKey));
  return { vmKey: vmKeyOf(vm.ref.id), vmId: vm.ref.id, disks, notAttached };
}

/** Thrown for a VM one of whose disks diskdelta cannot protect; the HTTP API answers it as 400. */
export class UnsupportedVmError extends PermanentError {
  constructor(vmId: string, reason: string) {
    super("UnsupportedDisk", `vmId: virtual machine ${vmId} cannot be protected: ${reason}; nothing was protected`);
  }
}

/** A drill given to protect-vm is refused before anything is protected when a disk it adopts keeps a target without storage account. */
async function refuseUndrillableAdoption(deps: Deps, disk: ProtectedDiskConfig): Promise<void> {
  const existing = disk.drill ? await deps.records.getDisk(disk.diskKey) : undefined;
  const refusal = existing ? drillStorageProblem({ drill: disk.drill, target: existing.target }) : undefined;
  if (refusal) throw new UnsupportedVmError(disk.vmGroup?.vmId ?? disk.diskId, `disk ${existing?.diskId} is protected already, without ${refusal}`);
}

/** Protects the disk as one of the set, or makes the ProtectedDisk it already is one (its target and retention kept). */
async function joinSet(deps: Deps, planned: { input: ProtectedDiskParsed; config: ProtectedDiskConfig; adopt: boolean }): Promise<VmSetMember> {
  const disk = planned.config;
  const existing = await deps.records.getDisk(disk.diskKey);
  if (!existing) {
    const outcome = await protectDisk(deps, { ...planned.input, ...(planned.adopt ? { adopt: true } : {}) });
    // "exists": protected a moment ago by someone else; adopted below like any protected disk.
    if (outcome.status === "created") return { status: "created", disk: outcome.disk };
  }
  const current = existing ?? (await deps.records.getDisk(disk.diskKey));
  if (!current) throw new Error(`ProtectedDisk ${disk.diskKey} was unprotected while protect-vm adopted it; run protect-vm again`);
  return adopt(deps, current, disk);
}

async function adopt(deps: Deps, existing: ProtectedDiskConfig, disk: ProtectedDiskConfig): Promise<VmSetMember> {
  const member = disk.vmGroup;
  const sameMember = existing.vmGroup?.vmId.toLowerCase() === member?.vmId.toLowerCase() && existing.vmGroup?.role === member?.role && existing.vmGroup?.lun === member?.lun;
  // A drill configuration given to protect-vm is the set's: every disk takes it (none given: each keeps its own).
  const sameDrill = !disk.drill || JSON.stringify(existing.drill) === JSON.stringify(disk.drill);
  if (sameMember && sameDrill && existing.schedule === disk.schedule) return { status: "unchanged", disk: existing };
  // One schedule for the set: the adopted disk takes the set's, so that its runs start in the same ticks.
  const adopted: ProtectedDiskConfig = { ...existing, schedule: disk.schedule, ...(member ? { vmGroup: member } : {}), ...(disk.drill ? { drill: disk.drill } : {}) };
  await deps.records.replaceDisk(adopted);
  return { status: "adopted", disk: adopted };
}

/** A ProtectedDisk of a VM's disk set. */
type SetMemberConfig = ProtectedDiskConfig & { readonly vmGroup: VmMember };

/** The ProtectedDisks of a VM's set, OS disk first, then data disks by lun. */
export async function setDisks(deps: Deps, vmKey: string): Promise<SetMemberConfig[]> {
  const { disks } = await deps.records.listDisks();
  return disks
    .filter((d): d is SetMemberConfig => d.vmGroup !== undefined && vmKeyOf(d.vmGroup.vmId) === vmKey)
    .sort((a, b) => bySetOrder(a.vmGroup, b.vmGroup));
}

function setDiskOf(config: SetMemberConfig): VmSetDisk {
  const { role, lun } = config.vmGroup;
  return { diskKey: config.diskKey, diskId: config.diskId, role, ...(lun !== undefined ? { lun } : {}) };
}

/** What sync-vm started: one groupTime, a run per disk, and the disks that could not start (busy, disabled). */
export interface VmSync {
  readonly vmKey: string;
  readonly vmId: string;
  readonly groupTime: string;
  readonly runs: readonly { diskKey: string; runId: string }[];
  readonly notStarted: readonly { diskKey: string; reason: string }[];
}

/** Starts a BackupRun of every disk of the set with one groupTime; undefined when the VM has no protected disk set. */
export async function syncVm(deps: Deps, vmKey: string, log: Log): Promise<VmSync | undefined> {
  const disks = await setDisks(deps, vmKey);
  if (!disks.length) return undefined;
  const groupTime = deps.now().toISOString();
  const runs: { diskKey: string; runId: string }[] = [];
  const notStarted: { diskKey: string; reason: string }[] = [];
  for (const disk of disks) {
    const outcome = await startBackupRun(deps, disk.diskKey, "manual", log, groupTime);
    if (outcome.status === "started") runs.push({ diskKey: disk.diskKey, runId: outcome.runId });
    else notStarted.push({ diskKey: disk.diskKey, reason: outcome.status === "busy" ? outcome.reason : outcome.status });
  }
  return { vmKey, vmId: disks[0].vmGroup.vmId, groupTime, runs, notStarted };
}

/** A VM's disk set and its RestorePoint groups, newest first. */
export interface VmRestorePoints {
  readonly vmKey: string;
  readonly vmId: string;
  readonly disks: readonly VmSetDisk[];
  readonly groups: readonly VmRestorePointGroup[];
}

export async function listVmRestorePoints(deps: Deps, vmKey: string): Promise<VmRestorePoints | undefined> {
  const configs = await setDisks(deps, vmKey);
  if (!configs.length) return undefined;
  const disks = configs.map(setDiskOf);
  const points = new Map(await Promise.all(disks.map(async (d) => [d.diskKey, await listRestorePoints(deps, d.diskKey)] as const)));
  return { vmKey, vmId: configs[0].vmGroup.vmId, disks, groups: groupRestorePoints(disks, points) };
}
