/**
 * The CLI's command line: one spec per command (positionals, options, help), parsed with `node:util` parseArgs
 * into a typed command. Pure: no I/O, so every accepted and refused command line is unit-tested.
 * Values the API validates (schedules, names, ranges) are passed through; the API's answer names what is wrong.
 */
import { parseArgs } from "node:util";
import type { z } from "zod";
import { type ProtectedDiskInput, type protectedDiskUpdateSchema, parseVmId, vmKeyOf } from "../domain/model";
import { withoutAbsent } from "../domain/objects";
import type { restoreRequestSchema } from "../engine/restore";
import type { vmRestoreRequestSchema } from "../engine/vm-restore";
import type { ProtectVmInput } from "../engine/vm-sets";

/** A command line that cannot be run as given; the message says what to change. Exit code 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    /** The command whose usage to show with the error, if known. */
    readonly command?: string,
    /** Every problem, one per line, when there is more than one (the message then counts them). */
    readonly details: readonly string[] = [],
  ) {
    super(message);
    this.name = "UsageError";
  }
}

/** Body of POST /api/disks: what `protectedDiskInputSchema` accepts, and `adopt` (`--adopt`). */
export type ProtectBody = ProtectedDiskInput & { adopt?: boolean };

/** Body of PATCH /api/disks/{diskKey}: what `protectedDiskUpdateSchema` accepts. */
export type UpdateBody = z.input<typeof protectedDiskUpdateSchema>;

/** Body of POST …/restore-points/{restorePointId}/restore: what `restoreRequestSchema` accepts. */
export type RestoreBody = z.input<typeof restoreRequestSchema>;

/** Body of POST /api/vms: what `protectVmInputSchema` accepts. */
export type ProtectVmBody = ProtectVmInput;

/** Body of POST /api/vms/{vmKey}/restore: what `vmRestoreRequestSchema` accepts. */
export type VmRestoreBody = z.input<typeof vmRestoreRequestSchema>;

/** How `sync --wait` polls the BackupRun. */
export interface WaitOptions {
  readonly intervalMs: number;
  readonly timeoutMs: number;
}

/**
 * Direct mode: the target storage account alone, with the operator's own credentials, when the app cannot answer
 * (the source region is down). `localStack` is a local stack file whose credentials replace the operator's.
 */
export interface DirectTarget {
  readonly blobEndpoint: string;
  readonly container?: string;
  readonly localStack?: string;
}

/** What the operator asked for. */
export type CliCommand =
  | { readonly name: "help"; readonly topic?: string }
  | { readonly name: "protect"; readonly body: ProtectBody }
  | { readonly name: "unprotect"; readonly diskKey: string }
  | { readonly name: "list" }
  | { readonly name: "update"; readonly diskKey: string; readonly body: UpdateBody }
  | { readonly name: "sync"; readonly diskKey: string; readonly wait?: WaitOptions }
  | { readonly name: "status"; readonly diskKey: string }
  | { readonly name: "runs"; readonly diskKey: string; readonly limit?: number }
  | { readonly name: "restores"; readonly diskKey: string; readonly limit?: number }
  | { readonly name: "drill"; readonly diskKey: string; readonly wait?: WaitOptions }
  | { readonly name: "drills"; readonly diskKey: string; readonly limit?: number }
  | { readonly name: "restore-points"; readonly diskKey: string }
  | { readonly name: "restore"; readonly diskKey: string; readonly restorePointId: string; readonly body: RestoreBody; readonly wait?: WaitOptions }
  | { readonly name: "verify"; readonly diskKey: string; readonly restorePointId: string }
  | { readonly name: "protect-vm"; readonly body: ProtectVmBody }
  | { readonly name: "sync-vm"; readonly vmKey: string }
  | { readonly name: "drill-vm"; readonly vmKey: string; readonly wait?: WaitOptions }
  | { readonly name: "drills-vm"; readonly vmKey: string; readonly limit?: number }
  | { readonly name: "vm-restore-points"; readonly vmKey: string }
  | { readonly name: "restore-vm"; readonly vmKey: string; readonly body: VmRestoreBody; readonly wait?: WaitOptions }
  | { readonly name: "catalog rebuild"; readonly body: { readonly blobEndpoint: string; readonly container?: string } }
  /** `restore-points --target-account`: from the manifests in the target account; `disk` is a diskKey or disk id. */
  | { readonly name: "direct restore-points"; readonly target: DirectTarget; readonly disk?: string }
  /** `restore-vm --target-account`: a VM's disk set from the manifests in the target account. */
  | { readonly name: "direct restore-vm"; readonly target: DirectTarget; readonly armEndpoint?: string; readonly vmKey: string; readonly body: VmRestoreBody }
  | {
      readonly name: "direct restore";
      readonly target: DirectTarget;
      readonly armEndpoint?: string;
      readonly diskKey: string;
      readonly restorePointId: string;
      readonly body: RestoreBody;
    };

/** Commands that read the target account themselves instead of calling the API. */
export type DirectCommand = Extract<CliCommand, { name: "direct restore-points" | "direct restore" | "direct restore-vm" }>;

