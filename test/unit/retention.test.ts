/** RetentionPolicy: which RestorePoints go, oldest first; the newest RestorePoint always stays. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type RetainedPoint, type RetentionPolicy, applyRetention, mostKept } from "../../src/domain/retention";
import { nextDueAt } from "../../src/domain/schedule";

const now = new Date("2026-06-30T12:00:00Z");
const dayMs = 86_400_000;
/** A RestorePoint `days` days before now, named after its age. */
const point = (days: number): RetainedPoint => ({ id: `${days}d`, createdAt: new Date(now.getTime() - days * dayMs) });
const daily = (count: number) => Array.from({ length: count }, (_, i) => point(i));

describe("applyRetention", () => {
  const cases: { name: string; points: RetainedPoint[]; policy: RetentionPolicy; removed: string[] }[] = [
    { name: "when there are no RestorePoints, then nothing is removed", points: [], policy: { keepLast: 1, maxAgeDays: 1 }, removed: [] },
    { name: "when no rule is set, then nothing is removed", points: daily(5), policy: {}, removed: [] },
    { name: "when the policy keeps all, then nothing is removed, however old", points: [point(0), point(400), point(9000)], policy: { keepAll: true }, removed: [] },
    { name: "when keepLast is 3 of 5, then the two oldest are removed, oldest first", points: daily(5), policy: { keepLast: 3 }, removed: ["4d", "3d"] },
    { name: "when keepLast exceeds the count, then nothing is removed", points: daily(3), policy: { keepLast: 14 }, removed: [] },
    { name: "when maxAgeDays is 2, then points older than two days are removed", points: daily(5), policy: { maxAgeDays: 2 }, removed: ["4d", "3d"] },
    { name: "when a point is exactly maxAgeDays old, then it is kept", points: [point(0), point(7)], policy: { maxAgeDays: 7 }, removed: [] },
    { name: "when maxAgeDays is fractional, then it counts in hours too", points: [point(0), point(0.25), point(0.75)], policy: { maxAgeDays: 0.5 }, removed: ["0.75d"] },
    { name: "when both rules are set and the count is stricter, then the count decides", points: daily(6), policy: { keepLast: 2, maxAgeDays: 30 }, removed: ["5d", "4d", "3d", "2d"] },
    { name: "when both rules are set and the age is stricter, then the age decides", points: daily(6), policy: { keepLast: 5, maxAgeDays: 1.5 }, removed: ["5d", "4d", "3d", "2d"] },
    { name: "when every point is too old, then the newest is still kept", points: [point(40), point(50), point(60)], policy: { maxAgeDays: 30 }, removed: ["60d", "50d"] },
    { name: "when keepLast is 1, then only the newest stays", points: daily(3), policy: { keepLast: 1 }, removed: ["2d", "1d"] },
    { name: "when the only point is too old, then it is kept", points: [point(400)], policy: { keepLast: 1, maxAgeDays: 1 }, removed: [] },
    { name: "when points come unsorted, then the newest is found and removals are oldest first", points: [point(3), point(0), point(5), point(1)], policy: { keepLast: 2 }, removed: ["5d", "3d"] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.deepEqual(applyRetention(c.points, c.policy, now).map((p) => p.id), c.removed);
    });
  }

  it("when points carry more fields, then the removed ones come back whole", () => {
    const points = [{ ...point(0), targetSnapshot: "a" }, { ...point(9), targetSnapshot: "b" }];
    assert.deepEqual(applyRetention(points, { keepLast: 1 }, now), [points[1]]);
  });
});

describe("mostKept", () => {
  /** Runs the schedule for `days` from `now`, retention after each run as finalize applies it: the most points left. */
  const simulate = (schedule: string, policy: RetentionPolicy, days: number) => {
    let points: RetainedPoint[] = [];
    let most = 0;
    for (let at = nextDueAt(schedule, now); at.getTime() <= now.getTime() + days * dayMs; at = nextDueAt(schedule, at)) {
      points.push({ id: at.toISOString(), createdAt: at });
      const removed = new Set(applyRetention(points, policy, at).map((p) => p.id));
      points = points.filter((p) => !removed.has(p.id));
      most = Math.max(most, points.length);
    }
    return most;
  };
  const cases: { schedule: string; policy: RetentionPolicy; kept: number }[] = [
    { schedule: "every 4h", policy: { keepLast: 14 }, kept: 14 },
    { schedule: "every 4h", policy: { maxAgeDays: 7 }, kept: 43 },
    { schedule: "every 1d", policy: { maxAgeDays: 99 }, kept: 100 },
    { schedule: "every 1d", policy: { keepLast: 120, maxAgeDays: 98 }, kept: 99 },
    { schedule: "0 0 2,3 * * *", policy: { maxAgeDays: 30 }, kept: 61 },
    { schedule: "0 30 2 * * 1", policy: { maxAgeDays: 30 }, kept: 5 },
  ];
  for (const c of cases) {
    it(`when runs start "${c.schedule}" under ${JSON.stringify(c.policy)}, then it says ${c.kept}, as many as retention leaves`, () => {
      assert.equal(mostKept(c.policy, c.schedule, 10_000, now), c.kept);
      assert.equal(simulate(c.schedule, c.policy, 200), c.kept);
    });
  }

  it("when the count passes the cap, then it answers the cap; keepAll keeps without bound", () => {
    assert.equal(mostKept({ maxAgeDays: 30 }, "0 * * * * *", 100, now), 100);
    assert.equal(mostKept({ keepAll: true }, "every 1d", 100, now), Infinity);
  });
});
