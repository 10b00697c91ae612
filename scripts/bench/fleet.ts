/**
 * Scenario 9 (issue 16 item 5, fleet scale-out): one app protecting a fleet of small disks. The timer's own
 * invocation is timed over the whole fleet (it pages the disk table and fans out one `schedule-pages` message per
 * page); then N = 1, 2, 4 worker processes — a Function App's instances — share the queues and back up the disks due
 * at that tick: aggregate backups/min and MiB/s, the ratio to N = 1, and the ARM requests per backup they made.
 *
 * A worker waits on the services rather than the CPU, as in Azure: ARM operations take a service time (`lroDelayMs`,
 * emulator/stack.ts) and page writes go through the modelled scalability targets with a service time
 * per write (emulator/dataplane/blob-limits.ts, whose per-account request rate is the modelled account limit). All
 * processes share this machine's cores, so scaling ends where they run out (see bench/README.md).
 */
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { type BlobWriteLimits, blobWriteLimits, serviceBlobWriteLimits } from "../../emulator/dataplane/blob-limits";
import { MiB } from "../../src/domain/ranges";
import { schedulePageSize } from "../../src/engine/scheduler";
import { type BenchStack, startBenchStack, unpaced } from "./context";
import type { FleetWorkerCommands } from "./fleet-worker";
import { type ChildHandle, startChild } from "./ipc";
import { CpuMeter } from "./measure";
import type { BenchSizes } from "./sizes";

/** The modelled services: documented page-write targets with a service time per write, ARM's recorded latency. */
export const fleetLimits: BlobWriteLimits = blobWriteLimits({ ...serviceBlobWriteLimits, serviceTimeMs: 20 });
/**
 * How long an ARM operation (snapshot create, grant, revoke, delete) takes before it succeeds: 1 s, between the
 * recorded session's 110-220 ms grants and its 22 s snapshot create (`recordedServiceOptions`); BENCH_FLEET_LRO_MS.
 */
const lroDelayMs = Number(process.env.BENCH_FLEET_LRO_MS ?? 1000);
const diskBytes = 1024 * MiB;

/** One tick's backups worked by `workers` processes. */
export interface FleetRound {
  readonly workers: number;
  readonly backups: number;
  readonly succeeded: number;
  readonly problems: string[];
  readonly wallMs: number;
  readonly bytesCopied: number;
  /** HTTP requests to ARM by every instance during the round (long-running-operation polls included). */
  readonly armRequests: number;
  /** Of those, the operations (PUT, POST, DELETE: snapshot create, grant, revoke, delete), polls and reads aside. */
  readonly armOperations: number;
  /** Every HTTP request the instances made (storage, tables, queues with their polls, ARM). */
  readonly requests: number;
  /** The machine's 1-minute load average at the round's end: every process on it, other sessions' included. */
  readonly load: number;
  /** CPU ms per process group during the round: workers together, stack (emulator + proxy), azurite. */
  readonly cpuMs: Record<string, number>;
  /** Per queue function, over every instance: invocations and their mean wall time in ms. */
  readonly invocations: Record<string, { count: number; meanMs: number }>;
  /** Page writes the modelled limits admitted, and those they refused (503 ServerBusy or the account's throttling). */
  readonly pageWrites: number;
  readonly refused: number;
}

export interface FleetResult {
  readonly disks: number;
  /** Disks due at each measured tick (the rest of the fleet is checked and found not due). */
  readonly duePerTick: number;
  readonly changedBytesPerDisk: number;
  readonly pageSize: number;
  readonly limits: BlobWriteLimits;
  readonly lroDelayMs: number;
  readonly cpus: number;
  /** The timer's invocation over the whole fleet, each tick of the scenario. */
  readonly ticks: { ms: number; messages: number; disks: number; armRequests: number }[];
  /** The due disks' first backups (full copies of what they hold), by the most workers: the warm-up. */
  readonly initial: FleetRound;
  readonly rounds: FleetRound[];
}

const workerCounts = [1, 2, 4];

/** The fleet's size: BENCH_SCALE's preset, or BENCH_FLEET_DISKS / BENCH_FLEET_DUE / BENCH_FLEET_CHANGED_MIB. */
function fleetSizes(scale: BenchSizes["scale"], env: NodeJS.ProcessEnv = process.env) {
  const preset = scale === "small" ? { disks: 100, due: 16, changedMib: 2 } : { disks: 500, due: 48, changedMib: 2 };
  const number = (name: string, fallback: number) => (env[name] ? Number(env[name]) : fallback);
  const disks = number("BENCH_FLEET_DISKS", preset.disks);
  return { disks, duePerTick: Math.min(disks, number("BENCH_FLEET_DUE", preset.due)), changed: number("BENCH_FLEET_CHANGED_MIB", preset.changedMib) * MiB };
}

