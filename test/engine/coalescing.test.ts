/**
 * Cost-aware coalescing end to end: with DISKDELTA_TRANSACTION_COST_BYTES set, a request-bound diff goes as fewer,
 * larger Put Page From URL requests that carry unchanged allocated gaps along, and the RestorePoint still equals its
 * snapshot byte for byte and passes the structure check (no page allocated that the source does not allocate).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { GiB, MiB, useTestApp } from "../support/app";
import { syncAndVerify } from "../support/backup";

const KiB = 1024;

describe("coalescing through the engine", () => {
  // A write transaction priced at 128 KiB of transfer: the time break-even (60 MiB/s ÷ 500/s ≈ 122.5 KiB) decides.
  const app = useTestApp({ settings: { DISKDELTA_TRANSACTION_COST_BYTES: String(128 * KiB) } });

  it("when small changes lie between allocated, unchanged pages, then they are merged into few writes and the RestorePoint equals its snapshot", async () => {
    const { stack } = app();
    const diskId = await app().createDisk("disk-coalescing", 1 * GiB);
    stack.disks.writeSeeded(diskId, 0, 8 * MiB, 1);
    const diskKey = await app().protect(diskId);
    await syncAndVerify(app(), diskKey);

    // 128 changes of 4 KiB, one every 64 KiB, over the allocated 8 MiB: 60 KiB gaps of unchanged data.
    for (let k = 0; k < 128; k += 1) stack.disks.writeSeeded(diskId, k * 64 * KiB, 4 * KiB, 100 + k);
    // A trim between changes 16 and 17: a ClearedRange that no write may cross.
    stack.disks.trim(diskId, 16 * 64 * KiB + 8 * KiB, 4 * KiB);
    // A change past the allocated 8 MiB: its 68 KiB gap is partly unallocated, so it is not carried.
    stack.disks.writeSeeded(diskId, 8 * MiB + 8 * KiB, 4 * KiB, 300);
    const { run } = await syncAndVerify(app(), diskKey);

    assert.equal(run.bytesChanged, 129 * 4 * KiB, "the changes, exactly");
    assert.equal(run.bytesCleared, 4 * KiB);
    // Writes: changes 0-16 (up to the trim); 17-80 (the next 4 MiB); 81-127; the change past 8 MiB; and the clear.
    assert.equal(run.requests, 5, "129 copies and a clear without coalescing");
    const carried = 16 * 60 * KiB + 63 * 60 * KiB + 46 * 60 * KiB;
    assert.equal(run.bytesCopied, run.bytesChanged + carried, "copies carry the gaps between merged changes, nothing else");
  });
});