/** A parsed command line: the command and the options every command takes. */
export interface Invocation {
  readonly command: CliCommand;
  readonly json: boolean;
  readonly api?: string;
  readonly key?: string;
}

interface OptionSpec {
  readonly type: "string" | "boolean";
  /** Placeholder shown in help for a string option. */
  readonly value?: string;
  readonly help: string;
  /** What the API uses when the option is not given, shown in help (only where it applies: protect, not update). */
  readonly default?: string;
}

type Values = Record<string, string | boolean | undefined>;

interface CommandSpec {
  readonly args: readonly string[];
  /** The arguments when they depend on the options (direct mode); `args` is what help shows. */
  argsWith?(values: Values): readonly string[];
  readonly summary: string;
  readonly options: Readonly<Record<string, OptionSpec>>;
  build(positionals: readonly string[], values: Values): CliCommand;
}

const globalOptions: Readonly<Record<string, OptionSpec & { short?: string }>> = {
  api: { type: "string", value: "url", help: "API base URL, e.g. https://<app>.azurewebsites.net/api (env DISKDELTA_API_URL)" },
  key: { type: "string", value: "key", help: "function key, sent as x-functions-key (env DISKDELTA_FUNCTION_KEY)" },
  json: { type: "boolean", help: "print the API's JSON answer instead of tables" },
  help: { type: "boolean", short: "h", help: "show help" },
};

/** Options that describe how a disk is protected, shared by `protect` and `update`. */
const settingOptions: Readonly<Record<string, OptionSpec>> = {
  schedule: { type: "string", value: "schedule", help: '"every 30m|4h|1d" or 6-field NCRONTAB "0 30 2 * * *"', default: "every 4h" },
  mode: {
    type: "string",
    value: "create|existing",
    help: "create: snapshot the disk each run; existing: replicate every incremental snapshot someone else takes, oldest first",
    default: "create",
  },
  "copy-mode": { type: "string", value: "server|stream", help: "Put Page From URL, or read and write through the app", default: "server" },
  replication: {
    type: "string",
    value: "diff|managed",
    help: "diff: diskdelta copies the changed ranges into the TargetBlob; managed: Azure's CopyStart into --managed-resource-group in --managed-location",
    default: "diff",
  },
  "managed-resource-group": { type: "string", value: "name", help: "replication managed: resource group of the target-region snapshots (with --managed-location)" },
  "managed-location": { type: "string", value: "region", help: "replication managed: the target region, not the disk's own" },
  "keep-last": { type: "string", value: "n", help: "RetentionPolicy: keep the newest n RestorePoints (1-10000)", default: "keep last 14" },
  "max-age-days": { type: "string", value: "days", help: "RetentionPolicy: remove RestorePoints older than this (> 0, at most 36500)" },
  "keep-all": { type: "boolean", help: "RetentionPolicy: keep every RestorePoint (instead of --keep-last / --max-age-days)" },
  "rpo-alert-minutes": { type: "string", value: "n", help: "report the disk late when its newest RestorePoint is older" },
  "verify-after-backup": { type: "boolean", help: "verify each new RestorePoint and record its checksums (reads the data twice)" },
  "no-verify-after-backup": { type: "boolean", help: "stop verifying new RestorePoints after backup", default: "not verified" },
  "drill-schedule": { type: "string", value: "schedule", help: "DR drills on this schedule (with --drill-resource-group and --drill-location)" },
  "drill-resource-group": { type: "string", value: "name", help: "resource group the drill disks are restored into (and deleted from)" },
  "drill-location": { type: "string", value: "region", help: "region of the drill disks: the target storage account's" },
};

/** `--adopt`: protecting a disk again takes its kept RestorePoints (see protectDisk). */
const adoptOption = {
  type: "boolean",
  help: "protecting a disk again: take its kept RestorePoints and old TargetBlob under this protection (its RetentionPolicy then applies to them); without it, give a new --blob-name",
} as const;

const targetOptions: Readonly<Record<string, OptionSpec>> = {
  "target-endpoint": { type: "string", value: "url", help: "https blob endpoint of the target storage account (required)" },
  container: { type: "string", value: "name", help: "container of the TargetBlob (default diskdelta)" },
  "blob-name": { type: "string", value: "name", help: "name of the TargetBlob (default <disk>-<diskKey>.vhd)" },
  "storage-account-id": { type: "string", value: "id", help: "ARM id of the target storage account (needed to restore)" },
};

/** Options of direct mode, shared by `restore-points` and `restore`. */
const directOptions: Readonly<Record<string, OptionSpec>> = {
  "target-account": {
    type: "string",
    value: "url",
    help: "direct mode: read the target account's blob endpoint itself, without the app (source region down), with your own Azure credentials",
  },
  container: { type: "string", value: "name", help: "direct mode: only this container of the target account (default: every container)" },
  "local-stack": { type: "string", value: "file", help: "direct mode: use a local stack's endpoints and credentials (env DISKDELTA_LOCAL_STACK_FILE)" },
};

