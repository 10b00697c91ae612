/**
 * The local Azure stack the tests, the demo, the bench and `npm run stack` share: Azurite for the app's
 * storage, and one HTTPS endpoint serving ARM compute + snapshot data (the disk emulator) and the backup
 * target storage (Azurite behind the blob proxy, which adds Put Page From URL).
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { TokenCredential } from "@azure/identity";
import { z } from "zod";
import { startAzurite, devAccount, type AzuriteInstance } from "./azurite";
import {
  BehaviourControlClient,
  BehaviourSettings,
  handleBehaviourRoute,
  type BehaviourControl,
  type ComputeRateLimitsUpdate,
} from "./behaviour";
import { createBlobProxy } from "./blob-proxy";
import type { StorageAccountSku } from "./storage-accounts";
import { type BlobLimiter, type BlobLimitsOption, createBlobLimiter } from "./dataplane/blob-limits";
import { caCertPath, ensureLocalCa, issueServerCertificate } from "./ca";
import { createDiskEmulator, type DiskControl, type DiskEmulator } from "./disks";
import type { CopyRate } from "./disks/snapshot-copies";
import { DiskControlClient, ResourceGroupControlClient, VirtualMachineControlClient } from "./disks/control-client";
import type { VirtualMachineControl } from "./disks/virtual-machines";
import { defaultResourceGroups, type ResourceGroupControl, type ResourceGroupSeed } from "./disks/resource-groups";
import { serviceComputeRateLimits } from "./compute/rate-limits";
import { FaultControlClient, FaultInjector, type FaultControl } from "./faults";
import { createImportReader } from "./import-reader";
import { startEmulatorServer } from "./server";

/** Options for `startLocalStack`; every field has a sensible local default. */
export interface LocalStackOptions {
  subscriptionId?: string;
  /** Region of the compute resources (the source side). */
  location?: string;
  /**
   * Region of the target storage account (the backup side, "another region"), as ARM's Get of the account reports it
   * and as Disk Import checks it (the app's own account is in `location`).
   */
  targetLocation?: string;
  /** Name of the target storage account (3-24 lowercase letters and digits). */
  targetAccountName?: string;
  /** Passed to the disk emulator: delay before a long-running operation succeeds. */
  lroDelayMs?: number;
  /** Passed to the disk emulator: Retry-After on the 202 of a PUT or PATCH, in seconds (default 0). */
  lroRetryAfterSeconds?: number;
  /**
   * Passed to the disk emulator: Retry-After on the first InProgress poll of a PUT or PATCH, in seconds (default
   * `lroRetryAfterSeconds`); later polls and those of POST/DELETE operations carry none, as in the recorded session.
   */
  lroPollRetryAfterSeconds?: number;
  /** Cap on Azurite's in-memory data in MiB. */
  extentMemoryLimitMb?: number;
  /**
   * Most ranges in one Get Page Ranges answer, on the snapshot data endpoint and the target storage alike
   * (default 10,000, the service's). Change it at run time with `setPageListMaxRanges`.
   */
  pageListMaxRanges?: number;
  /**
   * Whether a managed-disk diff across a disk growth lists the old VHD footer page as ClearRange (default true).
   * Undocumented by Azure; false plays a service that does not. Change it at run time with `setListOldFooterAsCleared`.
   */
  listOldFooterAsCleared?: boolean;
  /**
   * Compute throttling budgets per policy, `[threeMinutes, thirtyMinutes]` (default 100 times the service's, see
   * `serviceComputeRateLimits`); a call beyond is 429 with Retry-After. Change at run time with `setComputeRateLimits`.
   */
  computeRateLimits?: ComputeRateLimitsUpdate;
  /**
   * Resource groups that exist at start (default `defaultResourceGroups(location, targetLocation)`: every group the
   * tests, the demo and the bench use). A disk or snapshot in another group is 404 ResourceGroupNotFound, as in Azure,
   * until the group is created (`createResourceGroup`, or ARM's PUT of the group).
   */
  resourceGroups?: readonly ResourceGroupSeed[];
  /**
   * Bytes per second a managed copy (CopyStart) moves (default 1 GiB/s, so a test's copies finish at once; 0 pauses,
   * "instant" completes at once). Change at run time with `disks.setSnapshotCopyRate`.
   */
  snapshotCopyBytesPerSecond?: CopyRate;
  /** CopyStarts in flight per subscription per target region (default 100, the service's limit). */
  maxSnapshotCopiesPerRegion?: number;
  /**
   * Azure Storage's scalability targets on the target account's page writes (`emulator/dataplane/blob-limits.ts`):
   * off by default; `{}` plays the service's, `{ scale: 0.01 }` a hundredth of them (a premium account's page blobs
   * take their tiers' bytes and writes per second). Switch at run time with `blobLimits.set`.
   */
  blobLimits?: BlobLimitsOption;
  /**
   * The target account's SKU (default Standard_LRS). Premium_LRS plays a premium page blob account: it refuses block
   * and append blobs (400 BlobTypeNotSupported) and reports its SKU to ARM's Get and to Get Account Information.
   */
  targetAccountSku?: StorageAccountSku;
  /**
   * Seconds between two snapshots of one premium page blob (default 600, the service's; 0 turns the check off).
   * Change at run time with `setPremiumSnapshotIntervalSeconds`.
   */
  premiumSnapshotIntervalSeconds?: number;
}

