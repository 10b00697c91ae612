#!/usr/bin/env node
/**
 * `diskdelta-local` (package.json `bin`): the local stack's own commands, for the stack `npm run stack` or `npm start`
 * runs in this clone (found through `.local/stack.json`; `DISKDELTA_LOCAL_DIR` moves the directory). See
 * docs/local-stack.md, "Disks on the local stack".
 * Usage: diskdelta-local disk <create|write|trim|snapshot|list|hash> …   |   diskdelta-local stack [--target-endpoint | --storage-account-id]
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { localDirOf } from "../src/cli/local-app";

/**
 * Node trusts extra CAs only through NODE_EXTRA_CA_CERTS, read at start-up, and the stack's TLS certificate is signed
 * by its own CA: unless this process already trusts it, the command runs again in a child that does (as
 * scripts/local-env.ts does for npm scripts), so `npx diskdelta-local` needs nothing exported.
 */
function trustingChild(argv: string[]): Promise<number> | undefined {
  const path = join(localDirOf(process.env), "stack.json");
  let caCertPath: unknown;
  try {
    // Only the CA's path, before the heavy modules load; the whole file is validated when the command reads it.
    caCertPath = (JSON.parse(readFileSync(path, "utf8")) as { caCertPath?: unknown }).caCertPath;
  } catch {
    return undefined; // No stack file, or not JSON: the command says so.
  }
  if (typeof caCertPath !== "string") return undefined;
  if (process.env.NODE_EXTRA_CA_CERTS === caCertPath) return undefined;
  const child = spawn(process.execPath, [__filename, ...argv], { stdio: "inherit", env: { ...process.env, NODE_EXTRA_CA_CERTS: caCertPath } });
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => child.kill(signal));
  return new Promise((resolve) => child.on("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0))));
}

const argv = process.argv.slice(2);
(trustingChild(argv) ?? import("./lib/local-command.js").then((command) => command.runLocalCommand(argv))).then(
  (code) => {
    // exitCode rather than exit(): output piped to another process is flushed first.
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`diskdelta-local: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
