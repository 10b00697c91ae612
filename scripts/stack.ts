/**
 * `npm run stack`: runs the local stack (Azurite + the HTTPS emulator) in the foreground until Ctrl-C,
 * and writes `.local/stack.json` so other processes (demo, bench, a Functions host) can find it. It plays the
 * recorded service's LRO timing and throttling budgets (`recordedServiceOptions`); `--fast` keeps the tests' defaults
 * (no Retry-After, operations done at the first poll, 100 times the budgets).
 * Usage: stack [--stack-file <path>] [--fast]
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { localDir } from "../emulator/ca";
import { recordedServiceOptions, startLocalStack, writeStackFile } from "../emulator/stack";
import { stackLines } from "./lib/stack-file";

function stackFilePath(args: string[]): string {
  const flag = args.indexOf("--stack-file");
  if (flag === -1) return join(localDir, "stack.json");
  const path = args[flag + 1];
  if (!path) throw new Error("usage: stack [--stack-file <path>] [--fast]");
  return path;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const path = stackFilePath(args);
  const fast = args.includes("--fast");
  const stack = await startLocalStack(fast ? {} : recordedServiceOptions);
  writeStackFile(stack, path);
  // Endpoints only: keys stay in the stack file.
  console.log(
    [
      "diskdelta local stack is running",
      ...(await stackLines(stack, path)),
      `  service timing:               ${fast ? "fast (the tests' defaults)" : "as recorded: Retry-After 2 s / 10 s, operations 200 ms, the service's throttling budgets"}`,
      "Press Ctrl-C to stop.",
    ].join("\n"),
  );
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    console.log("stopping the local stack...");
    stack
      .stop()
      .then(() => rmSync(path, { force: true }))
      .then(
        () => process.exit(0),
        (error: unknown) => {
          console.error(error instanceof Error ? error.message : error);
          process.exit(1);
        },
      );
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
