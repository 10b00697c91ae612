/**
 * The TargetBlob: the page blob in the target region that receives the copies, and its blob snapshots, which are
 * the RestorePoints' data. Contract: page writes and clears are idempotent (same bytes, same place) and fenced:
 * each carries the run's lease, so a writer whose lease was broken fails with 412 instead of writing; create,
 * acquireLease and createSnapshotOnce are safe to repeat; deleting a missing snapshot is a no-op. A 403 from Put
 * Page From URL whose cause is the source (CannotVerifyCopySource) is reported as such so callers can re-grant the
 * source SAS. Page range listings follow the service's continuation markers until complete.
 */
import { createHash } from "node:crypto";
import type { TokenCredential } from "@azure/core-auth";
import { BlobServiceClient, type ContainerClient, type PageBlobClient, StorageSharedKeyCredential, type StoragePipelineOptions } from "@azure/storage-blob";
import { maxManifestBytes } from "../domain/limits";
import { InvalidRecordError, codeOf, isLeaseLost, statusOf } from "../domain/errors";
import { withoutAbsent } from "../domain/objects";
import { type RestorePointManifest, guestStateBlobName, manifestBlobName, parseManifestBlobName, restorePointManifestSchema } from "../domain/manifest";
import type { TargetLocation } from "../domain/target-location";
import { type ByteRange, lengthOf } from "../domain/ranges";
import { allPages, dataPlaneRetry } from "./source-snapshot";

export { type TargetLocation, locationFromUrl } from "../domain/target-location";

/** Metadata stamped on each blob snapshot, so that a finalizer running twice finds the one it made. */
export interface SnapshotStamp {
  readonly runId: string;
  readonly sourceSnapshotId: string;
  readonly diskUniqueId: string;
  /** The ProtectedDisk that made it: the orphan sweep removes only its own disk's snapshots. */
  readonly diskKey: string;
}

/**
 * What the TargetBlob itself proves, in its metadata: which ProtectedDisk owns it and which SourceSnapshot's content
 * it held when that was last proven (a RestorePoint recorded). `holds` is absent while no content is proven: a new
 * blob, or a full copy under way. Since `holds` was written only diffs from that snapshot were written to the blob.
 */
export interface TargetStamp {
  readonly owner: string;
  readonly holds?: { readonly snapshotId: string; readonly blobBytes: number };
}

/** The TargetBlob as found: its size, its stamp (owner absent on a blob diskdelta did not create) and its lease. */
export interface TargetState {
  readonly sizeBytes: number;
  readonly owner?: string;
  readonly holds?: TargetStamp["holds"];
  readonly leased: boolean;
  /** The blob's ETag: it changes with every write to the blob (pages, size, metadata), not with leases or snapshots. */
  readonly etag: string;
  /**
   * The blob's tier as Get Blob Properties reports it (`x-ms-access-tier`): a premium page blob's performance tier
   * (`P10`), set or inferred from its size; absent on a standard account's page blob.
   */
  readonly accessTier?: string;
}

