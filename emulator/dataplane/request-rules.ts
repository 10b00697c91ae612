/**
 * Blob requests the service refuses (or answers otherwise) where Azurite, behind the blob proxy, would serve them or
 * answer with codes of its own. Each rule reads the request (or Azurite's answer) only; the proxy authenticates a
 * refused request first, as the service does, then answers the refusal.
 * https://learn.microsoft.com/rest/api/storageservices/put-page
 * https://learn.microsoft.com/rest/api/storageservices/snapshot-blob
 * https://learn.microsoft.com/rest/api/storageservices/blob-service-error-codes
 */
import type { IncomingMessage } from "node:http";
import type { EmulatorHttpError } from "../disks/api";
import { pageSize } from "../disks/seeded";
import { httpError, storageErrors, type ServiceError } from "../error-catalog";

/** The largest page write, in bytes: one Put Page (or Put Page From URL) updates at most 4 MiB. */
export const maxPageWriteBytes = 4 * 1024 * 1024;

/**
 * Operations that change a blob: addressed to a snapshot or a version (read-only), Azurite applies them to the base
 * blob. Set Blob Tier and Set Blob Tags take a version, Delete a snapshot, and Snapshot Blob is the premium rules'.
 */
const blobWrites = new Set<string | null>([null, "page", "properties", "metadata", "lease", "appendblock", "block", "blocklist", "incrementalcopy"]);

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(",") : value;
}

/** What the service answers this request before it reaches the blob, or undefined to serve it. */
export function refusalOf(req: IncomingMessage, url: URL): EmulatorHttpError | undefined {
  const comp = url.searchParams.get("comp");
  if (req.method === "PUT" && blobWrites.has(comp)) {
    for (const name of ["snapshot", "versionid"]) {
      const value = url.searchParams.get(name);
      if (value !== null) {
        return httpError(storageErrors.snapshotIsReadOnly, { QueryParameterName: name, QueryParameterValue: value, Reason: "A blob snapshot or version is read-only: write to the base blob." });
      }
    }
  }
  if (req.method === "PUT" && comp === "page" && header(req, "x-ms-copy-source") === undefined) return putPageRefusal(req);
  if (req.method === "GET" && comp === "pagelist" && header(req, "x-ms-previous-snapshot-url") !== undefined) {
    return httpError(storageErrors.previousSnapshotUrlNotSupported, { HeaderName: "x-ms-previous-snapshot-url" });
  }
  return undefined;
}

/** A Put Page (update or clear) off 512-byte pages is 416 InvalidPageRange; an update over 4 MiB is 413. */
function putPageRefusal(req: IncomingMessage): EmulatorHttpError | undefined {
  const value = header(req, "x-ms-range") ?? header(req, "range");
  if (value === undefined) return undefined;
  const match = /^bytes=(\d+)-(\d+)$/.exec(value.trim());
  const start = Number(match?.[1]);
  const end = Number(match?.[2]);
  if (!match || end < start || start % pageSize !== 0 || (end + 1) % pageSize !== 0) return httpError(storageErrors.invalidPageRange);
  const update = (header(req, "x-ms-page-write") ?? "").toLowerCase() === "update";
  if (update && end - start + 1 > maxPageWriteBytes) return httpError(storageErrors.requestBodyTooLarge);
  return undefined;
}

/**
 * The service's error for one Azurite answers in words of its own: a page range past the blob's end (Azurite's code
 * is its status text) is InvalidPageRange, and a SAS whose signature does not verify is AuthenticationFailed (Azurite
 * says AuthorizationFailure). Undefined when Azurite's answer is the service's.
 */
export function serviceErrorFor(req: IncomingMessage, url: URL, status: number, code: string | undefined): ServiceError | undefined {
  if (status === 416 && req.method === "PUT" && url.searchParams.get("comp") === "page") return storageErrors.invalidPageRange;
  if (status === 403 && code === "AuthorizationFailure" && url.searchParams.has("sig")) return storageErrors.authenticationFailed;
  return undefined;
}
