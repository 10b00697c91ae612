/**
 * Managed copy (`createOption: CopyStart`) through the local stack, as the real SDK calls it: a target-region
 * incremental snapshot whose completionPercent rises to 100 while the copy moves the bytes changed since the family's
 * previous copy there, the service's limits, copyCompletionError, and a disk created from the target snapshot. Content
 * is compared through read SAS URLs (page ranges and the SHA-256 of every written range, against the source's).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";
import type { Snapshot } from "@azure/arm-compute";
import { AnonymousCredential, PageBlobClient } from "@azure/storage-blob";
import type { EmulatorHttpError } from "../../emulator/disks/api";
import { DiskControlClient } from "../../emulator/disks/control-client";
import { createComputeGateway } from "../../src/adapters/compute";
import { CopyLimitError } from "../../src/domain/errors";
import { parseDiskId } from "../../src/domain/model";
import { createMemoryMetrics } from "../../src/host/metrics";
import { armFailure, createDiskWith, fastPolling, resourceGroup } from "../support/disk-emulator-server";
import { computeClient, useTestStack } from "../support/stack";

const MiB = 2 ** 20;
const targetGroup = "rg-restore";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("managed copy (CopyStart) through the local stack", () => {
  const stack = useTestStack({ maxSnapshotCopiesPerRegion: 2 });
  const compute = () => computeClient(stack());
  const source = () => stack().arm.location;
  const target = () => stack().target.location;

  async function diskWithData(name: string, writes: { offset: number; length: number; seed: number }[]): Promise<string> {
    const disk = await createDiskWith(compute(), source(), name, { osType: "Linux", hyperVGeneration: "V2" });
    for (const { offset, length, seed } of writes) stack().disks.writeSeeded(disk.id!, offset, length, seed);
    return disk.id!;
  }

  function snapshotOf(name: string, diskId: string): Promise<Snapshot> {
    return compute().snapshots.beginCreateOrUpdateAndWait(
      resourceGroup, name, { location: source(), incremental: true, creationData: { createOption: "Copy", sourceResourceId: diskId } }, fastPolling,
    );
  }

  function copyStart(name: string, sourceId: string, location = target()): Promise<Snapshot> {
    return compute().snapshots.beginCreateOrUpdateAndWait(
      targetGroup, name, { location, incremental: true, creationData: { createOption: "CopyStart", sourceResourceId: sourceId } }, fastPolling,
    );
  }

  /** Reads the target snapshot until its copy completed or failed, collecting every completionPercent seen. */
  async function followCopy(name: string): Promise<{ snapshot: Snapshot; percents: number[] }> {
    const percents: number[] = [];
    for (;;) {
      const snapshot = await compute().snapshots.get(targetGroup, name);
      percents.push(snapshot.completionPercent ?? -1);
      if (snapshot.completionPercent === 100 || snapshot.copyCompletionError) return { snapshot, percents };
      await sleep(20);
    }
  }

  async function grant(group: string, name: string): Promise<string> {
    const access = await compute().snapshots.grantAccess(group, name, { access: "Read", durationInSeconds: 600 }, fastPolling);
    return access.accessSAS!;
  }

  /** What a read SAS serves below `sizeBytes`: its written page ranges and the SHA-256 of their bytes, offsets included. */
  async function digest(sas: string, sizeBytes: number): Promise<{ ranges: string[]; sha256: string }> {
    const blob = new PageBlobClient(sas, new AnonymousCredential());
    const listed = await blob.getPageRanges(0, sizeBytes);
    const hash = createHash("sha256");
    const ranges: string[] = [];
    // The SDK's count is end - start of the inclusive range, one byte short (docs AZURE-FACTS).
    for (const { offset, count } of listed.pageRange ?? []) {
      assert.ok(count !== undefined, "a listed page range has a count");
      const end = Math.min(offset + count + 1, sizeBytes);
      if (offset >= end) continue;
      ranges.push(`${offset}-${end}`);
      hash.update(`${offset}:`).update(await blob.downloadToBuffer(offset, end - offset));
    }
    return { ranges, sha256: hash.digest("hex") };
  }

  async function snapshotDigest(group: string, name: string): Promise<{ ranges: string[]; sha256: string }> {
    const snapshot = await compute().snapshots.get(group, name);
    const result = await digest(await grant(group, name), snapshot.diskSizeBytes!);
    await compute().snapshots.revokeAccess(group, name, fastPolling);
    return result;
  }

  const refusedAs = async (call: () => Promise<unknown>, status: number, code: string, pattern?: RegExp) => {
    const failure = await armFailure(call);
    assert.equal(failure.status, status, failure.message);
    assert.equal(failure.code, code, failure.message);
    if (pattern) assert.match(failure.message, pattern);
  };

  let familyDisk: string;

  test("when an incremental snapshot is copied with CopyStart, then its completionPercent rises to 100 and a grant then reads bytes hash-equal to the source", async () => {
    familyDisk = await diskWithData("copy-disk-a", [{ offset: 0, length: 4 * MiB, seed: 1 }, { offset: 512 * MiB, length: 2 * MiB, seed: 2 }]);
    const first = await snapshotOf("copy-a-1", familyDisk);
    stack().disks.setSnapshotCopyRate(0);
    const accepted = await copyStart("copy-a-1-ne", first.id!);

    assert.equal(accepted.location, target());
    assert.equal(accepted.incremental, true);
    assert.equal(accepted.creationData?.createOption, "CopyStart");
    assert.equal(accepted.creationData?.sourceResourceId, first.id);
    assert.equal(accepted.creationData?.sourceUniqueId, first.uniqueId);
    assert.equal(accepted.osType, "Linux");
    assert.equal(accepted.completionPercent, 0);
    const copy = stack().disks.readSnapshotCopy(accepted.id!);
    assert.deepEqual([copy.state, copy.bytesToMove, copy.bytesMoved, copy.baseSnapshotId], ["copying", 6 * MiB, 0, undefined]);

    // Below 100 the target is not usable: no SAS, no disk.
    await refusedAs(() => grant(targetGroup, "copy-a-1-ne"), 409, "OperationNotAllowed", /completionPercent 0/);
    await refusedAs(
      () => compute().disks.beginCreateOrUpdateAndWait(targetGroup, "disk-too-early", { location: target(), creationData: { createOption: "Copy", sourceResourceId: accepted.id! } }, fastPolling),
      409, "OperationNotAllowed", /completionPercent/,
    );

    stack().disks.setSnapshotCopyRate(24 * MiB);
    const { snapshot, percents } = await followCopy("copy-a-1-ne");
    assert.equal(snapshot.completionPercent, 100);
    assert.equal(snapshot.copyCompletionError, undefined);
    assert.deepEqual(percents, [...percents].sort((a, b) => a - b), "completionPercent never goes down");
    assert.equal(stack().disks.readSnapshotCopy(accepted.id!).bytesMoved, 6 * MiB);
    assert.deepEqual(await snapshotDigest(targetGroup, "copy-a-1-ne"), await snapshotDigest(resourceGroup, "copy-a-1"));
  });

  test("when a later snapshot of the family is copied, then the copy moves only the bytes changed since the previous copy and holds the later content", async () => {
    stack().disks.setSnapshotCopyRate("instant");
    stack().disks.writeSeeded(familyDisk, 100 * MiB, MiB, 3);
    stack().disks.trim(familyDisk, 512 * MiB, MiB);
    const second = await snapshotOf("copy-a-2", familyDisk);
    const copied = await copyStart("copy-a-2-ne", second.id!);

    const copy = stack().disks.readSnapshotCopy(copied.id!);
    const base = await compute().snapshots.get(targetGroup, "copy-a-1-ne");
    assert.deepEqual([copy.state, copy.bytesToMove, copy.baseSnapshotId], ["completed", MiB, base.id]);
    assert.deepEqual(await snapshotDigest(targetGroup, "copy-a-2-ne"), await snapshotDigest(resourceGroup, "copy-a-2"));
    assert.notDeepEqual(await snapshotDigest(targetGroup, "copy-a-2-ne"), await snapshotDigest(targetGroup, "copy-a-1-ne"));
  });

  test("when a disk is created from a completed target snapshot (createOption Copy), then its bytes equal the source snapshot's and it keeps the boot properties", async () => {
    const from = await compute().snapshots.get(targetGroup, "copy-a-2-ne");
    await refusedAs(
      () => compute().disks.beginCreateOrUpdateAndWait(targetGroup, "disk-elsewhere", { location: source(), creationData: { createOption: "Copy", sourceResourceId: from.id! } }, fastPolling),
      400, "InvalidParameter",
    );
    const disk = await compute().disks.beginCreateOrUpdateAndWait(
      targetGroup, "disk-from-copy", { location: target(), diskSizeGB: 2, creationData: { createOption: "Copy", sourceResourceId: from.id! } }, fastPolling,
    );
    assert.deepEqual([disk.diskSizeGB, disk.osType, disk.hyperVGeneration, disk.creationData?.sourceResourceId], [2, "Linux", "V2", from.id]);
    const access = await compute().disks.grantAccess(targetGroup, "disk-from-copy", { access: "Read", durationInSeconds: 600 }, fastPolling);
    // The disk's data below the snapshot's size (the rest of the larger disk reads as never written).
    const restored = await digest(access.accessSAS!, disk.diskSizeBytes!);
    await compute().disks.revokeAccess(targetGroup, "disk-from-copy", fastPolling);
    assert.deepEqual(restored, await snapshotDigest(resourceGroup, "copy-a-2"));
  });

  test("when a Trusted Launch disk's snapshot is copied and a disk made from the copy, then the VM guest state travels with the content", async () => {
    stack().disks.setSnapshotCopyRate("instant");
    const secure = await createDiskWith(compute(), source(), "copy-disk-tl", { hyperVGeneration: "V2", securityProfile: { securityType: "TrustedLaunch" } });
    stack().disks.writeGuestState(secure.id!, Buffer.alloc(MiB, 0x5a));
    const copied = await copyStart("copy-tl-1-ne", (await snapshotOf("copy-tl-1", secure.id!)).id!);
    assert.equal(copied.securityProfile?.securityType, "TrustedLaunch");
    const disk = await compute().disks.beginCreateOrUpdateAndWait(
      targetGroup, "disk-tl-from-copy", { location: target(), creationData: { createOption: "Copy", sourceResourceId: copied.id! } }, fastPolling,
    );
    assert.equal(disk.securityProfile?.securityType, "TrustedLaunch");
    assert.ok(stack().disks.readGuestState(disk.id!).equals(Buffer.alloc(MiB, 0x5a)));
  });

  test("when a disk's snapshot is being copied, then a CopyStart of another snapshot of that disk is refused until the copy completes", async () => {
    stack().disks.setSnapshotCopyRate(0);
    stack().disks.writeSeeded(familyDisk, 200 * MiB, MiB, 4);
    const third = await snapshotOf("copy-a-3", familyDisk);
    const fourth = await snapshotOf("copy-a-4", familyDisk);
    await copyStart("copy-a-3-ne", third.id!);
    await refusedAs(() => copyStart("copy-a-4-ne", fourth.id!), 409, "OperationNotAllowed", /oneCopyPerDisk/);
    stack().disks.setSnapshotCopyRate("instant");
    assert.equal((await copyStart("copy-a-4-ne", fourth.id!)).completionPercent, 100);
  });

  test("when a snapshot older than one of its family already copied into the region is copied, then it is refused (creation order)", async () => {
    stack().disks.setSnapshotCopyRate("instant");
    const disk = await diskWithData("copy-disk-b", [{ offset: 0, length: MiB, seed: 5 }]);
    const older = await snapshotOf("copy-b-1", disk);
    const newer = await snapshotOf("copy-b-2", disk);
    await copyStart("copy-b-2-ne", newer.id!);
    await refusedAs(() => copyStart("copy-b-1-ne", older.id!), 409, "OperationNotAllowed", /copyOrder/);
  });

  test("when the region's copies in flight are at the limit, then one more is refused, and accepted once one completes", async () => {
    stack().disks.setSnapshotCopyRate(0);
    const sources: Snapshot[] = [];
    for (const name of ["c", "d", "e"]) sources.push(await snapshotOf(`copy-${name}-1`, await diskWithData(`copy-disk-${name}`, [{ offset: 0, length: MiB, seed: 6 }])));
    await copyStart("copy-c-1-ne", sources[0].id!);
    await copyStart("copy-d-1-ne", sources[1].id!);
    await refusedAs(() => copyStart("copy-e-1-ne", sources[2].id!), 409, "OperationNotAllowed", /maxCopiesInFlight/);
    stack().disks.setSnapshotCopyRate("instant");
    assert.equal((await copyStart("copy-e-1-ne", sources[2].id!)).completionPercent, 100);
  });

  test("when the source snapshot is deleted while its copy runs, then the copy ends in copyCompletionError CopySourceNotFound and the target stays unusable", async () => {
    stack().disks.setSnapshotCopyRate(0);
    const from = await snapshotOf("copy-f-1", await diskWithData("copy-disk-f", [{ offset: 0, length: MiB, seed: 7 }]));
    await copyStart("copy-f-1-ne", from.id!);
    await compute().snapshots.beginDeleteAndWait(resourceGroup, "copy-f-1", fastPolling);
    stack().disks.setSnapshotCopyRate("instant");
    const { snapshot } = await followCopy("copy-f-1-ne");
    assert.equal(snapshot.copyCompletionError?.errorCode, "CopySourceNotFound");
    assert.ok((snapshot.completionPercent ?? 100) < 100);
    await refusedAs(() => grant(targetGroup, "copy-f-1-ne"), 409, "OperationNotAllowed", /failed/);
  });

  test("when a copy is failed through the control routes, then it ends in copyCompletionError with the given message and never completes", async () => {
    // Over HTTP, as another process (npm run stack) drives it.
    const control = new DiskControlClient(stack().arm.endpoint);
    await control.setSnapshotCopyRate(0);
    const from = await snapshotOf("copy-g-1", await diskWithData("copy-disk-g", [{ offset: 0, length: MiB, seed: 8 }]));
    const accepted = await copyStart("copy-g-1-ne", from.id!);
    await control.failSnapshotCopy(accepted.id!, "The copy was cut off.");
    await control.setSnapshotCopyRate("instant");
    const { snapshot } = await followCopy("copy-g-1-ne");
    assert.deepEqual(snapshot.copyCompletionError, { errorCode: "CopySourceNotFound", errorMessage: "The copy was cut off." });
    assert.equal(snapshot.completionPercent, 0);
    assert.equal((await control.readSnapshotCopy(accepted.id!)).state, "failed");
    await assert.rejects(control.failSnapshotCopy(from.id!), (error: EmulatorHttpError) => error.status === 409 && /not created with CopyStart/.test(error.message));
  });

  test("when a CopyStart names the source's own region, a disk, or a full snapshot, then it is refused with InvalidParameter", async () => {
    const disk = await diskWithData("copy-disk-h", [{ offset: 0, length: MiB, seed: 9 }]);
    const incremental = await snapshotOf("copy-h-1", disk);
    const full = await compute().snapshots.beginCreateOrUpdateAndWait(
      resourceGroup, "copy-h-full", { location: source(), incremental: false, creationData: { createOption: "Copy", sourceResourceId: disk } }, fastPolling,
    );
    await refusedAs(() => copyStart("copy-h-1-same", incremental.id!, source()), 400, "InvalidParameter");
    await refusedAs(() => copyStart("copy-h-disk", disk), 400, "InvalidParameter");
    await refusedAs(() => copyStart("copy-h-full-ne", full.id!), 400, "InvalidParameter");
  });

  test("when the compute adapter starts a copy twice by name and lists the group, then it gets the same snapshot and sees a copy limit as CopyLimitError", async () => {
    const gateway = createComputeGateway(stack().arm.credential, {
      endpoint: stack().arm.endpoint,
      pollIntervalMs: 10,
      observer: { metrics: createMemoryMetrics(), warn: () => undefined },
    });
    stack().disks.setSnapshotCopyRate(0);
    const disk = await diskWithData("copy-disk-i", [{ offset: 0, length: MiB, seed: 10 }]);
    const [first, second] = [await snapshotOf("copy-i-1", disk), await snapshotOf("copy-i-2", disk)];
    const request = { subscriptionId: stack().arm.subscriptionId, resourceGroup: targetGroup, location: target(), tags: { purpose: "test" } };

    const started = await gateway.startSnapshotCopy({ ...request, name: "copy-i-1-ne", sourceSnapshotId: first.id! });
    const again = await gateway.startSnapshotCopy({ ...request, name: "copy-i-1-ne", sourceSnapshotId: first.id! });
    assert.deepEqual([again.id, again.uniqueId], [started.id, started.uniqueId]);
    assert.deepEqual([started.createOption, started.completionPercent, started.sourceResourceId, started.copyCompletionError], ["CopyStart", 0, first.id, undefined]);
    await assert.rejects(gateway.startSnapshotCopy({ ...request, name: "copy-i-2-ne", sourceSnapshotId: second.id! }), (error: unknown) => {
      assert.ok(error instanceof CopyLimitError, String(error));
      assert.equal(error.limit, "diskInFlight");
      return true;
    });

    stack().disks.setSnapshotCopyRate("instant");
    const listed = await gateway.listSnapshots(request.subscriptionId, targetGroup);
    assert.deepEqual(listed.map((s) => s.timeCreated.getTime()), listed.map((s) => s.timeCreated.getTime()).sort((a, b) => a - b));
    assert.equal(listed.find((s) => s.name === "copy-i-1-ne")?.completionPercent, 100);
    assert.deepEqual(await gateway.listSnapshots(request.subscriptionId, "rg-does-not-exist"), []);

    await gateway.beginCopyDisk({ ...request, name: "disk-i-restored", sourceSnapshotId: started.id, boot: { osType: "Linux" } });
    const ref = parseDiskId(`/subscriptions/${request.subscriptionId}/resourceGroups/${targetGroup}/providers/Microsoft.Compute/disks/disk-i-restored`);
    assert.ok(ref);
    const restored = await gateway.getDisk(ref);
    assert.deepEqual([restored.sizeBytes, restored.properties.osType], [first.diskSizeBytes, "Linux"]);
  });
});
