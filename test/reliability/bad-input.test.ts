/**
 * Bad input: malformed ProtectedDisk rows, queue messages and HTTP requests each get an answer that names what is
 * wrong (timer log, GET /api/disks, the host's log line, the HTTP error body); the host keeps working, and what
 * was backed up before stays exactly as it was. Each test checks that for itself on a disk backed up before the
 * suite, so any one of them can run alone.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { type QueueName, queueNames } from "../../src/adapters/queues";
import { loadSettings } from "../../src/config";
import type { RunView } from "../../src/domain/records";
import { diskKeyOf } from "../../src/domain/model";
import { runCopyStep } from "../../src/engine/copy-step";
import { GiB, MiB, useTestApp } from "../support/app";
import { runOf, syncAndVerify } from "../support/backup";
import { type BackupBaseline, assertBackupsUnchanged, takeBaseline } from "../support/backup-baseline";
import { intercept } from "../support/intercept";
import { base64, disksTable, peekTexts, rawQueue, runsTable } from "../support/raw-input";
import { recordOutcome } from "../support/reliability-report";

const area = "Bad input";
const quietLog = { info: () => undefined, warn: () => undefined, error: () => undefined };
type ErrorBody = { error: { code: string; message: string; details?: string[] } };

/** What a case expected against what it got, for the assertion message and the outcome row. */
function failuresOf(results: { name: string; problem?: string }[]): string[] {
  return results.filter((r) => r.problem).map((r) => `${r.name}: ${r.problem}`);
}

