/**
 * Scenarios 1-4 on the real target (Azurite behind the blob proxy): a full first copy and an incremental sync of
 * scattered changes, each measured against three references moving the same bytes in the same run — plain Put
 * Page (the raw limit), plain Put Page From URL (the same service operation without diskdelta), and the public
 * sample's sequential algorithm — then a sweep of DISKDELTA_COPY_CONCURRENCY on further incremental syncs.
 */
import { GiB, MiB } from "../../src/domain/ranges";
import { type BenchStack, effectiveSettings, startBenchStack } from "./context";
import { type SeededExtent, layOut, requestsFor, sizeOf } from "./layout";
import { type MeasuredRun, measuredSync } from "./runs";
import type { BenchSizes } from "./sizes";
import { type Reference, type Snapshots, startReferences } from "./references";

/** The bytes a run had to move and the fewest page requests that carry them. */
export interface Expected {
  readonly bytes: number;
  readonly ranges: number;
  readonly minimumRequests: number;
}

/** A copy measured against its references. */
export interface ThroughputResult {
  readonly expected: Expected;
  readonly concurrency: number;
  /** The faster of `rawPutPageRuns`. */
  readonly rawPutPage: Reference;
  /** Plain Put Page measured just before and just after diskdelta's run. */
  readonly rawPutPageRuns: readonly Reference[];
  readonly plainCopy: Reference;
  readonly sample: Reference;
  readonly run: MeasuredRun;
  readonly verified?: boolean;
}

/** One point of the concurrency sweep. */
export interface SweepPoint {
  readonly concurrency: number;
  readonly expected: Expected;
  readonly rawPutPage: Reference;
  readonly run: MeasuredRun;
}

const diskBytes = 64 * GiB;
const KiB = 1024;

/** Where a protected disk's TargetBlob is, in the target account. */
type TargetBlobName = { readonly container: string; readonly blobName: string };

/** Expected figures of a full copy: the allocated extents plus the VHD footer page, its own range. */
function withFooter(extents: readonly SeededExtent[]): Expected {
  const size = sizeOf(extents);
  return { bytes: size.bytes + 512, ranges: size.ranges + 1, minimumRequests: size.minimumRequests + 1 };
}

/** diskdelta's run between two raw Put Page references, then plain Put Page From URL and the sample. */
async function compare(
  bench: BenchStack,
  label: string,
  extents: readonly SeededExtent[],
  expected: Expected,
  snapshots: Snapshots,
  sync: () => Promise<MeasuredRun>,
  targetBlob?: TargetBlobName,
): Promise<Omit<ThroughputResult, "verified">> {
  const concurrency = effectiveSettings().DISKDELTA_COPY_CONCURRENCY;
  const references = await startReferences(bench, label, diskBytes, requestsFor(extents), concurrency, snapshots, targetBlob);
  // Azurite's cost per write drifts during a run of the bench, so the raw limit is measured on both sides of
  // diskdelta's run and the faster of the two is the reference.
  const before = await references.putPage();
  const run = await sync();
  const after = await references.putPage();
  const plainCopy = await references.copyFromUrl();
  const sample = await references.sample();
  await references.stop();
  const rawPutPage = before.ms <= after.ms ? before : after;
  return { expected, concurrency, rawPutPage, rawPutPageRuns: [before, after], plainCopy, sample, run };
}

/** Scenario 1 (full first copy) with 2-4 measured on it. */
export async function fullCopy(sizes: BenchSizes): Promise<ThroughputResult> {
  const bench = await startBenchStack("full-copy");
  try {
    const diskId = await bench.createDisk("bench-full", diskBytes);
    const extents = layOut({ diskBytes, totalBytes: sizes.fullCopyBytes, minBytes: 1 * MiB, maxBytes: 64 * MiB, seed: 1 });
    bench.write(diskId, extents);
    const reference = await bench.snapshot(diskId, "bench-full-reference");
    const worker = await bench.worker();
    const { diskKey } = await worker.call("protect", { diskId, blobEndpoint: bench.stack.target.blobEndpoint, container: "bench-full" });
    const result = await compare(bench, "full", extents, withFooter(extents), { source: reference.sasUrl }, () => measuredSync(bench, worker, diskKey));
    await reference.release();
    const verified = sizes.verify ? (await worker.call("verify", { diskKey, runId: result.run.run.runId })).equal : undefined;
    return { ...result, verified };
  } finally {
    await bench.stop();
  }
}

