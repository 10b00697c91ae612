/**
 * Scenario 8: BackupRuns under Azure Storage's modelled scalability targets (emulator/dataplane/blob-limits.ts: a
 * page blob takes ≈ 60 MiB/s and ≈ 500 requests/s, plus a service time per write), timed against the floor those
 * limits set — floor = max(bytes ÷ blob byte rate, requests ÷ blob request rate) — with the throttling answers
 * counted. A full copy is bytes-bound; the 200,000-range scale shape, at a fraction of its size with the same
 * density (so the same gaps), is request-bound, and is copied once without and once with cost-aware coalescing.
 * Fragmented changes go to the counting page sink (sink.ts), everything else through the stack's blob proxy.
 */
import { type BlobWriteLimits, createBlobLimiter, premiumBlobWriteLimits, serviceBlobWriteLimits } from "../../emulator/dataplane/blob-limits";
import { inferredPageBlobTier } from "../../src/domain/page-blob-tiers";
import { mergeGapBytes } from "../../src/domain/plan";
import { GiB, MiB } from "../../src/domain/ranges";
import { type BenchStack, startBenchStack } from "./context";
import { layOut, sizeOf } from "./layout";
import { type MeasuredRun, measuredSync } from "./runs";
import { startPageSink } from "./sink";
import type { BenchSizes } from "./sizes";
import type { Expected } from "./throughput";

/** The modelled rates, and what the bench adds: a service time per write (undocumented by Azure). */
export const benchLimits = { ...serviceBlobWriteLimits, serviceTimeMs: 20 } as const;
const rates = { bytesPerSecond: benchLimits.blobBytesPerSecond, requestsPerSecond: benchLimits.blobRequestsPerSecond };
/** The worker paced to the modelled rates, with enough in flight to reach 500/s at a 20 ms service time (≥ 10). */
export const pacedWorker = {
  DISKDELTA_TARGET_BLOB_MIB_PER_SECOND: String(benchLimits.blobBytesPerSecond / MiB),
  DISKDELTA_TARGET_BLOB_REQUESTS_PER_SECOND: String(benchLimits.blobRequestsPerSecond),
  DISKDELTA_COPY_CONCURRENCY: "32",
};
/**
 * The cost model of the merged run: a write transaction costs as much as the bytes the blob takes in the time of one
 * request, so the time and cost break-evens coincide (`mergeGapBytes`).
 */
export const transactionCostBytes = mergeGapBytes(rates, Number.MAX_SAFE_INTEGER);

/** One BackupRun under the limits. */
export interface LimitedRun {
  readonly name: string;
  readonly expected: Expected;
  readonly run: MeasuredRun;
  /** Bytes written at the target (Put Page From URL ranges) and page writes, as the run recorded them. */
  readonly bytes: number;
  readonly requests: number;
  /** The limits the run was held to, its floor's rates. */
  readonly limits: BlobWriteLimits;
  readonly floorMs: number;
  /** 503 ServerBusy answers during the run. */
  readonly refused: number;
  /** Floor of the same changes copied without coalescing (requests = one per ≤ 4 MiB range). */
  readonly unmergedFloorMs: number;
}

export interface LimitsResult {
  readonly limits: typeof benchLimits;
  readonly transactionCostBytes: number;
  readonly runs: LimitedRun[];
}

/** The seed model's TargetBlob (4 TiB + 512 B) in a premium account: P60. */
export const premiumSeedModelLimits = premiumBlobWriteLimits(4096 * GiB + 512);

export const floorMs = (bytes: number, requests: number, limits: BlobWriteLimits = benchLimits) =>
  1000 * Math.max(bytes / limits.blobBytesPerSecond, requests / limits.blobRequestsPerSecond);

function limited(name: string, expected: Expected, run: MeasuredRun, refused: number, limits: BlobWriteLimits = benchLimits): LimitedRun {
  const bytes = run.run.bytesCopied;
  const requests = run.run.requests;
  return { name, expected, run, bytes, requests, limits, floorMs: floorMs(bytes, requests, limits), refused, unmergedFloorMs: floorMs(expected.bytes, expected.minimumRequests, limits) };
}

export async function underLimits(sizes: BenchSizes): Promise<LimitsResult> {
  const bench = await startBenchStack("limits");
  try {
    const runs = [await fullCopyUnderLimits(bench, sizes, standardSeed), ...(await fragmentedUnderLimits(bench, sizes))];
    return { limits: benchLimits, transactionCostBytes, runs: [...runs, await premiumFullCopy(sizes)] };
  } finally {
    await bench.stop();
  }
}

/** Where a full copy goes: the disk's size, the limits its TargetBlob is held to, and the worker's pacing. */
interface SeedTarget {
  readonly name: string;
  readonly diskBytes: number;
  readonly limits: BlobWriteLimits;
  readonly worker: Record<string, string>;
}

