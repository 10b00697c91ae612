/** `sync --wait`: polling a BackupRun until it ends, with a scripted API and a clock that advances only when slept. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ApiError, ApiUnreachableError } from "../../src/cli/api";
import { type RunWatch, waitForRun } from "../../src/cli/wait";
import type { BackupRunState } from "../../src/domain/model";
import type { RunView } from "../../src/domain/records";

/** A run as the HTTP API answers it. */
const run = (state: BackupRunState): RunView => ({
  diskKey: "k", runId: "r", trigger: "manual", copyMode: "server", state, startedAt: "2026-01-01T00:00:00Z", updatedAt: "2026-01-01T00:00:00Z",
  step: 0, cursor: 0, windowsDone: 0, bytesChanged: 0, bytesCopied: 0, bytesCleared: 0, requests: 0,
});

/** A watch that answers each poll from the script (a state or an error to throw) and counts the sleeps. */
function scripted(script: readonly (BackupRunState | Error)[]): RunWatch & { polls: number; slept: number[] } {
  let clock = 0;
  const watch = {
    polls: 0,
    slept: [] as number[],
    async fetchRun() {
      const next = script[Math.min(watch.polls, script.length - 1)];
      watch.polls += 1;
      if (next instanceof Error) throw next;
      return run(next);
    },
    async sleep(ms: number) {
      watch.slept.push(ms);
      clock += ms;
    },
    now: () => clock,
  };
  return watch;
}

describe("waitForRun", () => {
  const options = { intervalMs: 1000, timeoutMs: 10_000 };

  it("when the run goes through its states to success, then the wait ends with it", async () => {
    const watch = scripted(["queued", "preparing", "copying", "finalizing", "succeeded"]);
    const outcome = await waitForRun(watch, options);
    assert.deepEqual([outcome.run.state, outcome.timedOut, watch.polls], ["succeeded", false, 5]);
    assert.deepEqual(watch.slept, [1000, 1000, 1000, 1000]);
  });

  it("when the run has already ended, then there is no second poll", async () => {
    const watch = scripted(["failed"]);
    assert.deepEqual(await waitForRun(watch, options), { run: run("failed"), timedOut: false });
    assert.equal(watch.polls, 1);
  });

  it("when the run outlasts the timeout, then the wait gives up with the last state seen", async () => {
    const watch = scripted(["copying"]);
    const outcome = await waitForRun(watch, { intervalMs: 3000, timeoutMs: 10_000 });
    assert.deepEqual([outcome.run.state, outcome.timedOut], ["copying", true]);
    assert.deepEqual(watch.slept, [3000, 3000, 3000, 1000], "the last pause ends at the deadline");
  });

  it("when the clock stands still, then the number of polls is still bounded", async () => {
    const watch = { ...scripted(["copying"]), now: () => 0 };
    const outcome = await waitForRun(watch, { intervalMs: 1000, timeoutMs: 5000 });
    assert.equal(outcome.timedOut, true);
    assert.ok(watch.slept.length <= 6);
  });

  it("when a poll fails transiently, then the wait goes on", async () => {
    const watch = scripted(["copying", new ApiUnreachableError("ECONNRESET"), new ApiError(503, "Http503", "busy"), "succeeded"]);
    assert.equal((await waitForRun(watch, options)).run.state, "succeeded");
  });

  it("when polls keep failing, then the third failure in a row ends the wait", async () => {
    const watch = scripted(["copying", new ApiError(500, "InternalError", "boom")]);
    await assert.rejects(waitForRun(watch, options), /boom/);
    assert.equal(watch.polls, 4);
  });

  it("when a poll is refused (404), then the wait ends at once", async () => {
    const watch = scripted(["copying", new ApiError(404, "RunNotFound", "no BackupRun r")]);
    await assert.rejects(waitForRun(watch, options), /no BackupRun r/);
    assert.equal(watch.polls, 2);
  });
});