/** Proof of holding the TargetBlob's lease; every write requires one, so an unfenced write does not compile. */
export interface TargetLease {
  readonly leaseId: string;
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
  /** Where the blob is: endpoint, container and name. */
  readonly location: TargetLocation;
  /** Current size, or undefined when the blob does not exist. */
  size(): Promise<number | undefined>;
  /** Size, stamp, lease state and tier, or undefined when the blob does not exist. */
  inspect(): Promise<TargetState | undefined>;
  /** True when no page of the blob is allocated (asks for one range only). */
  isEmpty(): Promise<boolean>;
  /** The account's sku and kind as Get Account Information answers them (asked of the blob's container). */
  account(): Promise<{ skuName?: string; accountKind?: string }>;
  /** Creates the container and the blob, owned by `owner` and holding nothing; a no-op when the blob exists. */
  create(sizeBytes: number, owner: string): Promise<void>;
  /**
   * Takes the blob's infinite lease with `leaseId`, breaking a lease held by another id (a run that died or was
   * superseded: its later writes then fail). Taking it again with the same id succeeds.
   */
  acquireLease(leaseId: string): Promise<TargetLease>;
  /** Gives the lease up; a no-op when it is not held with this id any more. */
  releaseLease(lease: TargetLease): Promise<void>;
  /**
   * The blob's ETag, proven under `lease` (Renew Lease answers it): no one else wrote the blob while the lease was held.
   * Undefined when the blob is not leased with this id now (the lease was broken, released or taken, or the blob is gone).
   */
  etagUnderLease(lease: TargetLease): Promise<string | undefined>;
  /** Replaces the blob's stamp. */
  setStamp(stamp: TargetStamp, lease: TargetLease): Promise<void>;
  resize(sizeBytes: number, lease: TargetLease): Promise<void>;
  /** Put Page From URL: the service reads `range` of `sourceUrl` and writes it at the same offset. */
  copyFromUrl(sourceUrl: string, range: ByteRange, lease: TargetLease): Promise<void>;
  /** Put Page with a transactional MD5 of `data`. */
  upload(range: ByteRange, data: Buffer, lease: TargetLease): Promise<void>;
  clear(range: ByteRange, lease: TargetLease): Promise<void>;
  /**
   * Takes a blob snapshot stamped with `stamp` while `lease` is held (so no other run wrote since), unless one with
   * the same runId exists already.
   */
  createSnapshotOnce(stamp: SnapshotStamp, lease: TargetLease): Promise<string>;
  listSnapshots(): Promise<TargetSnapshot[]>;
  deleteSnapshot(snapshot: string): Promise<void>;
  /** URL of a blob snapshot, without any credential. */
  snapshotUrl(snapshot: string): string;
  /** Length of a blob snapshot. */
  snapshotBytes(snapshot: string): Promise<number>;
  /** Allocated pages of a blob snapshot within `window`. */
  snapshotRanges(snapshot: string, window: ByteRange): Promise<ByteRange[]>;
  readSnapshot(snapshot: string, range: ByteRange): Promise<Buffer>;
  /**
   * Records beside the TargetBlob (`<blob>.restores/<snapshot>/<restoreId>`) that restore `restoreId` reads blob
   * snapshot `snapshot`; each restore has its own hold, so one ending does not release another's.
   */
  holdForRestore(snapshot: string, restoreId: string, startedAt: Date): Promise<void>;
  releaseRestoreHold(snapshot: string, restoreId: string): Promise<void>;
  /** The restores recorded as reading this blob's snapshots, with when each started (epoch 0 when unreadable). */
  listRestoreHolds(): Promise<{ snapshot: string; restoreId: string; startedAt: Date }[]>;
  /** Stores a RestorePoint's checksums beside the TargetBlob (`<blob>.checksums/<id>.json`); overwrites. */
  writeChecksums(restorePointId: string, checksums: object): Promise<void>;
  /** The stored checksums of a RestorePoint, or undefined when none were recorded. */
  readChecksums(restorePointId: string): Promise<unknown>;
  /** Blob name of a RestorePoint's checksums, in this container. */
  checksumsBlobName(restorePointId: string): string;
  /** Removes a RestorePoint's checksums; none is fine. */
  deleteChecksums(restorePointId: string): Promise<void>;
  /** Stores a RestorePoint's manifest beside the TargetBlob (`<blob>.manifests/<id>.json`); overwrites. */
  writeManifest(manifest: RestorePointManifest): Promise<void>;
  /** A RestorePoint's manifest, or undefined when none was written; an unreadable one is an InvalidRecordError. */
  readManifest(restorePointId: string): Promise<RestorePointManifest | undefined>;
  /** The RestorePoint ids that have a manifest beside this TargetBlob. */
  listManifests(): Promise<string[]>;
  deleteManifest(restorePointId: string): Promise<void>;
  /** Stores a RestorePoint's VM guest state as a page blob beside the TargetBlob (Put Page with MD5); overwrites. */
  writeGuestState(restorePointId: string, data: Buffer): Promise<void>;
  /** The stored VM guest state of a RestorePoint, or undefined. */
  readGuestState(restorePointId: string): Promise<Buffer | undefined>;
  /** URL of a RestorePoint's VM guest state blob, without any credential. */
  guestStateUrl(restorePointId: string): string;
  deleteGuestState(restorePointId: string): Promise<void>;
}

