/**
 * The local stack a process uses: the one a stack file describes, once a request proved it answers, or a new one in
 * this process. A stack file left by a killed `npm run stack` is found out by its refused connection, said in one
 * line and replaced, never trusted because it exists.
 */
import { existsSync } from "node:fs";
import { type StackEndpoints, connectToStack, readStackFile, startLocalStack, writeStackFile } from "../../emulator/stack";
import type { ResourceGroupControl } from "../../emulator/disks/resource-groups";

/** A stack a process can use: endpoints and resource groups, whichever process runs it. */
export type UsableStack = StackEndpoints & ResourceGroupControl;

/** What a stack file turned out to be. */
export type StackFileState =
  | { readonly kind: "absent" }
  | { readonly kind: "live"; readonly stack: UsableStack; readonly pid: number }
  /** There, but nothing answers at its endpoints (its process is gone) or it is not a stack file. */
  | { readonly kind: "unusable"; readonly reason: string };

/** Reads the stack file and proves by a request to the emulator and to Azurite that its stack is running. */
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
  try {
    await stack.listResourceGroups();
    await fetch(stack.appStorage.tableEndpoint, { signal: AbortSignal.timeout(5000) });
  } catch (error) {
    return { kind: "unusable", reason: `nothing answers at its endpoints (${reasonOf(error)}): the stack that wrote it (pid ${pid}) is gone` };
  }
  return { kind: "live", stack, pid };
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
  if (found.kind === "live") {
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

/** fetch hides the reason (ECONNREFUSED) in `cause`. */
function reasonOf(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown } } | undefined)?.cause;
  return typeof cause?.code === "string" ? cause.code : firstLine(error);
}
