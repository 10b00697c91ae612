/**
 * `npm run stack`: runs the local stack (Azurite + the HTTPS emulator) in the foreground until Ctrl-C,
 * and writes `.local/stack.json` so other processes (demo, bench, a Functions host) can find it.
 * Usage: stack [--stack-file <path>]
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { localDir } from "../emulator/ca";
import { startLocalStack, writeStackFile } from "../emulator/stack";

function stackFilePath(args: string[]): string {
  const flag = args.indexOf("--stack-file");
  if (flag === -1) return join(localDir, "stack.json");
  const path = args[flag + 1];
  if (!path) throw new Error("usage: stack [--stack-file <path>]");
  return path;
}

async function main(): Promise<void> {
  const path = stackFilePath(process.argv.slice(2));
  const stack = await startLocalStack();
  writeStackFile(stack, path);
  // Endpoints only: keys stay in the stack file.
  console.log(
    [
      "diskdelta local stack is running",
      `  ARM compute (disk emulator): ${stack.arm.endpoint}  subscription ${stack.arm.subscriptionId}`,
      `  target storage (blob proxy): ${stack.target.blobEndpoint}`,
      `  app storage (Azurite):       ${stack.appStorage.blobEndpoint}`,
      `                               ${stack.appStorage.queueEndpoint}`,
      `                               ${stack.appStorage.tableEndpoint}`,
      `  CA certificate:              ${stack.caCertPath}`,
      `  stack file (with local keys): ${path}`,
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
