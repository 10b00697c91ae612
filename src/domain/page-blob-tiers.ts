/**
 * A premium page blob's performance tier and the targets it sets, from
 * https://learn.microsoft.com/azure/virtual-machines/disks-types ("Premium SSD sizes": per-disk IOPS and MB/s, MB =
 * 10^6 bytes), as Set Blob Tier and Get Blob Properties (`x-ms-access-tier`) name them. A blob's tier is the
 * smallest that holds it unless a larger one was set (and is billed). A page blob holds at most 8 TiB, so P70 and P80
 * (which the SDK also names) are never inferred; they are here so that a tier set by name is still known. The product
 * paces its writes to a premium TargetBlob by the tier the blob reports; the local stack models the same table.
 */
const GiB = 2 ** 30;

/** One tier: the largest blob it holds and its write targets. */
export interface PageBlobTier {
  readonly tier: string;
  readonly maxBytes: number;
  readonly requestsPerSecond: number;
  readonly bytesPerSecond: number;
}

export const premiumPageBlobTiers: readonly PageBlobTier[] = [
  { tier: "P4", maxBytes: 32 * GiB, requestsPerSecond: 120, bytesPerSecond: 25e6 },
  { tier: "P6", maxBytes: 64 * GiB, requestsPerSecond: 240, bytesPerSecond: 50e6 },
  { tier: "P10", maxBytes: 128 * GiB, requestsPerSecond: 500, bytesPerSecond: 100e6 },
  { tier: "P15", maxBytes: 256 * GiB, requestsPerSecond: 1_100, bytesPerSecond: 125e6 },
  { tier: "P20", maxBytes: 512 * GiB, requestsPerSecond: 2_300, bytesPerSecond: 150e6 },
  { tier: "P30", maxBytes: 1024 * GiB, requestsPerSecond: 5_000, bytesPerSecond: 200e6 },
  { tier: "P40", maxBytes: 2048 * GiB, requestsPerSecond: 7_500, bytesPerSecond: 250e6 },
  { tier: "P50", maxBytes: 4096 * GiB, requestsPerSecond: 7_500, bytesPerSecond: 250e6 },
  { tier: "P60", maxBytes: 8192 * GiB, requestsPerSecond: 16_000, bytesPerSecond: 500e6 },
  { tier: "P70", maxBytes: 16_384 * GiB, requestsPerSecond: 18_000, bytesPerSecond: 750e6 },
  { tier: "P80", maxBytes: 32_767 * GiB, requestsPerSecond: 20_000, bytesPerSecond: 900e6 },
];

/** A page blob's greatest size (8 TiB): the tier inferred for a blob is never above P60. */
const maxPageBlobBytes = 8192 * GiB;

/** The tier a premium page blob of `sizeBytes` gets by its size; undefined beyond a page blob's 8 TiB. */
export function inferredPageBlobTier(sizeBytes: number): PageBlobTier | undefined {
  if (sizeBytes > maxPageBlobBytes) return undefined;
  return premiumPageBlobTiers.find((tier) => sizeBytes <= tier.maxBytes);
}

/** The premium page blob tier called `name` (`P10`, as the service spells it), or undefined for any other tier. */
export function pageBlobTierNamed(name: string | undefined): PageBlobTier | undefined {
  return premiumPageBlobTiers.find((tier) => tier.tier === name);
}

/**
 * What a premium account allows of one page blob's snapshots, from
 * https://learn.microsoft.com/rest/api/storageservices/using-blob-service-operations-with-azure-premium-storage:
 * at most 100 (a Snapshot Blob beyond is 409 SnapshotCountExceeded), and one every ten minutes (a Snapshot Blob sooner
 * is 409 SnapshotOperationRateExceeded). The local stack models both; the product waits out the interval and names
 * the count when it is reached.
 */
export const premiumPageBlobSnapshots = { maxPerBlob: 100, intervalSeconds: 600 } as const;

/**
 * Whether an account, as Get Account Information describes it, holds premium page blobs: a premium sku of a general
 * purpose kind (a premium BlockBlobStorage or FileStorage account holds no page blobs).
 */
export function holdsPremiumPageBlobs(account: { readonly skuName?: string; readonly accountKind?: string }): boolean {
  return /^premium_/i.test(account.skuName ?? "") && /^(storage|storagev2)$/i.test(account.accountKind ?? "");
}
