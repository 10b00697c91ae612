/**
 * Runs the compiled test files with Node's test runner and the local CA trusted.
 * Usage: run-tests [folder under dist/test ...]; with none, every *.test.js file.
 */
import { spawn } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { caCertPath, ensureLocalCa } from "../emulator/ca";

const root = resolve(__dirname, "..", "test");

function findTests(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return findTests(path);
    return name.endsWith(".test.js") ? [path] : [];
  });
}

async function main(): Promise<void> {
  await ensureLocalCa();
  const folders = process.argv.slice(2);
  const files = (folders.length ? folders.map((f) => join(root, f)) : [root]).flatMap(findTests).sort();
  if (files.length === 0) throw new Error(`no test files under ${root}`);
  // Two files at a time on CI's two cores: each file starts its own local stack on free ports, and most of a file's
  // time is waiting on it. DISKDELTA_TEST_CONCURRENCY=1 runs them one by one.
  const concurrency = Number(process.env.DISKDELTA_TEST_CONCURRENCY ?? "2");
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`DISKDELTA_TEST_CONCURRENCY: a whole number ≥ 1, not "${process.env.DISKDELTA_TEST_CONCURRENCY}"`);
  const child = spawn(process.execPath, ["--test", `--test-concurrency=${concurrency}`, ...files], {
    stdio: "inherit",
    // The conformance suite runs against the local stack here, whatever the shell says; live runs are `npm run conformance -- --live`.
    env: { ...process.env, NODE_EXTRA_CA_CERTS: caCertPath, DISKDELTA_CONFORMANCE_MODE: "local" },
  });
  child.on("exit", (code) => process.exit(code ?? 1));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