/** Options of the commands that restore: following the API's tracked restores, or direct mode. */
const restoreModeOptions: Readonly<Record<string, OptionSpec>> = {
  "no-wait": { type: "boolean", help: "API mode: return once the restore is accepted instead of following it" },
  interval: { type: "string", value: "seconds", help: "API mode: seconds between polls while waiting (default 5)" },
  timeout: { type: "string", value: "seconds", help: "API mode: give up waiting after this long (default 3600)" },
  ...directOptions,
  "arm-endpoint": { type: "string", value: "url", help: "direct mode: the ARM endpoint (env DISKDELTA_ARM_ENDPOINT, default https://management.azure.com)" },
};

/** How a restore command runs: from the target account itself, or through the API, followed unless --no-wait. */
function restoreMode(values: Values, command: string): { target: DirectTarget; armEndpoint?: string } | { wait: WaitOptions | undefined } {
  const target = directTarget(values, command, ["arm-endpoint"]);
  const waitGiven = values["no-wait"] !== undefined || values.interval !== undefined || values.timeout !== undefined;
  if (target && waitGiven) throw new UsageError("--no-wait, --interval and --timeout apply to the API's tracked restores, not to --target-account", command);
  if (target) return { target, ...withoutAbsent({ armEndpoint: str(values["arm-endpoint"]) }) };
  if (values["no-wait"] && (values.interval !== undefined || values.timeout !== undefined)) throw new UsageError("--interval and --timeout do not apply with --no-wait", command);
  if (values["no-wait"]) return { wait: undefined };
  return { wait: { intervalMs: 1000 * (positiveNumber(values, "interval") ?? 5), timeoutMs: 1000 * (positiveNumber(values, "timeout") ?? 3600) } };
}

/** The target account of a direct-mode command, or undefined in API mode (then no direct-mode option may be given). */
function directTarget(values: Values, command: string, only: readonly string[]): DirectTarget | undefined {
  const account = str(values["target-account"]);
  if (account === undefined) {
    const given = [...Object.keys(directOptions), ...only].filter((option) => option !== "target-account" && values[option] !== undefined);
    if (given.length) throw new UsageError(`${given.map((option) => `--${option}`).join(", ")} only ${given.length === 1 ? "applies" : "apply"} with --target-account`, command);
    return undefined;
  }
  if (values.api !== undefined || values.key !== undefined) throw new UsageError("--target-account reads the target account directly: it takes no --api or --key", command);
  return { blobEndpoint: blobEndpointOf(account, command), ...withoutAbsent({ container: str(values.container), localStack: str(values["local-stack"]) }) };
}

/** An https blob endpoint without credentials: a SAS or key in it would be printed, and direct mode uses your identity. */
function blobEndpointOf(text: string, command: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`--target-account "${text}" is not a URL; expected e.g. https://<account>.blob.core.windows.net`, command);
  }
  if (url.protocol !== "https:") throw new UsageError(`--target-account must be an https blob endpoint, not ${url.protocol}`, command);
  if (url.username || url.password || url.search || url.hash) {
    throw new UsageError("--target-account must not carry a SAS, credentials or a fragment: direct mode signs in with your own Azure credentials", command);
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
}

/** The options of `drill` and `drill-vm` that say how to follow the drill. */
const drillWaitOptions = {
  "no-wait": { type: "boolean", help: "return once the drill is accepted instead of following it" },
  interval: { type: "string", value: "seconds", help: "seconds between polls while waiting (default 5)" },
  timeout: { type: "string", value: "seconds", help: "give up waiting after this long (default 3600)" },
} as const;

