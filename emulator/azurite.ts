/**
 * Runs Azurite (Blob, Queue, Table) from the devDependency as a child process on free loopback ports.
 * Ports are chosen by the OS (port 0) and read back from Azurite's start-up lines, so two stacks never race
 * for a port.
 */
import { spawn, type ChildProcess } from "node:child_process";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

/** Azurite's well-known development account: public, documented, and what UseDevelopmentStorage means. */
export const devAccount = {
  name: "devstoreaccount1",
  key: "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==",
};

/** A storage account Azurite should serve; `key` is base64, as Azure shows account keys. */
export interface StorageAccount {
  name: string;
  key: string;
}

/** Options for starting Azurite. */
export interface AzuriteOptions {
  /** Accounts to serve; AZURITE_ACCOUNTS replaces the default list, so include `devAccount` if it is needed. */
  accounts: StorageAccount[];
  /** Cap on Azurite's in-memory data in MiB (Azurite's default is half the machine's memory). */
  extentMemoryLimitMb?: number;
  /** Give up if Azurite has not started within this many ms (default 30 s). */
  startTimeoutMs?: number;
  /**
   * A CA certificate (PEM file) Azurite trusts: it reads a Copy Blob's SAS-signed source over https to prove the SAS,
   * and the local stack's sources are served by its own CA.
   */
  trustedCaPath?: string;
}

/** A running Azurite: plain-HTTP service roots (path-style URLs: `<root>/<account>/...`). */
export interface AzuriteInstance {
  blobUrl: string;
  queueUrl: string;
  tableUrl: string;
  /** Stops Azurite and waits for it to exit; safe to call twice. */
  stop(): Promise<void>;
}

const azuriteMain = require.resolve("azurite/dist/src/azurite.js");
const watchdog = join(__dirname, "azurite-watchdog.js");
const listeningLine = /^Azurite (Blob|Queue|Table) service is successfully listening at (http:\/\/\S+)/;

/** Starts Azurite with in-memory persistence and telemetry off; resolves once all three services listen. */
export async function startAzurite(options: AzuriteOptions): Promise<AzuriteInstance> {
  const args = [
    "--require",
    watchdog,
    azuriteMain,
    ...["--blobHost", "127.0.0.1", "--blobPort", "0"],
    ...["--queueHost", "127.0.0.1", "--queuePort", "0"],
    ...["--tableHost", "127.0.0.1", "--tablePort", "0"],
    "--inMemoryPersistence",
    "--disableTelemetry",
    "--silent",
    // The SDKs here are newer than Azurite's newest service version; without these Azurite refuses them.
    "--skipApiVersionCheck",
    "--loose",
    ...(options.extentMemoryLimitMb ? ["--extentMemoryLimit", String(options.extentMemoryLimitMb)] : []),
  ];
  const child = spawn(process.execPath, args, {
    // Azurite writes nothing with in-memory persistence, but it still wants a workspace folder.
    cwd: tmpdir(),
    // Own process group, so stopping it also stops anything it started.
    detached: true,
    stdio: ["ignore", "pipe", "pipe", "ipc"],
    env: {
      ...process.env,
      AZURITE_ACCOUNTS: options.accounts.map((a) => `${a.name}:${a.key}`).join(";"),
      ...(options.trustedCaPath ? { NODE_EXTRA_CA_CERTS: options.trustedCaPath } : {}),
    },
  });
  child.unref();
  child.channel?.unref();
  const killOnExit = (): void => signalGroup(child, "SIGKILL");
  process.on("exit", killOnExit);
  try {
    const urls = await waitUntilListening(child, options.startTimeoutMs ?? 30_000);
    // Azurite alone must not keep this process alive; the exit hook stops it when this process ends.
    for (const stream of [child.stdout, child.stderr]) (stream as Socket | null)?.unref();
    let stopping: Promise<void> | undefined;
    return {
      blobUrl: urls.Blob,
      queueUrl: urls.Queue,
      tableUrl: urls.Table,
      stop: () => {
        stopping ??= stopChild(child).finally(() => process.off("exit", killOnExit));
        return stopping;
      },
    };
  } catch (error) {
    await stopChild(child);
    process.off("exit", killOnExit);
    throw error;
  }
}

function waitUntilListening(child: ChildProcess, timeoutMs: number): Promise<Record<string, string>> {
  return new Promise((resolve, reject) => {
    const urls: Record<string, string> = {};
    const output: string[] = [];
    const timer = setTimeout(() => fail(`did not start within ${timeoutMs} ms`), timeoutMs);
    const fail = (reason: string): void => {
      clearTimeout(timer);
      reject(new Error(`Azurite ${reason}. Its output:\n${output.slice(-20).join("\n")}`));
    };
    child.stderr?.setEncoding("utf8").on("data", (text: string) => output.push(text.trimEnd()));
    createInterface({ input: child.stdout! }).on("line", (line) => {
      output.push(line);
      const match = listeningLine.exec(line);
      if (!match) return;
      urls[match[1]] = match[2];
      if (Object.keys(urls).length === 3) {
        clearTimeout(timer);
        resolve(urls);
      }
    });
    child.once("error", (error) => fail(`could not be started (${error.message})`));
    child.once("exit", (code, signal) => fail(`exited during start-up (code ${code}, signal ${signal})`));
  });
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

/** SIGTERM lets Azurite close its servers; SIGKILL follows if it takes longer than a few seconds. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  signalGroup(child, "SIGTERM");
  const timer = setTimeout(() => signalGroup(child, "SIGKILL"), 3000);
  await exited;
  clearTimeout(timer);
}
