/**
 * Random histories of a protected disk for the integrity property: writes (some at the very end of the disk),
 * trims and growths between syncs, with a simulated crash at a random interception point and a small rate of
 * injected faults during each sync. `runHistory` plays one on the local app and checks, right after each run and
 * while its SourceSnapshot still exists, that the RestorePoint equals it byte for byte; at the end, that earlier
 * RestorePoints are unchanged.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { setDeps } from "../../src/composition";
import { PAGE_BYTES } from "../../src/domain/ranges";
import type { Deps } from "../../src/engine/deps";
import type { FaultRule } from "../../emulator/faults";
import { GiB, MiB, type TestApp, resourceGroup } from "./app";
import { runOf } from "./backup";
import { type InterceptPoint, intercept } from "./intercept";

/** Where a write or trim lands, in ten-thousandths of the room left on the disk (10000 = its last pages). */
const positionScale = 10_000;
const maxDiskGiB = 8;

/** A change to the disk between syncs. */
export type Mutation =
  | { readonly kind: "write"; readonly position: number; readonly pages: number; readonly seed: number }
  | { readonly kind: "trim"; readonly position: number; readonly pages: number }
  | { readonly kind: "grow"; readonly gib: number };

/** Changes, then a sync that may crash once and meets injected faults at `faultRate`. */
export interface Epoch {
  readonly mutations: readonly Mutation[];
  readonly crash?: { readonly point: InterceptPoint; readonly after: number };
  readonly faultRate: number;
  readonly faultSeed: number;
}

/** One disk's life: its first size, copy mode, and the epochs that end in a sync. */
export interface History {
  readonly sizeGiB: number;
  readonly copyMode: "server" | "stream";
  readonly epochs: readonly Epoch[];
}

/** Interception points across the whole run: prepare, copy steps, finalize. */
export const crashPoints: readonly InterceptPoint[] = [
  "compute.createIncrementalSnapshot",
  "compute.grantRead",
  "target.create",
  "target.acquireLease",
  "target.resize",
  "target.setStamp",
  "source.diff",
  "source.allocated",
  "target.copyFromUrl",
  "target.upload",
  "target.clear",
  "records.putRun",
  "queues.send",
  "target.createSnapshotOnce",
  "records.recordRestorePoint",
  "records.putState",
  "compute.revokeAccess",
  "compute.deleteSnapshot",
];

const position = fc.oneof(
  { arbitrary: fc.integer({ min: 0, max: positionScale }), weight: 3 },
  { arbitrary: fc.integer({ min: positionScale - 50, max: positionScale }), weight: 1 },
);

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant("write" as const), position, pages: fc.integer({ min: 1, max: 4096 }), seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }) }), weight: 5 },
  { arbitrary: fc.record({ kind: fc.constant("trim" as const), position, pages: fc.integer({ min: 1, max: 2048 }) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant("grow" as const), gib: fc.integer({ min: 1, max: 2 }) }), weight: 1 },
);

const epoch: fc.Arbitrary<Epoch> = fc.record(
  {
    mutations: fc.array(mutation, { minLength: 1, maxLength: 4 }),
    // Most points are reached once or twice per run: crash mostly after the first call so that most crashes happen.
    crash: fc.option(fc.record({ point: fc.constantFrom(...crashPoints), after: fc.oneof({ arbitrary: fc.constant(1), weight: 3 }, { arbitrary: fc.integer({ min: 2, max: 3 }), weight: 1 }) }), { nil: undefined, freq: 4 }),
    faultRate: fc.constantFrom(0, 0, 0.02, 0.05),
    faultSeed: fc.integer({ min: 1, max: 1_000_000 }),
  },
  { requiredKeys: ["mutations", "faultRate", "faultSeed"] },
);

export const historyArbitrary: fc.Arbitrary<History> = fc.record({
  sizeGiB: fc.integer({ min: 1, max: 4 }),
  copyMode: fc.constantFrom("server" as const, "server" as const, "server" as const, "stream" as const),
  epochs: fc.array(epoch, { minLength: 2, maxLength: 4 }),
});

/** A short line per history for reports and counterexamples. */
export function describeHistory(history: History): string {
  const size = (pages: number) => (pages * PAGE_BYTES >= MiB ? `${((pages * PAGE_BYTES) / MiB).toFixed(1)} MiB` : `${(pages * PAGE_BYTES) / 1024} KiB`);
  const where = (p: number) => `@${((p / positionScale) * 100).toFixed(2)}%`;
  const epochs = history.epochs.map((e) => {
    const changes = e.mutations.map((m) => (m.kind === "grow" ? `grow +${m.gib} GiB` : `${m.kind} ${size(m.pages)} ${where(m.position)}`));
    const crash = e.crash ? `; crash after ${e.crash.point} #${e.crash.after}` : "";
    const faults = e.faultRate ? `; ${e.faultRate * 100} % faults` : "";
    return `[${changes.join(", ")}; sync${crash}${faults}]`;
  });
  return `${history.sizeGiB} GiB ${history.copyMode}: ${epochs.join(" ")}`;
}

