/**
 * What the CLI prints for people: aligned tables and field lists built from the API's answers. Pure, so unit tests
 * read exactly what an operator sees. Shapes come from the API's own types; `--json` prints the answers untouched.
 */
import type { RestorePointSummary } from "../adapters/tables/restore-points";
import type { InvalidRow } from "../adapters/tables";
import { type ProtectedDiskConfig, parseDiskId } from "../domain/model";
import type { ByteRange } from "../domain/ranges";
import { type RestorePoint, type RunView, type Verification, bytesCopiedSoFar } from "../domain/records";
import type { CatalogListing, CatalogProblem } from "../adapters/target-catalog";
import type { CatalogRebuild } from "../engine/catalog";
import type { RestoreResult } from "../engine/restore";
import type { DrillRun, RestoreRecord, VmDrillRun } from "../domain/records";
import type { DiskStatus, FirstRestorePointEta } from "../engine/status";

import type { VerifyOutcome } from "../engine/verify-restore-point";
import type { AcceptedVmRestore, DirectVmRestore, VmBoot, VmRestorePlan } from "../engine/vm-restore";
import type { ProtectVmOutcome, VmRestorePoints, VmSync } from "../engine/vm-sets";
import type { VmSetDisk } from "../domain/vm-groups";

/** A disk's status as the HTTP API answers it: its active run as a reader sees runs. */
export type DiskStatusView = Omit<DiskStatus, "activeRun"> & { readonly activeRun?: RunView };

/** GET /api/disks. */
export interface DiskList {
  readonly disks: readonly DiskStatusView[];
  readonly invalid: readonly InvalidRow[];
  /** Disks no longer protected whose RestorePoints are kept (absent from older apps). */
  readonly kept?: readonly RestorePointSummary[];
}

/** POST …/verify: the comparison and what it compared against, with the RestorePoint it is about. */
export type VerifyAnswer = VerifyOutcome & { readonly diskKey?: string; readonly restorePointId?: string };

/** Columns padded to their widest cell, two spaces apart, no trailing spaces. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((header, i) => Math.max(header.length, ...rows.map((row) => (row[i] ?? "").length)));
  const line = (cells: readonly string[]) => cells.map((cell, i) => (cell ?? "").padEnd(widths[i])).join("  ").trimEnd();
  return [line(headers), ...rows.map(line)].join("\n");
}

/** "Label  value" lines; fields without a value are left out. */
export function fields(pairs: readonly (readonly [string, string | undefined])[]): string {
  const present = pairs.filter((pair): pair is readonly [string, string] => pair[1] !== undefined && pair[1] !== "");
  const width = Math.max(0, ...present.map(([label]) => label.length));
  return present.map(([label, value]) => `${label.padEnd(width)}  ${value}`).join("\n");
}

const units = ["KiB", "MiB", "GiB", "TiB", "PiB"];

export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined) return "-";
  if (Math.abs(bytes) < 1024) return `${bytes} B`;
  let value = bytes / 1024;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/** A duration as the two largest units: "45s", "5m 10s", "2h 05m", "3d 04h". */
