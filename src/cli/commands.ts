/** Each CLI command as one or two API calls: what it sends, what it prints for people, and its exit code. */
import { randomUUID } from "node:crypto";
import type { ProtectedDiskConfig } from "../domain/model";
import type { DrillRun, RestorePoint, RunView, Verification, VmDrillRun } from "../domain/records";
import type { CatalogRebuild } from "../engine/catalog";
import type { CliCommand, DirectCommand, WaitOptions } from "./args";
import type { Api } from "./api";
import {
  type DiskList,
  type VerifyAnswer,
  formatDiskList,
  type DiskStatusView,
  formatCatalogRebuild,
  formatDiskStatus,
  formatDrill,
  formatDrillProgress,
  formatVmDrill,
  formatVmDrills,
  type VmDrillAnswer,
  formatDrills,
  formatProgress,
  formatProtectedDisk,
  type TrackedRestore,
  formatRestoreProgress,
  formatRestores,
  formatTrackedRestore,
  formatRestorePoints,
  formatRun,
  formatRunStarted,
  formatRuns,
  formatVerify,
  formatVerificationProgress,
  type VmRestoreAnswer,
  type VmSyncAnswer,
  formatProtectedVm,
  formatVmRestore,
  formatVmRestorePoints,
  formatVmRestoreProgress,
  formatVmSync,
} from "./format";
import type { ProtectVmOutcome, VmRestorePoints } from "../engine/vm-sets";
import { follow, progressPrinter, waitForRun, whileFollowing } from "./wait";

/** Exit codes, as documented in `diskdelta --help` and docs/cli.md. */
export const exitCodes = { ok: 0, apiError: 1, usage: 2, badOutcome: 3, timedOut: 4 } as const;

/** What a command produced: the API's answer (printed by --json), the text for people, the exit code. */
export interface Outcome {
  readonly data: unknown;
  readonly text: string;
  readonly exitCode: number;
  /** Said on stderr after the output, e.g. why the exit code is not 0. */
  readonly note?: string;
}

/** What commands need besides the API: where progress goes, and the clock for `sync --wait`. */
export interface CommandContext {
  readonly api: Api;
  /** Progress lines while waiting (stderr); not called in --json mode. */
  readonly progress?: (line: string) => void;
  /** True when progress goes to a terminal: `verify`'s lines then replace each other. */
  readonly progressInPlace?: boolean;
  readonly sleep: (ms: number) => Promise<void>;
  readonly now: () => number;
}

type RunnableCommand = Exclude<CliCommand, { name: "help" } | DirectCommand>;

const disk = (diskKey: string) => `/disks/${encodeURIComponent(diskKey)}`;
const point = (diskKey: string, restorePointId: string) => `${disk(diskKey)}/restore-points/${encodeURIComponent(restorePointId)}`;
const vm = (vmKey: string) => `/vms/${encodeURIComponent(vmKey)}`;
const ok = (data: unknown, text: string): Outcome => ({ data, text, exitCode: exitCodes.ok });