const commands: Readonly<Record<string, CommandSpec>> = {
  protect: {
    args: ["diskId"],
    summary: "protect a managed disk: back it up on a schedule to the target storage account",
    options: {
      ...targetOptions,
      ...settingOptions,
      adopt: adoptOption,
    },
    build: ([diskId], values) => {
      const blobEndpoint = requiredString(values, "target-endpoint");
      const target = {
        blobEndpoint,
        ...withoutAbsent({ container: str(values.container), blobName: str(values["blob-name"]), storageAccountId: str(values["storage-account-id"]) }),
      };
      const adopt = values.adopt === true ? { adopt: true } : {};
      return { name: "protect", body: { diskId, target, ...diskSettings(values), ...withoutAbsent({ drill: drillSetting(values, "protect") }), ...adopt } };
    },
  },
  unprotect: {
    args: ["diskKey"],
    summary: "stop protecting a disk; its RestorePoints and TargetBlob are kept",
    options: {},
    build: ([diskKey]) => ({ name: "unprotect", diskKey }),
  },
  list: {
    args: [],
    summary: "list protected disks with their last run, newest RestorePoint and RPO",
    options: {},
    build: () => ({ name: "list" }),
  },
  update: {
    args: ["diskKey"],
    summary: "change how a disk is protected (--keep-last/--max-age-days replace the RetentionPolicy)",
    options: {
      ...withoutDefaults(settingOptions),
      enable: { type: "boolean", help: "resume scheduled BackupRuns" },
      "no-drill": { type: "boolean", help: "switch DR drills off" },
      disable: { type: "boolean", help: "pause scheduled BackupRuns" },
    },
    build: ([diskKey], values) => {
      if (values.enable && values.disable) throw new UsageError("--enable and --disable exclude each other", "update");
      if (values["no-drill"] && drillSetting(values, "update")) throw new UsageError("--no-drill and the --drill-* options exclude each other", "update");
      const drill = values["no-drill"] ? null : drillSetting(values, "update");
      const body: UpdateBody = {
        ...diskSettings(values),
        ...withoutAbsent({ enabled: values.enable ? true : values.disable ? false : undefined }),
        ...(drill !== undefined ? { drill } : {}),
      };
      if (Object.keys(body).length === 0 && !hasProblems(values)) throw new UsageError("nothing to update: give at least one option", "update");
      return { name: "update", diskKey, body };
    },
  },
  sync: {
    args: ["diskKey"],
    summary: "start a BackupRun now; with --wait, follow it until it ends",
    options: {
      wait: { type: "boolean", help: "poll the run until it succeeds or fails" },
      interval: { type: "string", value: "seconds", help: "with --wait: seconds between polls (default 5)" },
      timeout: { type: "string", value: "seconds", help: "with --wait: give up waiting after this long (default 3600)" },
    },
    build: ([diskKey], values) => {
      if (!values.wait && (values.interval !== undefined || values.timeout !== undefined)) {
        throw new UsageError("--interval and --timeout only apply with --wait", "sync");
      }
      if (!values.wait) return { name: "sync", diskKey };
      const intervalMs = 1000 * (positiveNumber(values, "interval") ?? 5);
      const timeoutMs = 1000 * (positiveNumber(values, "timeout") ?? 3600);
      return { name: "sync", diskKey, wait: { intervalMs, timeoutMs } };
    },
  },
  status: {
    args: ["diskKey"],
    summary: "show a disk's configuration, active run, newest RestorePoint and RPO",
    options: {},
    build: ([diskKey]) => ({ name: "status", diskKey }),
  },
  runs: {
    args: ["diskKey"],
    summary: "list a disk's newest BackupRuns",
    options: { limit: { type: "string", value: "n", help: "how many runs (1-500, default 20)" } },
    build: ([diskKey], values) => ({ name: "runs", diskKey, ...withoutAbsent({ limit: positiveInteger(values, "limit") }) }),
  },
  restores: {
    args: ["diskKey"],
    summary: "list a disk's tracked restores: who asked, which RestorePoint, which new disk, where each stands",
    options: { limit: { type: "string", value: "n", help: "how many restores (1-500, default 20)" } },
    build: ([diskKey], values) => ({ name: "restores", diskKey, ...withoutAbsent({ limit: positiveInteger(values, "limit") }) }),
  },
  drill: {
    args: ["diskKey"],
    summary: "run a DR drill now: restore the newest RestorePoint, compare it, record the RTO, delete the drill disk",
    options: drillWaitOptions,
    build: ([diskKey], values) => ({ name: "drill", diskKey, ...withoutAbsent({ wait: drillWait(values, "drill") }) }),
  },
  drills: {
    args: ["diskKey"],
    summary: "list a disk's DR drills, newest first, with their results and RTOs",
    options: { limit: { type: "string", value: "n", help: "how many drills (1-500, default 20)" } },
    build: ([diskKey], values) => ({ name: "drills", diskKey, ...withoutAbsent({ limit: positiveInteger(values, "limit") }) }),
  },
  "restore-points": {
    args: ["diskKey"],
    argsWith: (values) => (values["target-account"] === undefined ? ["diskKey"] : []),
    summary: "list a disk's RestorePoints, newest first (--target-account: from the target account alone)",
    options: { ...directOptions, disk: { type: "string", value: "diskKey|diskId", help: "direct mode: only this disk's RestorePoints" } },
    build: ([diskKey], values) => {
      const target = directTarget(values, "restore-points", ["disk"]);
      if (!target) return { name: "restore-points", diskKey };
      return { name: "direct restore-points", target, ...withoutAbsent({ disk: str(values.disk) }) };
    },
  },
  restore: {
    args: ["diskKey", "restorePointId"],
    summary: "create a managed disk in the target region from a RestorePoint",
    options: {
      name: { type: "string", value: "diskName", help: "name of the new managed disk (required)" },
      "resource-group": { type: "string", value: "rg", help: "resource group of the new disk (required)" },
      location: { type: "string", value: "region", help: "region of the new disk: the target storage account's region (required)" },
      sku: { type: "string", value: "sku", help: "Standard_LRS, Premium_LRS, StandardSSD_LRS, …" },
      "size-gb": { type: "string", value: "n", help: "size of the new disk in GiB (at least the source's)" },
      "storage-account-id": { type: "string", value: "id", help: "target storage account id, if not recorded with the disk" },
      subscription: { type: "string", value: "id", help: "subscription of the new disk (default: the source disk's)" },
      "os-type": { type: "string", value: "Windows|Linux", help: "override the recorded OS type" },
      "hyper-v-generation": { type: "string", value: "V1|V2", help: "override the recorded Hyper-V generation" },
      zone: { type: "string", value: "n", help: "availability zone of the new disk (the source's zone is not carried over)" },
      ...restoreModeOptions,
    },
    build: ([diskKey, restorePointId], values) => {
      const body: RestoreBody = {
        name: requiredString(values, "name"),
        resourceGroup: requiredString(values, "resource-group"),
        location: requiredString(values, "location"),
        sku: unchecked(values.sku),
        diskSizeGB: positiveInteger(values, "size-gb"),
        storageAccountId: str(values["storage-account-id"]),
        subscriptionId: str(values.subscription),
        osType: unchecked(values["os-type"]),
        hyperVGeneration: unchecked(values["hyper-v-generation"]),
        zone: str(values.zone),
      };
      const mode = restoreMode(values, "restore");
      if ("wait" in mode) return { name: "restore", diskKey, restorePointId, body: withoutAbsent(body), ...withoutAbsent({ wait: mode.wait }) };
      return { name: "direct restore", ...mode, diskKey, restorePointId, body: withoutAbsent(body) };
    },
  },
  verify: {
    args: ["diskKey", "restorePointId"],
    summary: "compare a RestorePoint with its source snapshot, byte for byte",
    options: {},
    build: ([diskKey, restorePointId]) => ({ name: "verify", diskKey, restorePointId }),
  },
  "protect-vm": {
    args: ["vmId"],
    summary: "protect every disk attached to a VM (OS and data disks) under one schedule",
    options: {
      ...withoutBlobName(targetOptions),
      ...settingOptions,
      adopt: { ...adoptOption, help: "disks of the VM protected before: take their kept RestorePoints and old TargetBlobs under this protection (its RetentionPolicy then applies to them)" },
    },
    build: ([vmId], values) => {
      if (!parseVmId(vmId)) throw new UsageError(`"${vmId}" is not a VM resource id: /subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.Compute/virtualMachines/<name>`, "protect-vm");
      const blobEndpoint = requiredString(values, "target-endpoint");
      const target = { blobEndpoint, ...withoutAbsent({ container: str(values.container), storageAccountId: str(values["storage-account-id"]) }) };
      const adopt = values.adopt === true ? { adopt: true } : {};
      return { name: "protect-vm", body: { vmId, target, ...diskSettings(values), ...withoutAbsent({ drill: drillSetting(values, "protect-vm") }), ...adopt } };
    },
  },
  "sync-vm": {
    args: ["vm"],
    summary: "start a BackupRun of every disk of a VM's set now, as one RestorePoint group (vm: VM id or vmKey)",
    options: {},
    build: ([vm]) => ({ name: "sync-vm", vmKey: vmKeyArg(vm, "sync-vm") }),
  },
  "drill-vm": {
    args: ["vm"],
    summary: "run a DR drill of a VM's set now: every disk of its newest complete group restored and compared, one result, the slowest disk's RTO",
    options: drillWaitOptions,
    build: ([vm], values) => ({ name: "drill-vm", vmKey: vmKeyArg(vm, "drill-vm"), ...withoutAbsent({ wait: drillWait(values, "drill-vm") }) }),
  },
  "drills-vm": {
    args: ["vm"],
    summary: "list a VM set's DR drills, newest first, with their results and RTOs (vm: VM id or vmKey)",
    options: { limit: { type: "string", value: "n", help: "how many drills (1-500, default 20)" } },
    build: ([vm], values) => ({ name: "drills-vm", vmKey: vmKeyArg(vm, "drills-vm"), ...withoutAbsent({ limit: positiveInteger(values, "limit") }) }),
  },
  "vm-restore-points": {
    args: ["vm"],
    summary: "list a VM's RestorePoint groups, newest first, with each disk's RestorePoint (vm: VM id or vmKey)",
    options: {},
    build: ([vm]) => ({ name: "vm-restore-points", vmKey: vmKeyArg(vm, "vm-restore-points") }),
  },
  "restore-vm": {
    args: ["vm"],
    summary: "restore every disk of a VM's set as of one group, then print the az command that creates the VM",
    options: {
      at: { type: "string", value: 'time|"latest"', help: "the newest group at or before this ISO time, or the newest group (required)" },
      "resource-group": { type: "string", value: "rg", help: "resource group of the new disks (required)" },
      location: { type: "string", value: "region", help: "region of the new disks: the target storage account's region (required)" },
      "name-prefix": { type: "string", value: "prefix", help: "each new disk is named <prefix><source disk name> (default restored-)" },
      "allow-partial": { type: "boolean", help: "restore a group even if some disk has no RestorePoint in it (that disk is left out)" },
      sku: { type: "string", value: "sku", help: "Standard_LRS, Premium_LRS, StandardSSD_LRS, … (default: each source disk's)" },
      "storage-account-id": { type: "string", value: "id", help: "target storage account id, if not recorded with the disks" },
      subscription: { type: "string", value: "id", help: "subscription of the new disks (default: the source disks')" },
      zone: { type: "string", value: "n", help: "availability zone of the new disks" },
      ...restoreModeOptions,
    },
    build: ([vm], values) => {
      const at = requiredString(values, "at");
      if (at !== "" && at !== "latest" && !/^\d{4}-\d{2}-\d{2}T/.test(at)) throw new UsageError(`--at must be an ISO time (e.g. 2026-01-15T10:00:00Z) or "latest", not "${at}"`, "restore-vm");
      const body: VmRestoreBody = withoutAbsent({
        at,
        allowPartial: values["allow-partial"] === true ? true : undefined,
        namePrefix: str(values["name-prefix"]),
        resourceGroup: requiredString(values, "resource-group"),
        location: requiredString(values, "location"),
        sku: unchecked<NonNullable<VmRestoreBody["sku"]>>(values.sku),
        storageAccountId: str(values["storage-account-id"]),
        subscriptionId: str(values.subscription),
        zone: str(values.zone),
      });
      const mode = restoreMode(values, "restore-vm");
      const vmKey = vmKeyArg(vm, "restore-vm");
      if ("wait" in mode) return { name: "restore-vm", vmKey, body, ...withoutAbsent({ wait: mode.wait }) };
      return { name: "direct restore-vm", ...mode, vmKey, body };
    },
  },
  "catalog rebuild": {
    args: [],
    summary: "record the RestorePoints a target account describes that the app has no record of",
    options: {
      "target-account": { type: "string", value: "url", help: "blob endpoint of the target storage account (required)" },
      container: { type: "string", value: "name", help: "only this container (default: every container of the account)" },
    },
    build: (_, values) => {
      const blobEndpoint = blobEndpointOf(requiredString(values, "target-account"), "catalog rebuild");
      return { name: "catalog rebuild", body: { blobEndpoint, ...withoutAbsent({ container: str(values.container) }) } };
    },
  },
};

