/**
 * A VM's disk set (`protect-vm`) and its RestorePoint groups: the RestorePoints of the set's disks that share a
 * `groupTime` (one scheduled tick, or one `sync-vm`), and which group a VM restore uses. Pure.
 */
import type { VmMember } from "./model";
import type { RestorePoint } from "./records";

/** One disk of a VM's disk set, as a ProtectedDisk. */
export interface VmSetDisk {
  readonly diskKey: string;
  readonly diskId: string;
  readonly role: VmMember["role"];
  readonly lun?: number;
}

/** The RestorePoints of one groupTime: every disk's, or the disks that have none named. */
export interface VmRestorePointGroup {
  readonly groupTime: string;
  readonly complete: boolean;
  readonly restorePoints: readonly (VmSetDisk & { readonly restorePoint: RestorePoint })[];
  readonly missing: readonly VmSetDisk[];
}

/** OS disk first, then data disks by lun: the order a VM attaches them. */
export function bySetOrder(a: Pick<VmSetDisk, "role" | "lun">, b: Pick<VmSetDisk, "role" | "lun">): number {
  if (a.role !== b.role) return a.role === "os" ? -1 : 1;
  return (a.lun ?? 0) - (b.lun ?? 0);
}

/** Groups the set's RestorePoints by groupTime, newest first; RestorePoints taken outside a group are left out. */
export function groupRestorePoints(disks: readonly VmSetDisk[], pointsByDisk: ReadonlyMap<string, readonly RestorePoint[]>): VmRestorePointGroup[] {
  const times = new Set<string>();
  for (const disk of disks) for (const point of pointsByDisk.get(disk.diskKey) ?? []) if (point.groupTime) times.add(point.groupTime);
  const ordered = [...disks].sort(bySetOrder);
  return [...times]
    .sort((a, b) => Date.parse(b) - Date.parse(a))
    .map((groupTime) => {
      const restorePoints: (VmSetDisk & { restorePoint: RestorePoint })[] = [];
      const missing: VmSetDisk[] = [];
      for (const disk of ordered) {
        const point = (pointsByDisk.get(disk.diskKey) ?? []).find((p) => p.groupTime === groupTime);
        if (point) restorePoints.push({ ...disk, restorePoint: point });
        else missing.push(disk);
      }
      return { groupTime, complete: missing.length === 0, restorePoints, missing };
    });
}

/** The group a VM restore uses, with the newer incomplete groups it passed over; or why there is none. */
export type GroupChoice =
  | { readonly ok: true; readonly group: VmRestorePointGroup; readonly passedOver: readonly VmRestorePointGroup[] }
  | { readonly ok: false; readonly reason: string };

/**
 * The newest group at or before `at` ("latest": any) whose every disk has a RestorePoint; with `allowPartial`, the
 * newest group at or before `at` even if some disk has none (those disks are then not restored).
 */
export function chooseGroup(groups: readonly VmRestorePointGroup[], at: "latest" | Date, allowPartial: boolean): GroupChoice {
  const eligible = groups.filter((g) => at === "latest" || Date.parse(g.groupTime) <= at.getTime());
  const when = at === "latest" ? "" : ` at or before ${at.toISOString()}`;
  if (!eligible.length) return { ok: false, reason: `no RestorePoint group${when}${groups.length ? ` (the oldest is ${groups[groups.length - 1].groupTime})` : ""}` };
  const index = allowPartial ? 0 : eligible.findIndex((g) => g.complete);
  if (index < 0) {
    const newest = eligible[0];
    return {
      ok: false,
      reason:
        `no complete RestorePoint group${when}: the newest, ${newest.groupTime}, has no RestorePoint of ${missingText(newest)}; ` +
        "restore the disks that have one with --allow-partial, or choose another --at",
    };
  }
  return { ok: true, group: eligible[index], passedOver: eligible.slice(0, index) };
}

/** "disk-data1 (data, lun 1), …" */
export function missingText(group: VmRestorePointGroup): string {
  return group.missing.map(diskText).join(", ");
}

export function diskText(disk: VmSetDisk): string {
  const name = disk.diskId.split("/").at(-1) ?? disk.diskId;
  return `${name} (${disk.role === "os" ? "OS disk" : `data, lun ${disk.lun}`})`;
}
