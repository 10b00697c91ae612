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
  /**
   * For a window a 429 reported spent: when its Retry-After said a call may go again. ARM knows when the oldest call
   * leaves its sliding window; without it, diskdelta can only presume the whole window's length.
   */
  readonly freesAt?: number;
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
  /**
   * True when ARM said how long (a 429's Retry-After); false when the wait is this worker's estimate from a window's
   * remaining count, which may be longer than needed (windows slide).
   */
  readonly told: boolean;
}

/** The wait one window asks for; a window whose length has passed since it was seen asks for none (it has refilled). */
function windowWait(budget: WindowBudget, state: PolicyState, now: number, limits: PacingLimits): Wait | undefined {
  const endsAt = budget.seenAt + budget.windowMs;
  if (now >= endsAt || budget.remaining >= limits.lowBudget) return undefined;
  if (budget.remaining <= 0) return spentWait(budget, state, now);
  if (state.lastCallAt === undefined) return undefined;
  const spacing = (endsAt - now) / budget.remaining;
  const waitMs = Math.ceil(state.lastCallAt + spacing - now);
  return waitMs > 0 ? { waitMs, reason: "budget low", window: budget.window, told: false } : undefined;
}

/**
 * A spent window: until Retry-After when a 429 said, then one call per Retry-After period until an answer tells
 * more; otherwise until the window has passed: ARM's windows slide, so every call counted when this was seen has
 * left it by then, maybe earlier.
 */
function spentWait(budget: WindowBudget, state: PolicyState, now: number): Wait | undefined {
  const spent = (waitMs: number, told = true): Wait | undefined => (waitMs > 0 ? { waitMs, reason: "budget spent", window: budget.window, told } : undefined);
  if (budget.freesAt === undefined) return spent(budget.seenAt + budget.windowMs - now, false);
  if (now < budget.freesAt) return spent(budget.freesAt - now);
  const lastCallAt = state.lastCallAt ?? Number.NEGATIVE_INFINITY;
  return lastCallAt < budget.freesAt ? undefined : spent(Math.ceil(lastCallAt + Math.max(1, budget.freesAt - budget.seenAt) - now));
}

/**
 * How long a call drawing on the policy waits before it is sent: the longest wait any of its windows (or a 429's
 * Retry-After) asks for; undefined to send it now.
 */
export function paceCall(state: PolicyState, now: number, limits: PacingLimits): Wait | undefined {
  const waits = state.windows.map((w) => windowWait(w, state, now, limits));
  if (state.throttledUntil !== undefined && state.throttledUntil > now) {
    waits.push({ waitMs: state.throttledUntil - now, reason: "throttled", window: state.windows.find((w) => w.remaining <= 0)?.window ?? "Retry-After", told: true });
  }
  return waits.reduce<Wait | undefined>((longest, wait) => (wait && wait.waitMs > (longest?.waitMs ?? 0) ? wait : longest), undefined);
}

/**
 * The state after the worker sends a call drawing on the policy: one call less in every window. A window that has
 * passed since it was seen starts again from its peak, so that the calls held back for it do not all go at once;
 * one never seen with calls left is forgotten until the next answer.
 */
export function afterCall(state: PolicyState, now: number): PolicyState {
  const windows = state.windows.flatMap((w): WindowBudget[] => {
    if (now < w.seenAt + w.windowMs) return [{ ...w, remaining: Math.max(0, w.remaining - 1) }];
    if (w.peak <= 0) return [];
    return [{ policy: w.policy, window: w.window, windowMs: w.windowMs, peak: w.peak, remaining: w.peak - 1, seenAt: now }];
  });
  return { ...state, lastCallAt: now, windows };
}

/**
 * The state after an answer: its windows replace those of the same name (a 429's say 0; ARM knows best); a 429's
 * Retry-After (`throttledUntil`) holds the whole policy and says when its spent windows free up.
 */
export function afterAnswer(state: PolicyState, seen: readonly WindowBudget[], throttledUntil?: number): PolicyState {
  const known = new Map(state.windows.map((w) => [w.window, w]));
  for (const w of seen) {
    const freesAt = w.remaining <= 0 && throttledUntil !== undefined ? { freesAt: throttledUntil } : {};
    known.set(w.window, { ...w, ...freesAt, peak: Math.max(w.peak, known.get(w.window)?.peak ?? 0) });
  }
  const later = throttledUntil !== undefined && throttledUntil > (state.throttledUntil ?? 0) ? throttledUntil : state.throttledUntil;
  return { ...state, windows: [...known.values()], throttledUntil: later };
}
