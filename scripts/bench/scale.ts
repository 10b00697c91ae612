/**
 * Scenario 5 (a 4 TiB disk with ≥ 200,000 scattered changed ranges, next to a 64 GiB disk with the same changes:
 * the worker's peak memory and the time per diff window) and scenario 6 (a run with nothing changed; the cost of
 * one CopyStep hand-over). Page writes go to the counting sink (see sink.ts); everything else is the real stack.
 */
import { MiB } from "../../src/domain/ranges";
import { type BenchStack, startBenchStack, workerNodeArguments } from "./context";
import { layOut, sizeOf } from "./layout";
import { type MeasuredRun, measuredSync } from "./runs";
import { type PageSink, type SinkCounts, startPageSink } from "./sink";
import type { BenchSizes } from "./sizes";
import type { Expected } from "./throughput";

/** One disk size of the scale scenario. */
export interface ScalePoint {
  readonly diskBytes: number;
  /** Node options of the worker process (empty: V8's defaults). */
  readonly nodeArguments: string[];
  readonly expected: Expected;
  readonly run: MeasuredRun;
  readonly sink: SinkCounts;
  /** The next run, with nothing changed since. */
  readonly unchanged: MeasuredRun;
  /** What the sink received during `unchanged` (the structure check's listings of the blob snapshot, mostly). */
  readonly unchangedSink: SinkCounts;
}

/** The same changes copied in one CopyStep and in one CopyStep per 4 MiB request. */
export interface StepOverhead {
  readonly changes: Expected;
  readonly oneStep: MeasuredRun;
  readonly manySteps: MeasuredRun;
  /** Extra wall time per extra step. */
  readonly perStepMs: number;
}

const stepBytes = 4 * MiB;

/** A disk protected by a fresh worker, written to once and copied in full, ready for measured changes. */
async function protectedDisk(bench: BenchStack, sink: PageSink, name: string, diskBytes: number, settings: Record<string, string> = {}, nodeArguments?: string[]) {
  const diskId = await bench.createDisk(name, diskBytes);
  bench.write(diskId, [{ start: 0, end: MiB, seed: 5 }]);
  const worker = await bench.worker(settings, nodeArguments);
  const { diskKey } = await worker.call("protect", { diskId, blobEndpoint: sink.blobEndpoint, container: "bench-scale" });
  await measuredSync(bench, worker, diskKey);
  return { diskId, worker, diskKey };
}

export async function scaleAndControlPlane(sizes: BenchSizes): Promise<{ scale: ScalePoint[]; steps: StepOverhead }> {
  const bench = await startBenchStack("scale");
  const sink = await startPageSink(bench.stack);
  try {
    const scale: ScalePoint[] = [];
    // The deployed worker runs with the heap cap of infra/ (languageWorkers__node__arguments); one more point
    // without it shows what V8 does when left to size its heap by itself.
    const deployed = sizes.cappedHeapMib > 0 ? [`--max-old-space-size=${sizes.cappedHeapMib}`] : [];
    const points = sizes.scaleDiskBytes.map((diskBytes) => ({ diskBytes, nodeArguments: [...deployed, ...workerNodeArguments()] }));
    if (deployed.length > 0) points.push({ diskBytes: Math.max(...sizes.scaleDiskBytes), nodeArguments: workerNodeArguments() });
    for (const [i, { diskBytes, nodeArguments }] of points.entries()) {
      const { diskId, worker, diskKey } = await protectedDisk(bench, sink, `bench-scale-${i}`, diskBytes, {}, nodeArguments);
      const changes = layOut({ diskBytes, count: sizes.scaleRanges, minBytes: 512, maxBytes: 64 * 1024, seed: 7 });
      bench.write(diskId, changes);
      sink.reset();
      const run = await measuredSync(bench, worker, diskKey);
      const counts = { ...sink.counts };
      sink.reset();
      const unchanged = await measuredSync(bench, worker, diskKey);
      const unchangedSink = { ...sink.counts };
      if (process.env.BENCH_DEBUG_MEMORY) console.log("worker memory after runs", await worker.call("memory", undefined));
      await worker.stop();
      scale.push({ diskBytes, nodeArguments, expected: sizeOf(changes), run, sink: counts, unchanged, unchangedSink });
    }
    return { scale, steps: await stepOverhead(bench, sink, sizes.stepCount) };
  } finally {
    await sink.close();
    await bench.stop();
  }
}

async function stepOverhead(bench: BenchStack, sink: PageSink, count: number): Promise<StepOverhead> {
  const diskBytes = 64 * 1024 * MiB;
  const changesOf = (seed: number) => layOut({ diskBytes, count, minBytes: stepBytes, maxBytes: stepBytes, seed });
  const single = await protectedDisk(bench, sink, "bench-steps-one", diskBytes);
  bench.write(single.diskId, changesOf(11));
  const oneStep = await measuredSync(bench, single.worker, single.diskKey);
  await single.worker.stop();
  const many = await protectedDisk(bench, sink, "bench-steps-many", diskBytes, { DISKDELTA_STEP_MAX_BYTES: String(stepBytes) });
  bench.write(many.diskId, changesOf(12));
  const manySteps = await measuredSync(bench, many.worker, many.diskKey);
  await many.worker.stop();
  const perStepMs = (manySteps.wallMs - oneStep.wallMs) / Math.max(1, manySteps.steps - oneStep.steps);
  return { changes: sizeOf(changesOf(11)), oneStep, manySteps, perStepMs };
}
