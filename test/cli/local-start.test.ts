/**
 * `npm start` and the CLI as a new user meets them: `npm start` (scripts/start.ts) starts or attaches to a local
 * stack and writes what the CLI needs, and the CLI, given no URL or key, finds the app by itself. Each process runs
 * as a child in its own `.local` directory (DISKDELTA_LOCAL_DIR) holding a copy of this test run's CA, and trusts that
 * copy as `npm start` and `npm run stack` (through scripts/local-env.ts) trust `.local/ca/ca.pem`.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { type Server, createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, it } from "node:test";
import { caCertPath } from "../../emulator/ca";
import { runCli } from "../support/cli-process";

const scripts = join(__dirname, "..", "..", "scripts");

/** A script run as `npm start` runs it, its output collected. */
interface ScriptProcess {
  readonly child: ChildProcess;
  output(): string;
  /** Resolves once the output matches; rejects if the process ends first (with what it printed). */
  waitFor(pattern: RegExp): Promise<string>;
  /** Resolves with the exit code once the process has ended. */
  exited(): Promise<number | null>;
}

function runScript(script: string, localDir: string, env: Record<string, string> = {}): ScriptProcess {
  const child = spawn(process.execPath, [join(scripts, script)], {
    cwd: localDir,
    env: { PATH: process.env.PATH ?? "", NODE_EXTRA_CA_CERTS: join(localDir, "ca", "ca.pem"), DISKDELTA_LOCAL_DIR: localDir, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let text = "";
  const waiters: (() => void)[] = [];
  const onData = (chunk: Buffer) => {
    text += chunk.toString();
    for (const wake of waiters.splice(0)) wake();
  };
  child.stdout?.on("data", onData);
  child.stderr?.on("data", onData);
  const exit = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return {
    child,
    output: () => text,
    exited: () => exit,
    waitFor: (pattern) =>
      new Promise((resolve, reject) => {
        const check = () => {
          if (pattern.test(text)) resolve(text);
          else waiters.push(check);
        };
        void exit.then((code) => {
          if (!pattern.test(text)) reject(new Error(`${script} exited ${code} before printing ${pattern}:\n${text}`));
        });
        check();
      }),
  };
}

/** A fresh `.local` directory holding this run's CA, so the children trust the stacks they start. */
function newLocalDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "diskdelta-start-"));
  cpSync(dirname(caCertPath), join(dir, "ca"), { recursive: true });
  return dir;
}

const apiUrlOf = (output: string): string => /^ {2}API: +(\S+)$/m.exec(output)?.[1] ?? "";

