/**
 * The target account's own catalog of RestorePoints: the manifests beside each TargetBlob
 * (`<blobName>.manifests/<restorePointId>.json`, src/domain/manifest.ts), each proven against the data it describes.
 * It reads only the target storage account — no table, no app, nothing in the source region — so that RestorePoints
 * can be listed and restored when the source region is down (the CLI's direct mode) and a new app can get its
 * records back (`catalog rebuild`).
 *
 * Contract: read-only and safe to repeat. A manifest that cannot be used (unreadable JSON, not the schema, or not
 * describing the place it lies in) is reported as a problem naming its blob, never thrown; the others are listed.
 * Each listed RestorePoint says whether its data is there: `dataPresent` is true only when the TargetBlob's blob
 * snapshot the manifest names is listed with the manifest's size and stamped by the manifest's run of its disk (one
 * listing per TargetBlob, not per manifest).
 * An account, container or credential that cannot be used at all is a PermanentError naming the endpoint and what
 * to check (`TargetAccountUnreachable`, `TargetAccessDenied`, `ContainerNotFound`). Transient failures are retried
 * by the storage SDK's retry policy (`dataPlaneRetry`).
 */
import type { TokenCredential } from "@azure/core-auth";
import { BlobServiceClient, type ContainerClient, StorageSharedKeyCredential, type StoragePipelineOptions } from "@azure/storage-blob";
import { z } from "zod";
import { PermanentError, codeOf, statusOf } from "../domain/errors";
import { maxManifestBytes } from "../domain/limits";
import { type RestorePointManifest, parseManifestBlobName, restorePointManifestSchema } from "../domain/manifest";
import { diskKeyOf } from "../domain/model";
import { dataPlaneRetry } from "./source-snapshot";
import { type SnapshotStamp, blobServices, snapshotStampOf } from "./target-blob";

/** Where to look: a target account's blob endpoint, one container of it or all, and optionally one RestorePoint id. */
export interface CatalogSource {
  readonly blobEndpoint: string;
  /** Default: every container of the account. */
  readonly container?: string;
  /** Read only the manifests of this RestorePoint id (the name says which they are; nothing else is read). */
  readonly restorePointId?: string;
}

/** A RestorePoint as its manifest describes it, and whether its blob snapshot was found. */
export type CatalogedRestorePoint = RestorePointManifest & { readonly dataPresent: boolean };

/** A manifest that cannot be used, or a RestorePoint whose data does not match it: which blob, what is wrong. */
export interface CatalogProblem {
  /** `<container>/<blob name>` in the target account. */
  readonly blob: string;
  readonly problem: string;
}

export interface CatalogListing {
  readonly restorePoints: readonly CatalogedRestorePoint[];
  readonly problems: readonly CatalogProblem[];
}

/** Lists a target account's RestorePoints from their manifests alone. */
export interface TargetCatalog {
  list(source: CatalogSource): Promise<CatalogListing>;
}

/** Manifests are a few KiB; anything much larger is not one, and is not read. */
/** Manifests read at once: enough to list thousands in seconds, few enough for any account's limits. */
const readConcurrency = 16;

interface ManifestBlob {
  readonly container: ContainerClient;
  readonly name: string;
  readonly bytes: number;
}

