/** A VM's RestorePoint groups and which one a VM restore uses; the az command that recreates the VM. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { vmCreateCommand } from "../../src/cli/format";
import type { RestorePoint } from "../../src/domain/records";
import { type VmSetDisk, chooseGroup, groupRestorePoints } from "../../src/domain/vm-groups";

const diskId = (name: string) => `/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/disks/${name}`;
const disks: VmSetDisk[] = [
  { diskKey: "d1", diskId: diskId("data1"), role: "data", lun: 1 },
  { diskKey: "os", diskId: diskId("os"), role: "os" },
  { diskKey: "d0", diskId: diskId("data0"), role: "data", lun: 0 },
];
const point = (diskKey: string, groupTime: string | undefined): RestorePoint =>
  ({ diskKey, restorePointId: `${diskKey}@${groupTime ?? "alone"}`, ...(groupTime ? { groupTime } : {}) }) as RestorePoint;
const t1 = "2026-01-15T10:00:00.000Z";
const t2 = "2026-01-15T14:00:00.000Z";
const t3 = "2026-01-15T18:00:00.000Z";
const groups = groupRestorePoints(
  disks,
  new Map([
    ["os", [point("os", t3), point("os", t2), point("os", t1), point("os", undefined)]],
    ["d0", [point("d0", t2), point("d0", t1)]],
    ["d1", [point("d1", t3), point("d1", t2), point("d1", t1)]],
  ]),
);

describe("VM RestorePoint groups", () => {
  it("when RestorePoints share a groupTime, then they make one group, newest first, OS disk first and data disks by lun", () => {
    assert.deepEqual(groups.map((g) => [g.groupTime, g.complete]), [[t3, false], [t2, true], [t1, true]]);
    assert.deepEqual(groups[1].restorePoints.map((p) => p.diskKey), ["os", "d0", "d1"]);
    assert.deepEqual(groups[0].missing.map((d) => d.diskKey), ["d0"]);
  });

  it("when the newest group lacks a disk, then the newest complete group is used and the passed-over one named", () => {
    const choice = chooseGroup(groups, "latest", false);
    assert.ok(choice.ok);
    assert.deepEqual([choice.group.groupTime, choice.passedOver.map((g) => g.groupTime)], [t2, [t3]]);
  });

  it("when a time is given, then the newest complete group at or before it is used", () => {
    const choice = chooseGroup(groups, new Date("2026-01-15T13:59:59Z"), false);
    assert.ok(choice.ok);
    assert.equal(choice.group.groupTime, t1);
  });

  it("when no complete group is at or before the time, then the missing disk is named, and allowPartial takes the partial group", () => {
    const partialOnly = groups.filter((g) => g.groupTime === t3);
    const refused = chooseGroup(partialOnly, "latest", false);
    assert.ok(!refused.ok);
    assert.match(refused.reason, /the newest, 2026-01-15T18:00:00.000Z, has no RestorePoint of data0 \(data, lun 0\)/);
    const partial = chooseGroup(partialOnly, "latest", true);
    assert.ok(partial.ok);
    assert.equal(partial.group.groupTime, t3);
  });

  it("when the time is before every group, then that is said", () => {
    const refused = chooseGroup(groups, new Date("2026-01-01T00:00:00Z"), false);
    assert.ok(!refused.ok);
    assert.match(refused.reason, /no RestorePoint group at or before 2026-01-01T00:00:00.000Z \(the oldest is 2026-01-15T10:00:00.000Z\)/);
  });
});

describe("vmCreateCommand", () => {
  const restored = (role: "os" | "data", name: string, lun?: number) => ({ role, newDiskId: diskId(`restored-${name}`), ...(lun !== undefined ? { lun } : {}) });
  const where = { resourceGroup: "rg-dr", location: "northeurope" };

  it("when a Trusted Launch VM's disks are restored, then the command attaches them in lun order with secure boot and vTPM", () => {
    const command = vmCreateCommand({ disks: [restored("data", "b", 3), restored("os", "os"), restored("data", "a", 0)], boot: { vmName: "restored-vm1", osType: "Linux", securityType: "TrustedLaunch" } }, where);
    assert.equal(
      command,
      `az vm create --resource-group rg-dr --name restored-vm1 --location northeurope \\\n  --attach-os-disk ${diskId("restored-os")} \\\n  ` +
        `--attach-data-disks ${diskId("restored-a")} ${diskId("restored-b")} \\\n  --os-type linux \\\n  ` +
        "--security-type TrustedLaunch --enable-secure-boot true --enable-vtpm true\n" +
        "# az attaches the data disks at luns 0..1 in this order; the source VM had them at luns 0, 3.",
    );
  });

  it("when no OS disk was restored, then there is no command", () => {
    assert.equal(vmCreateCommand({ disks: [restored("data", "a", 0)], boot: { vmName: "vm" } }, where), undefined);
  });
});