export async function fleetScaleOut(sizes: BenchSizes): Promise<FleetResult> {
  const { disks, duePerTick, changed } = fleetSizes(sizes.scale);
  // ARM asks the caller to poll an operation after a second (Retry-After), as the service does, in seconds.
  const bench = await startBenchStack("fleet", { lroDelayMs, lroRetryAfterSeconds: 1, lroPollRetryAfterSeconds: 1 });
  const workers: ChildHandle<FleetWorkerCommands>[] = [];
  try {
    const diskIds = await inLanes(disks, 16, (i) => bench.createDisk(`bench-fleet-${i}`, diskBytes));
    for (let n = 0; n < Math.max(...workerCounts); n++) workers.push(await fleetWorker(bench));
    const target = { blobEndpoint: bench.stack.target.blobEndpoint, container: "bench-fleet" };
    // The first `duePerTick` disks are due every second (each measured tick finds them due); the rest of the fleet,
    // daily, last started an hour ago: every tick reads and checks them, and finds them not due.
    const keys = [
      ...(await workers[0].call("protect", { ...target, diskIds: diskIds.slice(0, duePerTick), schedule: "* * * * * *" })),
      ...(await workers[0].call("protect", { ...target, diskIds: diskIds.slice(duePerTick), schedule: "every 1d" })),
    ];
    await workers[0].call("markStarted", { diskKeys: keys.slice(duePerTick), at: new Date(Date.now() - 3600_000).toISOString() });
    bench.stack.blobLimits.set(fleetLimits);
    const ticks: FleetResult["ticks"] = [];
    const round = async (count: number, due: number, seed: number): Promise<FleetRound> => {
      for (let i = 0; i < due; i++) bench.write(diskIds[i], [{ start: seed * changed, end: (seed + 1) * changed, seed: seed * 10_000 + i }]);
      // The per-second schedule: a new second since the last start.
      await new Promise((r) => setTimeout(r, 1100));
      const since = new Date().toISOString();
      ticks.push(await workers[0].call("tick", undefined));
      return worked(bench, workers.slice(0, count), keys.slice(0, due), since);
    };
    const initial = await round(Math.max(...workerCounts), duePerTick, 0);
    const rounds: FleetRound[] = [];
    for (const [i, count] of workerCounts.entries()) rounds.push(await round(count, duePerTick, i + 1));
    return { disks, duePerTick, changedBytesPerDisk: changed, pageSize: schedulePageSize, limits: fleetLimits, lroDelayMs, cpus: cpus().length, ticks, initial, rounds };
  } finally {
    bench.stack.blobLimits.set(undefined);
    for (const worker of workers) await worker.stop();
    await bench.stop();
  }
}

/** The queues worked by `workers` until empty; then the due disks' runs are read. */
async function worked(bench: BenchStack, workers: ChildHandle<FleetWorkerCommands>[], diskKeys: string[], since: string): Promise<FleetRound> {
  const before = { ...bench.stack.blobLimits.counts };
  const cpu = new CpuMeter({ ...Object.fromEntries(workers.map((w, i) => [`worker${i}`, w.pid])), stack: process.pid, azurite: bench.azuritePid });
  const started = performance.now();
  const counts = await Promise.all(workers.map((worker) => worker.call("drain", undefined)));
  const wallMs = performance.now() - started;
  const used = cpu.used();
  const outcome = await workers[0].call("outcome", { diskKeys, since });
  const workerCpu = Object.entries(used).filter(([name]) => name.startsWith("worker")).reduce((sum, [, ms]) => sum + ms, 0);
  return {
    workers: workers.length,
    backups: diskKeys.length,
    succeeded: outcome.succeeded,
    problems: [...outcome.other, ...counts.flatMap((c) => c.problems)].slice(0, 10),
    wallMs,
    load: loadavg()[0],
    bytesCopied: outcome.bytesCopied,
    armRequests: counts.reduce((sum, c) => sum + c.armRequests, 0),
    armOperations: counts.reduce((sum, c) => sum + c.armOperations, 0),
    requests: counts.reduce((sum, c) => sum + c.requests, 0),
    cpuMs: { workers: workerCpu, stack: used.stack ?? 0, azurite: used.azurite ?? 0 },
    invocations: meanInvocations(counts.map((c) => c.invocations)),
    pageWrites: bench.stack.blobLimits.counts.admitted - before.admitted,
    refused: bench.stack.blobLimits.counts.refused - before.refused,
  };
}

function meanInvocations(perWorker: Record<string, { count: number; ms: number }>[]): FleetRound["invocations"] {
  const sums = new Map<string, { count: number; ms: number }>();
  for (const [name, { count, ms }] of perWorker.flatMap((w) => Object.entries(w))) {
    const seen = sums.get(name) ?? { count: 0, ms: 0 };
    sums.set(name, { count: seen.count + count, ms: seen.ms + ms });
  }
  return Object.fromEntries([...sums].map(([name, { count, ms }]) => [name, { count, meanMs: Math.round(ms / count) }]));
}

function fleetWorker(bench: BenchStack): Promise<ChildHandle<FleetWorkerCommands>> {
  return startChild<FleetWorkerCommands>(join(__dirname, "fleet-worker.js"), {
    ...unpaced,
    AzureWebJobsStorage: bench.stack.appStorage.connectionString,
    DISKDELTA_ARM_ENDPOINT: bench.stack.arm.endpoint,
    DISKDELTA_LOCAL_STACK_FILE: bench.stackFile,
  });
}

/** `count` calls of `work`, `lanes` at a time, results in order. */
async function inLanes<T>(count: number, lanes: number, work: (i: number) => Promise<T>): Promise<T[]> {
  const results = new Array<T>(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (next < count) {
        const i = next++;
        results[i] = await work(i);
      }
    }),
  );
  return results;
}
