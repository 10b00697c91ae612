/**
 * Schedules: intervals ("every 30m") and six-field NCRONTAB, as Azure Functions timers use. Cron times are built in
 * the process's local time zone, which is the one the schedule is evaluated in (UTC in Azure unless WEBSITE_TIME_ZONE).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isDue, nextDueAt, scheduleProblem, judgeSpacing } from "../../src/domain/schedule";

const minute = 60_000;
const hour = 60 * minute;

describe("scheduleProblem", () => {
  const valid = ["every 30m", "every 4h", "every 1d", "EVERY 2H", "  every 15 m  ", "0 30 2 * * *", "0 */5 * * * *", "0 0 */6 * * 1-5", "0 0 3 * * MON"];
  for (const schedule of valid) {
    it(`when the schedule is "${schedule}", then it is accepted`, () => assert.equal(scheduleProblem(schedule), undefined));
  }

  const expectedForms = /expected "every <n>m\|h\|d" or an NCRONTAB expression with 6 fields/;
  const invalid: { schedule: string; message: RegExp }[] = [
    { schedule: "every 0m", message: /the interval must be at least 1/ },
    { schedule: "every 5s", message: expectedForms },
    { schedule: "every -1h", message: expectedForms },
    { schedule: "*/5 * * * *", message: expectedForms },
    { schedule: "0 0 0 * * * 2026", message: expectedForms },
    { schedule: "", message: expectedForms },
    { schedule: "@daily", message: expectedForms },
    { schedule: "0 61 * * * *", message: /^not a valid NCRONTAB expression: .*minute/ },
    { schedule: "0 0 25 * * *", message: /^not a valid NCRONTAB expression: .*hour/ },
  ];
  for (const c of invalid) {
    it(`when the schedule is "${c.schedule}", then it is refused with a message that says why`, () => {
      assert.match(scheduleProblem(c.schedule) ?? "(accepted)", c.message);
    });
  }
});

describe("nextDueAt and isDue", () => {
  const last = new Date(2026, 0, 15, 10, 0, 0);
  const intervals: { schedule: string; afterMs: number }[] = [
    { schedule: "every 30m", afterMs: 30 * minute },
    { schedule: "every 4h", afterMs: 4 * hour },
    { schedule: "every 1d", afterMs: 24 * hour },
    { schedule: "Every 90M", afterMs: 90 * minute },
  ];
  for (const c of intervals) {
    it(`when the schedule is "${c.schedule}", then the next run is due that long after the last one started`, () => {
      assert.equal(nextDueAt(c.schedule, last).getTime(), last.getTime() + c.afterMs);
      assert.equal(isDue(c.schedule, last, new Date(last.getTime() + c.afterMs - 1)), false);
      assert.equal(isDue(c.schedule, last, new Date(last.getTime() + c.afterMs)), true);
    });
  }

  const crons: { name: string; schedule: string; last: Date; next: Date }[] = [
    { name: "when a daily 02:30 run last started at 10:00, then the next is due at 02:30 the next day", schedule: "0 30 2 * * *", last, next: new Date(2026, 0, 16, 2, 30, 0) },
    { name: "when a daily 02:30 run last started at exactly 02:30, then the next is due a day later", schedule: "0 30 2 * * *", last: new Date(2026, 0, 16, 2, 30, 0), next: new Date(2026, 0, 17, 2, 30, 0) },
    { name: "when a run every 5 minutes last started at 10:02, then the next is due at 10:05", schedule: "0 */5 * * * *", last: new Date(2026, 0, 15, 10, 2, 0), next: new Date(2026, 0, 15, 10, 5, 0) },
    { name: "when a weekday run last started on Friday, then the next is due on Monday", schedule: "0 0 6 * * 1-5", last: new Date(2026, 0, 16, 6, 0, 0), next: new Date(2026, 0, 19, 6, 0, 0) },
  ];
  for (const c of crons) {
    it(c.name, () => {
      assert.equal(nextDueAt(c.schedule, c.last).getTime(), c.next.getTime());
      assert.equal(isDue(c.schedule, c.last, new Date(c.next.getTime() - 1000)), false);
      assert.equal(isDue(c.schedule, c.last, c.next), true);
    });
  }

  it("when a disk never ran, then it is due at once", () => {
    assert.equal(isDue("every 1d", undefined, new Date(0)), true);
    assert.equal(isDue("0 30 2 * * *", undefined, new Date()), true);
  });

  it("when a valid expression never fires (30 February), then the disk is never due", () => {
    assert.equal(isDue("0 0 0 30 2 *", last, new Date(last.getTime() + 3650 * 24 * hour)), false);
  });
});

describe("judgeSpacing", () => {
  const from = new Date("2026-01-15T10:00:00Z");
  const cases: { schedule: string; gapMs: number }[] = [
    { schedule: "every 30m", gapMs: 1_800_000 },
    { schedule: "0 */5 * * * *", gapMs: 300_000 },
    { schedule: "0 0 2,3 * * *", gapMs: 3_600_000 },
    { schedule: "*/1 * * * * *", gapMs: 1000 },
    { schedule: "0 30 2 * * 1", gapMs: 7 * 86_400_000 },
  ];
  for (const c of cases) {
    it(`when runs start "${c.schedule}", then the shortest time between two is ${c.gapMs / 1000} s`, () => {
      assert.equal(judgeSpacing(c.schedule, 0, 1, from).shortestGapMs, c.gapMs);
    });
  }

  it("when a schedule runs twice an hour on Sundays only, then its shortest gap and busiest day are those of Sunday", () => {
    const spacing = judgeSpacing("0 0,30 * * * 0", 86_400_000 - 1, 1000, from);
    assert.deepEqual(spacing, { mostWithin: 48, shortestGapMs: 1_800_000 });
  });
});
