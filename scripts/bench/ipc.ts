/**
 * Request/answer over a forked child's IPC channel: the bench keeps the local stack in its own process and runs the
 * diskdelta worker and the reference clients as children, so that each one's CPU, I/O and memory can be measured
 * apart from the emulator's.
 */
import { type ChildProcess, fork } from "node:child_process";
import { createInterface } from "node:readline";

/** The commands a child serves: name → (params) => result. */
export type Commands = Record<string, (params: never) => Promise<unknown>>;

type Request = { id: number; command: string; params: unknown };
type Answer = { id: number; result?: unknown; error?: string };

/** A running child process and typed calls into it. */
export interface ChildHandle<C extends Commands> {
  readonly pid: number;
  call<K extends keyof C & string>(command: K, params: Parameters<C[K]>[0]): Promise<Awaited<ReturnType<C[K]>>>;
  /** Ends the child (SIGTERM) and waits for it to exit. */
  stop(): Promise<void>;
}

/** Forks `script` with `env` added to this process's environment and waits until it says it is ready. */
export async function startChild<C extends Commands>(script: string, env: Record<string, string>, execArgv: string[] = []): Promise<ChildHandle<C>> {
  const child: ChildProcess = fork(script, [], { env: { ...process.env, ...env }, execArgv, stdio: ["ignore", "inherit", "pipe", "ipc"] });
  // @azure/functions announces "test mode" outside the Functions host, once per function: expected here, not news.
  createInterface({ input: child.stderr! }).on("line", (line) => {
    if (!/^WARNING: (Failed to detect the Azure Functions runtime|Skipping call to register function)/.test(line)) console.error(line);
  });
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  let nextId = 1;
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once("exit", (code, signal) => {
      exited = true;
      for (const waiter of pending.values()) waiter.reject(new Error(`bench child ${script} exited (code ${code}, signal ${signal})`));
      pending.clear();
      resolve();
    }),
  );
  child.on("message", (message: Answer) => {
    const waiter = pending.get(message.id);
    if (!waiter) return;
    pending.delete(message.id);
    if (message.error !== undefined) waiter.reject(new Error(message.error));
    else waiter.resolve(message.result);
  });
  const call = (command: string, params: unknown): Promise<unknown> => {
    if (exited) return Promise.reject(new Error(`bench child ${script} is not running`));
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      child.send({ id, command, params } satisfies Request);
    });
  };
  await call("ready", {});
  return {
    pid: child.pid!,
    call: call as ChildHandle<C>["call"],
    async stop() {
      if (!exited) child.kill("SIGTERM");
      await exit;
    },
  };
}

/** In the child: answers the parent's requests with `commands`; the child exits when the parent goes away. */
export function serveCommands(commands: Commands): void {
  const all: Commands = { ready: async () => true, ...commands };
  process.on("disconnect", () => process.exit(0));
  process.on("message", (message: Request) => {
    const command = all[message.command];
    const answer = (body: Omit<Answer, "id">) => process.send?.({ id: message.id, ...body } satisfies Answer);
    if (!command) {
      answer({ error: `unknown bench command ${message.command}` });
      return;
    }
    command(message.params as never).then(
      (result) => answer({ result }),
      (error: unknown) => answer({ error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
    );
  });
}
