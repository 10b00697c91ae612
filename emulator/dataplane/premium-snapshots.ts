/**
 * The snapshot limits of a premium account's page blobs, which Azurite does not keep. As the service documents them
 * (src/domain/page-blob-tiers.ts, `premiumPageBlobSnapshots`): a Snapshot Blob of a page blob that has 100 snapshots
 * already is 409 SnapshotCountExceeded, and one within the interval (ten minutes) of the blob's newest snapshot is 409
 * SnapshotOperationRateExceeded. Both are proven at every Snapshot Blob from Azurite's own listing of the blob's
 * snapshots (their count and the newest one's time), so nothing is tracked that a delete could leave stale.
 */
import { ContainerClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { premiumPageBlobSnapshots } from "../../src/domain/page-blob-tiers";
import { httpError, storageErrors } from "../error-catalog";
import type { SharedKeyAccount } from "../shared-key";

/** What Azurite lists of one blob's snapshots. */
interface SnapshotsOfBlob {
  readonly count: number;
  /** The newest snapshot's time (ms since the epoch), or undefined when there is none. */
  readonly newestAt: number | undefined;
}

/**
 * Refuses a Snapshot Blob of the blob at `path` (`/<account>/<container>/<blob>`, decoded) as the service would,
 * or returns so it can go on. `intervalSeconds` 0 checks the count only.
 */
export async function admitPremiumSnapshot(
  azuriteBlobUrl: string, account: SharedKeyAccount, path: string, intervalSeconds: number, now = Date.now(),
): Promise<void> {
  const [, , containerName, ...nameParts] = path.split("/");
  const blobName = nameParts.join("/");
  if (!containerName || !blobName) return;
  const container = new ContainerClient(`${azuriteBlobUrl}/${account.name}/${containerName}`, new StorageSharedKeyCredential(account.name, account.key));
  const listed = await snapshotsOf(container, blobName);
  if (listed.count >= premiumPageBlobSnapshots.maxPerBlob) throw httpError(storageErrors.snapshotCountExceeded);
  if (intervalSeconds > 0 && listed.newestAt !== undefined && now - listed.newestAt < intervalSeconds * 1000) {
    throw httpError(storageErrors.snapshotOperationRateExceeded);
  }
}

/** The blob's snapshots as Azurite lists them; a container that is not there lists none (Azurite answers the call). */
async function snapshotsOf(container: ContainerClient, blobName: string): Promise<SnapshotsOfBlob> {
  let count = 0;
  let newestAt: number | undefined;
  try {
    for await (const item of container.listBlobsFlat({ prefix: blobName, includeSnapshots: true })) {
      if (item.name !== blobName || !item.snapshot) continue;
      count++;
      const at = Date.parse(item.snapshot);
      if (newestAt === undefined || at > newestAt) newestAt = at;
    }
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode !== 404) throw error;
  }
  return { count, newestAt };
}
