/**
 * `npm run bench`: boots local stacks, runs the scenarios of issue 5 and issue 14's managed against diff copy, issue 16's fleet scale-out (see
 * bench/README.md), prints the table and writes bench/results.json. Not a test: nothing here asserts on time; the
 * table says which targets hold. BENCH_SCALE=small runs everything at a fraction of the size;
 * BENCH_ONLY=full,incremental,scale,limits,managed,fleet picks scenarios.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { resolve } from "node:path";
import { effectiveSettings } from "./bench/context";
import { underLimits } from "./bench/limits";
import { managedAgainstDiff } from "./bench/managed";
import { type BenchResults, formatTable, rowsOf } from "./bench/report";
import { scaleAndControlPlane } from "./bench/scale";
import { benchSizes } from "./bench/sizes";
import { fullCopy, incrementalSync } from "./bench/throughput";
import { fleetScaleOut } from "./bench/fleet";

const scenarios = ["full", "incremental", "scale", "limits", "managed", "fleet"] as const;

async function timed<T>(name: string, work: () => Promise<T>): Promise<T> {
  const started = Date.now();
  console.log(`bench: ${name}...`);
  const result = await work();
  console.log(`bench: ${name} done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return result;
}

async function main(): Promise<void> {
  const sizes = benchSizes();
  const only = new Set((process.env.BENCH_ONLY ?? scenarios.join(",")).split(",").map((s) => s.trim()));
  for (const name of only) {
    if (!(scenarios as readonly string[]).includes(name)) throw new Error(`BENCH_ONLY: unknown scenario "${name}" (known: ${scenarios.join(", ")})`);
  }
  const started = new Date();
  const load = loadavg()[0];
  const results: { -readonly [K in keyof BenchResults]: BenchResults[K] } = {};
  if (only.has("full")) results.full = await timed("full copy", () => fullCopy(sizes));
  if (only.has("incremental")) {
    const { incremental, latency, sweep } = await timed("incremental sync, service latency and concurrency sweep", () => incrementalSync(sizes));
    results.incremental = incremental;
    results.latency = latency;
    results.sweep = sweep;
  }
  if (only.has("scale")) {
    const { scale, steps } = await timed("scale and control plane", () => scaleAndControlPlane(sizes));
    results.scale = scale;
    results.steps = steps;
  }
  if (only.has("limits")) results.limits = await timed("under the modelled scalability targets", () => underLimits(sizes));
  if (only.has("managed")) results.managed = await timed("managed copy against diff copy", () => managedAgainstDiff(sizes));
  if (only.has("fleet")) results.fleet = await timed("fleet scale-out", () => fleetScaleOut(sizes));
  const rows = rowsOf(results);
  const table = formatTable(rows);
  const defaults = effectiveSettings();
  const summary = {
    startedAt: started.toISOString(),
    durationSeconds: Math.round((Date.now() - started.getTime()) / 1000),
    machine: { cpus: cpus().length, model: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 1024 ** 3), node: process.version, loadAtStart: load },
    sizes,
    defaults: {
      DISKDELTA_COPY_CONCURRENCY: defaults.DISKDELTA_COPY_CONCURRENCY,
      DISKDELTA_STEP_MAX_BYTES: defaults.DISKDELTA_STEP_MAX_BYTES,
      DISKDELTA_STEP_MAX_REQUESTS: defaults.DISKDELTA_STEP_MAX_REQUESTS,
      DISKDELTA_DIFF_WINDOW_BYTES: defaults.DISKDELTA_DIFF_WINDOW_BYTES,
      DISKDELTA_TARGET_BLOB_MIB_PER_SECOND: defaults.DISKDELTA_TARGET_BLOB_MIB_PER_SECOND,
      DISKDELTA_TARGET_BLOB_REQUESTS_PER_SECOND: defaults.DISKDELTA_TARGET_BLOB_REQUESTS_PER_SECOND,
      DISKDELTA_TRANSACTION_COST_BYTES: defaults.DISKDELTA_TRANSACTION_COST_BYTES,
    },
    rows,
    details: results,
  };
  mkdirSync(resolve("bench"), { recursive: true });
  writeFileSync(resolve("bench", "results.json"), JSON.stringify(summary, null, 2) + "\n");
  console.log(`\n${table}\n`);
  const failed = rows.filter((r) => r.holds === false);
  console.log(failed.length ? `${failed.length} target(s) not met; see bench/README.md for the measured bottlenecks.` : "All targets hold.");
  console.log(`bench: ${summary.durationSeconds} s; results in bench/results.json`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});