export async function runCommand(command: RunnableCommand, context: CommandContext): Promise<Outcome> {
  const { api } = context;
  switch (command.name) {
    case "protect": {
      const config = await api.request<ProtectedDiskConfig & ProtectedChain>("POST", "/disks", command.body);
      return ok(config, formatProtectedDisk(`Protected ${config.diskId} as diskKey ${config.diskKey}.${chainSentence(config)}`, config));
    }
    case "update": {
      const config = await api.request<ProtectedDiskConfig>("PATCH", disk(command.diskKey), command.body);
      return ok(config, formatProtectedDisk(`Updated disk ${config.diskKey}.`, config));
    }
    case "unprotect": {
      const answer = await api.request<{ diskKey: string }>("DELETE", disk(command.diskKey));
      return ok(answer, `Unprotected disk ${command.diskKey}. Its RestorePoints and the TargetBlob are kept.`);
    }
    case "list": {
      const answer = await api.request<DiskList>("GET", "/disks");
      return ok(answer, formatDiskList(answer));
    }
    case "status": {
      const status = await api.request<DiskStatusView>("GET", disk(command.diskKey));
      return ok(status, formatDiskStatus(status));
    }
    case "runs": {
      const query = command.limit !== undefined ? `?limit=${command.limit}` : "";
      const answer = await api.request<{ runs: RunView[] }>("GET", `${disk(command.diskKey)}/runs${query}`);
      return ok(answer, formatRuns(answer.runs));
    }
    case "restore-points": {
      const answer = await api.request<{ protected?: boolean; kept?: string[]; restorePoints: RestorePoint[] }>("GET", `${disk(command.diskKey)}/restore-points`);
      return ok(answer, `${formatRestorePoints(answer.restorePoints)}${keptSentence(command.diskKey, answer)}`);
    }
    case "restore":
      return restore(command, context);
    case "restores": {
      const query = command.limit !== undefined ? `?limit=${command.limit}` : "";
      const answer = await api.request<{ restores: TrackedRestore[] }>("GET", `${disk(command.diskKey)}/restores${query}`);
      return ok(answer, formatRestores(answer.restores));
    }
    case "drill":
      return drill(command, context);
    case "drill-vm":
      return drillVm(command, context);
    case "drills-vm": {
      const query = command.limit !== undefined ? `?limit=${command.limit}` : "";
      const answer = await api.request<{ drills: VmDrillRun[] }>("GET", `/vms/${encodeURIComponent(command.vmKey)}/drills${query}`);
      return ok(answer, formatVmDrills(answer.drills));
    }
    case "drills": {
      const query = command.limit !== undefined ? `?limit=${command.limit}` : "";
      const answer = await api.request<{ drills: DrillRun[] }>("GET", `${disk(command.diskKey)}/drills${query}`);
      return ok(answer, formatDrills(answer.drills));
    }
    case "verify": {
      const result = await verify(command, context);
      const outcome = ok(result, formatVerify({ restorePointId: command.restorePointId, ...result }));
      return result.equal ? outcome : { ...outcome, exitCode: exitCodes.badOutcome };
    }
    case "catalog rebuild": {
      const result = await api.request<CatalogRebuild>("POST", "/catalog/rebuild", command.body);
      return ok(result, formatCatalogRebuild(command.body.blobEndpoint, result));
    }
    case "sync":
      return sync(command, context);
    case "protect-vm": {
      const outcome = await api.request<ProtectVmOutcome>("POST", "/vms", command.body);
      return ok(outcome, formatProtectedVm(outcome));
    }
    case "sync-vm": {
      const answer = await api.request<VmSyncAnswer>("POST", `${vm(command.vmKey)}/sync`);
      const outcome = ok(answer, formatVmSync(answer));
      return answer.notStarted.length ? { ...outcome, note: `${answer.notStarted.length} disk(s) did not start: group ${answer.groupTime} will be incomplete` } : outcome;
    }
    case "vm-restore-points": {
      const listing = await api.request<VmRestorePoints>("GET", `${vm(command.vmKey)}/restore-points`);
      return ok(listing, formatVmRestorePoints(listing));
    }
    case "restore-vm":
      return restoreVm(command, context);
  }
}

/** What POST /disks adds to the ProtectedDisk when the disk was protected before. */
interface ProtectedChain {
  readonly adopted?: { readonly restorePoints: number; readonly targetBlobUrl: string };
  readonly kept?: { readonly restorePoints: number };
}

function chainSentence({ adopted, kept }: ProtectedChain): string {
  if (adopted) return ` Adopted ${adopted.restorePoints} RestorePoint(s) and the TargetBlob ${adopted.targetBlobUrl}: its RetentionPolicy applies to them from now on.`;
  if (kept) return ` ${kept.restorePoints} RestorePoint(s) of its earlier protection stay kept (listed, restorable, never removed by this protection's retention).`;
  return "";
}

/** Which listed RestorePoints are kept: no RetentionPolicy removes them (the disk is unprotected, or protected on another TargetBlob). */
function keptSentence(diskKey: string, answer: { protected?: boolean; kept?: readonly string[] }): string {
  if (!answer.kept?.length) return "";
  const why = answer.protected === false ? `disk ${diskKey} is not protected` : "its protection judges other RestorePoints";
  return `\nKept (${why}; no retention removes them, each can be restored): ${answer.kept.join(", ")}`;
}