/** The command names, in the order help lists them. */
export const commandNames = Object.keys(commands);

/**
 * Parses the arguments after `diskdelta`; throws UsageError for anything that cannot be run, listing every problem
 * it found (as the API lists every problem of a body). Global options may come before the command too.
 */
export function parseCommandLine(argv: readonly string[]): Invocation {
  const { leading, rest: fromCommand } = leadingGlobalOptions(argv);
  if (fromCommand.length === 0 && leading.length > 0) {
    if (leading.includes("--help") || leading.includes("-h")) return { command: { name: "help" }, json: leading.includes("--json") };
    throw new UsageError("no command given after the global options");
  }
  const [name, ...rest] = joinSubcommand([...fromCommand.slice(0, 1), ...fromCommand.slice(1), ...leading]);
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    const topic = name === "help" ? joinSubcommand(rest)[0] : undefined;
    if (topic !== undefined && !commands[topic]) throw new UsageError(`unknown command "${topic}"`);
    return { command: { name: "help", topic }, json: false };
  }
  const spec = commands[name];
  if (!spec) {
    const subcommands = commandNames.filter((command) => command.startsWith(`${name} `)).map((command) => command.slice(name.length + 1));
    if (subcommands.length) throw new UsageError(`${name} needs a subcommand: ${subcommands.join(", ")}`);
    throw new UsageError(name.startsWith("-") ? `a command comes first, before ${name}` : `unknown command "${name}"`);
  }
  const { values, positionals } = parseOrExplain(name, spec, rest);
  const global = { json: values.json === true, ...withoutAbsent({ api: str(values.api), key: str(values.key) }) };
  if (values.help) return { command: { name: "help", topic: name }, ...global };
  const problems: string[] = [];
  problemsOf.set(values, problems);
  const args = spec.argsWith?.(values) ?? spec.args;
  if (positionals.length !== args.length) {
    const expected = args.length ? args.map((arg) => `<${arg}>`).join(" ") : "no arguments";
    problems.push(`${name} takes ${expected}; got ${positionals.length ? positionals.map((p) => `"${p}"`).join(" ") : "none"}`);
  }
  let command: CliCommand | undefined;
  try {
    command = spec.build(positionals, values);
  } catch (error) {
    // Built from missing arguments, a command may fail in other ways; the arguments are then what to report.
    if (error instanceof UsageError) problems.push(error.message);
    else if (problems.length === 0) throw error;
  }
  if (problems.length === 1) throw new UsageError(problems[0], name);
  if (problems.length > 1) throw new UsageError(`${problems.length} problems with the command line`, name, problems);
  if (!command) throw new Error(`diskdelta ${name}: no command was built and no problem was found`);
  return { command, ...global };
}

