/**
 * The local app `npm start` runs, as the CLI finds it: `npm start` writes `.local/app.json` (its API URL) and
 * `.local/function-key` (the key, readable by the owner only), so that the CLI run from the clone needs no
 * exported variable. `DISKDELTA_LOCAL_DIR` moves the directory, as it does for the stack.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { z } from "zod";

/** `.local/app.json`: where the local app listens. The key is beside it, in its own file, never in this one. */
export const localAppFileSchema = z.object({
  version: z.literal(1),
  /** The process of `npm start` that wrote it. */
  pid: z.number().int(),
  apiUrl: z.url(),
  keyFile: z.string(),
});
export type LocalAppFile = z.infer<typeof localAppFileSchema>;

/** The directory `npm start` and `npm run stack` write to. */
export function localDirOf(env: NodeJS.ProcessEnv): string {
  return resolve(env.DISKDELTA_LOCAL_DIR ?? ".local");
}

export function localAppFilePath(env: NodeJS.ProcessEnv): string {
  return join(localDirOf(env), "app.json");
}

/** Writes the app file (owner-only, like the key file beside it). */
export function writeLocalAppFile(path: string, file: LocalAppFile): void {
  writeFileSync(path, JSON.stringify(file, null, 2) + "\n", { mode: 0o600 });
}

/** The local app as its files describe it: its API URL and its key, if `npm start` wrote them. */
export interface LocalAppConnection {
  readonly apiUrl: string;
  readonly key?: string;
  /** Where the URL was read from, to name in errors. */
  readonly appFile: string;
  readonly keyFile: string;
}

/**
 * Reads what `npm start` wrote, or undefined when it wrote nothing. A file that is there but unusable is an error
 * naming the file: running on without it would send the command nowhere.
 */
export function readLocalApp(env: NodeJS.ProcessEnv): LocalAppConnection | undefined {
  const appFile = localAppFilePath(env);
  if (!existsSync(appFile)) return undefined;
  let parsed;
  try {
    parsed = localAppFileSchema.safeParse(JSON.parse(readFileSync(appFile, "utf8")));
  } catch (error) {
    throw new Error(`${appFile} is not JSON (${error instanceof Error ? error.message : String(error)}); run npm start again`);
  }
  if (!parsed.success) throw new Error(`${appFile} is not a local app file (${parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("; ")}); run npm start again`);
  const { apiUrl, keyFile } = parsed.data;
  const key = existsSync(keyFile) ? readFileSync(keyFile, "utf8").trim() : undefined;
  return { apiUrl, appFile, keyFile, ...(key ? { key } : {}) };
}
