/**
 * First step of a BackupRun: pick the SourceSnapshot (take one, or the next one someone else took), take the
 * TargetBlob's lease for this run, decide from the blob's own stamp whether the run can diff against the chain base
 * or must copy in full, size the TargetBlob, and queue the first CopyStep.
 * Safe to run twice: the snapshot is created by a name derived from the run, the lease id is derived from the run,
 * and a run already copying is only nudged (its current CopyStep re-queued).
 * A SourceSnapshot still copied in the background (`completionPercent` < 100) is waited for, not failed on: the run
 * stays `preparing` with the wait recorded, and looks again through a delayed run-start message.
 */
import { ConcurrencyError, PermanentError } from "../domain/errors";
import { hydrationRecheckSeconds, maxClearBytes, stalledAfterMs } from "../domain/limits";
import { unsupportedDiskReason } from "../domain/manifest";
import { type RunStartMessage, queueNames } from "../domain/messages";
import { type FullCopyReason, type ProtectedDiskConfig, diskRefOf, leaseIdOf } from "../domain/model";
import { withoutAbsent } from "../domain/objects";
import { PAGE_BYTES, TiB } from "../domain/ranges";
import { type BackupRun, type ChainBase, type PreparedRun, type RunIn, type RunView, type Versioned, unprovenTargetEtag } from "../domain/records";
import type { Delivery, Deps, DiskInfo, Log, SnapshotInfo, TargetBlob, TargetLease, TargetState } from "./deps";
import { startManagedCopy } from "./managed-copy";
import { updateState } from "./runs";

/** Tags on every snapshot diskdelta takes, so it only ever deletes its own. */
export const snapshotTags = { disk: "diskdelta-disk", run: "diskdelta-run" } as const;

/** How a run copies: the diff against the chain base the TargetBlob proves it holds, or everything, and why. */
type CopyPlan = { readonly diffFrom: ChainBase } | { readonly fullCopyReason: FullCopyReason };