export function createTargetCatalog(credential: TokenCredential | StorageSharedKeyCredential, pipeline: StoragePipelineOptions = dataPlaneRetry): TargetCatalog {
  const serviceFor = blobServices(credential, pipeline);
  return {
    async list(source) {
      const endpoint = source.blobEndpoint.replace(/\/+$/, "");
      const service = serviceFor(endpoint);
      const problems: CatalogProblem[] = [];
      const containers = source.container ? [service.getContainerClient(source.container)] : await allContainers(service, endpoint);
      // Manifests first, then the snapshots: a manifest is written after its snapshot, so a manifest listed here has
      // its snapshot listed below unless the snapshot was removed in between.
      const blobs: ManifestBlob[] = [];
      for (const container of containers) blobs.push(...(await manifestBlobs(container, endpoint, source.restorePointId)));
      const manifests: { blob: ManifestBlob; manifest: RestorePointManifest }[] = [];
      await forEachBounded(blobs, readConcurrency, async (blob) => {
        const read = await readManifest(blob, endpoint);
        if ("problem" in read) problems.push({ blob: `${blob.container.containerName}/${blob.name}`, problem: read.problem });
        else manifests.push({ blob, manifest: read.manifest });
      });
      const snapshotsByBlob = new Map<string, Promise<Map<string, ListedSnapshot>>>();
      const restorePoints: CatalogedRestorePoint[] = [];
      for (const { blob, manifest } of manifests) {
        const key = `${blob.container.containerName}/${manifest.target.blobName}`;
        let snapshots = snapshotsByBlob.get(key);
        if (!snapshots) {
          snapshots = blobSnapshots(blob.container, manifest.target.blobName);
          snapshotsByBlob.set(key, snapshots);
        }
        const listed = (await snapshots).get(manifest.target.snapshot);
        const mismatch = listed && dataMismatch(manifest, listed);
        if (mismatch) problems.push({ blob: `${key}?snapshot=${manifest.target.snapshot}`, problem: mismatch });
        restorePoints.push({ ...manifest, dataPresent: listed !== undefined && mismatch === undefined });
      }
      restorePoints.sort((a, b) => b.sourceSnapshotTime.localeCompare(a.sourceSnapshotTime) || a.restorePointId.localeCompare(b.restorePointId));
      problems.sort((a, b) => a.blob.localeCompare(b.blob));
      return { restorePoints, problems };
    },
  };
}

async function allContainers(service: BlobServiceClient, endpoint: string): Promise<ContainerClient[]> {
  const containers: ContainerClient[] = [];
  try {
    for await (const item of service.listContainers()) containers.push(service.getContainerClient(item.name));
  } catch (error) {
    throw unusable(error, endpoint);
  }
  return containers;
}

async function manifestBlobs(container: ContainerClient, endpoint: string, restorePointId: string | undefined): Promise<ManifestBlob[]> {
  const found: ManifestBlob[] = [];
  try {
    for await (const item of container.listBlobsFlat()) {
      const name = parseManifestBlobName(item.name);
      if (!name || (restorePointId !== undefined && name.restorePointId !== restorePointId)) continue;
      found.push({ container, name: item.name, bytes: item.properties.contentLength ?? 0 });
    }
  } catch (error) {
    throw unusable(error, endpoint, container.containerName);
  }
  return found;
}

/** The manifest in a blob, or why it cannot be used; never throws for what the blob holds. */
async function readManifest(blob: ManifestBlob, endpoint: string): Promise<{ manifest: RestorePointManifest } | { problem: string }> {
  if (blob.bytes > maxManifestBytes) return { problem: `${blob.bytes} bytes: too large for a manifest (at most ${maxManifestBytes})` };
  let text: string;
  try {
    text = (await blob.container.getBlobClient(blob.name).downloadToBuffer()).toString("utf8");
  } catch (error) {
    // Removed by retention between the listing and the read: it no longer describes a RestorePoint.
    if (statusOf(error) === 404) return { problem: "removed while it was being read (retention, or by hand)" };
    throw unusable(error, endpoint, blob.container.containerName);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { problem: `not JSON: ${(error as Error).message}` };
  }
  const parsed = restorePointManifestSchema.safeParse(json);
  if (!parsed.success) return { problem: `not a RestorePoint manifest: ${z.prettifyError(parsed.error).replace(/\n\s*/g, "; ")}` };
  const mismatch = placeMismatch(parsed.data, blob, endpoint);
  return mismatch ? { problem: mismatch } : { manifest: parsed.data };
}

