/**
 * Runs a command with the local CA trusted by Node (NODE_EXTRA_CA_CERTS), creating the CA first if needed.
 * Node reads that variable only at start-up, hence the child process.
 */
import { spawn } from "node:child_process";
import { caCertPath, ensureLocalCa } from "../emulator/ca";

async function main(): Promise<void> {
  const [command, ...args] = process.argv.slice(2);
  if (!command) throw new Error("usage: local-env <command> [args...]");
  await ensureLocalCa();
  const child = spawn(command, args, {
    stdio: "inherit",
    env: { ...process.env, NODE_EXTRA_CA_CERTS: caCertPath },
  });
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => child.kill(signal));
  child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
