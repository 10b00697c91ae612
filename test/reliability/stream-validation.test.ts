/**
 * Stream mode proves the bytes it reads: each range is read with the MD5 the service computes for it, and bytes
 * corrupted between the snapshot's data endpoint and the worker are read again, never written. Corruption is
 * injected by the local stack (`corrupt` fault: the answer's first body byte inverted, headers as sent).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { locationFromUrl } from "../../src/adapters/target-blob";
import type { FaultRule } from "../../emulator/faults";
import { GiB, MiB, useTestApp } from "../support/app";
import { runOf, syncAndVerify } from "../support/backup";
import { recordOutcome } from "../support/reliability-report";
import { targetBlobService } from "../support/stack";

const area = "Stream validation";

/** Every read of snapshot bytes (Get Blob on a data URL), not its page range listings. */
function corruptReads(extra: Partial<FaultRule> = {}): FaultRule {
  return { scope: "data", kind: "corrupt", rate: 1, method: "GET", path: "^/md-(?!.*comp=pagelist)", ...extra } as FaultRule;
}

describe("stream validation", () => {
  const app = useTestApp();

  /** A sync while the snapshot's reads arrive corrupted; how many answers were corrupted. */
  async function syncWithCorruptReads(diskKey: string, limit?: Parameters<typeof corruptReads>[0]): Promise<{ runId: string; corrupted: number }> {
    const { stack } = app();
    await stack.faults.set([corruptReads(limit)]);
    try {
      return { runId: await app().sync(diskKey), corrupted: (await stack.faults.stats()).injected.corrupt };
    } finally {
      await stack.faults.clear();
    }
  }

  it("when reads of the SourceSnapshot arrive corrupted, then they are read again and the RestorePoint equals the disk", async () => {
    const { stack, deps } = app();
    const diskId = await app().createDisk("disk-stream-corrupt", 2 * GiB);
    stack.disks.writeSeeded(diskId, 0, 8 * MiB, 301);
    stack.disks.writeSeeded(diskId, 1 * GiB, 4 * MiB, 302);
    const diskKey = await app().protect(diskId, { copyMode: "stream" });
    const { runId, corrupted } = await syncWithCorruptReads(diskKey, { maxCount: 2 });
    assert.equal(corrupted, 2, "two reads arrived corrupted");
    const run = await runOf(app(), diskKey, runId);
    assert.equal(run.state, "succeeded", run.error);
    const point = (await app().restorePoints(diskKey)).find((p) => p.runId === runId);
    assert.ok(point, "a RestorePoint was recorded");
    const check = await app().verify(point);
    assert.ok(check.equal, `RestorePoint differs from its snapshot at ${JSON.stringify(check.mismatches)}`);
    const target = deps.targets(locationFromUrl(point.targetBlobUrl));
    for (const offset of [0, 4 * MiB, 1 * GiB]) {
      const landed = await target.readSnapshot(point.targetSnapshot, { start: offset, end: offset + 4 * MiB });
      assert.ok(landed.equals(stack.disks.read(diskId, offset, 4 * MiB)), `the RestorePoint equals the disk at ${offset}`);
    }
    const retried = app().logs.filter((l) => l.level === "error" && l.text.includes("attempt")).length;
    assert.equal(retried, 0, "the corrupted reads were read again within the step, no delivery was used up");
    recordOutcome({ area, scenario: "stream mode: two snapshot reads arrive with a corrupted byte", runs: 1, faults: `${corrupted} corrupted Get Blob answers (headers intact)`, result: "checksum mismatch caught, ranges read again; RestorePoint verified equal to its snapshot and to the disk" });
  });

  it("when every read of the SourceSnapshot arrives corrupted, then the run fails naming the range and nothing corrupt is written", async () => {
    const { stack } = app();
    const diskId = await app().createDisk("disk-stream-always-corrupt", 2 * GiB);
    stack.disks.writeSeeded(diskId, 0, 4 * MiB, 311);
    const diskKey = await app().protect(diskId, { copyMode: "stream" });
    const { point: before } = await syncAndVerify(app(), diskKey);
    stack.disks.writeSeeded(diskId, 1 * GiB, 4 * MiB, 312);
    const { runId, corrupted } = await syncWithCorruptReads(diskKey);
    const failed = await runOf(app(), diskKey, runId);
    assert.equal(failed.state, "failed");
    assert.match(failed.error ?? "", /gave up after 5 attempts: \[RangeChecksumMismatch\] bytes 1073741824-1077936127 of the SourceSnapshot did not match/);
    const status = (await app().host.invokeHttp("GET", `/api/disks/${diskKey}`)).body as { lastError: string };
    assert.match(status.lastError, /RangeChecksumMismatch\] bytes 1073741824-1077936127/);

    const { container, blobName } = locationFromUrl(before.targetBlobUrl);
    const live = targetBlobService(stack).getContainerClient(container).getPageBlobClient(blobName);
    const written = await live.downloadToBuffer(1 * GiB, 4 * MiB);
    assert.ok(written.every((b) => b === 0), "the TargetBlob holds nothing of the corrupted range: none of its bytes were written");
    assert.equal((await app().restorePoints(diskKey)).length, 1, "no RestorePoint for the failed run");

    const { run } = await syncAndVerify(app(), diskKey);
    assert.equal(run.fullCopyReason, undefined, "the next run diffs from the intact base");
    recordOutcome({ area, scenario: "stream mode: every snapshot read arrives with a corrupted byte", runs: 2, faults: `${corrupted} corrupted Get Blob answers`, result: "5 deliveries × 3 reads, then run failed with '[RangeChecksumMismatch] bytes 1073741824-1077936127 …' in status; TargetBlob range untouched; next run diffed and verified" });
  });
});
