/**
 * Random histories of a protected disk for the integrity property: writes (some at the very end of the disk),
 * trims and growths between syncs, with a simulated crash at a random interception point and a small rate of
 * injected faults during each sync; and incidents that the TargetBlob's stamp and lease must make harmless: the
 * TargetBlob deleted (then a sync failing midway while re-creating it, a crash right after creating it), stale
 * writers of the previous run during a sync, a second disk claiming the blob, Get Page Ranges answers capped at a
 * few ranges. `runHistory` plays one on the local app and checks, right after each run and while its
 * SourceSnapshot still exists, that the RestorePoint equals it byte for byte and that the run diffed or copied in
 * full exactly when the blob's stamp allowed; at the end, one RestorePoint per successful sync, and that the
 * earlier RestorePoints whose blob snapshots still exist (a loss deletes them) are unchanged.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { type ByteRange, PAGE_BYTES } from "../../src/domain/ranges";
import type { Deps } from "../../src/engine/deps";
import { servicePageListMaxRanges } from "../../emulator/behaviour";
import type { FaultRule } from "../../emulator/faults";
import { GiB, MiB, type TestApp, resourceGroup } from "./app";
import { runOf } from "./backup";
import { deleteRunSourceSnapshot, deleteTargetBlob, refuseSecondDisk } from "./history-incidents";
import { countPagedListings } from "./history-paging";
import { type StalePlay, armStaleWriters, recordSteps } from "./history-stale-steps";
import { type InterceptPoint, intercept } from "./intercept";

/** Where a write or trim lands, in ten-thousandths of the room left on the disk (10000 = its last pages). */
const positionScale = 10_000;
const maxDiskGiB = 8;

/** A change to the disk between syncs. */
export type Mutation =
  | { readonly kind: "write"; readonly position: number; readonly pages: number; readonly seed: number }
  | { readonly kind: "trim"; readonly position: number; readonly pages: number }
  | { readonly kind: "grow"; readonly gib: number };

/** Before the sync: the TargetBlob deleted with its snapshots, and what its re-creation meets. */
export interface TargetLoss {
  /** A sync first fails midway through re-creating the blob (its own SourceSnapshot deleted after its first write). */
  readonly recreateFails: boolean;
  /** The first sync after the loss crashes right after prepare created the blob. */
  readonly crashAfterCreate: boolean;
}

/**
 * Changes, then a sync that may crash once and meets injected faults at `faultRate`. Later epochs may also meet
 * a TargetBlob loss and a second disk claiming the blob before their sync, and stale writers of the previous run
 * during it.
 */
export interface Epoch {
  readonly mutations: readonly Mutation[];
  readonly crash?: { readonly point: InterceptPoint; readonly after: number };
  readonly faultRate: number;
  readonly faultSeed: number;
  readonly loss?: TargetLoss;
  readonly claim?: boolean;
  readonly staleSteps?: boolean;
}

