/**
 * The CLI from argv to exit code, with `fetch` answering as the API would in cases the local app cannot produce
 * (an answer echoing the key, a bare 401 from a front end, a status URL on another host). The real API is in test/cli.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runCli } from "../../src/cli/cli";

const key = "fk_0123456789abcdef";
const env = { DISKDELTA_API_URL: "https://app.example/api", DISKDELTA_FUNCTION_KEY: key };

/** Records requests and answers each from `answer`. */
function fakeApi(answer: (url: string, init: RequestInit) => Response) {
  const requests: { url: string; method: string; key: string | undefined }[] = [];
  const fetchImpl = (async (input: string | URL | Request, init: RequestInit = {}) => {
    const url = String(input);
    requests.push({ url, method: init.method ?? "GET", key: (init.headers as Record<string, string>)["x-functions-key"] });
    return answer(url, init);
  }) as typeof fetch;
  return { requests, fetchImpl };
}

async function run(argv: string[], fetchImpl: typeof fetch, runEnv: NodeJS.ProcessEnv = env) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const code = await runCli(argv, runEnv, { stdout: (t) => stdout.push(t), stderr: (t) => stderr.push(t), fetch: fetchImpl, sleep: async () => undefined });
  return { code, stdout: stdout.join("\n"), stderr: stderr.join("\n") };
}

const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