/** ARM (compute) endpoint of the disk emulator, with what `ComputeManagementClient` needs. */
export interface ArmEndpoint {
  /** HTTPS base URL; pass as `endpoint` to `ComputeManagementClient`. */
  endpoint: string;
  subscriptionId: string;
  /** Region of the disks and snapshots. */
  location: string;
  /** Static bearer token credential; the emulator does not check tokens, the SDK just insists on one. */
  credential: TokenCredential;
}

/** The app's own storage (state tables, queues): Azurite directly, with the public development account. */
export interface AppStorageEndpoints {
  /** Connection string for the development account, endpoints included (plain http, loopback). */
  connectionString: string;
  blobEndpoint: string;
  queueEndpoint: string;
  tableEndpoint: string;
}

/** The backup target storage account "in another region": HTTPS through the blob proxy. */
export interface TargetStorage {
  /** https://127.0.0.1:<port>/<accountName>, served by the blob proxy in front of Azurite. */
  blobEndpoint: string;
  accountName: string;
  /** Random per stack start, so a secret-scanning test has a real key to look for. */
  accountKey: string;
  /** Connection string with BlobEndpoint set to `blobEndpoint`. */
  connectionString: string;
  /** A fake ARM id of the account, for Disk Import's `storageAccountId`. */
  resourceId: string;
  location: string;
}

/** What any process needs to reach a running stack. */
export interface StackEndpoints {
  arm: ArmEndpoint;
  appStorage: AppStorageEndpoints;
  target: TargetStorage;
  /** The local CA certificate (PEM) that signed the HTTPS endpoint; Node trusts it via NODE_EXTRA_CA_CERTS. */
  caCertPath: string;
}

/**
 * A stack running in this process; `setPageListMaxRanges`, `setListOldFooterAsCleared`, `setComputeRateLimits`,
 * `setRegionOutage` switch service behaviour, `createResourceGroup` / `listResourceGroups` manage the subscription's
 * groups, `createVirtualMachine` / `deleteVirtualMachine` its VMs.
 */
