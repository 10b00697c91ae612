/**
 * What the bench's worker observes about the engine without changing it: every Deps call is wrapped (timing per
 * adapter method), diff queries are timed per window, page requests are tracked in flight, each handler
 * invocation is timed, and the finalizer's structure check (its page range listings of the SourceSnapshot and of
 * the blob snapshot) is timed and counted apart, down to the HTTP requests its paged listings make, so that a
 * BackupRun's wall time and requests can be split into copy work, per-window, per-step and structure check costs.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { subscribe } from "node:diagnostics_channel";
import type { FunctionDefinition } from "../../src/host/register";
import type { Deps } from "../../src/engine/deps";
import type { TargetBlob } from "../../src/adapters/target-blob";

/** One diff (or allocation) query of a window and the planning that followed it. */
export interface WindowSample {
  readonly bytes: number;
  readonly ranges: number;
  readonly queryMs: number;
  /** From the query's answer to the first page request of the window (or to the next query): planning + dispatch. */
  planMs?: number;
}

/** One side of the structure check: adapter calls (one per 64 GiB window), the HTTP requests they made, ranges listed. */
export interface ListingTotals {
  calls: number;
  /** HTTP requests: a listing is paged by the service (≤ 10,000 ranges per answer), retries count too. */
  requests: number;
  ranges: number;
  /** Sum of the calls' durations (the two sides of a window run at the same time). */
  ms: number;
}

/** The structure check of a run, as seen from its listings. */
export interface StructureCheckSample {
  /** From the start of its first listing to the end of its last (both sides in parallel, window after window). */
  spanMs: number;
  source: ListingTotals;
  target: ListingTotals;
}

/** Totals per adapter method, e.g. `records.putRun`. */
export type CallTotals = Record<string, { count: number; ms: number }>;

/** Everything observed during one BackupRun. */
export interface ProbeReport {
  readonly calls: CallTotals;
  readonly windows: WindowSample[];
  readonly invocations: { name: string; startMs: number; endMs: number }[];
  /** Time from a message being sent to its handler starting, per message. */
  readonly queueHopsMs: number[];
  readonly pageRequests: { copy: number; upload: number; clear: number; copyBytes: number; uploadBytes: number; clearBytes: number };
  /** Time inside CopySteps with no page request in flight (diff queries, planning, waiting for the slowest request). */
  readonly pipelineIdleMs: number;
  /** Time-weighted mean of page requests in flight while any CopyStep ran. */
  readonly meanInFlight: number;
  readonly maxInFlight: number;
  readonly structureCheck: StructureCheckSample;
  /** Every HTTP request the worker made during the run (storage, tables, queues with their polls, ARM). */
  readonly httpRequests: number;
}

/** The handler whose page range listings of the SourceSnapshot and the blob snapshot are the structure check. */
const finalizer = "finalizeRun";
type ListingSide = "source" | "target";
const noListings = (): ListingTotals => ({ calls: 0, requests: 0, ranges: 0, ms: 0 });
const noStructureCheck = (): { firstMs?: number; lastMs?: number; source: ListingTotals; target: ListingTotals } => ({ source: noListings(), target: noListings() });

const now = () => performance.now();

export class Probe {
  private calls: CallTotals = {};
  private windows: WindowSample[] = [];
  private invocations: ProbeReport["invocations"] = [];
  private hops: number[] = [];
  private sent = new Map<string, number[]>();
  private pages = { copy: 0, upload: 0, clear: 0, copyBytes: 0, uploadBytes: 0, clearBytes: 0 };
  private activeSteps = 0;
  private inFlight = 0;
  private maxInFlight = 0;
  private idleMs = 0;
  private stepMs = 0;
  private inFlightIntegral = 0;
  private lastChange = 0;
  private openWindow?: { sample: WindowSample; answeredAt: number };
  private structure = noStructureCheck();
  private httpRequests = 0;
  /** Which queue handler an adapter call runs in, and which side of the structure check an HTTP request serves. */
  private readonly handler = new AsyncLocalStorage<string>();
  private readonly listing = new AsyncLocalStorage<ListingSide>();

  constructor() {
    // Node announces every outgoing HTTP request here, in the async context of the code that made it.
    subscribe("http.client.request.start", () => {
      this.httpRequests += 1;
      const side = this.listing.getStore();
      if (side) this.structure[side].requests += 1;
    });
  }

  /** Starts a new observation (one BackupRun). */
  reset(): void {
    this.calls = {};
    this.windows = [];
    this.invocations = [];
    this.hops = [];
    this.sent.clear();
    this.pages = { copy: 0, upload: 0, clear: 0, copyBytes: 0, uploadBytes: 0, clearBytes: 0 };
    this.maxInFlight = 0;
    this.idleMs = 0;
    this.stepMs = 0;
    this.inFlightIntegral = 0;
    this.openWindow = undefined;
    this.structure = noStructureCheck();
    this.httpRequests = 0;
  }

  report(): ProbeReport {
    return {
      calls: this.calls,
      windows: this.windows,
      invocations: this.invocations,
      queueHopsMs: this.hops,
      pageRequests: { ...this.pages },
      pipelineIdleMs: this.idleMs,
      meanInFlight: this.stepMs > 0 ? this.inFlightIntegral / this.stepMs : 0,
      maxInFlight: this.maxInFlight,
      structureCheck: {
        spanMs: this.structure.firstMs === undefined || this.structure.lastMs === undefined ? 0 : this.structure.lastMs - this.structure.firstMs,
        source: { ...this.structure.source },
        target: { ...this.structure.target },
      },
      httpRequests: this.httpRequests,
    };
  }

