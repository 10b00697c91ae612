/**
 * What the disk emulator's Import (`createOption: "Import"`) reads: a page blob or blob snapshot of a storage
 * account the stack serves. Like the compute RP with `storageAccountId`, it reads with the account's own
 * access (no SAS) and straight from Azurite, so fault injection on the blob proxy does not touch it.
 */
import { PageBlobClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { EmulatorHttpError, type ImportSource } from "./disks/api";
import type { SharedKeyAccount } from "./shared-key";

/** Options for the Import reader. */
export interface ImportReaderOptions {
  /** Azurite's blob service root, e.g. http://127.0.0.1:10000. */
  azuriteBlobUrl: string;
  /** Accounts whose blobs may be imported. */
  accounts: SharedKeyAccount[];
}

/** Returns the `importReader` for `createDiskEmulator`. */
export function createImportReader(options: ImportReaderOptions): (sourceUri: string) => Promise<ImportSource> {
  const accounts = new Map(options.accounts.map((account) => [account.name, account]));
  return async (sourceUri) => {
    const source = new URL(sourceUri);
    const account = accounts.get(source.pathname.split("/")[1] ?? "");
    if (!account) {
      throw new EmulatorHttpError(400, "InvalidParameter", "'sourceUri' is not a blob of a storage account this stack serves.");
    }
    const snapshot = source.searchParams.get("snapshot");
    const blobUrl = `${options.azuriteBlobUrl}${source.pathname}${snapshot ? `?snapshot=${encodeURIComponent(snapshot)}` : ""}`;
    const blob = new PageBlobClient(blobUrl, new StorageSharedKeyCredential(account.name, account.key));
    const properties = await blob.getProperties();
    if (properties.blobType !== "PageBlob") {
      throw new EmulatorHttpError(400, "InvalidParameter", "The blob in 'sourceUri' is not a page blob.");
    }
    return {
      sizeBytes: properties.contentLength ?? 0,
      read: (offset, length) => blob.downloadToBuffer(offset, length),
      pageRanges: async () => {
        const ranges: { start: number; end: number }[] = [];
        for await (const range of blob.listPageRanges()) ranges.push({ start: range.start, end: range.end });
        return ranges;
      },
    };
  };
}