/** Builds TargetBlobs; one BlobServiceClient per endpoint, created once per worker. */
export type TargetBlobFactory = (location: TargetLocation) => TargetBlob;

/** Metadata keys of a blob snapshot's stamp. */
const stampKeys = {
  runId: "diskdeltarunid",
  sourceSnapshotId: "diskdeltasourcesnapshot",
  diskUniqueId: "diskdeltadiskuniqueid",
  diskKey: "diskdeltadiskkey",
} as const;
/** The live blob's own stamp (metadata keys are case-insensitive C# identifiers in the service). */
const blobStampKeys = { owner: "diskdeltaowner", holds: "diskdeltaholds", holdsBytes: "diskdeltaholdsbytes" } as const;


/** The metadata that stamps a blob snapshot. */
export function snapshotStampMetadata(stamp: Partial<SnapshotStamp>): Record<string, string> {
  const entries = Object.entries(stampKeys).map(([field, key]) => [key, stamp[field as keyof SnapshotStamp]]);
  return Object.fromEntries(entries.filter(([, value]) => value !== undefined)) as Record<string, string>;
}

/** A blob snapshot's stamp as its metadata holds it (fields absent on snapshots diskdelta did not make). */
export function snapshotStampOf(metadata: Record<string, string>): Partial<SnapshotStamp> {
  return {
    runId: metadata[stampKeys.runId],
    sourceSnapshotId: metadata[stampKeys.sourceSnapshotId],
    diskUniqueId: metadata[stampKeys.diskUniqueId],
    diskKey: metadata[stampKeys.diskKey],
  };
}

function stampOf(metadata: Record<string, string>): Pick<TargetState, "owner" | "holds"> {
  const holds = metadata[blobStampKeys.holds];
  const holdsBytes = Number(metadata[blobStampKeys.holdsBytes]);
  return {
    owner: metadata[blobStampKeys.owner] || undefined,
    holds: holds && Number.isSafeInteger(holdsBytes) ? { snapshotId: holds, blobBytes: holdsBytes } : undefined,
  };
}

function stampMetadata(stamp: TargetStamp): Record<string, string> {
  const metadata: Record<string, string> = { [blobStampKeys.owner]: stamp.owner };
  if (stamp.holds) {
    metadata[blobStampKeys.holds] = stamp.holds.snapshotId;
    metadata[blobStampKeys.holdsBytes] = String(stamp.holds.blobBytes);
  }
  return metadata;
}

/** One BlobServiceClient per endpoint, made on first use. */
export function blobServices(credential: TokenCredential | StorageSharedKeyCredential, pipeline: StoragePipelineOptions): (endpoint: string) => BlobServiceClient {
  const services = new Map<string, BlobServiceClient>();
  return (endpoint) => {
    let service = services.get(endpoint);
    if (!service) {
      service = new BlobServiceClient(endpoint, credential, pipeline);
      services.set(endpoint, service);
    }
    return service;
  };
}

