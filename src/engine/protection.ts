/** Protecting, changing and unprotecting disks: the only way ProtectedDisk rows are written. */
import { z } from "zod";
import {
  type ProtectedDiskConfig,
  type ProtectedDiskUpdate,
  protectedDiskInputSchema,
  diskRefOf,
  replicationProblems,
  drillStorageProblem,
  toProtectedDisk,
} from "../domain/model";
import { ConflictError, PermanentError } from "../domain/errors";
import { unsupportedDiskReason } from "../domain/manifest";
import type { RestorePoint } from "../domain/records";
import { holdsPremiumPageBlobs, premiumPageBlobSnapshots } from "../domain/page-blob-tiers";
import { sameRegion } from "../domain/regions";
import { mostKept } from "../domain/retention";
import { judgeSpacing } from "../domain/schedule";
import { locationFromUrl } from "../domain/target-location";
import type { Deps } from "./deps";

/** What a protection took over from the disk's earlier protection (`adopt: true`): its RestorePoints and TargetBlob. */
export interface AdoptedChain {
  /** RestorePoints now under this protection (and its RetentionPolicy). */
  readonly restorePoints: number;
  readonly targetBlobUrl: string;
}

export type ProtectOutcome = {
  readonly status: "created" | "exists";
  readonly disk: ProtectedDiskConfig;
  /** Set when `adopt` took over the kept chain. */
  readonly adopted?: AdoptedChain;
  /** Set when the disk has RestorePoints the new protection leaves kept (a new TargetBlob was chosen). */
  readonly kept?: { readonly restorePoints: number };
};

const protectInputSchema = protectedDiskInputSchema.extend({ adopt: z.boolean().default(false) });

/**
 * Protects a disk. Its TargetBlob must be its own: refused (409 naming the owner) when another ProtectedDisk names
 * the same blob, or when the blob's stamp says another disk made it (also after that disk was unprotected: its
 * RestorePoints are snapshots of that blob).
 *
 * A disk protected before keeps its RestorePoints (and TargetBlob) after unprotect: they are kept, listed and
 * restorable. Protecting it again must say what becomes of them (else 409 `KeptRestorePoints`): `adopt: true` takes
 * them and the old TargetBlob under the new protection — its RetentionPolicy applies to them from then on (the
 * TargetBlob defaults to the old one); or a new `target.blobName` starts a new chain beside them, and they stay kept:
 * the new protection's retention only judges RestorePoints of its own TargetBlob. Managed RestorePoints (target
 * region snapshots) are judged by a managed protection's retention whatever the TargetBlob: they can only be adopted.
 */
export async function protectDisk(deps: Deps, input: unknown): Promise<ProtectOutcome> {
  const { disk, chain } = await planProtection(deps, input);
  const created = await deps.records.createDisk(disk);
  if (!created) return { status: "exists", disk: (await deps.records.getDisk(disk.diskKey)) ?? disk };
  return { status: "created", disk, ...chain };
}

type ChainChoice = Pick<ProtectOutcome, "adopted" | "kept">;

/**
 * Every check protectDisk makes, writing nothing: the ProtectedDisk it would create and what becomes of the kept
 * chain, or the refusal. protect-vm checks each disk of the set with it before it protects any.
 */
export async function planProtection(deps: Deps, input: unknown): Promise<{ disk: ProtectedDiskConfig; chain: ChainChoice }> {
  const { adopt, ...parsed } = protectInputSchema.parse(input);
  let disk = toProtectedDisk(parsed);
  await refuseUnsupportedDisk(deps, disk);
  await refuseBadReplication(deps, disk);
  let chain: ChainChoice = {};
  if ((await deps.records.readDisk(disk.diskKey)).kind === "absent") {
    const kept = await deps.records.listRestorePoints(disk.diskKey);
    if (adopt && parsed.target.blobName === undefined) disk = onKeptBlob(disk, kept);
    chain = await chooseKeptChain(deps, disk, kept, { adopt, blobNameGiven: parsed.target.blobName !== undefined });
  }
  await refuseSharedTarget(deps, disk);
  await refuseBeyondPremiumSnapshots(deps, disk);
  return { disk, chain };
}

