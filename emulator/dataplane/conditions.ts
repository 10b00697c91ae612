/**
 * Conditional reads (https://learn.microsoft.com/rest/api/storageservices/specifying-conditional-headers-for-blob-service-operations)
 * on the snapshot data endpoint, against the ETag and Last-Modified it answers with: a failed If-Match or
 * If-Unmodified-Since is 412 ConditionNotMet; a matching If-None-Match or an If-Modified-Since the blob has not
 * changed since is 304 Not Modified. Headers are weighed in RFC 9110's order.
 */
import type { IncomingHttpHeaders } from "node:http";
import type { EmulatorHttpError } from "../disks/api";
import { httpError, storageErrors } from "../error-catalog";

/** The blob facts conditions are checked against. */
export interface ConditionTarget {
  /** Quoted, as in the ETag header. */
  etag: string;
  /** Last-Modified in ms; HTTP dates have whole seconds, so it is compared at that precision. */
  lastModifiedMs: number;
}

/** "proceed" to answer normally, "not-modified" to answer 304; throws 412 for a failed precondition. */
export function evaluateConditions(headers: IncomingHttpHeaders, target: ConditionTarget): "proceed" | "not-modified" {
  const ifMatch = single(headers["if-match"]);
  const ifNoneMatch = single(headers["if-none-match"]);
  const ifModifiedSince = date(headers["if-modified-since"]);
  const ifUnmodifiedSince = date(headers["if-unmodified-since"]);
  const modified = Math.floor(target.lastModifiedMs / 1000) * 1000;
  if (ifMatch !== undefined && !matches(ifMatch, target.etag)) throw conditionNotMet();
  if (ifMatch === undefined && ifUnmodifiedSince !== undefined && modified > ifUnmodifiedSince) throw conditionNotMet();
  if (ifNoneMatch !== undefined) return matches(ifNoneMatch, target.etag) ? "not-modified" : "proceed";
  if (ifModifiedSince !== undefined && modified <= ifModifiedSince) return "not-modified";
  return "proceed";
}

function conditionNotMet(): EmulatorHttpError {
  return httpError(storageErrors.conditionNotMet);
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(",") : value;
}

/** `*` or a list of entity tags; weak tags (W/"...") compare by their opaque part, as the service's are strong anyway. */
function matches(list: string, etag: string): boolean {
  return list
    .split(",")
    .map((tag) => tag.trim().replace(/^W\//, ""))
    .some((tag) => tag === "*" || tag === etag);
}

/** An unparseable date is ignored, as HTTP says for If-Modified-Since and If-Unmodified-Since. */
function date(value: string | string[] | undefined): number | undefined {
  const text = single(value);
  if (text === undefined) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}
