/**
 * The one result of a VM drill, recorded once every member's DrillRun has ended: succeeded when every disk compared
 * equal (the RTO is the slowest disk's), failed otherwise, naming each disk that failed. Called at every member's end
 * and by the timer, so that a worker dying between a member's end and this record leaves nothing unrecorded; the
 * ETag makes it happen once.
 */
import { ConcurrencyError } from "../domain/errors";
import type { DrillRun, VmDrillRun } from "../domain/records";
import { diskText } from "../domain/vm-groups";
import type { Deps, Log } from "./deps";

/** Records the VM drill's result if every member has ended and no one has recorded it yet; else does nothing. */
export async function settleVmDrill(deps: Deps, vmKey: string, vmDrillId: string, log: Log): Promise<VmDrillRun | undefined> {
  const found = await deps.records.getVmDrill(vmKey, vmDrillId);
  if (!found || found.value.state !== "running") return found?.value;
  const vmDrill = found.value;
  const members: DrillRun[] = [];
  for (const diskKey of vmDrill.diskKeys.split(",")) {
    const member = (await deps.records.getDrill(diskKey, vmDrillId))?.value;
    if (!member || member.state === "restoring" || member.state === "verifying") return vmDrill;
    members.push(member);
  }
  const now = deps.now().toISOString();
  const ended = await endOf(deps, vmDrill, members, now);
  try {
    await deps.records.putVmDrill(ended, found.etag);
  } catch (error) {
    // Another member's end (or the timer) recorded it in between.
    if (error instanceof ConcurrencyError) return (await deps.records.getVmDrill(vmKey, vmDrillId))?.value;
    throw error;
  }
  const dimensions = { vmKey };
  if (ended.state === "succeeded") {
    deps.metrics.record("diskdelta.drill.succeeded", 1, dimensions);
    deps.metrics.record("diskdelta.drill.rto_seconds", ended.rtoSeconds, dimensions);
    log.info("VM drill succeeded", { vmKey, vmDrillId, rtoSeconds: ended.rtoSeconds, slowestDiskKey: ended.slowestDiskKey });
  } else {
    deps.metrics.record("diskdelta.drill.failed", 1, dimensions);
    log.error("VM drill failed", { vmKey, vmDrillId, error: ended.error });
  }
  return ended;
}

async function endOf(deps: Deps, vmDrill: VmDrillRun, members: readonly DrillRun[], now: string): Promise<Extract<VmDrillRun, { state: "succeeded" | "failed" }>> {
  const base = { ...vmDrill, endedAt: now, updatedAt: now };
  const failed = members.filter((m): m is Extract<DrillRun, { state: "failed" }> => m.state === "failed");
  if (failed.length) {
    const named = await Promise.all(failed.map(async (m) => `${await memberText(deps, m.diskKey)}: ${m.error}`));
    const [first] = failed;
    return {
      ...base,
      state: "failed",
      error: `${failed.length} of ${members.length} disks failed their drill: ${named.join("; ")}`,
      failedDiskKey: first.diskKey,
      ...(first.firstDifferingByte !== undefined ? { firstDifferingByte: first.firstDifferingByte } : {}),
    };
  }
  const succeeded = members as Extract<DrillRun, { state: "succeeded" }>[];
  const slowest = succeeded.reduce((a, b) => (b.rtoSeconds > a.rtoSeconds ? b : a));
  return {
    ...base,
    state: "succeeded",
    usableSeconds: Math.max(...succeeded.map((m) => m.usableSeconds)),
    rtoSeconds: slowest.rtoSeconds,
    slowestDiskKey: slowest.diskKey,
  };
}

/** "disk-data1 (data, lun 1)" for a disk of the set; its diskKey when it is no longer protected. */
async function memberText(deps: Deps, diskKey: string): Promise<string> {
  const config = await deps.records.getDisk(diskKey);
  if (!config?.vmGroup) return `disk ${diskKey}`;
  const { role, lun } = config.vmGroup;
  return diskText({ diskKey, diskId: config.diskId, role, ...(lun !== undefined ? { lun } : {}) });
}
