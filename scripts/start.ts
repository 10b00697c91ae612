/**
 * `npm start`: one working local environment. The app's function handlers run with the Functions host's semantics
 * (the timer on its schedule, queue messages per host.json, HTTP routes under /api with a function key) on the local
 * stack of `npm run stack` when its stack file proves live, else on a stack started here (its stack file written).
 * Writes `.local/app.json` (the API URL) and `.local/function-key` (kept across starts; never printed), which the
 * CLI reads when no API URL is given, and prints the API URL, the key file and the stack's endpoints.
 * `PORT` sets the API port (default 7071).
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { localDir } from "../emulator/ca";
import { readStackFile } from "../emulator/stack";
import { localAppFilePath, writeLocalAppFile } from "../src/cli/local-app";
import { startLocalApp } from "./lib/local-app";
import { attachOrStartStack, stackLines } from "./lib/stack-file";

/** Values from local.settings.json, as `func start` would read them. */
function localSettings(): Record<string, string> {
  const path = "local.settings.json";
  if (!existsSync(path)) return {};
  const file = JSON.parse(readFileSync(path, "utf8")) as { Values?: Record<string, string> };
  return file.Values ?? {};
}

/** The API port: PORT, or 7071 as `func start` uses. */
function portOf(text: string | undefined): number {
  if (text === undefined || text === "") return 7071;
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error(`PORT must be a port number (0-65535; 0 picks a free one), not "${text}"`);
  return port;
}

/** The key of the last start, so that a key someone copied stays valid; a new one when there is none. */
function functionKeyOf(keyFile: string): string {
  const kept = existsSync(keyFile) ? readFileSync(keyFile, "utf8").trim() : "";
  return /^[0-9a-f]{32}$/.test(kept) ? kept : randomUUID().replace(/-/g, "");
}

async function main(): Promise<void> {
  const port = portOf(process.env.PORT);
  const stackFile = join(localDir, "stack.json");
  const keyFile = join(localDir, "function-key");
  const appFile = localAppFilePath(process.env);
  // Removed only while it is still this process's: a later `npm run stack` may have written its own.
  const acquired = await attachOrStartStack(stackFile, (path) => {
    if (existsSync(path) && readStackFile(path).pid === process.pid) rmSync(path, { force: true });
  });
  let app: ReturnType<typeof startLocalApp>;
  try {
    app = startLocalApp({ stack: acquired.stack, settings: localSettings(), functionKey: functionKeyOf(keyFile) });
  } catch (error) {
    await acquired.release();
    throw error;
  }
  let apiUrl: string;
  try {
    apiUrl = await app.host.listen(port);
  } catch (error) {
    await app.stop();
    await acquired.release();
    const code = (error as { code?: unknown }).code;
    if (code === "EADDRINUSE") throw new Error(`port ${port} is in use (another npm start?): stop what listens there, or start on another port with PORT=<port> npm start`);
    if (code === "EACCES") throw new Error(`port ${port} may not be used by this user: start on another port with PORT=<port> npm start`);
    throw error;
  }
  app.host.start();
  writeFileSync(keyFile, app.host.functionKey, { mode: 0o600 });
  writeLocalAppFile(appFile, { version: 1, pid: process.pid, apiUrl, keyFile });
  console.log(
    [
      "diskdelta local app is running",
      `  API:                          ${apiUrl}`,
      `  function key:                 in ${keyFile} (kept across starts; the CLI reads it with ${appFile})`,
      `  local stack:                  ${acquired.origin}`,
      ...(await stackLines(acquired.stack, stackFile)),
      `  timer schedule:               ${app.settings.DISKDELTA_TIMER_SCHEDULE}; queues run-starts, copy-steps, run-finalizations`,
      "In another terminal of this clone: npx diskdelta list (docs/cli.md). Press Ctrl-C to stop.",
    ].join("\n"),
  );
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    rmSync(appFile, { force: true });
    void app
      .stop()
      .then(() => acquired.release())
      .finally(() => process.exit(0));
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

main().catch((error: unknown) => {
  console.error(`npm start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
