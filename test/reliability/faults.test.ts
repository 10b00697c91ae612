/**
 * Faults on every service: 5 % errors, throttling with Retry-After, resets and latency must not stop a backup; a
 * step that keeps failing ends in the poison queue with the run failed and the cause visible, and the next run
 * recovers.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { QueueClient } from "@azure/storage-queue";
import { GiB, MiB, useTestApp } from "../support/app";
import { assertHealthy, runOf, syncAndVerify } from "../support/backup";
import { recordOutcome } from "../support/reliability-report";

describe("faults", () => {
  const app = useTestApp({ settings: { DISKDELTA_STEP_MAX_BYTES: String(16 * MiB) } });

  it("when 5 % of requests fail with 500/503, compute throttles with Retry-After, connections reset and responses are slow, then backups complete and verify", async () => {
    const { stack } = app();
    const diskId = await app().createDisk("disk-faults", 4 * GiB);
    const diskKey = await app().protect(diskId);
    await stack.faults.set(
      [
        { scope: "all", kind: "error", status: 500, rate: 0.025 },
        { scope: "all", kind: "error", status: 503, rate: 0.025 },
        { scope: "compute", kind: "throttle", rate: 0.1, retryAfterSeconds: 1, remainingResource: "Microsoft.Compute/HighCostSnapshotCreateHydrate3Min;0" },
        { scope: "blob", kind: "reset", rate: 0.02 },
        { scope: "data", kind: "reset", rate: 0.02 },
        { scope: "all", kind: "latency", rate: 0.2, latencyMs: 20 },
      ],
      7,
    );
    try {
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < 8; i++) stack.disks.writeSeeded(diskId, (round * 8 + i) * 64 * MiB, 4 * MiB, 80 + round * 8 + i);
        await syncAndVerify(app(), diskKey);
      }
    } finally {
      const stats = await stack.faults.stats();
      await stack.faults.clear();
      const injected = Object.entries(stats.injected).map(([kind, n]) => `${n} ${kind}`).join(", ");
      recordOutcome({ area: "Faults", scenario: "5 % 500/503 everywhere, 10 % compute 429 with Retry-After, 2 % resets on data and blob, 20 % +20 ms latency", runs: 3, faults: `${injected} over ${stats.requests} requests`, result: "3/3 runs succeeded, every RestorePoint verified" });
      assert.ok(stats.injected.error > 0 && stats.injected.throttle > 0 && stats.injected.reset > 0, `faults were injected: ${injected}`);
    }
    await assertHealthy(app(), diskKey, diskId, 3);
  });

  it("when every page write fails, then the step ends in the poison queue, the run fails with the cause in status, and the next run recovers", async () => {
    const { stack } = app();
    const diskId = await app().createDisk("disk-poison", 2 * GiB);
    stack.disks.writeSeeded(diskId, 0, 4 * MiB, 90);
    const diskKey = await app().protect(diskId);
    await syncAndVerify(app(), diskKey);
    stack.disks.writeSeeded(diskId, 1 * GiB, 4 * MiB, 91);
    await stack.faults.set([{ scope: "blob", kind: "error", status: 503, rate: 1, method: "PUT", path: "comp=page" }]);
    let failedRunId: string;
    try {
      failedRunId = await app().sync(diskKey);
    } finally {
      await stack.faults.clear();
    }
    const failed = await runOf(app(), diskKey, failedRunId);
    assert.equal(failed.state, "failed");
    assert.match(failed.error ?? "", /gave up after 5 attempts: \[503/);
    const status = (await app().host.invokeHttp("GET", `/api/disks/${diskKey}`)).body as { lastRunState: string; lastError: string };
    assert.equal(status.lastRunState, "failed");
    assert.match(status.lastError, /gave up after 5 attempts/);
    const poison = new QueueClient(stack.appStorage.connectionString, "copy-steps-poison");
    const peeked = await poison.peekMessages({ numberOfMessages: 32 });
    const kept = peeked.peekedMessageItems.map((m) => JSON.parse(Buffer.from(m.messageText, "base64").toString("utf8")) as { runId: string });
    assert.ok(kept.some((m) => m.runId === failedRunId), "the failing CopyStep is kept in copy-steps-poison");
    assert.equal((await app().restorePoints(diskKey)).length, 1, "no RestorePoint for the failed run; the earlier one is untouched");

    const { run } = await syncAndVerify(app(), diskKey);
    assert.equal(run.fullCopyReason, undefined, "the chain base survived the failure");
    await assertHealthy(app(), diskKey, diskId, 2);
    recordOutcome({ area: "Faults", scenario: "every Put Page From URL answers 503", runs: 2, faults: "100 % 503 on target page writes during one run", result: "5 deliveries, then copy-steps-poison; run failed with 'gave up after 5 attempts: [503 …]' in status; next run diffed from the intact base and verified" });
  });
});