export function formatSeconds(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return "-";
  const s = Math.max(0, Math.round(seconds));
  const two = (n: number) => String(n).padStart(2, "0");
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${two(s % 60)}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${two(Math.floor((s % 3600) / 60))}m`;
  return `${Math.floor(s / 86_400)}d ${two(Math.floor((s % 86_400) / 3600))}h`;
}

/** An ISO time to the second, UTC: "2026-01-15 10:00:00Z". */
export function formatTime(iso: string | undefined): string {
  if (!iso) return "-";
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? iso : new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

/** "name (resource group)" of a disk resource id. */
export function diskLabel(diskId: string): string {
  const ref = parseDiskId(diskId);
  return ref ? `${ref.name} (${ref.resourceGroup})` : diskId;
}

function between(startIso: string | undefined, endIso: string | undefined): number | undefined {
  if (!startIso || !endIso) return undefined;
  return (Date.parse(endIso) - Date.parse(startIso)) / 1000;
}

function retentionText(retention: ProtectedDiskConfig["retention"]): string {
  if (retention.keepAll) return "keep all";
  const rules = [
    retention.keepLast !== undefined ? `keep last ${retention.keepLast}` : undefined,
    retention.maxAgeDays !== undefined ? `remove after ${retention.maxAgeDays} days` : undefined,
  ].filter((rule) => rule !== undefined);
  return rules.length ? rules.join(", ") : "keep all";
}

function rpoText(status: Pick<DiskStatus, "rpoSeconds" | "rpoExceeded" | "config">): string {
  const late = status.rpoExceeded ? ` (LATE: alert after ${status.config.rpoAlertMinutes} min)` : "";
  return `${status.rpoSeconds === undefined ? "no RestorePoint yet" : formatSeconds(status.rpoSeconds)}${late}`;
}

/**
 * What a run waits for: "waiting for snapshot hydration: 40% (since …)" (its snapshot's background copy), "waiting
 * for a managed copy slot in westus2 (since …)", "Azure's managed copy to westus2: 40%", or "waiting for the TargetBlob's
 * snapshot interval: next try … (since …)" (a premium page blob allows one snapshot per interval).
 */
function hydrationText(run: RunView): string | undefined {
  if (run.state === "replicating") return `Azure's managed copy to ${run.targetLocation}: ${run.completionPercent}%`;
  if (run.state === "finalizing" && run.targetSnapshotDueAt !== undefined) {
    return `waiting for the TargetBlob's snapshot interval: next try ${formatTime(run.targetSnapshotDueAt)} (since ${formatTime(run.waitingSince)})`;
  }
  if (run.state !== "preparing") return undefined;
  if (run.waitingForCopySlot !== undefined) return `waiting for a managed copy slot in ${run.waitingForCopySlot} (since ${formatTime(run.waitingSince)})`;
  if (run.completionPercent === undefined) return undefined;
  return `waiting for snapshot hydration: ${run.completionPercent}% (since ${formatTime(run.waitingSince)})`;
}

function progressText(run: RunView): string {
  return `${run.runId} ${run.state}: ${hydrationText(run) ?? `${formatBytes(bytesCopiedSoFar(run))} copied${inStepText(run)}, ${run.requests} requests`}`;
}

/** While a CopyStep copies, how much of what was copied is that step's so far: " (1 GiB in CopyStep 3 so far)". */
function inStepText(run: RunView): string {
  const inStep = run.state === "copying" ? (run.stepBytesCopied ?? 0) : 0;
  return inStep > 0 ? ` (${formatBytes(inStep)} in CopyStep ${run.step} so far)` : "";
}

function configFields(config: ProtectedDiskConfig): [string, string | undefined][] {
  return [
    ["Disk key", config.diskKey],
    ["Disk", config.diskId],
    ["Enabled", config.enabled ? "yes" : "no"],
    ["Schedule", config.schedule],
    ["Snapshot mode", config.snapshotMode],
    ["Replication", config.replication === "managed" ? `managed (Azure CopyStart into ${config.managedTarget?.resourceGroup ?? "?"}, ${config.managedTarget?.location ?? "?"})` : "diff"],
    ["Copy mode", config.copyMode],
    ["Retention", retentionText(config.retention)],
    ["RPO alert", config.rpoAlertMinutes !== undefined ? `after ${config.rpoAlertMinutes} min` : "off"],
    ["Verify after backup", config.verifyAfterBackup ? "yes" : "no"],
    ["DR drills", config.drill ? `${config.drill.schedule} into ${config.drill.resourceGroup} (${config.drill.location})` : "off"],
    ["TargetBlob", `${config.target.blobEndpoint}/${config.target.container}/${config.target.blobName}`],
    ["Storage account", config.target.storageAccountId],
  ];
}

/** After protect or update: the ProtectedDisk as it now stands. */
export function formatProtectedDisk(headline: string, config: ProtectedDiskConfig): string {
  return `${headline}\n\n${fields(configFields(config))}`;
}

export function formatDiskList(answer: DiskList): string {
  const rows = answer.disks.map((disk) => [
    disk.diskKey,
    diskLabel(disk.diskId),
    disk.config.enabled ? "yes" : "no",
    disk.config.schedule,
    disk.activeRun?.state ?? disk.lastRunState ?? "never",
    disk.lastRestorePoint ? formatTime(disk.lastRestorePoint.sourceSnapshotTime) : "none",
    rpoText(disk),
  ]);
  const out = rows.length
    ? [table(["DISK KEY", "DISK", "ENABLED", "SCHEDULE", "LAST RUN", "NEWEST RESTORE POINT", "RPO"], rows)]
    : ["No protected disks. Protect one with: diskdelta protect <diskId> --target-endpoint <url>"];
  const kept = answer.kept ?? [];
  if (kept.length) {
    out.push("", "Not protected, RestorePoints kept (listed with restore-points <diskKey>, restorable; protect again with --adopt or a new --blob-name):");
    const keptRows = kept.map((k) => [k.diskKey, diskLabel(k.diskId), String(k.restorePoints), k.newestSourceSnapshotTime ? formatTime(k.newestSourceSnapshotTime) : "unknown"]);
    out.push(table(["DISK KEY", "DISK", "RESTORE POINTS", "NEWEST RESTORE POINT"], keptRows));
  }
  if (answer.invalid.length) {
    out.push("", `${answer.invalid.length} ProtectedDisk row(s) cannot be used; fix or delete them in Table Storage:`);
    out.push(...answer.invalid.map((row) => `  ${row.table}/${row.partitionKey}/${row.rowKey}: ${row.problems.join("; ")}`));
  }
  return out.join("\n");
}