/**
 * The TargetBlob `adopt` takes when none is named: the blob of the newest kept RestorePoint, when it lies in the
 * container asked for (else the default name stands, and chooseKeptChain says what it holds).
 */
function onKeptBlob(disk: ProtectedDiskConfig, kept: readonly RestorePoint[]): ProtectedDiskConfig {
  const newest = [...kept].filter((p) => p.kind === "blob").sort((a, b) => b.sourceSnapshotTime.localeCompare(a.sourceSnapshotTime))[0];
  if (!newest) return disk;
  const old = locationFromUrl(newest.targetBlobUrl);
  const sameContainer = old.blobEndpoint.toLowerCase() === disk.target.blobEndpoint.toLowerCase() && old.container === disk.target.container;
  return sameContainer ? { ...disk, target: { ...disk.target, blobName: old.blobName } } : disk;
}

/**
 * What the new protection does with the disk's kept chain: the RestorePoints recorded for it (there is no
 * ProtectedDisk row: every one is kept) and its own old TargetBlob (its stamp names this disk). Refuses (409) what
 * the caller did not choose: writing into the old TargetBlob or judging kept RestorePoints by a new retention
 * without `adopt`; `adopt` of a chain the named TargetBlob does not hold.
 */
async function chooseKeptChain(
  deps: Deps, disk: ProtectedDiskConfig, kept: readonly RestorePoint[], choice: { adopt: boolean; blobNameGiven: boolean },
): Promise<ChainChoice> {
  const target = deps.targets(disk.target);
  const where = `${disk.target.container}/${disk.target.blobName}`;
  // A target that cannot be read now is left to the first run, which proves the owner again before it writes.
  const ownBlob = (await target.inspect().catch(() => undefined))?.owner === disk.diskKey;
  const onBlob = kept.filter((p) => p.kind === "blob" && p.targetBlobUrl === target.url);
  const managed = kept.filter((p) => p.kind === "managed");
  const judged = [...(disk.replication === "diff" ? onBlob : []), ...(disk.replication === "managed" ? managed : [])];
  if (choice.adopt) {
    const elsewhere = kept.filter((p) => p.kind === "blob" && p.targetBlobUrl !== target.url);
    if (judged.length === 0 && elsewhere.length > 0) {
      const blobs = [...new Set(elsewhere.map((p) => p.targetBlobUrl))].join(", ");
      throw new ConflictError(
        "KeptRestorePoints",
        `adopt: TargetBlob ${where} holds none of the ${kept.length} kept RestorePoints of disk ${disk.diskId} (they are snapshots of ${blobs}); ${fieldsToAdopt(disk, elsewhere)}, or protect without adopt`,
      );
    }
    return { adopted: { restorePoints: judged.length, targetBlobUrl: target.url } };
  }
  const ways =
    `protect it again with "adopt": true (CLI --adopt) to keep them under the new protection (its RetentionPolicy then applies to them), ` +
    "or with a new target.blobName (CLI --blob-name) to start a new chain beside them (they stay kept, listed and restorable; the new retention never deletes them)";
  if (disk.replication === "managed" && managed.length > 0) {
    throw new ConflictError(
      "KeptRestorePoints",
      `disk ${disk.diskId} has ${managed.length} kept managed RestorePoints (target-region snapshots), which a managed protection's retention judges whatever its TargetBlob: protect it again with "adopt": true (CLI --adopt) to keep them under the new protection (its RetentionPolicy then applies to them), or with replication diff`,
    );
  }
  if (onBlob.length > 0 || ownBlob) {
    const holds = onBlob.length > 0 ? `${onBlob.length} kept RestorePoints are snapshots of its old TargetBlob ${where}` : `its old TargetBlob ${where} is still there (made by diskdelta for this disk)`;
    throw new ConflictError("KeptRestorePoints", `disk ${disk.diskId} was protected before: ${holds}; ${ways}`);
  }
  if (kept.length > 0 && !choice.blobNameGiven) {
    throw new ConflictError("KeptRestorePoints", `disk ${disk.diskId} was protected before and has ${kept.length} kept RestorePoints; ${ways}`);
  }
  return kept.length > 0 ? { kept: { restorePoints: kept.length } } : {};
}

