/**
 * `npm start`: the app's function handlers on the local stack with the Functions host's semantics — the timer on
 * its schedule, queue messages per host.json, HTTP routes under /api with a function key. Uses the stack of
 * `npm run stack` when its stack file exists, else starts one in this process. The function key is written to
 * .local/function-key (not printed).
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { localDir } from "../emulator/ca";
import { type StackEndpoints, connectToStack, startLocalStack } from "../emulator/stack";
import { startLocalApp } from "./lib/local-app";

/** Values from local.settings.json, as `func start` would read them. */
function localSettings(): Record<string, string> {
  const path = "local.settings.json";
  if (!existsSync(path)) return {};
  const file = JSON.parse(readFileSync(path, "utf8")) as { Values?: Record<string, string> };
  return file.Values ?? {};
}

async function main(): Promise<void> {
  const stackFile = join(localDir, "stack.json");
  let stack: StackEndpoints;
  let stopStack = async () => undefined as unknown;
  if (existsSync(stackFile)) {
    stack = connectToStack(stackFile);
    console.log(`using the local stack of ${stackFile}`);
  } else {
    const started = await startLocalStack();
    stack = started;
    stopStack = () => started.stop();
    console.log("started a local stack in this process (run `npm run stack` to keep one running)");
  }
  const app = startLocalApp({ stack, settings: localSettings() });
  const port = Number(process.env.PORT ?? 7071);
  const apiUrl = await app.host.listen(port);
  app.host.start();
  const keyFile = join(localDir, "function-key");
  writeFileSync(keyFile, app.host.functionKey, { mode: 0o600 });
  console.log(`diskdelta functions are running: ${apiUrl} (function key in ${keyFile})`);
  console.log(`timer schedule ${app.settings.DISKDELTA_TIMER_SCHEDULE}; queues run-starts, copy-steps, run-finalizations`);
  const stop = () => {
    void app
      .stop()
      .then(stopStack)
      .finally(() => process.exit(0));
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