export async function prepareRun(deps: Deps, message: RunStartMessage, log: Log, delivery: Delivery = { attempt: 1 }): Promise<void> {
  const { diskKey, runId } = message;
  const found = await deps.records.getRun(diskKey, runId);
  if (!found) return log.warn("run-start for an unknown BackupRun dropped", { diskKey, runId });
  const run = found.value;
  // Recorded as copying but the worker may have died before queueing the first step: queue it (again).
  if (run.state === "copying" && run.step === 0) return queueStep(deps, run);
  if (run.state !== "queued" && run.state !== "preparing") return log.info("stale run-start dropped", { diskKey, runId, state: run.state });
  if (preparedElsewhere(run, delivery, deps.now())) {
    const view: RunView = run;
    return log.info("run-start left to the delivery preparing the run", { diskKey, runId, claimedBy: view.claimedBy, since: run.updatedAt });
  }

  const config = await deps.records.getDisk(diskKey);
  if (!config) throw new PermanentError("DiskNotProtected", `disk ${diskKey} is no longer protected`);
  const disk = await deps.compute.getDisk(diskRefOf(config));
  // Protect refuses these too, but only for a disk it could read then (or a disk changed since).
  const unsupported = unsupportedDiskReason(disk.properties);
  if (unsupported) throw new PermanentError("UnsupportedDisk", `disk ${config.diskId} cannot be backed up: ${unsupported}`);
  const { value: state } = await deps.records.getState(diskKey);
  const source = await pickSourceSnapshot(deps, config, disk, state.base, runId);
  if (!source) {
    await finishWithoutWork(deps, { value: run, etag: found.etag }, "no new snapshot to replicate");
    return log.info("nothing to replicate", { diskKey, runId });
  }
  if (!source.incremental || source.familyId === undefined) {
    throw new PermanentError("SnapshotNotIncremental", `snapshot ${source.name} is not an incremental snapshot; diskdelta replicates only incremental ones`);
  }
  if (source.completionPercent < 100) return waitForHydration(deps, { value: run, etag: found.etag }, source, log);
  // Azure copies a managed disk's snapshot itself: no TargetBlob, no lease, no CopySteps.
  if (config.replication === "managed") return startManagedCopy(deps, { value: run, etag: found.etag }, config, disk, source, log);

  // Claim the run's preparation (ETag): of two deliveries racing here one goes on; the other stops before the blob.
  const unclaimed = claimed(run);
  const preparing: ClaimedRun = { ...unclaimed, ...withoutAbsent({ claimedBy: delivery.messageId }), updatedAt: deps.now().toISOString() };
  let preparingEtag = await putClaim(deps, preparing, found.etag, delivery);
  if (preparingEtag === undefined) return log.info("run-start raced a duplicate that claimed the run", { diskKey, runId });
  const { leasedTargetEtag: recorded, ...claim } = preparing;
  /** Records the claim with the TargetBlob's ETag as this delivery proved it under its lease (none: nothing proven). */
  const recordLeasedEtag = async (leasedTargetEtag: string | undefined): Promise<void> => {
    const etag = await putClaim(deps, { ...claim, ...withoutAbsent({ leasedTargetEtag }) }, preparingEtag!, delivery);
    if (etag === undefined) throw new ConcurrencyError(`preparation of BackupRun ${runId}`);
    preparingEtag = etag;
  };

  const sourceSas = await deps.compute.grantRead(source.id, deps.settings.DISKDELTA_SAS_DURATION_SECONDS);
  const blobBytes = await deps.source.contentLength(sourceSas);
  const target = deps.targets(config.target);
  const leased = { etag: recorded, forget: () => recordLeasedEtag(undefined) };
  const { lease, found: targetFound, kept } = await claimTarget(deps, target, config, runId, blobBytes, leased);
  const plan = await planCopy(deps, state.base, disk, source.familyId, source.sizeBytes, targetFound);
  // The proof a redelivery of this prepare needs once the shaping below has changed the blob's ETag: the ETag found
  // under this lease when it diffs, none when it copies in full.
  const leasedTargetEtag = "diffFrom" in plan ? targetFound?.etag : undefined;
  if (leasedTargetEtag !== (kept ? recorded : undefined)) await recordLeasedEtag(leasedTargetEtag);
  await shapeTarget(target, lease, config.diskKey, "diffFrom" in plan ? plan.diffFrom : undefined, blobBytes);
  if ("diffFrom" in plan) await deps.compute.grantRead(plan.diffFrom.snapshotId, deps.settings.DISKDELTA_SAS_DURATION_SECONDS);

  const { leasedTargetEtag: _leased, ...identity } = unclaimed;
  const prepared = {
    ...identity,
    state: "copying",
    updatedAt: deps.now().toISOString(),
    sourceSnapshotId: source.id,
    sourceSnapshotTime: source.timeCreated.toISOString(),
    diskUniqueId: disk.uniqueId,
    familyId: source.familyId,
    blobBytes,
    leaseId: lease.leaseId,
    step: 0,
    cursor: 0,
  } as const;
  const copying: RunIn<"copying"> = "diffFrom" in plan
    ? { ...prepared, baseSnapshotId: plan.diffFrom.snapshotId, targetWasEmpty: false }
    : { ...prepared, fullCopyReason: plan.fullCopyReason, targetWasEmpty: await target.isEmpty() };
  await deps.records.putRun(copying, preparingEtag);
  await queueStep(deps, copying);
  log.info("BackupRun prepared", { diskKey, runId, snapshot: source.name, blobBytes, fullCopyReason: copying.fullCopyReason ?? "none" });
}

/**
 * The SourceSnapshot is still copied in the background (Premium SSD v2, Ultra, CopyStart: usable only at 100 %). The
 * run waits in `preparing`, recording which snapshot, since when and how far it is, and this message completes: the
 * look after `hydrationRecheckSeconds` is a new run-start message sent with that visibility delay, so waiting uses
 * up no delivery. Each look refreshes `updatedAt`, so the timer's stall nudge leaves a live wait alone (and revives
 * a wait whose message was lost). Past DISKDELTA_HYDRATION_TIMEOUT_MINUTES on the same snapshot the run fails.
 */