/** What to change to adopt kept RestorePoints of other blobs: the endpoint or container when none lies in the one asked for, else the blob name. */
function fieldsToAdopt(disk: ProtectedDiskConfig, elsewhere: readonly RestorePoint[]): string {
  const places = elsewhere.map((p) => locationFromUrl(p.targetBlobUrl));
  const endpoint = disk.target.blobEndpoint.toLowerCase();
  if (!places.some((l) => l.blobEndpoint.toLowerCase() === endpoint)) {
    return `target.blobEndpoint: adopt with the endpoint that holds them (${[...new Set(places.map((l) => l.blobEndpoint))].join(", ")}), not ${disk.target.blobEndpoint}`;
  }
  const inContainer = places.filter((l) => l.blobEndpoint.toLowerCase() === endpoint);
  if (!inContainer.some((l) => l.container === disk.target.container)) {
    return `target.container: adopt with the container that holds them (container ${[...new Set(inContainer.map((l) => l.container))].join(", ")}), not ${disk.target.container}`;
  }
  return "adopt with that blob's target.blobName (or leave target.blobName out)";
}

/**
 * True when the RestorePoint is kept: no protection's RetentionPolicy judges it — the disk is not protected, or its
 * protection judges other RestorePoints (a diff protection those of its TargetBlob, a managed one its managed
 * RestorePoints). A row that is not a usable ProtectedDisk still claims them (repairing it brings retention back).
 */
export function isKept(point: RestorePoint, protection: { readonly replication: string; readonly targetBlobUrl: string } | "invalid" | undefined): boolean {
  if (protection === "invalid") return false;
  if (!protection) return true;
  if (point.kind === "managed") return protection.replication !== "managed";
  return protection.replication !== "diff" || point.targetBlobUrl !== protection.targetBlobUrl;
}

/**
 * The RestorePoints of a disk as listed, as recorded, with which of them are kept (see isKept) — by id, beside the
 * records, so that each listed RestorePoint stays the record it is — and whether the disk is protected now.
 */
export async function describeRestorePoints(
  deps: Deps, diskKey: string, points: readonly RestorePoint[],
): Promise<{ restorePoints: readonly RestorePoint[]; protected: boolean; kept: string[] }> {
  const row = await deps.records.readDisk(diskKey);
  const protection = row.kind === "valid" ? { replication: row.config.replication, targetBlobUrl: deps.targets(row.config.target).url } : row.kind === "invalid" ? "invalid" : undefined;
  return { restorePoints: points, protected: row.kind !== "absent", kept: points.filter((point) => isKept(point, protection)).map((point) => point.restorePointId) };
}

/**
 * Changes how a disk is protected. Works on a row that is not a valid ProtectedDisk too: the update replaces the
 * columns it sets, and the row is written once the result is valid (else 409 naming what is still wrong).
 */
export async function updateDisk(deps: Deps, diskKey: string, update: ProtectedDiskUpdate): Promise<ProtectedDiskConfig | undefined> {
  const before = await deps.records.readDisk(diskKey);
  // Checked on the repaired configuration, before it is written.
  return deps.records.updateDisk(diskKey, update, async (next) => {
    const refusal = update.drill ? drillStorageProblem(next) : undefined;
    if (refusal) throw new InvalidProtectionError("InvalidRequest", `disk ${diskKey}: ${refusal}; unprotect it and protect it again with target.storageAccountId (its TargetBlob and RestorePoints stay)`);
    await refuseBadReplication(deps, next);
    if (before.kind === "valid" && before.config.replication !== "managed" && next.replication === "managed") await refuseKeptManaged(deps, next);
    if (update.retention || update.schedule || update.replication) await refuseBeyondPremiumSnapshots(deps, next);
  });
}

