/**
 * The env file of a live conformance run (`conformance.env`, or the path in DISKDELTA_CONFORMANCE_ENV): which
 * subscription, resource groups and storage account the suite may create its prefixed resources in. Parsed once,
 * every issue reported together. It names places, not secrets: the credential is DefaultAzureCredential's.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { z } from "zod";
import type { Placement } from "./plan";

/** The env file's path: DISKDELTA_CONFORMANCE_ENV, else `conformance.env` in the working directory. */
export function liveEnvPath(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.DISKDELTA_CONFORMANCE_ENV || "conformance.env");
}

const resourceGroup = z.string().regex(/^[-\w._()]{1,90}$/, "an Azure resource group name");
const location = z.string().regex(/^[a-z0-9]+$/, "a region name such as westeurope");

const liveSettingsSchema = z.object({
  AZURE_SUBSCRIPTION_ID: z.guid(),
  DISKDELTA_CONFORMANCE_SOURCE_RESOURCE_GROUP: resourceGroup,
  DISKDELTA_CONFORMANCE_SOURCE_LOCATION: location,
  DISKDELTA_CONFORMANCE_TARGET_RESOURCE_GROUP: resourceGroup,
  DISKDELTA_CONFORMANCE_TARGET_LOCATION: location,
  DISKDELTA_CONFORMANCE_TARGET_STORAGE_ACCOUNT: z.string().regex(/^[a-z0-9]{3,24}$/, "3-24 lowercase letters and digits"),
  /** A user-assigned managed identity (or workload identity) for DefaultAzureCredential to use. */
  AZURE_CLIENT_ID: z.guid().optional(),
});

/** Where a live run goes and which identity it runs as. */
export interface LiveSettings extends Placement {
  clientId?: string;
}

/** `KEY=VALUE` lines; `#` starts a comment line; values may be quoted. */
export function parseEnvText(text: string): Record<string, string> {
  const entries: Record<string, string> = {};
  for (const [index, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([A-Z0-9_]+)\s*=\s*(.*)$/.exec(line);
    if (!match) throw new Error(`line ${index + 1} is not KEY=VALUE: ${line}`);
    entries[match[1]] = match[2].replace(/^(["'])(.*)\1$/, "$2");
  }
  return entries;
}

/** Parses the env file's entries; throws one error naming every missing or bad key. */
export function parseLiveSettings(entries: Record<string, string>, source: string): LiveSettings {
  const parsed = liveSettingsSchema.safeParse(entries);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => `  ${issue.path.join(".")}: ${issue.message}`);
    throw new Error(`the live conformance settings in ${source} are not usable:\n${issues.join("\n")}\nsee docs/conformance.md`);
  }
  const s = parsed.data;
  return {
    subscriptionId: s.AZURE_SUBSCRIPTION_ID,
    source: { resourceGroup: s.DISKDELTA_CONFORMANCE_SOURCE_RESOURCE_GROUP, location: s.DISKDELTA_CONFORMANCE_SOURCE_LOCATION },
    target: {
      resourceGroup: s.DISKDELTA_CONFORMANCE_TARGET_RESOURCE_GROUP,
      location: s.DISKDELTA_CONFORMANCE_TARGET_LOCATION,
      storageAccount: s.DISKDELTA_CONFORMANCE_TARGET_STORAGE_ACCOUNT,
      blobEndpoint: `https://${s.DISKDELTA_CONFORMANCE_TARGET_STORAGE_ACCOUNT}.blob.core.windows.net`,
    },
    clientId: s.AZURE_CLIENT_ID,
  };
}

/** Reads and parses the env file at `path`. */
export function readLiveSettings(path: string): LiveSettings {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new Error(`cannot read the live conformance env file ${path} (${(error as Error).message}); see docs/conformance.md`);
  }
  return parseLiveSettings(parseEnvText(text), path);
}
