/**
 * Pacing of ARM compute calls by the budgets ARM reports. Every compute answer carries
 * `x-ms-ratelimit-remaining-resource` (`Microsoft.Compute/HighCostSnapshotCreateHydrate3Min;42,…30Min;7990`): the
 * calls left in each of a throttling policy's windows. Before an expensive call a worker asks `paceCall` how long
 * to wait: nothing while every window of the call's policy is comfortable; the remaining calls spread over the rest
 * of the window when one runs low; until the window has passed when one is spent, or until Retry-After when ARM
 * answered 429. Pure: the adapter keeps the budgets and sleeps.
 */

/** What one answer said of one window of a policy, as this worker last knew it. */
export interface WindowBudget {
  /** The policy the window belongs to, e.g. `Microsoft.Compute/HighCostSnapshotCreateHydrate`. */
  readonly policy: string;
  /** The window's full name, e.g. `Microsoft.Compute/HighCostSnapshotCreateHydrate3Min`. */
  readonly window: string;
  readonly windowMs: number;
  /** Calls left when it was seen, less the calls this worker made since. */
  readonly remaining: number;
  /** When ARM reported it (ms since the epoch). */
  readonly seenAt: number;
  /** The most calls ARM ever reported left in this window: about its budget, what a window that has passed refills to. */
  readonly peak: number;
}

const unitMs: Readonly<Record<string, number>> = { Sec: 1000, Min: 60_000, Hour: 3_600_000 };
const windowName = /^(.+?)(\d+)(Sec|Min|Hour)$/;

/**
 * Reads `x-ms-ratelimit-remaining-resource`; entries whose name carries no window length (`…3Min`) or whose count is
 * not a number are left out, as a budget diskdelta cannot time.
 */
export function parseRemainingResource(header: string, seenAt: number): WindowBudget[] {
  const budgets: WindowBudget[] = [];
  for (const entry of header.split(",")) {
    const [name, count] = entry.trim().split(";");
    const match = windowName.exec(name ?? "");
    const remaining = Number(count);
    if (!match || count === undefined || count.trim() === "" || !Number.isInteger(remaining) || remaining < 0) continue;
    budgets.push({ policy: match[1], window: name, windowMs: Number(match[2]) * unitMs[match[3]], remaining, seenAt, peak: remaining });
  }
  return budgets;
}

/** What the worker knows of one policy: its windows, when it may call again after a 429, and its last call. */
export interface PolicyState {
  readonly windows: readonly WindowBudget[];
  /** Set by a 429: Retry-After from when it was answered. */
  readonly throttledUntil?: number;
  /** When this worker last made a call drawing on the policy. */
  readonly lastCallAt?: number;
}

/** Below this many calls left a window is low and calls are spread over the rest of it. */
export interface PacingLimits {
  readonly lowBudget: number;
}

/** A wait before the call, and why (the window that decided, for logs and metrics). */
export interface Wait {
  readonly waitMs: number;
  readonly reason: "throttled" | "budget spent" | "budget low";
  readonly window: string;
}

/** The wait one window asks for; a window whose length has passed since it was seen asks for none (it has refilled). */
function windowWait(budget: WindowBudget, state: PolicyState, now: number, limits: PacingLimits): Wait | undefined {
  const endsAt = budget.seenAt + budget.windowMs;
  if (now >= endsAt || budget.remaining >= limits.lowBudget) return undefined;
  // ARM's windows slide: every call counted when this was seen has left the window by `endsAt`, maybe earlier.
  if (budget.remaining <= 0) return { waitMs: endsAt - now, reason: "budget spent", window: budget.window };
  if (state.lastCallAt === undefined) return undefined;
  const spacing = (endsAt - now) / budget.remaining;
  const waitMs = Math.ceil(state.lastCallAt + spacing - now);
  return waitMs > 0 ? { waitMs, reason: "budget low", window: budget.window } : undefined;
}

/**
 * How long a call drawing on the policy waits before it is sent: the longest wait any of its windows (or a 429's
 * Retry-After) asks for; undefined to send it now.
 */
export function paceCall(state: PolicyState, now: number, limits: PacingLimits): Wait | undefined {
  const waits = state.windows.map((w) => windowWait(w, state, now, limits));
  if (state.throttledUntil !== undefined && state.throttledUntil > now) {
    waits.push({ waitMs: state.throttledUntil - now, reason: "throttled", window: state.windows.find((w) => w.remaining <= 0)?.window ?? "Retry-After" });
  }
  return waits.reduce<Wait | undefined>((longest, wait) => (wait && wait.waitMs > (longest?.waitMs ?? 0) ? wait : longest), undefined);
}

/**
 * The state after the worker sends a call drawing on the policy: one call less in every window. A window that has
 * passed since it was seen starts again from its peak, so that the calls held back for it do not all go at once.
 */
export function afterCall(state: PolicyState, now: number): PolicyState {
  const windows = state.windows.map((w) => {
    const refilled = now >= w.seenAt + w.windowMs ? { ...w, remaining: w.peak, seenAt: now } : w;
    return { ...refilled, remaining: Math.max(0, refilled.remaining - 1) };
  });
  return { ...state, lastCallAt: now, windows };
}

/** The state after an answer: its windows replace those of the same name (a 429's say 0; ARM knows best). */
export function afterAnswer(state: PolicyState, seen: readonly WindowBudget[], throttledUntil?: number): PolicyState {
  const known = new Map(state.windows.map((w) => [w.window, w]));
  for (const w of seen) known.set(w.window, { ...w, peak: Math.max(w.peak, known.get(w.window)?.peak ?? 0) });
  const later = throttledUntil !== undefined && throttledUntil > (state.throttledUntil ?? 0) ? throttledUntil : state.throttledUntil;
  return { ...state, windows: [...known.values()], throttledUntil: later };
}
