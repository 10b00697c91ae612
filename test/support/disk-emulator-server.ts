/**
 * A disk emulator on its own HTTPS server on 127.0.0.1, for contract tests that talk to it through the real
 * SDK clients, plus the few steps every such test repeats (create a disk, snapshot it, grant access).
 */
import assert from "node:assert/strict";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { TokenCredential } from "@azure/identity";
import { ComputeManagementClient, type Disk, type Snapshot } from "@azure/arm-compute";
import { ensureLocalCa, issueServerCertificate } from "../../emulator/ca";
import { createDiskEmulator, type DiskEmulator, type DiskEmulatorOptions } from "../../emulator/disks";

export const subscriptionId = "00000000-0000-0000-0000-0000000000d1";
export const resourceGroup = "rg-diskdelta";
export const location = "eastus";
export const gib = 2 ** 30;

/** A static bearer token: the emulator only checks that one is sent. */
export const credential: TokenCredential = {
  getToken: async () => ({ token: "local", expiresOnTimestamp: Date.now() + 3600_000 }),
};

/** Polls as fast as the emulator lets it: its Retry-After is 0, which the SDK poller ignores. */
export const fastPolling = { updateIntervalInMs: 0 };

/** A running emulator with an SDK client pointed at it. */
export interface DiskEmulatorServer {
  baseUrl: string;
  emulator: DiskEmulator;
  compute: ComputeManagementClient;
  close(): Promise<void>;
}

export async function startDiskEmulatorServer(
  options: Partial<Omit<DiskEmulatorOptions, "baseUrl" | "subscriptionId">> = {},
): Promise<DiskEmulatorServer> {
  const server = createServer(await issueServerCertificate(await ensureLocalCa()));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const baseUrl = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const emulator = createDiskEmulator({ baseUrl, subscriptionId, ...options });
  server.on("request", (req, res) => {
    emulator
      .handle(req, res)
      .then((served) => {
        if (!served) {
          res.writeHead(404, { "Content-Type": "application/json" });
          res.end(JSON.stringify({ error: { code: "NotFound", message: "No emulator route." } }));
        }
      })
      .catch((error: unknown) => {
        res.destroy(error instanceof Error ? error : new Error(String(error)));
      });
  });
  const compute = new ComputeManagementClient(credential, subscriptionId, { endpoint: baseUrl });
  return {
    baseUrl,
    emulator,
    compute,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function diskId(name: string): string {
  return `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.Compute/disks/${name}`;
}

export async function createEmptyDisk(compute: ComputeManagementClient, name: string, sizeGB: number): Promise<string> {
  const disk = await compute.disks.createOrUpdate(
    resourceGroup,
    name,
    { location, creationData: { createOption: "Empty" }, diskSizeGB: sizeGB },
    fastPolling,
  );
  return disk.id as string;
}

export async function takeSnapshot(compute: ComputeManagementClient, name: string, sourceDiskId: string): Promise<Snapshot> {
  return compute.snapshots.createOrUpdate(
    resourceGroup,
    name,
    { location, incremental: true, creationData: { createOption: "Copy", sourceResourceId: sourceDiskId } },
    fastPolling,
  );
}

export async function grantRead(compute: ComputeManagementClient, snapshotName: string, seconds = 3600): Promise<string> {
  const access = await compute.snapshots.grantAccess(
    resourceGroup,
    snapshotName,
    { access: "Read", durationInSeconds: seconds },
    fastPolling,
  );
  return access.accessSAS as string;
}

/** The ARM error code, HTTP status and message an SDK call failed with (its RestError's). */
export async function armFailure(call: () => Promise<unknown>): Promise<{ status?: number; code?: string; message: string }> {
  try {
    await call();
  } catch (error) {
    const e = error as { statusCode?: number; code?: string; message: string };
    return { status: e.statusCode, code: e.code, message: e.message };
  }
  assert.fail("the call was expected to fail");
}

/**
 * Creates an empty 1 GiB disk in `resourceGroup` of `location` through ARM, with `more` (properties, sku, tags…)
 * merged into the body, and answers the disk as ARM does (`createEmptyDisk` answers only its id).
 */
export function createDiskWith(compute: ComputeManagementClient, location: string, name: string, more: Partial<Disk> = {}): Promise<Disk> {
  return compute.disks.beginCreateOrUpdateAndWait(resourceGroup, name, { location, diskSizeGB: 1, creationData: { createOption: "Empty" }, ...more }, fastPolling);
}
