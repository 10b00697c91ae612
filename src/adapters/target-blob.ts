/**
 * The TargetBlob: the page blob in the target region that receives the copies, and its blob snapshots, which are
 * the RestorePoints' data. Contract: page writes and clears are idempotent (same bytes, same place); ensureSize and
 * createSnapshotOnce are safe to repeat; deleting a missing snapshot is a no-op. A 403 from Put Page From URL whose
 * cause is the source (CannotVerifyCopySource) is reported as such so callers can re-grant the source SAS.
 */
import { createHash } from "node:crypto";
import type { TokenCredential } from "@azure/core-auth";
import { BlobServiceClient, type PageBlobClient, StorageSharedKeyCredential, type StoragePipelineOptions } from "@azure/storage-blob";
import { codeOf, statusOf } from "../domain/errors";
import { type ByteRange, fromSdkRange, lengthOf } from "../domain/ranges";
import { dataPlaneRetry } from "./source-snapshot";

/** Where a ProtectedDisk's TargetBlob lives. */
export interface TargetLocation {
  readonly blobEndpoint: string;
  readonly container: string;
  readonly blobName: string;
}

/** Metadata stamped on each blob snapshot, so that a finalizer running twice finds the one it made. */
export interface SnapshotStamp {
  readonly runId: string;
  readonly sourceSnapshotId: string;
  readonly diskUniqueId: string;
}

/** A blob snapshot of the TargetBlob. */
export interface TargetSnapshot {
  readonly snapshot: string;
  readonly stamp: Partial<SnapshotStamp>;
}

/** Page-blob operations on one TargetBlob. */
export interface TargetBlob {
  /** The blob's URL, without any credential. */
  readonly url: string;
  /** Current size, or undefined when the blob does not exist. */
  size(): Promise<number | undefined>;
  /** Creates the container and blob if missing, resizes to `sizeBytes` otherwise; tells whether it was created. */
  ensureSize(sizeBytes: number): Promise<{ created: boolean }>;
  /** Put Page From URL: the service reads `range` of `sourceUrl` and writes it at the same offset. */
  copyFromUrl(sourceUrl: string, range: ByteRange): Promise<void>;
  /** Put Page with a transactional MD5 of `data`. */
  upload(range: ByteRange, data: Buffer): Promise<void>;
  clear(range: ByteRange): Promise<void>;
  /** Takes a blob snapshot stamped with `stamp`, unless one with the same runId exists already. */
  createSnapshotOnce(stamp: SnapshotStamp): Promise<string>;
  listSnapshots(): Promise<TargetSnapshot[]>;
  deleteSnapshot(snapshot: string): Promise<void>;
  /** URL of a blob snapshot, without any credential. */
  snapshotUrl(snapshot: string): string;
  /** Allocated pages of a blob snapshot within `window`. */
  snapshotRanges(snapshot: string, window: ByteRange): Promise<ByteRange[]>;
  readSnapshot(snapshot: string, range: ByteRange): Promise<Buffer>;
  /** Stores a RestorePoint's checksums beside the TargetBlob (`<blob>.checksums/<id>.json`); overwrites. */
  writeChecksums(restorePointId: string, checksums: object): Promise<void>;
  /** The stored checksums of a RestorePoint, or undefined when none were recorded. */
  readChecksums(restorePointId: string): Promise<unknown>;
}

/** Builds TargetBlobs; one BlobServiceClient per endpoint, created once per worker. */
export type TargetBlobFactory = (location: TargetLocation) => TargetBlob;

const stampKeys = { runId: "diskdeltarunid", sourceSnapshotId: "diskdeltasourcesnapshot", diskUniqueId: "diskdeltadiskuniqueid" } as const;

/** Error raised when the service could not read the copy source (expired/revoked SAS, snapshot gone). */
export function isSourceError(error: unknown): boolean {
  return codeOf(error) === "CannotVerifyCopySource";
}

