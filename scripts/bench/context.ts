/**
 * One local stack for a group of scenarios, with the stack file that child processes read, the bench's own view
 * of ARM compute (disks and the snapshots the references copy from), and the children themselves.
 */
import { rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { ComputeManagementClient } from "@azure/arm-compute";
import { type LocalStack, type LocalStackOptions, startLocalStack, writeStackFile } from "../../emulator/stack";
import { type Settings, settingsSchema } from "../../src/config";
import { GiB, PAGE_BYTES } from "../../src/domain/ranges";
import type { ClientCommands } from "./client";
import { type ChildHandle, startChild } from "./ipc";
import type { SeededExtent } from "./layout";
import { type TargetCounts, azuritePid, countAtTarget } from "./measure";
import type { WorkerCommands } from "./worker";

const resourceGroup = "rg-bench";
const lro = { updateIntervalInMs: 10 };

/** A stack the bench drives, and what it needs around it. */
export interface BenchStack {
  readonly stack: LocalStack;
  /** The stack file child processes read (DISKDELTA_LOCAL_STACK_FILE). */
  readonly stackFile: string;
  readonly azuritePid?: number;
  readonly targetCounts: () => Promise<TargetCounts>;
  /** Models the target service's own time per page write (0: loopback as is). */
  setServiceLatency(ms: number): Promise<void>;
  /** Creates an empty disk; returns its resource id. */
  createDisk(name: string, sizeBytes: number): Promise<string>;
  write(diskId: string, extents: readonly SeededExtent[]): void;
  /** A snapshot owned by the bench (diskdelta never deletes it) with a read SAS; `release` revokes the SAS. */
  snapshot(diskId: string, name: string): Promise<{ sasUrl: string; release: () => Promise<void> }>;
  /**
   * A diskdelta worker process; `settings` override app settings (e.g. DISKDELTA_COPY_CONCURRENCY). Unless they say
   * otherwise its writes are not paced (`unpaced`): on loopback the references it is compared with are not either.
   */
  worker(settings?: Record<string, string>, nodeArguments?: string[]): Promise<ChildHandle<WorkerCommands>>;
  client(): Promise<ChildHandle<ClientCommands>>;
  stop(): Promise<void>;
}

/** The app settings a worker started with these overrides uses (defaults from src/config.ts). */
export function effectiveSettings(overrides: Record<string, string> = {}): Settings {
  return settingsSchema.parse({ ...process.env, AzureWebJobsStorage: "UseDevelopmentStorage=true", ...overrides });
}

const scriptDir = resolve(__dirname);

/** Pacing off: the loopback scenarios compare diskdelta with raw writes that nothing paces. */
export const unpaced = { DISKDELTA_TARGET_BLOB_MIB_PER_SECOND: "0", DISKDELTA_TARGET_BLOB_REQUESTS_PER_SECOND: "0" };

/**
 * Node options of the worker process, as `languageWorkers__node__arguments` sets them for a Functions worker
 * (BENCH_WORKER_NODE_ARGS, space-separated; none by default).
 */
export function workerNodeArguments(): string[] {
  return (process.env.BENCH_WORKER_NODE_ARGS ?? "").split(" ").filter(Boolean);
}

export async function startBenchStack(name: string, options?: LocalStackOptions): Promise<BenchStack> {
  const stack = await startLocalStack(options);
  const stackFile = resolve("bench", `${name}-stack.tmp`);
  writeStackFile(stack, stackFile);
  const children: ChildHandle<never>[] = [];
  const compute = new ComputeManagementClient(stack.arm.credential, stack.arm.subscriptionId, { endpoint: stack.arm.endpoint });
  const counter = await countAtTarget(stack);
  const track = <T extends ChildHandle<never>>(child: T): T => {
    children.push(child);
    return child;
  };
  return {
    stack,
    stackFile,
    azuritePid: azuritePid(),
    targetCounts: counter.read,
    setServiceLatency: counter.setServiceLatency,
    async createDisk(diskName, sizeBytes) {
      const disk = await compute.disks.createOrUpdate(
        resourceGroup,
        diskName,
        { location: stack.arm.location, diskSizeGB: Math.ceil(sizeBytes / GiB), creationData: { createOption: "Empty" } },
        lro,
      );
      return disk.id!;
    },
    write(diskId, extents) {
      for (const e of extents) stack.disks.writeSeeded(diskId, e.start, e.end - e.start, e.seed);
    },
    async snapshot(diskId, snapshotName) {
      await compute.snapshots.createOrUpdate(
        resourceGroup,
        snapshotName,
        { location: stack.arm.location, incremental: true, creationData: { createOption: "Copy", sourceResourceId: diskId } },
        lro,
      );
      const grant = await compute.snapshots.grantAccess(resourceGroup, snapshotName, { access: "Read", durationInSeconds: 3600 }, lro);
      return { sasUrl: grant.accessSAS!, release: () => compute.snapshots.revokeAccess(resourceGroup, snapshotName, lro) };
    },
    async worker(settings = {}, nodeArguments = workerNodeArguments()) {
      return track(
        await startChild<WorkerCommands>(join(scriptDir, "worker.js"), {
          ...unpaced,
          ...settings,
          AzureWebJobsStorage: stack.appStorage.connectionString,
          DISKDELTA_ARM_ENDPOINT: stack.arm.endpoint,
          DISKDELTA_LOCAL_STACK_FILE: stackFile,
        }, nodeArguments),
      );
    },
    async client() {
      return track(
        await startChild<ClientCommands>(join(scriptDir, "client.js"), { BENCH_STACK_FILE: stackFile }),
      );
    },
    async stop() {
      for (const child of children.splice(0)) await child.stop();
      await stack.stop();
      rmSync(stackFile, { force: true });
    },
  };
}

/** The blob size of a disk: its bytes plus the 512-byte VHD footer page. */
export const blobBytesOf = (diskBytes: number) => diskBytes + PAGE_BYTES;
