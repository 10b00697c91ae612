/**
 * The shapes diskdelta keeps and passes around, validated with zod at every boundary: ProtectedDisk configuration,
 * run states and the ids derived from runs and snapshots. Records are in records.ts, queue messages in messages.ts.
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { withoutAbsent } from "./objects";
import type { RetentionPolicy } from "./retention";
import { scheduleProblem } from "./schedule";

const diskIdPattern =
  /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Compute\/disks\/([^/]+)$/i;

/** The parts of a managed disk's ARM resource id. */
export interface DiskRef {
  readonly id: string;
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  readonly name: string;
}

export function parseDiskId(id: string): DiskRef | undefined {
  const match = diskIdPattern.exec(id.trim());
  if (!match) return undefined;
  return { id: id.trim(), subscriptionId: match[1], resourceGroup: match[2], name: match[3] };
}

const vmIdPattern =
  /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Compute\/virtualMachines\/([^/]+)$/i;

/** The parts of a virtual machine's ARM resource id. */
export type VmRef = DiskRef;

export function parseVmId(id: string): VmRef | undefined {
  const match = vmIdPattern.exec(id.trim());
  if (!match) return undefined;
  return { id: id.trim(), subscriptionId: match[1], resourceGroup: match[2], name: match[3] };
}

/** A stable short key for a VM resource id, as `diskKeyOf` for disks: the VM's disk set in URLs. */
export function vmKeyOf(vmId: string): string {
  return diskKeyOf(vmId);
}

export const vmIdSchema = z.string().trim().refine((id) => parseVmId(id) !== undefined, {
  message: "must be a virtual machine resource id: /subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.Compute/virtualMachines/<name>",
});

/** Which disk of a VM's disk set (`protect-vm`) a ProtectedDisk is: the VM, the disk's role and its data disk lun. */
export const vmMemberSchema = z
  .object({
    vmId: vmIdSchema,
    role: z.enum(["os", "data"]),
    lun: z.number().int().min(0).max(63).optional(),
  })
  .strict()
  .refine((member) => (member.role === "data") === (member.lun !== undefined), { message: "a data disk has a lun, the OS disk none" });
export type VmMember = z.output<typeof vmMemberSchema>;

