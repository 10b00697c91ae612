/**
 * Integrity by proof: histories that once ended in a `succeeded` BackupRun whose RestorePoint was not the disk. Each
 * ends by comparing the RestorePoint's blob snapshot with its SourceSnapshot (SHA-256 over every non-zero 4 MiB
 * block, `app.verify`), and checks what the TargetBlob itself proves: its stamp, its lease, its owner.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { locationFromUrl } from "../../src/adapters/target-blob";
import { isLeaseLost } from "../../src/domain/errors";
import { diskKeyOf, protectedDiskInputSchema, toProtectedDisk } from "../../src/domain/model";
import { type RunView, unprovenTargetEtag } from "../../src/domain/records";
import type { Deps } from "../../src/engine/deps";
import { runCopyStep } from "../../src/engine/copy-step";
import { acceptRestore, advanceRestore } from "../../src/engine/restores";
import { updateState } from "../../src/engine/runs";
import { compareBlobs } from "../../src/engine/verify";
import { GiB, MiB, resourceGroup, useTestApp } from "../support/app";
import { runOf, syncAndVerify } from "../support/backup";
import { type Intercept, type InterceptPoint, intercept } from "../support/intercept";
import { recordOutcome } from "../support/reliability-report";
import { targetBlobService } from "../support/stack";

const poll = { updateIntervalInMs: 10 };
const quietLog = { info: () => undefined, warn: () => undefined, error: () => undefined };
const area = "Integrity by proof";

describe("integrity by proof", () => {
  const app = useTestApp();
  let disks = 0;

  /** A 2 GiB disk with data in several places, protected and backed up once. */
  async function backedUpDisk(options: Record<string, unknown> = {}): Promise<{ diskId: string; diskKey: string; name: string }> {
    const name = `disk-proof-${++disks}`;
    const diskId = await app().createDisk(name, 2 * GiB);
    for (let i = 0; i < 8; i++) app().stack.disks.writeSeeded(diskId, i * 200 * MiB, 2 * MiB, disks * 1000 + i);
    const diskKey = await app().protect(diskId, options);
    await syncAndVerify(app(), diskKey);
    return { diskId, diskKey, name };
  }

  function change(diskId: string, seed: number): void {
    for (let i = 0; i < 6; i++) app().stack.disks.writeSeeded(diskId, i * 300 * MiB + 5 * MiB, 1 * MiB, seed + i);
  }

  async function syncWith(deps: Deps, diskKey: string): Promise<RunView> {
    return runOf(app(), diskKey, await app().withDeps(deps).sync(diskKey));
  }

  function syncIntercepted(diskKey: string, point: InterceptPoint, after: number, then: Intercept): Promise<RunView> {
    return syncWith(intercept(app().deps, point, after, then).deps, diskKey);
  }

  async function deleteTargetBlob(diskKey: string): Promise<void> {
    const config = await app().deps.records.getDisk(diskKey);
    assert.ok(config);
    const blob = targetBlobService(app().stack).getContainerClient(config.target.container).getBlobClient(config.target.blobName);
    await blob.delete({ deleteSnapshots: "include" });
  }

  /** The SourceSnapshot the active run of a disk took (the newest of the disk's snapshots). */
  async function deleteActiveRunSnapshot(diskId: string): Promise<void> {
    const names: string[] = [];
    for await (const s of app().compute.snapshots.listByResourceGroup(resourceGroup)) {
      if (s.creationData?.sourceResourceId?.toLowerCase() === diskId.toLowerCase()) names.push(s.name!);
    }
    // Run ids count down with time, so the newest snapshot's name sorts first.
    const newest = names.sort()[0];
    await app().compute.snapshots.revokeAccess(resourceGroup, newest, poll);
    await app().compute.snapshots.delete(resourceGroup, newest, poll);
  }

  it("when the TargetBlob is lost and the run re-creating it fails, then the next run copies in full and its RestorePoint is the disk", async () => {
    const { diskId, diskKey } = await backedUpDisk();
    await deleteTargetBlob(diskKey);
    change(diskId, 7100);
    const failed = await syncIntercepted(diskKey, "target.copyFromUrl", 2, () => deleteActiveRunSnapshot(diskId));
    assert.equal(failed.state, "failed", "the re-creating run fails (its snapshot was deleted mid-copy)");
    change(diskId, 7200);
    const { run } = await syncAndVerify(app(), diskKey);
    assert.equal(run.fullCopyReason, "target-not-at-base", "the re-created blob holds nothing the records could diff from");
    recordOutcome({ area, scenario: "TargetBlob deleted, the run re-creating it fails, then another run", runs: 4, faults: "blob + snapshots deleted; source snapshot deleted mid-copy", result: "failed run left the blob unstamped; next run full copy (target-not-at-base), RestorePoint verified" });
  });

  it("when prepare dies right after creating a missing TargetBlob, then the redelivered prepare copies in full", async () => {
    const { diskId, diskKey } = await backedUpDisk();
    await deleteTargetBlob(diskKey);
    change(diskId, 7300);
    const run = await syncIntercepted(diskKey, "target.create", 1, "crash");
    assert.equal(run.state, "succeeded", run.error);
    assert.ok(run.fullCopyReason === "target-not-at-base" || run.fullCopyReason === "target-missing", `full copy, not ${run.fullCopyReason}`);
    const [point] = await app().restorePoints(diskKey);
    assert.ok((await app().verify(point)).equal, "the RestorePoint equals its SourceSnapshot");
    recordOutcome({ area, scenario: "TargetBlob deleted; prepare crashes right after creating it", runs: 2, faults: "1 simulated crash after target.create", result: `redelivered prepare copied in full (${run.fullCopyReason}); RestorePoint verified` });
  });

  it("when a second disk names the same TargetBlob, then protect refuses it, also after the first is unprotected, and a run of a forced second claim fails without touching the first disk's backups", async () => {
    const first = await backedUpDisk({ target: { blobEndpoint: app().stack.target.blobEndpoint, container: "backups", blobName: "shared.vhd" } });
    const [firstPoint] = await app().restorePoints(first.diskKey);
    const digest = await app().targetDigest(firstPoint);
    const secondId = await app().createDisk(`disk-proof-second-${disks}`, 2 * GiB);
    app().stack.disks.writeSeeded(secondId, 0, 8 * MiB, 7400);
    const body = { diskId: secondId, target: { blobEndpoint: app().stack.target.blobEndpoint, container: "backups", blobName: "shared.vhd" } };
    const refused = await app().host.invokeHttp("POST", "/api/disks", body);
    assert.equal(refused.status, 409);
    assert.match(JSON.stringify(refused.body), /TargetBlobInUse.*target\.blobName.*shared\.vhd.*used by ProtectedDisk/);

    // Two POSTs racing past the records check: the second disk's row exists; its run must refuse the blob.
    const secondKey = diskKeyOf(secondId);
    await app().deps.records.createDisk(toProtectedDisk(protectedDiskInputSchema.parse(body)));
    const run = await runOf(app(), secondKey, await app().sync(secondKey));
    assert.equal(run.state, "failed");
    assert.match(run.error ?? "", /TargetBlobInUse/);
    await app().deps.records.deleteDisk(secondKey);

    assert.equal(await app().targetDigest(firstPoint), digest, "the first disk's RestorePoint is unchanged");
    change(first.diskId, 7500);
    const { run: next } = await syncAndVerify(app(), first.diskKey);
    assert.equal(next.fullCopyReason, undefined, "the first disk's chain is intact");

    const unprotected = await app().host.invokeHttp("DELETE", `/api/disks/${first.diskKey}`);
    assert.ok(unprotected.status < 300, `unprotect: ${unprotected.status}`);
    const stillRefused = await app().host.invokeHttp("POST", "/api/disks", body);
    assert.equal(stillRefused.status, 409, "the blob holds the unprotected disk's backups");
    assert.match(JSON.stringify(stillRefused.body), /holds the backups of disk/);
    const points = await app().restorePoints(first.diskKey);
    for (const point of points) assert.ok((await app().verify(point)).equal, `kept RestorePoint ${point.restorePointId} is intact`);
    recordOutcome({ area, scenario: "a second ProtectedDisk names the same TargetBlob (via the API, racing, and after unprotect)", runs: 3, faults: "shared blob name", result: "409 TargetBlobInUse naming the owner; forced claim's run failed TargetBlobInUse; first disk's RestorePoints unchanged" });
  });

  it("when every range listing answers at most 3 ranges, then diff, allocated ranges, the structure check and verify follow the markers to the end", async () => {
    const { stack } = app();
    await stack.setPageListMaxRanges(3);
    try {
      const name = `disk-proof-paged-${++disks}`;
      const diskId = await app().createDisk(name, 2 * GiB);
      for (let i = 0; i < 25; i++) stack.disks.writeSeeded(diskId, i * 64 * MiB, 64 * 1024, 7600 + i);
      const diskKey = await app().protect(diskId);
      const { run: first } = await syncAndVerify(app(), diskKey);
      assert.equal(first.bytesCopied, 25 * 64 * 1024 + 512, "every allocated range and the footer, though each answer listed 3");
      for (let i = 0; i < 20; i++) stack.disks.writeSeeded(diskId, i * 64 * MiB + 32 * MiB, 4096, 7700 + i);
      stack.disks.trim(diskId, 0, 64 * 1024);
      const { run: second } = await syncAndVerify(app(), diskKey);
      assert.equal(second.bytesChanged, 20 * 4096, "every changed range, though each answer listed 3");
      recordOutcome({ area, scenario: "Get Page Ranges answers capped at 3 ranges (25 + 21 ranges to list)", runs: 2, faults: "paged answers on source and target", result: `full copy ${first.bytesCopied} B and diff ${second.bytesChanged} B exactly; both RestorePoints verified through paged listings` });
    } finally {
      await stack.setPageListMaxRanges(10_000);
    }
  });

  it("when a writer of an earlier run tries to write while a later run copies, then the lease refuses it and a replayed step is dropped", async () => {
    const { diskId, diskKey } = await backedUpDisk();
    const [earlier]: RunView[] = await app().deps.records.listRuns(diskKey, 1);
    assert.ok(earlier.leaseId, "the run recorded its lease");
    const config = (await app().deps.records.getDisk(diskKey))!;
    const target = app().deps.targets(config.target);
    change(diskId, 7800);
    const refusals: unknown[] = [];
    const run = await syncIntercepted(diskKey, "target.copyFromUrl", 1, async () => {
      const stale = await target.upload({ start: 0, end: 1 * MiB }, Buffer.alloc(1 * MiB, 0xee), { leaseId: earlier.leaseId! }).then(() => undefined, (error: unknown) => error);
      refusals.push(stale);
      const replay = { v: 1 as const, kind: "copy-step" as const, diskKey, runId: earlier.runId, step: 0, cursor: 0, windowBytes: 1024 * MiB };
      await runCopyStep(app().deps, replay, quietLog, { attempt: 2 });
    });
    assert.equal(run.state, "succeeded", run.error);
    assert.ok(isLeaseLost(refusals[0]), `the stale write was refused for want of the lease: ${String(refusals[0])}`);
    const [point] = await app().restorePoints(diskKey);
    assert.ok((await app().verify(point)).equal, "the later RestorePoint equals its SourceSnapshot");
    recordOutcome({ area, scenario: "a writer holding an earlier run's lease, and a replayed CopyStep of that run, during a later run", runs: 2, faults: "stale write of 1 MiB; duplicate copy-step", result: "412 lease refusal, replay dropped; RestorePoint verified" });
  });

  it("when a disk grows and prepare is redelivered after the resize, on a service that does not list the old footer page, then the RestorePoint is the disk", async () => {
    const { stack, compute } = app();
    await stack.setListOldFooterAsCleared(false);
    try {
      const { diskId, diskKey, name } = await backedUpDisk();
      await compute.disks.update(resourceGroup, name, { diskSizeGB: 3 }, poll);
      stack.disks.writeSeeded(diskId, 2 * GiB + 8 * MiB, 1 * MiB, 7900);
      const run = await syncIntercepted(diskKey, "target.resize", 1, "crash");
      assert.equal(run.state, "succeeded", run.error);
      assert.equal(run.fullCopyReason, undefined, "a diff");
      const [point] = await app().restorePoints(diskKey);
      assert.ok((await app().verify(point)).equal, "the old footer page reads as zeros, as in the source");
      recordOutcome({ area, scenario: "disk grown; prepare crashes after resizing the TargetBlob; diff does not list the old footer", runs: 2, faults: "1 simulated crash after target.resize", result: "redelivered prepare cleared past the base's end; RestorePoint verified" });
    } finally {
      await stack.setListOldFooterAsCleared(true);
    }
  });

  it("when the TargetBlob is changed behind the run's back, then the structure check fails the run naming the range and the next run copies in full", async () => {
    const { diskId, diskKey } = await backedUpDisk();
    change(diskId, 8000);
    const config = (await app().deps.records.getDisk(diskKey))!;
    const target = app().deps.targets(config.target);
    // A bug in our own writer, played by writing under the run's own lease just before the finalizer runs.
    const run = await syncIntercepted(diskKey, "queues.send", 2, async () => {
      const [active]: RunView[] = await app().deps.records.listRuns(diskKey, 1);
      await target.upload({ start: 1500 * MiB, end: 1500 * MiB + 4096 }, Buffer.alloc(4096, 0x5a), { leaseId: active.leaseId! });
    });
    assert.equal(run.state, "failed");
    assert.match(run.error ?? "", /StructureMismatch.*bytes 1572864000-1572868096 are allocated in the TargetBlob but not in the SourceSnapshot/);
    assert.equal((await app().restorePoints(diskKey)).length, 1, "no RestorePoint for the run");
    assert.ok(app().logs.some((l) => l.level === "error" && l.text.includes("TargetBlob structure differs")), "a log line says so");
    const { run: next } = await syncAndVerify(app(), diskKey);
    assert.equal(next.fullCopyReason, "target-not-at-base");
    recordOutcome({ area, scenario: "TargetBlob changed between the last copy and the finalizer", runs: 3, faults: "4 KiB written where the source has nothing", result: "run failed StructureMismatch naming the range; no RestorePoint; next run full copy, verified" });
  });

  it("when someone writes to the TargetBlob between runs where the source has data, then the next run copies in full (target-changed) and its RestorePoint is the disk", async () => {
    const { diskId, diskKey } = await backedUpDisk();
    const config = (await app().deps.records.getDisk(diskKey))!;
    const blob = targetBlobService(app().stack).getContainerClient(config.target.container).getPageBlobClient(config.target.blobName);
    // Pages the source holds (disk 1000-series seeds at 0 and 200 MiB) and the next diff does not touch: only the ETag tells.
    await blob.uploadPages(Buffer.alloc(4096, 0xab), 1 * MiB, 4096);
    change(diskId, 9000);
    const { run } = await syncAndVerify(app(), diskKey);
    assert.equal(run.fullCopyReason, "target-changed");
    // A failed diff run's own writes do not break the chain: the next run still diffs.
    change(diskId, 9100);
    const failed = await syncIntercepted(diskKey, "queues.send", 2, () => deleteActiveRunSnapshot(diskId));
    assert.equal(failed.state, "failed", JSON.stringify(failed));
    change(diskId, 9200);
    const { run: after } = await syncAndVerify(app(), diskKey);
    assert.equal(after.fullCopyReason, undefined, "the failed run's writes are the base's diff, proven under its lease: a diff");
    recordOutcome({ area, scenario: "TargetBlob written by someone else between runs", runs: 5, faults: "4 KiB written where the source has data; a diff run's SourceSnapshot deleted before its finalizer", result: "next run full copy (target-changed), verified; after the failed diff run the next run diffed, verified" });
  });

  it("when a prepare dies after shaping the TargetBlob and someone breaks its lease and writes before the redelivery, then the redelivered prepare copies in full (target-changed) and its RestorePoint is the disk", async () => {
    const { diskId, diskKey } = await backedUpDisk();
    const config = (await app().deps.records.getDisk(diskKey))!;
    const blob = targetBlobService(app().stack).getContainerClient(config.target.container).getPageBlobClient(config.target.blobName);
    change(diskId, 9300);
    const crashing = intercept(app().deps, "target.resize", 1, "crash").deps;
    // Inspect #3 is the redelivered prepare's first look: the dead worker's lease is broken then, and the blob
    // written where the source has data the diff does not touch.
    const run = await syncWith(intercept(crashing, "target.inspect", 3, async () => {
      await blob.getBlobLeaseClient().breakLease(0);
      await blob.uploadPages(Buffer.alloc(4096, 0xcd), 1 * MiB, 4096);
    }).deps, diskKey);
    assert.equal(run.state, "succeeded", run.error);
    assert.equal(run.fullCopyReason, "target-changed", "the ETag recorded under the first delivery's lease no longer stands: the lease was broken");
    const [point] = await app().restorePoints(diskKey);
    assert.ok((await app().verify(point)).equal, "the RestorePoint is the disk");
    recordOutcome({ area, scenario: "prepare dies after resizing the TargetBlob; its lease broken and the blob written before the redelivery", runs: 2, faults: "1 simulated crash after target.resize; lease broken; 4 KiB written where the source has data", result: "redelivered prepare copied in full (target-changed); RestorePoint verified" });
  });

  it("when verifyAfterBackup finds a RestorePoint differs from its source, then the RestorePoint is marked, the status says so, and the next run copies in full (target-unproven) and is the disk", async () => {
    const { diskId, diskKey } = await backedUpDisk({ verifyAfterBackup: true });
    const config = (await app().deps.records.getDisk(diskKey))!;
    const target = app().deps.targets(config.target);
    change(diskId, 9400);
    // A bug in our own writer the structure check cannot see: pages where the source has data, under the run's lease.
    const run = await syncIntercepted(diskKey, "queues.send", 2, async () => {
      const [active]: RunView[] = await app().deps.records.listRuns(diskKey, 1);
      await target.upload({ start: 1 * MiB, end: 1 * MiB + 4096 }, Buffer.alloc(4096, 0x6b), { leaseId: active.leaseId! });
    });
    assert.equal(run.state, "succeeded", run.error);
    const listed = await app().host.invokeHttp("GET", `/api/disks/${diskKey}/restore-points`);
    const bad = (listed.body as { restorePoints: { runId: string; differsFromSource?: string }[] }).restorePoints.find((p) => p.runId === run.runId);
    assert.match(bad?.differsFromSource ?? "", /bytes 0-4194304/, "the listing marks the RestorePoint and names the 4 MiB block holding the write");
    const status = await app().host.invokeHttp("GET", `/api/disks/${diskKey}`);
    assert.match(JSON.stringify(status.body), /differs from its source snapshot \(bytes 0-4194304\).*next run copies in full/);
    change(diskId, 9500);
    const { run: next } = await syncAndVerify(app(), diskKey);
    assert.equal(next.fullCopyReason, "target-unproven", "the blob the bad RestorePoint came from is not diffed into");
    change(diskId, 9600);
    const { run: after } = await syncAndVerify(app(), diskKey);
    assert.equal(after.fullCopyReason, undefined, "the full copy proved the chain again: a diff");
    // Its SourceSnapshot is gone now: verify says why there is nothing to compare with, not "set verifyAfterBackup".
    const answer = await app().host.invokeHttp("POST", `/api/disks/${diskKey}/restore-points/${run.restorePointId}/verify`);
    assert.equal(answer.status, 409);
    assert.match((answer.body as { error: { message: string } }).error.message, /no checksums were recorded.*found it differs from its source \(.*bytes 0-4194304\): it is not the disk/);
    recordOutcome({ area, scenario: "RestorePoint differs from its source where the structure check cannot see it (verifyAfterBackup)", runs: 4, faults: "4 KiB written under the run's lease where the source has data, before the finalizer", result: "RestorePoint marked differsFromSource naming the range; status lastError; next run full copy (target-unproven), verified" });
  });

  it("when the chain base is found unproven while a diff from it copies, then that diff's base is unproven too and the run after it copies in full", async () => {
    const { diskId, diskKey } = await backedUpDisk();
    change(diskId, 9700);
    // The verification of an earlier RestorePoint lands while this run diffs from the base it withdraws.
    const run = await syncIntercepted(diskKey, "queues.send", 2, () =>
      updateState(app().deps, diskKey, (state) => ({ ...state, base: { ...state.base!, targetEtag: unprovenTargetEtag } })),
    );
    assert.equal(run.state, "succeeded", run.error);
    assert.equal(run.fullCopyReason, undefined, "prepared as a diff before the base was withdrawn");
    change(diskId, 9800);
    const { run: next } = await syncAndVerify(app(), diskKey);
    assert.equal(next.fullCopyReason, "target-unproven", "a blob made from an unproven base is not proven either");
    recordOutcome({ area, scenario: "chain base withdrawn while a diff from it copies", runs: 3, faults: "base withdrawn before the finalizer", result: "the diff's base unproven too; next run full copy (target-unproven), verified" });
  });

  it("when a redelivered prepare finds its lease broken and dies right after taking it again, then the next delivery does not trust the first delivery's ETag", async () => {
    const { diskId, diskKey } = await backedUpDisk();
    const config = (await app().deps.records.getDisk(diskKey))!;
    const blob = targetBlobService(app().stack).getContainerClient(config.target.container).getPageBlobClient(config.target.blobName);
    change(diskId, 10_200);
    const crashing = intercept(app().deps, "target.resize", 1, "crash").deps;
    // Inspect #3 is the second delivery's first look: the lease is broken and the blob written; that delivery dies
    // right after it takes the lease again (acquire #2), before it shapes the blob.
    const breaking = intercept(crashing, "target.inspect", 3, async () => {
      await blob.getBlobLeaseClient().breakLease(0);
      await blob.uploadPages(Buffer.alloc(4096, 0xcd), 1 * MiB, 4096);
    }).deps;
    const run = await syncWith(intercept(breaking, "target.acquireLease", 2, "crash").deps, diskKey);
    assert.equal(run.state, "succeeded", run.error);
    assert.equal(run.fullCopyReason, "target-changed");
    const [point] = await app().restorePoints(diskKey);
    assert.ok((await app().verify(point)).equal, "the RestorePoint is the disk");
    recordOutcome({ area, scenario: "prepare redelivered: lease found broken, dies right after taking it again", runs: 2, faults: "crash after target.resize; lease broken and 4 KiB written; crash after the second acquire", result: "the first delivery's ETag was forgotten before the lease was taken again; next delivery full copy (target-changed); RestorePoint verified" });
  });

  it("when a redelivered prepare has proven its lease and the lease is then broken and the blob written, then its writes fail and the next delivery copies in full (target-changed)", async () => {
    const { diskId, diskKey } = await backedUpDisk();
    const config = (await app().deps.records.getDisk(diskKey))!;
    const blob = targetBlobService(app().stack).getContainerClient(config.target.container).getPageBlobClient(config.target.blobName);
    change(diskId, 9900);
    const crashing = intercept(app().deps, "target.resize", 1, "crash").deps;
    // The first Renew Lease is the redelivered prepare's proof; right after it the lease is broken and the blob written.
    const run = await syncWith(intercept(crashing, "target.etagUnderLease", 1, async () => {
      await blob.getBlobLeaseClient().breakLease(0);
      await blob.uploadPages(Buffer.alloc(4096, 0xcd), 1 * MiB, 4096);
    }).deps, diskKey);
    assert.equal(run.state, "succeeded", run.error);
    assert.equal(run.fullCopyReason, "target-changed");
    const [point] = await app().restorePoints(diskKey);
    assert.ok((await app().verify(point)).equal, "the RestorePoint is the disk");
    recordOutcome({ area, scenario: "prepare redelivered: its lease proven by Renew, then broken and the blob written", runs: 2, faults: "crash after target.resize; lease broken and 4 KiB written after the Renew", result: "the redelivery's writes failed (lease lost); the next delivery copied in full (target-changed); RestorePoint verified" });
  });

  it("when a finalizer is redelivered after it advanced the chain and a verification withdrew that base meanwhile, then the base stays unproven", async () => {
    const { diskId, diskKey } = await backedUpDisk();
    const [earlier] = await app().restorePoints(diskKey);
    change(diskId, 10_000);
    // putState #2 is the finalizer's advanceChain: a verification finding a mismatch lands after it, then the worker dies.
    const withdrawing = intercept(app().deps, "records.putState", 2, () =>
      updateState(app().deps, diskKey, (state) => ({ ...state, base: { ...state.base!, targetEtag: unprovenTargetEtag } })),
    ).deps;
    const run = await syncWith(intercept(withdrawing, "records.putState", 2, "crash").deps, diskKey);
    assert.equal(run.state, "succeeded", run.error);
    assert.notEqual(run.restorePointId, earlier.restorePointId);
    assert.equal((await app().deps.records.getState(diskKey)).value.base?.targetEtag, unprovenTargetEtag, "the redelivered finalizer kept the withdrawal");
    change(diskId, 10_100);
    const { run: next } = await syncAndVerify(app(), diskKey);
    assert.equal(next.fullCopyReason, "target-unproven");
    recordOutcome({ area, scenario: "finalizer redelivered after a verification withdrew the base it recorded", runs: 3, faults: "base withdrawn after advanceChain; crash after it", result: "base stayed unproven; next run full copy (target-unproven), verified" });
  });

  it("when retention wants a RestorePoint that a restore is reading, then retention keeps it until the restore is done", async () => {
    const { diskId, diskKey } = await backedUpDisk({ retention: { keepLast: 1 } });
    const [point] = await app().restorePoints(diskKey);
    const deps = app().deps;
    let retentionRun: RunView | undefined;
    const restoring: Deps = {
      ...deps,
      // This test takes the restore's steps itself, so that the backup it runs meanwhile does not take them.
      queues: { send: async (queue, body, delay) => (queue === "restores" ? undefined : deps.queues.send(queue, body, delay)) },
      compute: {
        ...deps.compute,
        // The import reads the blob snapshot while a backup of the same disk applies retention.
        beginImportDisk: async (request) => {
          change(diskId, 8100);
          retentionRun = await runOf(app(), diskKey, await app().sync(diskKey));
          return deps.compute.beginImportDisk(request);
        },
      },
    };
    const accepted = await acceptRestore(restoring, diskKey, point.restorePointId, {
      name: `restored-proof-${disks}`, resourceGroup: "rg-restore", location: app().stack.target.location, storageAccountId: app().stack.target.resourceId,
    }, "test");
    assert.ok(accepted);
    const step = { diskKey, restoreId: accepted.restoreId, v: 1, kind: "restore-step" } as const;
    await advanceRestore(restoring, step, quietLog);
    await advanceRestore(restoring, step, quietLog);
    const restored = { diskId: accepted.newDiskId };
    assert.equal((await deps.records.getRestore(diskKey, accepted.restoreId))?.value.state, "succeeded");
    assert.equal(retentionRun?.state, "succeeded", retentionRun?.error);
    assert.ok((await app().restorePoints(diskKey)).some((p) => p.restorePointId === point.restorePointId), "kept while the restore ran");
    // The restored disk holds the RestorePoint's data (its own VHD footer aside).
    const check = await app().compute.snapshots.createOrUpdate(
      "rg-restore", `check-proof-${disks}`,
      { location: app().stack.target.location, incremental: true, creationData: { createOption: "Copy", sourceResourceId: restored.diskId } },
      poll,
    );
    const sas = await deps.compute.grantRead(check.id!, 3600);
    const target = deps.targets(locationFromUrl(point.targetBlobUrl));
    const diskBytes = point.blobBytes - 512;
    const result = await compareBlobs(
      { sizeBytes: diskBytes, allocated: (w) => target.snapshotRanges(point.targetSnapshot, w), read: (r) => target.readSnapshot(point.targetSnapshot, r) },
      { sizeBytes: diskBytes, allocated: (w) => deps.source.allocated(sas, w), read: (r) => deps.source.read(sas, r) },
    );
    assert.ok(result.equal, `restored disk differs at ${JSON.stringify(result.mismatches)}`);
    await deps.compute.revokeAccess(check.id!);
    change(diskId, 8200);
    await syncAndVerify(app(), diskKey);
    assert.ok(!(await app().restorePoints(diskKey)).some((p) => p.restorePointId === point.restorePointId), "removed by the next run once the restore was done");
    recordOutcome({ area, scenario: "retention (keepLast 1) runs while a restore imports the RestorePoint", runs: 3, faults: "backup during Disk Import", result: "RestorePoint kept during the restore, removed by the run after it" });
  });

  it("when a superseded snapshot cannot be deleted (409), then the run still succeeds and a later run deletes it", async () => {
    const { diskId, diskKey, name } = await backedUpDisk();
    // A SourceSnapshot left by an earlier run of this disk, which someone is reading: with an active SAS it cannot
    // be deleted (409 OperationNotAllowed).
    const leftover = await app().compute.snapshots.createOrUpdate(
      resourceGroup, `${name}-leftover`,
      { location: app().stack.arm.location, incremental: true, creationData: { createOption: "Copy", sourceResourceId: diskId }, tags: { "diskdelta-disk": diskKey } },
      poll,
    );
    await app().compute.snapshots.beginGrantAccessAndWait(resourceGroup, leftover.name!, { access: "Read", durationInSeconds: 600 }, poll);
    change(diskId, 8300);
    const { run } = await syncAndVerify(app(), diskKey);
    assert.equal(run.state, "succeeded");
    assert.ok(app().logs.some((l) => l.level.startsWith("warn") && l.text.includes("deleting superseded SourceSnapshots failed")), "a warning says so");
    assert.ok(await app().deps.compute.getSnapshot(leftover.id!), "the leftover is still there");
    await app().compute.snapshots.beginRevokeAccessAndWait(resourceGroup, leftover.name!, poll);
    change(diskId, 8400);
    await syncAndVerify(app(), diskKey);
    assert.equal(await app().deps.compute.getSnapshot(leftover.id!), undefined, "deleted by a later run");
    recordOutcome({ area, scenario: "deleting a superseded snapshot answers 409 (someone holds a SAS on it)", runs: 3, faults: "409 OperationNotAllowed", result: "run succeeded with a warning; a later run deleted the snapshot" });
  });

  it("when a restore names a disk that exists, then it is refused with 409 and the existing disk is untouched", async () => {
    const { diskKey } = await backedUpDisk();
    const [point] = await app().restorePoints(diskKey);
    const existingId = await app().createDisk(`disk-proof-taken-${disks}`, 1 * GiB);
    const before = await app().compute.disks.get(resourceGroup, `disk-proof-taken-${disks}`);
    const answer = await app().host.invokeHttp("POST", `/api/disks/${diskKey}/restore-points/${point.restorePointId}/restore`, {
      name: `disk-proof-taken-${disks}`, resourceGroup, location: app().stack.target.location, storageAccountId: app().stack.target.resourceId,
    });
    assert.equal(answer.status, 409);
    assert.match(JSON.stringify(answer.body), new RegExp(`DiskExists.*${existingId.split("/").pop()}`));
    const after = await app().compute.disks.get(resourceGroup, `disk-proof-taken-${disks}`);
    assert.equal(after.uniqueId, before.uniqueId);
    assert.equal(after.creationData?.createOption, "Empty");
    recordOutcome({ area, scenario: "restore onto an existing disk name", runs: 1, faults: "name taken", result: "409 DiskExists naming the disk; existing disk unchanged" });
  });
});