describe("bad input", () => {
  const app = useTestApp();
  // The disk the bad input is aimed at, backed up twice before the tests; each test leaves it backed up and idle.
  let diskKey: string;
  let diskId: string;
  let restorePointId: string;
  let baseline: BackupBaseline;

  /** Log lines the host wrote while `work` ran. */
  async function logsDuring(work: () => Promise<void>): Promise<string> {
    const mark = app().logs.length;
    await work();
    return app().logs.slice(mark).map((l) => `[${l.level}] ${l.functionName}: ${l.text}`).join("\n");
  }

  /** What bad input must leave alone: the disk's earlier RestorePoints, and the host (no failure escaped a handler since `mark`). */
  async function assertUnharmed(mark: number): Promise<void> {
    await assertBackupsUnchanged(app(), baseline);
    const escaped = app().logs.slice(mark).filter((l) => /delivery failed|queue poll failed/.test(l.text));
    assert.deepEqual(escaped, [], "no failure escaped a handler");
  }

  before(async () => {
    const { stack } = app();
    diskId = await app().createDisk("disk-good", 4 * GiB);
    stack.disks.writeSeeded(diskId, 0, 2 * MiB, 1);
    stack.disks.writeSeeded(diskId, 3 * GiB, 1 * MiB, 2);
    diskKey = await app().protect(diskId);
    await syncAndVerify(app(), diskKey);
    stack.disks.writeSeeded(diskId, 1 * GiB, 1 * MiB, 3);
    restorePointId = (await syncAndVerify(app(), diskKey)).point.restorePointId;
    baseline = await takeBaseline(app(), diskKey);
  });

  it("when ProtectedDisk rows are malformed, then the timer and the API name the bad column of each, and they are skipped", async () => {
    const { stack } = app();
    const mark = app().logs.length;
    const sub = stack.arm.subscriptionId;
    const validDiskId = (n: number) => `/subscriptions/${sub}/resourceGroups/rg-app/providers/Microsoft.Compute/disks/row-${n}`;
    const valid = (n: number) => ({ diskId: validDiskId(n), targetBlobEndpoint: "https://target.example", schedule: "every 1h" });
    const rows: { name: string; partitionKey: string; entity: Record<string, unknown>; problem: RegExp }[] = [
      { name: "diskId missing", partitionKey: "badrow-no-diskid", entity: { targetBlobEndpoint: "https://target.example" }, problem: /^diskId: / },
      { name: "diskId a number", partitionKey: "badrow-number", entity: { ...valid(0), diskId: 42 }, problem: /^diskId: / },
      { name: "diskId of a snapshot", partitionKey: "badrow-snapshot", entity: { ...valid(0), diskId: validDiskId(0).replace("/disks/", "/snapshots/") }, problem: /^diskId: must be a managed disk resource id/ },
      { name: "schedule not a schedule", partitionKey: diskKeyOf(validDiskId(1)), entity: { ...valid(1), schedule: "often" }, problem: /^schedule: expected "every <n>m\|h\|d" or an NCRONTAB/ },
      { name: "negative keepLast", partitionKey: diskKeyOf(validDiskId(2)), entity: { ...valid(2), retentionKeepLast: -3 }, problem: /^retentionKeepLast: / },
      { name: "fractional keepLast", partitionKey: diskKeyOf(validDiskId(3)), entity: { ...valid(3), retentionKeepLast: 2.5 }, problem: /^retentionKeepLast: / },
      { name: "http target endpoint", partitionKey: diskKeyOf(validDiskId(4)), entity: { ...valid(4), targetBlobEndpoint: "http://target.example" }, problem: /^targetBlobEndpoint: must be the https blob endpoint/ },
      { name: "partitionKey not matching diskId", partitionKey: "badrow-wrong-key", entity: valid(5), problem: new RegExp(`^partitionKey: does not match diskId \\(expected ${diskKeyOf(validDiskId(5))}\\)`) },
      { name: "enabled a string", partitionKey: diskKeyOf(validDiskId(6)), entity: { ...valid(6), enabled: "yes" }, problem: /^enabled: / },
      { name: "unknown snapshotMode", partitionKey: diskKeyOf(validDiskId(7)), entity: { ...valid(7), snapshotMode: "sometimes" }, problem: /^snapshotMode: / },
      { name: "invalid container name", partitionKey: diskKeyOf(validDiskId(8)), entity: { ...valid(8), targetContainer: "Bad_Container" }, problem: /^targetContainer: must be a valid container name/ },
      { name: "rpoAlertMinutes 0", partitionKey: diskKeyOf(validDiskId(9)), entity: { ...valid(9), rpoAlertMinutes: 0 }, problem: /^rpoAlertMinutes: / },
    ];
    const table = disksTable(stack);
    for (const row of rows) await table.upsertEntity({ partitionKey: row.partitionKey, rowKey: "config", ...row.entity }, "Replace");

    const tickLog = await logsDuring(() => app().host.tick());
    const listed = (await app().host.invokeHttp("GET", "/api/disks")).body as { disks: { diskKey: string }[]; invalid: { partitionKey: string; problems: string[] }[] };
    const results = [];
    for (const row of rows) {
      const inTimer = tickLog.split("\n").find((line) => line.includes("invalid ProtectedDisk row skipped") && line.includes(`diskdeltaDisks/${row.partitionKey}/config`));
      const timerProblems = inTimer ? (JSON.parse(inTimer.slice(inTimer.indexOf("{"))) as { problems: string[] }).problems : [];
      const inApi = listed.invalid.find((r) => r.partitionKey === row.partitionKey)?.problems ?? [];
      const direct = await app().host.invokeHttp("GET", `/api/disks/${row.partitionKey}`);
      const directMessage = (direct.body as ErrorBody).error?.message ?? "";
      const problem = !timerProblems.some((p) => row.problem.test(p))
        ? `timer said ${JSON.stringify(timerProblems)}`
        : !inApi.some((p) => row.problem.test(p))
          ? `GET /api/disks said ${JSON.stringify(inApi)}`
          : direct.status < 400 || !directMessage.includes(`diskdeltaDisks/${row.partitionKey}/config`)
            ? `GET /api/disks/{key} answered ${direct.status} ${directMessage}`
            : undefined;
      results.push({ name: row.name, problem });
    }
    const failures = failuresOf(results);
    assert.ok(listed.disks.some((d) => d.diskKey === diskKey), "the valid disk is still listed");
    assert.doesNotMatch(tickLog, /BackupRun queued/, "no run started for an invalid row");
    await assertUnharmed(mark);
    recordOutcome({
      area,
      scenario: "malformed ProtectedDisk rows written straight into diskdeltaDisks (missing/number/snapshot diskId, bad schedule, negative and fractional keepLast, http endpoint, partitionKey ≠ diskId, enabled as text, unknown snapshotMode, bad container, rpoAlertMinutes 0)",
      runs: 0,
      faults: `${rows.length} bad rows`,
      result: `${rows.length - failures.length}/${rows.length} named the bad column in the timer's log, GET /api/disks and GET /api/disks/{key}; none started a run; the valid disk still listed, its ${baseline.digests.size} RestorePoints unchanged${failures.length ? `; FAILED: ${failures.join("; ")}` : ""}`,
    });
    assert.deepEqual(failures, []);
  });

  it("when a backed-up disk's row is made invalid, then it is skipped with the column named, its RestorePoints stay, and fixing the row resumes it", async () => {
    const mark = app().logs.length;
    const table = disksTable(app().stack);
    const original = await table.getEntity<Record<string, unknown>>(diskKey, "config");
    const { etag: _etag, timestamp: _timestamp, ...fields } = original;
    await table.updateEntity({ partitionKey: diskKey, rowKey: "config", retentionKeepLast: -1 }, "Merge");
    let sync;
    try {
      sync = await app().host.invokeHttp("POST", `/api/disks/${diskKey}/sync`);
      assert.ok(sync.status >= 400, "no run is started from an invalid row");
      assert.match((sync.body as ErrorBody).error.message, new RegExp(`diskdeltaDisks/${diskKey}/config: retentionKeepLast: `));
      const { value: state } = await app().deps.records.getState(diskKey);
      assert.equal(state.activeRunId, undefined, "the disk was not claimed");
      const tickLog = await logsDuring(() => app().host.tick());
      assert.match(tickLog, new RegExp(`invalid ProtectedDisk row skipped.*diskdeltaDisks/${diskKey}/config.*retentionKeepLast`));
      await assertUnharmed(mark);
    } finally {
      await table.updateEntity(fields as { partitionKey: string; rowKey: string }, "Replace");
    }
    assert.equal((await app().host.invokeHttp("GET", `/api/disks/${diskKey}`)).status, 200);
    recordOutcome({
      area,
      scenario: "a backed-up disk's row edited to retentionKeepLast = -1, then restored",
      runs: 0,
      faults: "1 bad row on a protected disk",
      result: `sync answered ${sync.status} naming retentionKeepLast; timer skipped it naming the column; ${baseline.digests.size} RestorePoints unchanged; row restored and the disk answers again`,
    });
  });

  it("when queue messages are malformed, then each is dropped or kept in the poison queue with a log line naming what is wrong", async () => {
    const { stack } = app();
    const mark = app().logs.length;
    const good = { v: 1, kind: "copy-step", diskKey, runId: "0000000000000-none", step: 0, cursor: 0, windowBytes: 64 * MiB };
    const finishedRun = (await app().deps.records.listRuns(diskKey, 1))[0];
    const json = (value: unknown) => base64(JSON.stringify(value));
    const cases: { name: string; queue: QueueName; text: string; log: RegExp; poison?: boolean }[] = [
      { name: "not base64", queue: queueNames.copySteps, text: "this is not base64!", log: /not valid base64; moved to copy-steps-poison/, poison: true },
      { name: "base64 of non-JSON", queue: queueNames.copySteps, text: base64("hello, world"), log: /invalid queue message dropped.*\(message\): Invalid input: expected object, received string/ },
      { name: "a JSON array", queue: queueNames.runStarts, text: json([1, 2]), log: /invalid queue message dropped.*expected object, received array/ },
      { name: "JSON null", queue: queueNames.finalizations, text: json(null), log: /invalid queue message dropped.*expected object, received null/ },
      { name: "fields missing", queue: queueNames.copySteps, text: json({ v: 1, kind: "copy-step", diskKey, runId: "r" }), log: /invalid queue message dropped.*"step: .*"cursor: .*"windowBytes: / },
      { name: "step of the wrong type", queue: queueNames.copySteps, text: json({ ...good, step: "one" }), log: /invalid queue message dropped.*"step: Invalid input: expected number, received string"/ },
      { name: "negative cursor", queue: queueNames.copySteps, text: json({ ...good, cursor: -512 }), log: /invalid queue message dropped.*"cursor: Too small/ },
      { name: "huge step", queue: queueNames.copySteps, text: json({ ...good, step: 1e300 }), log: /invalid queue message dropped.*"step: / },
      { name: "zero windowBytes", queue: queueNames.copySteps, text: json({ ...good, windowBytes: 0 }), log: /invalid queue message dropped.*"windowBytes: Too small/ },
      { name: "kind of another queue", queue: queueNames.runStarts, text: json({ v: 1, kind: "finalize", diskKey, runId: "r" }), log: /invalid queue message dropped.*"kind: / },
      { name: "unknown field", queue: queueNames.finalizations, text: json({ v: 1, kind: "finalize", diskKey, runId: "r", force: true }), log: /invalid queue message dropped.*Unrecognized key: \\"force\\"/ },
      { name: "version as text", queue: queueNames.runStarts, text: json({ v: "1", kind: "run-start", diskKey, runId: "r" }), log: /invalid queue message dropped.*"v: / },
      { name: "unknown run (run-start)", queue: queueNames.runStarts, text: json({ v: 1, kind: "run-start", diskKey, runId: "no-such-run" }), log: /run-start for an unknown BackupRun dropped.*no-such-run/ },
      { name: "unknown run (copy-step)", queue: queueNames.copySteps, text: json(good), log: /copy-step for an unknown BackupRun dropped.*0000000000000-none/ },
      { name: "unknown disk (finalize)", queue: queueNames.finalizations, text: json({ v: 1, kind: "finalize", diskKey: "0000000000000000", runId: "r" }), log: /finalize for an unknown BackupRun dropped.*0000000000000000/ },
      { name: "finalize replayed for a finished run", queue: queueNames.finalizations, text: json({ v: 1, kind: "finalize", diskKey, runId: finishedRun.runId }), log: new RegExp(`stale[^\\n]*${finishedRun.runId}`) },
      { name: "copy-step replayed for a finished run", queue: queueNames.copySteps, text: json({ ...good, runId: finishedRun.runId }), log: new RegExp(`stale[^\\n]*${finishedRun.runId}`) },
      { name: "unknown version v: 2 (run-start)", queue: queueNames.runStarts, text: json({ v: 2, kind: "run-start", diskKey, runId: "r" }), log: /attempt 5 failed: message version 2 is not understood/, poison: true },
      { name: "unknown version v: 2 (copy-step)", queue: queueNames.copySteps, text: json({ ...good, v: 2, shape: "new" }), log: /attempt 5 failed: message version 2 is not understood/, poison: true },
      { name: "unknown version v: 3 (finalize)", queue: queueNames.finalizations, text: json({ v: 3, kind: "finalize", diskKey, runId: finishedRun.runId }), log: /attempt 5 failed: message version 3 is not understood/, poison: true },
    ];
    const results = [];
    for (const c of cases) {
      const log = await logsDuring(async () => {
        await rawQueue(stack, c.queue).sendMessage(c.text);
        await app().host.runUntilIdle({ timeoutMs: 30_000 });
      });
      const kept = c.poison ? (await peekTexts(rawQueue(stack, `${c.queue}-poison`))).includes(c.text) : true;
      const problem = !c.log.test(log.replace(/\n/g, " ")) ? `log said: ${log || "(nothing)"}` : !kept ? `not found unchanged in ${c.queue}-poison` : undefined;
      results.push({ name: c.name, problem });
    }
    const failures = failuresOf(results);
    const poisoned = cases.filter((c) => c.poison).length;
    const finishedAfter = (await runOf(app(), diskKey, finishedRun.runId)).state;
    await assertUnharmed(mark);
    // Replays for the finished run must not have moved the chain: the next sync diffs from the same base.
    app().stack.disks.writeSeeded(diskId, 2 * GiB, 1 * MiB, 4);
    const { run: next } = await syncAndVerify(app(), diskKey);
    assert.equal(next.fullCopyReason, undefined, "the chain went on from the same base");
    recordOutcome({
      area,
      scenario: "malformed queue messages sent raw to run-starts / copy-steps / run-finalizations (not base64, non-JSON, array, null, missing fields, wrong types, negative cursor, huge step, zero window, wrong kind, unknown field, v as text, unknown run/disk, replays for a finished run, unknown versions)",
      runs: 1,
      faults: `${cases.length} bad messages`,
      result: `${cases.length - failures.length}/${cases.length} answered with a log line naming the problem; ${cases.length - poisoned} dropped, ${poisoned} kept unchanged in <queue>-poison; finished run ${finishedAfter}; ${baseline.digests.size} earlier RestorePoints unchanged; no error escaped a handler; the next incremental sync verified${failures.length ? `; FAILED: ${failures.join("; ")}` : ""}`,
    });
    assert.deepEqual(failures, []);
    assert.equal(finishedAfter, "succeeded", "replays did not reopen the finished run");
  });

  it("when HTTP requests are malformed, then each answer is a 4xx whose error names what is wrong", async () => {
    const mark = app().logs.length;
    const configBefore = ((await app().host.invokeHttp("GET", `/api/disks/${diskKey}`)).body as { config: unknown }).config;
    const endpoint = app().stack.target.blobEndpoint;
    const restore = `/api/disks/${diskKey}/restore-points/${restorePointId}/restore`;
    const goodRestore = { name: "restored", resourceGroup: "rg-restore", location: "northeurope" };
    const injection = encodeURIComponent("x' or PartitionKey ne 'x");
    const cases: { name: string; method: string; path: string; body?: unknown; status: number; says: RegExp }[] = [
      { name: "diskId of the wrong type", method: "POST", path: "/api/disks", body: { diskId: 42, target: { blobEndpoint: endpoint } }, status: 400, says: /diskId: Invalid input: expected string/ },
      { name: "target missing", method: "POST", path: "/api/disks", body: { diskId }, status: 400, says: /target: / },
      { name: "unknown field", method: "POST", path: "/api/disks", body: { diskId, target: { blobEndpoint: endpoint }, colour: "blue" }, status: 400, says: /Unrecognized key: "colour"/ },
      { name: "invalid JSON", method: "POST", path: "/api/disks", body: "{not json", status: 400, says: /InvalidJson|not valid JSON/ },
      { name: "body a JSON array", method: "POST", path: "/api/disks", body: "[]", status: 400, says: /\(body\): Invalid input: expected object, received array/ },
      { name: "body JSON null", method: "POST", path: "/api/disks", body: "null", status: 400, says: /\(body\): Invalid input: expected object, received null/ },
      { name: "oversized body", method: "POST", path: "/api/disks", body: { diskId: "x".repeat(70 * 1024) }, status: 413, says: /larger than 65536 bytes/ },
      { name: "http target endpoint", method: "POST", path: "/api/disks", body: { diskId, target: { blobEndpoint: "http://target.example" } }, status: 400, says: /target\.blobEndpoint: must be the https blob endpoint/ },
      { name: "SAS in the target endpoint", method: "POST", path: "/api/disks", body: { diskId, target: { blobEndpoint: `${endpoint}?sv=2022-11-02&sig=s3cr3t` } }, status: 400, says: /target\.blobEndpoint: must be the blob endpoint alone, without a SAS/ },
      { name: "password in the catalog endpoint", method: "POST", path: "/api/catalog/rebuild", body: { blobEndpoint: endpoint.replace("https://", "https://ops:s3cr3t@") }, status: 400, says: /: blobEndpoint: must be the blob endpoint alone/ },
      { name: "query in the diskId", method: "POST", path: "/api/disks", body: { diskId: `${diskId}?x=1`, target: { blobEndpoint: endpoint } }, status: 400, says: /: diskId: must be the resource id alone/ },
      { name: "negative keepLast", method: "POST", path: "/api/disks", body: { diskId, target: { blobEndpoint: endpoint }, retention: { keepLast: -1 } }, status: 400, says: /retention\.keepLast: Too small/ },
      { name: "PATCH of an unknown disk", method: "PATCH", path: "/api/disks/0000000000000000", body: { enabled: false }, status: 404, says: /no protected disk 0000000000000000/ },
      { name: "PATCH changing the diskId", method: "PATCH", path: `/api/disks/${diskKey}`, body: { diskId: "/x" }, status: 400, says: /Unrecognized key: "diskId"/ },
      { name: "PATCH with a bad schedule", method: "PATCH", path: `/api/disks/${diskKey}`, body: { schedule: "sometimes" }, status: 400, says: /schedule: expected "every/ },
      { name: "PATCH with a string body", method: "PATCH", path: `/api/disks/${diskKey}`, body: '"enable it"', status: 400, says: /expected object, received string/ },
      { name: "sync of an unknown disk", method: "POST", path: "/api/disks/0000000000000000/sync", status: 404, says: /no protected disk 0000000000000000/ },
      { name: "restore of an unknown RestorePoint", method: "POST", path: `/api/disks/${diskKey}/restore-points/nope/restore`, body: goodRestore, status: 404, says: /no RestorePoint nope/ },
      { name: "restore with a bad disk name", method: "POST", path: restore, body: { ...goodRestore, name: "bad name!" }, status: 400, says: /name: must be a disk name/ },
      { name: "restore without resourceGroup and location", method: "POST", path: restore, body: { name: "restored" }, status: 400, says: /resourceGroup: .*location: / },
      { name: "restore with diskSizeGB as text", method: "POST", path: restore, body: { ...goodRestore, diskSizeGB: "big" }, status: 400, says: /diskSizeGB: Invalid input: expected number/ },
      { name: "restore smaller than the disk", method: "POST", path: restore, body: { ...goodRestore, diskSizeGB: 2 }, status: 400, says: /diskSizeGB: 2 GiB is smaller than the disk RestorePoint \S+ holds \(4294967296 bytes, 4 GiB\)/ },
      { name: "restore with an unknown field", method: "POST", path: restore, body: { ...goodRestore, overwrite: true }, status: 400, says: /Unrecognized key: "overwrite"/ },
      { name: "restore with a storage account id that is not one", method: "POST", path: restore, body: { ...goodRestore, storageAccountId: "/subscriptions/x/resourceGroups/y/providers/Microsoft.Compute/disks/z" }, status: 400, says: /storageAccountId: must be a storage account resource id/ },
      { name: "verify of an unknown RestorePoint", method: "POST", path: `/api/disks/${diskKey}/restore-points/nope/verify`, status: 404, says: /no RestorePoint nope/ },
      { name: "runs with limit=abc", method: "GET", path: `/api/disks/${diskKey}/runs?limit=abc`, status: 400, says: /limit: must be an integer from 1 to 500/ },
      { name: "filter injection in the diskKey (restore points)", method: "GET", path: `/api/disks/${injection}/restore-points`, status: 200, says: /^\{"restorePoints":\[\],"protected":false,"kept":\[\]\}$/ },
      { name: "filter injection in the diskKey (runs)", method: "GET", path: `/api/disks/${injection}/runs`, status: 200, says: /^\{"runs":\[\]\}$/ },
    ];
    const results = [];
    for (const c of cases) {
      const answer = await app().host.invokeHttp(c.method, c.path, c.body);
      const text = answer.status < 400 ? JSON.stringify(answer.body) : ((answer.body as ErrorBody).error?.message ?? JSON.stringify(answer.body));
      const problem = answer.status !== c.status || !c.says.test(text) ? `answered ${answer.status} ${text.slice(0, 300)}` : undefined;
      results.push({ name: c.name, problem });
    }
    const failures = failuresOf(results);
    assert.ok(!app().logs.slice(mark).some((l) => l.text.includes("s3cr3t")), "no refused credential reaches the log");
    const configAfter = ((await app().host.invokeHttp("GET", `/api/disks/${diskKey}`)).body as { config: unknown }).config;
    await assertUnharmed(mark);
    recordOutcome({
      area,
      scenario: "malformed HTTP requests (wrong types, missing and unknown fields, invalid JSON, array/null/string bodies, oversized, http endpoint, unknown disk or RestorePoint, bad restore requests, bad query, filter injection in the diskKey)",
      runs: 0,
      faults: `${cases.length} bad requests`,
      result: `${cases.length - failures.length}/${cases.length} answered with the expected status and an error naming the field or object; injected filters matched nothing; the disk's config and its ${baseline.digests.size} RestorePoints unchanged${failures.length ? `; FAILED: ${failures.join("; ")}` : ""}`,
    });
    assert.deepEqual(failures, []);
    assert.deepEqual(configAfter, configBefore, "rejected PATCHes changed nothing");
  });

  it("when a well-formed copy-step claims a later step and a cursor past the end of an active run, then it is ignored and the RestorePoint is complete", async () => {
    const { stack } = app();
    const forgedDiskId = await app().createDisk("disk-forged", 2 * GiB);
    stack.disks.writeSeeded(forgedDiskId, 0, 1 * MiB, 5);
    const forgedKey = await app().protect(forgedDiskId);
    await syncAndVerify(app(), forgedKey);
    stack.disks.writeSeeded(forgedDiskId, 1 * GiB, 1 * MiB, 6);
    const started = await app().host.invokeHttp("POST", `/api/disks/${forgedKey}/sync`);
    const runId = (started.body as { runId: string }).runId;
    // Right after the genuine first CopyStep is queued, a forged one for the same run is handled first.
    const forging = intercept(app().deps, "queues.send", 1, async () => {
      const run: RunView = (await app().deps.records.getRun(forgedKey, runId))!.value;
      const forged = { v: 1 as const, kind: "copy-step" as const, diskKey: forgedKey, runId, step: 7, cursor: run.blobBytes! - 512, windowBytes: 64 * MiB };
      await runCopyStep(app().deps, forged, quietLog);
    });
    await app().withDeps(forging.deps).host.runUntilIdle();
    const run = await runOf(app(), forgedKey, runId);
    const point = (await app().restorePoints(forgedKey)).find((p) => p.runId === runId);
    const check = point ? await app().verify(point) : undefined;
    recordOutcome({
      area,
      scenario: "a well-formed copy-step with step 7 and cursor = end of disk, handled before the genuine step 0 of an active run",
      runs: 2,
      faults: "1 forged message",
      result: `run ${run.state}, ${run.bytesCopied / MiB} MiB copied of 1 MiB changed; RestorePoint ${point ? (check!.equal ? "equal to its snapshot" : `DIFFERS at ${JSON.stringify(check!.mismatches)}`) : "not recorded"}`,
    });
    assert.ok(forging.fired());
    assert.equal(run.state, "succeeded", run.error);
    assert.equal(run.bytesCopied, 1 * MiB, "the genuine step copied the change");
    assert.ok(point && check!.equal, `an incomplete RestorePoint was recorded: mismatches ${JSON.stringify(check?.mismatches)}`);
  });

  it("when a copying BackupRun's row loses its lease column, then its next step fails it naming the field, the disk is released and the next sync is the disk", async () => {
    const mark = app().logs.length;
    app().stack.disks.writeSeeded(diskId, 2 * GiB, 1 * MiB, 7);
    const started = await app().host.invokeHttp("POST", `/api/disks/${diskKey}/sync`);
    const runId = (started.body as { runId: string }).runId;
    // Right after prepare recorded the run as copying and queued its first CopyStep, someone edits the row by hand.
    const editing = intercept(app().deps, "queues.send", 1, async () => {
      const table = runsTable(app().stack);
      const { leaseId: _dropped, ...row } = await table.getEntity<Record<string, unknown>>(diskKey, runId);
      await table.updateEntity({ ...row, partitionKey: diskKey, rowKey: runId }, "Replace");
    });
    const log = await logsDuring(() => app().withDeps(editing.deps).host.runUntilIdle());
    const status = (await app().host.invokeHttp("GET", `/api/disks/${diskKey}`)).body as { activeRun?: RunView; lastRunState?: string; lastError?: string };
    const read = await app().host.invokeHttp("GET", `/api/disks/${diskKey}/runs/${runId}`);
    recordOutcome({
      area,
      scenario: "a copying BackupRun row edited by hand: its leaseId column removed",
      runs: 2,
      faults: "1 invalid BackupRun row",
      result: `run failed: ${status.lastError}; disk ${status.activeRun ? "still held" : "released"}; GET run answers ${read.status}`,
    });
    assert.ok(editing.fired());
    assert.equal(status.activeRun, undefined, "the disk is released");
    assert.equal(status.lastRunState, "failed");
    assert.match(status.lastError ?? "", /InvalidRecord.*leaseId: .*a copying BackupRun/);
    assert.match(log, /BackupRun record cannot be read; the disk is released/);
    assert.equal(read.status, 409, "the unreadable run is reported, not guessed at");
    assert.match(JSON.stringify(read.body), /leaseId/);
    assert.ok(!(await app().restorePoints(diskKey)).some((p) => p.runId === runId), "no RestorePoint from the unreadable run");
    await assertUnharmed(mark);
    await syncAndVerify(app(), diskKey);
  });

  it("when DISKDELTA_DIFF_WINDOW_BYTES would end windows off page boundaries, then the app settings are refused naming it", () => {
    const settings = { AzureWebJobsStorage: "UseDevelopmentStorage=true", DISKDELTA_DIFF_WINDOW_BYTES: String(64 * MiB + 1) };
    let refused: string | undefined;
    try {
      loadSettings(settings);
    } catch (error) {
      refused = (error as Error).message;
    }
    recordOutcome({
      area,
      scenario: "app setting DISKDELTA_DIFF_WINDOW_BYTES = 64 MiB + 1",
      runs: 0,
      faults: "1 bad app setting",
      result: refused ? `refused: ${refused.replace(/\s+/g, " ")}` : "accepted by loadSettings",
    });
    assert.match(refused ?? "", /DISKDELTA_DIFF_WINDOW_BYTES: /);
  });
});