/** Scenario 1 (incremental sync of scattered changes) with 2-4, then scenario 2 and the sweep under service latency. */
export async function incrementalSync(sizes: BenchSizes): Promise<{ incremental: ThroughputResult; latency: LatencyResult; sweep: SweepPoint[] }> {
  const bench = await startBenchStack("incremental");
  try {
    const diskId = await bench.createDisk("bench-incremental", diskBytes);
    bench.write(diskId, layOut({ diskBytes, totalBytes: sizes.incrementalBytes / 4, minBytes: 1 * MiB, maxBytes: 32 * MiB, seed: 2 }));
    const worker = await bench.worker();
    // After the first (full) copy, the references write into the TargetBlob itself: the same target state as diskdelta.
    const { diskKey, ...targetBlob } = await worker.call("protect", { diskId, blobEndpoint: bench.stack.target.blobEndpoint, container: "bench-incremental" });
    await measuredSync(bench, worker, diskKey);
    const changes = scattered(sizes.incrementalBytes, 3);
    const result = await changedBetweenSnapshots(bench, diskId, "incremental", changes, (snapshots) =>
      compare(bench, "incremental", changes, sizeOf(changes), snapshots, () => measuredSync(bench, worker, diskKey), targetBlob),
    );
    const verified = sizes.verify ? (await worker.call("verify", { diskKey, runId: result.run.run.runId })).equal : undefined;
    await worker.stop();
    await bench.setServiceLatency(sizes.serviceLatencyMs);
    const latency = await underServiceLatency(bench, sizes, diskId, diskKey, targetBlob);
    const points = await sweep(bench, sizes, diskId, diskKey, targetBlob);
    await bench.setServiceLatency(0);
    return { incremental: { ...result, verified }, latency, sweep: points };
  } finally {
    await bench.stop();
  }
}

/** Writes `changes` between two bench snapshots and runs `work` with their read SAS URLs. */
async function changedBetweenSnapshots<T>(
  bench: BenchStack,
  diskId: string,
  name: string,
  changes: readonly SeededExtent[],
  work: (snapshots: { source: string; previous: string }) => Promise<T>,
): Promise<T> {
  const previous = await bench.snapshot(diskId, `bench-${name}-previous`);
  bench.write(diskId, changes);
  const source = await bench.snapshot(diskId, `bench-${name}-source`);
  try {
    return await work({ source: source.sasUrl, previous: previous.sasUrl });
  } finally {
    await previous.release();
    await source.release();
  }
}

/** Scattered changes: 4 KiB to 8 MiB each, log-uniform, so both per-request cost and bandwidth count. */
function scattered(totalBytes: number, seed: number): SeededExtent[] {
  return layOut({ diskBytes, totalBytes, minBytes: 4 * KiB, maxBytes: 8 * MiB, seed });
}

/** Scenario 2 where it matters: each page write takes the modeled service time, for the sample as for diskdelta. */
export interface LatencyResult extends ThroughputResult {
  readonly serviceLatencyMs: number;
}

async function underServiceLatency(bench: BenchStack, sizes: BenchSizes, diskId: string, diskKey: string, targetBlob: TargetBlobName): Promise<LatencyResult> {
  const changes = scattered(sizes.latencyBytes, 4);
  const worker = await bench.worker();
  const result = await changedBetweenSnapshots(bench, diskId, "latency", changes, (snapshots) =>
    compare(bench, "latency", changes, sizeOf(changes), snapshots, () => measuredSync(bench, worker, diskKey), targetBlob),
  );
  await worker.stop();
  return { ...result, serviceLatencyMs: sizes.serviceLatencyMs };
}

/** Incremental syncs of equal-sized changes with one worker per concurrency setting, each next to its raw limit. */
async function sweep(bench: BenchStack, sizes: BenchSizes, diskId: string, diskKey: string, targetBlob: TargetBlobName): Promise<SweepPoint[]> {
  const points: SweepPoint[] = [];
  for (const concurrency of sizes.sweepConcurrency) {
    const changes = scattered(sizes.sweepBytes, 100 + concurrency);
    await changedBetweenSnapshots(bench, diskId, `sweep-${concurrency}`, changes, async (snapshots) => {
      const references = await startReferences(bench, `sweep-${concurrency}`, diskBytes, requestsFor(changes), concurrency, snapshots, targetBlob);
      const rawPutPage = await references.putPage();
      await references.stop();
      const worker = await bench.worker({ DISKDELTA_COPY_CONCURRENCY: String(concurrency) });
      const run = await measuredSync(bench, worker, diskKey);
      await worker.stop();
      points.push({ concurrency, expected: sizeOf(changes), rawPutPage, run });
    });
  }
  return points;
}
