/**
 * `diskdelta-local disk …` as a user runs it: a child process with nothing exported but where its `.local` directory
 * is (DISKDELTA_LOCAL_DIR), finding the stack this suite runs through the stack file written there. The first run
 * trusts the stack's CA by itself (it runs again with NODE_EXTRA_CA_CERTS); the others are given it, to save that
 * second start. Every claim is checked on bytes through the stack, not on what the command printed.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { writeStackFile } from "../../emulator/stack";
import { createSourceSnapshotReader } from "../../src/adapters/source-snapshot";
import { MiB } from "../../src/domain/ranges";
import { digestOf } from "../../src/engine/verify";
import { computeClient, useTestStack } from "../support/stack";

const commandPath = join(__dirname, "..", "..", "scripts", "diskdelta-local.js");

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

const execFileAsync = promisify(execFile);

/** Runs the command without blocking this process, which serves the stack it calls; a non-zero exit is a result. */
async function runLocal(args: readonly string[], localDir: string, env: Record<string, string> = {}): Promise<Run> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [commandPath, ...args], { env: { PATH: process.env.PATH ?? "", DISKDELTA_LOCAL_DIR: localDir, ...env } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: unknown; stdout?: string; stderr?: string };
    return { code: typeof failed.code === "number" ? failed.code : null, stdout: failed.stdout ?? "", stderr: failed.stderr ?? "" };
  }
}

/** What the hash of a disk holding `content` at `offset` (zeros elsewhere) must be, computed here from the bytes. */
function expectedDigest(sizeBytes: number, offset: number, content: Buffer): string {
  const block = 4 * MiB;
  const blocks = new Map<number, string>();
  for (let index = Math.floor(offset / block); index * block < offset + content.length; index++) {
    const data = Buffer.alloc(block);
    content.copy(data, Math.max(0, offset - index * block), Math.max(0, index * block - offset), Math.min(content.length, (index + 1) * block - offset));
    if (data.some((byte) => byte !== 0)) blocks.set(index, createHash("sha256").update(data).digest("hex"));
  }
  return digestOf(sizeBytes, blocks);
}

