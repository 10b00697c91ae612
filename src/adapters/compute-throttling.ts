/**
 * ARM compute throttling as one worker sees it: a pipeline policy on every ComputeManagementClient reads
 * `x-ms-ratelimit-remaining-resource` from every answer (each try, so 429s retried by the SDK are seen too) and keeps,
 * per subscription and throttling policy, the calls left in each window; `pace` holds an expensive call back as
 * `paceCall` (src/domain/pacing.ts) decides. Per worker only: each Functions instance keeps its own budgets and
 * knows nothing of the others' calls except through ARM's answers.
 * A 429 is still retried by the SDK's throttling policy after Retry-After; here it is counted, logged, and holds
 * back this worker's other calls on the policy until Retry-After. A wait longer than `maxWaitMs` (a Retry-After, or
 * a window to pass) is not waited: the call fails with ComputeThrottledError, a transient error, and the queue
 * delivers the message again later instead of holding the worker.
 */
import type { PipelinePolicy, PipelineResponse } from "@azure/core-rest-pipeline";
import { type PacingLimits, type PolicyState, afterAnswer, afterCall, paceCall, parseRemainingResource } from "../domain/pacing";

/** How calls are paced; `false` in ComputeOptions turns pacing off (headers are still read, 429s still counted). */
export interface PacingOptions extends PacingLimits {
  /** The longest one call waits for budget before failing with ComputeThrottledError. */
  readonly maxWaitMs: number;
}

/**
 * Pacing starts when a window has fewer than 20 calls left (ARM's snapshot budget is about 1,000 per 3 minutes per
 * subscription); a call waits at most 60 s, well inside the queue functions' timeout.
 */
export const defaultPacing: PacingOptions = { lowBudget: 20, maxWaitMs: 60_000 };

/** The throttling policies diskdelta's expensive calls draw on, as ARM names them in its headers. */
export const computePolicies = {
  /** Snapshot create, grant access and revoke access. */
  snapshotWrite: "Microsoft.Compute/HighCostSnapshotCreateHydrate",
  snapshotDelete: "Microsoft.Compute/DeleteDisks",
  diskWrite: "Microsoft.Compute/CreateUpdateDisks",
} as const;

/** A compute call not sent (or not retried) because ARM's budget would not allow it soon enough. Transient. */
export class ComputeThrottledError extends Error {
  constructor(
    readonly policy: string,
    readonly waitMs: number,
    what: string,
  ) {
    super(`ARM compute throttling (${policy}): ${what} would have to wait ${Math.ceil(waitMs / 1000)} s; the message is retried later`);
    this.name = "ComputeThrottledError";
  }
}

/** Where throttling is reported: metrics and a worker-level warning log. */
export interface ThrottlingObserver {
  readonly metrics: { record(name: string, value: number, dimensions: Record<string, string>): void };
  warn(message: string, fields: Record<string, unknown>): void;
}

const retryAfterHeaders: readonly [string, number][] = [["retry-after-ms", 1], ["x-ms-retry-after-ms", 1], ["retry-after", 1000]];

/** Retry-After in ms (seconds, ms variants, or an HTTP date); undefined when absent or unreadable. */
function retryAfterMs(response: PipelineResponse, now: number): number | undefined {
  for (const [name, factor] of retryAfterHeaders) {
    const value = response.headers.get(name);
    if (value === undefined || value.trim() === "") continue;
    const number = Number(value);
    if (Number.isFinite(number) && number >= 0) return number * factor;
    const date = Date.parse(value);
    if (Number.isFinite(date)) return Math.max(0, date - now);
  }
  return undefined;
}

/** The budgets of one worker, shared by every call of the compute gateway. */
export class ComputeThrottling {
  private readonly states = new Map<string, PolicyState>();
  /** Per subscription: until when a 429 that named no spent window holds back every paced call. */
  private readonly heldUntil = new Map<string, number>();

  constructor(
    private readonly pacing: PacingOptions | false,
    private readonly observer: ThrottlingObserver,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  ) {}

