#!/usr/bin/env node
/**
 * `diskdelta-local` (package.json `bin`): the local stack's own commands, for the stack `npm run stack` or `npm start`
 * runs in this clone (found through `.local/stack.json`; `DISKDELTA_LOCAL_DIR` moves the directory). See
 * docs/local-stack.md, "Disks on the local stack".
 * Usage: diskdelta-local disk <create|write|trim|snapshot|list|hash> …   |   diskdelta-local stack [--target-endpoint | --storage-account-id]
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { connectToStack, readStackFile } from "../emulator/stack";
import { localDirOf } from "../src/cli/local-app";
import { UsageError, diskUsage, runDiskCommand } from "./lib/disk-command";
import { probeStackFile, stackLines } from "./lib/stack-file";

const usage = `Usage: diskdelta-local <command> …

Commands:
  disk …     create, write, trim, snapshot, list and hash managed disks (diskdelta-local disk --help)
  stack [--target-endpoint | --storage-account-id]
             the running local stack's endpoints (never a key); with an option, only that value, named as
             npx diskdelta protect names it

The stack is the one npm run stack or npm start runs in this clone (.local/stack.json).`;

const io = {
  out: (line: string) => process.stdout.write(`${line}\n`),
  err: (line: string) => process.stderr.write(`${line}\n`),
};

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    io.out(usage);
    return 0;
  }
  if (command === "disk" && (rest.length === 0 || rest[0] === "--help" || rest[0] === "-h")) {
    io.out(diskUsage);
    return 0;
  }
  if (command !== "disk" && command !== "stack") throw new UsageError(`unknown command "${command}": disk or stack (diskdelta-local --help)`);
  const stackValue = command === "stack" ? stackValueOf(rest) : undefined;
  const path = join(localDirOf(process.env), "stack.json");
  const found = await probeStackFile(path);
  if (found.kind === "absent") throw new Error(`no local stack is running (there is no ${path}): start one with npm run stack (or npm start) in this clone`);
  if (found.kind === "unusable") throw new Error(`no local stack is running: ${path} is stale (${found.reason}); start one with npm run stack (or npm start)`);
  if (found.kind === "failing") throw new Error(`the local stack of ${path} cannot be used: ${found.reason}`);
  if (command === "stack") {
    const { target } = found.stack;
    if (stackValue === "--target-endpoint") io.out(target.blobEndpoint);
    else if (stackValue === "--storage-account-id") io.out(target.resourceId);
    else io.out((await stackLines(found.stack, path)).join("\n"));
    return 0;
  }
  await runDiskCommand(rest, connectToStack(path), io);
  return 0;
}

function stackValueOf(args: readonly string[]): "--target-endpoint" | "--storage-account-id" | undefined {
  if (args.length === 0) return undefined;
  const [option] = args;
  if (args.length === 1 && (option === "--target-endpoint" || option === "--storage-account-id")) return option;
  throw new UsageError(`stack takes at most one of --target-endpoint, --storage-account-id, not ${args.join(" ")}`);
}

/**
 * Node trusts extra CAs only through NODE_EXTRA_CA_CERTS, read at start-up, and the stack's TLS certificate is signed
 * by its own CA: unless this process already trusts it, the command runs again in a child that does (as
 * scripts/local-env.ts does for npm scripts), so `npx diskdelta-local` needs nothing exported.
 */
function trustingChild(argv: string[]): Promise<number> | undefined {
  const path = join(localDirOf(process.env), "stack.json");
  let caCertPath: string;
  try {
    caCertPath = readStackFile(path).caCertPath;
  } catch {
    return undefined; // No usable stack file: main() says so.
  }
  if (process.env.NODE_EXTRA_CA_CERTS === caCertPath) return undefined;
  const child = spawn(process.execPath, [__filename, ...argv], { stdio: "inherit", env: { ...process.env, NODE_EXTRA_CA_CERTS: caCertPath } });
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => child.kill(signal));
  return new Promise((resolve) => child.on("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0))));
}

const argv = process.argv.slice(2);
(trustingChild(argv) ?? main(argv)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`diskdelta-local: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = error instanceof UsageError ? 2 : 1;
  },
);
