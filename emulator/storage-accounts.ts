/**
 * The storage accounts the local stack serves, each with its resource id and the region ARM reports for it: one
 * directory that every Azure client sees the same way — ARM's GET of the account (`Microsoft.Storage`) answers its
 * `location`, and a disk Import from one of its blobs is refused when the disk is in another region.
 */

/** The SKUs the stack serves: a standard account, or a premium one that holds page blobs only. */
export type StorageAccountSku = "Standard_LRS" | "Premium_LRS";

/** A storage account the stack serves: its name (the first path segment of its blob URLs), group and region. */
export interface StorageAccountSeed {
  readonly name: string;
  readonly resourceGroup: string;
  readonly location: string;
  /** Default Standard_LRS. */
  readonly sku?: StorageAccountSku;
}

/** A served storage account with its ARM id. */
export interface StorageAccountRecord extends StorageAccountSeed {
  readonly id: string;
}

/** Looks storage accounts up by name, by ARM id, and by a blob URL of theirs. */
export class StorageAccountDirectory {
  private readonly byName: ReadonlyMap<string, StorageAccountRecord>;

  constructor(subscriptionId: string, seeds: readonly StorageAccountSeed[]) {
    this.byName = new Map(
      seeds.map((seed) => [seed.name, { ...seed, id: `/subscriptions/${subscriptionId}/resourceGroups/${seed.resourceGroup}/providers/Microsoft.Storage/storageAccounts/${seed.name}` }]),
    );
  }

  /** The account of this group and name (groups compare case-insensitively, as ARM's do; account names are lowercase). */
  find(resourceGroup: string, name: string): StorageAccountRecord | undefined {
    const account = this.byName.get(name.toLowerCase());
    return account && account.resourceGroup.toLowerCase() === resourceGroup.toLowerCase() ? account : undefined;
  }

  /** The account whose blob a URL names: the stack's blob endpoints carry the account in the path (IP style). */
  ofBlobUrl(blobUrl: string): StorageAccountRecord | undefined {
    let url: URL;
    try {
      url = new URL(blobUrl);
    } catch {
      return undefined;
    }
    return this.byName.get(url.pathname.split("/")[1] ?? "");
  }

  /** The account an ARM id names, or undefined. */
  ofResourceId(id: string): StorageAccountRecord | undefined {
    const match = /^\/subscriptions\/[^/]+\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Storage\/storageAccounts\/([^/]+)$/i.exec(id);
    return match ? this.find(match[1], match[2]) : undefined;
  }
}