/** True when a URL carries no credential or query: nothing to keep out of tables, answers and logs (not a URL: the URL check says so). */
function credentialFreeEndpoint(text: string): boolean {
  if (!URL.canParse(text)) return true;
  const url = new URL(text);
  return url.username === "" && url.password === "" && url.search === "" && url.hash === "" && !/[?#]/.test(text);
}

/** A stable short key for a disk resource id (ARM ids are case-insensitive), used as table key and in URLs. */
export function diskKeyOf(diskId: string): string {
  return createHash("sha256").update(diskId.trim().toLowerCase()).digest("hex").slice(0, 16);
}

/** How CopySteps write: Put Page From URL (the service reads the SourceSnapshot) or read and Put Page (stream). */
export const copyModes = ["server", "stream"] as const;
export type CopyMode = (typeof copyModes)[number];

const blobNamePattern = /^[^\\?#]{1,1024}$/;
/**
 * The folders beside every TargetBlob that hold its RestorePoints' descriptions and its restores' holds
 * (`<blobName>.manifests/`, `.checksums/`, `.restores/`, `.gueststate/`): another TargetBlob inside one would be read
 * as one of them (and its own would land inside another's).
 */
export const sidecarFolders = ["manifests", "checksums", "restores", "gueststate"] as const;
const insideSidecarFolder = new RegExp(`\\.(${sidecarFolders.join("|")})/`);
const containerPattern = /^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;

/** Defined once so that an update is checked like a new ProtectedDisk (a refinement does not survive removeDefault). */
export const scheduleSchema = z.string().superRefine((value, ctx) => {
  const problem = scheduleProblem(value);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

/**
 * A RetentionPolicy: `keepLast` and/or `maxAgeDays`, or `keepAll: true` — never none of them, so that keeping
 * every RestorePoint is a choice someone wrote down rather than an empty object (`{}` is refused, naming the field).
 */
export const retentionSchema = z
  .object({
    keepAll: z.literal(true, "keepAll can only be true; to remove RestorePoints give keepLast and/or maxAgeDays instead").optional(),
    keepLast: z.number().int().min(1).max(10_000).optional(),
    maxAgeDays: z.number().positive().max(36_500).optional(),
  })
  .strict()
  .superRefine((value, ctx) => {
    const rules = value.keepLast !== undefined || value.maxAgeDays !== undefined;
    if (value.keepAll && rules) ctx.addIssue({ code: "custom", message: "keepAll: true excludes keepLast and maxAgeDays: give one or the other" });
    if (!value.keepAll && !rules) ctx.addIssue({ code: "custom", message: "no rule given: give keepLast and/or maxAgeDays, or keepAll: true to keep every RestorePoint" });
  })
  .transform((value): RetentionPolicy => (value.keepAll ? { keepAll: true } : withoutAbsent({ keepLast: value.keepLast, maxAgeDays: value.maxAgeDays })));

/**
 * A DR drill on its own schedule: the newest RestorePoint restored into `resourceGroup` (in `location`, the target
 * region), read back through the new disk's own read SAS and compared, then the disk deleted. Off when absent.
 */
export const drillConfigSchema = z
  .object({
    schedule: scheduleSchema,
    resourceGroup: z.string().regex(/^[-\w._()]{1,90}$/, "must be a resource group name"),
    location: z.string().min(1),
  })
  .strict();
export type DrillConfig = z.output<typeof drillConfigSchema>;

/**
 * How a ProtectedDisk's SourceSnapshots reach the target region: `diff` — diskdelta copies the changed ranges into
 * the TargetBlob (its own compute, a storage account as the target); `managed` — Azure's managed copy (`CopyStart`)
 * makes an incremental snapshot in the target region (`managedTarget`), which is the RestorePoint.
 */
export const replicationModes = ["diff", "managed"] as const;
export type Replication = (typeof replicationModes)[number];

const resourceGroupName = z.string().regex(/^[-\w._()]{1,90}$/, "must be a resource group name");

/** Where a `managed` disk's copies go: a resource group in the target region, of the disk's subscription. */
export const managedTargetSchema = z
  .object({
    resourceGroup: resourceGroupName,
    /** The target region (ARM location, e.g. `westus2`): must differ from the disk's region. */
    location: z.string().trim().min(1, "must be an Azure region, e.g. westus2"),
  })
  .strict();
export type ManagedTarget = z.output<typeof managedTargetSchema>;

/** What a user sets when protecting a disk (HTTP body, CLI); defaults filled in. */
export const protectedDiskInputSchema = z
  .object({
    diskId: z
      .string()
      .trim()
      .refine((id) => parseDiskId(id) !== undefined, {
        message: "must be a managed disk resource id: /subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.Compute/disks/<name>",
      })
      .refine((id) => !/[?#%\s]/.test(id), { message: "must be the resource id alone: no ?query, #fragment, %-escapes or spaces (Azure resource names have none)" }),
    target: z
      .object({
        blobEndpoint: z
          .url({ protocol: /^https$/, message: "must be the https blob endpoint of the target storage account" })
          .refine((url) => credentialFreeEndpoint(url), {
            message: "must be the blob endpoint alone, without a SAS or other query, user:password@ or #fragment: diskdelta authenticates with its own identity, and what the endpoint carries is stored and shown",
          })
          .transform((url) => url.replace(/\/+$/, "")),
        container: z.string().regex(containerPattern, "must be a valid container name (3-63 chars, a-z 0-9 -)").default("diskdelta"),
        blobName: z
          .string()
          .regex(blobNamePattern, "must be a valid blob name")
          .refine((name) => !insideSidecarFolder.test(name), {
            message: `must not lie in the folders diskdelta keeps beside a TargetBlob (a path segment ending in ${sidecarFolders.map((f) => `.${f}`).join(", ")})`,
          })
          .optional(),
        /** ARM id of the target storage account, used by restores (Disk Import needs it). */
        storageAccountId: z
          .string()
          .regex(/^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Storage\/storageAccounts\/[^/]+$/i, "must be a storage account resource id")
          .optional(),
      })
      .strict(),
    schedule: scheduleSchema.default("every 4h"),
    snapshotMode: z.enum(["create", "existing"]).default("create"),
    retention: retentionSchema.default({ keepLast: 14 }),
    copyMode: z.enum(copyModes).default("server"),
    /** `diff` (default) or `managed` (Azure's CopyStart into `managedTarget`); see replicationModes. */
    replication: z.enum(replicationModes).default("diff"),
    managedTarget: managedTargetSchema.optional(),
    enabled: z.boolean().default(true),
    /** The RPO alert threshold: a disk whose newest RestorePoint is older than this is reported late. */
    rpoAlertMinutes: z.number().int().positive().optional(),
    /**
     * Verify each new RestorePoint against its SourceSnapshot right after the backup and keep its checksums beside
     * the TargetBlob, so that it can be verified later when the snapshot is gone. Reads all allocated data twice.
     */
    verifyAfterBackup: z.boolean().default(false),
    /** DR drills of this disk (see drillConfigSchema); none when absent. */
    drill: drillConfigSchema.optional(),
    /** Set by `protect-vm`: the disk is one of a VM's disk set, backed up with the others at the same scheduled times. */
    vmGroup: vmMemberSchema.optional(),
  })
  .strict();

/** Why a drill configuration cannot be used with this target, or undefined: a drill restores, and restores need the storage account. */
export function drillStorageProblem(input: { drill?: DrillConfig | null; target: { storageAccountId?: string } }): string | undefined {
  if (!input.drill || input.target.storageAccountId) return undefined;
  return "target.storageAccountId: required with a drill configuration (a drill restores the RestorePoint, and Disk Import needs the target storage account's resource id)";
}

/** Refines a protect request: a drill configuration needs `target.storageAccountId` (stored rows are not refined). */
export function refineDrillStorage(input: { drill?: DrillConfig; target: { storageAccountId?: string } }, ctx: z.RefinementCtx): void {
  const problem = drillStorageProblem(input);
  if (problem) ctx.addIssue({ code: "custom", path: ["target", "storageAccountId"], message: problem.replace(/^target\.storageAccountId: /, "") });
}

/**
 * What POST /api/disks takes: a ProtectedDisk input whose drill can restore, and `adopt`: the caller's choice to take
 * the disk's kept RestorePoints and its old TargetBlob under the new protection (see protectDisk). `adopt` is a
 * choice made once, not part of the configuration: it is never stored.
 */
export const protectRequestSchema = protectedDiskInputSchema.extend({ adopt: z.boolean().optional() }).superRefine(refineDrillStorage);

export type ProtectedDiskInput = z.input<typeof protectedDiskInputSchema>;
/** A parsed ProtectedDisk input, defaults filled. */
export type ProtectedDiskParsed = z.output<typeof protectedDiskInputSchema>;

/** A ProtectedDisk's configuration, as stored and used. */
export type ProtectedDiskConfig = z.output<typeof protectedDiskInputSchema> & {
  readonly diskKey: string;
  readonly target: { blobEndpoint: string; container: string; blobName: string; storageAccountId?: string };
};

/**
 * What is wrong with a configuration's replication, each naming its field: `managed` needs a `managedTarget`. (Not a
 * schema refinement: the VM set's schema is derived from the disk's by omit, which refinements do not survive.)
 */
export function replicationProblems(config: Pick<ProtectedDiskParsed, "replication" | "managedTarget">): string[] {
  if (config.replication === "managed" && !config.managedTarget) {
    return ["managedTarget: required when replication is managed: { resourceGroup, location } of the target region the copies go to"];
  }
  return [];
}

/** The disk a ProtectedDisk protects; its id was checked when the configuration was parsed, so a bad one is a bug. */
export function diskRefOf(config: Pick<ProtectedDiskConfig, "diskId" | "diskKey">): DiskRef {
  const ref = parseDiskId(config.diskId);
  if (!ref) throw new Error(`ProtectedDisk ${config.diskKey} has an invalid diskId: ${config.diskId}`);
  return ref;
}

/** Fills the defaults that depend on the disk: the TargetBlob name. */
export function toProtectedDisk(input: z.output<typeof protectedDiskInputSchema>): ProtectedDiskConfig {
  const diskKey = diskKeyOf(input.diskId);
  const ref = diskRefOf({ diskId: input.diskId, diskKey });
  const blobName = input.target.blobName ?? `${ref.name}-${diskKey}.vhd`;
  return { ...input, diskKey, target: { ...input.target, blobName } };
}

/** Partial update of a ProtectedDisk (everything but the disk id). */
export const protectedDiskUpdateSchema = z
  .object({
    schedule: scheduleSchema.optional(),
    snapshotMode: z.enum(["create", "existing"]).optional(),
    retention: retentionSchema.optional(),
    copyMode: z.enum(copyModes).optional(),
    replication: z.enum(replicationModes).optional(),
    managedTarget: managedTargetSchema.optional(),
    enabled: z.boolean().optional(),
    rpoAlertMinutes: z.number().int().positive().optional(),
    verifyAfterBackup: z.boolean().optional(),
    /** A drill configuration, or null to switch drills off. */
    drill: drillConfigSchema.nullable().optional(),
  })
  .strict();

export type ProtectedDiskUpdate = z.output<typeof protectedDiskUpdateSchema>;

export const backupRunStates = ["queued", "preparing", "copying", "replicating", "finalizing", "succeeded", "failed"] as const;
export type BackupRunState = (typeof backupRunStates)[number];

export function isActive(state: BackupRunState): boolean {
  return state !== "succeeded" && state !== "failed";
}

/** Why a BackupRun copies every allocated page instead of the diff. */
export const fullCopyReasons = ["first-run", "base-missing", "disk-recreated", "crossed-4tib", "target-missing", "target-not-at-base", "target-changed", "target-unproven"] as const;
export type FullCopyReason = (typeof fullCopyReasons)[number];


/** A new BackupRun id: sorts newest first in Table Storage and is unique without coordination. */
export function newRunId(now: Date, random: string): string {
  return `${String(9_999_999_999_999 - now.getTime()).padStart(13, "0")}-${random}`;
}

/**
 * The TargetBlob lease id of a BackupRun: derived from the run id (a lease id must be a GUID), so a redelivered
 * step of the same run holds the same lease and a step of any other run does not.
 */
export function leaseIdOf(runId: string): string {
  const hex = createHash("sha256").update(`diskdelta-lease:${runId}`).digest("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** A RestorePoint id derived from its SourceSnapshot: one RestorePoint per snapshot, newest first. */
export function restorePointIdOf(snapshotId: string, timeCreated: Date): string {
  const inverted = String(9_999_999_999_999 - timeCreated.getTime()).padStart(13, "0");
  return `${inverted}-${createHash("sha256").update(snapshotId.toLowerCase()).digest("hex").slice(0, 12)}`;
}
