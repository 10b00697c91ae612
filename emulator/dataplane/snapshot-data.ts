/**
 * The managed-disk data endpoint behind each accessSAS: a read-only page blob holding the snapshot (or the exported
 * disk) as a fixed VHD. Get Blob Properties, Get Blob Metadata (headers only), Get Blob (ranged, streamed; a range of
 * at most 4 MiB with its Content-MD5 or x-ms-content-crc64 on request), Get Page Ranges and its managed-disk diff form
 * (`x-ms-previous-snapshot-url`), both paged with `maxresults`/`marker` under the stack's cap; any other `comp` is
 * refused as the service refuses it on a page blob behind a read SAS. Every read honours If-Match, If-None-Match,
 * If-Modified-Since and If-Unmodified-Since. A grant made with `getSecureVMGuestStateSAS` also names the snapshot's
 * VM guest state, served the same way as a page blob of its own (no VHD footer, no diff). A disk export is served
 * like a snapshot, without the diff (neither on nor against it). While the resource's region is down (`setRegionOutage`) its data URLs reset the connection, as an unreachable storage host does.
 */
import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { RegionCheck, ServiceBehaviour } from "../behaviour";
import { EmulatorHttpError } from "../disks/api";
import { parseByteRange, requestHeader, storageAnswerHeaders, streamChunks } from "../disks/http";
import { diffResizeBoundaryBytes } from "../disks/limits";
import type { DiskExport, DiskRecord, DiskStore, SnapshotRecord } from "../disks/store";
import type { VhdView } from "../disks/vhd-view";
import { httpError, storageErrors } from "../error-catalog";
import { answerStorageError } from "../service-errors";
import { pageListPaging, pageListXml, takePage } from "./page-list";
import { listChangedRanges, listPageRanges } from "./page-ranges";
import { authenticationFailed, type SasAuthority } from "./sas";
import { evaluateConditions } from "./conditions";
import { storageCrc64Header } from "./crc64";


/** Serves the data URLs; answers false for any other path. */
export type DataRoute = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;

/**
 * What a data URL serves: a snapshot's VHD or the VM guest state it froze, or a disk export's (the disk and its guest
 * state as they stand during the export); `view` is that blob's content.
 */
export type ServedBlob =
  | { readonly kind: "snapshot"; readonly snapshot: SnapshotRecord; readonly content: ServedContent; readonly view: VhdView }
  | { readonly kind: "disk"; readonly disk: DiskRecord; readonly access: DiskExport; readonly content: ServedContent; readonly view: VhdView };

/** The VHD of the disk (or snapshot), or the VM guest state beside it. */
export type ServedContent = "disk" | "guestState";

/** The snapshot or disk a data URL is granted on: its region decides whether the URL answers. */
export function servedResource(served: ServedBlob): SnapshotRecord | DiskRecord {
  return served.kind === "snapshot" ? served.snapshot : served.disk;
}

/** The blob a data URL grants, or the 403 the service answers for a forged, expired or revoked SAS. */
export function resolveDataUrl(store: DiskStore, sas: SasAuthority, url: URL): ServedBlob {
  const claim = sas.verify(url);
  // A disk's upload SAS can write, not read.
  if (claim.kind !== "read") throw httpError(storageErrors.authorizationPermissionMismatch);
  const snapshot = store.snapshotByAccessId(claim.accessId);
  const access = snapshot?.access;
  if (snapshot && access?.blobId === claim.blobId) return { kind: "snapshot", snapshot, content: "disk", view: snapshot.view };
  if (snapshot?.guestState && access?.guestStateBlobId === claim.blobId) {
    return { kind: "snapshot", snapshot, content: "guestState", view: snapshot.guestState };
  }
  const disk = store.diskByExportAccessId(claim.accessId);
  if (disk?.phase.state === "ActiveSAS") {
    const exported = disk.phase.access;
    if (exported.blobId === claim.blobId) return { kind: "disk", disk, access: exported, content: "disk", view: exported.view };
    if (exported.guestState && exported.guestStateBlobId === claim.blobId) {
      return { kind: "disk", disk, access: exported, content: "guestState", view: exported.guestState };
    }
  }
  throw authenticationFailed("The access to this snapshot or disk has expired or was revoked.");
}