describe("runCli", () => {
  it("when an answer contains the function key or a SAS, then neither is printed", async () => {
    const api = fakeApi(() => json(500, { error: { code: "InternalError", message: `key ${key} and https://a/b?sv=1&sig=s3cr3t leaked` } }));
    const result = await run(["list"], api.fetchImpl);
    assert.equal(result.code, 1);
    assert.equal(result.stderr, "error: InternalError (HTTP 500): key *** and https://a/b?sv=REDACTED&sig=REDACTED leaked");
    assert.equal(api.requests[0].key, key, "the key is sent, only never shown");
  });

  it("when a front end answers 401 without a body to a key, then the CLI says the key was refused and where it came from", async () => {
    const result = await run(["status", "abc"], fakeApi(() => new Response("", { status: 401, statusText: "Unauthorized" })).fetchImpl);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^error: the function key was refused \(401\/403\): the API answered 401 to the key from DISKDELTA_FUNCTION_KEY\ncheck that key/);
  });

  it("when no key is sent and the API answers 403, then the CLI says none was sent, not that one was refused", async () => {
    const result = await run(["status", "abc"], fakeApi(() => new Response("", { status: 403, statusText: "Forbidden" })).fetchImpl, { DISKDELTA_API_URL: env.DISKDELTA_API_URL });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^error: no function key was sent and the API answered 403\npass the function key with --key or DISKDELTA_FUNCTION_KEY/);
  });

  it("when a RestorePoint differs from its source, then the result is printed and the exit code is 3", async () => {
    const api = fakeApi(() => json(200, { equal: false, sourceDigest: "a", targetDigest: "b", mismatches: [{ start: 0, end: 512 }], bytesRead: 1024 }));
    const result = await run(["verify", "abc", "rp1"], api.fetchImpl);
    assert.equal(result.code, 3);
    assert.match(result.stdout, /^RestorePoint rp1 DIFFERS/);
    assert.deepEqual(api.requests.map((r) => `${r.method} ${r.url}`), ["POST https://app.example/api/disks/abc/restore-points/rp1/verify"]);
  });

  it("when the status URL of a run points to another host, then the key goes only to the API's own run route", async () => {
    const api = fakeApi((url) =>
      url.endsWith("/sync")
        ? json(202, { diskKey: "abc", runId: "r1", statusUrl: "https://elsewhere.example/api/disks/abc/runs/r1" })
        : json(200, { diskKey: "abc", runId: "r1", trigger: "manual", state: "failed", error: "disk gone", startedAt: "2026-01-01T00:00:00Z", updatedAt: "2026-01-01T00:00:00Z", step: 0, cursor: 0, windowsDone: 0, bytesChanged: 0, bytesCopied: 0, bytesCleared: 0, requests: 0 }),
    );
    const result = await run(["sync", "abc", "--wait", "--json"], api.fetchImpl);
    assert.equal(result.code, 3, "a failed run is a bad outcome");
    assert.equal((JSON.parse(result.stdout) as { state: string }).state, "failed");
    assert.deepEqual(api.requests.map((r) => r.url), ["https://app.example/api/disks/abc/sync", "https://app.example/api/disks/abc/runs/r1"]);
  });

  it("when --json is given and the API refuses, then the error is JSON on stderr in the API's shape", async () => {
    const api = fakeApi(() => json(409, { error: { code: "RunInProgress", message: "disk abc has an active BackupRun r0" } }));
    const result = await run(["sync", "abc", "--json"], api.fetchImpl);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, "");
    assert.deepEqual(JSON.parse(result.stderr), { error: { code: "RunInProgress", message: "disk abc has an active BackupRun r0", details: [], status: 409 } });
  });

  it("when a refused request names a disk, then the hint names it too", async () => {
    const api = fakeApi(() => json(409, { error: { code: "RunInProgress", message: "busy" } }));
    assert.match((await run(["sync", "abc"], api.fetchImpl)).stderr, /follow the active run with: diskdelta status abc$/);
  });

  describe("a tracked restore", () => {
    const base = {
      diskKey: "abc", restoreId: "rs1", restorePointId: "rp1", newDiskId: "/subscriptions/s/resourceGroups/rg-dr/providers/Microsoft.Compute/disks/d1",
      storageAccountId: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/t", targetBlobUrl: "https://t/c/b", targetSnapshot: "2026-01-01T00:00:00.0000000Z",
      request: { name: "d1", resourceGroup: "rg-dr", location: "northeurope" }, requestedBy: "ops@host", requestedAt: "2026-01-01T00:00:00Z", updatedAt: "2026-01-01T00:00:00Z",
    };
    const creating = { ...base, state: "creating", sourceUri: "https://t/c/b?snapshot=x", createOption: "ImportSecure", startedAt: "2026-01-01T00:00:01Z" };
    const statuses = (...answers: object[]) => {
      let polls = 0;
      return fakeApi((_url, init) =>
        init.method === "POST" ? json(202, { ...base, state: "accepted", statusUrl: "https://app.example/api/disks/abc/restores/rs1" }) : json(200, answers[Math.min(polls++, answers.length - 1)]),
      );
    };

    it("when the restore succeeds, then each state is reported once as progress and the new disk is printed", async () => {
      const api = statuses(creating, creating, { ...creating, state: "succeeded", uniqueId: "u1", sizeBytes: 1024 ** 3, endedAt: "2026-01-01T00:02:00Z" });
      const result = await run(["restore", "abc", "rp1", "--name", "d1", "--resource-group", "rg-dr", "--location", "northeurope"], api.fetchImpl);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stderr, ["restore rs1: creating /subscriptions/s/resourceGroups/rg-dr/providers/Microsoft.Compute/disks/d1 (ImportSecure)", "restore rs1: succeeded"].join("\n"));
      assert.match(result.stdout, /^Restored RestorePoint rp1 as a new managed disk\./);
      assert.match(result.stdout, /Created with\s+ImportSecure/);
      assert.match(result.stdout, /Requested by\s+ops@host/);
      assert.deepEqual(api.requests.map((r) => r.method), ["POST", "GET", "GET", "GET"]);
    });

    it("when the restore fails, then its error is printed and the exit code is 3", async () => {
      const api = statuses({ ...base, state: "failed", error: "InvalidVhd: the blob is not a VHD", endedAt: "2026-01-01T00:00:05Z" });
      const result = await run(["restore", "abc", "rp1", "--name", "d1", "--resource-group", "rg-dr", "--location", "northeurope"], api.fetchImpl);
      assert.equal(result.code, 3);
      assert.match(result.stdout, /^The restore of RestorePoint rp1 failed: InvalidVhd: the blob is not a VHD/);
    });

    it("when the restore outlasts --timeout, then the exit code is 4 and the note says how to follow it", async () => {
      const api = statuses(creating);
      const result = await run(["restore", "abc", "rp1", "--name", "d1", "--resource-group", "rg-dr", "--location", "northeurope", "--interval", "1", "--timeout", "2"], api.fetchImpl);
      assert.equal(result.code, 4);
      assert.match(result.stderr, /gave up waiting after 2s; the restore goes on\. Follow it with: diskdelta restores abc/);
    });

    it("when --no-wait is given, then the accepted restore is printed without polling", async () => {
      const api = statuses(creating);
      const result = await run(["restore", "abc", "rp1", "--name", "d1", "--resource-group", "rg-dr", "--location", "northeurope", "--no-wait"], api.fetchImpl);
      assert.equal(result.code, 0);
      assert.match(result.stdout, /^The restore of RestorePoint rp1 is accepted\./);
      assert.deepEqual(api.requests.map((r) => r.method), ["POST"]);
    });
  });
});
