/**
 * First step of a BackupRun: pick the SourceSnapshot (take one, or the next one someone else took), decide whether
 * the run can diff against the chain base or must copy in full, size the TargetBlob, and queue the first CopyStep.
 * Safe to run twice: the snapshot is created by a name derived from the run, and a run already copying is only
 * nudged (its current CopyStep re-queued).
 */
import type { DiskInfo, SnapshotInfo } from "../adapters/compute";
import { queueNames } from "../adapters/queues";
import { PermanentError } from "../domain/errors";
import { type CopyStepMessage, type FullCopyReason, type ProtectedDiskConfig, type RunStartMessage, parseDiskId } from "../domain/model";
import { PAGE_BYTES, TiB } from "../domain/ranges";
import type { BackupRun, ChainBase } from "../domain/records";
import type { Deps, Log } from "./deps";
import { updateState } from "./runs";

/** Tags on every snapshot diskdelta takes, so it only ever deletes its own. */
export const snapshotTags = { disk: "diskdelta-disk", run: "diskdelta-run" } as const;

export async function prepareRun(deps: Deps, message: RunStartMessage, log: Log): Promise<void> {
  const { diskKey, runId } = message;
  const found = await deps.records.getRun(diskKey, runId);
  if (!found) return log.warn("run-start for an unknown BackupRun dropped", { diskKey, runId });
  const run = found.value;
  // Recorded as copying but the worker may have died before queueing the first step: queue it (again).
  if (run.state === "copying" && run.step === 0) return queueStep(deps, run);
  if (run.state !== "queued" && run.state !== "preparing") return log.info("stale run-start dropped", { diskKey, runId, state: run.state });

  const config = await deps.records.getDisk(diskKey);
  if (!config) throw new PermanentError("DiskNotProtected", `disk ${diskKey} is no longer protected`);
  const disk = await deps.compute.getDisk(parseDiskId(config.diskId)!);
  const { value: state } = await deps.records.getState(diskKey);
  const source = await pickSourceSnapshot(deps, config, disk, state.base, runId);
  if (!source) {
    await finishWithoutWork(deps, found, "no new snapshot to replicate");
    return log.info("nothing to replicate", { diskKey, runId });
  }
  if (source.completionPercent < 100) {
    throw new Error(`snapshot ${source.name} is ${source.completionPercent}% complete; retrying later`);
  }

  const target = deps.targets(config.target);
  const sourceSas = await deps.compute.grantRead(source.id, deps.settings.DISKDELTA_SAS_DURATION_SECONDS);
  const blobBytes = await deps.source.contentLength(sourceSas);
  const targetBytes = await target.size();
  const fullCopyReason = await chooseFullCopy(deps, state.base, disk, source, targetBytes);
  const { created } = await target.ensureSize(blobBytes);
  if (!fullCopyReason && state.base && targetBytes !== undefined && targetBytes !== blobBytes) {
    // The disk grew: the old VHD footer page is now disk space that reads as zeros in the source.
    await target.clear({ start: targetBytes - PAGE_BYTES, end: targetBytes });
  }
  if (!fullCopyReason) await deps.compute.grantRead(state.base!.snapshotId, deps.settings.DISKDELTA_SAS_DURATION_SECONDS);

  const updated: BackupRun = {
    ...run,
    state: "copying",
    updatedAt: deps.now().toISOString(),
    sourceSnapshotId: source.id,
    sourceSnapshotTime: source.timeCreated.toISOString(),
    diskUniqueId: disk.uniqueId,
    familyId: source.familyId,
    blobBytes,
    baseSnapshotId: fullCopyReason ? undefined : state.base!.snapshotId,
    fullCopyReason,
    targetWasEmpty: created,
    step: 0,
    cursor: 0,
  };
  await deps.records.putRun(updated, found.etag);
  await queueStep(deps, updated);
  log.info("BackupRun prepared", { diskKey, runId, snapshot: source.name, blobBytes, fullCopyReason: fullCopyReason ?? "none" });
}

function queueStep(deps: Deps, run: BackupRun): Promise<void> {
  const step: CopyStepMessage = {
    v: 1, kind: "copy-step", diskKey: run.diskKey, runId: run.runId, step: run.step, cursor: run.cursor,
    windowBytes: deps.settings.DISKDELTA_DIFF_WINDOW_BYTES,
  };
  return deps.queues.send(queueNames.copySteps, step);
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

/** Why this run cannot diff against the chain base, or undefined when it can. */
async function chooseFullCopy(
  deps: Deps, base: ChainBase | undefined, disk: DiskInfo, source: SnapshotInfo, targetBytes: number | undefined,
): Promise<FullCopyReason | undefined> {
  if (!base) return "first-run";
  if (targetBytes === undefined) return "target-missing";
  if (base.diskUniqueId !== disk.uniqueId || base.familyId !== source.familyId) return "disk-recreated";
  if (base.sizeBytes <= 4 * TiB && source.sizeBytes > 4 * TiB) return "crossed-4tib";
  const baseSnapshot = await deps.compute.getSnapshot(base.snapshotId);
  if (!baseSnapshot) return "base-missing";
  return undefined;
}

async function finishWithoutWork(deps: Deps, found: { value: BackupRun; etag: string }, note: string): Promise<void> {
  const ended = deps.now().toISOString();
  await deps.records.putRun({ ...found.value, state: "succeeded", note, endedAt: ended, updatedAt: ended }, found.etag);
  await updateState(deps, found.value.diskKey, (state) =>
    state.activeRunId === found.value.runId ? { ...state, activeRunId: undefined, lastRunState: "succeeded" } : undefined,
  );
}