export function formatDiskStatus(status: DiskStatusView): string {
  const newest = status.lastRestorePoint;
  return fields([
    ...configFields(status.config),
    ["Active run", status.activeRun ? progressText(status.activeRun) : "none"],
    ...(status.firstRestorePointEta ? ([["First RestorePoint", etaText(status.firstRestorePointEta)]] as [string, string][]) : []),
    ["Last run", status.lastRunState ?? "never"],
    ["Last error", status.lastError],
    ["Newest RestorePoint", newest ? `${newest.restorePointId} (source snapshot ${formatTime(newest.sourceSnapshotTime)})` : "none"],
    ["RPO", rpoText(status)],
    ...(status.config.drill ? ([["Last drill", drillText(status.lastDrill, status.drillStale === true)]] as [string, string][]) : []),
  ]);
}

/** "in ≈ 9h 41m (estimated: 12% of the disk covered in 1h 19m)". */
function etaText(eta: FirstRestorePointEta): string {
  const share = `${Math.floor(eta.fraction * 100)}%`;
  const basis = eta.basis === "copy-percent" ? `Azure's copy at ${share}` : `${share} of the disk covered`;
  return `in ≈ ${formatSeconds(eta.seconds)} (estimated: ${basis} in ${formatSeconds(eta.elapsedSeconds)})`;
}

function drillText(drill: DrillRun | undefined, stale: boolean): string {
  const late = stale ? " (STALE: no successful drill within two scheduled intervals)" : "";
  if (!drill) return `never${late}`;
  const rto = drill.state === "succeeded" ? `, RTO ${formatSeconds(drill.rtoSeconds)}` : "";
  return `${drill.state} at ${formatTime(drill.requestedAt)}${rto}${late}`;
}

/** A DrillRun for people: what was drilled, and its result with the RTO, or where it stands. */
export function formatDrill(drill: DrillRun): string {
  const common: [string, string][] = [
    ["Drill", drill.drillId],
    ["RestorePoint", drill.restorePointId],
    ["Drill disk", drill.drillDiskId],
    ["Requested", `${formatTime(drill.requestedAt)} (${drill.trigger})`],
  ];
  switch (drill.state) {
    case "succeeded":
      return `Drill succeeded: the restored disk equals RestorePoint ${drill.restorePointId} (${drill.basis}); the drill disk is deleted.\n\n${fields([
        ...common,
        ["Disk usable after", formatSeconds(drill.usableSeconds)],
        ["RTO (verified after)", formatSeconds(drill.rtoSeconds)],
        ["Read", formatBytes(drill.bytesRead)],
      ])}`;
    case "failed":
      return `Drill FAILED: ${drill.error}\n\n${fields([...common, ["Ended", formatTime(drill.endedAt)]])}`;
    default:
      return `Drill ${drill.state}.\n\n${fields([...common, ["Progress", formatDrillProgress(drill)]])}`;
  }
}

export function formatDrillProgress(drill: DrillRun): string {
  if (drill.state === "verifying") return `drill ${drill.drillId}: comparing (${drill.basis}), ${formatBytes(drill.cursor)} of ${formatBytes(drill.diskBytes)}`;
  if (drill.state === "restoring") return `drill ${drill.drillId}: restoring ${drill.restorePointId} to ${drill.drillDiskId.split("/").pop() ?? ""}`;
  return `drill ${drill.drillId}: ${drill.state}`;
}

/** A VM drill as the API answers it: the set's drill and each disk's DrillRun. */
export type VmDrillAnswer = VmDrillRun & { readonly drills: readonly DrillRun[]; readonly statusUrl?: string };