/**
 * A managed protection's retention judges every managed RestorePoint of the disk: one that becomes managed would take
 * kept managed RestorePoints (left by an earlier protection) under it, which only `adopt` may do.
 */
async function refuseKeptManaged(deps: Deps, next: ProtectedDiskConfig): Promise<void> {
  const managed = (await deps.records.listRestorePoints(next.diskKey)).filter((p) => p.kind === "managed");
  if (managed.length === 0) return;
  throw new ConflictError(
    "KeptRestorePoints",
    `replication: disk ${next.diskId} has ${managed.length} kept managed RestorePoints (target-region snapshots), which a managed protection's retention judges; to take them under it, unprotect the disk and protect it again with replication managed and "adopt": true (CLI --adopt), or keep replication diff`,
  );
}

/** Stops protecting a disk, also one whose row is unusable. Its RestorePoints and TargetBlob stay: they are the backups. */
export async function unprotectDisk(deps: Deps, diskKey: string): Promise<boolean> {
  const row = await deps.records.readDisk(diskKey);
  if (row.kind === "absent") return false;
  await deps.records.deleteDisk(diskKey);
  return true;
}

/** Thrown for a ProtectedDisk configuration the caller must change (the HTTP API answers 400), naming the field. */
export class InvalidProtectionError extends PermanentError {}

/** Thrown for a disk diskdelta cannot restore faithfully; the HTTP API answers it as 400. */
export class UnsupportedDiskError extends InvalidProtectionError {
  constructor(diskId: string, reason: string) {
    super("UnsupportedDisk", `diskId: disk ${diskId} cannot be protected: ${reason}`);
  }
}

/**
 * Refuses a replication the disk cannot have: `managed` without a managedTarget, or with the disk's own region as
 * the target (when the disk can be read now; the first run checks again).
 */
async function refuseBadReplication(deps: Deps, config: ProtectedDiskConfig): Promise<void> {
  const problems = replicationProblems(config);
  if (problems.length > 0) throw new InvalidProtectionError("InvalidRequest", problems.join("; "));
  if (config.replication !== "managed" || !config.managedTarget) return;
  const disk = await deps.compute.getDisk(diskRefOf(config)).catch(() => undefined);
  if (disk && sameRegion(disk.location, config.managedTarget.location)) {
    throw new InvalidProtectionError("InvalidRequest", `managedTarget.location: ${config.managedTarget.location} is the disk's own region; a managed copy goes to another region`);
  }
}

/**
 * Refuses disk types whose RestorePoints could not be restored as the same disk (Confidential VM, 4K sectors). A disk
 * that does not exist (yet) is left to the first run, which checks again before it copies anything.
 */
export async function refuseUnsupportedDisk(deps: Deps, disk: ProtectedDiskConfig): Promise<void> {
  const found = await deps.compute.getDisk(diskRefOf(disk)).catch((error: unknown) => {
    if (error instanceof PermanentError && error.code === "DiskNotFound") return undefined;
    throw error;
  });
  const reason = found && unsupportedDiskReason(found.properties);
  if (reason) throw new UnsupportedDiskError(disk.diskId, reason);
}

/**
 * A premium page blob keeps at most 100 snapshots and takes one per DISKDELTA_PREMIUM_SNAPSHOT_INTERVAL_SECONDS
 * (premiumPageBlobSnapshots): a RetentionPolicy that can keep more RestorePoints than leave room for the next run's
 * snapshot would fail that run, and a schedule starting runs closer than the interval would have each wait for it.
 * Refused when the TargetBlob's account says it is premium; one that cannot be asked now is left to the runs, which
 * get Azure's own answers.
 */
