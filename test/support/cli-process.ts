/** The compiled `diskdelta` CLI run as an operator runs it: a child process with only the environment it is given. */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { before } from "node:test";
import type { TestApp } from "./app";

const cliPath = join(__dirname, "..", "..", "src", "cli", "main.js");

/** What one CLI run printed and how it exited. */
export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI without blocking this process, which serves the API (and the stack) it calls. */
export function runCli(args: readonly string[], env: Record<string, string>): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], { env: { PATH: process.env.PATH ?? "", ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * The CLI against a test app's HTTP API: registers a `before` that makes the app listen and poll its queues, and
 * returns `cli` (asserting the function key is never printed), `succeeds` (asserting exit 0; its stdout) and `env`.
 */
export function useCliAgainst(app: () => TestApp): {
  cli: (...args: string[]) => Promise<CliRun>;
  succeeds: (...args: string[]) => Promise<string>;
  /** The environment that points the CLI at the app. */
  env: () => Record<string, string>;
} {
  let env: Record<string, string> = {};
  const cli = async (...args: string[]): Promise<CliRun> => {
    const run = await runCli(args, env);
    const key = app().host.functionKey;
    assert.ok(!run.stdout.includes(key) && !run.stderr.includes(key), `the function key was printed by: diskdelta ${args.join(" ")}`);
    return run;
  };
  const succeeds = async (...args: string[]): Promise<string> => {
    const run = await cli(...args);
    assert.equal(run.code, 0, `diskdelta ${args.join(" ")} exited ${run.code}:\n${run.stderr}${run.stdout}`);
    return run.stdout;
  };
  before(async () => {
    env = { DISKDELTA_API_URL: await app().host.listen(), DISKDELTA_FUNCTION_KEY: app().host.functionKey };
    // Queues only: a timer firing on the wall clock would start runs the tests' own `sync` then finds in progress.
    app().host.start({ timer: false });
  });
  return { cli, succeeds, env: () => env };
}