export function formatVmDrill(answer: VmDrillAnswer): string {
  const common: [string, string][] = [
    ["VM drill", answer.vmDrillId],
    ["VM", answer.vmId],
    ["Group", formatTime(answer.groupTime)],
    ["Requested", `${formatTime(answer.requestedAt)} (${answer.trigger})`],
  ];
  const disks = answer.drills.map((d) => [d.diskKey, d.state, d.restorePointId, d.state === "succeeded" ? formatSeconds(d.rtoSeconds) : "-", d.state === "failed" ? d.error : ""]);
  const perDisk = table(["DISK", "STATE", "RESTORE POINT", "RTO", "ERROR"], disks);
  switch (answer.state) {
    case "succeeded":
      return `VM drill succeeded: every disk equals its RestorePoint of the group; the drill disks are deleted.\n\n${fields([
        ...common,
        ["Disks usable after", formatSeconds(answer.usableSeconds)],
        ["RTO (slowest disk)", `${formatSeconds(answer.rtoSeconds)} (${answer.slowestDiskKey})`],
      ])}\n\n${perDisk}`;
    case "failed":
      return `VM drill FAILED: ${answer.error}\n\n${fields([...common, ["Ended", formatTime(answer.endedAt)]])}\n\n${perDisk}`;
    default:
      return `VM drill ${answer.state}.\n\n${fields(common)}\n\n${perDisk}`;
  }
}

export function formatVmDrills(drills: readonly VmDrillRun[]): string {
  if (!drills.length) return "No VM drills yet. Start one with: diskdelta drill-vm <vm>";
  const rows = drills.map((d) => [d.vmDrillId, d.state, d.trigger, formatTime(d.groupTime), formatTime(d.requestedAt), d.state === "succeeded" ? formatSeconds(d.rtoSeconds) : "-", d.state === "failed" ? d.error : ""]);
  return table(["DRILL", "STATE", "TRIGGER", "GROUP", "REQUESTED", "RTO", "ERROR"], rows);
}

export function formatDrills(drills: readonly DrillRun[]): string {
  if (!drills.length) return "No drills yet. Start one with: diskdelta drill <diskKey>";
  const rows = drills.map((d) => [d.drillId, d.state, d.trigger, d.restorePointId, formatTime(d.requestedAt), d.state === "succeeded" ? formatSeconds(d.rtoSeconds) : "-"]);
  return table(["DRILL", "STATE", "TRIGGER", "RESTORE POINT", "REQUESTED", "RTO"], rows);
}

export function formatRuns(runs: readonly RunView[]): string {
  if (!runs.length) return "No BackupRuns yet. Start one with: diskdelta sync <diskKey>";
  const rows = runs.map((run) => [
    run.runId,
    run.trigger,
    run.state,
    formatTime(run.startedAt),
    formatSeconds(between(run.startedAt, run.endedAt)),
    formatBytes(run.bytesChanged),
    formatBytes(bytesCopiedSoFar(run)),
    formatBytes(run.bytesCleared),
    String(run.requests),
    run.error ?? run.note ?? (run.fullCopyReason ? `full copy: ${run.fullCopyReason}` : ""),
  ]);
  return table(["RUN ID", "TRIGGER", "STATE", "STARTED", "DURATION", "CHANGED", "COPIED", "CLEARED", "REQUESTS", "NOTE"], rows);
}

/** The end (or the last known state) of one BackupRun. */
export function formatRun(run: RunView): string {
  const headline =
    run.state === "succeeded"
      ? `BackupRun ${run.runId} succeeded.`
      : run.state === "failed"
        ? `BackupRun ${run.runId} FAILED: ${run.error ?? "no error recorded"}`
        : `BackupRun ${run.runId} is still ${run.state}${hydrationText(run) ? `, ${hydrationText(run)}` : ""}.`;
  const body = fields([
    ["Disk key", run.diskKey],
    ["State", run.state],
    ["Started", formatTime(run.startedAt)],
    ["Ended", run.endedAt ? formatTime(run.endedAt) : undefined],
    ["Duration", run.endedAt ? formatSeconds(between(run.startedAt, run.endedAt)) : undefined],
    ["Full copy", run.fullCopyReason],
    ["Changed", formatBytes(run.bytesChanged)],
    ["Copied", `${formatBytes(bytesCopiedSoFar(run))}${inStepText(run)}`],
    ["Cleared", formatBytes(run.bytesCleared)],
    ["Requests", String(run.requests)],
    ["RestorePoint", run.restorePointId],
    ["Note", run.note],
  ]);
  return `${headline}\n\n${body}`;
}