/** Serves the data URLs of `store`'s snapshots; Get Page Ranges reads `behaviour` at every request. */
export function createSnapshotDataRoute(
  store: DiskStore,
  sas: SasAuthority,
  behaviour: ServiceBehaviour,
  inRegionDown: RegionCheck = () => false,
): DataRoute {
  const resolve = (url: URL) => resolveDataUrl(store, sas, url);

  return async (req, res, url) => {
    if (!sas.isDataPath(url.pathname)) return false;
    const { requestId, headers: common } = storageAnswerHeaders(req);
    try {
      const served = resolve(url);
      if (inRegionDown(servedResource(served))) {
        req.socket.destroy();
        return true;
      }
      const method = req.method ?? "GET";
      if (method !== "GET" && method !== "HEAD") throw httpError(storageErrors.authorizationPermissionMismatch);
      const operation = requestedOperation(url);
      const etag = etagOf(served);
      const lastModifiedMs = lastModifiedOf(served);
      const identity = { ...common, Date: new Date().toUTCString(), ETag: etag, "Last-Modified": new Date(lastModifiedMs).toUTCString() };
      const headers = { ...identity, ...blobHeaders(servedResource(served).timeCreated) };
      if (evaluateConditions(req.headers, { etag, lastModifiedMs }) === "not-modified") {
        // The service answers 304 without a body, naming the unmet condition in x-ms-error-code.
        res.writeHead(304, { ...headers, "x-ms-error-code": storageErrors.conditionNotMet.code });
        res.end();
      } else if (operation === "pagelist") {
        sendPageList(req, res, url, { served, headers, behaviour, resolve });
      } else if (operation === "metadata") {
        // Get Blob Metadata: the blob's x-ms-meta-* (a managed disk's blob has none) and its identity, no body.
        res.writeHead(200, { ...identity, "Content-Length": 0 });
        res.end();
      } else {
        await sendBlob(req, res, served.view, headers, method === "HEAD");
      }
    } catch (error) {
      if (!(error instanceof EmulatorHttpError)) throw error;
      const blobSize = snapshotSizeFor416(error);
      answerStorageError(res, error, {
        requestId,
        headers: blobSize === undefined ? common : { ...common, "Content-Range": `bytes */${blobSize}` },
      });
    }
    return true;
  };
}


/**
 * The blob's ETag, quoted. A snapshot (and the guest state it froze) never changes, so it is derived from its unique
 * id; an exported disk does not change during its export, so its ETag is the export's (a new one for each export).
 */
export function etagOf(served: ServedBlob): string {
  const base = served.kind === "snapshot" ? served.snapshot.uniqueId : `${served.disk.uniqueId}/export/${served.access.accessId}`;
  const key = served.content === "disk" ? base : `${base}/guest-state`;
  return `"0x8D${createHash("sha256").update(key).digest("hex").slice(0, 15).toUpperCase()}"`;
}

/** A snapshot's blob was last modified when it was taken; a disk export's when it was granted (assumed). */
export function lastModifiedOf(served: ServedBlob): number {
  return served.kind === "snapshot" ? served.snapshot.timeCreated : served.access.grantedAt;
}

/** The properties Get Blob, Get Blob Properties and Get Page Ranges answer beside the blob's ETag and Last-Modified. */
function blobHeaders(createdMs: number): Record<string, string> {
  return {
    "x-ms-creation-time": new Date(createdMs).toUTCString(),
    "x-ms-blob-type": "PageBlob",
    "x-ms-blob-sequence-number": "0",
    "x-ms-lease-status": "unlocked",
    "x-ms-lease-state": "available",
    "x-ms-server-encrypted": "true",
    "Accept-Ranges": "bytes",
  };
}