async function waitForHydration(deps: Deps, found: Versioned<RunIn<"queued" | "preparing">>, source: SnapshotInfo, log: Log): Promise<void> {
  const { value: run, etag } = found;
  const { diskKey, runId } = run;
  const now = deps.now();
  const view: RunView = run;
  const sameWait = view.waitingForSnapshotId?.toLowerCase() === source.id.toLowerCase() && view.waitingSince !== undefined;
  const waitingSince = sameWait && view.waitingSince !== undefined ? view.waitingSince : now.toISOString();
  const waitedMinutes = Math.floor((now.getTime() - Date.parse(waitingSince)) / 60_000);
  const timeout = deps.settings.DISKDELTA_HYDRATION_TIMEOUT_MINUTES;
  if (waitedMinutes >= timeout) {
    throw new PermanentError(
      "HydrationTimeout",
      `snapshot ${source.name} is ${source.completionPercent}% hydrated after ${waitedMinutes} minutes (DISKDELTA_HYDRATION_TIMEOUT_MINUTES is ${timeout}); check its copy (completionPercent, copyCompletionError) and start a new run`,
    );
  }
  // Another look recorded moments ago already queued the next one: this message is a duplicate, not a second chain.
  if (sameWait && now.getTime() - Date.parse(run.updatedAt) < (hydrationRecheckSeconds * 1000) / 2) {
    return log.info("duplicate hydration check dropped", { diskKey, runId, snapshot: source.name });
  }
  const waiting: RunIn<"preparing"> = {
    ...claimed(run),
    waitingForSnapshotId: source.id,
    waitingSince,
    completionPercent: source.completionPercent,
    updatedAt: now.toISOString(),
  };
  try {
    await deps.records.putRun(waiting, etag);
  } catch (error) {
    if (!(error instanceof ConcurrencyError)) throw error;
    return log.info("hydration check raced a duplicate", { diskKey, runId });
  }
  await deps.queues.send(queueNames.runStarts, { diskKey, runId }, hydrationRecheckSeconds);
  log.info("waiting for snapshot hydration", { diskKey, runId, snapshot: source.name, completionPercent: source.completionPercent, waitingSince });
}

/**
 * True when another message's delivery claimed the run's preparation less than `stalledAfterMs` ago: it is preparing
 * the run (or died doing it, and its message's redelivery takes over), so this delivery, a duplicate, does not
 * prepare it a second time and take the claim away mid-way. A claim that old is stalled: the timer's nudge, a new
 * message, takes it over.
 */
function preparedElsewhere(run: RunIn<"queued" | "preparing">, delivery: Delivery, now: Date): boolean {
  if (run.state !== "preparing" || run.waitingForSnapshotId !== undefined || run.waitingForCopySlot !== undefined) return false;
  if (run.claimedBy === undefined || run.claimedBy === delivery.messageId) return false;
  return now.getTime() - Date.parse(run.updatedAt) < stalledAfterMs;
}

/**
 * Records the claim (ETag-conditional) and answers its new ETag, or undefined when another delivery changed the run
 * first. The write that conflicted may be this one's own, stored before its answer was lost and retried: then go on.
 */
async function putClaim(deps: Deps, claim: ClaimedRun, etag: string, delivery: Delivery): Promise<string | undefined> {
  return deps.records.putRun(claim, etag).catch(async (error: unknown) => {
    if (!(error instanceof ConcurrencyError)) throw error;
    const now = await deps.records.getRun(claim.diskKey, claim.runId);
    const own = now && ownClaim(now.value, delivery) && now.value.updatedAt === claim.updatedAt && now.value.leasedTargetEtag === claim.leasedTargetEtag;
    return own ? now.etag : undefined;
  });
}

/** True when the run is claimed, waiting for nothing, by this delivery's message. */
function ownClaim(run: BackupRun, delivery: Delivery): run is ClaimedRun {
  return run.state === "preparing" && run.waitingForSnapshotId === undefined && run.waitingForCopySlot === undefined
    && delivery.messageId !== undefined && run.claimedBy === delivery.messageId;
}

/** A `preparing` run that waits for nothing. */
type ClaimedRun = Extract<RunIn<"preparing">, { waitingForSnapshotId?: undefined; waitingForCopySlot?: undefined }>;

