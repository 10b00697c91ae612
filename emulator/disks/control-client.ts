/**
 * A typed client for the disk control routes, for processes that do not hold the emulator in memory: the
 * async twin of DiskControl, and of ResourceGroupControl. Errors carry the emulator's status and code as EmulatorHttpError.
 */
import { callControlRoute } from "../control-call";
import { controlPaths, type DiskOpsRequest } from "./control-protocol";
import type { ResourceGroupControl, ResourceGroupSeed } from "./resource-groups";
import type { CopyRate, SnapshotCopyInfo } from "./snapshot-copies";
import type { VirtualMachineControl, VirtualMachineInfo, VirtualMachineSpec } from "./virtual-machines";

/** One write of a batch: `write-seeded` (content from seed and offset) or `trim`. */
export type DiskOpInput = DiskOpsRequest["ops"][number];

export class DiskControlClient {
  constructor(private readonly baseUrl: string) {}

  /** Applies many seeded writes and trims in one request, in order; a bad batch changes nothing. */
  async applyOps(diskId: string, ops: readonly DiskOpInput[]): Promise<void> {
    await this.call(controlPaths.ops, {}, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ id: diskId, ops }),
    });
  }

  async writeSeeded(diskId: string, offset: number, length: number, seed: number): Promise<void> {
    await this.applyOps(diskId, [{ op: "write-seeded", offset, length, seed }]);
  }

  async trim(diskId: string, offset: number, length: number): Promise<void> {
    await this.applyOps(diskId, [{ op: "trim", offset, length }]);
  }

  async write(diskId: string, offset: number, data: Buffer): Promise<void> {
    await this.call(controlPaths.write, { id: diskId, offset: String(offset) }, {
      method: "PUT",
      headers: { "Content-Type": "application/octet-stream" },
      body: data,
    });
  }

  async read(diskId: string, offset: number, length: number): Promise<Buffer> {
    const res = await this.call(controlPaths.read, { id: diskId, offset: String(offset), length: String(length) }, {});
    return Buffer.from(await res.arrayBuffer());
  }

  /** Sets the `completionPercent` ARM reports for a snapshot (see `DiskControl.setSnapshotCompletion`). */
  async setSnapshotCompletion(snapshotId: string, percent: number): Promise<void> {
    await this.putJson(controlPaths.snapshotCompletion, { id: snapshotId, percent });
  }

  /** Sets the rate of every managed copy (see `DiskControl.setSnapshotCopyRate`). */
  async setSnapshotCopyRate(bytesPerSecond: CopyRate): Promise<void> {
    await this.putJson(controlPaths.snapshotCopyRate, { bytesPerSecond });
  }

  /** Ends a running managed copy in copyCompletionError (see `DiskControl.failSnapshotCopy`). */
  async failSnapshotCopy(snapshotId: string, errorMessage?: string, errorCode?: string): Promise<void> {
    await this.putJson(controlPaths.snapshotCopyFailure, { id: snapshotId, errorMessage, errorCode });
  }

  /** The copy into a CopyStart snapshot (see `DiskControl.readSnapshotCopy`). */
  async readSnapshotCopy(snapshotId: string): Promise<SnapshotCopyInfo> {
    const res = await this.call(controlPaths.snapshotCopy, { id: snapshotId }, {});
    return (await res.json()) as SnapshotCopyInfo;
  }

  /** Replaces a secure disk's VM guest state (see `DiskControl.writeGuestState`). */
  async writeGuestState(diskId: string, data: Buffer): Promise<void> {
    await this.call(controlPaths.guestState, { id: diskId }, {
      method: "PUT",
      headers: { "Content-Type": "application/octet-stream" },
      body: data,
    });
  }

  async readGuestState(diskId: string): Promise<Buffer> {
    const res = await this.call(controlPaths.guestState, { id: diskId }, {});
    return Buffer.from(await res.arrayBuffer());
  }

  private putJson(path: string, body: unknown): Promise<Response> {
    return this.call(path, {}, { method: "PUT", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  }

  private call(path: string, query: Record<string, string>, init: RequestInit): Promise<Response> {
    return callControlRoute(this.baseUrl, path, query, init);
  }
}

/** ResourceGroupControl for another process, over the `/_emulator/resource-groups` control route. */
export class ResourceGroupControlClient implements ResourceGroupControl {
  constructor(private readonly baseUrl: string) {}

  async createResourceGroup(group: ResourceGroupSeed): Promise<void> {
    await callControlRoute(this.baseUrl, controlPaths.resourceGroups, {}, {
      method: "PUT",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(group),
    });
  }

  async listResourceGroups(): Promise<ResourceGroupSeed[]> {
    const res = await callControlRoute(this.baseUrl, controlPaths.resourceGroups, {}, {});
    return (await res.json()) as ResourceGroupSeed[];
  }
}

/** VirtualMachineControl for another process, over the `/_emulator/virtual-machines` control route. */
export class VirtualMachineControlClient implements VirtualMachineControl {
  constructor(private readonly baseUrl: string) {}

  async createVirtualMachine(spec: VirtualMachineSpec): Promise<VirtualMachineInfo> {
    const res = await callControlRoute(this.baseUrl, controlPaths.virtualMachines, {}, {
      method: "PUT",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(spec),
    });
    return (await res.json()) as VirtualMachineInfo;
  }

  async deleteVirtualMachine(resourceGroup: string, name: string): Promise<void> {
    await callControlRoute(this.baseUrl, controlPaths.virtualMachines, { resourceGroup, name }, { method: "DELETE" });
  }
}