describe("npm start and the CLI on a fresh clone", () => {
  const started: ScriptProcess[] = [];
  const dirs: string[] = [];
  const start = (dir: string, env: Record<string, string> = { PORT: "0" }, script = "start.js") => {
    const process = runScript(script, dir, env);
    started.push(process);
    return process;
  };
  const fresh = () => {
    const dir = newLocalDir();
    dirs.push(dir);
    return dir;
  };
  const stop = async (process: ScriptProcess, signal: NodeJS.Signals = "SIGTERM") => {
    process.child.kill(signal);
    await process.exited();
  };
  after(async () => {
    for (const process of started) if (process.child.exitCode === null && process.child.signalCode === null) await stop(process);
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it("when npm start runs, then it prints the API, key file and endpoints, and the CLI with nothing exported finds the app; the key outlives a restart", async () => {
    const dir = fresh();
    const app = start(dir);
    const output = await app.waitFor(/Press Ctrl-C to stop/);
    const apiUrl = apiUrlOf(output);
    assert.match(apiUrl, /^http:\/\/127\.0\.0\.1:\d+\/api$/);
    assert.match(output, new RegExp(`function key: +in ${join(dir, "function-key")}`));
    assert.match(output, /ARM compute \(disk emulator\): +https:\/\/127\.0\.0\.1:\d+/);
    assert.match(output, /target storage \(blob proxy\): +https:\/\/127\.0\.0\.1:\d+\/diskdeltatarget/);
    assert.match(output, new RegExp(`started a stack in this process and wrote ${join(dir, "stack.json")}`));
    assert.ok(existsSync(join(dir, "stack.json")), "the stack file is written for other processes");
    const key = readFileSync(join(dir, "function-key"), "utf8");
    assert.ok(!output.includes(key), "the key is not printed");

    const listed = await runCli(["list"], { DISKDELTA_LOCAL_DIR: dir });
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /No protected disks/);
    const before = await runCli(["--json", "--api", apiUrl, "list"], { DISKDELTA_LOCAL_DIR: dir });
    assert.equal(before.code, 0, `global options before the command, the key from the local app for its URL: ${before.stderr}`);

    const wrong = await runCli(["list"], { DISKDELTA_LOCAL_DIR: dir, DISKDELTA_FUNCTION_KEY: "0123456789abcdef0123456789abcdef" });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /^error: the function key was refused \(401\/403\): the API answered 401 to the key from DISKDELTA_FUNCTION_KEY/);
    const none = await runCli(["--api", apiUrl.replace("127.0.0.1", "localhost"), "list"], { DISKDELTA_LOCAL_DIR: dir });
    assert.match(none.stderr, /^error: no function key was sent and the API answered 401/, "another URL than the local app's gets no local key");

    await stop(app);
    assert.ok(!existsSync(join(dir, "app.json")), "a stopped app leaves no app file");
    assert.ok(!existsSync(join(dir, "stack.json")), "the stack it started is gone, and its file with it");
    const again = start(dir);
    await again.waitFor(/Press Ctrl-C to stop/);
    assert.equal(readFileSync(join(dir, "function-key"), "utf8"), key, "the same key after a restart");
    await stop(again);
  });

  it("when npm start was killed, then the CLI says the local app is not running, and the next npm start replaces the stale stack file in one line", async () => {
    const dir = fresh();
    const killed = start(dir);
    await killed.waitFor(/Press Ctrl-C to stop/);
    await stop(killed, "SIGKILL");
    assert.ok(existsSync(join(dir, "stack.json")) && existsSync(join(dir, "app.json")), "a killed process leaves its files");

    const unreachable = await runCli(["list"], { DISKDELTA_LOCAL_DIR: dir });
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /cannot reach the API at http:\/\/127\.0\.0\.1:\d+\/api: ECONNREFUSED\nthe URL is the local app's, from .*app\.json: is `npm start` still running\?/);

    const next = start(dir);
    const output = await next.waitFor(/Press Ctrl-C to stop/);
    assert.match(output, new RegExp(`local stack: +${join(dir, "stack.json")} was stale: nothing answers at its endpoints \\(ECONNREFUSED\\): the stack that wrote it \\(pid ${killed.child.pid}\\) is gone; started a stack in this process`));
    assert.doesNotMatch(output, /ECONNREFUSED\n|at .*\.js:\d+/, "no stack trace");
    const listed = await runCli(["list"], { DISKDELTA_LOCAL_DIR: dir });
    assert.equal(listed.code, 0, listed.stderr);
    await stop(next);
  });

  it("when npm run stack is running, then npm start attaches to it and leaves it running when it stops", async () => {
    const dir = fresh();
    const stack = start(dir, {}, "stack.js");
    await stack.waitFor(/Press Ctrl-C to stop/);
    const app = start(dir);
    const output = await app.waitFor(/Press Ctrl-C to stop/);
    assert.match(output, new RegExp(`attached to the running stack of ${join(dir, "stack.json")} \\(pid ${stack.child.pid}\\)`));
    assert.equal((await runCli(["list"], { DISKDELTA_LOCAL_DIR: dir })).code, 0);
    await stop(app);
    assert.ok(existsSync(join(dir, "stack.json")), "the stack file stays: it is npm run stack's");
    assert.equal(stack.child.exitCode, null, "the stack still runs");
    await stop(stack);
  });

  it("when npm run stack is running but npm start does not trust its CA, then npm start exits 1 naming the CA, and the stack and its file are left alone", async () => {
    const dir = fresh();
    const stack = start(dir, {}, "stack.js");
    await stack.waitFor(/Press Ctrl-C to stop/);
    const file = readFileSync(join(dir, "stack.json"), "utf8");
    // A CA that does not sign the stack's certificate: a TLS refusal, not a refused connection, so not "stale".
    const app = start(dir, { PORT: "0", NODE_EXTRA_CA_CERTS: join(dir, "no-such-ca.pem") });
    assert.equal(await app.exited(), 1);
    const caFile = join(dir, "ca", "ca.pem");
    assert.match(app.output(), new RegExp(`^npm start: the stack of ${join(dir, "stack.json")} runs, but this process does not trust its CA ${caFile} \\((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)[^\\n]*export NODE_EXTRA_CA_CERTS=${caFile}$`, "m"));
    assert.equal(readFileSync(join(dir, "stack.json"), "utf8"), file, "the stack file is npm run stack's, unchanged");
    assert.equal(stack.child.exitCode, null, "the stack still runs");
    await stop(stack);
  });

  it("when the port is taken, then npm start exits 1 with one line naming the port and PORT", async () => {
    const dir = fresh();
    const server: Server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const app = start(dir, { PORT: String(port) });
      const code = await app.exited();
      assert.equal(code, 1);
      assert.equal(app.output().trim(), `npm start: port ${port} is in use (another npm start?): stop what listens there, or start on another port with PORT=<port> npm start`);
      assert.ok(!existsSync(join(dir, "app.json")) && !existsSync(join(dir, "stack.json")), "nothing is left to mislead the CLI");
    } finally {
      server.close();
    }
  });
});