  private key(subscriptionId: string, policy: string): string {
    return `${subscriptionId.toLowerCase()}|${policy.toLowerCase()}`;
  }

  private stateOf(subscriptionId: string, policy: string): PolicyState {
    return this.states.get(this.key(subscriptionId, policy)) ?? { windows: [] };
  }

  /** The pipeline policy for the client of one subscription; perRetry, so each try's answer is read. */
  policyFor(subscriptionId: string): PipelinePolicy {
    return {
      name: "diskdeltaComputeThrottling",
      sendRequest: async (request, next) => {
        const response = await next(request);
        const now = Date.now();
        const header = response.headers.get("x-ms-ratelimit-remaining-resource");
        const seen = header ? parseRemainingResource(header, now) : [];
        const throttled = response.status === 429;
        const waitMs = throttled ? (retryAfterMs(response, now) ?? 0) : undefined;
        const until = waitMs === undefined ? undefined : now + waitMs;
        const spent = seen.filter((w) => w.remaining <= 0);
        for (const policy of new Set(seen.map((w) => w.policy))) {
          const key = this.key(subscriptionId, policy);
          const ownSpent = spent.some((w) => w.policy === policy);
          this.states.set(key, afterAnswer(this.stateOf(subscriptionId, policy), seen.filter((w) => w.policy === policy), ownSpent ? until : undefined));
        }
        if (throttled) {
          const policy = spent[0]?.window ?? "unknown";
          if (spent.length === 0 && until !== undefined) this.heldUntil.set(subscriptionId.toLowerCase(), Math.max(until, this.heldUntil.get(subscriptionId.toLowerCase()) ?? 0));
          this.observer.metrics.record("diskdelta.compute.throttled", 1, { policy });
          this.observer.warn("ARM compute throttled a call (429); the SDK retries it after Retry-After and this worker holds back its other calls on the policy until then", {
            policy,
            retryAfterSeconds: waitMs === undefined ? undefined : waitMs / 1000,
            method: request.method,
            path: new URL(request.url).pathname,
          });
          if (this.pacing && waitMs !== undefined && waitMs > this.pacing.maxWaitMs) {
            throw new ComputeThrottledError(policy, waitMs, `${request.method} ${new URL(request.url).pathname}`);
          }
        }
        return response;
      },
    };
  }

  /**
   * Waits until a call drawing on `policy` may be sent, and counts it as sent; throws ComputeThrottledError
   * (sending nothing) when a Retry-After ARM gave would take longer than `maxWaitMs`; an estimated wait that long
   * sends the call instead. Does nothing when pacing is off.
   */
  async pace(subscriptionId: string, policy: string, what: string): Promise<void> {
    if (!this.pacing) return;
    let waitedMs = 0;
    for (;;) {
      const now = Date.now();
      const state = this.stateOf(subscriptionId, policy);
      const held = this.heldUntil.get(subscriptionId.toLowerCase());
      const wait = paceCall(held !== undefined && held > (state.throttledUntil ?? 0) ? { ...state, throttledUntil: held } : state, now, this.pacing);
      if (!wait) {
        this.states.set(this.key(subscriptionId, policy), afterCall(state, now));
        if (waitedMs > 0) this.observer.metrics.record("diskdelta.compute.paced_ms", waitedMs, { policy });
        return;
      }
      if (waitedMs + wait.waitMs > this.pacing.maxWaitMs) {
        // Only a wait ARM asked for (Retry-After) fails the call; one this worker estimated from a count is not
        // trusted that far: the call is sent and ARM decides (a 429 then says how long, and the SDK waits for it).
        if (wait.told) throw new ComputeThrottledError(wait.window, waitedMs + wait.waitMs, what);
        this.states.set(this.key(subscriptionId, policy), afterCall(state, now));
        return;
      }
      await this.sleep(wait.waitMs);
      waitedMs += wait.waitMs;
    }
  }
}