/** The run as prepare claims it once its snapshot is usable (or to record a new wait): `preparing`, any wait over. */
export function claimed(run: RunIn<"queued" | "preparing">): ClaimedRun {
  const { waitingForSnapshotId: _snapshot, waitingSince: _since, completionPercent: _percent, waitingForCopySlot: _slot, claimedBy: _by, ...rest }: RunView = run;
  return { ...rest, state: "preparing" };
}

/**
 * Makes the TargetBlob this run's: creates it (owned by this disk, holding nothing) when missing, refuses one owned
 * by another ProtectedDisk, and takes its lease, which fences off every earlier run's writers. Returns the blob as
 * found before (undefined when this call created it), its ETag the one `leased` recorded when the lease proves it
 * (`kept`), and the lease.
 */
async function claimTarget(
  deps: Deps, target: TargetBlob, config: ProtectedDiskConfig, runId: string, blobBytes: number, leased: LeasedEtag,
): Promise<{ lease: TargetLease; found: TargetState | undefined; kept: boolean }> {
  const before = await target.inspect();
  if (!before) await target.create(blobBytes, config.diskKey);
  // The owner is checked before the lease is taken: breaking the lease of another disk's run would disturb it.
  await refuseOtherOwner(deps, target, config, before ?? (await target.inspect()));
  // Only the disk's active run may break a lease: a prepare that stalled until its run ended must not take the blob.
  const { value: state } = await deps.records.getState(config.diskKey);
  if (state.activeRunId !== runId) throw new PermanentError("RunNotActive", `BackupRun ${runId} no longer holds disk ${config.diskKey}; its prepare stops`);
  // A redelivered prepare: the ETag recorded when an earlier delivery took the lease stands only while that lease
  // is still held. Renew Lease proves it and keeps it: it is not taken again (a broken lease could be taken again by
  // its id, hiding the break); a break after the renewal fails this prepare's writes, and its redelivery copies in full.
  // Otherwise the record is written without it before the lease is taken (again): an ETag recorded under an earlier
  // taking never stands for this one, and that write (ETag-checked) stops any other delivery of this prepare that
  // recorded since — or a stalled one, once the run has moved on — before it takes the lease.
  const kept = leased.etag !== undefined && (await target.etagUnderLease({ leaseId: leaseIdOf(runId) })) !== undefined;
  if (!kept) await leased.forget();
  const lease = kept ? { leaseId: leaseIdOf(runId) } : await target.acquireLease(leaseIdOf(runId));
  const found = await target.inspect();
  if (!found) throw new Error(`TargetBlob ${target.url} vanished while this run took its lease; retrying`);
  await refuseOtherOwner(deps, target, config, found);
  return { lease, found: before && (kept && leased.etag !== undefined ? { ...found, etag: leased.etag } : found), kept };
}

/** The TargetBlob's ETag an earlier delivery of this prepare recorded under its lease (if one did), and how to forget it. */
interface LeasedEtag {
  readonly etag: string | undefined;
  readonly forget: () => Promise<void>;
}

/**
 * A blob stamped with another owner is refused. So is an existing blob with no owner stamp, unless this disk's own
 * RestorePoints are snapshots of it (a blob written before owners were stamped): it may be anyone's data.
 */
async function refuseOtherOwner(deps: Deps, target: TargetBlob, config: ProtectedDiskConfig, found: TargetState | undefined): Promise<void> {
  if (!found || found.owner === config.diskKey) return;
  if (found.owner !== undefined) {
    throw new PermanentError("TargetBlobInUse", `TargetBlob ${target.url} belongs to ProtectedDisk ${found.owner}; give disk ${config.diskKey} its own target.blobName`);
  }
  const ours = (await deps.records.listRestorePoints(config.diskKey)).some((p) => p.targetBlobUrl === target.url);
  if (!ours) {
    throw new PermanentError("TargetBlobNotOurs", `TargetBlob ${target.url} exists and was not created by diskdelta for disk ${config.diskKey}; it is left untouched: choose another target.blobName or delete that blob`);
  }
}

/**
 * Brings the TargetBlob to the shape this run writes into. A full copy first withdraws the blob's claim to hold any
 * snapshot, before anything is written, so a run that dies midway leaves a blob the next run will not diff into. A
 * diff keeps the claim (it writes only the base's diff, which every later diff from the base rewrites) and clears
 * what lies past the base's disk end: the base's VHD footer and anything an earlier failed run wrote there.
 */
