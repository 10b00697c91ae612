/**
 * Scenario 8: BackupRuns under Azure Storage's modelled scalability targets (emulator/dataplane/blob-limits.ts: a
 * page blob takes ≈ 60 MiB/s and ≈ 500 requests/s, plus a service time per write), timed against the floor those
 * limits set — floor = max(bytes ÷ blob byte rate, requests ÷ blob request rate) — with the throttling answers
 * counted. A full copy is bytes-bound; the 200,000-range scale shape, at a fraction of its size with the same
 * density (so the same gaps), is request-bound, and is copied once without and once with cost-aware coalescing.
 * Fragmented changes go to the counting page sink (sink.ts), everything else through the stack's blob proxy.
 */
import { createBlobLimiter, serviceBlobWriteLimits } from "../../emulator/dataplane/blob-limits";
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

export const floorMs = (bytes: number, requests: number) => 1000 * Math.max(bytes / rates.bytesPerSecond, requests / rates.requestsPerSecond);

function limited(name: string, expected: Expected, run: MeasuredRun, refused: number): LimitedRun {
  const bytes = run.run.bytesCopied;
  const requests = run.run.requests;
  return { name, expected, run, bytes, requests, floorMs: floorMs(bytes, requests), refused, unmergedFloorMs: floorMs(expected.bytes, expected.minimumRequests) };
}

export async function underLimits(sizes: BenchSizes): Promise<LimitsResult> {
  const bench = await startBenchStack("limits");
  try {
    const runs = [await fullCopyUnderLimits(bench, sizes), ...(await fragmentedUnderLimits(bench, sizes))];
    return { limits: benchLimits, transactionCostBytes, runs };
  } finally {
    await bench.stop();
  }
}

/** A first full copy through the blob proxy: bytes-bound. */
async function fullCopyUnderLimits(bench: BenchStack, sizes: BenchSizes): Promise<LimitedRun> {
  const diskId = await bench.createDisk("bench-limits-full", 64 * GiB);
  const extents = layOut({ diskBytes: 64 * GiB, totalBytes: sizes.limitsFullCopyBytes, minBytes: 1 * MiB, maxBytes: 64 * MiB, seed: 21 });
  bench.write(diskId, extents);
  const worker = await bench.worker(pacedWorker);
  const { diskKey } = await worker.call("protect", { diskId, blobEndpoint: bench.stack.target.blobEndpoint, container: "bench-limits" });
  bench.stack.blobLimits.set(benchLimits);
  const run = await measuredSync(bench, worker, diskKey);
  const refused = bench.stack.blobLimits.counts.refused;
  bench.stack.blobLimits.set(undefined);
  await worker.stop();
  const footer = { bytes: 512, ranges: 1, minimumRequests: 1 };
  const expected = sizeOf(extents);
  return limited(`8 limits: full copy ${(expected.bytes / MiB).toFixed(0)} MiB`, { bytes: expected.bytes + footer.bytes, ranges: expected.ranges + 1, minimumRequests: expected.minimumRequests + 1 }, run, refused);
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
