/**
 * VM disk sets (`protect-vm`): every disk attached to a VM (OS and data disks) protected as a ProtectedDisk of its
 * own under one schedule, each config naming the VM and the disk's role. The set's runs of one scheduled tick (or of
 * one `sync-vm`) share a `groupTime`, which their RestorePoints carry, so that the set is restored as of one time.
 * The disks are snapshotted one after another: each RestorePoint is crash-consistent for its disk, not across disks.
 */
import { z } from "zod";
import { ConflictError, PermanentError } from "../domain/errors";
import {
  type ProtectedDiskConfig,
  type ProtectedDiskParsed,
  type VmMember,
  parseVmId,
  protectedDiskInputSchema,
  toProtectedDisk,
  vmKeyOf,
} from "../domain/model";
import type { RestoreRecord } from "../domain/records";
import { type VmRestorePointGroup, type VmSetDisk, bySetOrder, chooseGroup, groupRestorePoints, missingText } from "../domain/vm-groups";
import type { Deps, Log } from "./deps";
import { protectDisk, refuseUnsupportedDisk } from "./protection";
import { type RestoreRequest, recordedSource, resolveRestore, restoreRequestSchema } from "./restore";
import { acceptRestore } from "./restores";
import { startBackupRun } from "./runs";
import { listRestorePoints } from "./status";

const vmIdSchema = z.string().trim().refine((id) => parseVmId(id) !== undefined, {
  message: "must be a virtual machine resource id: /subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.Compute/virtualMachines/<name>",
});

/** What `POST /api/vms` takes: what protect takes, for a VM; each disk gets its own TargetBlob (no blobName). */
export const protectVmInputSchema = protectedDiskInputSchema
  .omit({ diskId: true, vmGroup: true })
  .extend({
    vmId: vmIdSchema,
    target: protectedDiskInputSchema.shape.target.omit({ blobName: true }),
  })
  .strict();
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
  const { vmId, ...settings } = protectVmInputSchema.parse(input);
  const ref = parseVmId(vmId);
  if (!ref) throw new PermanentError("InvalidRequest", `vmId: not a virtual machine resource id: ${vmId}`);
  const vm = await deps.compute.getVirtualMachine(ref);
  const attached: { diskId: string | undefined; name: string | undefined; member: VmMember }[] = [
    { ...vm.osDisk, member: { vmId: vm.ref.id, role: "os" } },
    ...vm.dataDisks.map((d) => ({ ...d, member: { vmId: vm.ref.id, role: "data" as const, lun: d.lun } })),
  ];
  const planned = attached.map(({ diskId, name, member }) => {
    if (!diskId) {
      const which = member.role === "os" ? "its OS disk" : `its data disk at lun ${member.lun}`;
      throw new UnsupportedVmError(vm.ref.id, `${which} (${name ?? "unnamed"}) is not a managed disk; diskdelta protects managed disks only`);
    }
    const input = protectedDiskInputSchema.parse({ ...settings, diskId, vmGroup: member });
    return { input, config: toProtectedDisk(input) };
  });
  for (const { config } of planned) await refuseUnsupportedDisk(deps, config);

  const disks: VmSetMember[] = [];
  for (const disk of planned) disks.push(await joinSet(deps, disk));
  const attachedKeys = new Set(planned.map((d) => d.config.diskKey));
  const notAttached = (await setDisks(deps, vmKeyOf(vm.ref.id))).filter((d) => !attachedKeys.has(d.diskKey));
  return { vmKey: vmKeyOf(vm.ref.id), vmId: vm.ref.id, disks, notAttached };
}

/** Thrown for a VM one of whose disks diskdelta cannot protect; the HTTP API answers it as 400. */
export class UnsupportedVmError extends PermanentError {
  constructor(vmId: string, reason: string) {
    super("UnsupportedDisk", `vmId: virtual machine ${vmId} cannot be protected: ${reason}; nothing was protected`);
  }
}

/** Protects the disk as one of the set, or makes the ProtectedDisk it already is one (its target and retention kept). */
async function joinSet(deps: Deps, planned: { input: ProtectedDiskParsed; config: ProtectedDiskConfig }): Promise<VmSetMember> {
  const disk = planned.config;
  const existing = await deps.records.getDisk(disk.diskKey);
  if (!existing) {
    const outcome = await protectDisk(deps, planned.input);
    // "exists": protected a moment ago by someone else; adopted below like any protected disk.
    if (outcome.status === "created") return { status: "created", disk: outcome.disk };
  }
  const current = existing ?? (await deps.records.getDisk(disk.diskKey));
  if (!current) throw new Error(`ProtectedDisk ${disk.diskKey} was unprotected while protect-vm adopted it; run protect-vm again`);
  return adopt(deps, current, disk);
}

async function adopt(deps: Deps, existing: ProtectedDiskConfig, disk: ProtectedDiskConfig): Promise<VmSetMember> {
  const member = disk.vmGroup;
  const same = JSON.stringify(existing.vmGroup) === JSON.stringify(member) && existing.schedule === disk.schedule;
  if (same) return { status: "unchanged", disk: existing };
  // One schedule for the set: the adopted disk takes the set's, so that its runs start in the same ticks.
  const adopted: ProtectedDiskConfig = { ...existing, schedule: disk.schedule, ...(member ? { vmGroup: member } : {}) };
  await deps.records.replaceDisk(adopted);
  return { status: "adopted", disk: adopted };
}