export function formatRunStarted(answer: { diskKey: string; runId: string }): string {
  return `Started BackupRun ${answer.runId} for disk ${answer.diskKey}.\nFollow it with: diskdelta runs ${answer.diskKey}`;
}

/** One progress line while waiting for a run, or undefined when nothing changed since the last one. */
export function formatProgress(run: RunView, previous: RunView | undefined): string | undefined {
  const same = (key: "state" | "bytesCopied" | "stepBytesCopied" | "bytesCleared" | "completionPercent") => previous?.[key] === run[key];
  if (previous && same("state") && same("bytesCopied") && same("stepBytesCopied") && same("bytesCleared") && same("completionPercent")) return undefined;
  return `BackupRun ${progressText(run)}`;
}

export function formatRestorePoints(points: readonly RestorePoint[]): string {
  if (!points.length) return "No RestorePoints yet.";
  const rows = points.map((point) => [
    point.restorePointId,
    formatTime(point.sourceSnapshotTime),
    formatTime(point.createdAt),
    point.kind === "managed" ? `managed (${point.targetLocation})` : point.fullCopy ? "full" : "diff",
    formatBytes(point.blobBytes),
    formatBytes(point.bytesCopied),
    formatSeconds(point.durationMs / 1000),
  ]);
  const differing = points.filter((point) => point.differsFromSource !== undefined);
  const warnings = differing.map((point) => `RestorePoint ${point.restorePointId} differs from its source snapshot (${point.differsFromSource}): it is not the disk.`);
  return [table(["RESTORE POINT", "SOURCE SNAPSHOT TIME", "CREATED", "COPY", "DISK SIZE", "COPIED", "DURATION"], rows), ...(warnings.length ? ["", ...warnings] : [])].join("\n");
}

/** Direct mode: the RestorePoints a target account describes, newest first, and the manifests that cannot be used. */
export function formatCatalog(listing: CatalogListing): string {
  const out = listing.restorePoints.length ? [] : ["No RestorePoints found in the target account."];
  if (listing.restorePoints.length) {
    const rows = listing.restorePoints.map((point) => [
      point.restorePointId,
      point.diskKey,
      diskLabel(point.diskId),
      formatTime(point.sourceSnapshotTime),
      formatTime(point.createdAt),
      point.fullCopy ? "full" : "diff",
      formatBytes(point.disk.sizeBytes),
      point.disk.osType ?? "-",
      point.disk.securityType ?? "-",
      point.dataPresent ? "present" : "MISSING",
    ]);
    out.push(table(["RESTORE POINT", "DISK KEY", "DISK", "SOURCE SNAPSHOT TIME", "CREATED", "COPY", "DISK SIZE", "OS", "SECURITY", "DATA"], rows));
  }
  if (listing.restorePoints.some((point) => !point.dataPresent)) {
    out.push("", "DATA MISSING: the RestorePoint's blob snapshot is not in the target account; it cannot be restored.");
  }
  out.push(...problemLines(listing.problems));
  return out.join("\n");
}

function problemLines(problems: readonly CatalogProblem[]): string[] {
  if (!problems.length) return [];
  return ["", `${problems.length} manifest(s) cannot be used:`, ...problems.map((p) => `  ${p.blob}: ${p.problem}`)];
}

export function formatCatalogRebuild(blobEndpoint: string, result: CatalogRebuild): string {
  return [
    `Rebuilt the RestorePoint records from ${blobEndpoint}.`,
    "",
    fields([
      ["Manifests found", String(result.found)],
      ["Recorded now", String(result.recorded)],
      ["Already recorded", String(result.alreadyRecorded)],
      ["Data missing", `${result.dataMissing}${result.dataMissing ? " (not recorded: their blob snapshot is gone)" : ""}`],
      ["Problems", String(result.problems.length)],
    ]),
    ...problemLines(result.problems),
  ].join("\n");
}

export function formatRestore(result: RestoreResult): string {
  return `Restored RestorePoint ${result.restorePointId} as a new managed disk.\n\n${fields([
    ["Disk", result.diskId],
    ["Unique id", result.uniqueId],
    ["Size", formatBytes(result.sizeBytes)],
    ["Created with", result.createOption],
  ])}`;
}

/** A tracked restore as the API answers it (GET …/restores/{restoreId}). */
export type TrackedRestore = {
  [S in RestoreRecord["state"]]: Omit<Extract<RestoreRecord, { state: S }>, "request"> & { readonly request: unknown; readonly statusUrl?: string };
}[RestoreRecord["state"]];

