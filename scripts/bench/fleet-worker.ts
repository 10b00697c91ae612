/**
 * One instance of a scaled-out Function App for the fleet scenario: a worker process built as worker.ts builds one
 * (settings from the environment, the stack file's local profile), polling every queue the way the Functions host
 * does when the bench says so. It counts the HTTP requests it makes to ARM (Node announces each outgoing request),
 * so that ARM calls per backup add up over every instance.
 */
import { subscribe } from "node:diagnostics_channel";
import type { ClientRequest } from "node:http";
import type { InvocationContext } from "@azure/functions";
import { QueueServiceClient } from "@azure/storage-queue";
import { loadSettings } from "../../src/config";
import { createDeps, localProfileFromFile } from "../../src/composition";
import { fanOutSchedule } from "../../src/engine/scheduler";
import type { FunctionDefinition } from "../../src/host/register";
import { loadAppFunctions } from "../../src/local/app";
import { createLocalHost } from "../../src/local/host";
import { serveCommands } from "./ipc";

const settings = loadSettings();
const deps = createDeps(settings, { local: localProfileFromFile(settings.DISKDELTA_LOCAL_STACK_FILE!) });
const problems: string[] = [];
/** Per queue function: invocations and their summed wall time, to see which stage a round waits on. */
const invocations = new Map<string, { count: number; ms: number }>();
const timed = (fn: FunctionDefinition): FunctionDefinition =>
  fn.kind !== "queue"
    ? fn
    : {
        ...fn,
        handler: async (message: unknown, context: InvocationContext) => {
          const started = performance.now();
          try {
            await fn.handler(message, context);
          } finally {
            const seen = invocations.get(fn.name) ?? { count: 0, ms: 0 };
            invocations.set(fn.name, { count: seen.count + 1, ms: seen.ms + performance.now() - started });
          }
        },
      };
const host = createLocalHost({
  functions: loadAppFunctions().map(timed),
  deps,
  queueService: QueueServiceClient.fromConnectionString(settings.AzureWebJobsStorage!),
  settings,
  log: (level, functionName, text) => {
    if (level === "error") problems.push(`${functionName}: ${text}`);
  },
});
const quiet = { info: () => undefined, warn: () => undefined, error: (message: string, fields?: object) => problems.push(`${message} ${JSON.stringify(fields)}`) };

const armHost = new URL(settings.DISKDELTA_ARM_ENDPOINT!).host;
const counts = { armRequests: 0, armOperations: 0, requests: 0 };
subscribe("http.client.request.start", (message) => {
  const { request } = message as { request: ClientRequest };
  counts.requests += 1;
  // The emulator serves ARM, the snapshot data and the target's blob proxy on one host: ARM is what is under /subscriptions.
  if (String(request.getHeader("host") ?? request.host) !== armHost || !request.path.startsWith("/subscriptions/")) return;
  counts.armRequests += 1;
  // Operations change something (create, grant, revoke, delete); the rest are reads and polls of operations.
  if (request.method !== "GET") counts.armOperations += 1;
});

async function call(method: string, path: string, body?: unknown): Promise<unknown> {
  const answer = await host.invokeHttp(method, path, body);
  if (answer.status >= 300) throw new Error(`${method} ${path}: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body;
}

const commands = {
  /** Protects disks through the HTTP API, a few at a time; returns their keys in order. */
  async protect(params: { diskIds: string[]; blobEndpoint: string; container: string; schedule: string }): Promise<string[]> {
    const keys: string[] = new Array<string>(params.diskIds.length);
    let next = 0;
    const lane = async () => {
      while (next < params.diskIds.length) {
        const i = next++;
        const disk = (await call("POST", "/api/disks", { diskId: params.diskIds[i], schedule: params.schedule, target: { blobEndpoint: params.blobEndpoint, container: params.container } })) as { diskKey: string };
        keys[i] = disk.diskKey;
      }
    };
    await Promise.all(Array.from({ length: 8 }, lane));
    return keys;
  },

  /**
   * Records that the disks' last runs started at `at` (as if backed up then), so that a tick finds them not due: the
   * bench's fleet without backing every disk up first.
   */
  async markStarted(params: { diskKeys: string[]; at: string }): Promise<void> {
    for (const diskKey of params.diskKeys) {
      const { value, etag } = await deps.records.getState(diskKey);
      await deps.records.putState(diskKey, { ...value, lastRunStartedAt: params.at }, etag);
    }
  },

  /** The timer's invocation, timed: pages the disk table and sends one schedule-pages message per page. */
  async tick(): Promise<{ ms: number; messages: number; disks: number; invalid: number; armRequests: number }> {
    const arm = counts.armRequests;
    const started = performance.now();
    const report = await fanOutSchedule(deps, quiet);
    return { ms: performance.now() - started, messages: report.messages, disks: report.disks, invalid: report.invalid.length, armRequests: counts.armRequests - arm };
  },

  /**
   * Works the queues, as a Functions instance does (without its timer: the bench ticks), until they are empty and
   * nothing is in hand; returns what this instance counted meanwhile.
   */
  async drain(): Promise<{ armRequests: number; armOperations: number; requests: number; problems: string[]; invocations: Record<string, { count: number; ms: number }> }> {
    invocations.clear();
    counts.armRequests = 0;
    counts.armOperations = 0;
    counts.requests = 0;
    problems.length = 0;
    await host.runUntilIdle({ timeoutMs: 20 * 60_000 });
    return { ...counts, problems: problems.slice(0, 20), invocations: Object.fromEntries(invocations) };
  },

  /** The disks' latest runs: how many ended succeeded since `since`, and the bytes they copied. */
  async outcome(params: { diskKeys: string[]; since: string }): Promise<{ succeeded: number; other: string[]; bytesCopied: number; pending: number }> {
    const result = { succeeded: 0, other: [] as string[], bytesCopied: 0, pending: 0 };
    for (const diskKey of params.diskKeys) {
      const [run] = await deps.records.listRuns(diskKey, 1);
      if (!run || run.startedAt < params.since) result.other.push(`${diskKey}: no run since the tick`);
      else if (run.state === "succeeded") {
        result.succeeded += 1;
        result.bytesCopied += run.bytesCopied;
      } else if (run.state === "failed") result.other.push(`${diskKey}: ${run.error}`);
      else result.pending += 1;
    }
    result.other = result.other.slice(0, 10);
    return result;
  },
};

export type FleetWorkerCommands = typeof commands;

serveCommands(commands);
