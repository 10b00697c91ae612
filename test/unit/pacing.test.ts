/** Pacing ARM compute calls by the budgets in x-ms-ratelimit-remaining-resource: when to wait, and how long. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type PolicyState, type WindowBudget, afterAnswer, afterCall, paceCall, parseRemainingResource } from "../../src/domain/pacing";

const policy = "Microsoft.Compute/HighCostSnapshotCreateHydrate";
const now = 1_000_000;
const limits = { lowBudget: 20 };
/** The 3-minute window seen `agoMs` before now with `remaining` calls left. */
const short = (remaining: number, agoMs = 0): WindowBudget => ({ policy, window: `${policy}3Min`, windowMs: 180_000, remaining, seenAt: now - agoMs, peak: remaining });
const long = (remaining: number, agoMs = 0): WindowBudget => ({ policy, window: `${policy}30Min`, windowMs: 1_800_000, remaining, seenAt: now - agoMs, peak: remaining });

describe("parseRemainingResource", () => {
  it("when ARM reports two windows of a policy, then both are read with their lengths", () => {
    const header = "Microsoft.Compute/HighCostSnapshotCreateHydrate3Min;999,Microsoft.Compute/HighCostSnapshotCreateHydrate30Min;7999";
    assert.deepEqual(parseRemainingResource(header, now), [short(999), long(7999)]);
  });

  it("when a window is named in seconds or hours, then its length is read from the name", () => {
    const [seconds, hours] = parseRemainingResource("Microsoft.Compute/GetOperation3Sec;4, Microsoft.Compute/GetOperation1Hour;10", now);
    assert.equal(seconds.windowMs, 3000);
    assert.equal(seconds.policy, "Microsoft.Compute/GetOperation");
    assert.equal(hours.windowMs, 3_600_000);
  });

  it("when an entry has no window length or no count, then it is left out", () => {
    assert.deepEqual(parseRemainingResource("Microsoft.Compute/Something;5,Microsoft.Compute/PutVM3Min;,Microsoft.Compute/PutVM3Min;x,,", now), []);
  });
});

describe("paceCall", () => {
  const cases: { name: string; state: PolicyState; waitMs: number | undefined; reason?: string }[] = [
    { name: "when nothing is known of the policy, then the call goes at once", state: { windows: [] }, waitMs: undefined },
    { name: "when both windows are comfortable, then the call goes at once", state: { windows: [short(500), long(7000)], lastCallAt: now }, waitMs: undefined },
    { name: "when the budget is low but no call was made yet, then the call goes at once", state: { windows: [short(10)] }, waitMs: undefined },
    {
      name: "when 10 calls are left for the rest of the window and one was just made, then the next waits a tenth of the rest",
      state: { windows: [short(10, 80_000)], lastCallAt: now },
      waitMs: 10_000,
      reason: "budget low",
    },
    {
      name: "when the budget is low and the last call was long enough ago, then the call goes at once",
      state: { windows: [short(10, 80_000)], lastCallAt: now - 10_000 },
      waitMs: undefined,
    },
    { name: "when a window is spent, then the call waits until the window has passed", state: { windows: [short(0, 60_000)] }, waitMs: 120_000, reason: "budget spent" },
    { name: "when a spent window has passed since it was seen, then the call goes", state: { windows: [short(0, 180_000)], lastCallAt: now - 180_000 }, waitMs: undefined },
    {
      name: "when the long window is spent and the short one comfortable, then the long one decides",
      state: { windows: [short(900), long(0, 600_000)] },
      waitMs: 1_200_000,
      reason: "budget spent",
    },
    {
      name: "when a 429 said a window is spent and Retry-After is 1 s, then the call waits 1 s, not the window's length",
      state: { windows: [{ ...short(0), freesAt: now + 1000 }], throttledUntil: now + 1000 },
      waitMs: 1000,
      reason: "budget spent",
    },
    {
      name: "when Retry-After of a spent window has passed and no call went since, then one call goes",
      state: { windows: [{ ...short(0, 2000), freesAt: now - 1000 }], lastCallAt: now - 3000 },
      waitMs: undefined,
    },
    {
      name: "when Retry-After of a spent window has passed and one call went since, then the next waits another Retry-After",
      state: { windows: [{ ...short(0, 2000), freesAt: now - 1000 }], lastCallAt: now - 200 },
      waitMs: 800,
      reason: "budget spent",
    },
    { name: "when ARM answered 429 with Retry-After, then the call waits until then", state: { windows: [short(500)], throttledUntil: now + 7000 }, waitMs: 7000, reason: "throttled" },
    { name: "when the Retry-After has passed, then the call goes", state: { windows: [short(500)], throttledUntil: now - 1 }, waitMs: undefined },
    {
      name: "when a window passes later than Retry-After, then the longer wait wins",
      state: { windows: [short(0, 170_000)], throttledUntil: now + 5000 },
      waitMs: 10_000,
      reason: "budget spent",
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const wait = paceCall(c.state, now, limits);
      assert.equal(wait?.waitMs, c.waitMs);
      assert.equal(wait?.reason, c.reason);
    });
  }

  it("when a wait is only this worker's estimate from a spent count, then it says so; a 429's Retry-After is ARM's word", () => {
    assert.equal(paceCall({ windows: [short(0, 60_000)] }, now, limits)?.told, false);
    assert.equal(paceCall({ windows: [short(500)], throttledUntil: now + 7000 }, now, limits)?.told, true);
  });
});