export function formatTrackedRestore(restore: TrackedRestore): string {
  const common: [string, string][] = [
    ["Restore", restore.restoreId],
    ["Disk", restore.newDiskId],
    ["Requested by", `${restore.requestedBy} at ${formatTime(restore.requestedAt)}`],
  ];
  switch (restore.state) {
    case "succeeded":
      return `Restored RestorePoint ${restore.restorePointId} as a new managed disk.\n\n${fields([
        ...common,
        ["Unique id", restore.uniqueId],
        ["Size", formatBytes(restore.sizeBytes)],
        ["Created with", restore.createOption],
        ["Took", formatSeconds((Date.parse(restore.endedAt) - Date.parse(restore.requestedAt)) / 1000)],
      ])}`;
    case "failed":
      return `The restore of RestorePoint ${restore.restorePointId} failed: ${restore.error}\n\n${fields(common)}`;
    default:
      return `The restore of RestorePoint ${restore.restorePointId} is ${restore.state}.\n\n${fields(common)}`;
  }
}

/** One progress line per state a followed restore reaches. */
export function formatRestoreProgress(restore: TrackedRestore): string {
  if (restore.state === "creating") return `restore ${restore.restoreId}: creating ${restore.newDiskId} (${restore.createOption})`;
  return `restore ${restore.restoreId}: ${restore.state}`;
}

export function formatRestores(restores: readonly TrackedRestore[]): string {
  if (!restores.length) return "No restores yet.";
  const rows = restores.map((r) => [r.restoreId, r.state, r.restorePointId, r.newDiskId.split("/").slice(-5).filter((_, i) => i !== 1 && i !== 2).join("/"), r.requestedBy, formatTime(r.requestedAt)]);
  return table(["RESTORE", "STATE", "RESTORE POINT", "DISK", "REQUESTED BY", "REQUESTED"], rows);
}

function rangeRow(range: ByteRange): string[] {
  return [String(range.start), String(range.end), formatBytes(range.end - range.start)];
}

/**
 * One progress line of a running verification ("Verifying RestorePoint rp1: 40% compared (1.2 GiB of 3.0 GiB read)",
 * or its listing of allocated ranges before that); undefined once it ended (its answer says how).
 */
export function formatVerificationProgress(verification: Verification): string | undefined {
  if (verification.state !== "running") return undefined;
  const percent = (done: number, of: number) => `${of > 0 ? Math.floor((100 * done) / of) : 0}%`;
  const head = `Verifying RestorePoint ${verification.restorePointId}`;
  if (verification.phase === "listing") {
    return `${head}: listing allocated ranges, ${percent(verification.bytesListed, verification.bytesToList)} (${formatBytes(verification.bytesListed)} of ${formatBytes(verification.bytesToList)})`;
  }
  return `${head}: ${percent(verification.bytesCompared, verification.bytesToCompare)} compared (${formatBytes(verification.bytesCompared)} of ${formatBytes(verification.bytesToCompare)} read)`;
}

export function formatVerify(result: VerifyAnswer): string {
  const point = result.restorePointId ? `RestorePoint ${result.restorePointId}` : "The RestorePoint";
  const basis = result.basis === "recorded-checksums" ? "the checksums recorded when it was verified after backup (its source snapshot is gone)" : "its source snapshot";
  if (result.equal) {
    return `${point} equals ${basis}.\n\n${fields([
      ["Digest", result.sourceDigest],
      ["Bytes read", formatBytes(result.bytesRead)],
    ])}`;
  }
  return [
    `${point} DIFFERS from ${basis}.`,
    "",
    fields([
      ["Expected digest", result.sourceDigest],
      ["RestorePoint digest", result.targetDigest],
      ["Bytes read", formatBytes(result.bytesRead)],
    ]),
    "",
    "First differing ranges (bytes, end exclusive):",
    table(["START", "END", "LENGTH"], result.mismatches.map(rangeRow)),
  ].join("\n");
}

/** What the disks are: one sentence, said wherever a VM's disk set is protected or restored. */
export const vmConsistencyNote =
  "The disks are snapshotted one after another: each RestorePoint is crash-consistent for its own disk, not across the VM's disks.";

/** A disk of a VM's set as the API answers it. */
type SetDisk = Pick<VmSetDisk, "diskKey" | "diskId" | "role" | "lun">;

function roleText(disk: Pick<VmSetDisk, "role" | "lun">): string {
  return disk.role === "os" ? "os" : `data (lun ${disk.lun})`;
}

