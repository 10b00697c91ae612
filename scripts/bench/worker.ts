/**
 * A diskdelta worker in its own process, built the way a Functions worker builds itself (app settings from the
 * environment, `createDeps` with the local profile of the stack file) and run by the local host with host.json's
 * queue semantics. The bench drives it over IPC and reads its CPU, I/O and peak memory from /proc.
 */
import { QueueServiceClient } from "@azure/storage-queue";
import { loadSettings } from "../../src/config";
import { createDeps, localProfileFromFile } from "../../src/composition";
import type { BackupRun, RestorePoint } from "../../src/domain/records";
import { verifyRestorePoint } from "../../src/engine/verify-restore-point";
import { loadAppFunctions } from "../../src/local/app";
import { createLocalHost } from "../../src/local/host";
import { serveCommands } from "./ipc";
import { Probe, type ProbeReport } from "./probe";

const settings = loadSettings();
const probe = new Probe();
const deps = probe.observe(createDeps(settings, { local: localProfileFromFile(settings.DISKDELTA_LOCAL_STACK_FILE!) }));
const problems: string[] = [];
const host = createLocalHost({
  functions: probe.observeFunctions(loadAppFunctions()),
  deps,
  queueService: QueueServiceClient.fromConnectionString(settings.AzureWebJobsStorage!),
  settings,
  // Only trouble is kept: a bench run that logged an error says so in its result.
  log: (level, functionName, text) => {
    if (level === "error" || level === "warning") problems.push(`${level} ${functionName}: ${text}`);
  },
});

/** The largest value each part of the process's memory reached, sampled every 100 ms, in bytes. */
export interface MemoryPeaks {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

function sampleMemory(): { stop: () => MemoryPeaks } {
  const peaks: MemoryPeaks = { rss: 0, heapTotal: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };
  const sample = () => {
    const usage = process.memoryUsage();
    for (const key of Object.keys(peaks) as (keyof MemoryPeaks)[]) peaks[key] = Math.max(peaks[key], usage[key]);
  };
  const timer = setInterval(sample, 100);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return peaks;
    },
  };
}

/** One BackupRun as the bench sees it from inside the worker. */
export interface SyncResult {
  readonly memory: MemoryPeaks;
  readonly run: BackupRun;
  readonly wallMs: number;
  readonly probe: ProbeReport;
  readonly problems: string[];
  readonly workerCpuMs: number;
}

async function call(method: string, path: string, body?: unknown): Promise<unknown> {
  const answer = await host.invokeHttp(method, path, body);
  if (answer.status >= 300) throw new Error(`${method} ${path}: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body;
}

async function restorePointOf(diskKey: string, runId: string): Promise<RestorePoint> {
  const points = (await call("GET", `/api/disks/${diskKey}/restore-points`)) as { restorePoints: RestorePoint[] };
  const point = points.restorePoints.find((p) => p.runId === runId);
  if (!point) throw new Error(`run ${runId} has no RestorePoint`);
  return point;
}

const commands = {
  /**
   * Protects a disk through the HTTP API; returns its key and where its TargetBlob is. `options` are further fields
   * of the request (e.g. `replication: "managed"` with its `managedTarget`).
   */
  async protect(params: { diskId: string; blobEndpoint: string; container: string; options?: Record<string, unknown> }): Promise<{ diskKey: string; container: string; blobName: string }> {
    const target = { blobEndpoint: params.blobEndpoint, container: params.container };
    const disk = (await call("POST", "/api/disks", { ...params.options, diskId: params.diskId, target })) as {
      diskKey: string;
      target: { container: string; blobName: string };
    };
    return { diskKey: disk.diskKey, container: disk.target.container, blobName: disk.target.blobName };
  },

  /** Starts a BackupRun through the HTTP API and processes the queues until they are empty. */
  async sync(params: { diskKey: string }): Promise<SyncResult> {
    probe.reset();
    problems.length = 0;
    const cpu = process.cpuUsage();
    const memory = sampleMemory();
    const started = performance.now();
    const { runId } = (await call("POST", `/api/disks/${params.diskKey}/sync`)) as { runId: string };
    await host.runUntilIdle({ timeoutMs: 30 * 60_000 });
    const wallMs = performance.now() - started;
    const used = process.cpuUsage(cpu);
    const run = (await call("GET", `/api/disks/${params.diskKey}/runs/${runId}`)) as BackupRun;
    return { run, wallMs, memory: memory.stop(), probe: probe.report(), problems: [...problems], workerCpuMs: (used.user + used.system) / 1000 };
  },

  /** The RestorePoint a run recorded, as the HTTP API lists it. */
  async restorePoint(params: { diskKey: string; runId: string }): Promise<RestorePoint> {
    return restorePointOf(params.diskKey, params.runId);
  },

  /** Compares the run's RestorePoint with its SourceSnapshot, byte for byte. */
  async verify(params: { diskKey: string; runId: string }): Promise<{ equal: boolean; bytesRead: number }> {
    const result = await verifyRestorePoint(deps, await restorePointOf(params.diskKey, params.runId));
    return { equal: result.equal, bytesRead: result.bytesRead };
  },

  /** The most memory this process has held, as the kernel counts it (resident set high-water mark). */
  async memory(): Promise<{ maxRssBytes: number; rssBytes: number; heapUsedBytes: number; heapUsedAfterGcBytes?: number }> {
    const heapUsedBytes = process.memoryUsage().heapUsed;
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    return {
      maxRssBytes: process.resourceUsage().maxRSS * 1024,
      rssBytes: process.memoryUsage.rss(),
      heapUsedBytes,
      heapUsedAfterGcBytes: gc ? process.memoryUsage().heapUsed : undefined,
    };
  },
};

export type WorkerCommands = typeof commands;

serveCommands(commands);
