/**
 * Two run-start messages for one BackupRun (a duplicate sent again, as at-least-once queues do) reach two workers
 * while the first is still preparing. The duplicate must leave the preparation to the delivery that claimed it — not
 * claim it away mid-way, which made that delivery's own record write conflict and, repeated on every quick
 * redelivery, used up its deliveries until the run failed "changed by someone else". A claimant that died is taken
 * over by its own message's redelivery, and a claim whose own write was answered as a conflict is still its own. Either way the run succeeds and its RestorePoint equals its snapshot.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConcurrencyError } from "../../src/domain/errors";
import { type RunStartMessage, messageVersion } from "../../src/domain/messages";
import { prepareRun } from "../../src/engine/prepare";
import { GiB, MiB, type TestApp, useTestApp } from "../support/app";
import { drainAndVerify } from "../support/backup";
import { SimulatedCrash, intercept } from "../support/intercept";
import { targetBlobService } from "../support/stack";

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** A protected disk with data and a run started through the API, its run-start message still queued. */
async function startedRun(app: TestApp, name: string): Promise<RunStartMessage> {
  const diskId = await app.createDisk(name, 1 * GiB);
  app.stack.disks.writeSeeded(diskId, 0, 6 * MiB, 91);
  const diskKey = await app.protect(diskId);
  const answer = await app.host.invokeHttp("POST", `/api/disks/${diskKey}/sync`);
  assert.equal(answer.status, 202, JSON.stringify(answer.body));
  return { v: messageVersion, kind: "run-start", diskKey, runId: (answer.body as { runId: string }).runId };
}

describe("a duplicate run-start while the run is being prepared", () => {
  const app = useTestApp();

  it("when a duplicate arrives mid-way through a prepare, then it prepares nothing and the first prepare ends unhindered", async () => {
    const message = await startedRun(app(), "disk-prepare-race");
    // The duplicate's own reads of ARM, counted: it must not get as far as granting the snapshot.
    const duplicate = intercept(app().deps, "compute.grantRead", Number.POSITIVE_INFINITY, "crash");
    let duplicateOutcome: unknown = "not run";
    // The first delivery is paused right after its claim (its first grant): the duplicate runs then, to its end.
    const first = intercept(app().deps, "compute.grantRead", 1, async () => {
      duplicateOutcome = await prepareRun(duplicate.deps, message, quiet, { attempt: 1, messageId: "duplicate" }).then(() => "done", (error: unknown) => error);
    });
    await prepareRun(first.deps, message, quiet, { attempt: 1, messageId: "first" });
    assert.equal(duplicateOutcome, "done");
    assert.equal(duplicate.calls(), 0, "the duplicate granted nothing: it left the run to the first delivery");
    const run = await app().deps.records.getRun(message.diskKey, message.runId);
    assert.equal(run?.value.state, "copying");
    await drainAndVerify(app(), message.diskKey, message.runId);
  });

  it("when the claim's own write is stored but answered as a conflict (its answer lost, the retry refused), then the delivery goes on with its claim", async () => {
    const message = await startedRun(app(), "disk-prepare-own-claim");
    const { deps } = app();
    let lost = false;
    // The first record write (the claim) is stored, and then reported as the conflict its retry would meet.
    const records = { ...deps.records, putRun: async (...args: Parameters<typeof deps.records.putRun>) => {
      const etag = await deps.records.putRun(...args);
      if (lost) return etag;
      lost = true;
      throw new ConcurrencyError(`BackupRun ${message.runId}`);
    } };
    await prepareRun({ ...deps, records }, message, quiet, { attempt: 1, messageId: "claimant" });
    assert.ok(lost);
    assert.equal((await app().deps.records.getRun(message.diskKey, message.runId))?.value.state, "copying", "not left claimed by nobody");
    await drainAndVerify(app(), message.diskKey, message.runId);
  });

  it("when a stalled delivery of the run-start resumes after another delivery of it prepared the run and the lease was broken and the blob written, then it stops before taking the lease again and no RestorePoint that is not the disk is recorded", async () => {
    const diskId = await app().createDisk("disk-prepare-stalled", 1 * GiB);
    app().stack.disks.writeSeeded(diskId, 0, 6 * MiB, 92);
    const diskKey = await app().protect(diskId);
    await app().sync(diskKey);
    app().stack.disks.writeSeeded(diskId, 512 * MiB, 1 * MiB, 93);
    const answer = await app().host.invokeHttp("POST", `/api/disks/${diskKey}/sync`);
    const message: RunStartMessage = { v: messageVersion, kind: "run-start", diskKey, runId: (answer.body as { runId: string }).runId };
    const config = (await app().deps.records.getDisk(diskKey))!;
    const blob = targetBlobService(app().stack).getContainerClient(config.target.container).getPageBlobClient(config.target.blobName);
    // The same message delivered twice (its visibility timeout passed): the first delivery stalls after its claim
    // while the second prepares the run; then the lease is broken and pages the source holds are overwritten.
    const stalled = intercept(app().deps, "compute.grantRead", 1, async () => {
      await prepareRun(app().deps, message, quiet, { attempt: 2, messageId: "same" });
      await blob.getBlobLeaseClient().breakLease(0);
      await blob.uploadPages(Buffer.alloc(4096, 0xcd), 1 * MiB, 4096);
    });
    await assert.rejects(prepareRun(stalled.deps, message, quiet, { attempt: 1, messageId: "same" }), ConcurrencyError);
    assert.notEqual((await blob.getProperties()).leaseState, "leased", "the stalled delivery did not take the broken lease again");
    await app().host.runUntilIdle();
    const run = (await app().deps.records.getRun(diskKey, message.runId))!.value;
    const point = (await app().restorePoints(diskKey)).find((p) => p.runId === message.runId);
    if (point) assert.ok((await app().verify(point)).equal, `run ${run.state}: its RestorePoint is the disk`);
    else assert.equal(run.state, "failed", "no RestorePoint: the run failed on the lost lease");
  });

  it("when the delivery that claimed the run dies, then a duplicate leaves it and the claimant's redelivery prepares it", async () => {
    const message = await startedRun(app(), "disk-prepare-crash");
    const crashing = intercept(app().deps, "compute.grantRead", 1, "crash");
    await assert.rejects(prepareRun(crashing.deps, message, quiet, { attempt: 1, messageId: "claimant" }), SimulatedCrash);
    const duplicate = intercept(app().deps, "compute.grantRead", Number.POSITIVE_INFINITY, "crash");
    await prepareRun(duplicate.deps, message, quiet, { attempt: 1, messageId: "duplicate" });
    assert.equal(duplicate.calls(), 0, "a claim younger than stalledAfterMs is left to its message");
    assert.equal((await app().deps.records.getRun(message.diskKey, message.runId))?.value.state, "preparing");
    await prepareRun(app().deps, message, quiet, { attempt: 2, messageId: "claimant" });
    assert.equal((await app().deps.records.getRun(message.diskKey, message.runId))?.value.state, "copying");
    await drainAndVerify(app(), message.diskKey, message.runId);
  });
});