/** POST /api/vms. */
export function formatProtectedVm(outcome: ProtectVmOutcome): string {
  const rows = outcome.disks.map(({ status, disk }) => [
    disk.diskKey,
    disk.vmGroup ? roleText(disk.vmGroup) : "-",
    diskLabel(disk.diskId),
    status,
    `${disk.target.container}/${disk.target.blobName}`,
  ]);
  const out = [
    `Protected the ${outcome.disks.length} disk(s) of VM ${diskLabel(outcome.vmId)} as vmKey ${outcome.vmKey}, schedule ${outcome.disks[0]?.disk.schedule ?? "-"}.`,
    "",
    table(["DISK KEY", "ROLE", "DISK", "STATUS", "TARGETBLOB"], rows),
    "",
    vmConsistencyNote,
  ];
  if (outcome.notAttached.length) {
    out.push("", "No longer attached to the VM (still protected; unprotect them with diskdelta unprotect <diskKey> if they are not needed):");
    out.push(...outcome.notAttached.map((d) => `  ${d.diskKey}  ${diskLabel(d.diskId)}`));
  }
  return out.join("\n");
}

/** POST /api/vms/{vmKey}/sync, with each run's status URL. */
export type VmSyncAnswer = Omit<VmSync, "runs"> & { readonly runs: readonly { diskKey: string; runId: string; statusUrl?: string }[] };

export function formatVmSync(answer: VmSyncAnswer): string {
  const out = [
    `Started ${answer.runs.length} BackupRun(s) of VM ${diskLabel(answer.vmId)} as group ${answer.groupTime}.`,
    "",
    table(["DISK KEY", "RUN ID"], answer.runs.map((r) => [r.diskKey, r.runId])),
  ];
  if (answer.notStarted.length) {
    out.push("", "Not started (this group will lack their RestorePoints):", ...answer.notStarted.map((d) => `  ${d.diskKey}: ${d.reason}`));
  }
  out.push("", `Follow them with: diskdelta vm-restore-points ${answer.vmKey}`);
  return out.join("\n");
}

/** GET /api/vms/{vmKey}/restore-points: one row per group, one column per disk (its RestorePoint). */
export function formatVmRestorePoints(listing: VmRestorePoints): string {
  const head = `VM ${diskLabel(listing.vmId)} (vmKey ${listing.vmKey}): ${listing.disks.length} disk(s).`;
  if (!listing.groups.length) return `${head}\n\nNo RestorePoint groups yet. Start one with: diskdelta sync-vm ${listing.vmKey}`;
  const headers = ["GROUP TIME", "COMPLETE", ...listing.disks.map((d) => `${parseDiskId(d.diskId)?.name ?? d.diskKey} [${roleText(d)}]`)];
  const rows = listing.groups.map((group) => [
    formatTime(group.groupTime),
    group.complete ? "yes" : `no (${group.missing.length} missing)`,
    ...listing.disks.map((d) => group.restorePoints.find((p) => p.diskKey === d.diskKey)?.restorePoint.restorePointId ?? "-"),
  ]);
  return [head, "", table(headers, rows), "", vmConsistencyNote].join("\n");
}

/** POST /api/vms/{vmKey}/restore, with each restore as the API answers it. */
export type VmRestoreAnswer = Omit<AcceptedVmRestore, "restores"> & { readonly restores: readonly (SetDisk & { readonly restore: TrackedRestore })[] };

/** One line per disk whose restore reached a new state. */
export function formatVmRestoreProgress(next: VmRestoreAnswer, previous: VmRestoreAnswer | undefined): string[] {
  return next.restores.flatMap((r, i) => {
    if (previous && previous.restores[i]?.restore.state === r.restore.state) return [];
    return [`${parseDiskId(r.diskId)?.name ?? r.diskKey} [${roleText(r)}]: ${formatRestoreProgress(r.restore)}`];
  });
}