async function refuseBeyondPremiumSnapshots(deps: Deps, disk: ProtectedDiskConfig): Promise<void> {
  if (disk.replication === "managed") return;
  const account = await deps.targets(disk.target).account().catch(() => undefined);
  if (!account || !holdsPremiumPageBlobs(account)) return;
  const premium = `the TargetBlob's account ${disk.target.blobEndpoint} is premium (${account.skuName}), and Azure keeps at most ${premiumPageBlobSnapshots.maxPerBlob} snapshots of a premium page blob`;
  const room = premiumPageBlobSnapshots.maxPerBlob - 1;
  const kept = mostKept(disk.retention, disk.schedule, premiumPageBlobSnapshots.maxPerBlob, deps.now());
  if (kept > room) {
    const keeps = disk.retention.keepAll ? "keepAll keeps every RestorePoint" : `this RetentionPolicy keeps up to ${kept >= premiumPageBlobSnapshots.maxPerBlob ? `${kept} or more` : kept} RestorePoints on schedule "${disk.schedule}"`;
    throw new InvalidProtectionError("InvalidRequest", `retention: ${premium}, one of them taken by each backup before retention runs; ${keeps}: set retention.keepLast to ${room} or fewer (CLI --keep-last)`);
  }
  const intervalSeconds = deps.settings.DISKDELTA_PREMIUM_SNAPSHOT_INTERVAL_SECONDS;
  const { shortestGapMs } = judgeSpacing(disk.schedule, 0, 1, deps.now());
  if (shortestGapMs < intervalSeconds * 1000) {
    throw new InvalidProtectionError(
      "InvalidRequest",
      `schedule: the TargetBlob's account ${disk.target.blobEndpoint} is premium (${account.skuName}), and Azure takes one snapshot of a premium page blob every ${intervalSeconds} s (DISKDELTA_PREMIUM_SNAPSHOT_INTERVAL_SECONDS); "${disk.schedule}" starts backups ${Math.round(shortestGapMs / 1000)} s apart: choose a schedule at least ${intervalSeconds} s apart`,
    );
  }
}

/** The same TargetBlob: endpoints and containers compare case-insensitively, blob names exactly (as the service). */
function sameTarget(a: ProtectedDiskConfig["target"], b: ProtectedDiskConfig["target"]): boolean {
  return a.blobEndpoint.toLowerCase() === b.blobEndpoint.toLowerCase() && a.container === b.container && a.blobName === b.blobName;
}

async function refuseSharedTarget(deps: Deps, disk: ProtectedDiskConfig): Promise<void> {
  const { disks } = await deps.records.listDisks();
  const other = disks.find((d) => d.diskKey !== disk.diskKey && sameTarget(d.target, disk.target));
  const where = `${disk.target.container}/${disk.target.blobName}`;
  if (other) {
    throw new ConflictError("TargetBlobInUse", `target.blobName: TargetBlob ${where} is used by ProtectedDisk ${other.diskKey} (${other.diskId}); choose another target.blobName`);
  }
  // The blob's own stamp is the proof; a target that cannot be read now is left to the first run, which checks again.
  const found = await deps.targets(disk.target).inspect().catch(() => undefined);
  if (found && found.owner === undefined) {
    const target = deps.targets(disk.target);
    const ours = (await deps.records.listRestorePoints(disk.diskKey)).some((p) => p.targetBlobUrl === target.url);
    if (!ours) {
      throw new ConflictError("TargetBlobNotOurs", `target.blobName: blob ${where} exists and was not created by diskdelta for this disk; choose another target.blobName or delete that blob`);
    }
  }
  if (found?.owner !== undefined && found.owner !== disk.diskKey) {
    throw new ConflictError("TargetBlobInUse", `target.blobName: TargetBlob ${where} holds the backups of disk ${found.owner}, which is no longer protected; choose another target.blobName`);
  }
}