/** A manifest describes the place it lies in: its container, TargetBlob, RestorePoint id, account and disk key. */
function placeMismatch(manifest: RestorePointManifest, blob: ManifestBlob, endpoint: string): string | undefined {
  const name = parseManifestBlobName(blob.name)!;
  const differences = [
    manifest.restorePointId !== name.restorePointId ? `restorePointId is ${manifest.restorePointId}, its blob name says ${name.restorePointId}` : undefined,
    manifest.target.blobName !== name.blobName ? `target.blobName is ${manifest.target.blobName}, its blob name says ${name.blobName}` : undefined,
    manifest.target.container !== blob.container.containerName ? `target.container is ${manifest.target.container}, it lies in ${blob.container.containerName}` : undefined,
    sameEndpoint(manifest.target.blobEndpoint, endpoint) ? undefined : `target.blobEndpoint is ${manifest.target.blobEndpoint}, it lies in ${endpoint}`,
    diskKeyOf(manifest.diskId) !== manifest.diskKey ? `diskKey ${manifest.diskKey} is not the key of disk ${manifest.diskId}` : undefined,
  ].filter((difference) => difference !== undefined);
  return differences.length ? `describes another place: ${differences.join("; ")}` : undefined;
}

function sameEndpoint(a: string, b: string): boolean {
  const normal = (url: string) => url.replace(/\/+$/, "").toLowerCase();
  return normal(a) === normal(b);
}

/** A blob snapshot as listed: its size and the stamp the finalizer gave it (which run of which disk made it). */
interface ListedSnapshot {
  readonly bytes: number | undefined;
  readonly stamp: Partial<SnapshotStamp>;
}

/** Why a listed blob snapshot is not the manifest's data: another size, or made by another run or disk. */
function dataMismatch(manifest: RestorePointManifest, listed: ListedSnapshot): string | undefined {
  if (listed.bytes !== manifest.blobBytes) {
    return `the blob snapshot is ${listed.bytes ?? "an unknown number of"} bytes; RestorePoint ${manifest.restorePointId}'s manifest says ${manifest.blobBytes}`;
  }
  if (listed.stamp.runId !== manifest.runId || listed.stamp.diskKey !== manifest.diskKey) {
    return `the blob snapshot was made by run ${listed.stamp.runId ?? "(none)"} of disk ${listed.stamp.diskKey ?? "(none)"}; RestorePoint ${manifest.restorePointId}'s manifest says run ${manifest.runId} of disk ${manifest.diskKey}`;
  }
  return undefined;
}

/** The blob snapshots of one TargetBlob, with their sizes and stamps. */
async function blobSnapshots(container: ContainerClient, blobName: string): Promise<Map<string, ListedSnapshot>> {
  const snapshots = new Map<string, ListedSnapshot>();
  try {
    for await (const item of container.listBlobsFlat({ prefix: blobName, includeSnapshots: true, includeMetadata: true })) {
      if (item.name === blobName && item.snapshot) snapshots.set(item.snapshot, { bytes: item.properties.contentLength, stamp: snapshotStampOf(item.metadata ?? {}) });
    }
  } catch (error) {
    throw unusable(error, container.url.replace(`/${container.containerName}`, ""), container.containerName);
  }
  return snapshots;
}

async function forEachBounded<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Why an account or container cannot be read at all, and what to check. */
function unusable(error: unknown, endpoint: string, container?: string): Error {
  const status = statusOf(error);
  const code = codeOf(error);
  const where = container ? `container ${container} of ${endpoint}` : `the storage account at ${endpoint}`;
  if (code === "ContainerNotFound") return new PermanentError("ContainerNotFound", `${where} does not exist; omit --container to search every container`);
  if (status === 403 || status === 401) {
    return new PermanentError(
      "TargetAccessDenied",
      `${where} refused access (${status}${code ? ` ${code}` : ""}): the identity needs Storage Blob Data Reader (or Contributor) on the account, and its network rules must let this machine in`,
    );
  }
  if (status === 404 || status === 400 || status === undefined) {
    const reason = status === undefined ? causeOf(error) : `${status}${code ? ` ${code}` : ""}`;
    return new PermanentError(
      "TargetAccountUnreachable",
      `${where} cannot be listed (${reason}): check the blob endpoint (https://<account>.blob.core.windows.net) and that the account exists`,
    );
  }
  return error instanceof Error ? error : new Error(String(error));
}

function causeOf(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === "string") return code;
  return error instanceof Error ? error.message.split("\n")[0] : String(error);
}
