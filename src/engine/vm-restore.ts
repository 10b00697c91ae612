/**
 * Restoring a VM's disk set as of one RestorePoint group (vm-groups.ts chooses it): through the app, as one tracked
 * restore per disk; or in the CLI's direct mode, from the manifests in the target account alone (they carry the set
 * and the group: `vmGroup`). Either way every disk's restore is checked (name free, resource group there) before any
 * disk is created, and the answer says how to make the VM of the new disks.
 */
import { z } from "zod";
import { ConflictError, PermanentError } from "../domain/errors";
import type { DiskProperties, RestorePointManifest } from "../domain/manifest";
import { restorePointOfManifest } from "../domain/manifest";
import { parseVmId, vmKeyOf } from "../domain/model";
import type { RestorePoint, RestoreRecord } from "../domain/records";
import { type GroupChoice, type VmRestorePointGroup, type VmSetDisk, chooseGroup, groupRestorePoints, missingText } from "../domain/vm-groups";
import type { Deps } from "./deps";
import { type RestorePorts, type RestoreRequest, type RestoreResult, manifestSource, recordedSource, resolveRestore, restoreFromManifest, restoreRequestSchema } from "./restore";
import { acceptRestore } from "./restores";
import { listVmRestorePoints } from "./vm-sets";

/** What `POST /api/vms/{vmKey}/restore` (and `restore-vm`) takes: which time, where the disks go, how they are named. */
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

/** What a VM restore restores and what it leaves out, whichever way it runs. */
export interface VmRestorePlan {
  readonly vmKey: string;
  readonly vmId: string;
  readonly groupTime: string;
  /** Newer groups at or before `at` passed over because some disk had no RestorePoint in them. */
  readonly passedOver: readonly { groupTime: string; missing: string }[];
  /** With allowPartial: the disks the group has no RestorePoint of. */
  readonly notRestored: readonly VmSetDisk[];
  readonly boot: VmBoot;
}

/** An accepted VM restore: the plan and one tracked restore per disk. */
export interface AcceptedVmRestore extends VmRestorePlan {
  readonly restores: readonly (VmSetDisk & { readonly restore: RestoreRecord })[];
}

/** A VM restored in direct mode: the plan and each disk as created. */
export interface DirectVmRestore extends VmRestorePlan {
  readonly restores: readonly (VmSetDisk & { readonly result: RestoreResult })[];
}

/**
 * Restores a VM's disk set as of one group through the app: every restore is checked before any is accepted, then
 * each is accepted as a tracked restore. Undefined when the VM has no protected disk set.
 */
export async function acceptVmRestore(deps: Deps, vmKey: string, request: VmRestoreRequest, requestedBy: string): Promise<AcceptedVmRestore | undefined> {
  const listing = await listVmRestorePoints(deps, vmKey);
  if (!listing) return undefined;
  const { group, plan } = planVmRestore(listing, request);
  const checked = [];
  for (const member of group.restorePoints) {
    const one = diskRequest(member, request);
    const source = await recordedSource(deps, member.diskKey, member.restorePoint.restorePointId);
    if (!source) throw new ConflictError("RestorePointDataGone", `RestorePoint ${member.restorePoint.restorePointId} of ${member.diskId} was removed while the restore was planned`);
    await resolveRestore(deps, one, source);
    checked.push({ member, request: one, manifest: source.manifest });
  }
  const restores: (VmSetDisk & { restore: RestoreRecord })[] = [];
  for (const { member, request: one } of checked) {
    const restore = await acceptRestore(deps, member.diskKey, member.restorePoint.restorePointId, one, requestedBy);
    if (!restore) throw new ConflictError("RestorePointDataGone", `RestorePoint ${member.restorePoint.restorePointId} was removed before its restore was accepted`);
    restores.push({ ...setDiskOf(member), restore });
  }
  return { ...plan, boot: bootOf(plan.vmId, request, osPropertiesOf(checked)), restores };
}

/** A RestorePoint of the target account as the catalog lists it: its manifest, and whether its data is there. */
export type ListedManifest = RestorePointManifest & { readonly dataPresent: boolean };

/**
 * Restores a VM's disk set from the target account's manifests alone (direct mode): the set is the disks whose
 * manifests name the VM; a RestorePoint whose data is missing counts as absent. Each disk is created in turn.
 */