/**
 * The global options before the command (`diskdelta --api <url> list`), and the rest. They are moved behind the
 * command, where parseArgs reads them with the command's own options.
 */
function leadingGlobalOptions(argv: readonly string[]): { leading: string[]; rest: readonly string[] } {
  const leading: string[] = [];
  let i = 0;
  while (i < argv.length) {
    const [flag, inline] = argv[i].split(/=(.*)/s, 2);
    const name = flag.startsWith("--") ? flag.slice(2) : Object.keys(globalOptions).find((option) => flag === `-${globalOptions[option].short}`);
    const option = name === undefined ? undefined : globalOptions[name];
    if (!option || !flag.startsWith("-")) break;
    const takesNext = option.type === "string" && inline === undefined;
    leading.push(...argv.slice(i, i + (takesNext ? 2 : 1)));
    i += takesNext ? 2 : 1;
  }
  return { leading, rest: argv.slice(i) };
}

/** The problems recorded while a command is built from its values, so that all of them are reported at once. */
const problemsOf = new WeakMap<Values, string[]>();

/** Records a problem with an option's value; the command line is refused once every option was looked at. */
function recordProblem(values: Values, message: string): undefined {
  const problems = problemsOf.get(values);
  if (!problems) throw new UsageError(message);
  problems.push(message);
  return undefined;
}

