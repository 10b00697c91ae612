/**
 * Security: no SAS signature, key or token in anything the app lets out during a full backup with faults, revoked
 * access and failed runs (host logs, HTTP answers, table entities, failed runs' errors, queue messages, metrics,
 * process output); HTTP functions need a function key; a worker without a local profile authenticates with its
 * managed identity only.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { app as functionsApp } from "@azure/functions";
import { StorageSharedKeyCredential } from "@azure/storage-blob";
import { createDeps } from "../../src/composition";
import { loadSettings } from "../../src/config";
import type { RunView } from "../../src/domain/records";
import { describeError, redact, statusOf } from "../../src/domain/errors";
import { parseDiskId } from "../../src/domain/model";
import type { Deps } from "../../src/engine/deps";
import type { MemoryMetrics } from "../../src/host/metrics";
import { type HttpFunction, declaredFunctions } from "../../src/host/register";
import { devAccount } from "../../emulator/azurite";
import { staticTokenCredential } from "../../emulator/stack";
import { GiB, MiB, type TestApp, resourceGroup, useTestApp } from "../support/app";
import { runOf } from "../support/backup";
import { captureProcessOutput, queuedMessages, tableEntities } from "../support/captured-output";
import {
  type DnsGuard,
  type IdentityEndpoint,
  guardPublicDns,
  startIdentityEndpoint,
  startRecordingServer,
  withEnvironment,
} from "../support/identity-probe";
import { type InterceptPoint, intercept } from "../support/intercept";
import { recordOutcome } from "../support/reliability-report";
import { type Captured, type KnownSecret, scanForSecrets, signatureOf } from "../support/secret-scan";

const area = "Security";
const poll = { updateIntervalInMs: 10 };

// What each HTTP function declares to the Functions library (what Azure's host enforces); recorded before the app's
// function modules are loaded by the test app.
const declaredAuthLevels = new Map<string, string | undefined>();
const registerHttp = functionsApp.http;
functionsApp.http = (name, options) => {
  declaredAuthLevels.set(name, options.authLevel);
  registerHttp(name, options);
};

/** Records every read SAS the engine is granted, to look for their signatures verbatim. */
function recordingGrants(deps: Deps, grants: string[]): Deps {
  return {
    ...deps,
    compute: {
      ...deps.compute,
      grantRead: async (...args) => {
        const url = await deps.compute.grantRead(...args);
        grants.push(url);
        return url;
      },
    },
  };
}

