/**
 * Microsoft.Compute's throttling as clients see it: every answer carries `x-ms-ratelimit-remaining-resource`
 * (e.g. `Microsoft.Compute/HighCostSnapshotCreateHydrate3Min;999,Microsoft.Compute/HighCostSnapshotCreateHydrate30Min;7999`),
 * the calls left in the policy's sliding 3-minute and 30-minute windows; a call that finds a window used up is
 * answered 429 with Retry-After (when the oldest call in that window leaves it) and is not counted.
 * A test may shorten the windows (`windowSeconds`) so that they pass within it; a shortened window names its
 * length in the header (`…HighCostSnapshotCreateHydrate3Sec;N`), so a client reading the length from the name
 * paces to the window it is really in.
 */

/** Calls allowed in a policy's 3-minute and 30-minute windows. */
export type PolicyBudget = readonly [threeMinutes: number, thirtyMinutes: number];

/** The throttling policies the disk operations draw on. */
export const policyNames = ["HighCostSnapshotCreateHydrate", "CreateUpdateDisks", "DeleteDisks", "LowCostGet", "GetOperation"] as const;

export type Policy = (typeof policyNames)[number];

/** Lengths of the short and the long window, in seconds; the service's are 180 and 1800. */
export type WindowSeconds = readonly [short: number, long: number];

/** A budget per policy, and (tests only) shortened window lengths. */
export type ComputeRateLimits = Readonly<Record<Policy, PolicyBudget>> & { readonly windowSeconds?: WindowSeconds };

/**
 * What the service is believed to allow per subscription and region: the first answers of a fresh window in the
 * recorded azure-mgmt-compute session show one less than these (e.g. HighCostSnapshotCreateHydrate 999 / 7999,
 * DeleteDisks 2999 / 23999 seen as 23998, GetOperation 49983 of 50000). Microsoft does not publish them.
 */
export const serviceComputeRateLimits: ComputeRateLimits = {
  HighCostSnapshotCreateHydrate: [1000, 8000],
  CreateUpdateDisks: [1000, 8000],
  DeleteDisks: [3000, 24000],
  LowCostGet: [15000, 120000],
  GetOperation: [50000, 400000],
};

/**
 * The local stack's default: 100 times the service's budgets, so no test or benchmark is throttled unless it
 * lowers a budget on purpose (`computeRateLimits`); the header keeps the service's shape.
 */
export const stackComputeRateLimits: ComputeRateLimits = scaled(serviceComputeRateLimits, 100);

function scaled(limits: ComputeRateLimits, factor: number): ComputeRateLimits {
  const entries = policyNames.map((p): [Policy, PolicyBudget] => [p, [limits[p][0] * factor, limits[p][1] * factor]]);
  return Object.fromEntries(entries) as Record<Policy, PolicyBudget>;
}

const serviceWindowSeconds: WindowSeconds = [3 * 60, 30 * 60];

interface Window {
  readonly suffix: string;
  readonly ms: number;
}

function windowsOf(seconds: WindowSeconds = serviceWindowSeconds): readonly Window[] {
  return seconds.map((s) => ({ suffix: s % 60 === 0 ? `${s / 60}Min` : `${s}Sec`, ms: s * 1000 }));
}

let refusedCalls = 0;

/**
 * Calls answered 429 by every RateLimitCounters in this process since it started: read-only, for a test that
 * compares the throttling two workloads met (take the difference before and after each).
 */
export function throttledCallCount(): number {
  return refusedCalls;
}

/** What a call was answered: admitted with the header to send, or refused until `retryAfterSeconds` have passed. */
export type RateLimitDecision =
  | { admitted: true; header: string }
  | { admitted: false; header: string; retryAfterSeconds: number; window: string; allowed: number; measured: number };

/** Sliding-window counters per policy; the budgets are read at every call, so a change applies at once. */
export class RateLimitCounters {
  private readonly calls = new Map<Policy, number[]>();

  constructor(private readonly budgets: () => ComputeRateLimits) {}

  /** Admits and counts a call if every window of its policy has room; otherwise says how long to wait. */
  admit(policy: Policy, now = Date.now()): RateLimitDecision {
    const limits = this.budgets();
    const windows = windowsOf(limits.windowSeconds);
    const times = (this.calls.get(policy) ?? []).filter((t) => now - t < windows[1].ms);
    this.calls.set(policy, times);
    const budget = limits[policy];
    const used = windows.map((w) => times.filter((t) => now - t < w.ms));
    const full = windows.findIndex((_, i) => used[i].length >= budget[i]);
    if (full >= 0) {
      // The window has room again when its oldest call leaves it.
      const oldest = used[full][used[full].length - budget[full]] ?? now;
      refusedCalls += 1;
      return {
        admitted: false,
        header: header(windows, policy, budget, used.map((u) => u.length)),
        retryAfterSeconds: Math.max(1, Math.ceil((oldest + windows[full].ms - now) / 1000)),
        window: `${policy}${windows[full].suffix}`,
        allowed: budget[full],
        measured: used[full].length + 1,
      };
    }
    times.push(now);
    return { admitted: true, header: header(windows, policy, budget, used.map((u) => u.length + 1)) };
  }
}

function header(windows: readonly Window[], policy: Policy, budget: PolicyBudget, used: number[]): string {
  return windows.map((w, i) => `Microsoft.Compute/${policy}${w.suffix};${Math.max(0, budget[i] - used[i])}`).join(",");
}