const standardSeed: SeedTarget = { name: "full copy", diskBytes: 64 * GiB, limits: benchLimits, worker: pacedWorker };

/**
 * The same disk's TargetBlob in a premium account: 64 GiB + 512 B is a P10 blob (100 MB/s, 500 writes/s), and the
 * worker, at the default settings, paces itself to the tier the blob reports. P10, not the seed model's P60: the local stack serves
 * about 130 MiB/s on loopback (scenario 1's raw Put Page), below P60's 477 MiB/s, so only a tier below that
 * measures diskdelta rather than this machine.
 */
function premiumSeed(): SeedTarget {
  const diskBytes = 64 * GiB;
  const limits = { ...premiumBlobWriteLimits(diskBytes + 512), serviceTimeMs: benchLimits.serviceTimeMs };
  const tier = inferredPageBlobTier(diskBytes + 512)?.tier ?? "?";
  return {
    name: `full copy into a premium ${tier} blob`,
    diskBytes,
    limits,
    worker: pacedWorker,
  };
}

/** The full copy again, on a stack whose target account is premium (page blobs only). */
async function premiumFullCopy(sizes: BenchSizes): Promise<LimitedRun> {
  const bench = await startBenchStack("limits-premium", { targetAccountSku: "Premium_LRS" });
  try {
    return await fullCopyUnderLimits(bench, sizes, premiumSeed());
  } finally {
    await bench.stop();
  }
}

/** A first full copy through the blob proxy: bytes-bound. */
async function fullCopyUnderLimits(bench: BenchStack, sizes: BenchSizes, seed: SeedTarget): Promise<LimitedRun> {
  const diskId = await bench.createDisk("bench-limits-full", seed.diskBytes);
  const extents = layOut({ diskBytes: 64 * GiB, totalBytes: sizes.limitsFullCopyBytes, minBytes: 1 * MiB, maxBytes: 64 * MiB, seed: 21 });
  bench.write(diskId, extents);
  const worker = await bench.worker(seed.worker);
  const { diskKey } = await worker.call("protect", { diskId, blobEndpoint: bench.stack.target.blobEndpoint, container: "bench-limits" });
  bench.stack.blobLimits.set(seed.limits);
  const run = await measuredSync(bench, worker, diskKey);
  const refused = bench.stack.blobLimits.counts.refused;
  bench.stack.blobLimits.set(undefined);
  await worker.stop();
  const footer = { bytes: 512, ranges: 1, minimumRequests: 1 };
  const expected = sizeOf(extents);
  const totals = { bytes: expected.bytes + footer.bytes, ranges: expected.ranges + 1, minimumRequests: expected.minimumRequests + 1 };
  return limited(`8 limits: ${seed.name} ${(expected.bytes / MiB).toFixed(0)} MiB`, totals, run, refused, seed.limits);
}

/**
 * The scale shape at `limitsRanges` ranges, on a disk scaled to keep its density (64 GiB per 200,000 ranges), every
 * page of which the base holds (a busy database file: the gaps between changes are allocated, unchanged data).
 */
async function fragmentedUnderLimits(bench: BenchStack, sizes: BenchSizes): Promise<LimitedRun[]> {
  const diskBytes = Math.max(1, Math.round((64 * sizes.limitsRanges) / 200_000)) * GiB;
  const limiter = createBlobLimiter();
  const sink = await startPageSink(bench.stack, limiter);
  try {
    const diskId = await bench.createDisk("bench-limits-fragmented", diskBytes);
    bench.write(diskId, [{ start: 0, end: diskBytes, seed: 31 }]);
    const seeding = await bench.worker();
    const { diskKey } = await seeding.call("protect", { diskId, blobEndpoint: sink.blobEndpoint, container: "bench-limits-fragmented" });
    await measuredSync(bench, seeding, diskKey);
    await seeding.stop();
    const runs: LimitedRun[] = [];
    const variants: { name: string; settings: Record<string, string>; seed: number }[] = [
      { name: "no merge", settings: {}, seed: 7 },
      { name: "merged", settings: { DISKDELTA_TRANSACTION_COST_BYTES: String(transactionCostBytes) }, seed: 8 },
    ];
    for (const variant of variants) {
      const changes = layOut({ diskBytes, count: sizes.limitsRanges, minBytes: 512, maxBytes: 64 * 1024, seed: variant.seed });
      bench.write(diskId, changes);
      const worker = await bench.worker({ ...pacedWorker, ...variant.settings });
      limiter.set(benchLimits);
      const run = await measuredSync(bench, worker, diskKey);
      const refused = limiter.counts.refused;
      limiter.set(undefined);
      await worker.stop();
      runs.push(limited(`8 limits: ${sizes.limitsRanges} ranges in ${diskBytes / GiB} GiB, ${variant.name}`, sizeOf(changes), run, refused));
    }
    return runs;
  } finally {
    await sink.close();
  }
}