/** One disk's life: its first size, copy mode, a cap on ranges per Get Page Ranges answer, and the epochs that end in a sync. */
export interface History {
  readonly sizeGiB: number;
  readonly copyMode: "server" | "stream";
  readonly pageListMaxRanges?: number;
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

/** True four times in five. */
const likely = fc.oneof({ arbitrary: fc.constant(true), weight: 4 }, { arbitrary: fc.constant(false), weight: 1 });

/** Most capped histories answer at most a handful of ranges per listing, so that their listings really are paged. */
const pageListCap = fc.oneof({ arbitrary: fc.integer({ min: 1, max: 4 }), weight: 4 }, { arbitrary: fc.integer({ min: 5, max: 50 }), weight: 1 });

/** A TargetBlob loss comes with an epoch of its own, so that its full copy takes no diff away from the history. */
const targetLoss = fc.record({ at: fc.nat({ max: 3 }), recreateFails: likely, crashAfterCreate: likely, epoch });

/**
 * Histories of 2-4 epochs, plus one when the TargetBlob is lost. Incidents happen at later epochs only (the first
 * sync makes the TargetBlob and the first run that can go stale), and each kind is in most histories so that the
 * default number of runs meets every kind (no kind was missed in 20,000 seeds of 8 runs): a loss in 19 of 20 (its
 * re-creation failing, and crashing after creating the blob, in 4 of 5 of those each), a second disk's claim and
 * stale writers in 6 of 7, a Get Page Ranges cap in 19 of 20 (of 1-4 ranges in 4 of 5 of those: with so few, some
 * listing is always longer than one answer, which is what counts as a paged history).
 */
export const historyArbitrary: fc.Arbitrary<History> = fc
  .record({
    sizeGiB: fc.integer({ min: 1, max: 4 }),
    copyMode: fc.constantFrom("server" as const, "server" as const, "server" as const, "stream" as const),
    pageListMaxRanges: fc.option(pageListCap, { nil: undefined, freq: 20 }),
    first: epoch,
    later: fc.array(epoch, { minLength: 1, maxLength: 3 }),
    loss: fc.option(targetLoss, { nil: undefined, freq: 20 }),
    claimAt: fc.option(fc.nat({ max: 3 }), { nil: undefined, freq: 7 }),
    staleAt: fc.option(fc.nat({ max: 3 }), { nil: undefined, freq: 7 }),
  })
  .map(({ sizeGiB, copyMode, pageListMaxRanges, first, later, loss, claimAt, staleAt }) => {
    const lost: Epoch[] = loss ? [{ ...loss.epoch, loss: { recreateFails: loss.recreateFails, crashAfterCreate: loss.crashAfterCreate } }] : [];
    const lossAt = loss ? loss.at % (later.length + 1) : later.length;
    const withLoss = [...later.slice(0, lossAt), ...lost, ...later.slice(lossAt)];
    const here = (at: number | undefined, i: number) => at !== undefined && at % withLoss.length === i;
    const epochs = withLoss.map((e, i): Epoch => ({ ...e, ...(here(claimAt, i) ? { claim: true } : {}), ...(here(staleAt, i) ? { staleSteps: true } : {}) }));
    return { sizeGiB, copyMode, ...(pageListMaxRanges ? { pageListMaxRanges } : {}), epochs: [first, ...epochs] };
  });

/** A short line per history for reports and counterexamples. */
export function describeHistory(history: History): string {
  const size = (pages: number) => (pages * PAGE_BYTES >= MiB ? `${((pages * PAGE_BYTES) / MiB).toFixed(1)} MiB` : `${(pages * PAGE_BYTES) / 1024} KiB`);
  const where = (p: number) => `@${((p / positionScale) * 100).toFixed(2)}%`;
  const epochs = history.epochs.map((e) => {
    const changes = e.mutations.map((m) => (m.kind === "grow" ? `grow +${m.gib} GiB` : `${m.kind} ${size(m.pages)} ${where(m.position)}`));
    const loss = e.loss ? `; TargetBlob deleted${e.loss.recreateFails ? ", a sync fails re-creating it" : ""}${e.loss.crashAfterCreate ? ", crash after target.create" : ""}` : "";
    const claim = e.claim ? "; second disk claims the blob" : "";
    const crash = e.crash ? `; crash after ${e.crash.point} #${e.crash.after}` : "";
    const faults = e.faultRate ? `; ${e.faultRate * 100} % faults` : "";
    const stale = e.staleSteps ? "; stale writers of the previous run" : "";
    return `[${changes.join(", ")}${loss}${claim}; sync${crash}${faults}${stale}]`;
  });
  const paged = history.pageListMaxRanges ? `, ≤${history.pageListMaxRanges} ranges per listing answer` : "";
  return `${history.sizeGiB} GiB ${history.copyMode}${paged}: ${epochs.join(" ")}`;
}

/** The incidents a history can meet; the property test checks that each happened. */
export const incidentKinds = ["target-deleted", "recreate-failed", "crash-after-create", "stale-copy-steps", "second-disk-refused", "paged-answers"] as const;
export type IncidentKind = (typeof incidentKinds)[number];

/** What playing histories did, summed for the outcome row. */
export interface HistoryTotals {
  histories: number;
  /** Syncs that were meant to succeed (each records one RestorePoint); the failing re-creations are counted apart. */
  syncs: number;
  fullCopies: number;
  /** Interception points where a simulated crash happened, with how often. */
  crashes: Map<string, number>;
  faults: number;
  restorePoints: number;
  /** Incidents that happened, by kind. */
  incidents: Map<IncidentKind, number>;
  /** What the stale workers holding an old record met: fenced (by the lease), snapshot-gone, not-played. */
  staleWorkers: Map<string, number>;
  /** Range listings longer than one capped answer (so paged to completion); a history counts as `paged-answers` when it had one. */
  pagedListings: number;
}

export function emptyTotals(): HistoryTotals {
  return {
    histories: 0, syncs: 0, fullCopies: 0, crashes: new Map(), faults: 0, restorePoints: 0,
    incidents: new Map(incidentKinds.map((kind) => [kind, 0])), staleWorkers: new Map(), pagedListings: 0,
  };
}

function count<K>(map: Map<K, number>, key: K): void {
  map.set(key, (map.get(key) ?? 0) + 1);
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
  totals.histories += 1;
  const cap = history.pageListMaxRanges;
  if (!cap) return playHistory(app, history, name, totals, wrap);
  await app.stack.setPageListMaxRanges(cap);
  const paging = countPagedListings(cap);
  try {
    await playHistory(app, history, name, totals, (deps) => paging.wrap(wrap(deps)));
  } finally {
    await app.stack.setPageListMaxRanges(servicePageListMaxRanges);
  }
  // A cap only counts when some listing was longer than one answer, so followed a continuation marker.
  totals.pagedListings += paging.pagedListings();
  if (paging.pagedListings() > 0) count(totals.incidents, "paged-answers");
}

/** The disk a history plays on, as it is now. */
interface PlayedDisk {
  readonly name: string;
  readonly diskId: string;
  readonly diskKey: string;
  sizeGiB: number;
}

async function playHistory(app: TestApp, history: History, name: string, totals: HistoryTotals, wrap: (deps: Deps) => Deps): Promise<void> {
  const diskId = await app.createDisk(name, history.sizeGiB * GiB);
  const diskKey = await app.protect(diskId, { copyMode: history.copyMode, retention: { keepLast: 100 } });
  const disk: PlayedDisk = { name, diskId, diskKey, sizeGiB: history.sizeGiB };
  const config = await app.deps.records.getDisk(diskKey);
  assert.ok(config, "the disk is protected");
  const steps = recordSteps();
  const worker = steps.wrap(wrap(app.deps));
  /** Digests of the RestorePoints whose blob snapshots still exist (a TargetBlob loss takes the earlier ones). */
  const digests = new Map<string, string>();
  let recorded = 0;
  let previousRunId: string | undefined;

  for (const [index, epoch] of history.epochs.entries()) {
    const sync = `sync ${index + 1}`;
    const changed = await applyMutations(app, disk, epoch.mutations);
    if (epoch.loss) {
      await deleteTargetBlob(app, config.target);
      digests.clear();
      count(totals.incidents, "target-deleted");
    }
    if (epoch.claim) {
      await refuseSecondDisk(app, `${name}-claim-${index + 1}`, config.target, diskKey);
      count(totals.incidents, "second-disk-refused");
    }
    let crashAfterCreate = epoch.loss?.crashAfterCreate ?? false;
    if (epoch.loss?.recreateFails) {
      await failRecreation(app, disk, history.copyMode, worker, crashAfterCreate, totals, sync);
      crashAfterCreate = false;
    }

    const runId = await startSync(app, diskKey, sync);
    const earlier = epoch.staleSteps && previousRunId ? steps.trace(previousRunId) : undefined;
    if (epoch.staleSteps) assert.ok(earlier, `${sync}: the previous run left no CopyStep message or copying record`);
    const stale = earlier && armStaleWriters(app, steps, runId, earlier, changed);
    const crashing = epoch.crash && intercept(worker, epoch.crash.point, epoch.crash.after, "crash");
    const creating = crashAfterCreate ? intercept(crashing ? crashing.deps : worker, "target.create", 1, "crash") : undefined;
    await playSync(app, creating?.deps ?? crashing?.deps ?? worker, epoch, totals);
    totals.syncs += 1;
    if (epoch.crash && crashing?.fired()) count(totals.crashes, epoch.crash.point);
    if (creating?.fired()) count(totals.incidents, "crash-after-create");

    const run = await runOf(app, diskKey, runId);
    assert.equal(run.state, "succeeded", `${sync} ended ${run.state}: ${run.error}`);
    const expected = expectedFullCopy(index, epoch, creating?.fired() ?? false);
    assert.ok(expected.includes(run.fullCopyReason), `${sync} copied with full copy reason ${run.fullCopyReason ?? "none (a diff)"}, expected ${expected.map((r) => r ?? "a diff").join(" or ")}`);
    if (run.fullCopyReason) totals.fullCopies += 1;
    if (stale) checkStaleWriters(stale, totals, sync);
    const point = (await app.restorePoints(diskKey)).find((p) => p.runId === runId);
    assert.ok(point, `${sync} recorded no RestorePoint`);
    const check = await app.verify(point);
    assert.ok(check.equal, `RestorePoint of ${sync} differs from its SourceSnapshot at ${JSON.stringify(check.mismatches)}`);
    digests.set(point.restorePointId, await app.targetDigest(point));
    totals.restorePoints += 1;
    recorded += 1;
    previousRunId = runId;
  }

  const points = await app.restorePoints(diskKey);
  assert.equal(points.length, recorded, "one RestorePoint per successful sync");
  assert.equal(new Set(points.map((p) => p.sourceSnapshotId.toLowerCase())).size, points.length, "never two RestorePoints for one snapshot");
  for (const point of points.filter((p) => digests.has(p.restorePointId))) {
    assert.equal(await app.targetDigest(point), digests.get(point.restorePointId), `RestorePoint ${point.restorePointId} changed after later syncs`);
  }
}

/** Applies the epoch's changes to the disk; returns the first range written or trimmed, if any. */
async function applyMutations(app: TestApp, disk: PlayedDisk, mutations: readonly Mutation[]): Promise<ByteRange | undefined> {
  let first: ByteRange | undefined;
  for (const change of mutations) {
    if (change.kind === "grow") {
      const grown = Math.min(maxDiskGiB, disk.sizeGiB + change.gib);
      if (grown > disk.sizeGiB) await app.compute.disks.update(resourceGroup, disk.name, { diskSizeGB: grown }, { updateIntervalInMs: 10 });
      disk.sizeGiB = grown;
      continue;
    }
    const diskPages = (disk.sizeGiB * GiB) / PAGE_BYTES;
    const pages = Math.min(change.pages, diskPages);
    const offset = Math.floor(((diskPages - pages) * change.position) / positionScale) * PAGE_BYTES;
    if (change.kind === "write") app.stack.disks.writeSeeded(disk.diskId, offset, pages * PAGE_BYTES, change.seed);
    else app.stack.disks.trim(disk.diskId, offset, pages * PAGE_BYTES);
    first ??= { start: offset, end: offset + pages * PAGE_BYTES };
  }
  return first;
}

async function startSync(app: TestApp, diskKey: string, sync: string): Promise<string> {
  const started = await app.host.invokeHttp("POST", `/api/disks/${diskKey}/sync`);
  assert.equal(started.status, 202, `${sync} did not start: ${JSON.stringify(started.body)}`);
  return (started.body as { runId: string }).runId;
}

/** Processes the queues with `deps` as the worker's and the epoch's faults injected; counts the faults. */
async function playSync(app: TestApp, deps: Deps, epoch: Pick<Epoch, "faultRate" | "faultSeed">, totals: HistoryTotals): Promise<void> {
  const { stack } = app;
  if (epoch.faultRate > 0) await stack.faults.set(faultRules(epoch.faultRate), epoch.faultSeed);
  try {
    await app.withDeps(deps).host.runUntilIdle({ timeoutMs: 60_000 });
  } finally {
    const stats = await stack.faults.stats();
    totals.faults += stats.injected.error + stats.injected.reset + stats.injected.throttle;
    await stack.faults.clear();
  }
}

/**
 * A sync re-creating the lost TargetBlob that fails midway: after its first page write its own SourceSnapshot is
 * deleted, so the rest of its copy (or its finalizer) cannot read the source. It must fail and record nothing.
 */
async function failRecreation(app: TestApp, disk: PlayedDisk, copyMode: History["copyMode"], worker: Deps, crashAfterCreate: boolean, totals: HistoryTotals, sync: string): Promise<void> {
  const what = `the sync failing before ${sync}`;
  const before = (await app.restorePoints(disk.diskKey)).length;
  const runId = await startSync(app, disk.diskKey, what);
  const creating = crashAfterCreate ? intercept(worker, "target.create", 1, "crash") : undefined;
  const write = copyMode === "stream" ? "target.upload" : "target.copyFromUrl";
  const failing = intercept(creating?.deps ?? worker, write, 1, () => deleteRunSourceSnapshot(app, disk.diskKey, runId));
  await playSync(app, failing.deps, { faultRate: 0, faultSeed: 0 }, totals);
  if (creating?.fired()) count(totals.incidents, "crash-after-create");
  const run = await runOf(app, disk.diskKey, runId);
  assert.ok(failing.fired(), `${what} wrote nothing before its snapshot was to be deleted`);
  assert.equal(run.state, "failed", `${what} ended ${run.state}`);
  // Found gone (SnapshotNotFound), or its read access revoked right after the run re-granted it: a 403 from the
  // data endpoint (AuthenticationFailed), or from the target service reading it for Put Page From URL
  // (CannotVerifyCopySource).
  assert.match(run.error ?? "", /SnapshotNotFound|403 (AuthenticationFailed|CannotVerifyCopySource)/, `${what} failed for another reason: ${run.error}`);
  assert.ok(run.fullCopyReason === "target-missing" || run.fullCopyReason === "target-not-at-base", `${what} re-created the blob, yet did not copy in full: ${run.fullCopyReason}`);
  assert.equal((await app.restorePoints(disk.diskKey)).length, before, `${what} recorded a RestorePoint`);
  count(totals.incidents, "recreate-failed");
}

/** The stale writers of the previous run ran inside this sync, and none of them wrote. */
function checkStaleWriters(stale: StalePlay, totals: HistoryTotals, sync: string): void {
  if (stale.error) throw stale.error;
  const { outcome } = stale;
  assert.ok(outcome, `${sync}: no CopyStep recorded progress, so the stale writers never ran`);
  assert.equal(outcome.directWrite, "refused", `${sync}: a write of the previous run, with its lease, during this run`);
  assert.equal(outcome.replay, "dropped", `${sync}: the previous run's CopyStep redelivered`);
  assert.ok(["fenced", "snapshot-gone", "not-played"].includes(outcome.staleWorker), `${sync}: a worker of the previous run holding its old record: ${outcome.staleWorker}`);
  count(totals.staleWorkers, outcome.staleWorker);
  count(totals.incidents, "stale-copy-steps");
}

/**
 * Why the epoch's sync must copy in full, or [undefined] for a diff: the blob's stamp is the only proof that it
 * holds the chain base, so after a loss it copies in full — `target-missing` when it created the blob in one go,
 * `target-not-at-base` when the blob it found (made by a crashed or failed attempt) holds nothing proven.
 */
function expectedFullCopy(index: number, epoch: Epoch, crashedAfterCreate: boolean): (string | undefined)[] {
  if (index === 0) return ["first-run"];
  if (!epoch.loss) return [undefined];
  if (epoch.loss.recreateFails || crashedAfterCreate) return ["target-not-at-base"];
  return ["target-missing", "target-not-at-base"];
}