function hasProblems(values: Values): boolean {
  return (problemsOf.get(values)?.length ?? 0) > 0;
}

/** "catalog rebuild …" is one command of two words; a first word alone names no command. */
function joinSubcommand(argv: readonly string[]): readonly string[] {
  const [first, second, ...rest] = argv;
  if (first !== undefined && second !== undefined && commands[`${first} ${second}`]) return [`${first} ${second}`, ...rest];
  return argv;
}

/** Help for one command, or for all of them. */
export function usage(topic?: string): string {
  const spec = topic ? commands[topic] : undefined;
  if (topic && spec) {
    return [
      `Usage: diskdelta ${topic}${spec.args.map((arg) => ` <${arg}>`).join("")} [options]`,
      "",
      `${spec.summary[0].toUpperCase()}${spec.summary.slice(1)}.`,
      ...(Object.keys(spec.options).length ? ["", "Options:", ...optionLines(spec.options)] : []),
      "",
      "Global options:",
      ...optionLines(globalOptions),
    ].join("\n");
  }
  const width = Math.max(...commandNames.map((name) => commandLabel(name).length));
  return [
    "diskdelta: operate differential backups of Azure managed disks through the app's HTTP API.",
    "",
    "Usage: diskdelta <command> [arguments] [options]",
    "",
    "Commands:",
    ...commandNames.map((name) => `  ${commandLabel(name).padEnd(width)}  ${commands[name].summary}`),
    "",
    "Global options:",
    ...optionLines(globalOptions),
    "",
    "Exit codes: 0 done; 1 the API refused or could not be reached; 2 bad command line;",
    "            3 the BackupRun failed or the RestorePoint differs; 4 gave up waiting (the run goes on).",
    "Run `diskdelta <command> --help` for a command's options.",
  ].join("\n");
}

function commandLabel(name: string): string {
  return [name, ...commands[name].args.map((arg) => `<${arg}>`)].join(" ");
}

function optionLines(options: Readonly<Record<string, OptionSpec & { short?: string }>>): string[] {
  const labels = Object.entries(options).map(([name, option]) => {
    const long = `--${name}${option.type === "string" ? ` <${option.value ?? "value"}>` : ""}`;
    return option.short ? `-${option.short}, ${long}` : long;
  });
  const width = Math.max(...labels.map((label) => label.length));
  return Object.values(options).map((option, i) => `  ${labels[i].padEnd(width)}  ${option.help}${option.default ? ` (default ${option.default})` : ""}`);
}

/** The options as `update` takes them: what is not given stays as it is, so no default applies. */
function withoutDefaults(options: Readonly<Record<string, OptionSpec>>): Readonly<Record<string, OptionSpec>> {
  return Object.fromEntries(Object.entries(options).map(([name, { default: _default, ...option }]) => [name, option]));
}

/**
 * `--keep-last -1` as `--keep-last=-1`: parseArgs reads a value that starts with "-" as a possible option and
 * refuses it as ambiguous; a negative number is a value, which the option's own check then names.
 */
function negativeValuesInline(args: readonly string[], options: Readonly<Record<string, { type: string }>>): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const option = args[i].startsWith("--") ? options[args[i].slice(2)] : undefined;
    const next = args[i + 1];
    if (option?.type === "string" && next !== undefined && /^-\.?\d/.test(next)) {
      out.push(`${args[i]}=${next}`);
      i++;
    } else {
      out.push(args[i]);
    }
  }
  return out;
}

function parseOrExplain(name: string, spec: CommandSpec, args: readonly string[]): { values: Values; positionals: string[] } {
  const options = Object.fromEntries(
    Object.entries({ ...globalOptions, ...spec.options }).map(([option, { type, ...rest }]) => [option, "short" in rest ? { type, short: rest.short } : { type }]),
  );
  try {
    const parsed = parseArgs({ args: negativeValuesInline(args, options), options, allowPositionals: true, strict: true });
    return { values: parsed.values as Values, positionals: parsed.positionals };
  } catch (error) {
    // parseArgs explains well ("Unknown option '--x'", "Option '--name <value>' argument missing"); keep its first sentence.
    const message = error instanceof Error ? error.message.split(/\.\s/)[0].replace(/\.$/, "") : String(error);
    throw new UsageError(message, name);
  }
}