export function createTargetBlobFactory(
  credential: TokenCredential | StorageSharedKeyCredential,
  pipeline: StoragePipelineOptions = dataPlaneRetry,
): TargetBlobFactory {
  const services = new Map<string, BlobServiceClient>();
  const serviceFor = (endpoint: string) => {
    let service = services.get(endpoint);
    if (!service) {
      service = new BlobServiceClient(endpoint, credential, pipeline);
      services.set(endpoint, service);
    }
    return service;
  };
  return (location) => {
    const container = serviceFor(location.blobEndpoint).getContainerClient(location.container);
    const blob = container.getPageBlobClient(location.blobName);
    const atSnapshot = (snapshot: string): PageBlobClient => blob.withSnapshot(snapshot);
    return {
      url: blob.url,
      async size() {
        try {
          return (await blob.getProperties()).contentLength;
        } catch (error) {
          if (statusOf(error) === 404) return undefined;
          throw error;
        }
      },
      async ensureSize(sizeBytes) {
        const current = await this.size();
        if (current === undefined) {
          await container.createIfNotExists();
          await blob.create(sizeBytes);
          return { created: true };
        }
        if (current !== sizeBytes) await blob.resize(sizeBytes);
        return { created: false };
      },
      async copyFromUrl(sourceUrl, range) {
        await blob.uploadPagesFromURL(sourceUrl, range.start, range.start, lengthOf(range));
      },
      async upload(range, data) {
        const md5 = createHash("md5").update(data).digest();
        await blob.uploadPages(data, range.start, lengthOf(range), { transactionalContentMD5: md5 });
      },
      async clear(range) {
        await blob.clearPages(range.start, lengthOf(range));
      },
      async createSnapshotOnce(stamp) {
        const existing = (await this.listSnapshots()).find((s) => s.stamp.runId === stamp.runId);
        if (existing) return existing.snapshot;
        const metadata = {
          [stampKeys.runId]: stamp.runId,
          [stampKeys.sourceSnapshotId]: stamp.sourceSnapshotId,
          [stampKeys.diskUniqueId]: stamp.diskUniqueId,
        };
        const created = await blob.createSnapshot({ metadata });
        if (!created.snapshot) throw new Error(`blob snapshot of ${blob.url} returned no snapshot time`);
        return created.snapshot;
      },
      async listSnapshots() {
        const found: TargetSnapshot[] = [];
        const items = container.listBlobsFlat({ prefix: location.blobName, includeSnapshots: true, includeMetadata: true });
        for await (const item of items) {
          if (item.name !== location.blobName || !item.snapshot) continue;
          const metadata = item.metadata ?? {};
          found.push({
            snapshot: item.snapshot,
            stamp: {
              runId: metadata[stampKeys.runId],
              sourceSnapshotId: metadata[stampKeys.sourceSnapshotId],
              diskUniqueId: metadata[stampKeys.diskUniqueId],
            },
          });
        }
        return found;
      },
      async deleteSnapshot(snapshot) {
        await atSnapshot(snapshot).deleteIfExists();
      },
      snapshotUrl(snapshot) {
        return atSnapshot(snapshot).url;
      },
      async snapshotRanges(snapshot, window) {
        const answer = await atSnapshot(snapshot).getPageRanges(window.start, lengthOf(window));
        return (answer.pageRange ?? []).map(fromSdkRange);
      },
      async writeChecksums(restorePointId, checksums) {
        const body = JSON.stringify(checksums);
        await container.getBlockBlobClient(checksumBlobName(location.blobName, restorePointId)).upload(body, Buffer.byteLength(body), {
          blobHTTPHeaders: { blobContentType: "application/json" },
        });
      },
      async readChecksums(restorePointId) {
        try {
          const data = await container.getBlockBlobClient(checksumBlobName(location.blobName, restorePointId)).downloadToBuffer();
          return JSON.parse(data.toString("utf8")) as unknown;
        } catch (error) {
          if (statusOf(error) === 404) return undefined;
          throw error;
        }
      },
      async readSnapshot(snapshot, range) {
        const buffer = Buffer.alloc(lengthOf(range));
        await atSnapshot(snapshot).downloadToBuffer(buffer, range.start, lengthOf(range), { maxRetryRequestsPerBlock: 5 });
        return buffer;
      },
    };
  };
}

function checksumBlobName(blobName: string, restorePointId: string): string {
  return `${blobName}.checksums/${restorePointId}.json`;
}

/** Splits a blob URL (no query) into endpoint, container and blob name; IP-style hosts carry the account in the path. */
export function locationFromUrl(blobUrl: string): TargetLocation {
  const url = new URL(blobUrl);
  const segments = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
  const ipStyle = /^(\d+\.\d+\.\d+\.\d+|localhost|\[.*\])$/.test(url.hostname);
  const accountSegments = ipStyle ? 1 : 0;
  const endpointPath = segments.slice(0, accountSegments).map(encodeURIComponent).join("/");
  return {
    blobEndpoint: `${url.protocol}//${url.host}${endpointPath ? `/${endpointPath}` : ""}`,
    container: segments[accountSegments],
    blobName: segments.slice(accountSegments + 1).join("/"),
  };
}