export interface LocalStack extends StackEndpoints, BehaviourControl, ResourceGroupControl, VirtualMachineControl {
  /** Writes to and reads from emulated managed disks, as a VM would. */
  disks: DiskControl;
  /** Fault injection on the HTTPS endpoint; off until `set` is called. */
  faults: FaultControl;
  /** The disk emulator itself, for tests that need more than `disks`. */
  emulator: DiskEmulator;
  /** The modelled scalability targets of page writes (see `LocalStackOptions.blobLimits`): switch, and count refusals. */
  blobLimits: Pick<BlobLimiter, "set" | "counts">;
  /** Stops the HTTPS server and Azurite; safe to call twice. */
  stop(): Promise<void>;
}

/** A stack running in another process (found through its stack file); disks, faults and behaviour go over HTTP. */
export interface StackConnection extends StackEndpoints, BehaviourControl, ResourceGroupControl, VirtualMachineControl {
  /** The async twin of `LocalStack.disks`, over the emulator's control routes. */
  disks: DiskControlClient;
  faults: FaultControl;
}

/**
 * The service as the recorded azure-mgmt-compute session shows it (`/work/shared/azure-specs/recordings`), for a
 * stack people use by hand (`npm run stack`): Retry-After 2 s on the 202 of a PUT/PATCH and 10 s on its first
 * InProgress poll; operations take 200 ms (the recording's disk create, snapshot update, grant, revoke and delete
 * took 110-220 ms; its 22 s snapshot create is not played, one delay serves every operation); and the service's
 * throttling budgets (`serviceComputeRateLimits`) instead of 100 times them; managed copies (CopyStart) move 64 MiB/s
 * (assumed: the service publishes no speed). Tests keep the fast defaults.
 */
export const recordedServiceOptions: LocalStackOptions = {
  lroDelayMs: 200,
  lroRetryAfterSeconds: 2,
  lroPollRetryAfterSeconds: 10,
  computeRateLimits: serviceComputeRateLimits,
  snapshotCopyBytesPerSecond: 64 * 2 ** 20,
};

const defaultSubscriptionId = "9f2c6a4e-0d3b-4c1a-8e5f-7b6d2a1c3e90";
const bearerToken = "diskdelta-local-stack";

/** A credential that always hands out the same token: enough for the emulator, never sent to Azure. */
export function staticTokenCredential(token = bearerToken): TokenCredential {
  return { getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3600_000 }) };
}

function storageConnectionString(account: { name: string; key: string }, blobEndpoint: string, more = ""): string {
  const protocol = new URL(blobEndpoint).protocol.replace(":", "");
  return `DefaultEndpointsProtocol=${protocol};AccountName=${account.name};AccountKey=${account.key};BlobEndpoint=${blobEndpoint};${more}`;
}

