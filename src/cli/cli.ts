/**
 * The CLI from argv to exit code: parse, connect, run, print. Everything printed passes through one mask that removes
 * the function key and any SAS or account key, so no answer or error can show a secret.
 */
import { PermanentError, codeOf, describeError, redact, statusOf } from "../domain/errors";
import { type DirectCommand, type CliCommand, UsageError, parseCommandLine, usage } from "./args";
import { ApiError, ApiUnreachableError, createApi, normalizeBaseUrl } from "./api";
import { type Outcome, exitCodes, runCommand } from "./commands";
import { type LocalAppConnection, readLocalApp } from "./local-app";

/** Where the CLI writes and how it waits; a test passes its own. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  readonly fetch?: typeof fetch;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
  /** True when stderr is a terminal: progress lines may then replace each other. */
  readonly stderrIsTerminal?: boolean;
}

/** Hints for error codes an operator meets often: what to run next (`<diskKey>` is filled in when known). */
const hints: Readonly<Record<string, string>> = {
  DiskNotProtected: "list protected disks with: diskdelta list",
  RestorePointNotFound: "list a disk's RestorePoints with: diskdelta restore-points <diskKey>",
  RunNotFound: "list a disk's BackupRuns with: diskdelta runs <diskKey>",
  RunInProgress: "follow the active run with: diskdelta status <diskKey>",
  AlreadyProtected: "change it with: diskdelta update <diskKey> …",
};

/** Hints in direct mode (`--target-account`), where there is no API to ask. */
const directHints: Readonly<Record<string, string>> = {
  RestorePointNotFound: "list the target account's RestorePoints with: diskdelta restore-points --target-account <url> --disk <diskKey>",
  RestorePointDataGone: "list the target account's RestorePoints with: diskdelta restore-points --target-account <url> --disk <diskKey>",
  TargetAccessDenied: "sign in with an identity that may read the account (az login), or pass --local-stack for a local stack",
};

const defaultArmEndpoint = "https://management.azure.com";

/** Where the API URL and the function key came from: options, environment, or what `npm start` wrote. */
interface Connection {
  readonly apiUrl: string;
  readonly key?: string;
  /** How to name the key's origin in an error, e.g. "DISKDELTA_FUNCTION_KEY". */
  readonly keySource?: string;
  /** The local app's files, when the URL is the local app's. */
  readonly local?: LocalAppConnection;
}

/**
 * The API to call: `--api`, else DISKDELTA_API_URL, else the local app `npm start` runs (its `.local/app.json`).
 * The key: `--key`, else DISKDELTA_FUNCTION_KEY, else — only for the local app's own URL — its `.local/function-key`.
 */
function connectionOf(given: { api?: string; key?: string }, env: NodeJS.ProcessEnv): Connection {
  const explicitUrl = given.api ?? env.DISKDELTA_API_URL;
  let local: LocalAppConnection | undefined;
  try {
    local = readLocalApp(env);
  } catch (error) {
    if (explicitUrl === undefined) throw new UsageError((error as Error).message);
  }
  const apiUrl = explicitUrl ?? local?.apiUrl;
  if (!apiUrl) {
    throw new UsageError("no API URL: pass --api <url> or set DISKDELTA_API_URL (e.g. https://<app>.azurewebsites.net/api), or run `npm start` in this clone for the local app");
  }
  const localUrl = local && normalizeBaseUrl(local.apiUrl) === normalizeBaseUrlOrSelf(apiUrl) ? local : undefined;
  if (given.key !== undefined) return { apiUrl, key: given.key, keySource: "--key", ...(localUrl ? { local: localUrl } : {}) };
  if (env.DISKDELTA_FUNCTION_KEY) return { apiUrl, key: env.DISKDELTA_FUNCTION_KEY, keySource: "DISKDELTA_FUNCTION_KEY", ...(localUrl ? { local: localUrl } : {}) };
  if (localUrl?.key) return { apiUrl, key: localUrl.key, keySource: localUrl.keyFile, local: localUrl };
  return { apiUrl, ...(localUrl ? { local: localUrl } : {}) };
}

function normalizeBaseUrlOrSelf(text: string): string {
  try {
    return normalizeBaseUrl(text);
  } catch {
    return text;
  }
}

/**
 * A 401/403: a key that was sent and refused reads differently from no key at all, and names where it came from
 * (never the key itself).
 */
function unauthorizedMessage(status: number, connection: Connection | undefined): { message: string; hint: string } {
  if (!connection?.key) {
    return {
      message: `no function key was sent and the API answered ${status}`,
      hint: "pass the function key with --key or DISKDELTA_FUNCTION_KEY (az functionapp keys list -g <rg> -n <app>)",
    };
  }
  const localHint = connection.local ? `; the local app's key is in ${connection.local.keyFile} (npm start writes it)` : "";
  return {
    message: `the function key was refused (401/403): the API answered ${status} to the key from ${connection.keySource}`,
    hint: `check that key (az functionapp keys list -g <rg> -n <app>)${localHint}`,
  };
}

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
  let connection: Connection | undefined;
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
    connection = connectionOf(invocation, env);
    key = connection.key;
    let baseUrl: string;
    try {
      baseUrl = normalizeBaseUrl(connection.apiUrl);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    const api = createApi({ baseUrl, key }, io.fetch);
    const outcome = await runCommand(command, {
      api,
      progress: json ? undefined : (line) => io.stderr(mask(line)),
      progressInPlace: io.stderrIsTerminal === true,
      sleep: io.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
      now: io.now ?? Date.now,
    });
    out(json ? JSON.stringify(outcome.data, null, 2) : outcome.text);
    if (outcome.note) io.stderr(mask(outcome.note));
    return outcome.exitCode;
  } catch (error) {
    if (error instanceof UsageError) {
      const more = error.command ? `see: diskdelta ${error.command} --help` : "see: diskdelta --help";
      return fail(exitCodes.usage, { code: "UsageError", message: error.message, ...(error.details.length ? { details: error.details } : {}) }, more);
    }
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
      const { message, hint } = unauthorizedMessage(error.status, connection);
      return fail(exitCodes.apiError, { code: error.code, message, status: error.status }, hint);
    }
    if (error instanceof ApiError) {
      // The API repeats its details in the message ("body is invalid: a; b"); people read them once, one per line.
      const summary = error.details.length ? error.message.replace(`: ${error.details.join("; ")}`, "") : error.message;
      const message = json ? error.message : `${error.code} (HTTP ${error.status}): ${summary}`;
      const hint = hints[error.code]?.replace("<diskKey>", diskKey ?? "<diskKey>");
      return fail(exitCodes.apiError, { code: error.code, message, details: error.details, status: error.status }, hint);
    }
    if (error instanceof ApiUnreachableError) {
      const hint = connection?.local ? `the URL is the local app's, from ${connection.local.appFile}: is \`npm start\` still running? Start it again.` : undefined;
      return fail(exitCodes.apiError, { code: "ApiUnreachable", message: error.message }, hint);
    }
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