async function shapeTarget(target: TargetBlob, lease: TargetLease, owner: string, base: ChainBase | undefined, blobBytes: number): Promise<void> {
  if (!base) await target.setStamp({ owner }, lease);
  else await target.setStamp({ owner, holds: { snapshotId: base.snapshotId, blobBytes: base.sizeBytes + PAGE_BYTES } }, lease);
  await target.resize(blobBytes, lease);
  if (base && base.sizeBytes + PAGE_BYTES !== blobBytes) {
    for (let start = base.sizeBytes; start < blobBytes - PAGE_BYTES; start += maxClearBytes) {
      await target.clear({ start, end: Math.min(start + maxClearBytes, blobBytes - PAGE_BYTES) }, lease);
    }
  }
}

function queueStep(deps: Deps, run: PreparedRun): Promise<void> {
  const { diskKey, runId, step, cursor } = run;
  return deps.queues.send(queueNames.copySteps, { diskKey, runId, step, cursor, windowBytes: deps.settings.DISKDELTA_DIFF_WINDOW_BYTES });
}

/** Mode `create` takes an incremental snapshot; mode `existing` takes the oldest one newer than the base. */
async function pickSourceSnapshot(
  deps: Deps, config: ProtectedDiskConfig, disk: DiskInfo, base: ChainBase | undefined, runId: string,
): Promise<SnapshotInfo | undefined> {
  if (config.snapshotMode === "create") {
    const name = `${disk.ref.name.slice(0, 50)}-dd-${runId}`;
    return deps.compute.createIncrementalSnapshot(disk, name, { [snapshotTags.disk]: config.diskKey, [snapshotTags.run]: runId });
  }
  const snapshots = await deps.compute.listDiskSnapshots(disk);
  const sameChain = base && base.diskUniqueId === disk.uniqueId;
  const after = sameChain ? Date.parse(base.timeCreated) : -Infinity;
  return snapshots.find((s) => s.timeCreated.getTime() > after && s.id.toLowerCase() !== base?.snapshotId.toLowerCase());
}

/**
 * The run diffs against the chain base only when the TargetBlob's own stamp says it holds the base (same snapshot,
 * same size), whatever the records say, and its ETag is the one proven with the base (nothing wrote it since);
 * otherwise it copies in full, saying why.
 */
async function planCopy(
  deps: Deps, base: ChainBase | undefined, disk: DiskInfo, familyId: string, sourceBytes: number, target: TargetState | undefined,
): Promise<CopyPlan> {
  const full = (fullCopyReason: FullCopyReason): CopyPlan => ({ fullCopyReason });
  if (!base) return full("first-run");
  if (!target) return full("target-missing");
  const holds = target.holds;
  if (!holds || holds.snapshotId.toLowerCase() !== base.snapshotId.toLowerCase() || holds.blobBytes !== base.sizeBytes + PAGE_BYTES) {
    return full("target-not-at-base");
  }
  // Written since the base was proven (pages, size or metadata, by anyone but diskdelta's runs): not the base.
  if (base.targetEtag === unprovenTargetEtag) return full("target-unproven");
  if (base.targetEtag !== undefined && target.etag !== base.targetEtag) return full("target-changed");
  if (base.diskUniqueId !== disk.uniqueId || base.familyId !== familyId) return full("disk-recreated");
  if (base.sizeBytes <= 4 * TiB && sourceBytes > 4 * TiB) return full("crossed-4tib");
  const baseSnapshot = await deps.compute.getSnapshot(base.snapshotId);
  if (!baseSnapshot) return full("base-missing");
  return { diffFrom: base };
}

async function finishWithoutWork(deps: Deps, found: Versioned<RunIn<"queued" | "preparing">>, note: string): Promise<void> {
  const ended = deps.now().toISOString();
  await deps.records.putRun({ ...found.value, state: "succeeded", note, endedAt: ended, updatedAt: ended }, found.etag);
  await updateState(deps, found.value.diskKey, (state) =>
    state.activeRunId === found.value.runId ? { ...state, activeRunId: undefined, lastRunState: "succeeded" } : undefined,
  );
}
