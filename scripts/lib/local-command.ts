/**
 * The commands of `diskdelta-local` (scripts/diskdelta-local.ts, which makes the process trust the stack's CA first):
 * finds the running stack through its stack file, then runs `disk …` (./disk-command.ts) or `stack`.
 */
import { join } from "node:path";
import { connectToStack } from "../../emulator/stack";
import { localDirOf } from "../../src/cli/local-app";
import { UsageError, diskUsage, runDiskCommand } from "./disk-command";
import { probeStackFile, stackLines } from "./stack-file";

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

async function run(argv: readonly string[]): Promise<number> {
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

/** Runs one command line; the exit code: 0 done, 1 failed, 2 bad input (the message names the argument). */
export async function runLocalCommand(argv: readonly string[]): Promise<number> {
  try {
    return await run(argv);
  } catch (error) {
    process.stderr.write(`diskdelta-local: ${withoutSignatures(error instanceof Error ? error.message : String(error))}\n`);
    return error instanceof UsageError ? 2 : 1;
  }
}

/** A SAS is never printed, even inside a client's error message: its signature becomes REDACTED. */
function withoutSignatures(text: string): string {
  return text.replace(/([?&]sig=)[^&\s"']+/gi, "$1REDACTED");
}
