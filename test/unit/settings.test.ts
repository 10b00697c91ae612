/** App settings: one error naming every bad setting, described whole for logs and HTTP answers, read once at start-up. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvocationContext } from "@azure/functions";
import { getDeps, startWorker } from "../../src/composition";
import { SettingsError, loadSettings } from "../../src/config";
import { describeError } from "../../src/domain/errors";
import { diffWindowLimits } from "../../src/domain/limits";

const accountKey = "c2VjcmV0LWFjY291bnQta2V5LTAxMjM0NTY3ODk=";
const connectionString = `DefaultEndpointsProtocol=https;AccountName=app;AccountKey=${accountKey};EndpointSuffix=core.windows.net`;

function refusal(env: NodeJS.ProcessEnv): SettingsError {
  try {
    loadSettings(env);
  } catch (error) {
    if (error instanceof SettingsError) return error;
    throw error;
  }
  throw new Error("the settings were accepted");
}

describe("loadSettings", () => {
  it("when several settings are bad and app storage is missing, then one SettingsError names every one of them", () => {
    const error = refusal({ DISKDELTA_STEP_MAX_BYTES: "1", DISKDELTA_ARM_ENDPOINT: "http://arm.example" });
    assert.deepEqual(
      error.problems.map((problem) => problem.split(":")[0]),
      ["DISKDELTA_ARM_ENDPOINT", "DISKDELTA_STEP_MAX_BYTES", "AzureWebJobsStorage"],
    );
    assert.match(error.problems[2], /set a connection string or AzureWebJobsStorage__accountName/);
  });

  it("when the timer schedule is not an NCRONTAB, then it is in the list with the other bad settings, named", () => {
    const error = refusal({ AzureWebJobsStorage: connectionString, DISKDELTA_TIMER_SCHEDULE: "bogus", DISKDELTA_COPY_CONCURRENCY: "65" });
    assert.deepEqual(error.problems.map((problem) => problem.split(":")[0]), ["DISKDELTA_TIMER_SCHEDULE", "DISKDELTA_COPY_CONCURRENCY"]);
    assert.match(error.problems[0], /^DISKDELTA_TIMER_SCHEDULE: expected .* NCRONTAB expression with 6 fields/);
    const interval = refusal({ AzureWebJobsStorage: connectionString, DISKDELTA_TIMER_SCHEDULE: "every 5m" });
    assert.match(interval.problems[0], /^DISKDELTA_TIMER_SCHEDULE: must be a six-field NCRONTAB expression such as "0 \*\/5 \* \* \* \*"/);
    assert.equal(loadSettings({ AzureWebJobsStorage: connectionString, DISKDELTA_TIMER_SCHEDULE: "0 0 * * * *" }).DISKDELTA_TIMER_SCHEDULE, "0 0 * * * *");
  });

  it("when a settings error is described for a log or an HTTP answer, then the description names each setting and what is wrong", () => {
    const error = refusal({ AzureWebJobsStorage: connectionString, DISKDELTA_COPY_CONCURRENCY: "0", DISKDELTA_DIFF_WINDOW_BYTES: String(64 * 1024 ** 2 + 1) });
    const description = describeError(error);
    for (const problem of error.problems) assert.ok(description.includes(problem), `${problem} missing from ${description}`);
    assert.match(description, /DISKDELTA_COPY_CONCURRENCY: .*>=1/);
    assert.match(description, /DISKDELTA_DIFF_WINDOW_BYTES: must be a whole number of MiB/);
  });

  it("when the first diff window is below the smallest window the CopySteps adapt to, then it is refused naming the limit", () => {
    const floor = diffWindowLimits.min;
    assert.match(refusal({ AzureWebJobsStorage: connectionString, DISKDELTA_DIFF_WINDOW_BYTES: String(floor - 1024 ** 2) }).problems.join("\n"), new RegExp(`DISKDELTA_DIFF_WINDOW_BYTES: .*${floor}`));
    assert.equal(loadSettings({ AzureWebJobsStorage: connectionString, DISKDELTA_DIFF_WINDOW_BYTES: String(floor) }).DISKDELTA_DIFF_WINDOW_BYTES, floor);
  });

  it("when a bad setting sits beside a connection string with a key or a URL with a SAS, then the error holds neither", () => {
    const error = refusal({ AzureWebJobsStorage: connectionString, DISKDELTA_ARM_ENDPOINT: "http://arm.example/?sv=2024&sig=s3cr3tSignature", DISKDELTA_STEP_MAX_SECONDS: "x" });
    for (const text of [error.message, ...error.problems]) {
      assert.ok(!text.includes(accountKey) && !text.includes("s3cr3tSignature"), text);
    }
    assert.match(error.message, /DISKDELTA_ARM_ENDPOINT: .*; DISKDELTA_STEP_MAX_SECONDS: /);
  });
});

describe("startWorker", () => {
  it("when the worker starts with bad settings, then start-up reports every problem once and each invocation fails with that error", () => {
    const reported: string[] = [];
    startWorker({ AzureWebJobsStorage: connectionString, DISKDELTA_MAX_RUNS_PER_TICK: "0", DISKDELTA_SAS_DURATION_SECONDS: "10" }, (text) => reported.push(text));
    assert.equal(reported.length, 1);
    assert.match(reported[0], /^diskdelta: invalid app settings: DISKDELTA_SAS_DURATION_SECONDS: .*; DISKDELTA_MAX_RUNS_PER_TICK: /);
    assert.ok(!reported[0].includes(accountKey));
    for (let call = 0; call < 2; call++) {
      assert.throws(() => getDeps(new InvocationContext()), (error: unknown) => error instanceof SettingsError && error.problems.length === 2);
    }
  });

  it("when the worker starts with good settings, then start-up reports nothing", () => {
    const reported: string[] = [];
    startWorker({ AzureWebJobsStorage: "UseDevelopmentStorage=true" }, (text) => reported.push(text));
    assert.deepEqual(reported, []);
  });
});
