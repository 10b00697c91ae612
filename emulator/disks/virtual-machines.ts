/**
 * Virtual machines as far as disks need them: a VM holds its OS disk and data disks attached, which then report
 * `managedBy` (the VM's id) and `diskState` Attached, and cannot be deleted or resized. VMs are created and deleted
 * through the stack's control calls only (no ARM PUT); ARM GET shows them (`compute/routes.ts`). Deleting a VM
 * detaches its disks and keeps them (ARM's default `deleteOption` Detach for attached disks).
 */
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { armErrors, httpError } from "../error-catalog";
import { armLocation } from "../compute/operations";
import { EmulatorHttpError } from "./api";
import type { ResourceGroupStore } from "./resource-groups";
import type { DiskRecord, DiskStore } from "./store";

/** What `createVirtualMachine` takes; the same body as `PUT /_emulator/virtual-machines`. */
export const virtualMachineSpecSchema = z.strictObject({
  resourceGroup: z.string().min(1),
  name: z.string().regex(/^[A-Za-z0-9][-A-Za-z0-9_.]{0,63}$/, "must be a VM name: 1-64 letters, digits, - _ ."),
  /** Default: the resource group's location. The disks must be in it. */
  location: z.string().min(1).optional(),
  /** Default Standard_D2s_v5; not checked against the region's sizes. */
  vmSize: z.string().min(1).optional(),
  osDiskId: z.string().min(1),
  dataDisks: z.array(z.strictObject({ lun: z.number().int().min(0).max(63), diskId: z.string().min(1) })).default([]),
});

/** A VM to create: resource group and name, its OS disk and data disks by resource id. */
export type VirtualMachineSpec = z.input<typeof virtualMachineSpecSchema>;

/** A VM once created. */
export interface VirtualMachineInfo {
  id: string;
  name: string;
  resourceGroup: string;
  location: string;
}

/** Creates and deletes VMs outside ARM: the same contract in-process and over HTTP. */
export interface VirtualMachineControl {
  /**
   * Creates a VM with the disks attached. Refused, changing nothing: a missing group (404 ResourceGroupNotFound), a
   * VM of that name (409 Conflict), a disk that does not exist (404 ResourceNotFound), a disk in another region (400
   * InvalidParameter), a disk attached elsewhere or being uploaded (409 OperationNotAllowed), a lun or disk given twice
   * (400 InvalidParameter).
   */
  createVirtualMachine(spec: VirtualMachineSpec): Promise<VirtualMachineInfo>;
  /** Deletes the VM and detaches its disks (they stay); a VM that is not there is nothing to do. */
  deleteVirtualMachine(resourceGroup: string, name: string): Promise<void>;
}

/** A VM as the emulator keeps it. */
export interface VirtualMachineRecord extends VirtualMachineInfo {
  readonly vmId: string;
  readonly vmSize: string;
  readonly timeCreated: number;
  readonly osDisk: DiskRecord;
  readonly dataDisks: readonly { lun: number; disk: DiskRecord }[];
}

export class VirtualMachineStore implements VirtualMachineControl {
  private readonly machines = new Map<string, VirtualMachineRecord>();

  constructor(
    private readonly subscriptionId: string,
    private readonly disks: DiskStore,
    private readonly groups: ResourceGroupStore,
  ) {}

  find(resourceGroup: string, name: string): VirtualMachineRecord | undefined {
    return this.machines.get(key(resourceGroup, name));
  }

  async createVirtualMachine(input: VirtualMachineSpec): Promise<VirtualMachineInfo> {
    const parsed = virtualMachineSpecSchema.safeParse(input);
    if (!parsed.success) throw new EmulatorHttpError(400, "InvalidParameter", z.prettifyError(parsed.error));
    const spec = parsed.data;
    const group = this.groups.find(spec.resourceGroup);
    if (!group) throw httpError(armErrors.resourceGroupNotFound(spec.resourceGroup));
    if (this.find(group.name, spec.name)) {
      throw new EmulatorHttpError(409, "Conflict", `VM '${spec.name}' already exists in resource group '${group.name}'.`);
    }
    const location = armLocation(spec.location ?? group.location);
    const ids = [spec.osDiskId, ...spec.dataDisks.map((d) => d.diskId)];
    if (new Set(ids.map((id) => id.toLowerCase())).size !== ids.length) {
      throw new EmulatorHttpError(400, "InvalidParameter", "A disk can be attached to a VM once.");
    }
    if (new Set(spec.dataDisks.map((d) => d.lun)).size !== spec.dataDisks.length) {
      throw new EmulatorHttpError(400, "InvalidParameter", "Each data disk needs its own lun.");
    }
    const found = ids.map((id) => this.requireDisk(id, location));
    const vm: VirtualMachineRecord = {
      id: `/subscriptions/${this.subscriptionId}/resourceGroups/${group.name}/providers/Microsoft.Compute/virtualMachines/${spec.name}`,
      name: spec.name,
      resourceGroup: group.name,
      location,
      vmId: randomUUID(),
      vmSize: spec.vmSize ?? "Standard_D2s_v5",
      timeCreated: Date.now(),
      osDisk: found[0],
      dataDisks: spec.dataDisks.map((d, i) => ({ lun: d.lun, disk: found[i + 1] })),
    };
    const attached: DiskRecord[] = [];
    try {
      for (const disk of found) {
        this.disks.attach(disk, vm.id);
        attached.push(disk);
      }
    } catch (error) {
      for (const disk of attached) this.disks.detach(disk);
      throw error;
    }
    this.machines.set(key(vm.resourceGroup, vm.name), vm);
    return { id: vm.id, name: vm.name, resourceGroup: vm.resourceGroup, location: vm.location };
  }

  async deleteVirtualMachine(resourceGroup: string, name: string): Promise<void> {
    const vm = this.find(resourceGroup, name);
    if (vm) this.remove(vm);
  }

  /** Deletes the group's VMs (their disks detached), as deleting the group does before its disks. */
  deleteGroupContents(resourceGroup: string): void {
    for (const vm of [...this.machines.values()]) {
      if (vm.resourceGroup.toLowerCase() === resourceGroup.toLowerCase()) this.remove(vm);
    }
  }

  private remove(vm: VirtualMachineRecord): void {
    for (const disk of [vm.osDisk, ...vm.dataDisks.map((d) => d.disk)]) this.disks.detach(disk);
    this.machines.delete(key(vm.resourceGroup, vm.name));
  }

  private requireDisk(id: string, location: string): DiskRecord {
    const disk = this.disks.diskById(id);
    if (!disk) throw new EmulatorHttpError(404, "ResourceNotFound", `Disk '${id}' was not found.`);
    if (armLocation(disk.location) !== location) {
      throw new EmulatorHttpError(400, "InvalidParameter", `Disk '${disk.name}' is in '${disk.location}', not in the VM's region '${location}'.`);
    }
    return disk;
  }
}

function key(resourceGroup: string, name: string): string {
  return `${resourceGroup.toLowerCase()}/${name.toLowerCase()}`;
}
