/**
 * VMs on the local stack: created by the control call (in-process and over HTTP), read through the real
 * `@azure/arm-compute` `virtualMachines.get`; the disks they hold report `managedBy` and `diskState` Attached.
 */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import type { ComputeManagementClient, Disk } from "@azure/arm-compute";
import { DiskControlClient, VirtualMachineControlClient } from "../../emulator/disks/control-client";
import { armFailure, fastPolling, resourceGroup, createDiskWith } from "../support/disk-emulator-server";
import { computeClient, useTestStack } from "../support/stack";

describe("virtual machines", () => {
  const stack = useTestStack();
  let compute: ComputeManagementClient;
  let location: string;

  const createDisk = (name: string, more: Partial<Disk> = {}): Promise<Disk> => createDiskWith(compute, location, name, more);

  before(() => {
    compute = computeClient(stack());
    location = stack().arm.location;
  });

  test("when a Trusted Launch VM is created with an OS disk and two data disks, then virtualMachines.get shows them and the disks report managedBy", async () => {
    const os = await createDisk("vm1-os", { osType: "Linux", hyperVGeneration: "V2", securityProfile: { securityType: "TrustedLaunch" }, zones: ["1"] });
    const data0 = await createDisk("vm1-data0");
    const data1 = await createDisk("vm1-data1");
    const created = await stack().createVirtualMachine({
      resourceGroup,
      name: "vm1",
      vmSize: "Standard_D4s_v5",
      osDiskId: os.id ?? "",
      dataDisks: [
        { lun: 0, diskId: data0.id ?? "" },
        { lun: 3, diskId: data1.id ?? "" },
      ],
    });
    assert.match(created.id, /\/resourceGroups\/rg-diskdelta\/providers\/Microsoft\.Compute\/virtualMachines\/vm1$/);

    const vm = await compute.virtualMachines.get(resourceGroup, "vm1");
    assert.deepEqual([vm.id, vm.name, vm.location, vm.zones, vm.hardwareProfile?.vmSize], [created.id, "vm1", location, ["1"], "Standard_D4s_v5"]);
    assert.deepEqual([vm.securityProfile?.securityType, vm.securityProfile?.uefiSettings?.vTpmEnabled], ["TrustedLaunch", true]);
    const osDisk = vm.storageProfile?.osDisk;
    assert.deepEqual([osDisk?.name, osDisk?.osType, osDisk?.createOption, osDisk?.managedDisk?.id], ["vm1-os", "Linux", "Attach", os.id]);
    assert.deepEqual(
      vm.storageProfile?.dataDisks?.map((d) => [d.lun, d.name, d.createOption, d.managedDisk?.id]),
      [
        [0, "vm1-data0", "Attach", data0.id],
        [3, "vm1-data1", "Attach", data1.id],
      ],
    );
    for (const name of ["vm1-os", "vm1-data0", "vm1-data1"]) {
      const disk = await compute.disks.get(resourceGroup, name);
      assert.deepEqual([disk.managedBy, disk.diskState], [created.id, "Attached"], name);
    }

    const deleteAttached = await armFailure(() => compute.disks.beginDeleteAndWait(resourceGroup, "vm1-data0", fastPolling));
    assert.deepEqual([deleteAttached.status, deleteAttached.code], [409, "OperationNotAllowed"]);
    // A VM writes its attached disks, and they can be snapshotted.
    stack().disks.writeSeeded(data0.id ?? "", 0, 4096, 7);
    await compute.snapshots.beginCreateOrUpdateAndWait(
      resourceGroup,
      "vm1-data0-snap",
      { location, incremental: true, creationData: { createOption: "Copy", sourceResourceId: data0.id } },
      fastPolling,
    );

    await stack().deleteVirtualMachine(resourceGroup, "vm1");
    const gone = await armFailure(() => compute.virtualMachines.get(resourceGroup, "vm1"));
    assert.deepEqual([gone.status, gone.code], [404, "ResourceNotFound"]);
    const detached = await compute.disks.get(resourceGroup, "vm1-data0");
    assert.deepEqual([detached.managedBy, detached.diskState], [undefined, "Unattached"]);
  });

  test("when a VM would take a missing disk, a disk already attached, or a missing group, then it is refused and nothing is attached", async () => {
    const os = await createDisk("vm2-os");
    const missing = os.id?.replace("vm2-os", "no-such-disk") ?? "";
    await assert.rejects(stack().createVirtualMachine({ resourceGroup, name: "vm2", osDiskId: os.id ?? "", dataDisks: [{ lun: 0, diskId: missing }] }), {
      status: 404,
      code: "ResourceNotFound",
    });
    assert.equal((await compute.disks.get(resourceGroup, "vm2-os")).managedBy, undefined);
    await stack().createVirtualMachine({ resourceGroup, name: "vm2", osDiskId: os.id ?? "" });
    await assert.rejects(stack().createVirtualMachine({ resourceGroup, name: "vm3", osDiskId: os.id ?? "" }), { status: 409, code: "OperationNotAllowed" });
    await assert.rejects(stack().createVirtualMachine({ resourceGroup: "rg-nowhere", name: "vm4", osDiskId: os.id ?? "" }), {
      status: 404,
      code: "ResourceGroupNotFound",
    });
    const noGroup = await armFailure(() => compute.virtualMachines.get("rg-nowhere", "vm4"));
    assert.deepEqual([noGroup.status, noGroup.code], [404, "ResourceGroupNotFound"]);
  });

  test("when VMs and guest states are handled over the control routes, then they behave as in-process", async () => {
    const client = new VirtualMachineControlClient(stack().arm.endpoint);
    const disks = new DiskControlClient(stack().arm.endpoint);
    const os = await createDisk("vm5-os", { osType: "Windows", hyperVGeneration: "V2", securityProfile: { securityType: "TrustedLaunch" } });
    const vm = await client.createVirtualMachine({ resourceGroup, name: "vm5", osDiskId: os.id ?? "" });
    assert.equal((await compute.disks.get(resourceGroup, "vm5-os")).managedBy, vm.id);
    await disks.writeGuestState(os.id ?? "", Buffer.alloc(1024, 0x5a));
    assert.deepEqual(await disks.readGuestState(os.id ?? ""), Buffer.alloc(1024, 0x5a));
    await assert.rejects(client.createVirtualMachine({ resourceGroup, name: "vm5", osDiskId: os.id ?? "" }), { status: 409, code: "Conflict" });
    await client.deleteVirtualMachine(resourceGroup, "vm5");
    assert.equal((await compute.disks.get(resourceGroup, "vm5-os")).diskState, "Unattached");
  });
});
