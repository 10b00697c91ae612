/**
 * The whole app on the local stack, for end-to-end tests: the local stack, Deps built from app settings exactly as
 * a worker builds them (only the local profile differs), and the local host running the declared functions with
 * them. `const app = useTestApp()` in a `describe` starts it before the suite and stops it after; a test that
 * needs a worker with other Deps (intercepted, duplicating messages, …) asks for `app().withDeps(deps)`.
 */
import { after, before } from "node:test";
import type { ComputeManagementClient } from "@azure/arm-compute";
import { diskKeyOf } from "../../src/domain/model";
import type { BlobRestorePoint, RestorePoint } from "../../src/domain/records";
import type { Deps } from "../../src/engine/deps";
import type { VerifyResult } from "../../src/engine/verify";
import { restorePointDigest, verifyRestorePoint } from "../../src/engine/verify-restore-point";
import type { LocalHost } from "../../src/local/host";
import { type LocalApp, startLocalApp } from "../../scripts/lib/local-app";
import { type LocalStack, type LocalStackOptions, startLocalStack } from "../../emulator/stack";
import { computeClient } from "./stack";

export const GiB = 1024 ** 3;
export const MiB = 1024 ** 2;
export const resourceGroup = "rg-app";

/** A log line the local host produced. */
export interface CapturedLog {
  readonly level: string;
  readonly functionName: string;
  readonly text: string;
}

/** The app running on a local stack. */
export interface TestApp {
  readonly stack: LocalStack;
  readonly deps: Deps;
  readonly host: LocalHost;
  readonly compute: ComputeManagementClient;
  readonly logs: CapturedLog[];
  /** Creates an empty managed disk and returns its resource id. */
  createDisk(name: string, sizeBytes: number): Promise<string>;
  /** Protects a disk through the HTTP API; returns its diskKey. */
  protect(diskId: string, options?: Record<string, unknown>): Promise<string>;
  /** Starts a BackupRun through the HTTP API and processes the queues until idle; returns the run id. */
  sync(diskKey: string): Promise<string>;
  /** The disk's RestorePoints, asserted to be blob snapshots (diff copies). */
  restorePoints(diskKey: string): Promise<BlobRestorePoint[]>;
  /** The disk's RestorePoints of every kind (diff and managed copies). */
  allRestorePoints(diskKey: string): Promise<RestorePoint[]>;
  verify(point: RestorePoint): Promise<VerifyResult>;
  /** The content digest of a RestorePoint's data alone (no source needed). */
  targetDigest(point: RestorePoint): Promise<string>;
  /**
   * The same app with a worker whose handlers run with `deps`: its `host` (a second local host on the same queues)
   * and its helpers use them; stack, tables, queues and logs are shared, and this app is left as it is.
   */
  withDeps(deps: Deps): TestApp;
}

export interface TestAppOptions {
  readonly settings?: Record<string, string>;
  readonly stack?: LocalStackOptions;
}

export function useTestApp(options: TestAppOptions = {}): () => TestApp {
  let app: TestApp | undefined;
  before(async () => {
    app = await startTestApp(options);
  });
  after(async () => {
    await app?.host.stop();
    await app?.stack.stop();
  });
  return () => {
    if (!app) throw new Error("the test app is not started yet");
    return app;
  };
}

export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const stack = await startLocalStack(options.stack);
  const logs: CapturedLog[] = [];
  const local = startLocalApp({
    stack,
    settings: options.settings,
    log: (level, functionName, text) => logs.push({ level, functionName, text }),
    queueSettings: { visibilityTimeout: 0 },
    // As many tries as production's dataPlaneRetry (a seeded fault sequence can fail one request four times running),
    // with shorter delays.
    dataPlane: { retryOptions: { maxTries: 6, retryDelayInMs: 20, maxRetryDelayInMs: 200, tryTimeoutInMs: 60_000 } },
  });
  return testApp(local, stack, computeClient(stack), logs, local.deps, local.host);
}

function testApp(local: LocalApp, stack: LocalStack, compute: ComputeManagementClient, logs: CapturedLog[], deps: Deps, host: LocalHost): TestApp {
  return {
    stack,
    deps,
    host,
    compute,
    logs,
    async createDisk(name, sizeBytes) {
      const disk = await compute.disks.createOrUpdate(
        resourceGroup,
        name,
        { location: stack.arm.location, diskSizeGB: Math.ceil(sizeBytes / GiB), creationData: { createOption: "Empty" } },
        { updateIntervalInMs: 10 },
      );
      return disk.id!;
    },
    async protect(diskId, extra = {}) {
      const answer = await host.invokeHttp("POST", "/api/disks", {
        diskId,
        target: { blobEndpoint: stack.target.blobEndpoint, container: "backups" },
        ...extra,
      });
      if (answer.status !== 201) throw new Error(`protect failed: ${answer.status} ${JSON.stringify(answer.body)}`);
      return diskKeyOf(diskId);
    },
    async sync(diskKey) {
      const answer = await host.invokeHttp("POST", `/api/disks/${diskKey}/sync`);
      if (answer.status !== 202) throw new Error(`sync failed: ${answer.status} ${JSON.stringify(answer.body)}`);
      await host.runUntilIdle();
      return (answer.body as { runId: string }).runId;
    },
    async allRestorePoints(diskKey) {
      const answer = await host.invokeHttp("GET", `/api/disks/${diskKey}/restore-points`);
      return (answer.body as { restorePoints: RestorePoint[] }).restorePoints;
    },
    async restorePoints(diskKey) {
      const points = await this.allRestorePoints(diskKey);
      for (const point of points) if (point.kind !== "blob") throw new Error(`RestorePoint ${point.restorePointId} of ${diskKey} is ${point.kind}, not a blob snapshot`);
      return points as BlobRestorePoint[];
    },
    verify: (point) => verifyRestorePoint(deps, point),
    async targetDigest(point) {
      return (await restorePointDigest(deps, point)).digest;
    },
    withDeps: (other) => testApp(local, stack, compute, logs, other, local.hostWith(other)),
  };
}
