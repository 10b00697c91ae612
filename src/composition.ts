/**
 * The one place that builds SDK clients, once per worker: DefaultAzureCredential (managed identity) in Azure;
 * locally, the credentials of the local stack named by DISKDELTA_LOCAL_STACK_FILE. Nothing else reads credentials.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import type { TokenCredential } from "@azure/core-auth";
import type { InvocationContext } from "@azure/functions";
import { DefaultAzureCredential } from "@azure/identity";
import { StorageSharedKeyCredential, type StoragePipelineOptions } from "@azure/storage-blob";
import { z } from "zod";
import { type Settings, loadSettings, settingError } from "./config";
import { type ComputeGateway, createComputeGateway } from "./adapters/compute";
import { type QueuesConnection, createWorkQueues } from "./adapters/queues";
import { createSourceSnapshotReader } from "./adapters/source-snapshot";
import { type TablesConnection, createRecords } from "./adapters/tables";
import { type TargetBlobFactory, createTargetBlobFactory } from "./adapters/target-blob";
import { type TargetCatalog, createTargetCatalog } from "./adapters/target-catalog";
import type { Deps, Metrics } from "./engine/deps";
import { describeError } from "./domain/errors";
import { workerLog } from "./host/log";
import { createMetrics } from "./host/metrics";

/** Credentials and endpoints of a local stack; never used in Azure. */
export interface LocalProfile {
  readonly armEndpoint: string;
  readonly armCredential: TokenCredential;
  readonly targetCredential: StorageSharedKeyCredential;
}

const stackFileSchema = z.object({
  arm: z.object({ endpoint: z.string(), token: z.string() }),
  target: z.object({ accountName: z.string(), accountKey: z.string() }),
});

/** Reads the parts of a local stack file (see docs/local-stack.md) that the app needs. */
export function localProfileFromFile(path: string): LocalProfile {
  const file = stackFileSchema.parse(JSON.parse(readFileSync(path, "utf8")));
  return {
    armEndpoint: file.arm.endpoint,
    armCredential: { getToken: async () => ({ token: file.arm.token, expiresOnTimestamp: Date.now() + 3600_000 }) },
    targetCredential: new StorageSharedKeyCredential(file.target.accountName, file.target.accountKey),
  };
}

/** The local profile DISKDELTA_LOCAL_STACK_FILE names; a file that cannot be used is a settings problem, every issue named. */
function localProfileOfSetting(path: string): LocalProfile {
  try {
    return localProfileFromFile(path);
  } catch (error) {
    throw settingError("DISKDELTA_LOCAL_STACK_FILE", `${path} is not a usable local stack file`, error);
  }
}

/** Fences run ids and names restore holds. */
const randomId = (): string => randomBytes(4).toString("hex");

function storageConnection(settings: Settings, service: "table" | "queue", credential: TokenCredential): TablesConnection & QueuesConnection {
  if (settings.AzureWebJobsStorage) return { connectionString: settings.AzureWebJobsStorage };
  return { endpoint: `https://${settings.AzureWebJobsStorage__accountName}.${service}.core.windows.net`, credential };
}

/** Options for `createDeps`: a local profile, and replacements tests may need (a clock, a metrics sink). */
export interface DepsOptions {
  readonly local?: LocalProfile;
  readonly metrics?: Metrics;
  readonly now?: () => Date;
  readonly pollIntervalMs?: number;
  /** Data-plane retry policy; tests shorten the delays, production keeps `dataPlaneRetry`. */
  readonly dataPlane?: StoragePipelineOptions;
}