/** A VM's disk set restored as of one group: every disk's tracked restore accepted, then all followed to their end. */
async function restoreVm(command: Extract<CliCommand, { name: "restore-vm" }>, context: CommandContext): Promise<Outcome> {
  const { api } = context;
  const where = { resourceGroup: command.body.resourceGroup, location: command.body.location };
  const accepted = await api.request<VmRestoreAnswer>("POST", `${vm(command.vmKey)}/restore`, command.body);
  if (!command.wait) return ok(accepted, formatVmRestore(accepted, where));
  const ended = (r: TrackedRestore) => r.state === "succeeded" || r.state === "failed";
  let latest: VmRestoreAnswer | undefined;
  const { value, timedOut } = await follow<VmRestoreAnswer>(
    {
      // Each status URL is followed only into this API; an ended restore is not asked again.
      fetch: async () => ({
        ...accepted,
        restores: await Promise.all(
          accepted.restores.map(async (r, i) => {
            const last = latest?.restores[i]?.restore ?? r.restore;
            if (ended(last)) return { ...r, restore: last };
            const path = (r.restore.statusUrl && api.pathOf(r.restore.statusUrl)) ?? `${disk(r.diskKey)}/restores/${encodeURIComponent(r.restore.restoreId)}`;
            return { ...r, restore: await api.request<TrackedRestore>("GET", path) };
          }),
        ),
      }),
      sleep: context.sleep,
      now: context.now,
      onProgress: (next, previous) => {
        latest = next;
        if (context.progress) for (const line of formatVmRestoreProgress(next, previous)) context.progress(line);
      },
    },
    command.wait,
    (answer) => answer.restores.every((r) => ended(r.restore)),
  );
  const outcome = ok(value, formatVmRestore(value, where));
  if (timedOut) {
    const seconds = command.wait.timeoutMs / 1000;
    return { ...outcome, exitCode: exitCodes.timedOut, note: `gave up waiting after ${seconds}s; the restores go on. Follow them with: diskdelta restores <diskKey>` };
  }
  return value.restores.every((r) => r.restore.state === "succeeded") ? outcome : { ...outcome, exitCode: exitCodes.badOutcome };
}

/** A tracked restore: accepted (202), then followed to its end unless --no-wait. */
async function restore(command: Extract<CliCommand, { name: "restore" }>, context: CommandContext): Promise<Outcome> {
  const { api } = context;
  const accepted = await api.request<TrackedRestore>("POST", `${point(command.diskKey, command.restorePointId)}/restore`, command.body);
  if (!command.wait) return ok(accepted, formatTrackedRestore(accepted));
  return followToEnd(context, command.wait, {
    statusPath: (accepted.statusUrl && api.pathOf(accepted.statusUrl)) ?? `${disk(command.diskKey)}/restores/${encodeURIComponent(accepted.restoreId)}`,
    progress: formatRestoreProgress,
    format: formatTrackedRestore,
    followWith: `the restore goes on. Follow it with: diskdelta restores ${command.diskKey}`,
  });
}

/** A drill started now and, unless --no-wait, followed with its progress until it ends. */
async function drill(command: Extract<CliCommand, { name: "drill" }>, context: CommandContext): Promise<Outcome> {
  const { api } = context;
  const accepted = await api.request<DrillRun & { statusUrl?: string }>("POST", `${disk(command.diskKey)}/drills`);
  if (!command.wait) return ok(accepted, formatDrill(accepted));
  return followToEnd(context, command.wait, {
    statusPath: (accepted.statusUrl && api.pathOf(accepted.statusUrl)) ?? `${disk(command.diskKey)}/drills/${encodeURIComponent(accepted.drillId)}`,
    progress: formatDrillProgress,
    format: formatDrill,
    followWith: `the drill goes on. Follow it with: diskdelta drills ${command.diskKey}`,
  });
}

/** A VM set's drill started now and, unless --no-wait, followed until every disk's drill has ended and the set's result is in. */
async function drillVm(command: Extract<CliCommand, { name: "drill-vm" }>, context: CommandContext): Promise<Outcome> {
  const { api } = context;
  const accepted = await api.request<VmDrillAnswer>("POST", `/vms/${encodeURIComponent(command.vmKey)}/drills`);
  if (!command.wait) return ok(accepted, formatVmDrill(accepted));
  return followToEnd(context, command.wait, {
    statusPath: (accepted.statusUrl && api.pathOf(accepted.statusUrl)) ?? `/vms/${encodeURIComponent(command.vmKey)}/drills/${encodeURIComponent(accepted.vmDrillId)}`,
    progress: (answer: VmDrillAnswer) => answer.drills.map(formatDrillProgress).join("; "),
    format: formatVmDrill,
    followWith: `the drill goes on. Follow it with: diskdelta drills-vm ${command.vmKey}`,
  });
}

