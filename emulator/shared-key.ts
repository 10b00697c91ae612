/**
 * Shared Key authorization for the Blob service (https://learn.microsoft.com/rest/api/storageservices/authorize-with-shared-key):
 * the blob proxy verifies callers' signatures with it and signs its own requests to Azurite with it.
 * Host is not part of the signature, which is why a proxy can forward signed requests unchanged.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";

/** An account name and its base64 key. */
export interface SharedKeyAccount {
  name: string;
  key: string;
}

const standardHeaders = [
  "content-encoding",
  "content-language",
  "content-length",
  "content-md5",
  "content-type",
  "date",
  "if-modified-since",
  "if-match",
  "if-none-match",
  "if-unmodified-since",
  "range",
];

function headerValue(headers: IncomingHttpHeaders, name: string): string {
  const value = headers[name];
  return Array.isArray(value) ? value.join(",") : (value ?? "");
}

/** The string to sign for a request; `pathAndQuery` is the request target as sent (still URL-encoded). */
export function stringToSign(method: string, pathAndQuery: string, headers: IncomingHttpHeaders, accountName: string): string {
  const standard = standardHeaders.map((name) => {
    const value = headerValue(headers, name);
    return name === "content-length" && value === "0" ? "" : value;
  });
  const canonicalHeaders = Object.keys(headers)
    .filter((name) => name.toLowerCase().startsWith("x-ms-"))
    .map((name) => name.toLowerCase())
    // Ordered like Azurite's verifier, which the storage SDKs are known to satisfy.
    .sort((a, b) => a.localeCompare(b))
    .map((name) => `${name}:${headerValue(headers, name).trimStart()}\n`)
    .join("");
  const [path, query = ""] = pathAndQuery.split("?", 2);
  const params = new Map<string, string>();
  for (const pair of query.split("&")) {
    const equals = pair.indexOf("=");
    if (equals <= 0) continue;
    params.set(pair.slice(0, equals).toLowerCase(), decodeURIComponent(pair.slice(equals + 1).replace(/\+/g, "%20")));
  }
  const canonicalQuery = [...params.keys()]
    .sort()
    .map((name) => `\n${name}:${params.get(name)}`)
    .join("");
  return [method.toUpperCase(), ...standard].join("\n") + "\n" + canonicalHeaders + `/${accountName}${path || "/"}` + canonicalQuery;
}

/** The Authorization header value for a request signed with the account key. */
export function sharedKeyAuthorization(
  method: string,
  pathAndQuery: string,
  headers: IncomingHttpHeaders,
  account: SharedKeyAccount,
): string {
  const signature = createHmac("sha256", Buffer.from(account.key, "base64"))
    .update(stringToSign(method, pathAndQuery, headers, account.name), "utf8")
    .digest("base64");
  return `SharedKey ${account.name}:${signature}`;
}

/** True when the request carries a Shared Key signature made with this account's key. */
export function hasValidSharedKey(
  method: string,
  pathAndQuery: string,
  headers: IncomingHttpHeaders,
  account: SharedKeyAccount,
): boolean {
  const given = Buffer.from(headerValue(headers, "authorization"));
  const expected = Buffer.from(sharedKeyAuthorization(method, pathAndQuery, headers, account));
  return given.length === expected.length && timingSafeEqual(given, expected);
}