export function formatVmRestore(answer: VmRestoreAnswer, where: { resourceGroup: string; location: string }): string {
  const rows = answer.restores.map((r) => [roleText(r), diskLabel(r.diskId), r.restore.restorePointId, r.restore.state, r.restore.newDiskId]);
  const ended = answer.restores.every((r) => r.restore.state === "succeeded" || r.restore.state === "failed");
  const failed = answer.restores.filter((r) => r.restore.state === "failed");
  const headline = !ended
    ? `The restore of VM ${diskLabel(answer.vmId)} as of group ${answer.groupTime} is under way.`
    : failed.length
      ? `The restore of VM ${diskLabel(answer.vmId)} as of group ${answer.groupTime} FAILED for ${failed.length} disk(s).`
      : `Restored the ${answer.restores.length} disk(s) of VM ${diskLabel(answer.vmId)} as of group ${answer.groupTime}.`;
  const out = [headline, "", table(["ROLE", "SOURCE DISK", "RESTORE POINT", "STATE", "NEW DISK"], rows)];
  for (const r of failed) if (r.restore.state === "failed") out.push(`  ${diskLabel(r.diskId)}: ${r.restore.error}`);
  const created = ended && !failed.length ? answer.restores.map((r) => ({ role: r.role, lun: r.lun, newDiskId: r.restore.newDiskId })) : undefined;
  return [...out, ...vmRestoreTail(answer, created, where)].join("\n");
}

/** Direct mode: the disks of a VM's set as created from the target account's manifests. */
export function formatDirectVmRestore(result: DirectVmRestore, where: { resourceGroup: string; location: string }): string {
  const rows = result.restores.map((r) => [roleText(r), diskLabel(r.diskId), r.result.restorePointId, r.result.diskId, r.result.createOption]);
  const out = [
    `Restored the ${result.restores.length} disk(s) of VM ${diskLabel(result.vmId)} as of group ${result.groupTime} from the target account.`,
    "",
    table(["ROLE", "SOURCE DISK", "RESTORE POINT", "NEW DISK", "CREATED WITH"], rows),
  ];
  const created = result.restores.map((r) => ({ role: r.role, lun: r.lun, newDiskId: r.result.diskId }));
  return [...out, ...vmRestoreTail(result, created, where)].join("\n");
}

/** What a VM restore passed over and left out, the consistency note, and (once every disk exists) the az command. */
function vmRestoreTail(plan: VmRestorePlan, created: readonly RestoredVmDisk[] | undefined, where: { resourceGroup: string; location: string }): string[] {
  const out: string[] = [];
  for (const passed of plan.passedOver) out.push("", `Group ${passed.groupTime} is newer but was passed over: it has no RestorePoint of ${passed.missing}.`);
  if (plan.notRestored.length) {
    out.push("", `Not restored (no RestorePoint in this group): ${plan.notRestored.map((d) => `${diskLabel(d.diskId)} [${roleText(d)}]`).join(", ")}.`);
  }
  out.push("", vmConsistencyNote);
  if (created) {
    const command = vmCreateCommand({ boot: plan.boot, disks: created }, where);
    out.push("", ...(command ? ["Create the VM from the restored disks with:", "", command] : ["No OS disk was restored: attach the data disks to a VM of your own."]));
  }
  return out;
}

/** A disk a VM restore created: where it goes in the VM. */
export interface RestoredVmDisk {
  readonly role: VmSetDisk["role"];
  readonly lun?: number;
  readonly newDiskId: string;
}

/**
 * The `az vm create` that makes a VM of the restored disks: the OS disk attached as it is (its OS type and, for Trusted
 * Launch, secure boot and vTPM on), the data disks in lun order. Undefined without a restored OS disk.
 */
export function vmCreateCommand(restored: { boot: VmBoot; disks: readonly RestoredVmDisk[] }, where: { resourceGroup: string; location: string }): string | undefined {
  const os = restored.disks.find((d) => d.role === "os");
  if (!os) return undefined;
  const data = restored.disks.filter((d) => d.role === "data").sort((a, b) => (a.lun ?? 0) - (b.lun ?? 0));
  const { boot } = restored;
  const parts = [
    `az vm create --resource-group ${where.resourceGroup} --name ${boot.vmName} --location ${where.location}`,
    `--attach-os-disk ${os.newDiskId}`,
    ...(data.length ? [`--attach-data-disks ${data.map((d) => d.newDiskId).join(" ")}`] : []),
    `--os-type ${boot.osType ? boot.osType.toLowerCase() : "<linux|windows>"}`,
    ...(boot.securityType === "TrustedLaunch" ? ["--security-type TrustedLaunch --enable-secure-boot true --enable-vtpm true"] : []),
  ];
  const luns = data.map((d) => d.lun);
  const renumbered = luns.some((lun, i) => lun !== i);
  const note = renumbered ? `\n# az attaches the data disks at luns 0..${data.length - 1} in this order; the source VM had them at luns ${luns.join(", ")}.` : "";
  return `${parts.join(" \\\n  ")}${note}`;
}