/** How to follow a tracked operation (a restore, a drill) that ends succeeded or failed. */
interface Tracked<T> {
  /** Its status URL's path: followed only into this API, so the function key is never sent anywhere else. */
  readonly statusPath: string;
  readonly progress: (value: T) => string;
  readonly format: (value: T) => string;
  /** Said after a timeout: that it goes on, and how to follow it. */
  readonly followWith: string;
}

async function followToEnd<T extends { state: string }>(context: CommandContext, wait: WaitOptions, tracked: Tracked<T>): Promise<Outcome> {
  const { value, timedOut } = await follow<T>(
    {
      fetch: () => context.api.request<T>("GET", tracked.statusPath),
      sleep: context.sleep,
      now: context.now,
      onProgress: (next, previous) => {
        const line = tracked.progress(next);
        if (context.progress && (!previous || line !== tracked.progress(previous))) context.progress(line);
      },
    },
    wait,
    (v) => v.state === "succeeded" || v.state === "failed",
  );
  const outcome = ok(value, tracked.format(value));
  if (timedOut) return { ...outcome, exitCode: exitCodes.timedOut, note: `gave up waiting after ${wait.timeoutMs / 1000}s; ${tracked.followWith}` };
  return value.state === "succeeded" ? outcome : { ...outcome, exitCode: exitCodes.badOutcome };
}

/** How often `verify` asks how far it is, and how often it prints that when not on a terminal. */
const verifyPollMs = 2000;
const verifyLineEveryMs = 5000;

/**
 * `verify`: one request that answers when the comparison is done. Printing progress, it names the verification
 * (a fresh id) and follows it meanwhile; an API without verification records simply shows none.
 */
async function verify(command: Extract<CliCommand, { name: "verify" }>, context: CommandContext): Promise<VerifyAnswer> {
  const { api, progress } = context;
  const path = `${point(command.diskKey, command.restorePointId)}/verify`;
  if (!progress) return api.request<VerifyAnswer>("POST", path);
  const verificationId = randomUUID();
  const print = progressPrinter(progress, { inPlace: context.progressInPlace === true, everyMs: verifyLineEveryMs, now: context.now });
  let phase: string | undefined;
  return whileFollowing(api.request<VerifyAnswer>("POST", path, { verificationId }), {
    poll: () => api.request<Verification>("GET", `${point(command.diskKey, command.restorePointId)}/verifications/${verificationId}`),
    onProgress: (verification) => {
      const line = formatVerificationProgress(verification);
      if (!line || verification.state !== "running") return;
      print(line, verification.phase !== phase);
      phase = verification.phase;
    },
    sleep: context.sleep,
    intervalMs: verifyPollMs,
  });
}

async function sync(command: Extract<CliCommand, { name: "sync" }>, context: CommandContext): Promise<Outcome> {
  const { api } = context;
  const started = await api.request<{ diskKey: string; runId: string; statusUrl?: string }>("POST", `${disk(command.diskKey)}/sync`);
  if (!command.wait) return ok(started, formatRunStarted(started));
  // The status URL is followed only into this API: the function key is never sent anywhere else.
  const statusPath = (started.statusUrl && api.pathOf(started.statusUrl)) ?? `${disk(command.diskKey)}/runs/${encodeURIComponent(started.runId)}`;
  const { run, timedOut } = await waitForRun(
    {
      fetchRun: () => api.request<RunView>("GET", statusPath),
      sleep: context.sleep,
      now: context.now,
      onProgress: (next, previous) => {
        const line = formatProgress(next, previous);
        if (line && context.progress) context.progress(line);
      },
    },
    command.wait,
  );
  const outcome = ok(run, formatRun(run));
  if (timedOut) {
    const seconds = command.wait.timeoutMs / 1000;
    return { ...outcome, exitCode: exitCodes.timedOut, note: `gave up waiting after ${seconds}s; the BackupRun goes on. Follow it with: diskdelta runs ${command.diskKey}` };
  }
  return run.state === "succeeded" ? outcome : { ...outcome, exitCode: exitCodes.badOutcome };
}