/** What a data URL is asked for: Get Blob (or, by HEAD, Get Blob Properties), Get Page Ranges or Get Blob Metadata. */
type BlobOperation = "blob" | "pagelist" | "metadata";

/**
 * The operation `comp` names, or the service's refusal of it on this page blob behind a read SAS: Get Blob Tags needs
 * the SAS's `t` permission, which a read SAS (`sp=r`) does not grant; Get Block List applies to block blobs only; any
 * other value names no blob operation. Asked before the conditions, as a request is parsed and authorized first.
 */
function requestedOperation(url: URL): BlobOperation {
  const comp = url.searchParams.get("comp");
  switch (comp) {
    case null:
      return "blob";
    case "pagelist":
    case "metadata":
      return comp;
    case "tags":
      throw httpError(storageErrors.authorizationPermissionMismatch);
    case "blocklist":
      throw httpError(storageErrors.blockListOfPageBlob);
    default:
      throw httpError(storageErrors.invalidQueryParameterValue, {
        QueryParameterName: "comp",
        QueryParameterValue: comp,
        Reason: "Not the comp value of a blob operation asked with GET or HEAD.",
      });
  }
}

/** A 416 carries the blob size in Content-Range; the error says which size that was. */
class RangeNotSatisfiable extends EmulatorHttpError {
  constructor(readonly blobSize: number) {
    const { status, code, message } = storageErrors.invalidRange;
    super(status, code, message);
  }
}

function snapshotSizeFor416(error: EmulatorHttpError): number | undefined {
  return error instanceof RangeNotSatisfiable ? error.blobSize : undefined;
}

/** The requested byte window [start, end) of a blob of `size`; x-ms-range wins over Range like the service. */
function requestedWindow(req: IncomingMessage, size: number): { start: number; end: number; partial: boolean } {
  const range = parseByteRange(requestHeader(req, "x-ms-range") ?? requestHeader(req, "range"));
  if (!range) return { start: 0, end: size, partial: false };
  if (range.start >= size) throw new RangeNotSatisfiable(size);
  return { start: range.start, end: Math.min(size, (range.end ?? size - 1) + 1), partial: true };
}

async function sendBlob(
  req: IncomingMessage,
  res: ServerResponse,
  view: VhdView,
  headers: Record<string, string>,
  headOnly: boolean,
): Promise<void> {
  const size = view.sizeBytes;
  if (headOnly) {
    res.writeHead(200, { ...headers, "Content-Length": size, "Content-Type": "application/octet-stream" });
    res.end();
    return;
  }
  const window = requestedWindow(req, size);
  const length = window.end - window.start;
  const checksum = requestedChecksum(req, window.partial, length);
  const answerHeaders = {
    ...headers,
    "Content-Length": length,
    "Content-Type": "application/octet-stream",
    ...(window.partial ? { "Content-Range": `bytes ${window.start}-${window.end - 1}/${size}` } : {}),
  };
  if (checksum) {
    // At most 4 MiB: read whole, so the checksum header can precede the bytes it covers.
    const bytes = view.read(window.start, length);
    res.writeHead(206, { ...answerHeaders, [checksum.header]: checksum.of(bytes) });
    res.end(bytes);
    return;
  }
  res.writeHead(window.partial ? 206 : 200, answerHeaders);
  await streamChunks(res, window.start, length, (offset, len) => view.read(offset, len));
}

/** The most a range may span when its checksum is asked for (Get Blob: "less than or equal to 4 MiB"). */
const maxChecksumRangeBytes = 4 * 1024 * 1024;

const checksumHeaders = {
  "x-ms-range-get-content-md5": { header: "Content-MD5", of: (b: Buffer) => createHash("md5").update(b).digest("base64") },
  "x-ms-range-get-content-crc64": { header: "x-ms-content-crc64", of: storageCrc64Header },
} as const;

/**
 * Which checksum of the range the request asks for, if any. The service documents 400 for either header without a
 * range, for a range over 4 MiB and for both headers at once, not the error code: InvalidHeaderValue naming the
 * header is the emulator's choice.
 */