describe("afterCall and afterAnswer", () => {
  it("when the worker sends a call, then every window has one call less and the call is remembered", () => {
    assert.deepEqual(afterCall({ windows: [short(10), long(100)] }, now), { windows: [{ ...short(10), remaining: 9 }, { ...long(100), remaining: 99 }], lastCallAt: now });
  });

  it("when a spent window has passed, then the next call starts it again from its peak", () => {
    const state = afterCall({ windows: [{ ...short(0, 200_000), peak: 9 }] }, now);
    assert.deepEqual(state.windows[0], { ...short(8), peak: 9 });
  });

  it("when held-back calls wake together after a window passed, then only the first goes and the others are spread", () => {
    let state: PolicyState = { windows: [{ ...short(0, 200_000), peak: 9 }] };
    assert.equal(paceCall(state, now, limits), undefined);
    state = afterCall(state, now);
    assert.equal(paceCall(state, now, limits)?.reason, "budget low");
  });

  it("when a window only ever seen spent has passed, then it is forgotten until the next answer", () => {
    assert.deepEqual(afterCall({ windows: [short(0, 200_000)] }, now).windows, []);
  });

  it("when a 429 reports a spent window, then the window frees at Retry-After; a later answer with calls left clears it", () => {
    const throttled = afterAnswer({ windows: [short(900)] }, [short(0)], now + 1000);
    assert.deepEqual(throttled.windows, [{ ...short(0), peak: 900, freesAt: now + 1000 }]);
    assert.equal(throttled.throttledUntil, now + 1000);
    assert.deepEqual(afterAnswer(throttled, [short(899)]).windows, [{ ...short(899), peak: 900 }]);
  });

  it("when an answer arrives, then its windows replace those of the same name and keep the highest peak", () => {
    const state = afterAnswer({ windows: [short(900), long(7000)] }, [short(5)]);
    assert.deepEqual(state.windows, [{ ...short(5), peak: 900 }, long(7000)]);
  });

  it("when a 429 names a later Retry-After than known, then it is kept; an earlier one does not shorten it", () => {
    assert.equal(afterAnswer({ windows: [], throttledUntil: now + 10 }, [], now + 50).throttledUntil, now + 50);
    assert.equal(afterAnswer({ windows: [], throttledUntil: now + 50 }, [], now + 10).throttledUntil, now + 50);
  });
});
