/**
 * A premium page blob account as the target: it holds page blobs only, so every blob diskdelta keeps there — the
 * TargetBlob, its descriptions, checksums and restore holds — must be a page blob. Backups, the catalog read from
 * the target account alone, and a restore must work as on a standard account, and each RestorePoint must equal its
 * SourceSnapshot byte for byte. A premium page blob's targets are its performance tier's, which the blob reports:
 * the copy is paced to them.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type PageBlobClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { createTargetCatalog } from "../../src/adapters/target-catalog";
import { locationFromUrl } from "../../src/adapters/target-blob";
import { ConcurrencyError, codeOf, statusOf } from "../../src/domain/errors";
import { manifestBlobName } from "../../src/domain/manifest";
import { GiB, MiB, useTestApp } from "../support/app";
import { drainAndVerify, runOf, syncAndVerify } from "../support/backup";
import { assertRestoredContent, restoreThroughApi } from "../support/restored";
import { quickRetries, targetBlobService } from "../support/stack";

describe("a premium page blob target account", () => {
  // Azure allows one snapshot of a premium page blob every ten minutes: here 2 s, on the stack and in the app alike.
  const app = useTestApp({ stack: { targetAccountSku: "Premium_LRS", premiumSnapshotIntervalSeconds: 2 }, settings: { DISKDELTA_PREMIUM_SNAPSHOT_INTERVAL_SECONDS: "2" } });
  /** A 1 GiB disk with 2 MiB written, protected into container `name` of the premium account and backed up once. */
  const backedUpOnce = async (name: string, seed: number) => {
    const { stack } = app();
    const diskId = await app().createDisk(`disk-${name}`, 1 * GiB);
    stack.disks.writeSeeded(diskId, 0, 2 * MiB, seed);
    const target = { blobEndpoint: stack.target.blobEndpoint, container: name, storageAccountId: stack.target.resourceId };
    const diskKey = await app().protect(diskId, { target });
    return { diskId, diskKey, first: await syncAndVerify(app(), diskKey) };
  };
  const errorOf = (call: Promise<unknown>) => call.then(() => undefined, (thrown: unknown) => [statusOf(thrown), codeOf(thrown)]);

  it("when a block or append blob is written to it, then it answers 400 BlobTypeNotSupported, and says it is Premium_LRS", async () => {
    const container = targetBlobService(app().stack).getContainerClient("premium-probe");
    await container.createIfNotExists();
    const refusals = [() => container.getBlockBlobClient("notes.json").upload("{}", 2), () => container.getAppendBlobClient("log.txt").create()];
    for (const refusal of refusals) {
      const error = await refusal().then(() => undefined, (thrown: unknown) => thrown);
      assert.equal(statusOf(error), 400);
      assert.equal(codeOf(error), "BlobTypeNotSupported");
    }
    const page = container.getPageBlobClient("disk.vhd");
    await page.create(1024);
    assert.equal((await page.getProperties()).blobType, "PageBlob");
    assert.equal((await container.getAccountInfo()).skuName, "Premium_LRS");
  });

  it("when a page blob's tier is asked, set, refused and forgotten, then it answers as the service documents", async () => {
    const container = targetBlobService(app().stack).getContainerClient("premium-tiers");
    await container.createIfNotExists();
    const tierOf = async (blob: PageBlobClient) => {
      const { accessTier, accessTierInferred } = await blob.getProperties();
      return { accessTier, inferred: accessTierInferred === true };
    };

    const small = container.getPageBlobClient("small.vhd");
    await small.create(64 * GiB + 512);
    assert.deepEqual(await tierOf(small), { accessTier: "P10", inferred: true }, "the smallest tier that holds a 64 GiB disk and its footer");
    await small.setAccessTier("P30");
    assert.deepEqual(await tierOf(small), { accessTier: "P30", inferred: false });
    assert.deepEqual(await errorOf(small.setAccessTier("P6")), [409, "BlobTierInadequateForContentLength"]);
    assert.deepEqual(await errorOf(small.setAccessTier("Hot")), [400, "InvalidBlobTier"]);
    assert.deepEqual(await tierOf(small), { accessTier: "P30", inferred: false }, "a refused tier changes nothing");
    await small.delete();
    await small.create(1024);
    assert.deepEqual(await tierOf(small), { accessTier: "P4", inferred: true }, "a deleted blob's tier is forgotten");

    const created = container.getPageBlobClient("created.vhd");
    await created.create(1024, { tier: "P20" });
    assert.deepEqual(await tierOf(created), { accessTier: "P20", inferred: false }, "Put Blob sets the tier it names");
    assert.deepEqual(await errorOf(container.getPageBlobClient("too-big.vhd").create(256 * GiB, { tier: "P10" })), [409, "BlobTierInadequateForContentLength"]);
  });

  it("when the TargetBlob's tier is below a standard page blob's targets, then the copy is paced to the tier and never answered 503", async () => {
    const { stack } = app();
    const diskId = await app().createDisk("disk-premium-p4", 1 * GiB);
    stack.disks.writeSeeded(diskId, 0, 48 * MiB, 74);
    stack.disks.writeSeeded(diskId, 512 * MiB, 16 * MiB, 75);
    const target = { blobEndpoint: stack.target.blobEndpoint, container: "premium-paced", storageAccountId: stack.target.resourceId };
    const diskKey = await app().protect(diskId, { target });
    // The TargetBlob (1 GiB + 512 B) is P4: 25 MB/s, below the 60 MiB/s the settings give a standard blob. The limits
    // model holds it to its own tier's targets.
    stack.blobLimits.set({});
    const before = { ...stack.blobLimits.counts };
    try {
      const { run, point } = await syncAndVerify(app(), diskKey);
      assert.equal(run.bytesCopied, 64 * MiB + 512, "the written ranges and the footer page");
      assert.equal((await targetBlobService(stack).getContainerClient("premium-paced").getPageBlobClient(locationFromUrl(point.targetBlobUrl).blobName).getProperties()).accessTier, "P4");
      assert.equal(stack.blobLimits.counts.refused - before.refused, 0, "paced to the blob's own tier, no write was refused");
      assert.ok(stack.blobLimits.counts.admitted - before.admitted >= 16, "the writes passed the modelled limits");
    } finally {
      stack.blobLimits.set(undefined);
    }
  });

  it("when the limits model is on, then each page blob is held to its own tier's targets", async () => {
    const { stack } = app();
    const container = targetBlobService(stack, { retryOptions: { maxTries: 1 } }).getContainerClient("premium-tier-limits");
    await container.createIfNotExists();
    const page = Buffer.alloc(4 * MiB, 7);
    const eightWrites = async (blob: PageBlobClient) => {
      const outcomes: (string | number | undefined)[] = [];
      for (let i = 0; i < 8; i++) outcomes.push(await blob.uploadPages(page, i * 4 * MiB, 4 * MiB).then(() => "ok", (thrown: unknown) => statusOf(thrown)));
      return outcomes;
    };
    const p4 = container.getPageBlobClient("p4.vhd");
    await p4.create(32 * MiB);
    const p30 = container.getPageBlobClient("p30.vhd");
    await p30.create(32 * MiB, { tier: "P30" });
    // A bucket holds 0.2 s of its rate: P4 (25 MB/s) 5 MB, P30 (200 MB/s) 40 MB; a standard blob's 60 MiB/s, 12.6 MB.
    stack.blobLimits.set({ burstSeconds: 0.2 });
    try {
      const onP4 = await eightWrites(p4);
      assert.equal(onP4[0], "ok", JSON.stringify(onP4));
      assert.ok(onP4.includes(503), `P4 holds one 4 MiB write of burst: ${JSON.stringify(onP4)}`);
      assert.deepEqual(await eightWrites(p30), Array(8).fill("ok"), "P30 takes 32 MiB at once, which a standard blob's targets would refuse");
      // Grown to 600 GiB, the P4 blob is P30 by its length: the length known before is not used again.
      await p4.resize(600 * GiB);
      stack.blobLimits.set({ burstSeconds: 0.2 });
      assert.deepEqual(await eightWrites(p4), Array(8).fill("ok"), "held to the tier its new length infers");
    } finally {
      stack.blobLimits.set(undefined);
    }
  });

  it("when a disk is backed up into it twice and restored, then every blob is a page blob and the RestorePoints equal their snapshots", async () => {
    const { stack, deps } = app();
    const diskId = await app().createDisk("disk-premium-target", 1 * GiB);
    stack.disks.writeSeeded(diskId, 0, 4 * MiB, 71);
    stack.disks.writeSeeded(diskId, 600 * MiB, 1 * MiB + 512, 72);
    const target = { blobEndpoint: stack.target.blobEndpoint, container: "premium", storageAccountId: stack.target.resourceId };
    const diskKey = await app().protect(diskId, { target });
    const first = await syncAndVerify(app(), diskKey);
    stack.disks.writeSeeded(diskId, 2 * MiB, 3 * MiB, 73);
    stack.disks.trim(diskId, 600 * MiB, 1 * MiB);
    const second = await syncAndVerify(app(), diskKey);
    assert.equal(second.run.bytesCopied, 3 * MiB, "the second run copies only what changed");

    const container = targetBlobService(stack).getContainerClient("premium");
    const types = new Map<string, string | undefined>();
    for await (const item of container.listBlobsFlat()) types.set(item.name, item.properties.blobType);
    const { blobName } = locationFromUrl(first.point.targetBlobUrl);
    for (const point of [first.point, second.point]) assert.equal(types.get(manifestBlobName(blobName, point.restorePointId)), "PageBlob");
    assert.deepEqual([...new Set(types.values())], ["PageBlob"], JSON.stringify([...types]));

    // The description the target account keeps is read back as the product wrote it, padding and all.
    const manifest = await deps.targets(locationFromUrl(second.point.targetBlobUrl)).readManifest(second.point.restorePointId);
    assert.equal(manifest?.target.snapshot, second.point.targetSnapshot);
    const catalog = createTargetCatalog(new StorageSharedKeyCredential(stack.target.accountName, stack.target.accountKey), quickRetries);
    const listing = await catalog.list({ blobEndpoint: stack.target.blobEndpoint, container: "premium" });
    assert.deepEqual(listing.problems, []);
    assert.deepEqual(listing.restorePoints.map((p) => [p.restorePointId, p.dataPresent]).sort(), [first.point, second.point].map((p) => [p.restorePointId, true]).sort());

    const body = { name: "disk-premium-restored", resourceGroup: "rg-restore", location: stack.target.location };
    const restored = await restoreThroughApi(app(), diskKey, second.point.restorePointId, body);
    assert.equal(restored.restore?.state, "succeeded", JSON.stringify(restored.body));
    await assertRestoredContent(app(), restored.restore.newDiskId, second.point, "check-premium-restored");
    assert.deepEqual(await deps.targets(locationFromUrl(first.point.targetBlobUrl)).listRestoreHolds(), [], "the restore's hold (a page blob here) is released");
  });
  it("when a page blob is snapshotted within the interval of its newest snapshot, or has 100 snapshots, then Snapshot Blob answers 409 as the service documents", async () => {
    const { stack } = app();
    const container = targetBlobService(stack).getContainerClient("premium-snapshots");
    await container.createIfNotExists();
    const blob = container.getPageBlobClient("disk.vhd");
    await blob.create(1024);
    try {
      await stack.setPremiumSnapshotIntervalSeconds(3600);
      const taken = [(await blob.createSnapshot()).snapshot!];
      assert.deepEqual(await errorOf(blob.createSnapshot()), [409, "SnapshotOperationRateExceeded"]);
      assert.deepEqual(await errorOf(blob.withSnapshot(taken[0]!).createSnapshot()), [409, "SnapshotOperationRateExceeded"], "asked through a snapshot's URL too");
      await stack.setPremiumSnapshotIntervalSeconds(0);
      for (let i = 1; i < 97; i++) taken.push((await blob.createSnapshot()).snapshot!);
      // Eight at the same instant for the last three places: three are taken, five refused.
      const outcomes = await Promise.all(Array.from({ length: 8 }, () => blob.createSnapshot().then((made) => made.snapshot!, (thrown: unknown) => codeOf(thrown))));
      assert.deepEqual(outcomes.filter((o) => o === "SnapshotCountExceeded").length, 5, JSON.stringify(outcomes));
      let count = 0;
      for await (const item of container.listBlobsFlat({ prefix: "disk.vhd", includeSnapshots: true })) if (item.snapshot) count++;
      assert.equal(count, 100);
      assert.deepEqual(await errorOf(blob.createSnapshot()), [409, "SnapshotCountExceeded"]);
      await blob.withSnapshot(taken[0]!).delete();
      assert.ok((await blob.createSnapshot()).snapshot, "a deleted snapshot makes room");
      assert.deepEqual(await errorOf(blob.createSnapshot()), [409, "SnapshotCountExceeded"]);
      const other = container.getPageBlobClient("other.vhd");
      await other.create(1024);
      assert.ok((await other.createSnapshot()).snapshot, "the count is per blob");
    } finally {
      await stack.setPremiumSnapshotIntervalSeconds(2);
    }
  });

  it("when Azure refuses the TargetBlob's snapshot for the rate, then the run waits in finalizing and records its RestorePoint after, equal to its snapshot", async () => {
    const { stack } = app();
    const { diskId, diskKey, first } = await backedUpOnce("premium-interval", 81);
    stack.disks.writeSeeded(diskId, 1 * MiB, 1 * MiB, 82);
    // Azure's interval is longer than the app's setting says (2 s): the refusal is Azure's answer, and the time to
    // ask again is proven from the blob's own snapshots.
    const intervalSeconds = 15;
    await stack.setPremiumSnapshotIntervalSeconds(intervalSeconds);
    const logsBefore = app().logs.length;
    try {
      const second = await syncAndVerify(app(), diskKey);
      assert.equal(second.run.waitingSince, undefined, "a run that succeeded waits for nothing");
      assert.equal(second.run.targetSnapshotDueAt, undefined);
      const waits = app().logs.slice(logsBefore).filter((l) => l.text.includes("waiting for the TargetBlob's snapshot interval"));
      assert.ok(waits.length >= 1, "the snapshot was refused at least once and waited for");
      const gap = Date.parse(second.point.targetSnapshot) - Date.parse(first.point.targetSnapshot);
      assert.ok(gap >= intervalSeconds * 1000, `the second snapshot came ${gap} ms after the first`);
      const retried = app().logs.slice(logsBefore).filter((l) => l.level === "error" || /retry|redeliver/i.test(l.text));
      assert.deepEqual(retried, [], "waiting used up no delivery");
    } finally {
      await stack.setPremiumSnapshotIntervalSeconds(2);
    }
  });

  it("when the snapshot wait's own record write is stored but answered as a conflict, then the run still asks again and succeeds", async () => {
    const { stack, deps } = app();
    const { diskId, diskKey } = await backedUpOnce("premium-lost-answer", 85);
    stack.disks.writeSeeded(diskId, 1 * MiB, 1 * MiB, 86);
    await stack.setPremiumSnapshotIntervalSeconds(10);
    let lost = false;
    // The first write of a wait is stored, and then reported as the conflict its retry would meet.
    const records = { ...deps.records, putRun: async (...args: Parameters<typeof deps.records.putRun>) => {
      const etag = await deps.records.putRun(...args);
      const [run] = args;
      if (lost || run.state !== "finalizing" || run.targetSnapshotDueAt === undefined) return etag;
      lost = true;
      throw new ConcurrencyError(`BackupRun ${run.runId}`);
    } };
    try {
      const runId = await app().withDeps({ ...deps, records }).sync(diskKey);
      assert.ok(lost, "the snapshot was refused and its wait written");
      await drainAndVerify(app(), diskKey, runId);
    } finally {
      await stack.setPremiumSnapshotIntervalSeconds(2);
    }
  });

  it("when the TargetBlob keeps refusing its snapshot past the wait limit, then the run fails saying so, the RestorePoint before stays, and the next run diffs", async () => {
    const { stack, deps } = app();
    const { diskId, diskKey, first } = await backedUpOnce("premium-wait-limit", 87);
    stack.disks.writeSeeded(diskId, 1 * MiB, 1 * MiB, 88);
    await stack.setPremiumSnapshotIntervalSeconds(3600);
    // Once the first wait is written, the worker's clock is 31 minutes on: the next refusal is past the 30-minute limit.
    let ahead = 0;
    const records = { ...deps.records, putRun: async (...args: Parameters<typeof deps.records.putRun>) => {
      const etag = await deps.records.putRun(...args);
      if (args[0].state === "finalizing" && args[0].targetSnapshotDueAt !== undefined) ahead = 31 * 60_000;
      return etag;
    } };
    try {
      const runId = await app().withDeps({ ...deps, records, now: () => new Date(Date.now() + ahead) }).sync(diskKey);
      assert.ok(ahead > 0, "the snapshot was refused and waited for");
      const failed = await runOf(app(), diskKey, runId);
      assert.equal(failed.state, "failed");
      assert.match(failed.error ?? "", /SnapshotOperationRateExceeded.*has refused a snapshot for 31 minutes/);
      assert.deepEqual((await deps.records.listRestorePoints(diskKey)).map((p) => p.restorePointId), [first.point.restorePointId]);
      await stack.setPremiumSnapshotIntervalSeconds(0);
      const after = await syncAndVerify(app(), diskKey);
      assert.equal(after.run.bytesCopied, 1 * MiB, "the diff from the chain base");
    } finally {
      await stack.setPremiumSnapshotIntervalSeconds(2);
    }
  });

  it("when the TargetBlob has as many snapshots as Azure allows, then the run fails naming them, nothing backed up is lost, and a run after room is made succeeds", async () => {
    const { stack, deps } = app();
    const { diskId, diskKey, first } = await backedUpOnce("premium-count", 83);
    const blob = targetBlobService(stack).getContainerClient("premium-count").getPageBlobClient(locationFromUrl(first.point.targetBlobUrl).blobName);
    const others: string[] = [];
    await stack.setPremiumSnapshotIntervalSeconds(0);
    try {
      // Someone else's snapshots fill the blob up to Azure's 100 with the RestorePoint's own.
      for (let i = 1; i < 100; i++) others.push((await blob.createSnapshot()).snapshot!);
      stack.disks.writeSeeded(diskId, 512 * MiB, 1 * MiB, 84);
      const failed = await runOf(app(), diskKey, await app().sync(diskKey));
      assert.equal(failed.state, "failed");
      assert.match(failed.error ?? "", /SnapshotCountExceeded.*has 100 snapshots, as many as Azure allows a premium page blob \(100\), and 1 of them are RestorePoints/);
      const points = await deps.records.listRestorePoints(diskKey);
      assert.deepEqual(points.map((p) => p.restorePointId), [first.point.restorePointId], "the RestorePoint before stands");
      assert.ok(await blob.withSnapshot(first.point.targetSnapshot).exists(), "and so does its blob snapshot");

      for (const snapshot of others) await blob.withSnapshot(snapshot).delete();
      const after = await syncAndVerify(app(), diskKey);
      assert.equal(after.run.bytesCopied, 1 * MiB, "the diff from the chain base, the failed run's writes rewritten");
    } finally {
      await stack.setPremiumSnapshotIntervalSeconds(2);
    }
  });

  it("when a protection's retention or schedule would outrun the blob's snapshot limits, then protect and update answer 400 naming the field, and what fits is taken", async () => {
    const { stack, host } = app();
    const target = { blobEndpoint: stack.target.blobEndpoint, container: "premium-policies" };
    const protect = (name: string, body: Record<string, unknown>) => host.invokeHttp("POST", "/api/disks", { diskId: `/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Compute/disks/${name}`, target, ...body });
    const refusals: { name: string; body: Record<string, unknown>; says: RegExp }[] = [
      { name: "keep-all", body: { retention: { keepAll: true } }, says: /^retention: .*premium \(Premium_LRS\).*at most 100 snapshots.*keepAll keeps every RestorePoint: set retention.keepLast to 99 or fewer/ },
      { name: "keep-100", body: { retention: { keepLast: 100 } }, says: /^retention: .*keeps up to 100 or more RestorePoints on schedule "every 4h"/ },
      { name: "age-30d", body: { retention: { maxAgeDays: 30 } }, says: /^retention: .*keeps up to 100 or more RestorePoints/ },
      { name: "every-second", body: { schedule: "*/1 * * * * *" }, says: /^schedule: .*one snapshot of a premium page blob every 2 s.*starts backups 1 s apart/ },
    ];
    for (const refusal of refusals) {
      const answer = await protect(refusal.name, refusal.body);
      assert.equal(answer.status, 400, `${refusal.name}: ${JSON.stringify(answer.body)}`);
      assert.match((answer.body as { error: { message: string } }).error.message, refusal.says, `${refusal.name}: ${JSON.stringify(answer.body)}`);
      assert.doesNotMatch(JSON.stringify(answer.body), /sig=|AccountKey/i);
    }
    const fits = await protect("keep-99", { retention: { keepLast: 99 } });
    assert.equal(fits.status, 201, JSON.stringify(fits.body));
    const aged = await protect("age-7d", { retention: { maxAgeDays: 7 }, schedule: "every 4h" });
    assert.equal(aged.status, 201, `43 RestorePoints fit: ${JSON.stringify(aged.body)}`);

    const diskKey = (fits.body as { diskKey: string }).diskKey;
    const widened = await host.invokeHttp("PATCH", `/api/disks/${diskKey}`, { retention: { keepAll: true } });
    assert.equal(widened.status, 400, JSON.stringify(widened.body));
    assert.match((widened.body as { error: { message: string } }).error.message, /^retention: /);
    const row = await host.invokeHttp("GET", `/api/disks/${diskKey}`);
    assert.deepEqual((row.body as { config: { retention: unknown } }).config.retention, { keepLast: 99 }, "a refused update changes nothing");
    const narrowed = await host.invokeHttp("PATCH", `/api/disks/${diskKey}`, { retention: { keepLast: 30 } });
    assert.equal(narrowed.status, 200, JSON.stringify(narrowed.body));
  });
});