describe("diskdelta-local disk on a running local stack", () => {
  const stack = useTestStack();
  const dir = mkdtempSync(join(tmpdir(), "diskdelta-local-disk-"));
  const disk = (...args: string[]) => runLocal(["disk", ...args], dir, { NODE_EXTRA_CA_CERTS: stack().caCertPath });
  before(() => writeStackFile(stack(), join(dir, "stack.json")));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("when a disk is created and written with a pattern, then its hash is the digest of those bytes, and a snapshot of it is incremental in ARM with the same hash", async () => {
    const created = await runLocal(["disk", "create", "app-data", "--size-gib", "2"], dir);
    assert.equal(created.code, 0, created.stderr);
    const diskId = created.stdout.trim();
    assert.equal(diskId, `/subscriptions/${stack().arm.subscriptionId}/resourceGroups/rg-data/providers/Microsoft.Compute/disks/app-data`);
    assert.match(created.stderr, new RegExp(`npx diskdelta protect ${diskId} --target-endpoint ${stack().target.blobEndpoint} --storage-account-id `));

    // 5 MiB + 512 from 3 MiB: across a 4 MiB block boundary, the pattern's phase carried over the 4 MiB pieces.
    const offset = 3 * MiB;
    const length = 5 * MiB + 512;
    const written = await disk("write", "app-data", "--offset", "3MiB", "--length", String(length), "--pattern", "diskdelta!");
    assert.equal(written.code, 0, written.stderr);
    const pattern = Buffer.alloc(length, "diskdelta!");
    assert.ok(stack().disks.read(diskId, offset, length).equals(pattern), "the disk holds the pattern, read back through the emulator");

    const hashed = await disk("hash", diskId);
    assert.equal(hashed.code, 0, hashed.stderr);
    assert.equal(hashed.stdout.trim(), `${expectedDigest(2 * 1024 * MiB, offset, pattern)}  ${diskId}`);

    const taken = await disk("snapshot", "app-data", "--name", "app-data-1");
    assert.equal(taken.code, 0, taken.stderr);
    const snapshotId = taken.stdout.trim();
    const snapshot = await computeClient(stack()).snapshots.get("rg-data", "app-data-1");
    assert.equal(snapshot.id, snapshotId);
    assert.equal(snapshot.incremental, true);
    assert.equal(snapshot.creationData?.sourceResourceId, diskId);
    const snapshotHash = await disk("hash", "app-data-1");
    assert.equal(snapshotHash.stdout.split(" ")[0], hashed.stdout.split(" ")[0], "the snapshot has the disk's content");

    const listed = await disk("list");
    assert.match(listed.stdout, /^app-data +rg-data +westeurope +2\.0 GiB +Unattached /m);
    assert.match(listed.stdout, /^app-data-1 +rg-data +westeurope +app-data /m);
  });

  it("when a written range is trimmed between two snapshots, then their diff lists it as a ClearedRange and the disk reads zeros there; a file and seeded writes land where asked", async () => {
    const diskId = (await disk("create", "trimmed", "--size-gib", "1", "--resource-group", "rg-demo")).stdout.trim();
    const file = join(dir, "payload.bin");
    const payload = Buffer.from(Array.from({ length: 8192 }, (_, i) => (i * 7) % 251));
    writeFileSync(file, payload);
    assert.equal((await disk("write", diskId, "--offset", "64KiB", "--file", file)).code, 0);
    assert.ok(stack().disks.read(diskId, 64 * 1024, payload.length).equals(payload), "the file's bytes at the offset");
    assert.equal((await disk("write", "trimmed", "--offset", "8MiB", "--length", "2MiB", "--random", "--seed", "7")).code, 0);
    assert.ok(stack().disks.read(diskId, 8 * MiB, 2 * MiB).some((byte) => byte !== 0), "seeded bytes written");

    const earlier = (await disk("snapshot", "trimmed", "--name", "trimmed-before")).stdout.trim();
    const trimmed = await disk("trim", "trimmed", "--offset", "8MiB", "--length", "1MiB");
    assert.equal(trimmed.code, 0, trimmed.stderr);
    const afterTrim = (await disk("snapshot", "trimmed", "--name", "trimmed-after")).stdout.trim();
    assert.ok(stack().disks.read(diskId, 8 * MiB, MiB).every((byte) => byte === 0), "trimmed bytes read as zeros");

    const compute = computeClient(stack());
    const sas = async (name: string) => (await compute.snapshots.beginGrantAccessAndWait("rg-demo", name, { access: "Read", durationInSeconds: 600 })).accessSAS ?? "";
    const diff = await createSourceSnapshotReader().diff(await sas("trimmed-after"), await sas("trimmed-before"), { start: 0, end: 1024 * MiB });
    assert.deepEqual(diff.cleared, [{ start: 8 * MiB, end: 9 * MiB }]);
    assert.deepEqual(diff.changed, []);
    assert.ok(earlier.endsWith("/snapshots/trimmed-before") && afterTrim.endsWith("/snapshots/trimmed-after"));
  });

  it("when an argument is wrong, then the command exits 2 with one line naming it, and changes nothing", async () => {
    await disk("create", "strict", "--size-gib", "1");
    const cases: [string[], RegExp][] = [
      [["write", "strict", "--offset", "1000", "--length", "1MiB", "--pattern", "x"], /^diskdelta-local: --offset 1000 is not a multiple of 512 bytes/],
      [["write", "strict", "--offset", "0", "--length", "4 MB", "--pattern", "x"], /^diskdelta-local: --length must be a byte count \(e\.g\. 1048576 or 4MiB; units KiB, MiB, GiB\), not "4 MB"/],
      [["trim", "strict", "--offset", "1GiB", "--length", "512"], /^diskdelta-local: --offset 1073741824 \+ --length 512 ends at byte 1073742336, past the end of the disk \(1073741824 bytes, 1\.0 GiB\)/],
      [["write", "nowhere", "--offset", "0", "--length", "512", "--random"], /^diskdelta-local: disk "nowhere" not found on the local stack/],
      [["write", "strict", "--offset", "0", "--length", "512"], /^diskdelta-local: disk write needs exactly one of --pattern, --random, --file/],
      [["create", "big", "--size-gib", "0"], /^diskdelta-local: --size-gib must be a whole number of GiB from 1 to 32767, not "0"/],
      [["create", "elsewhere", "--size-gib", "1", "--resource-group", "rg-nope"], /^diskdelta-local: --resource-group rg-nope does not exist on the local stack/],
      [["hash", "strict", "--bogus"], /^diskdelta-local: disk hash: Unknown option '--bogus'/],
    ];
    for (const [args, message] of cases) {
      const run = await disk(...args);
      assert.equal(run.code, 2, `${args.join(" ")}: ${run.stderr}`);
      assert.match(run.stderr, message);
      assert.equal(run.stderr.trim().split("\n").length, 1, `one line for ${args.join(" ")}`);
    }
    const groups = await computeClient(stack()).disks.listByResourceGroup("rg-data");
    const names: string[] = [];
    for await (const d of groups) names.push(d.name ?? "");
    assert.ok(!names.includes("big") && !names.includes("elsewhere"));
    assert.ok(stack().disks.read(`/subscriptions/${stack().arm.subscriptionId}/resourceGroups/rg-data/providers/Microsoft.Compute/disks/strict`, 0, MiB).every((b) => b === 0));
  });

  it("when no stack runs, then the command says so in one line naming npm run stack", async () => {
    const empty = mkdtempSync(join(tmpdir(), "diskdelta-local-none-"));
    try {
      const run = await runLocal(["disk", "list"], empty);
      assert.equal(run.code, 1);
      assert.equal(run.stderr.trim(), `diskdelta-local: no local stack is running (there is no ${join(empty, "stack.json")}): start one with npm run stack (or npm start) in this clone`);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
