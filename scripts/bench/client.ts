/**
 * The bench's reference client, a child process like the worker: plain Put Page of the same bytes (the raw limit),
 * plain Put Page From URL of the same ranges (the same service operation without diskdelta around it), and the
 * public sample's algorithm (one diff or page-range query, then 4 MiB Put Page From URL one at a time, at the
 * correct offsets). Same SDK, same retry options and the same target endpoint as the worker.
 */
import { AnonymousCredential, BlobServiceClient, PageBlobClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { dataPlaneRetry } from "../../src/adapters/source-snapshot";
import { type ByteRange, MAX_PAGE_WRITE_BYTES, chunk, fromSdkRange, lengthOf } from "../../src/domain/ranges";
import { seededBytes } from "../../emulator/disks/seeded";
import { readStackFile } from "../../emulator/stack";
import { serveCommands } from "./ipc";
import type { SeededExtent } from "./layout";

const { target } = readStackFile(process.env.BENCH_STACK_FILE!);
const credential = new StorageSharedKeyCredential(target.accountName, target.accountKey);
const service = new BlobServiceClient(target.blobEndpoint, credential, dataPlaneRetry);
const referenceContainer = service.getContainerClient("bench-references");

/** How long an upload took and what it moved. */
export interface Transfer {
  readonly ms: number;
  readonly bytes: number;
  readonly requests: number;
  /** Time spent listing ranges before the copy (sample algorithm only). */
  readonly listMs?: number;
}

/**
 * Where a reference writes: a fresh blob of its own, or an existing blob as it is — a disk's TargetBlob, so that
 * the reference meets the same target state (ranges, snapshots) as diskdelta; it writes the very bytes the next
 * RestorePoint holds there, so the backup is unchanged.
 */
export type Destination = { readonly fresh: string } | { readonly existing: { readonly container: string; readonly blobName: string } };

async function blobFor(destination: Destination, sizeBytes: number): Promise<PageBlobClient> {
  if ("existing" in destination) return service.getContainerClient(destination.existing.container).getPageBlobClient(destination.existing.blobName);
  await referenceContainer.createIfNotExists();
  const blob = referenceContainer.getPageBlobClient(destination.fresh);
  await blob.deleteIfExists({ deleteSnapshots: "include" });
  await blob.create(sizeBytes);
  return blob;
}

async function inParallel<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) await work(items[next++]);
    }),
  );
}

const commands = {
  /** Put Page of the requests' own bytes, generated before the clock starts so the upload is all that is timed. */
  async putPages(params: { destination: Destination; sizeBytes: number; requests: SeededExtent[]; concurrency: number }): Promise<Transfer> {
    const blob = await blobFor(params.destination, params.sizeBytes);
    const bodies = params.requests.map((r) => ({ range: r, body: seededBytes(r.start, lengthOf(r), r.seed) }));
    const started = performance.now();
    await inParallel(bodies, params.concurrency, async ({ range, body }) => {
      await blob.uploadPages(body, range.start, body.length);
    });
    const ms = performance.now() - started;
    return { ms, bytes: bodies.reduce((sum, b) => sum + b.body.length, 0), requests: bodies.length };
  },

  /** Put Page From URL of the same requests, nothing else: what the target does for diskdelta minus diskdelta. */
  async copyPages(params: { destination: Destination; sizeBytes: number; sourceUrl: string; requests: ByteRange[]; concurrency: number }): Promise<Transfer> {
    const blob = await blobFor(params.destination, params.sizeBytes);
    const started = performance.now();
    await inParallel(params.requests, params.concurrency, async (range) => {
      await blob.uploadPagesFromURL(params.sourceUrl, range.start, range.start, lengthOf(range));
    });
    return { ms: performance.now() - started, bytes: params.requests.reduce((s, r) => s + lengthOf(r), 0), requests: params.requests.length };
  },

  /**
   * The public sample's approach, with its offset bug fixed: one Get Page Ranges (a diff when `previousUrl` is
   * given) over the whole blob, then every range in 4 MiB pieces, one Put Page From URL in flight at a time.
   */
  async sampleCopy(params: { destination: Destination; sizeBytes: number; sourceUrl: string; previousUrl?: string }): Promise<Transfer> {
    const blob = await blobFor(params.destination, params.sizeBytes);
    const source = new PageBlobClient(params.sourceUrl, new AnonymousCredential(), dataPlaneRetry);
    const started = performance.now();
    const answer = params.previousUrl
      ? await source.getPageRangesDiffForManagedDisks(0, params.sizeBytes, params.previousUrl)
      : await source.getPageRanges(0, params.sizeBytes);
    const listMs = performance.now() - started;
    let bytes = 0;
    let requests = 0;
    for (const range of (answer.pageRange ?? []).map(fromSdkRange)) {
      for (const piece of chunk(range, MAX_PAGE_WRITE_BYTES)) {
        await blob.uploadPagesFromURL(params.sourceUrl, piece.start, piece.start, lengthOf(piece));
        bytes += lengthOf(piece);
        requests += 1;
      }
    }
    return { ms: performance.now() - started, bytes, requests, listMs };
  },

  /** Frees what the references wrote (Azurite releases the memory at its next collection). */
  async cleanUp(): Promise<void> {
    await referenceContainer.deleteIfExists();
  },
};

export type ClientCommands = typeof commands;

serveCommands(commands);