function requestedChecksum(
  req: IncomingMessage,
  ranged: boolean,
  length: number,
): { header: string; of: (bytes: Buffer) => string } | undefined {
  const asked = (Object.keys(checksumHeaders) as (keyof typeof checksumHeaders)[]).filter(
    (name) => requestHeader(req, name)?.toLowerCase() === "true",
  );
  if (asked.length === 0) return undefined;
  const refuse = (reason: string) =>
    httpError(storageErrors.invalidHeaderValue, { HeaderName: asked[asked.length - 1], HeaderValue: "true", Reason: reason });
  if (asked.length > 1) throw refuse("Only one of x-ms-range-get-content-md5 and x-ms-range-get-content-crc64 may be set.");
  if (!ranged) throw refuse("A range checksum needs a Range or x-ms-range header.");
  if (length > maxChecksumRangeBytes) throw refuse(`A range checksum covers at most ${maxChecksumRangeBytes} bytes.`);
  return checksumHeaders[asked[0]];
}

/** What a Get Page Ranges answer is about, beyond the request itself. */
interface PageListContext {
  served: ServedBlob;
  headers: Record<string, string>;
  behaviour: ServiceBehaviour;
  resolve: (url: URL) => ServedBlob;
}

function sendPageList(req: IncomingMessage, res: ServerResponse, url: URL, context: PageListContext): void {
  const { served, behaviour } = context;
  const size = served.view.sizeBytes;
  const window = requestedWindow(req, size);
  const previousUrl = requestHeader(req, "x-ms-previous-snapshot-url");
  const paging = pageListPaging(url, req.headers, behaviour.pageListMaxRanges);
  // A marker resumes the listing where the last answer stopped, so no answer walks the extents before it.
  const from = Math.max(window.start, paging.resumeAt);
  const diff = previousUrl ? diffSnapshots(previousUrl, served, context.resolve) : undefined;
  const listing = diff
    ? listChangedRanges(diff.previous, diff.current, from, window.end, behaviour)
    : listPageRanges(served.view, from, window.end);
  const xml = pageListXml(takePage(listing, paging));
  res.writeHead(200, {
    ...context.headers,
    "x-ms-blob-content-length": String(size),
    "Content-Type": "application/xml",
    "Content-Length": Buffer.byteLength(xml),
  });
  res.end(xml);
}

/** The two snapshots of a diff, refused the way the service refuses unusable previous snapshots. */
function diffSnapshots(
  previousUrl: string,
  served: ServedBlob,
  resolve: (url: URL) => ServedBlob,
): { previous: SnapshotRecord; current: SnapshotRecord } {
  let url: URL;
  try {
    url = new URL(previousUrl);
  } catch {
    throw httpError(storageErrors.previousSnapshotUrlInvalid);
  }
  const older = resolve(url);
  // A guest state has no diff (assumed): its blob is not an incremental snapshot. Neither is a disk export (assumed).
  if (served.kind !== "snapshot" || older.kind !== "snapshot" || served.content !== "disk" || older.content !== "disk") {
    throw httpError(storageErrors.previousSnapshotNotSupported);
  }
  const previous = older.snapshot;
  const current = served.snapshot;
  if (!previous.incremental || !current.incremental || previous.familyId !== current.familyId) {
    // Assumed code for snapshots of different disks or of a recreated disk (a different family): the blob
    // service's "not supported on the previous snapshot".
    throw httpError(storageErrors.previousSnapshotNotSupported);
  }
  if (previous.timeCreated > current.timeCreated) {
    throw httpError(storageErrors.previousSnapshotCannotBeNewer);
  }
  const crossed =
    previous.view.diskSizeBytes <= diffResizeBoundaryBytes && current.view.diskSizeBytes > diffResizeBoundaryBytes;
  if (crossed) {
    // The service documents that no diff exists across a resize past 4 TiB, not its error body; this code is
    // the blob service's answer for a previous snapshot it cannot diff against.
    throw httpError(storageErrors.previousSnapshotAcrossGrowth);
  }
  return { previous, current };
}