/** Starts Azurite and the HTTPS endpoint in this process; takes a second or two. */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const subscriptionId = options.subscriptionId ?? defaultSubscriptionId;
  const target = { name: options.targetAccountName ?? "diskdeltatarget", key: randomBytes(64).toString("base64") };
  // The CA first: Azurite trusts it, to read a Copy Blob's source through the proxy.
  const ca = await ensureLocalCa();
  const azurite = await startAzurite({ accounts: [devAccount, target], extentMemoryLimitMb: options.extentMemoryLimitMb, trustedCaPath: caCertPath });
  const cleanups: (() => Promise<void> | void)[] = [() => azurite.stop()];
  const stop = async (): Promise<void> => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  };
  try {
    const faults = new FaultInjector();
    const behaviour = new BehaviourSettings({
      pageListMaxRanges: options.pageListMaxRanges,
      listOldFooterAsCleared: options.listOldFooterAsCleared,
      computeRateLimits: options.computeRateLimits,
      premiumSnapshotIntervalSeconds: options.premiumSnapshotIntervalSeconds,
    });
    const proxied = new Set([devAccount.name, target.name]);
    const server = await startEmulatorServer({
      tls: await issueServerCertificate(ca),
      faults,
      scopeOf: (req) => {
        const path = req.url ?? "/";
        if (/^\/subscriptions\//i.test(path)) return "compute";
        if (path.startsWith("/md-")) return "data";
        return proxied.has(path.split("/", 2)[1]?.split("?", 1)[0] ?? "") ? "blob" : undefined;
      },
    });
    cleanups.push(() => server.close());
    const accounts = [devAccount, target];
    const emulator = createDiskEmulator({
      baseUrl: server.baseUrl,
      subscriptionId,
      lroDelayMs: options.lroDelayMs,
      lroRetryAfterSeconds: options.lroRetryAfterSeconds,
      lroPollRetryAfterSeconds: options.lroPollRetryAfterSeconds,
      resourceGroups: options.resourceGroups ?? defaultResourceGroups(sourceLocationOf(options), targetLocationOf(options)),
      importReader: createImportReader({ azuriteBlobUrl: azurite.blobUrl, accounts }),
      // The app's own account lives with the app in the source region; the target account in the target region.
      storageAccounts: [
        { name: devAccount.name, resourceGroup: "rg-app", location: sourceLocationOf(options) },
        { name: target.name, resourceGroup: targetAccountGroup, location: targetLocationOf(options), sku: options.targetAccountSku },
      ],
      behaviour,
      snapshotCopyBytesPerSecond: options.snapshotCopyBytesPerSecond,
      maxSnapshotCopiesPerRegion: options.maxSnapshotCopiesPerRegion,
    });
    const limiter = createBlobLimiter(options.blobLimits);
    const proxy = createBlobProxy({
      azuriteBlobUrl: azurite.blobUrl,
      accounts,
      openSource: (url) => emulator.openSource(url),
      ca: ca.cert,
      behaviour,
      limiter,
      premiumAccounts: new Set(options.targetAccountSku === "Premium_LRS" ? [target.name] : []),
    });
    cleanups.push(() => proxy.close());
    server.route([
      (req, res) => handleBehaviourRoute(req, res, behaviour),
      (req, res) => emulator.handle(req, res),
      proxy.handle,
    ]);
    const endpoints = describeStack(options, subscriptionId, azurite, server.baseUrl, target);
    return {
      ...endpoints,
      disks: emulator.control,
      faults,
      emulator,
      ...behaviourControl(behaviour),
      ...resourceGroupControl(emulator.resourceGroups),
      ...virtualMachineControl(emulator.virtualMachines),
      blobLimits: { set: (option) => limiter.set(option), counts: limiter.counts },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

function describeStack(
  options: LocalStackOptions,
  subscriptionId: string,
  azurite: AzuriteInstance,
  baseUrl: string,
  target: { name: string; key: string },
): StackEndpoints {
  const app = {
    blobEndpoint: `${azurite.blobUrl}/${devAccount.name}`,
    queueEndpoint: `${azurite.queueUrl}/${devAccount.name}`,
    tableEndpoint: `${azurite.tableUrl}/${devAccount.name}`,
  };
  const targetBlobEndpoint = `${baseUrl}/${target.name}`;
  return {
    arm: { endpoint: baseUrl, subscriptionId, location: sourceLocationOf(options), credential: staticTokenCredential() },
    appStorage: {
      ...app,
      connectionString: storageConnectionString(
        devAccount,
        app.blobEndpoint,
        `QueueEndpoint=${app.queueEndpoint};TableEndpoint=${app.tableEndpoint};`,
      ),
    },
    target: {
      blobEndpoint: targetBlobEndpoint,
      accountName: target.name,
      accountKey: target.key,
      connectionString: storageConnectionString(target, targetBlobEndpoint),
      resourceId: `/subscriptions/${subscriptionId}/resourceGroups/${targetAccountGroup}/providers/Microsoft.Storage/storageAccounts/${target.name}`,
      location: targetLocationOf(options),
    },
    caCertPath,
  };
}

const stackFileSchema = z.object({
  version: z.literal(1),
  pid: z.number().int(),
  arm: z.object({ endpoint: z.url(), subscriptionId: z.string(), location: z.string(), token: z.string() }),
  appStorage: z.object({
    connectionString: z.string(),
    blobEndpoint: z.url(),
    queueEndpoint: z.url(),
    tableEndpoint: z.url(),
  }),
  target: z.object({
    blobEndpoint: z.url(),
    accountName: z.string(),
    accountKey: z.string(),
    connectionString: z.string(),
    resourceId: z.string(),
    location: z.string(),
  }),
  caCertPath: z.string(),
});

/** The content of `.local/stack.json`: a running stack's endpoints and local-only credentials. */
export type StackFile = z.infer<typeof stackFileSchema>;

/**
 * Writes the stack file. It holds the target account's key (random, local) and Azurite's public development
 * key; `.local/` is git-ignored and the file is written readable by the owner only.
 */
export function writeStackFile(stack: StackEndpoints, path: string): void {
  const { credential: _credential, ...arm } = stack.arm;
  const file: StackFile = {
    version: 1,
    pid: process.pid,
    arm: { ...arm, token: bearerToken },
    appStorage: stack.appStorage,
    target: stack.target,
    caCertPath: stack.caCertPath,
  };
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(file, null, 2) + "\n", { mode: 0o600 });
}

/** Reads and validates a stack file; throws with every problem listed if it is not one. */
export function readStackFile(path: string): StackFile {
  const parsed = stackFileSchema.safeParse(JSON.parse(readFileSync(path, "utf8")));
  if (!parsed.success) throw new Error(`${path} is not a local stack file:\n${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/** Connects to a stack another process started (e.g. `npm run stack`), through its stack file. */
export function connectToStack(path: string): StackConnection {
  const file = readStackFile(path);
  const { token, ...arm } = file.arm;
  return {
    arm: { ...arm, credential: staticTokenCredential(token) },
    appStorage: file.appStorage,
    target: file.target,
    caCertPath: file.caCertPath,
    disks: new DiskControlClient(arm.endpoint),
    faults: new FaultControlClient(arm.endpoint, file.caCertPath),
    ...behaviourControl(new BehaviourControlClient(arm.endpoint)),
    ...resourceGroupControl(new ResourceGroupControlClient(arm.endpoint)),
    ...virtualMachineControl(new VirtualMachineControlClient(arm.endpoint)),
  };
}

/** The resource group of the target storage account (its ARM id, and ARM's Get of it). */
const targetAccountGroup = "diskdelta-target";

function sourceLocationOf(options: LocalStackOptions): string {
  return options.location ?? "westeurope";
}

function targetLocationOf(options: LocalStackOptions): string {
  return options.targetLocation ?? "northeurope";
}

/** The resource group methods as the stack's own, bound like the behaviour switches. */
function resourceGroupControl(control: ResourceGroupControl): ResourceGroupControl {
  return {
    createResourceGroup: (group) => control.createResourceGroup(group),
    listResourceGroups: () => control.listResourceGroups(),
  };
}

/** The VM methods as the stack's own, bound like the behaviour switches. */
function virtualMachineControl(control: VirtualMachineControl): VirtualMachineControl {
  return {
    createVirtualMachine: (spec) => control.createVirtualMachine(spec),
    deleteVirtualMachine: (resourceGroup, name) => control.deleteVirtualMachine(resourceGroup, name),
  };
}

/** The behaviour switches as the stack's own methods, bound, so they can be passed around like `stop`. */
function behaviourControl(control: BehaviourControl): BehaviourControl {
  return {
    setPageListMaxRanges: (n) => control.setPageListMaxRanges(n),
    setListOldFooterAsCleared: (on) => control.setListOldFooterAsCleared(on),
    setComputeRateLimits: (limits) => control.setComputeRateLimits(limits),
    setRegionOutage: (location, down) => control.setRegionOutage(location, down),
    setPremiumSnapshotIntervalSeconds: (seconds) => control.setPremiumSnapshotIntervalSeconds(seconds),
  };
}
