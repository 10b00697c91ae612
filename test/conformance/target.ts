/**
 * What a conformance test runs against: the local stack (default) or a real subscription (the runner's `--live`,
 * DISKDELTA_CONFORMANCE_MODE=live). Tests see only this and the real SDK clients, never the emulator's control
 * API, so the same test files run unchanged on both. Every resource a test creates is named by the plan
 * (`plan.ts`) and tracked before it is created; cleanup deletes what was tracked, in the plan's reverse order.
 */
import { randomUUID } from "node:crypto";
import { after, before } from "node:test";
import { ComputeManagementClient, type Disk } from "@azure/arm-compute";
import { DefaultAzureCredential, type TokenCredential } from "@azure/identity";
import { AnonymousCredential, BlobServiceClient, PageBlobClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { buildFixedVhdFooter, vhdFooterSize } from "../../emulator/disks/vhd";
import { startLocalStack, type LocalStack } from "../../emulator/stack";
import { liveEnvPath, readLiveSettings } from "./live-settings";
import { isArmResource, newRunPrefix, suiteResources, type Placement, type PlannedArmResource, type PlannedResource, type SuiteName, type SuiteResources } from "./plan";

export type ConformanceMode = "local" | "live";

/** The mode of this process: the runner sets DISKDELTA_CONFORMANCE_MODE=live for a live run. */
export function conformanceMode(env: NodeJS.ProcessEnv = process.env): ConformanceMode {
  return env.DISKDELTA_CONFORMANCE_MODE === "live" ? "live" : "local";
}

/** Per-test time bound: ARM operations take seconds to minutes live, milliseconds locally. */
export const testTimeoutMs = conformanceMode() === "live" ? 15 * 60_000 : 60_000;

/** Bytes to place on a disk when it is made. */
export interface DiskWrite {
  offset: number;
  data: Buffer;
}

/** A run's place, clients' credentials and the resources one suite may create. */
export interface ConformanceTarget<S extends SuiteName> {
  readonly mode: ConformanceMode;
  readonly prefix: string;
  /** ARM: `new ComputeManagementClient(arm.credential, arm.subscriptionId, { endpoint: arm.endpoint })`. */
  readonly arm: { endpoint: string; credential: TokenCredential; subscriptionId: string };
  /** Where disks and snapshots go. */
  readonly source: Placement["source"];
  /** The backup side: `new BlobServiceClient(target.blobEndpoint, target.credential)`. */
  readonly target: Placement["target"] & { credential: StorageSharedKeyCredential | TokenCredential };
  /** This suite's resources, named by the plan. */
  readonly resources: SuiteResources[S];
  /** Poll interval for long-running operations (`updateIntervalInMs`). */
  readonly pollIntervalMs: number;
  /**
   * Whether `writeDisk` works. A managed disk takes data without a VM only once, by its upload before first use; after
   * that only a VM writes it. The suite attaches no VM, so live tests of changes between two snapshots skip their
   * writes and say so; locally the emulator writes as a VM would.
   */
  readonly canWriteDisk: boolean;
  /**
   * Marks a planned resource (ARM id or blob URL) as this run's, before it is created, so cleanup deletes it even
   * if the create fails half-way. Throws for anything the plan does not list for this suite.
   */
  track(idOrUrl: string): void;
  /**
   * Creates `disk` with `writes` on it and returns it as ARM reports it, the same way live and locally: createOption
   * Upload of `sizeBytes` (+ the VHD footer; `sizeBytes` a whole MiB, at least 20 MiB), grant Write, Put Page the
   * writes and a fixed-VHD footer into the upload SAS, revoke.
   */
  createDiskWithData(disk: PlannedArmResource, sizeBytes: number, writes: readonly DiskWrite[]): Promise<Disk>;
  /** Writes to an existing disk as a VM would. Local only (`canWriteDisk`): live it would need a VM. */
  writeDisk(diskId: string, offset: number, data: Buffer): Promise<void>;
  /** Deletes what was tracked, in reverse plan order; throws naming every resource it could not delete. */
  cleanup(): Promise<void>;
}

/** The ARM compute client for a target. */
export function computeClient(target: ConformanceTarget<SuiteName>): ComputeManagementClient {
  return new ComputeManagementClient(target.arm.credential, target.arm.subscriptionId, { endpoint: target.arm.endpoint });
}

/** The target storage account's blob service. */
export function targetBlobService(target: ConformanceTarget<SuiteName>): BlobServiceClient {
  return new BlobServiceClient(target.target.blobEndpoint, target.target.credential);
}

const maxPutPageBytes = 4 * 1024 * 1024;
const runTag = "diskdelta-conformance";

/** Tags every resource with its run, so leftovers of a killed run are found by tag as well as by name. */
export function runTags(target: ConformanceTarget<SuiteName>): Record<string, string> {
  return { [runTag]: target.prefix };
}

function keyOf(resource: PlannedResource): string {
  return isArmResource(resource) ? resource.id.toLowerCase() : resource.url;
}

function isNotFound(error: unknown): boolean {
  const e = error as { statusCode?: number; code?: string };
  return e.statusCode === 404 || e.code === "ResourceNotFound" || e.code === "ResourceGroupNotFound";
}

interface TargetParts {
  mode: ConformanceMode;
  prefix: string;
  place: Placement;
  arm: ConformanceTarget<SuiteName>["arm"];
  storageCredential: StorageSharedKeyCredential | TokenCredential;
  pollIntervalMs: number;
  /** How a VM would write to a disk after its upload; undefined live, where the suite has no VM. */
  writer?: (diskId: string, offset: number, data: Buffer) => void;
}

function buildTarget<S extends SuiteName>(suite: S, parts: TargetParts): ConformanceTarget<S> {
  const resources = suiteResources(parts.place, parts.prefix)[suite];
  const planned: PlannedResource[] = Object.values(resources);
  const tracked = new Set<string>();
  /** Disks holding a Write grant (an upload under way): revoked before they are deleted. */
  const granted = new Set<string>();
  const poll = { updateIntervalInMs: parts.pollIntervalMs };
  const self: ConformanceTarget<S> = {
    mode: parts.mode,
    prefix: parts.prefix,
    arm: parts.arm,
    source: parts.place.source,
    target: { ...parts.place.target, credential: parts.storageCredential },
    resources,
    pollIntervalMs: parts.pollIntervalMs,
    canWriteDisk: parts.writer !== undefined,
    track(idOrUrl) {
      const key = planned.map(keyOf).find((k) => k === idOrUrl || k === idOrUrl.toLowerCase());
      if (!key) throw new Error(`${idOrUrl} is not in the conformance plan of suite ${suite}: only planned resources may be created`);
      tracked.add(key);
    },
    async createDiskWithData(disk, sizeBytes, writes) {
      const compute = computeClient(self);
      self.track(disk.id);
      const base = { location: self.source.location, sku: { name: "Standard_LRS" }, tags: runTags(self) };
      const uploadSizeBytes = sizeBytes + vhdFooterSize;
      await compute.disks.beginCreateOrUpdateAndWait(
        self.source.resourceGroup, disk.name, { ...base, creationData: { createOption: "Upload", uploadSizeBytes } }, poll);
      granted.add(keyOf(disk));
      const access = await compute.disks.beginGrantAccessAndWait(
        self.source.resourceGroup, disk.name, { access: "Write", durationInSeconds: 3600 }, poll);
      if (!access.accessSAS) throw new Error(`grant Write on ${disk.id} answered no accessSAS`);
      const upload = new PageBlobClient(access.accessSAS, new AnonymousCredential());
      const footer = buildFixedVhdFooter(sizeBytes, randomUUID(), new Date());
      for (const { offset, data } of [...writes, { offset: sizeBytes, data: footer }]) {
        for (let at = 0; at < data.length; at += maxPutPageBytes) {
          const chunk = data.subarray(at, at + maxPutPageBytes);
          await upload.uploadPages(chunk, offset + at, chunk.length);
        }
      }
      await compute.disks.beginRevokeAccessAndWait(self.source.resourceGroup, disk.name, poll);
      granted.delete(keyOf(disk));
      return compute.disks.get(self.source.resourceGroup, disk.name);
    },
    async writeDisk(diskId, offset, data) {
      if (!parts.writer) throw new Error("writeDisk is local only: live Azure writes a managed disk through a VM (see canWriteDisk)");
      parts.writer(diskId, offset, data);
    },
    async cleanup() {
      const compute = computeClient(self);
      const blobs = targetBlobService(self);
      const failures: string[] = [];
      for (const resource of [...planned].reverse()) {
        if (!tracked.has(keyOf(resource))) continue;
        try {
          await deleteResource(resource);
          tracked.delete(keyOf(resource));
        } catch (error) {
          failures.push(`  ${resource.kind} ${keyOf(resource)}: ${(error as Error).message}`);
        }
      }
      if (failures.length) throw new Error(`conformance cleanup left resources behind; delete them by hand:\n${failures.join("\n")}`);

      async function deleteResource(resource: PlannedResource): Promise<void> {
        const group = self.source.resourceGroup;
        if (isArmResource(resource)) {
          // A snapshot may hold a test's read grant, a disk an interrupted upload's: revoked first, as Azure
          // refuses to delete what is being exported (see docs/local-stack.md, assumptions).
          const ops = resource.kind === "disk" ? compute.disks : compute.snapshots;
          if (resource.kind === "snapshot" || granted.has(keyOf(resource))) {
            try {
              await ops.beginRevokeAccessAndWait(group, resource.name, poll);
            } catch (error) {
              if (isNotFound(error)) return;
              throw error;
            }
          }
          await ops.beginDeleteAndWait(group, resource.name, poll);
        } else if (resource.kind === "blob") {
          await blobs.getContainerClient(resource.container).getBlobClient(resource.blobName ?? "").deleteIfExists({ deleteSnapshots: "include" });
        } else {
          await blobs.getContainerClient(resource.container).deleteIfExists();
        }
      }
    },
  };
  return self;
}

/** A target on a fresh local stack; `stop` ends the stack. */
export async function localTarget<S extends SuiteName>(suite: S): Promise<{ target: ConformanceTarget<S>; stop: () => Promise<void> }> {
  const stack: LocalStack = await startLocalStack();
  const place: Placement = {
    subscriptionId: stack.arm.subscriptionId,
    source: { resourceGroup: "rg-conformance-source", location: stack.arm.location },
    target: {
      resourceGroup: "rg-conformance-target",
      location: stack.target.location,
      storageAccount: stack.target.accountName,
      blobEndpoint: stack.target.blobEndpoint,
    },
  };
  // As live, the resource groups are given, not the suite's: here the stack's subscription gets them first.
  await stack.createResourceGroup({ name: place.source.resourceGroup, location: place.source.location });
  await stack.createResourceGroup({ name: place.target.resourceGroup, location: place.target.location });
  const target = buildTarget(suite, {
    mode: "local",
    prefix: newRunPrefix(),
    place,
    arm: { endpoint: stack.arm.endpoint, credential: stack.arm.credential, subscriptionId: stack.arm.subscriptionId },
    storageCredential: new StorageSharedKeyCredential(stack.target.accountName, stack.target.accountKey),
    pollIntervalMs: 10,
    writer: (diskId, offset, data) => stack.disks.write(diskId, offset, data),
  });
  return { target, stop: () => stack.stop() };
}

/** A target in the subscription of the env file, with the runner's prefix (the one its plan printed). */
export function liveTarget<S extends SuiteName>(suite: S, env: NodeJS.ProcessEnv = process.env): ConformanceTarget<S> {
  const prefix = env.DISKDELTA_CONFORMANCE_PREFIX;
  if (!prefix) throw new Error("a live conformance run needs its prefix: run it with `npm run conformance -- --live`, which prints the plan first");
  const settings = readLiveSettings(liveEnvPath(env));
  const credential = new DefaultAzureCredential(
    settings.clientId ? { managedIdentityClientId: settings.clientId, workloadIdentityClientId: settings.clientId } : {},
  );
  return buildTarget(suite, {
    mode: "live",
    prefix,
    place: settings,
    arm: { endpoint: "https://management.azure.com", credential, subscriptionId: settings.subscriptionId },
    storageCredential: credential,
    pollIntervalMs: 2000,
  });
}

/**
 * In a `describe`: the suite's target, made before its tests and cleaned up (and the local stack stopped) after
 * them. The returned function gives it to tests and hooks.
 */
export function useConformanceTarget<S extends SuiteName>(suite: S): () => ConformanceTarget<S> {
  let target: ConformanceTarget<S> | undefined;
  let stop = async (): Promise<void> => {};
  before(async () => {
    if (conformanceMode() === "live") {
      target = liveTarget(suite);
    } else {
      ({ target, stop } = await localTarget(suite));
    }
  });
  after(async () => {
    try {
      await target?.cleanup();
    } finally {
      await stop();
    }
  }, { timeout: testTimeoutMs });
  return () => {
    if (!target) throw new Error("the conformance target is not ready yet: use it inside tests or hooks");
    return target;
  };
}