/** What playing histories did, summed for the outcome row. */
export interface HistoryTotals {
  histories: number;
  syncs: number;
  /** Interception points where a simulated crash happened, with how often. */
  crashes: Map<string, number>;
  faults: number;
  restorePoints: number;
}

export function emptyTotals(): HistoryTotals {
  return { histories: 0, syncs: 0, crashes: new Map(), faults: 0, restorePoints: 0 };
}

/** Data-plane errors and resets at `rate`; compute throttles with Retry-After 0, which the ARM SDK retries at once. */
function faultRules(rate: number): FaultRule[] {
  return [
    { scope: "blob", kind: "error", status: 503, rate },
    { scope: "data", kind: "error", status: 500, rate },
    { scope: "blob", kind: "reset", rate: rate / 4 },
    { scope: "compute", kind: "throttle", retryAfterSeconds: 0, rate: rate / 2 },
  ];
}

/** Plays `history` on a new disk; `wrap` changes the worker's Deps for the syncs (e.g. a broken copy). */
export async function runHistory(app: TestApp, history: History, name: string, totals: HistoryTotals, wrap: (deps: Deps) => Deps = (d) => d): Promise<void> {
  const { stack } = app;
  let sizeGiB = history.sizeGiB;
  const diskId = await app.createDisk(name, sizeGiB * GiB);
  const diskKey = await app.protect(diskId, { copyMode: history.copyMode, retention: { keepLast: 100 } });
  const digests = new Map<string, string>();
  totals.histories += 1;

  for (const [index, epoch] of history.epochs.entries()) {
    for (const change of epoch.mutations) {
      if (change.kind === "grow") {
        const grown = Math.min(maxDiskGiB, sizeGiB + change.gib);
        if (grown > sizeGiB) await app.compute.disks.update(resourceGroup, name, { diskSizeGB: grown }, { updateIntervalInMs: 10 });
        sizeGiB = grown;
        continue;
      }
      const diskPages = (sizeGiB * GiB) / PAGE_BYTES;
      const pages = Math.min(change.pages, diskPages);
      const offset = Math.floor(((diskPages - pages) * change.position) / positionScale) * PAGE_BYTES;
      if (change.kind === "write") stack.disks.writeSeeded(diskId, offset, pages * PAGE_BYTES, change.seed);
      else stack.disks.trim(diskId, offset, pages * PAGE_BYTES);
    }

    const started = await app.host.invokeHttp("POST", `/api/disks/${diskKey}/sync`);
    assert.equal(started.status, 202, `sync ${index + 1} did not start: ${JSON.stringify(started.body)}`);
    const runId = (started.body as { runId: string }).runId;
    const crashing = epoch.crash && intercept(wrap(app.deps), epoch.crash.point, epoch.crash.after, "crash");
    setDeps(crashing ? crashing.deps : wrap(app.deps));
    if (epoch.faultRate > 0) await stack.faults.set(faultRules(epoch.faultRate), epoch.faultSeed);
    try {
      await app.host.runUntilIdle({ timeoutMs: 60_000 });
    } finally {
      setDeps(app.deps);
      const stats = await stack.faults.stats();
      totals.faults += stats.injected.error + stats.injected.reset + stats.injected.throttle;
      await stack.faults.clear();
    }
    totals.syncs += 1;
    if (crashing && crashing.fired()) totals.crashes.set(epoch.crash!.point, (totals.crashes.get(epoch.crash!.point) ?? 0) + 1);

    const run = await runOf(app, diskKey, runId);
    assert.equal(run.state, "succeeded", `sync ${index + 1} ended ${run.state}: ${run.error}`);
    const point = (await app.restorePoints(diskKey)).find((p) => p.runId === runId);
    assert.ok(point, `sync ${index + 1} recorded no RestorePoint`);
    const check = await app.verify(point);
    assert.ok(check.equal, `RestorePoint of sync ${index + 1} differs from its SourceSnapshot at ${JSON.stringify(check.mismatches)}`);
    digests.set(point.restorePointId, await app.targetDigest(point));
    totals.restorePoints += 1;
  }

  const points = await app.restorePoints(diskKey);
  assert.equal(points.length, history.epochs.length, "one RestorePoint per sync");
  assert.equal(new Set(points.map((p) => p.sourceSnapshotId.toLowerCase())).size, points.length, "never two RestorePoints for one snapshot");
  for (const point of points) {
    assert.equal(await app.targetDigest(point), digests.get(point.restorePointId), `RestorePoint ${point.restorePointId} changed after later syncs`);
  }
}
