/**
 * The local stack a process uses: the one a stack file describes, once a request proved it answers, or a new one in
 * this process. A stack file left by a killed `npm run stack` is found out by its refused connection, said in one
 * line and replaced, never trusted because it exists; any other failure (a stack that answers but cannot be used
 * from here) is an error naming it, and the file is left to the stack that wrote it.
 */
import { existsSync, readFileSync } from "node:fs";
import { get as httpsGet } from "node:https";
import { controlPaths } from "../../emulator/disks/control-protocol";
import { type StackEndpoints, connectToStack, readStackFile, startLocalStack, writeStackFile } from "../../emulator/stack";
import type { ResourceGroupControl } from "../../emulator/disks/resource-groups";

/** A stack a process can use: endpoints and resource groups, whichever process runs it. */
export type UsableStack = StackEndpoints & ResourceGroupControl;

/** What a stack file turned out to be. */
export type StackFileState =
  | { readonly kind: "absent" }
  | { readonly kind: "live"; readonly stack: UsableStack; readonly pid: number }
  /** There, but nothing listens at its endpoints (its process is gone) or it is not a stack file: safe to replace. */
  | { readonly kind: "unusable"; readonly reason: string }
  /** Something answers at its endpoints but not as the stack should (e.g. TLS refused): not stale, not usable. */
  | { readonly kind: "failing"; readonly reason: string; readonly pid: number };

/**
 * Reads the stack file and proves by a request to the emulator and to Azurite that its stack is running. The emulator
 * is asked over TLS trusting the CA file the stack file names, whatever this process trusts (NODE_EXTRA_CA_CERTS is
 * read at start-up and may name another CA), so a running stack is never mistaken for a gone one. Only a refused
 * connection (ECONNREFUSED: nothing listens) means the stack is gone.
 */
export async function probeStackFile(path: string): Promise<StackFileState> {
  if (!existsSync(path)) return { kind: "absent" };
  let pid: number;
  let stack: ReturnType<typeof connectToStack>;
  try {
    pid = readStackFile(path).pid;
    stack = connectToStack(path);
  } catch (error) {
    return { kind: "unusable", reason: `it is not a stack file (${firstLine(error)})` };
  }
  if (!existsSync(stack.caCertPath)) return { kind: "unusable", reason: `the CA file it names (${stack.caCertPath}) is gone` };
  const ca = readFileSync(stack.caCertPath);
  for (const [what, probe] of [
    ["the disk emulator", () => getTrusting(new URL(controlPaths.resourceGroups, stack.arm.endpoint), ca)],
    ["Azurite", () => fetch(stack.appStorage.tableEndpoint, { signal: AbortSignal.timeout(5000) }).then(() => undefined)],
  ] as const) {
    try {
      await probe();
    } catch (error) {
      const reason = reasonOf(error);
      if (reason === "ECONNREFUSED") return { kind: "unusable", reason: `nothing answers at its endpoints (ECONNREFUSED): the stack that wrote it (pid ${pid}) is gone` };
      return { kind: "failing", pid, reason: `${what} of the stack that wrote it (pid ${pid}) did not answer as a stack (${reason})` };
    }
  }
  return { kind: "live", stack, pid };
}

/** One GET over TLS trusting `ca` alone; resolves on any HTTP answer (the stack is there), rejects on a failed connection. */
function getTrusting(url: URL, ca: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = httpsGet(url, { ca, timeout: 5000 }, (res) => {
      res.resume();
      resolve();
    });
    req.on("timeout", () => req.destroy(Object.assign(new Error("no answer within 5 s"), { code: "ETIMEDOUT" })));
    req.on("error", reject);
  });
}

/**
 * Whether this process's own clients (the SDKs, fetch) trust the stack: they trust only NODE_EXTRA_CA_CERTS, read at
 * start-up. Throws naming the CA to trust when they do not, since every ARM call would fail later.
 */
async function assertTrusted(stack: UsableStack, path: string): Promise<void> {
  try {
    await stack.listResourceGroups();
  } catch (error) {
    const reason = reasonOf(error);
    throw new Error(
      `the stack of ${path} runs, but this process does not trust its CA ${stack.caCertPath} (${reason}; NODE_EXTRA_CA_CERTS is ${process.env.NODE_EXTRA_CA_CERTS ?? "not set"}): run through npm (npm start sets it), or export NODE_EXTRA_CA_CERTS=${stack.caCertPath}`,
    );
  }
}

/** The stack to use, how it was found, and how to let it go. */
export interface AcquiredStack {
  readonly stack: UsableStack;
  /** One line for the operator: attached to which stack, or started here (and why). */
  readonly origin: string;
  /** Stops the stack if this process started it (and removes the stack file it wrote); leaves an attached one. */
  release(): Promise<void>;
}

/**
 * Attaches to the stack of `path` when it answers; otherwise starts one in this process and writes `path` for it, so
 * that other processes (the CLI's direct mode, `diskdelta-local`) find it; `removeFile` removes it on release.
 */
export async function attachOrStartStack(path: string, removeFile: (path: string) => void): Promise<AcquiredStack> {
  const found = await probeStackFile(path);
  if (found.kind === "failing") throw new Error(`${path} is in use and left as it is: ${found.reason}; stop that stack (pid ${found.pid}) or fix what answers there`);
  if (found.kind === "live") {
    await assertTrusted(found.stack, path);
    return { stack: found.stack, origin: `attached to the running stack of ${path} (pid ${found.pid})`, release: async () => undefined };
  }
  const started = await startLocalStack();
  writeStackFile(started, path);
  const why = found.kind === "unusable" ? `${path} was stale: ${found.reason}; ` : "";
  return {
    stack: started,
    origin: `${why}started a stack in this process and wrote ${path} (\`npm run stack\` keeps one running across restarts)`,
    release: async () => {
      await started.stop();
      removeFile(path);
    },
  };
}

/** The endpoints of a stack, one per line (never a key). */
export async function stackLines(stack: UsableStack, stackFile: string): Promise<string[]> {
  const groups = await stack.listResourceGroups();
  return [
    `  ARM compute (disk emulator):  ${stack.arm.endpoint}  subscription ${stack.arm.subscriptionId}`,
    `  target storage (blob proxy):  ${stack.target.blobEndpoint}`,
    `  app storage (Azurite):        ${stack.appStorage.blobEndpoint}`,
    `                                ${stack.appStorage.queueEndpoint}`,
    `                                ${stack.appStorage.tableEndpoint}`,
    `  resource groups:              ${groups.map((g) => `${g.name} (${g.location})`).join(", ")}`,
    `  CA certificate:               ${stack.caCertPath}`,
    `  stack file (with local keys): ${stackFile}`,
  ];
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0];
}

/** The system or TLS code of a failed connection; fetch hides it (ECONNREFUSED, CERT_…) in `cause`. */
function reasonOf(error: unknown): string {
  const { code, cause } = (error ?? {}) as { code?: unknown; cause?: { code?: unknown } };
  if (typeof code === "string") return code;
  return typeof cause?.code === "string" ? cause.code : firstLine(error);
}
