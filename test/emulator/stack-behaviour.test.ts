/**
 * The stack's service-behaviour switches: the Get Page Ranges cap and whether a diff across a disk growth lists
 * the old footer page as ClearRange. Set at start (`LocalStackOptions`), in-process (`LocalStack`) and from
 * another process (`StackConnection`, over `/_emulator/behaviour`).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, describe, test } from "node:test";
import { AnonymousCredential, PageBlobClient } from "@azure/storage-blob";
import { EmulatorHttpError } from "../../emulator/disks";
import { connectToStack, writeStackFile, type StackEndpoints } from "../../emulator/stack";
import { createEmptyDisk, fastPolling, grantRead, resourceGroup, takeSnapshot } from "../support/disk-emulator-server";
import { computeClient, targetBlobService, useTestStack } from "../support/stack";

const GiB = 1024 ** 3;

/** The SDK's form of one range of `length` bytes at `offset`: count is one short of the length. */
const sdk = (offset: number, length: number) => ({ offset, count: length - 1 });

/**
 * A 1 GiB disk, snapshotted, grown to 2 GiB and snapshotted again: returns a function that asks the
 * managed-disk diff between the two snapshots.
 */
async function grownDisk(stack: StackEndpoints, name: string) {
  const compute = computeClient(stack);
  const id = await createEmptyDisk(compute, name, 1);
  await takeSnapshot(compute, `${name}-1`, id);
  await compute.disks.update(resourceGroup, name, { diskSizeGB: 2 }, fastPolling);
  await takeSnapshot(compute, `${name}-2`, id);
  const olderUrl = await grantRead(compute, `${name}-1`);
  const newer = new PageBlobClient(await grantRead(compute, `${name}-2`), new AnonymousCredential());
  return () => newer.getPageRangesDiffForManagedDisks(0, 2 * GiB + 512, olderUrl);
}

/** How many ranges the target blob's first Get Page Ranges answer holds. */
async function firstAnswerLength(stack: StackEndpoints, container: string): Promise<number> {
  const client = targetBlobService(stack).getContainerClient(container);
  await client.createIfNotExists();
  const blob = client.getPageBlobClient("ranges.vhd");
  await blob.create(16 * 1024 * 1024);
  for (let i = 0; i < 8; i++) await blob.uploadPages(Buffer.alloc(512, 1), i * 1024 * 1024, 512);
  return (await blob.getPageRanges()).pageRange?.length ?? 0;
}

async function rejectsAsInvalidBehaviour(action: Promise<unknown>): Promise<void> {
  await assert.rejects(action, (error: unknown) => {
    assert.ok(error instanceof EmulatorHttpError, `expected EmulatorHttpError, got ${String(error)}`);
    assert.deepEqual([error.status, error.code], [400, "InvalidBehaviour"]);
    return true;
  });
}

describe("service behaviour switches on a running stack", () => {
  const stack = useTestStack();
  afterEach(async () => {
    await stack().setListOldFooterAsCleared(true);
    await stack().setPageListMaxRanges(10_000);
  });

  test("when the disk grew, then by default the diff lists the old footer page as ClearRange and the new one as PageRange", async () => {
    const diff = await (await grownDisk(stack(), "grown-default"))();
    assert.deepEqual(diff.clearRange, [sdk(GiB, 512)]);
    assert.deepEqual(diff.pageRange, [sdk(2 * GiB, 512)]);
  });

  test("when listOldFooterAsCleared is switched off in-process, then the diff lists only the new footer page", async () => {
    const diffOf = await grownDisk(stack(), "grown-off");
    await stack().setListOldFooterAsCleared(false);
    const diff = await diffOf();
    assert.deepEqual(diff.clearRange, []);
    assert.deepEqual(diff.pageRange, [sdk(2 * GiB, 512)]);
    await stack().setListOldFooterAsCleared(true);
    assert.deepEqual((await diffOf()).clearRange, [sdk(GiB, 512)], "switching back restores the default");
  });

  test("when another process switches behaviour through the stack file, then the cap and the footer switch apply", async () => {
    const connection = connectToStack(stackFileOf(stack()));
    await connection.setPageListMaxRanges(3);
    assert.equal(await firstAnswerLength(connection, "capped-remotely"), 3);
    const diffOf = await grownDisk(stack(), "grown-remote");
    await connection.setListOldFooterAsCleared(false);
    assert.deepEqual((await diffOf()).clearRange, []);
    const current = await (await fetch(`${stack().arm.endpoint}/_emulator/behaviour`)).json();
    assert.deepEqual(current, { pageListMaxRanges: 3, listOldFooterAsCleared: false });
  });

  test("when the cap is not a positive integer, then setting it fails with 400 InvalidBehaviour in-process and remotely, and nothing changes", async () => {
    const connection = connectToStack(stackFileOf(stack()));
    for (const n of [0, -1, 1.5]) {
      await rejectsAsInvalidBehaviour(stack().setPageListMaxRanges(n));
      await rejectsAsInvalidBehaviour(connection.setPageListMaxRanges(n));
    }
    assert.equal(await firstAnswerLength(stack(), "not-capped"), 8);
  });

  test("when the premium snapshot interval is not a whole number of seconds from 0 to a day, then setting it fails with 400 InvalidBehaviour in-process and remotely", async () => {
    const connection = connectToStack(stackFileOf(stack()));
    for (const seconds of [-1, 1.5, 86_401]) {
      await rejectsAsInvalidBehaviour(stack().setPremiumSnapshotIntervalSeconds(seconds));
      await rejectsAsInvalidBehaviour(connection.setPremiumSnapshotIntervalSeconds(seconds));
    }
    await connection.setPremiumSnapshotIntervalSeconds(0);
    await stack().setPremiumSnapshotIntervalSeconds(600);
  });
});

describe("service behaviour set when the stack starts", () => {
  const stack = useTestStack({ pageListMaxRanges: 2, listOldFooterAsCleared: false });

  test("when the stack starts with pageListMaxRanges and listOldFooterAsCleared, then both apply from the first request", async () => {
    assert.equal(await firstAnswerLength(stack(), "capped-at-start"), 2);
    const diff = await (await grownDisk(stack(), "grown-at-start"))();
    assert.deepEqual(diff.clearRange, []);
    assert.deepEqual(diff.pageRange, [sdk(2 * GiB, 512)]);
  });
});

/** The folders `stackFileOf` made, removed when the file's tests are done. */
const stackFolders: string[] = [];
after(() => {
  for (const folder of stackFolders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

/** Writes the stack file of `stack` to a fresh folder, as `npm run stack` would for another process. */
function stackFileOf(stack: StackEndpoints): string {
  const folder = mkdtempSync(join(tmpdir(), "diskdelta-behaviour-"));
  stackFolders.push(folder);
  const path = join(folder, "stack.json");
  writeStackFile(stack, path);
  return path;
}
