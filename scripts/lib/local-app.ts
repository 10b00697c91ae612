/**
 * The app assembled on a local stack: Deps built from app settings exactly as a worker builds them (only the
 * local profile differs), and the local host running the declared functions. Shared by `npm start`, the demo,
 * the bench and the tests.
 */
import { randomUUID } from "node:crypto";
import { StorageSharedKeyCredential, type StoragePipelineOptions } from "@azure/storage-blob";
import { QueueServiceClient } from "@azure/storage-queue";
import { type Settings, loadSettings } from "../../src/config";
import { createDeps } from "../../src/composition";
import type { Deps } from "../../src/engine/deps";
import { loadAppFunctions } from "../../src/local/app";
import type { QueueSettings } from "../../src/local/host-json";
import { type LocalHost, type LogSink, createLocalHost } from "../../src/local/host";
import type { StackEndpoints } from "../../emulator/stack";

export interface LocalAppOptions {
  readonly stack: StackEndpoints;
  /** App settings on top of the defaults; AzureWebJobsStorage is the stack's. */
  readonly settings?: Record<string, string | undefined>;
  readonly log?: LogSink;
  readonly queueSettings?: Partial<QueueSettings>;
  readonly functionKey?: string;
  /** Data-plane retry policy (tests shorten the delays). */
  readonly dataPlane?: StoragePipelineOptions;
}

/** The app: its settings, the worker's Deps and the local host running the handlers with them. */
export interface LocalApp {
  readonly settings: Settings;
  readonly deps: Deps;
  readonly host: LocalHost;
  /** Another local host on the same queues whose handlers run with `deps` (e.g. a test's intercepted Deps). */
  hostWith(deps: Deps): LocalHost;
  stop(): Promise<void>;
}

export function startLocalApp(options: LocalAppOptions): LocalApp {
  const { stack } = options;
  const settings = loadSettings({
    ...options.settings,
    AzureWebJobsStorage: stack.appStorage.connectionString,
    DISKDELTA_ARM_ENDPOINT: stack.arm.endpoint,
  });
  const deps = createDeps(settings, {
    local: {
      armEndpoint: stack.arm.endpoint,
      armCredential: stack.arm.credential,
      targetCredential: new StorageSharedKeyCredential(stack.target.accountName, stack.target.accountKey),
    },
    pollIntervalMs: 10,
    dataPlane: options.dataPlane,
  });
  const functions = loadAppFunctions();
  const queueService = QueueServiceClient.fromConnectionString(stack.appStorage.connectionString);
  // One key for every host of the app, as one Function App's instances share theirs.
  const functionKey = options.functionKey ?? randomUUID().replace(/-/g, "");
  const hostWith = (handlerDeps: Deps) =>
    createLocalHost({
      functions,
      deps: handlerDeps,
      queueService,
      settings,
      log: options.log,
      queueSettings: options.queueSettings,
      functionKey,
    });
  const host = hostWith(deps);
  return { settings, deps, host, hostWith, stop: () => host.stop() };
}
