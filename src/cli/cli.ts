/**
 * The CLI from argv to exit code: parse, connect, run, print. Everything printed passes through one mask that removes
 * the function key and any SAS or account key, so no answer or error can show a secret.
 */
import { redact } from "../domain/errors";
import { UsageError, parseCommandLine, usage } from "./args";
import { ApiError, ApiUnreachableError, createApi, normalizeBaseUrl } from "./api";
import { exitCodes, runCommand } from "./commands";

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

export async function runCli(argv: readonly string[], env: NodeJS.ProcessEnv, io: CliIo): Promise<number> {
  let key: string | undefined;
  const mask = (text: string) => {
    const masked = key ? text.split(key).join("***") : text;
    return redact(masked);
  };
  const out = (text: string) => io.stdout(mask(text));
  let json = false;
  let diskKey: string | undefined;
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
    if (command.name === "help") {
      out(usage(command.topic));
      return exitCodes.ok;
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
    return fail(exitCodes.apiError, { code: "Failed", message: error instanceof Error ? error.message : String(error) });
  }
}