  /** Deps with every adapter observed. */
  observe(deps: Deps): Deps {
    const source = this.timed(deps.source, "source");
    return {
      ...deps,
      compute: this.timed(deps.compute, "compute"),
      records: this.timed(deps.records, "records"),
      queues: this.timed(
        {
          send: (queue, message, delaySeconds) => {
            this.sentAt(queue);
            return deps.queues.send(queue, message, delaySeconds);
          },
        },
        "queues",
      ),
      source: {
        ...source,
        diff: (sas, base, window) => this.window(window.end - window.start, () => source.diff(sas, base, window), (d) => d.changed.length + d.cleared.length),
        allocated: (sas, window) =>
          this.handler.getStore() === finalizer
            ? this.structureListing("source", () => source.allocated(sas, window))
            : this.window(window.end - window.start, () => source.allocated(sas, window), (a) => a.length),
      },
      targets: (location) => this.target(deps.targets(location)),
    };
  }

  /** Handlers timed, and queue hops measured from the matching send. */
  observeFunctions(functions: readonly FunctionDefinition[]): FunctionDefinition[] {
    return functions.map((fn) => {
      if (fn.kind !== "queue") return fn;
      const handler: typeof fn.handler = async (message, context) => {
        const startMs = now();
        const sentAt = this.sent.get(fn.queueName)?.shift();
        if (sentAt !== undefined) this.hops.push(startMs - sentAt);
        const isStep = fn.queueName === "copy-steps";
        if (isStep) this.stepStarted();
        try {
          await this.handler.run(fn.name, () => fn.handler(message, context));
        } finally {
          if (isStep) this.stepEnded();
          this.closeWindow();
          this.invocations.push({ name: fn.name, startMs, endMs: now() });
        }
      };
      return { ...fn, handler };
    });
  }

  private sentAt(queue: string): void {
    const list = this.sent.get(queue) ?? [];
    list.push(now());
    this.sent.set(queue, list);
  }

  private async window<T>(bytes: number, query: () => Promise<T>, count: (answer: T) => number): Promise<T> {
    this.closeWindow();
    const started = now();
    const answer = await query();
    const sample: WindowSample = { bytes, ranges: count(answer), queryMs: now() - started };
    this.windows.push(sample);
    this.openWindow = { sample, answeredAt: now() };
    return answer;
  }

  /** One listing of the structure check; the HTTP requests it makes are counted in its context. */
  private async structureListing<T extends readonly unknown[]>(side: ListingSide, list: () => Promise<T>): Promise<T> {
    const started = now();
    this.structure.firstMs ??= started;
    const totals = this.structure[side];
    try {
      const ranges = await this.listing.run(side, list);
      totals.ranges += ranges.length;
      return ranges;
    } finally {
      totals.calls += 1;
      totals.ms += now() - started;
      this.structure.lastMs = now();
    }
  }

  private closeWindow(): void {
    if (!this.openWindow) return;
    this.openWindow.sample.planMs = now() - this.openWindow.answeredAt;
    this.openWindow = undefined;
  }

  private target(blob: TargetBlob): TargetBlob {
    const page = async (kind: "copy" | "upload" | "clear", bytes: number, write: () => Promise<void>) => {
      this.closeWindow();
      this.requestStarted();
      try {
        await write();
        this.pages[kind] += 1;
        this.pages[`${kind}Bytes`] += bytes;
      } finally {
        this.requestEnded();
      }
    };
    const timed = this.timed(blob, "target");
    return {
      ...timed,
      url: blob.url,
      copyFromUrl: (sourceUrl, range, lease) => page("copy", range.end - range.start, () => blob.copyFromUrl(sourceUrl, range, lease)),
      upload: (range, data, lease) => page("upload", range.end - range.start, () => blob.upload(range, data, lease)),
      clear: (range, lease) => page("clear", range.end - range.start, () => blob.clear(range, lease)),
      snapshotRanges: (snapshot, window) =>
        this.handler.getStore() === finalizer
          ? this.structureListing("target", () => timed.snapshotRanges(snapshot, window))
          : timed.snapshotRanges(snapshot, window),
    };
  }

  private tick(): void {
    const t = now();
    if (this.activeSteps > 0) {
      this.stepMs += t - this.lastChange;
      this.inFlightIntegral += this.inFlight * (t - this.lastChange);
      if (this.inFlight === 0) this.idleMs += t - this.lastChange;
    }
    this.lastChange = t;
  }

  private stepStarted(): void {
    this.tick();
    this.activeSteps += 1;
  }

  private stepEnded(): void {
    this.tick();
    this.activeSteps -= 1;
  }

  private requestStarted(): void {
    this.tick();
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
  }

  private requestEnded(): void {
    this.tick();
    this.inFlight -= 1;
  }

  /** The same object with each method's calls counted and timed under `prefix.method` (async methods only). */
  private timed<T extends object>(target: T, prefix: string): T {
    const calls = () => this.calls;
    return new Proxy(target, {
      get(object, property, receiver) {
        const value = Reflect.get(object, property, receiver);
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          const started = now();
          const result: unknown = value.apply(object, args);
          if (!(result instanceof Promise)) return result;
          const record = () => {
            const totals = (calls()[`${prefix}.${String(property)}`] ??= { count: 0, ms: 0 });
            totals.count += 1;
            totals.ms += now() - started;
          };
          return result.finally(record);
        };
      },
    });
  }
}
