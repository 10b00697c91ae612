/**
 * The upload endpoint behind a disk's write accessSAS (`/md-impexp-<access>/<blob>/abcd?sv&sr&si&sig`): a page
 * blob of `uploadSizeBytes` (the disk, then its 512-byte VHD footer) that only takes Put Page, as Blob Storage
 * serves it: `x-ms-page-write` update (body of the range's length) or clear (no body), ranges on 512-byte pages
 * inside the blob (416 InvalidPageRange), an update of at most 4 MiB (413), a Content-MD5 that must match. The
 * answer is Blob Storage's 201 (ETag, Last-Modified, x-ms-blob-sequence-number, x-ms-request-server-encrypted,
 * x-ms-request-id, x-ms-version, Date). Reads need read permission, which a write SAS lacks: Get Blob, Get Blob
 * Properties and Get Page Ranges are 403 AuthorizationPermissionMismatch (Service SAS permissions: Get Page Ranges
 * needs `r`).
 */
import { createHash, randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { RegionCheck } from "../behaviour";
import { EmulatorHttpError } from "../disks/api";
import { parseByteRange, readBody, requestHeader, storageAnswerHeaders } from "../disks/http";
import { pageSize } from "../disks/seeded";
import type { DiskRecord, DiskStore } from "../disks/store";
import { vhdFooterSize } from "../disks/vhd";
import { httpError, storageErrors } from "../error-catalog";
import { answerStorageError } from "../service-errors";
import { maxPageWriteBytes } from "./request-rules";
import { authenticationFailed, type SasAuthority } from "./sas";


/** Serves the upload URLs; answers false for any other path (snapshot data URLs included). */
export type UploadRoute = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;

/** The disk an upload URL grants writing to, or the 403 the service answers for a forged, expired or revoked SAS. */
export function resolveUploadUrl(store: DiskStore, sas: SasAuthority, url: URL): DiskRecord | undefined {
  const claim = sas.verify(url);
  if (claim.kind !== "write") return undefined;
  const disk = store.diskByUploadAccessId(claim.accessId);
  if (!disk || disk.phase.state !== "ActiveUpload" || disk.phase.access.blobId !== claim.blobId) {
    throw authenticationFailed("The access to this disk has expired or was revoked.");
  }
  return disk;
}

export function createUploadRoute(store: DiskStore, sas: SasAuthority, inRegionDown: RegionCheck = () => false): UploadRoute {
  return async (req, res, url) => {
    if (!sas.isDataPath(url.pathname)) return false;
    const { requestId, headers: common } = storageAnswerHeaders(req);
    try {
      const disk = resolveUploadUrl(store, sas, url);
      if (!disk) return false;
      // The disk's region is down: its upload host cannot be reached (as the snapshot data URLs).
      if (inRegionDown(disk)) {
        req.socket.destroy();
        return true;
      }
      if (req.method !== "PUT" || url.searchParams.get("comp") !== "page") {
        throw httpError(storageErrors.authorizationPermissionMismatch);
      }
      if (requestHeader(req, "x-ms-copy-source")) {
        throw new EmulatorHttpError(501, "NotImplemented", "Put Page From URL into a managed disk upload is not emulated.");
      }
      const contentMd5 = await putPage(req, store, disk);
      res.writeHead(201, {
        ...common,
        Date: new Date().toUTCString(),
        ETag: `"0x8D${randomUUID().replace(/-/g, "").slice(0, 15).toUpperCase()}"`,
        "Last-Modified": new Date().toUTCString(),
        "x-ms-blob-sequence-number": "0",
        "x-ms-request-server-encrypted": "true",
        ...(contentMd5 ? { "Content-MD5": contentMd5 } : {}),
        "Content-Length": 0,
      });
      res.end();
    } catch (error) {
      if (!(error instanceof EmulatorHttpError)) throw error;
      // An answer before the body was read: drain it, so the connection stays usable for the client's retry.
      req.resume();
      answerStorageError(res, error, { requestId, headers: common });
    }
    return true;
  };
}

/** Checks and applies one Put Page; returns the Content-MD5 to echo, if the request sent one. */
async function putPage(req: IncomingMessage, store: DiskStore, disk: DiskRecord): Promise<string | undefined> {
  const write = (requestHeader(req, "x-ms-page-write") ?? "").toLowerCase();
  if (write !== "update" && write !== "clear") {
    throw invalidHeader(requestHeader(req, "x-ms-page-write") === undefined ? "missing" : "value", "x-ms-page-write", "x-ms-page-write is update or clear.");
  }
  const rangeHeader = requestHeader(req, "x-ms-range") ?? requestHeader(req, "range");
  if (rangeHeader === undefined) throw httpError(storageErrors.missingRequiredHeader, { HeaderName: "x-ms-range" });
  const range = parseByteRange(rangeHeader);
  const uploadSize = disk.sizeBytes + vhdFooterSize;
  if (!range || range.end === undefined) throw httpError(storageErrors.invalidPageRange);
  const start = range.start;
  const length = range.end + 1 - start;
  if (start % pageSize !== 0 || length % pageSize !== 0 || range.end >= uploadSize) {
    throw httpError(storageErrors.invalidPageRange);
  }
  const contentLength = Number(requestHeader(req, "content-length") ?? "0");
  if (write === "clear") {
    if (contentLength !== 0) throw invalidHeader("value", "Content-Length", "A clear carries no body: Content-Length is 0.");
    store.putUploadPages(disk, start, length, undefined);
    return undefined;
  }
  if (length > maxPageWriteBytes) throw httpError(storageErrors.requestBodyTooLarge);
  if (contentLength !== length) {
    throw invalidHeader("value", "Content-Length", `Content-Length ${contentLength} is not the range's length ${length}.`);
  }
  const body = await readBody(req, maxPageWriteBytes);
  if (body.length !== length) {
    throw invalidHeader("value", "Content-Length", `The body holds ${body.length} bytes, not the range's ${length}.`);
  }
  const md5 = requestHeader(req, "content-md5");
  if (md5 !== undefined && createHash("md5").update(body).digest("base64") !== md5) {
    throw httpError(storageErrors.md5Mismatch);
  }
  store.putUploadPages(disk, start, length, body);
  return md5;
}

function invalidHeader(kind: "missing" | "value", name: string, reason: string): EmulatorHttpError {
  if (kind === "missing") return httpError(storageErrors.missingRequiredHeader, { HeaderName: name });
  return httpError(storageErrors.invalidHeaderValue, { HeaderName: name, Reason: reason });
}

