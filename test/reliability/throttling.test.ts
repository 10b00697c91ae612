/**
 * ARM compute throttling when many disks are due at once: the compute adapter paces snapshot create, grant and
 * revoke by the budgets ARM reports, so a worker stays inside them instead of meeting a storm of 429s. The stack's
 * throttling windows are shortened to 1 s and 30 s (named so in the header) so that they pass within the test.
 */
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, it } from "node:test";
import { throttledCallCount } from "../../emulator/compute/rate-limits";
import { createComputeGateway } from "../../src/adapters/compute";
import { createMemoryMetrics } from "../../src/host/metrics";
import { GiB, MiB, type TestApp, useTestApp } from "../support/app";
import { runOf } from "../support/backup";
import { recordOutcome } from "../support/reliability-report";

/** Snapshot create, grant and revoke calls allowed per 1-second window: a full-copy run makes about three. */
const snapshotBudget = 5;
const windowSeconds = [1, 30] as const;

describe("ARM throttling across many disks", () => {
  const app = useTestApp({
    stack: { computeRateLimits: { HighCostSnapshotCreateHydrate: [snapshotBudget, 1000], windowSeconds } },
  });

  async function protectDisks(prefix: string, count: number, seed: number): Promise<string[]> {
    const { stack } = app();
    return Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const diskId = await app().createDisk(`${prefix}-${i}`, 1 * GiB);
        stack.disks.writeSeeded(diskId, i * 16 * MiB, 2 * MiB, seed + i);
        return app().protect(diskId);
      }),
    );
  }

  /** Syncs every disk at once (as a timer tick finding them all due would) and works the queues until idle. */
  async function syncAll(worker: TestApp, diskKeys: readonly string[]): Promise<{ runIds: string[]; throttled: number }> {
    const before = throttledCallCount();
    const runIds = await Promise.all(diskKeys.map(async (diskKey) => {
      const answer = await worker.host.invokeHttp("POST", `/api/disks/${diskKey}/sync`);
      assert.equal(answer.status, 202);
      return (answer.body as { runId: string }).runId;
    }));
    await worker.host.runUntilIdle();
    return { runIds, throttled: throttledCallCount() - before };
  }

  it("when 20 disks are due at once on a low snapshot budget, then every run succeeds and verifies, and the paced worker meets far fewer 429s than one without pacing", async () => {
    const { stack, deps } = app();
    // The same app on a worker whose compute adapter does not pace: the baseline, on disks of its own.
    const warnings: Record<string, unknown>[] = [];
    const metrics = createMemoryMetrics();
    const unpacedCompute = createComputeGateway(stack.arm.credential, {
      endpoint: stack.arm.endpoint,
      pollIntervalMs: 10,
      pacing: false,
      observer: { metrics, warn: (message, fields) => warnings.push({ message, ...fields }) },
    });
    const unpaced = app().withDeps({ ...deps, compute: unpacedCompute });
    const unpacedDisks = await protectDisks("disk-unpaced", 20, 300);
    const baseline = await syncAll(unpaced, unpacedDisks);

    // The paced worker starts, as the baseline did, on a window the other worker's calls have left.
    await sleep(windowSeconds[0] * 1000);
    const pacedDisks = await protectDisks("disk-paced", 20, 400);
    const paced = await syncAll(app(), pacedDisks);

    // Verifying grants and revokes read access on every snapshot again; it is not the workload measured here.
    await stack.setComputeRateLimits({ HighCostSnapshotCreateHydrate: [1000, 1000] });

    await Promise.all(pacedDisks.map(async (diskKey, i) => {
      const run = await runOf(app(), diskKey, paced.runIds[i]);
      assert.equal(run.state, "succeeded", `${diskKey}: ${run.error}`);
      const point = (await app().restorePoints(diskKey)).find((p) => p.runId === run.runId);
      assert.ok(point, `run ${run.runId} recorded no RestorePoint`);
      const check = await app().verify(point);
      assert.ok(check.equal, `RestorePoint of ${diskKey} differs from its snapshot at ${JSON.stringify(check.mismatches)}`);
    }));

    assert.ok(baseline.throttled > 0, "without pacing, the budget is low enough to be hit (else this test proves nothing)");
    assert.ok(paced.throttled <= baseline.throttled / 2, `paced: ${paced.throttled} 429s, unpaced: ${baseline.throttled}`);
    // Every 429 the baseline worker was answered is counted and logged as a warning, naming the policy window.
    const counted = metrics.values.filter((v) => v.name === "diskdelta.compute.throttled");
    assert.equal(counted.length, baseline.throttled);
    assert.equal(warnings.length, baseline.throttled);
    assert.ok(warnings.every((w) => w.policy === `Microsoft.Compute/HighCostSnapshotCreateHydrate${windowSeconds[0]}Sec`), JSON.stringify(warnings[0]));
    const succeededUnpaced = (await Promise.all(unpacedDisks.map((k, i) => runOf(app(), k, baseline.runIds[i])))).filter((r) => r.state === "succeeded").length;
    recordOutcome({
      area: "Throttling",
      scenario: `20 disks synced at once, ARM snapshot budget ${snapshotBudget} per ${windowSeconds[0]} s window`,
      runs: 40,
      faults: "ARM compute throttling (429 with Retry-After)",
      result: `paced worker: 20/20 runs succeeded and verified, ${paced.throttled} 429s; unpaced worker: ${succeededUnpaced}/20 succeeded, ${baseline.throttled} 429s`,
    });
  });
});