/** The ProtectedDisks of a VM's set, OS disk first, then data disks by lun. */
export async function setDisks(deps: Deps, vmKey: string): Promise<ProtectedDiskConfig[]> {
  const { disks } = await deps.records.listDisks();
  return disks
    .filter((d): d is ProtectedDiskConfig & { vmGroup: VmMember } => d.vmGroup !== undefined && vmKeyOf(d.vmGroup.vmId) === vmKey)
    .sort((a, b) => bySetOrder(a.vmGroup, b.vmGroup));
}

function setDiskOf(config: ProtectedDiskConfig): VmSetDisk {
  const member = config.vmGroup;
  if (!member) throw new Error(`ProtectedDisk ${config.diskKey} is of no VM's disk set`);
  return { diskKey: config.diskKey, diskId: config.diskId, role: member.role, ...(member.lun !== undefined ? { lun: member.lun } : {}) };
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
  return { vmKey, vmId: vmIdOf(disks), groupTime, runs, notStarted };
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
  return { vmKey, vmId: vmIdOf(configs), disks, groups: groupRestorePoints(disks, points) };
}

function vmIdOf(disks: readonly ProtectedDiskConfig[]): string {
  return disks[0]?.vmGroup?.vmId ?? "";
}

/** What `POST /api/vms/{vmKey}/restore` takes: which time, where the disks go, how they are named. */
export const vmRestoreRequestSchema = z
  .object({
    /** "latest", or an ISO time: the newest group at or before it. */
    at: z.union([z.literal("latest"), z.iso.datetime({ offset: true })]).default("latest"),
    /** Restore a group even if some disk has no RestorePoint in it (that disk is not restored). */
    allowPartial: z.boolean().default(false),
    /** Each new disk is named `<namePrefix><source disk name>`. */
    namePrefix: z.string().regex(/^[A-Za-z0-9_.-]{0,40}$/, "must be up to 40 letters, digits, _ . -").default("restored-"),
  })
  .extend(restoreRequestSchema.omit({ name: true, diskSizeGB: true, osType: true, hyperVGeneration: true }).shape)
  .strict();
export type VmRestoreRequest = z.output<typeof vmRestoreRequestSchema>;

/** How the restored disks become a VM again: what `az vm create` needs besides the disks. */
export interface VmBoot {
  readonly vmName: string;
  readonly osType?: "Windows" | "Linux";
  readonly securityType?: string;
  readonly hyperVGeneration?: "V1" | "V2";
}

/** An accepted VM restore: the group, one tracked restore per disk, and what was not restored. */
export interface AcceptedVmRestore {
  readonly vmKey: string;
  readonly vmId: string;
  readonly groupTime: string;
  /** Newer groups at or before `at` passed over because some disk had no RestorePoint in them. */
  readonly passedOver: readonly { groupTime: string; missing: string }[];
  /** With allowPartial: the disks the group has no RestorePoint of. */
  readonly notRestored: readonly VmSetDisk[];
  readonly restores: readonly (VmSetDisk & { readonly restore: RestoreRecord })[];
  readonly boot: VmBoot;
}

/**
 * Restores a VM's disk set as of one group: every disk's restore is checked (names free, resource group there)
 * before any is accepted, then each is accepted as a tracked restore. Undefined when the VM has no disk set.
 */
export async function acceptVmRestore(deps: Deps, vmKey: string, request: VmRestoreRequest, requestedBy: string): Promise<AcceptedVmRestore | undefined> {
  const listing = await listVmRestorePoints(deps, vmKey);
  if (!listing) return undefined;
  const choice = chooseGroup(listing.groups, request.at === "latest" ? "latest" : new Date(request.at), request.allowPartial);
  if (!choice.ok) throw new ConflictError("NoCompleteGroup", `virtual machine ${listing.vmId}: ${choice.reason}`);
  const { group } = choice;
  const { at: _at, allowPartial: _partial, namePrefix, ...common } = request;
  const planned = [];
  for (const member of group.restorePoints) {
    const sourceName = member.diskId.split("/").at(-1) ?? member.diskKey;
    const parsed = restoreRequestSchema.safeParse({ ...common, name: `${namePrefix}${sourceName}` });
    if (!parsed.success) throw new PermanentError("InvalidRequest", `the restore of ${sourceName}: ${z.prettifyError(parsed.error)}`);
    const source = await recordedSource(deps, member.diskKey, member.restorePoint.restorePointId);
    if (!source) throw new ConflictError("RestorePointDataGone", `RestorePoint ${member.restorePoint.restorePointId} of ${sourceName} was removed while the restore was planned`);
    await resolveRestore(deps, parsed.data, source);
    planned.push({ member, request: parsed.data as RestoreRequest, os: member.role === "os" ? source.manifest?.disk : undefined });
  }
  const restores: (VmSetDisk & { restore: RestoreRecord })[] = [];
  for (const { member, request: one } of planned) {
    const restore = await acceptRestore(deps, member.diskKey, member.restorePoint.restorePointId, one, requestedBy);
    if (!restore) throw new ConflictError("RestorePointDataGone", `RestorePoint ${member.restorePoint.restorePointId} was removed before its restore was accepted`);
    const { restorePoint: _point, ...disk } = member;
    restores.push({ ...disk, restore });
  }
  const os = planned.find((p) => p.os)?.os;
  const vmName = `${namePrefix}${parseVmId(listing.vmId)?.name ?? "vm"}`;
  return {
    vmKey,
    vmId: listing.vmId,
    groupTime: group.groupTime,
    passedOver: choice.passedOver.map((g) => ({ groupTime: g.groupTime, missing: missingText(g) })),
    notRestored: group.missing,
    restores,
    boot: { vmName, ...(os?.osType ? { osType: os.osType } : {}), ...(os?.securityType ? { securityType: os.securityType } : {}), ...(os?.hyperVGeneration ? { hyperVGeneration: os.hyperVGeneration } : {}) },
  };
}