export function createTargetBlobFactory(
  credential: TokenCredential | StorageSharedKeyCredential,
  pipeline: StoragePipelineOptions = dataPlaneRetry,
): TargetBlobFactory {
  const serviceFor = blobServices(credential, pipeline);
  const pageBlobsOnly = new Set<string>();
  return (location) => {
    const container = serviceFor(location.blobEndpoint).getContainerClient(location.container);
    const blob = container.getPageBlobClient(location.blobName);
    const atSnapshot = (snapshot: string): PageBlobClient => blob.withSnapshot(snapshot);
    const guestStateBlob = (restorePointId: string) => container.getPageBlobClient(guestStateBlobName(location.blobName, restorePointId));
    const manifestBlob = (restorePointId: string) => container.getBlobClient(manifestBlobName(location.blobName, restorePointId));
    const putSidecar = (name: string, body: string, options: SidecarOptions = {}) => writeSidecar(container, name, body, options, pageBlobsOnly, location.blobEndpoint);
    return {
      url: blob.url,
      location,
      async size() {
        return (await this.inspect())?.sizeBytes;
      },
      async inspect() {
        try {
          const properties = await blob.getProperties();
          if (properties.contentLength === undefined) throw new Error(`Get Blob Properties of ${blob.url} answered without Content-Length; retrying`);
          if (properties.etag === undefined) throw new Error(`Get Blob Properties of ${blob.url} answered without ETag; retrying`);
          const found = { sizeBytes: properties.contentLength, etag: properties.etag, ...stampOf(properties.metadata ?? {}), leased: properties.leaseState === "leased" };
          return { ...found, ...withoutAbsent({ accessTier: properties.accessTier }) };
        } catch (error) {
          if (statusOf(error) === 404) return undefined;
          throw error;
        }
      },
      async isEmpty() {
        for await (const page of blob.listPageRanges().byPage({ maxPageSize: 1 })) {
          if ((page.pageRange ?? []).length > 0) return false;
        }
        return true;
      },
      async account() {
        const { skuName, accountKind } = await container.getAccountInfo();
        return withoutAbsent({ skuName, accountKind });
      },
      async create(sizeBytes, owner) {
        await container.createIfNotExists();
        try {
          await blob.create(sizeBytes, { metadata: stampMetadata({ owner }), conditions: { ifNoneMatch: "*" } });
        } catch (error) {
          // Someone created it first (a redelivered prepare, or another disk): the caller inspects its stamp.
          if (statusOf(error) !== 409 && statusOf(error) !== 412) throw error;
        }
      },
      async acquireLease(leaseId) {
        const leases = blob.getBlobLeaseClient(leaseId);
        try {
          await leases.acquireLease(-1);
        } catch (error) {
          if (statusOf(error) !== 409) throw error;
          // Held by another id: its holder is a run that died or was superseded. Break it at once, then take it.
          await blob.getBlobLeaseClient().breakLease(0);
          await leases.acquireLease(-1);
        }
        return { leaseId };
      },
      async releaseLease(lease) {
        await blob.getBlobLeaseClient(lease.leaseId).releaseLease().catch((error: unknown) => {
          if (statusOf(error) !== 409 && statusOf(error) !== 404 && !isLeaseLost(error)) throw error;
        });
      },
      async etagUnderLease(lease) {
        try {
          const renewed = await blob.getBlobLeaseClient(lease.leaseId).renewLease();
          if (!renewed.etag) throw new Error(`Renew Lease of ${blob.url} answered without ETag; retrying`);
          return renewed.etag;
        } catch (error) {
          // 409: leased with another id, broken, or not leased; 404: the blob is gone.
          if (statusOf(error) === 409 || statusOf(error) === 404) return undefined;
          throw error;
        }
      },
      async setStamp(stamp, lease) {
        await blob.setMetadata(stampMetadata(stamp), { conditions: { leaseId: lease.leaseId } });
      },
      async resize(sizeBytes, lease) {
        await blob.resize(sizeBytes, { conditions: { leaseId: lease.leaseId } });
      },
      async copyFromUrl(sourceUrl, range, lease) {
        await blob.uploadPagesFromURL(sourceUrl, range.start, range.start, lengthOf(range), { conditions: { leaseId: lease.leaseId } });
      },
      async upload(range, data, lease) {
        const md5 = createHash("md5").update(data).digest();
        await blob.uploadPages(data, range.start, lengthOf(range), { transactionalContentMD5: md5, conditions: { leaseId: lease.leaseId } });
      },
      async clear(range, lease) {
        await blob.clearPages(range.start, lengthOf(range), { conditions: { leaseId: lease.leaseId } });
      },
      async createSnapshotOnce(stamp, lease) {
        const existing = (await this.listSnapshots()).find((s) => s.stamp.runId === stamp.runId);
        if (existing) return existing.snapshot;
        const created = await blob.createSnapshot({ metadata: snapshotStampMetadata(stamp), conditions: { leaseId: lease.leaseId } });
        if (!created.snapshot) throw new Error(`blob snapshot of ${blob.url} returned no snapshot time`);
        return created.snapshot;
      },
      async listSnapshots() {
        const found: TargetSnapshot[] = [];
        const items = container.listBlobsFlat({ prefix: location.blobName, includeSnapshots: true, includeMetadata: true });
        for await (const item of items) {
          if (item.name === location.blobName && item.snapshot) found.push({ snapshot: item.snapshot, stamp: snapshotStampOf(item.metadata ?? {}) });
        }
        return found;
      },
      async deleteSnapshot(snapshot) {
        await atSnapshot(snapshot).deleteIfExists();
      },
      snapshotUrl(snapshot) {
        return atSnapshot(snapshot).url;
      },
      async snapshotBytes(snapshot) {
        const length = (await atSnapshot(snapshot).getProperties()).contentLength;
        if (length === undefined) throw new Error(`blob snapshot ${snapshot} of ${blob.url} answered no length`);
        return length;
      },
      snapshotRanges(snapshot, window) {
        return allPages(atSnapshot(snapshot).listPageRanges(window.start, lengthOf(window)).byPage());
      },
      async holdForRestore(snapshot, restoreId, startedAt) {
        // A managed disk's TargetBlob may never have been written: its container holds only descriptions and holds.
        await container.createIfNotExists();
        await putSidecar(holdBlobName(location.blobName, snapshot, restoreId), "", { metadata: { [holdStartedKey]: startedAt.toISOString() } });
      },
      async releaseRestoreHold(snapshot, restoreId) {
        await container.getBlobClient(holdBlobName(location.blobName, snapshot, restoreId)).deleteIfExists();
      },
      async listRestoreHolds() {
        const holds: { snapshot: string; restoreId: string; startedAt: Date }[] = [];
        const prefix = `${location.blobName}.restores/`;
        if (!(await container.exists())) return holds;
        for await (const item of container.listBlobsFlat({ prefix, includeMetadata: true })) {
          const [snapshot, restoreId] = item.name.slice(prefix.length).split("/");
          const started = Date.parse(item.metadata?.[holdStartedKey] ?? "");
          // A hold whose start cannot be read counts from its blob's creation, never from 1970.
          const startedAt = new Date(Number.isFinite(started) ? started : (item.properties.createdOn ?? new Date()).getTime());
          if (snapshot && restoreId) holds.push({ snapshot, restoreId, startedAt });
        }
        return holds;
      },
      async writeChecksums(restorePointId, checksums) {
        const body = JSON.stringify(checksums);
        await container.createIfNotExists();
        await putSidecar(checksumBlobName(location.blobName, restorePointId), body, { contentType: "application/json" });
      },
      async readChecksums(restorePointId) {
        try {
          const data = await container.getBlobClient(checksumBlobName(location.blobName, restorePointId)).downloadToBuffer();
          return JSON.parse(data.toString("utf8")) as unknown;
        } catch (error) {
          if (statusOf(error) === 404) return undefined;
          throw error;
        }
      },
      checksumsBlobName: (restorePointId) => checksumBlobName(location.blobName, restorePointId),
      async deleteChecksums(restorePointId) {
        await container.getBlobClient(checksumBlobName(location.blobName, restorePointId)).deleteIfExists();
      },
      async writeManifest(manifest) {
        const body = JSON.stringify(manifest, null, 2);
        await putSidecar(manifestBlobName(location.blobName, manifest.restorePointId), body, { contentType: "application/json" });
      },
      async readManifest(restorePointId) {
        const where = `${location.container}/${manifestBlobName(location.blobName, restorePointId)}`;
        const blob = manifestBlob(restorePointId);
        const notFound = (error: unknown) => {
          if (statusOf(error) === 404) return undefined;
          throw error;
        };
        // Sized first: a blob in the manifests folder that is not a manifest (however large) is never downloaded.
        const size = (await blob.getProperties().catch(notFound))?.contentLength;
        if (size === undefined) return undefined;
        if (size > maxManifestBytes) throw new InvalidRecordError(`manifest ${where}`, [`${size} bytes: too large for a manifest (at most ${maxManifestBytes})`]);
        const data = await blob.downloadToBuffer(0, size).catch(notFound);
        if (!data) return undefined;
        let json: unknown;
        try {
          json = JSON.parse(data.toString("utf8"));
        } catch {
          throw new InvalidRecordError(`manifest ${where}`, ["not JSON"]);
        }
        const parsed = restorePointManifestSchema.safeParse(json);
        if (!parsed.success) throw new InvalidRecordError(`manifest ${where}`, parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`));
        return parsed.data;
      },
      async listManifests() {
        const ids: string[] = [];
        for await (const item of container.listBlobsFlat({ prefix: `${location.blobName}.manifests/` })) {
          const parsed = parseManifestBlobName(item.name);
          if (parsed?.blobName === location.blobName) ids.push(parsed.restorePointId);
        }
        return ids;
      },
      async deleteManifest(restorePointId) {
        await manifestBlob(restorePointId).deleteIfExists();
      },
      async writeGuestState(restorePointId, data) {
        if (data.length === 0 || data.length % 512 !== 0) throw new Error(`a VM guest state of ${data.length} bytes is not a page blob's length (a multiple of 512)`);
        const state = guestStateBlob(restorePointId);
        await container.createIfNotExists();
        await state.create(data.length);
        await writeWholePages(state, data);
      },
      async readGuestState(restorePointId) {
        return guestStateBlob(restorePointId).downloadToBuffer().catch((error: unknown) => {
          if (statusOf(error) === 404) return undefined;
          throw error;
        });
      },
      guestStateUrl: (restorePointId) => guestStateBlob(restorePointId).url,
      async deleteGuestState(restorePointId) {
        await guestStateBlob(restorePointId).deleteIfExists();
      },
      async readSnapshot(snapshot, range) {
        const buffer = Buffer.alloc(lengthOf(range));
        await atSnapshot(snapshot).downloadToBuffer(buffer, range.start, lengthOf(range), { maxRetryRequestsPerBlock: 5 });
        return buffer;
      },
    };
  };
}

const holdStartedKey = "diskdeltarestorestarted";
/** Put Page takes at most 4 MiB. */
const putPageMaxBytes = 4 << 20;
const pageBytes = 512;

/** Writes `data` (whole pages) into a page blob from its start, one checked Put Page per 4 MiB. */
async function writeWholePages(blob: PageBlobClient, data: Buffer): Promise<void> {
  for (let start = 0; start < data.length; start += putPageMaxBytes) {
    const chunk = data.subarray(start, Math.min(data.length, start + putPageMaxBytes));
    await blob.uploadPages(chunk, start, chunk.length, { transactionalContentMD5: createHash("md5").update(chunk).digest() });
  }
}

interface SidecarOptions {
  readonly metadata?: Record<string, string>;
  readonly contentType?: string;
}

/**
 * Writes one of the small blobs beside a TargetBlob (a description, its checksums, a restore hold). It is a block
 * blob, except in an account that holds page blobs only (a premium account): that is learnt from the account's own
 * answer, 400 BlobTypeNotSupported, to the first block blob, and from then on, for that endpoint, the blob is a page
 * blob of whole pages, its text padded with spaces (which JSON readers skip; a hold is empty). Readers need not know:
 * Get Blob answers either type.
 */
async function writeSidecar(container: ContainerClient, name: string, body: string, options: SidecarOptions, pageBlobsOnly: Set<string>, endpoint: string): Promise<void> {
  const blobHTTPHeaders = options.contentType ? { blobContentType: options.contentType } : undefined;
  if (!pageBlobsOnly.has(endpoint)) {
    try {
      await container.getBlockBlobClient(name).upload(body, Buffer.byteLength(body), { metadata: options.metadata, blobHTTPHeaders });
      return;
    } catch (error) {
      if (statusOf(error) !== 400 || codeOf(error) !== "BlobTypeNotSupported") throw error;
      pageBlobsOnly.add(endpoint);
    }
  }
  const text = Buffer.from(body, "utf8");
  const padded = Buffer.alloc(Math.ceil(text.length / pageBytes) * pageBytes, " ");
  text.copy(padded);
  const blob = container.getPageBlobClient(name);
  await blob.create(padded.length, { metadata: options.metadata, blobHTTPHeaders });
  await writeWholePages(blob, padded);
}

function holdBlobName(blobName: string, snapshot: string, restoreId: string): string {
  return `${blobName}.restores/${snapshot}/${restoreId}`;
}

function checksumBlobName(blobName: string, restorePointId: string): string {
  return `${blobName}.checksums/${restorePointId}.json`;
}

/** The rates one TargetBlob's page writes are paced to; a rate of 0 leaves that dimension unpaced. */
export interface WritePacing {
  readonly bytesPerSecond: number;
  readonly requestsPerSecond: number;
}

/**
 * How far ahead of its rates a paced writer may run, in ms: small next to the burst the service absorbs, so that
 * writes paced this way are never answered 503 ServerBusy for the blob's own targets.
 */
const paceToleranceMs = 100;

/**
 * When each page write may start: one theoretical arrival time per rate (GCRA), a write going once neither is more
 * than `paceToleranceMs` ahead of the clock. Returns the wait in ms and books the write.
 */
export function writeSchedule(pacing: WritePacing): (bytes: number, now: number) => number {
  let requestsAt = Number.NEGATIVE_INFINITY;
  let bytesAt = Number.NEGATIVE_INFINITY;
  return (bytes, now) => {
    const start = Math.max(now, requestsAt - paceToleranceMs, bytesAt - paceToleranceMs);
    if (pacing.requestsPerSecond > 0) requestsAt = Math.max(requestsAt, start) + 1000 / pacing.requestsPerSecond;
    if (pacing.bytesPerSecond > 0) bytesAt = Math.max(bytesAt, start) + (bytes * 1000) / pacing.bytesPerSecond;
    return start - now;
  };
}

/**
 * The TargetBlob with its page writes (copies, uploads, clears) paced to `pacing`, so that one CopyStep asks the blob
 * for no more than its scalability targets instead of meeting them as 503 ServerBusy and retry delays. Other calls go
 * as they are. Unpaced when both rates are 0.
 */
export function pacedWrites(target: TargetBlob, pacing: WritePacing): TargetBlob {
  if (pacing.bytesPerSecond <= 0 && pacing.requestsPerSecond <= 0) return target;
  const schedule = writeSchedule(pacing);
  const paced = async (bytes: number): Promise<void> => {
    const waitMs = schedule(bytes, Date.now());
    if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
  };
  return {
    ...target,
    async copyFromUrl(sourceUrl, range, lease) {
      await paced(lengthOf(range));
      return target.copyFromUrl(sourceUrl, range, lease);
    },
    async upload(range, data, lease) {
      await paced(lengthOf(range));
      return target.upload(range, data, lease);
    },
    async clear(range, lease) {
      await paced(0);
      return target.clear(range, lease);
    },
  };
}