/** A VM's disk set is named by the VM's resource id or by its vmKey (as `vm-restore-points` prints it). */
function vmKeyArg(vm: string, command: string): string {
  const ref = parseVmId(vm);
  if (ref) return vmKeyOf(ref.id);
  if (/^[0-9a-f]{16}$/.test(vm)) return vm;
  throw new UsageError(`"${vm}" is neither a VM resource id (/subscriptions/…/virtualMachines/<name>) nor a vmKey (16 hex digits)`, command);
}

/** protect-vm names each disk's TargetBlob itself (one per disk). */
function withoutBlobName(options: Readonly<Record<string, OptionSpec>>): Readonly<Record<string, OptionSpec>> {
  const { "blob-name": _blobName, ...rest } = options;
  return rest;
}

/** How `drill`/`drill-vm` follow the drill: polled until it ends, or not at all with --no-wait. */
function drillWait(values: Values, command: string): WaitOptions | undefined {
  if (values["no-wait"] && (values.interval !== undefined || values.timeout !== undefined)) throw new UsageError("--interval and --timeout do not apply with --no-wait", command);
  if (values["no-wait"]) return undefined;
  return { intervalMs: 1000 * (positiveNumber(values, "interval") ?? 5), timeoutMs: 1000 * (positiveNumber(values, "timeout") ?? 3600) };
}

/** The managed target the two --managed-* options give: both, or none. */
function managedTargetSetting(values: Values): { resourceGroup: string; location: string } | undefined {
  const resourceGroup = str(values["managed-resource-group"]);
  const location = str(values["managed-location"]);
  if (resourceGroup === undefined && location === undefined) return undefined;
  if (resourceGroup === undefined || location === undefined) {
    recordProblem(values, "--managed-resource-group and --managed-location go together");
    return undefined;
  }
  return { resourceGroup, location };
}

/** The drill configuration the three --drill-* options give: all three, or none. */
function drillSetting(values: Values, command: string): { schedule: string; resourceGroup: string; location: string } | undefined {
  const parts = { schedule: str(values["drill-schedule"]), resourceGroup: str(values["drill-resource-group"]), location: str(values["drill-location"]) };
  const given = Object.values(parts).filter((value) => value !== undefined).length;
  if (given === 0) return undefined;
  if (parts.schedule === undefined || parts.resourceGroup === undefined || parts.location === undefined) {
    throw new UsageError("--drill-schedule, --drill-resource-group and --drill-location go together", command);
  }
  return { schedule: parts.schedule, resourceGroup: parts.resourceGroup, location: parts.location };
}

function diskSettings(values: Values): Omit<UpdateBody, "drill"> {
  if (values["verify-after-backup"] && values["no-verify-after-backup"]) {
    throw new UsageError("--verify-after-backup and --no-verify-after-backup exclude each other");
  }
  const verifyAfterBackup = values["verify-after-backup"] ? true : values["no-verify-after-backup"] ? false : undefined;
  const keepLast = positiveInteger(values, "keep-last");
  const maxAgeDays = positiveNumber(values, "max-age-days");
  if (values["keep-all"] && (values["keep-last"] !== undefined || values["max-age-days"] !== undefined)) {
    recordProblem(values, "--keep-all excludes --keep-last and --max-age-days: keep everything, or give the rules");
  }
  const rules = keepLast === undefined && maxAgeDays === undefined ? undefined : withoutAbsent({ keepLast, maxAgeDays });
  const retention = values["keep-all"] ? { keepAll: true as const } : rules;
  const body: Omit<UpdateBody, "drill"> = {
    schedule: str(values.schedule),
    snapshotMode: unchecked(values.mode),
    copyMode: unchecked(values["copy-mode"]),
    replication: unchecked(values.replication),
    managedTarget: managedTargetSetting(values),
    retention,
    rpoAlertMinutes: positiveInteger(values, "rpo-alert-minutes"),
    verifyAfterBackup,
  };
  return withoutAbsent(body);
}

function str(value: string | boolean | undefined): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/** A value the API checks against its list (a mode, a SKU), sent as given so that the API names every problem at once. */
function unchecked<T extends string>(value: string | boolean | undefined): T | undefined {
  return str(value) as T | undefined;
}

/** The option's value; a missing one is recorded as a problem (and "" returned, never sent: the line is refused). */
function requiredString(values: Values, option: string): string {
  const value = str(values[option]);
  if (value === undefined || value.trim() === "") {
    recordProblem(values, `--${option} is required`);
    return "";
  }
  return value;
}

function positiveNumber(values: Values, option: string): number | undefined {
  const text = str(values[option]);
  if (text === undefined) return undefined;
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value) || value <= 0) return recordProblem(values, `--${option} must be a positive number, not "${text}"`);
  return value;
}

function positiveInteger(values: Values, option: string): number | undefined {
  const value = positiveNumber(values, option);
  if (value !== undefined && !Number.isInteger(value)) return recordProblem(values, `--${option} must be a whole number, not "${str(values[option])}"`);
  return value;
}