describe("security", () => {
  const app = useTestApp();
  const cleanups: (() => Promise<void> | void)[] = [];
  let corpus: Captured[] = [];
  let known: KnownSecret[] = [];
  const grants: string[] = [];

  after(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it("when an HTTP function is called without its function key, then it answers 401, and every HTTP function is registered with authLevel function", async () => {
    const http = declaredFunctions().filter((f): f is HttpFunction => f.kind === "http");
    assert.ok(http.length >= 10, `the HTTP functions are declared (${http.length})`);
    assert.deepEqual(
      http.filter((f) => declaredAuthLevels.get(f.name) !== "function").map((f) => `${f.name}: ${declaredAuthLevels.get(f.name)}`),
      [],
      "every HTTP function is registered with authLevel function",
    );
    const api = await app().host.listen();
    const refusals: string[] = [];
    for (const fn of http) {
      const path = `${api}/${fn.route.replace(/\{\w+\}/g, "x")}`;
      const method = fn.methods[0];
      const attempts: [string, string, Record<string, string>][] = [
        ["no key", path, {}],
        ["a wrong key", path, { "x-functions-key": "wrong" }],
        ["a wrong ?code", `${path}?code=wrong`, {}],
        ["the key of another host", path, { "x-functions-key": app().host.functionKey.slice(1) + "0" }],
      ];
      for (const [what, url, headers] of attempts) {
        const answer = await fetch(url, { method, headers });
        if (answer.status !== 401) refusals.push(`${method} ${fn.route} with ${what}: ${answer.status}`);
      }
      const allowed = await fetch(path, { method, headers: { "x-functions-key": app().host.functionKey } });
      if (allowed.status === 401) refusals.push(`${method} ${fn.route} refused its own key`);
    }
    recordOutcome({
      area,
      scenario: "HTTP functions called over HTTP without a key, with wrong keys (header and ?code=), and with the key",
      runs: 0,
      faults: `${http.length} functions × 4 bad keys`,
      result: `${refusals.length === 0 ? "all" : "NOT all"} answered 401 without a valid key and served with it; ${http.length}/${http.length} registered with authLevel "function"${refusals.length ? `; FAILED: ${refusals.join("; ")}` : ""}`,
    });
    assert.deepEqual(refusals, []);
  });

  it("when a worker runs without a local profile, then every token comes from its managed identity and no request is signed with a key", async () => {
    const identity: IdentityEndpoint = await startIdentityEndpoint();
    const recorder = await startRecordingServer();
    const dnsGuard: DnsGuard = guardPublicDns();
    const restoreEnvironment = withEnvironment(identity.environment);
    let tablesAttempt: Promise<string> = Promise.resolve("");
    // Tables retry in the background after the blocked lookup; the guards stay until the suite ends.
    cleanups.push(
      () => identity.close(),
      () => recorder.close(),
      async () => {
        await tablesAttempt;
        restoreEnvironment();
        dnsGuard.restore();
      },
    );
    const clientId = "5b1c2d3e-0000-4000-8000-00000000abcd";
    const target = { blobEndpoint: `${recorder.url}/diskdeltatarget`, container: "diskdelta", blobName: "disk.vhd" };
    const disk = parseDiskId("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/disks/d")!;
    const settings = loadSettings({ AzureWebJobsStorage__accountName: "diskdeltaapp", AZURE_CLIENT_ID: clientId, DISKDELTA_ARM_ENDPOINT: recorder.url });
    const deps = createDeps(settings);
    tablesAttempt = deps.records.listDisks().then(() => "answered", (error: unknown) => describeError(error));
    assert.equal(await deps.targets(target).size(), undefined);
    await assert.rejects(deps.compute.getDisk(disk), { code: "DiskNotFound" });
    for (let i = 0; i < 250 && !dnsGuard.asked.includes("diskdeltaapp.table.core.windows.net"); i++) await new Promise((r) => setTimeout(r, 20));
    const production = recorder.requests.length;
    assert.ok(production >= 2, "storage and ARM requests reached the recording server");
    assert.deepEqual(recorder.requests.filter((r) => r.authorization !== `Bearer ${identity.token}`), [], "every request carried the managed identity's token");
    assert.ok(identity.requests.length > 0);
    assert.deepEqual(identity.requests.filter((r) => r.clientId !== clientId), [], "every token was asked for the user-assigned identity");
    assert.ok(identity.requests.some((r) => r.resource.startsWith("https://storage.azure.com")), "storage tokens come from the identity");
    assert.ok(dnsGuard.asked.includes("diskdeltaapp.table.core.windows.net"), "tables use the identity-based endpoint, not a connection string");

    // For contrast, the local profile signs with the account key: the same observation tells the two apart.
    const localDeps = createDeps(loadSettings({ AzureWebJobsStorage: app().stack.appStorage.connectionString, DISKDELTA_ARM_ENDPOINT: recorder.url }), {
      local: { armEndpoint: recorder.url, armCredential: staticTokenCredential(), targetCredential: new StorageSharedKeyCredential("diskdeltatarget", app().stack.target.accountKey) },
    });
    const before = recorder.requests.length;
    await localDeps.targets(target).size();
    const local = recorder.requests[before]?.authorization ?? "";
    assert.match(local, /^SharedKey diskdeltatarget:/);
    const scopes = [...new Set(identity.requests.map((r) => r.resource))].join(", ");
    recordOutcome({
      area,
      scenario: "a worker built without a local profile (as in Azure: IDENTITY_ENDPOINT set by the platform, AZURE_CLIENT_ID of the user-assigned identity)",
      runs: 0,
      faults: "none; loopback stand-ins for the identity endpoint, storage and ARM; public DNS blocked",
      result: `${identity.requests.length} token request(s), all to the managed identity endpoint for the configured client id (${scopes}); ${production}/${production} storage and ARM requests carried its bearer token, none a Shared Key signature; tables addressed https://diskdeltaapp.table.core.windows.net; the local profile, for contrast, sent "SharedKey diskdeltatarget:…"`,
    });
  });

  it("when a full backup runs with faults, revoked access and failed runs, then no SAS signature, key or token appears in anything the app lets out", async () => {
    const { stack } = app();
    const output = captureProcessOutput();
    const answers: Captured[] = [];
    /** A worker running with `deps` whose HTTP answers are kept for the scan. */
    const workerWith = (deps: Deps): TestApp => {
      const worker = app().withDeps(deps);
      const invoke = worker.host.invokeHttp;
      worker.host.invokeHttp = async (method, path, body) => {
        const answer = await invoke(method, path, body);
        answers.push({ source: `HTTP ${method} ${path} → ${answer.status}`, text: JSON.stringify(answer.body) ?? "" });
        return answer;
      };
      return worker;
    };
    const recording = workerWith(recordingGrants(app().deps, grants));
    const { host } = recording;
    const runs: { runId: string; state: string; error?: string }[] = [];
    let injected = "";
    let diskKey = "";
    try {
      const steadyFaults = [
        { scope: "blob" as const, kind: "error" as const, status: 500 as const, rate: 0.05 },
        { scope: "data" as const, kind: "error" as const, status: 500 as const, rate: 0.05 },
        { scope: "compute" as const, kind: "error" as const, status: 500 as const, rate: 0.03 },
      ];
      await stack.faults.set(steadyFaults, 17);
      const diskId = await app().createDisk("disk-secure", 4 * GiB);
      const diskName = parseDiskId(diskId)!.name;
      const write = (round: number) => {
        // More page operations than the copy concurrency, so that some start after an outside event.
        for (let i = 0; i < 40; i++) stack.disks.writeSeeded(diskId, (i * 96 + round * 2) * MiB, 256 * 1024, round * 100 + i);
      };
      const activeSnapshot = async () => {
        const { value: state } = await app().deps.records.getState(diskKey);
        const run: RunView = (await app().deps.records.getRun(diskKey, state.activeRunId!))!.value;
        return run.sourceSnapshotId!.split("/").pop()!;
      };
      const syncWith = async (point: InterceptPoint | undefined, event: () => Promise<void>) => {
        const outside = point && intercept(recording.deps, point, 2, event);
        const worker = outside ? workerWith(outside.deps) : recording;
        const run = await runOf(worker, diskKey, await worker.sync(diskKey));
        runs.push(run);
        assert.ok(!outside || outside.fired(), `the outside event after ${point} happened`);
        return run;
      };
      const revoke = async () => app().compute.snapshots.revokeAccess(resourceGroup, await activeSnapshot(), poll);
      // Someone deletes the snapshot, insisting: a copy of the run may be granted access again (after its 403) between
      // the revoke and the delete, which Azure then refuses (409, "has an active SAS").
      const revokeAndDelete = async () => {
        const name = await activeSnapshot();
        for (let attempt = 1; ; attempt++) {
          await app().compute.snapshots.revokeAccess(resourceGroup, name, poll);
          const refused = await app().compute.snapshots.delete(resourceGroup, name, poll).then(() => undefined, (error: unknown) => error);
          if (refused === undefined) return;
          if (statusOf(refused) !== 409 || attempt >= 5) throw refused;
        }
      };

      write(0);
      diskKey = await recording.protect(diskId, { target: { blobEndpoint: stack.target.blobEndpoint, container: "backups", storageAccountId: stack.target.resourceId } });
      assert.equal((await syncWith("target.copyFromUrl", revoke)).state, "succeeded", "full copy with access revoked mid-run (403 from the copy source)");
      write(1);
      await host.invokeHttp("PATCH", `/api/disks/${diskKey}`, { copyMode: "stream" });
      assert.equal((await syncWith("source.read", revoke)).state, "succeeded", "stream copy with access revoked mid-run (403 on the read)");
      await host.invokeHttp("PATCH", `/api/disks/${diskKey}`, { copyMode: "server" });
      write(2);
      await stack.faults.set([...steadyFaults, { scope: "data", kind: "error", status: 500, rate: 1, method: "GET" }], 18);
      assert.equal((await syncWith(undefined, async () => undefined)).state, "failed", "a run that keeps failing");
      await stack.faults.set(steadyFaults, 19);
      assert.equal((await syncWith("target.copyFromUrl", revokeAndDelete)).state, "failed", "a run whose snapshot is deleted");
      write(3);
      assert.equal((await syncWith(undefined, async () => undefined)).state, "succeeded", "the next run recovers");

      const [newest] = await app().restorePoints(diskKey);
      const verify = await host.invokeHttp("POST", `/api/disks/${diskKey}/restore-points/${newest.restorePointId}/verify`);
      assert.equal((verify.body as { equal: boolean }).equal, true);
      const restored = await host.invokeHttp("POST", `/api/disks/${diskKey}/restore-points/${newest.restorePointId}/restore`, { name: `${diskName}-restored`, resourceGroup, location: stack.target.location });
      assert.equal(restored.status, 202, JSON.stringify(restored.body));
      await host.runUntilIdle();
      const restoreStatus = new URL((restored.body as { statusUrl: string }).statusUrl).pathname;
      assert.equal(((await host.invokeHttp("GET", restoreStatus)).body as { state: string }).state, "succeeded");
      for (const path of ["/api/disks", `/api/disks/${diskKey}`, `/api/disks/${diskKey}/runs`, `/api/disks/${diskKey}/restore-points`]) await host.invokeHttp("GET", path);
      for (const run of runs) await host.invokeHttp("GET", `/api/disks/${diskKey}/runs/${run.runId}`);
    } finally {
      const stats = await stack.faults.stats();
      await stack.faults.clear();
      output.stop();
      injected = `${stats.injected.error} injected 500s over ${stats.requests} requests`;
    }

    const failed = runs.filter((r) => r.state === "failed");
    const metrics = (app().deps.metrics as MemoryMetrics).values ?? [];
    corpus = [
      ...app().logs.map((l) => ({ source: `log ${l.level} ${l.functionName}`, text: l.text })),
      ...answers,
      ...(await tableEntities(stack)),
      ...failed.map((r) => ({ source: `error of failed run ${r.runId}`, text: r.error ?? "" })),
      ...(await queuedMessages(stack)),
      ...metrics.map((m) => ({ source: `metric ${m.name}`, text: JSON.stringify(m) })),
      ...output.captured,
    ];
    known = [
      { kind: "target account key", value: stack.target.accountKey },
      { kind: "Azurite development key", value: devAccount.key },
      { kind: "ARM bearer token", value: (await stack.arm.credential.getToken("https://management.azure.com/.default"))!.token },
      { kind: "function key", value: host.functionKey },
      ...grants.map((url) => ({ kind: "signature of a granted SAS", value: signatureOf(url) })),
    ];
    const findings = scanForSecrets(corpus, known);
    const count = (prefix: string) => corpus.filter((c) => c.source.startsWith(prefix)).length;
    const sources = `${count("log")} log lines, ${answers.length} HTTP answers, ${count("table")} table entities, ${failed.length} failed runs' errors, ${count("queue")} queue messages, ${metrics.length} metric points, ${output.captured.length} stdout/stderr writes`;
    recordOutcome({
      area,
      scenario: "secret scan of everything the app let out during a full backup: 5 runs (full, stream, failing, snapshot deleted, recovery), a verify and a restore",
      runs: runs.length,
      faults: `${injected}; read access revoked mid-run twice (403 from the copy source and on a read); 100 % 500 on snapshot reads for one run; a source snapshot deleted mid-run`,
      result: `${findings.length} secrets found in ${sources}; looked for SAS sig=, bearer and SharedKey headers, AccountKey=, and ${known.length} known values (keys, tokens, function key, ${grants.length} granted SAS signatures) verbatim and URL-encoded`,
    });
    assert.deepEqual(runs.map((r) => r.state), ["succeeded", "succeeded", "failed", "failed", "succeeded"]);
    assert.match(failed[0].error ?? "", /gave up after 5 attempts: \[500/);
    assert.match(failed[1].error ?? "", /SnapshotNotFound/);
    assert.ok(grants.length >= 5 && count("log") >= 20 && count("table") >= 8 && answers.length >= 10, `the scan saw real output: ${sources}`);
    assert.deepEqual(findings, []);
  });

  it("when a SAS URL, a key or a token is planted in the captured output, then the scan finds each, and redaction removes them", () => {
    assert.ok(corpus.length > 0 && grants.length > 0, "the full backup ran first and captured output");
    const sas = grants[0];
    const key = app().stack.target.accountKey;
    const planted: Captured[] = [
      { source: "planted log", text: JSON.stringify({ message: "copy failed", source: sas }) },
      { source: "planted error", text: `Put Page From URL failed for ${encodeURIComponent(sas)}` },
      { source: "planted settings", text: `DefaultEndpointsProtocol=https;AccountName=diskdeltatarget;AccountKey=${key};` },
      { source: "planted header", text: '{"authorization":"Bearer eyJ0eXAiOiJKV1QiLCJhbGciOi.payload.signature"}' },
    ];
    const caught = new Set(scanForSecrets([...corpus, ...planted], known).map((f) => f.source));
    assert.deepEqual([...caught].sort(), planted.map((p) => p.source).sort(), "each planted secret is found, and nothing else");
    const afterRedaction = scanForSecrets(planted.map((p) => ({ ...p, text: redact(p.text) })), known.filter((k) => k.kind !== "function key"));
    recordOutcome({
      area,
      scenario: "self-check of the scan: a real granted SAS URL (plain and URL-encoded), the target account key in a connection string and a bearer header planted among the captured output",
      runs: 0,
      faults: `${planted.length} planted secrets`,
      result: `${caught.size}/${planted.length} found by the scan; after redact(): ${afterRedaction.length} found`,
    });
    assert.deepEqual(afterRedaction, [], "what redact() leaves passes the scan");
  });
});
