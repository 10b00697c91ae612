import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, test } from "node:test";
import { devAccount } from "../../emulator/azurite";
import { connectToStack, readStackFile, writeStackFile } from "../../emulator/stack";
import { createEmptyDisk } from "../support/disk-emulator-server";
import { computeClient, targetBlobService, useTestStack } from "../support/stack";

const stackScript = resolve(__dirname, "..", "..", "scripts", "stack.js");

describe("the stack file", () => {
  const stack = useTestStack();
  const dir = mkdtempSync(join(tmpdir(), "diskdelta-stack-"));

  test("when the stack file is written, then another client reaches ARM, disks, storage and faults through it", async () => {
    const path = join(dir, "stack.json");
    writeStackFile(stack(), path);
    assert.equal(statSync(path).mode & 0o777, 0o600);

    const connection = connectToStack(path);
    assert.equal(connection.arm.endpoint, stack().arm.endpoint);
    assert.equal(connection.target.resourceId, stack().target.resourceId);
    assert.ok((await connection.arm.credential.getToken("https://management.azure.com/.default"))?.token);
    const container = targetBlobService(connection).getContainerClient("through-stack-file");
    await container.create();
    await container.getBlockBlobClient("hello.txt").upload("hello", 5);

    const diskId = await createEmptyDisk(computeClient(connection), "through-stack-file", 1);
    await connection.disks.write(diskId, 4096, Buffer.alloc(512, 0x42));
    assert.deepEqual(stack().disks.read(diskId, 4096, 512), Buffer.alloc(512, 0x42));

    await connection.faults.set([{ scope: "blob", kind: "latency", latencyMs: 1, rate: 1 }]);
    await container.getBlobClient("hello.txt").getProperties();
    assert.equal((await stack().faults.stats()).injected.latency, 1);
    await connection.faults.clear();
  });

  test("when a file is not a stack file, then reading it lists what is wrong", () => {
    const path = join(dir, "broken.json");
    writeFileSync(path, JSON.stringify({ version: 1, arm: { endpoint: "not a url" } }));
    assert.throws(() => readStackFile(path), /at target[\s\S]*at arm\.endpoint/);
  });

  test("when `npm run stack` runs, then it writes the stack file, prints endpoints but no keys, and stops on SIGINT", async () => {
    const path = join(dir, "script-stack.json");
    const child = spawn(process.execPath, [stackScript, "--stack-file", path], { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((done) => child.on("exit", (code) => done(code)));
    await new Promise<void>((ready, fail) => {
      const timer = setTimeout(() => fail(new Error(`stack did not start:\n${output}`)), 30_000);
      child.stdout.on("data", () => {
        if (output.includes("Press Ctrl-C")) {
          clearTimeout(timer);
          ready();
        }
      });
      void exited.then(() => fail(new Error(`stack exited:\n${output}`)));
    });

    const file = readStackFile(path);
    assert.ok(output.includes(file.target.blobEndpoint));
    assert.ok(!output.includes(file.target.accountKey));
    assert.ok(!output.includes(devAccount.key));
    await targetBlobService(connectToStack(path)).getContainerClient("from-script").create();

    child.kill("SIGINT");
    assert.equal(await exited, 0);
    assert.equal(existsSync(path), false);
  });
});
