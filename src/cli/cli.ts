/**
 * The CLI from argv to exit code: parse, connect, run, print. Everything printed passes through one mask that removes
 * the function key and any SAS or account key, so no answer or error can show a secret.
 */
import { PermanentError, codeOf, describeError, redact, statusOf } from "../domain/errors";
import { type DirectCommand, type CliCommand, UsageError, parseCommandLine, usage } from "./args";
import { ApiError, ApiUnreachableError, createApi, normalizeBaseUrl } from "./api";
import { type Outcome, exitCodes, runCommand } from "./commands";

/** Where the CLI writes and how it waits; a test passes its own. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  readonly fetch?: typeof fetch;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
}

/** Hints for error codes an operator meets often: what to run next (`<diskKey>` is filled in when known). */
const hints: Readonly<Record<string, string>> = {
  DiskNotProtected: "list protected disks with: diskdelta list",
  RestorePointNotFound: "list a disk's RestorePoints with: diskdelta restore-points <diskKey>",
  RunNotFound: "list a disk's BackupRuns with: diskdelta runs <diskKey>",
  RunInProgress: "follow the active run with: diskdelta status <diskKey>",
  AlreadyProtected: "change it with: diskdelta update <diskKey> …",
  Unauthorized: "pass the function key with --key or DISKDELTA_FUNCTION_KEY",
};

/** Hints in direct mode (`--target-account`), where there is no API to ask. */
const directHints: Readonly<Record<string, string>> = {
  RestorePointNotFound: "list the target account's RestorePoints with: diskdelta restore-points --target-account <url> --disk <diskKey>",
  RestorePointDataGone: "list the target account's RestorePoints with: diskdelta restore-points --target-account <url> --disk <diskKey>",
  TargetAccessDenied: "sign in with an identity that may read the account (az login), or pass --local-stack for a local stack",
};

const defaultArmEndpoint = "https://management.azure.com";

function isDirect(command: CliCommand): command is DirectCommand {
  return command.name === "direct restore-points" || command.name === "direct restore" || command.name === "direct restore-vm";
}

/** Runs a direct-mode command with ports built from the operator's credentials, or a local stack's. */
async function runDirect(command: DirectCommand, env: NodeJS.ProcessEnv, warn: (text: string) => void): Promise<Outcome> {
  // Loaded only here: API mode needs none of the SDK clients.
  const { createOperatorPorts, localProfileFromFile } = await import("../composition.js");
  const { runDirectCommand } = await import("./direct.js");
  const stackFile = command.target.localStack ?? env.DISKDELTA_LOCAL_STACK_FILE;
  let local;
  try {
    local = stackFile ? localProfileFromFile(stackFile) : undefined;
  } catch (error) {
    throw new UsageError(`cannot use the local stack file ${stackFile}: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`);
  }
  const armEndpoint = (command.name === "direct restore-points" ? undefined : command.armEndpoint) ?? env.DISKDELTA_ARM_ENDPOINT ?? defaultArmEndpoint;
  return runDirectCommand(command, createOperatorPorts({ armEndpoint, local, warn }));
}

export async function runCli(argv: readonly string[], env: NodeJS.ProcessEnv, io: CliIo): Promise<number> {
  let key: string | undefined;
  const mask = (text: string) => {
    const masked = key ? text.split(key).join("***") : text;
    return redact(masked);
  };
  const out = (text: string) => io.stdout(mask(text));
  let json = false;
  let diskKey: string | undefined;
  let targetAccount: string | undefined;
  const fail = (code: number, error: { code: string; message: string; details?: readonly string[]; status?: number }, hint?: string): number => {
    if (json) {
      io.stderr(mask(JSON.stringify({ error })));
    } else {
      const lines = [`error: ${error.message}`, ...(error.details ?? []).map((detail) => `  ${detail}`), ...(hint ? [hint] : [])];
      io.stderr(mask(lines.join("\n")));
    }
    return code;
  };

  try {
    const invocation = parseCommandLine(argv);
    json = invocation.json;
    key = invocation.key ?? env.DISKDELTA_FUNCTION_KEY;
    const { command } = invocation;
    diskKey = "diskKey" in command ? command.diskKey : undefined;
    targetAccount = "target" in command ? command.target.blobEndpoint : undefined;
    if (command.name === "help") {
      out(usage(command.topic));
      return exitCodes.ok;
    }
    if (isDirect(command)) {
      const outcome = await runDirect(command, env, (line) => io.stderr(mask(line)));
      out(json ? JSON.stringify(outcome.data, null, 2) : outcome.text);
      return outcome.exitCode;
    }
    const apiUrl = invocation.api ?? env.DISKDELTA_API_URL;
    if (!apiUrl) throw new UsageError("no API URL: pass --api <url> or set DISKDELTA_API_URL (e.g. https://<app>.azurewebsites.net/api)");
    let baseUrl: string;
    try {
      baseUrl = normalizeBaseUrl(apiUrl);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    const api = createApi({ baseUrl, key }, io.fetch);
    const outcome = await runCommand(command, {
      api,
      progress: json ? undefined : (line) => io.stderr(mask(line)),
      sleep: io.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
      now: io.now ?? Date.now,
    });
    out(json ? JSON.stringify(outcome.data, null, 2) : outcome.text);
    if (outcome.note) io.stderr(mask(outcome.note));
    return outcome.exitCode;
  } catch (error) {
    if (error instanceof UsageError) {
      const more = error.command ? `see: diskdelta ${error.command} --help` : "see: diskdelta --help";
      return fail(exitCodes.usage, { code: "UsageError", message: error.message }, more);
    }
    if (error instanceof ApiError) {
      // The API repeats its details in the message ("body is invalid: a; b"); people read them once, one per line.
      const summary = error.details.length ? error.message.replace(`: ${error.details.join("; ")}`, "") : error.message;
      const message = json ? error.message : `${error.code} (HTTP ${error.status}): ${summary}`;
      const hint = hints[error.code]?.replace("<diskKey>", diskKey ?? "<diskKey>");
      return fail(exitCodes.apiError, { code: error.code, message, details: error.details, status: error.status }, hint);
    }
    if (error instanceof ApiUnreachableError) return fail(exitCodes.apiError, { code: "ApiUnreachable", message: error.message });
    // Direct mode: the engine's and the services' own errors, with their codes.
    if (error instanceof PermanentError || statusOf(error) !== undefined) {
      const code = error instanceof PermanentError ? error.code : (codeOf(error) ?? `Http${statusOf(error)}`);
      const hint = directHints[code]?.replace("<diskKey>", diskKey ?? "<diskKey>").replace("<url>", targetAccount ?? "<url>");
      const status = statusOf(error);
      const message = `${code}${status ? ` (HTTP ${status})` : ""}: ${describeError(error).replace(/^\[[^\]]*\] /, "")}`;
      return fail(exitCodes.apiError, { code, message, ...(status ? { status } : {}) }, hint);
    }
    return fail(exitCodes.apiError, { code: "Failed", message: error instanceof Error ? error.message : String(error) });
  }
}
