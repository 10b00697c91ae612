/** The app's functions on a worker whose app settings are bad: HTTP calls and the timer name the settings, no secret leaks. */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { QueueServiceClient } from "@azure/storage-queue";
import { startWorker } from "../../src/composition";
import { loadAppFunctions } from "../../src/local/app";
import { type LocalHost, createLocalHost } from "../../src/local/host";

const accountKey = "c2VjcmV0LWFjY291bnQta2V5LTAxMjM0NTY3ODk=";
const badSettings = {
  AzureWebJobsStorage: `DefaultEndpointsProtocol=https;AccountName=app;AccountKey=${accountKey};EndpointSuffix=core.windows.net`,
  DISKDELTA_STEP_MAX_BYTES: "1",
  DISKDELTA_COPY_CONCURRENCY: "65",
};

describe("a worker started with bad app settings", () => {
  const logs: string[] = [];
  const reported: string[] = [];
  let host: LocalHost;
  before(() => {
    startWorker(badSettings, (text) => reported.push(text));
    host = createLocalHost({
      functions: loadAppFunctions(),
      // Never polled here: the host only needs a queue service to exist.
      queueService: QueueServiceClient.fromConnectionString("UseDevelopmentStorage=true"),
      settings: badSettings,
      log: (_level, _name, text) => logs.push(text),
    });
  });
  after(async () => {
    await host.stop();
  });

  it("when it starts, then it reports both bad settings at once", () => {
    assert.equal(reported.length, 1);
    assert.match(reported[0], /DISKDELTA_STEP_MAX_BYTES: .*; DISKDELTA_COPY_CONCURRENCY: /);
  });

  it("when an HTTP call arrives, then it answers 500 InvalidAppSettings naming each setting and what is wrong", async () => {
    const answer = await host.invokeHttp("GET", "/api/disks");
    const { error } = answer.body as { error: { code: string; message: string; details: string[] } };
    assert.equal(answer.status, 500);
    assert.equal(error.code, "InvalidAppSettings");
    assert.match(error.message, /^diskdelta: invalid app settings: DISKDELTA_STEP_MAX_BYTES: .*; DISKDELTA_COPY_CONCURRENCY: /);
    assert.deepEqual(error.details.map((detail) => detail.split(": ")[0]), ["DISKDELTA_STEP_MAX_BYTES", "DISKDELTA_COPY_CONCURRENCY"]);
    assert.ok(logs.some((line) => line.includes("HTTP request failed") && line.includes("DISKDELTA_COPY_CONCURRENCY")), logs.join("\n"));
  });

  it("when the timer fires, then the tick fails naming the settings", async () => {
    await assert.rejects(host.tick(), /DISKDELTA_STEP_MAX_BYTES: .*; DISKDELTA_COPY_CONCURRENCY: /);
  });

  it("when anything is answered or logged, then it holds no account key", async () => {
    const answer = await host.invokeHttp("POST", "/api/disks", { diskId: "x" });
    assert.ok(![JSON.stringify(answer.body), ...reported, ...logs].some((text) => text.includes(accountKey)));
  });
});

describe("a worker whose local stack file is not one", () => {
  it("when an HTTP call arrives, then the 500 lists every problem of the file, each naming DISKDELTA_LOCAL_STACK_FILE", async () => {
    const path = join(tmpdir(), `diskdelta-bad-stack-${process.pid}.json`);
    writeFileSync(path, JSON.stringify({ version: 1, pid: 1, arm: { endpoint: "https://127.0.0.1:1" } }));
    const settings = { AzureWebJobsStorage: "UseDevelopmentStorage=true", DISKDELTA_LOCAL_STACK_FILE: path };
    const reported: string[] = [];
    startWorker(settings, (text) => reported.push(text));
    const host = createLocalHost({ functions: loadAppFunctions(), queueService: QueueServiceClient.fromConnectionString("UseDevelopmentStorage=true"), settings, log: () => undefined });
    try {
      const answer = await host.invokeHttp("GET", "/api/disks");
      const { error } = answer.body as { error: { code: string; message: string; details: string[] } };
      assert.deepEqual([answer.status, error.code], [500, "InvalidAppSettings"]);
      assert.ok(error.details.length >= 2, `every problem of the file: ${error.details.join("\n")}`);
      for (const detail of error.details) assert.match(detail, new RegExp(`^DISKDELTA_LOCAL_STACK_FILE: ${path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} is not a usable local stack file: `));
      assert.ok(error.details.some((detail) => detail.includes("arm.token: ")), error.details.join("\n"));
      assert.ok(error.details.some((detail) => detail.includes("target: ")), error.details.join("\n"));
      assert.ok(error.details.every((detail) => error.message.includes(detail)), "the message holds every problem on its one line");
      assert.match(reported[0], /arm\.token: .*target: /);
    } finally {
      await host.stop();
    }
  });
});
