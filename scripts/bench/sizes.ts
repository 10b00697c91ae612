/**
 * Scenario sizes: `BENCH_SCALE=full` (default, what issue 5 asks for) or `BENCH_SCALE=small` (a quick run while
 * developing). Individual sizes can be overridden with BENCH_* variables, in MiB or counts.
 */
import { GiB, MiB, TiB } from "../../src/domain/ranges";

/** Every size the bench uses. */
export interface BenchSizes {
  readonly scale: "full" | "small";
  /** Allocated data of the full-copy disk. */
  readonly fullCopyBytes: number;
  /** Scattered changes of the incremental sync. */
  readonly incrementalBytes: number;
  /** Scattered changes copied by diskdelta and by the sample under a modeled service time per page write. */
  readonly latencyBytes: number;
  /** The modeled service time per page write, in ms (BENCH_SERVICE_LATENCY_MS). */
  readonly serviceLatencyMs: number;
  /** Changes per point of the concurrency sweep (run under the modeled service time). */
  readonly sweepBytes: number;
  readonly sweepConcurrency: readonly number[];
  /** Scattered changed ranges of the scale scenario, on each disk size. */
  readonly scaleRanges: number;
  readonly scaleDiskBytes: readonly number[];
  /** Repeat the largest scale point with the worker's V8 old space capped at this many MiB (0: skip). */
  readonly cappedHeapMib: number;
  /** 4 MiB changes copied once in one CopyStep and once in one CopyStep each. */
  readonly stepCount: number;
  /** Scenario 8 (under the modelled limits): allocated data of the full copy. */
  readonly limitsFullCopyBytes: number;
  /** Scenario 8: changed ranges of the scale shape, on a disk scaled to keep its density (64 GiB per 200,000). */
  readonly limitsRanges: number;
  /** Scenario 9 (managed vs diff): allocated data of the first copy of the shared history. */
  readonly managedSeedBytes: number;
  /** Scenario 9: scattered changes of each incremental history after the seed, in order. */
  readonly managedIncrementalBytes: readonly number[];
  /** Scenario 9: small ranges (512 B–64 KiB) of the fragmented history that ends it. */
  readonly managedFragmentedRanges: number;
  /** Scenario 9: the modelled CopyStart rate (BENCH_MANAGED_COPY_MIB_PER_SECOND; Azure publishes none). */
  readonly managedCopyBytesPerSecond: number;
  /** Scenario 9: DISKDELTA_MANAGED_COPY_CHECK_SECONDS of the worker (BENCH_MANAGED_CHECK_SECONDS). */
  readonly managedCheckSeconds: number;
  /** Byte-compare RestorePoints with their snapshots after the throughput runs (reads everything back). */
  readonly verify: boolean;
}

const presets: Record<BenchSizes["scale"], Omit<BenchSizes, "scale" | "verify" | "serviceLatencyMs" | "cappedHeapMib" | "managedCopyBytesPerSecond" | "managedCheckSeconds">> = {
  full: {
    fullCopyBytes: 2 * GiB,
    incrementalBytes: 1 * GiB,
    latencyBytes: 256 * MiB,
    sweepBytes: 256 * MiB,
    sweepConcurrency: [2, 4, 8, 16, 32],
    scaleRanges: 200_000,
    scaleDiskBytes: [64 * GiB, 4 * TiB],
    stepCount: 32,
    limitsFullCopyBytes: 1 * GiB,
    limitsRanges: 12_500,
    managedSeedBytes: 1 * GiB,
    managedIncrementalBytes: [64 * MiB, 256 * MiB],
    managedFragmentedRanges: 5000,
  },
  small: {
    fullCopyBytes: 256 * MiB,
    incrementalBytes: 128 * MiB,
    latencyBytes: 32 * MiB,
    sweepBytes: 32 * MiB,
    sweepConcurrency: [4, 8, 16],
    scaleRanges: 10_000,
    scaleDiskBytes: [64 * GiB, 4 * TiB],
    stepCount: 8,
    limitsFullCopyBytes: 256 * MiB,
    limitsRanges: 3125,
    managedSeedBytes: 128 * MiB,
    managedIncrementalBytes: [16 * MiB, 64 * MiB],
    managedFragmentedRanges: 1000,
  },
};

function number(name: string): number | undefined {
  const value = process.env[name];
  if (value === undefined || value === "") return undefined;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed <= 0) throw new Error(`${name} must be a positive number, not "${value}"`);
  return parsed;
}

/** A comma-separated list of positive MiB counts, in bytes. */
function mibList(name: string, env: NodeJS.ProcessEnv): number[] | undefined {
  const value = env[name];
  if (value === undefined || value === "") return undefined;
  return value.split(",").map((part) => {
    const parsed = Number(part.trim());
    if (!Number.isFinite(parsed) || parsed <= 0) throw new Error(`${name} must be comma-separated positive MiB counts, not "${value}"`);
    return parsed * MiB;
  });
}

export function benchSizes(env: NodeJS.ProcessEnv = process.env): BenchSizes {
  const scale = (env.BENCH_SCALE ?? "full") as BenchSizes["scale"];
  if (!(scale in presets)) throw new Error(`BENCH_SCALE must be "full" or "small", not "${env.BENCH_SCALE}"`);
  const preset = presets[scale];
  const mib = (name: string, fallback: number) => (number(name) ?? fallback / MiB) * MiB;
  return {
    ...preset,
    scale,
    fullCopyBytes: mib("BENCH_FULL_COPY_MIB", preset.fullCopyBytes),
    incrementalBytes: mib("BENCH_INCREMENTAL_MIB", preset.incrementalBytes),
    latencyBytes: mib("BENCH_LATENCY_MIB", preset.latencyBytes),
    serviceLatencyMs: number("BENCH_SERVICE_LATENCY_MS") ?? 50,
    sweepBytes: mib("BENCH_SWEEP_MIB", preset.sweepBytes),
    scaleRanges: number("BENCH_SCALE_RANGES") ?? preset.scaleRanges,
    limitsFullCopyBytes: mib("BENCH_LIMITS_FULL_COPY_MIB", preset.limitsFullCopyBytes),
    limitsRanges: number("BENCH_LIMITS_RANGES") ?? preset.limitsRanges,
    managedSeedBytes: mib("BENCH_MANAGED_SEED_MIB", preset.managedSeedBytes),
    managedIncrementalBytes: mibList("BENCH_MANAGED_INCREMENTAL_MIB", env) ?? preset.managedIncrementalBytes,
    managedFragmentedRanges: number("BENCH_MANAGED_FRAGMENTED_RANGES") ?? preset.managedFragmentedRanges,
    managedCopyBytesPerSecond: (number("BENCH_MANAGED_COPY_MIB_PER_SECOND") ?? 64) * MiB,
    managedCheckSeconds: number("BENCH_MANAGED_CHECK_SECONDS") ?? 1,
    scaleDiskBytes: env.BENCH_SCALE_DISKS_GIB ? env.BENCH_SCALE_DISKS_GIB.split(",").map((gib) => Number(gib) * GiB) : preset.scaleDiskBytes,
    cappedHeapMib: env.BENCH_CAPPED_HEAP_MIB === "0" ? 0 : (number("BENCH_CAPPED_HEAP_MIB") ?? 160),
    verify: (env.BENCH_VERIFY ?? (scale === "small" ? "1" : "0")) === "1",
  };
}