export async function restoreVmFromManifests(ports: RestorePorts, manifests: readonly ListedManifest[], vmKey: string, request: VmRestoreRequest): Promise<DirectVmRestore> {
  const ofVm = manifests.filter((m) => m.dataPresent && m.vmGroup && vmKeyOf(m.vmGroup.vmId) === vmKey);
  const vmId = ofVm[0]?.vmGroup?.vmId;
  if (!vmId) throw new PermanentError("VmNotFound", `no RestorePoint in the target account names VM ${vmKey} (only RestorePoints taken after protect-vm do)`);
  const { disks, points, manifestOf } = setOfManifests(ofVm);
  const { group, plan } = planVmRestore({ vmKey, vmId, groups: groupRestorePoints(disks, points) }, request);
  const checked = [];
  for (const member of group.restorePoints) {
    const manifest = manifestOf(member.restorePoint);
    const one = diskRequest(member, request);
    await resolveRestore(ports, one, manifestSource(manifest));
    checked.push({ member, request: one, manifest });
  }
  const restores: (VmSetDisk & { result: RestoreResult })[] = [];
  for (const { member, request: one, manifest } of checked) restores.push({ ...setDiskOf(member), result: await restoreFromManifest(ports, manifest, one) });
  return { ...plan, boot: bootOf(vmId, request, osPropertiesOf(checked)), restores };
}

/** The disks the manifests describe (each with the role its newest manifest gives) and their RestorePoints. */
function setOfManifests(manifests: readonly ListedManifest[]) {
  const newestFirst = [...manifests].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  const disks = new Map<string, VmSetDisk>();
  const points = new Map<string, RestorePoint[]>();
  const byPoint = new Map<string, RestorePointManifest>();
  for (const manifest of newestFirst) {
    const { vmGroup } = manifest;
    if (!vmGroup) continue;
    const { blobEndpoint, container, blobName } = manifest.target;
    if (!disks.has(manifest.diskKey)) {
      disks.set(manifest.diskKey, { diskKey: manifest.diskKey, diskId: manifest.diskId, role: vmGroup.role, ...(vmGroup.lun !== undefined ? { lun: vmGroup.lun } : {}) });
    }
    const point = restorePointOfManifest(manifest, `${blobEndpoint}/${container}/${blobName}`);
    points.set(manifest.diskKey, [...(points.get(manifest.diskKey) ?? []), point]);
    byPoint.set(`${manifest.diskKey}/${manifest.restorePointId}`, manifest);
  }
  const manifestOf = (point: RestorePoint): RestorePointManifest => {
    const manifest = byPoint.get(`${point.diskKey}/${point.restorePointId}`);
    if (!manifest) throw new Error(`RestorePoint ${point.restorePointId} of disk ${point.diskKey} has no manifest in the listing`);
    return manifest;
  };
  return { disks: [...disks.values()], points, manifestOf };
}

/** The group to restore and what the answer says about it; ConflictError NoCompleteGroup when there is none. */
function planVmRestore(listing: { vmKey: string; vmId: string; groups: readonly VmRestorePointGroup[] }, request: VmRestoreRequest): { group: VmRestorePointGroup; plan: Omit<VmRestorePlan, "boot"> } {
  const choice: GroupChoice = chooseGroup(listing.groups, request.at === "latest" ? "latest" : new Date(request.at), request.allowPartial);
  if (!choice.ok) throw new ConflictError("NoCompleteGroup", `virtual machine ${listing.vmId}: ${choice.reason}`);
  const { group } = choice;
  return {
    group,
    plan: {
      vmKey: listing.vmKey,
      vmId: listing.vmId,
      groupTime: group.groupTime,
      passedOver: choice.passedOver.map((g) => ({ groupTime: g.groupTime, missing: missingText(g) })),
      notRestored: group.missing,
    },
  };
}

/** One disk's restore request: the VM request's options, the disk named `<namePrefix><source disk name>`. */
function diskRequest(member: VmSetDisk, request: VmRestoreRequest): RestoreRequest {
  const { at: _at, allowPartial: _partial, namePrefix, ...common } = request;
  const sourceName = member.diskId.split("/").at(-1) ?? member.diskKey;
  const parsed = restoreRequestSchema.safeParse({ ...common, name: `${namePrefix}${sourceName}` });
  if (!parsed.success) throw new PermanentError("InvalidRequest", `the restore of ${sourceName}: ${z.prettifyError(parsed.error).replace(/\n\s*/g, "; ")}`);
  return parsed.data;
}

function setDiskOf(member: VmSetDisk & { restorePoint?: RestorePoint }): VmSetDisk {
  const { diskKey, diskId, role, lun } = member;
  return { diskKey, diskId, role, ...(lun !== undefined ? { lun } : {}) };
}

/** The OS disk's recorded properties, when the group restores an OS disk that has a manifest. */
function osPropertiesOf(checked: readonly { member: VmSetDisk; manifest: RestorePointManifest | undefined }[]): DiskProperties | undefined {
  return checked.find((c) => c.member.role === "os")?.manifest?.disk;
}

function bootOf(vmId: string, request: VmRestoreRequest, os: DiskProperties | undefined): VmBoot {
  const vmName = `${request.namePrefix}${parseVmId(vmId)?.name ?? "vm"}`;
  return {
    vmName,
    ...(os?.osType ? { osType: os.osType } : {}),
    ...(os?.securityType ? { securityType: os.securityType } : {}),
    ...(os?.hyperVGeneration ? { hyperVGeneration: os.hyperVGeneration } : {}),
  };
}