export function createDeps(settings: Settings, options: DepsOptions = {}): Deps {
  const identity = options.local ? undefined : new DefaultAzureCredential({ managedIdentityClientId: settings.AZURE_CLIENT_ID });
  const armCredential = options.local?.armCredential ?? identity!;
  const metrics = options.metrics ?? createMetrics({ credential: identity });
  return {
    settings,
    compute: createComputeGateway(armCredential, {
      endpoint: options.local?.armEndpoint ?? settings.DISKDELTA_ARM_ENDPOINT,
      pollIntervalMs: options.pollIntervalMs ?? (options.local ? 50 : 2000),
      observer: { metrics, warn: workerLog.warn },
    }),
    source: createSourceSnapshotReader(options.dataPlane),
    targets: createTargetBlobFactory(options.local?.targetCredential ?? identity!, options.dataPlane),
    catalog: createTargetCatalog(options.local?.targetCredential ?? identity!, options.dataPlane),
    records: createRecords(storageConnection(settings, "table", armCredential)),
    queues: createWorkQueues(storageConnection(settings, "queue", armCredential)),
    metrics,
    now: options.now ?? (() => new Date()),
    randomId,
  };
}

/**
 * What the CLI's direct mode works with when the app cannot be reached: the target account's catalog, its blobs and
 * ARM compute — with the operator's own credentials (DefaultAzureCredential: `az login`, environment, managed
 * identity), or a local stack's. No tables, no queues, nothing in the source region.
 */
export interface OperatorPorts {
  readonly catalog: TargetCatalog;
  readonly targets: TargetBlobFactory;
  readonly compute: ComputeGateway;
  readonly now: () => Date;
  readonly randomId: () => string;
}

export function createOperatorPorts(options: { readonly armEndpoint: string; readonly local?: LocalProfile; readonly warn: (text: string) => void }): OperatorPorts {
  const identity = options.local ? undefined : new DefaultAzureCredential();
  const targetCredential = options.local?.targetCredential ?? identity!;
  return {
    catalog: createTargetCatalog(targetCredential),
    targets: createTargetBlobFactory(targetCredential),
    compute: createComputeGateway(options.local?.armCredential ?? identity!, {
      endpoint: options.local?.armEndpoint ?? options.armEndpoint,
      pollIntervalMs: options.local ? 50 : 2000,
      observer: { metrics: { record: () => undefined }, warn: (message) => options.warn(message) },
    }),
    now: () => new Date(),
    randomId,
  };
}

let shared: Deps | undefined;
/** What `startWorker` read: the settings and the local profile, or why they cannot be used. */
let started: { readonly settings: Settings; readonly local?: LocalProfile } | { readonly error: unknown } | undefined;

/**
 * Worker start-up, run once by the host's appStart hook (src/functions/worker-start.ts): parses the app settings (and
 * the local stack file they may name). A bad setting is reported here, every problem together, and then by every
 * invocation (an HTTP 500 naming the settings; queue messages are retried) until it is fixed and the worker restarts.
 */
export function startWorker(env: NodeJS.ProcessEnv = process.env, report: (text: string) => void = console.error): void {
  shared = undefined;
  try {
    const settings = loadSettings(env);
    started = { settings, local: settings.DISKDELTA_LOCAL_STACK_FILE ? localProfileOfSetting(settings.DISKDELTA_LOCAL_STACK_FILE) : undefined };
  } catch (error) {
    started = { error };
    report(describeError(error));
  }
}

const bound = new WeakMap<InvocationContext, Deps>();

/**
 * Gives one invocation its Deps: how a host other than the Functions host (the local host, and through it the
 * tests) hands the Deps it was built with to the handlers it invokes. The Functions host cannot, so there the
 * handlers fall back to the worker's.
 */
export function bindDeps(context: InvocationContext, deps: Deps): InvocationContext {
  bound.set(context, deps);
  return context;
}

/**
 * The Deps an invocation runs with: those its host bound to it, else the worker's, built on first use from the
 * settings read at start-up; throws what start-up could not get past.
 */
export function getDeps(context: InvocationContext): Deps {
  const given = bound.get(context);
  if (given) return given;
  if (shared) return shared;
  if (!started) throw new Error("diskdelta: the worker has not started: the Functions host runs startWorker (appStart); the local host binds its Deps to each invocation");
  if ("error" in started) throw started.error;
  // Built on first use, not at start-up: creating the clients starts requests (the tables), which belong to an invocation.
  shared = createDeps(started.settings, { local: started.local });
  return shared;
}
