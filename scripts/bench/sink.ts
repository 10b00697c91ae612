/**
 * A counting page sink in front of the target storage, for the scale scenario only. Azurite keeps a page blob's
 * ranges in one array that it rewrites on every Put Page, so its cost per write grows with the number of ranges
 * in the blob (measured in bench/README.md) and 200,000 scattered writes would take the local stack most of an
 * hour. The worker does not know: it talks to this HTTPS endpoint exactly as to the target. Page writes are
 * answered here as the service answers them — Shared Key, 512-byte ranges inside the blob, the lease rule (a write
 * without the active lease's id fails with 412), a readable copy source whose bytes are read — and the pages they
 * write are kept (sink-blobs.ts), so Get Page Ranges of the blob and of its blob snapshots is answered here too,
 * from what was written, paged like the service (at most 10,000 ranges per answer). Every other request (create,
 * lease, metadata with the TargetBlob's stamp, snapshot, resize, delete, list) goes to the real target endpoint,
 * and its successful answers update what the sink knows (a lease taken, a snapshot taken, a new size).
 */
import { randomUUID } from "node:crypto";
import { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import { Agent, createServer, request } from "node:https";
import type { AddressInfo } from "node:net";
import { servicePageListMaxRanges } from "../../emulator/behaviour";
import { type BlobLimiter, admitPageWrite } from "../../emulator/dataplane/blob-limits";
import { ensureLocalCa, issueServerCertificate } from "../../emulator/ca";
import { type PageListPaging, pageListPaging, pageListXml, requestedRange, takePage } from "../../emulator/dataplane/page-list";
import type { ListedRange } from "../../emulator/dataplane/page-ranges";
import { EmulatorHttpError } from "../../emulator/disks/api";
import { sendStorageError, storageServiceVersion } from "../../emulator/service-errors";
import { hasValidSharedKey } from "../../emulator/shared-key";
import type { LocalStack } from "../../emulator/stack";
import type { ByteRange } from "../../src/domain/ranges";
import { type SinkBlob, type SinkSnapshot, leaseAfter, leaseRefusal, newBlob } from "./sink-blobs";

/** What the sink received. */
export interface SinkCounts {
  copies: number;
  uploads: number;
  clears: number;
  /** Bytes read from copy sources plus bytes received in Put Page bodies: what a real target would have written. */
  bytesWritten: number;
  clearedBytes: number;
  /** Page writes refused because they did not carry the blob's active lease. */
  leaseRefusals: number;
  /** Get Page Ranges answers (one per page of a listing) and the ranges they held. */
  pageListings: number;
  rangesListed: number;
}

/** A running sink: its blob endpoint for the target account, and its counters. */
export interface PageSink {
  readonly blobEndpoint: string;
  readonly counts: SinkCounts;
  reset(): void;
  close(): Promise<void>;
}

const empty = (): SinkCounts => ({ copies: 0, uploads: 0, clears: 0, bytesWritten: 0, clearedBytes: 0, leaseRefusals: 0, pageListings: 0, rangesListed: 0 });

/** Updates the sink's state from the target's answer to a forwarded request. */
type FollowAnswer = (status: number, headers: IncomingHttpHeaders) => void;

function headerOf(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

const blobKeyOf = (url: URL) => decodeURIComponent(url.pathname);

function answerHeaders(): Record<string, string> {
  return {
    etag: `"0x8D${randomUUID().replace(/-/g, "").slice(0, 15).toUpperCase()}"`,
    "last-modified": new Date().toUTCString(),
    "x-ms-request-id": randomUUID(),
    "x-ms-version": storageServiceVersion,
  };
}

/** The listed ranges of `ranges` (coalesced, in order) within `window`, from the paging's resume point on. */
function* listedWithin(ranges: readonly ByteRange[], window: ByteRange, paging: PageListPaging): Iterable<ListedRange> {
  const from = Math.max(window.start, paging.resumeAt);
  let low = 0;
  let high = ranges.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (ranges[middle].end <= from) low = middle + 1;
    else high = middle;
  }
  for (let i = low; i < ranges.length && ranges[i].start < window.end; i++) {
    yield { kind: "page", start: Math.max(ranges[i].start, window.start), end: Math.min(ranges[i].end, window.end) };
  }
}

/** With `limiter`, page writes pass the modelled scalability targets first, as at the stack's blob proxy. */
export async function startPageSink(stack: LocalStack, limiter?: BlobLimiter): Promise<PageSink> {
  const upstream = new URL(stack.target.blobEndpoint);
  const account = { name: stack.target.accountName, key: stack.target.accountKey };
  const ca = await ensureLocalCa();
  const agent = new Agent({ keepAlive: true, maxSockets: 64, ca: ca.cert });
  const blobs = new Map<string, SinkBlob>();
  let counts = empty();

  const forward = (req: IncomingMessage, res: ServerResponse, follow?: FollowAnswer) => {
    const outgoing = request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host }, agent },
      (answer) => {
        follow?.(answer.statusCode ?? 502, answer.headers);
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    outgoing.on("error", () => sendStorageError(res, 500, "InternalError", "The target storage did not answer."));
    req.pipe(outgoing);
  };

  /** What a forwarded request changes in the sink's state once the target accepted it. */
  const followerOf = (req: IncomingMessage, url: URL): FollowAnswer | undefined => {
    const key = blobKeyOf(url);
    const comp = url.searchParams.get("comp");
    const sent = (name: string) => headerOf(req.headers, name);
    if (req.method === "PUT" && comp === null && sent("x-ms-blob-type")?.toLowerCase() === "pageblob") {
      const sizeBytes = Number(sent("x-ms-blob-content-length"));
      return (status) => {
        if (status === 201) blobs.set(key, newBlob(sizeBytes, blobs.get(key)));
      };
    }
    const blob = blobs.get(key);
    if (!blob) return undefined;
    if (req.method === "PUT" && comp === "lease") {
      const action = sent("x-ms-lease-action")?.toLowerCase() ?? "";
      return (status, answer) => {
        if (status >= 200 && status < 300) blob.leaseId = leaseAfter(action, blob.leaseId, sent("x-ms-proposed-lease-id"), headerOf(answer, "x-ms-lease-id"));
      };
    }
    if (req.method === "PUT" && comp === "snapshot") {
      // The snapshot holds what was written when the target received the request.
      const taken: SinkSnapshot = { ranges: blob.pages.ranges(), sizeBytes: blob.sizeBytes };
      return (status, answer) => {
        const snapshot = headerOf(answer, "x-ms-snapshot");
        if (status === 201 && snapshot) blob.snapshots.set(snapshot, taken);
      };
    }
    const newSize = sent("x-ms-blob-content-length");
    if (req.method === "PUT" && comp === "properties" && newSize !== undefined) {
      return (status) => {
        if (status !== 200) return;
        blob.pages.truncate(Number(newSize));
        blob.sizeBytes = Number(newSize);
      };
    }
    if (req.method === "DELETE") {
      const snapshot = url.searchParams.get("snapshot");
      const only = sent("x-ms-delete-snapshots")?.toLowerCase() === "only";
      return (status) => {
        if (status !== 202) return;
        if (snapshot) blob.snapshots.delete(snapshot);
        else if (only) blob.snapshots.clear();
        else blobs.delete(key);
      };
    }
    return undefined;
  };

  const writePage = async (req: IncomingMessage, res: ServerResponse, url: URL) => {
    if (!(await admitPageWrite(limiter, account.name, req, res))) return;
    if (!hasValidSharedKey(req.method ?? "PUT", req.url ?? "/", req.headers, account)) {
      return sendStorageError(res, 403, "AuthenticationFailed", "Server failed to authenticate the request.");
    }
    const range = /^bytes=(\d+)-(\d+)$/.exec(String(req.headers["x-ms-range"] ?? req.headers.range ?? ""));
    const start = Number(range?.[1]);
    const length = Number(range?.[2]) + 1 - start;
    if (!range || start % 512 !== 0 || length % 512 !== 0 || length <= 0) {
      return sendStorageError(res, 400, "InvalidPageRange", "The page range specified is invalid.");
    }
    const kind = String(req.headers["x-ms-page-write"] ?? "").toLowerCase();
    const source = req.headers["x-ms-copy-source"];
    let body = 0;
    for await (const part of req) body += (part as Buffer).length;
    const blob = url.searchParams.has("snapshot") ? undefined : blobs.get(blobKeyOf(url));
    if (!blob) return sendStorageError(res, 404, "BlobNotFound", "The specified blob does not exist.");
    if (start + length > blob.sizeBytes) return sendStorageError(res, 416, "InvalidPageRange", "The page range specified is invalid.");
    const refusal = leaseRefusal(blob, headerOf(req.headers, "x-ms-lease-id"));
    if (refusal) {
      counts.leaseRefusals += 1;
      return sendStorageError(res, refusal.status, refusal.code, refusal.message);
    }
    const written = { start, end: start + length };
    if (kind === "clear") {
      counts.clears += 1;
      counts.clearedBytes += length;
      blob.pages.clear(written);
    } else if (typeof source === "string") {
      if (length > 4 * 1024 * 1024) return sendStorageError(res, 400, "OutOfRangeInput", "A page range can be at most 4 MiB.");
      try {
        const reader = stack.emulator.openSource(new URL(source));
        if (!reader) throw new EmulatorHttpError(400, "CannotVerifyCopySource", "The copy source is not a managed-disk data URL.");
        const from = Number(/^bytes=(\d+)-/.exec(String(req.headers["x-ms-source-range"] ?? ""))?.[1] ?? Number.NaN);
        if (!Number.isSafeInteger(from)) throw new EmulatorHttpError(400, "InvalidHeaderValue", "x-ms-source-range is missing.");
        counts.bytesWritten += reader.read(from, length).length;
        counts.copies += 1;
      } catch (error) {
        if (!(error instanceof EmulatorHttpError)) throw error;
        return sendStorageError(res, error.status, "CannotVerifyCopySource", error.message);
      }
      blob.pages.write(written);
    } else {
      if (body !== length) return sendStorageError(res, 400, "InvalidHeaderValue", "Content-Length does not match the range.");
      counts.uploads += 1;
      counts.bytesWritten += body;
      blob.pages.write(written);
    }
    res.writeHead(201, {
      ...answerHeaders(),
      "x-ms-blob-sequence-number": "0",
      "x-ms-request-server-encrypted": "true",
      "content-length": "0",
    });
    res.end();
  };

  /** Get Page Ranges of a blob or blob snapshot the sink wrote; a blob it does not know is the target's to answer. */
  const listPages = (req: IncomingMessage, res: ServerResponse, url: URL) => {
    const blob = blobs.get(blobKeyOf(url));
    if (!blob) return forward(req, res);
    if (!hasValidSharedKey(req.method ?? "GET", req.url ?? "/", req.headers, account)) {
      return sendStorageError(res, 403, "AuthenticationFailed", "Server failed to authenticate the request.");
    }
    if (url.searchParams.has("prevsnapshot") || req.headers["x-ms-previous-snapshot-url"] !== undefined) {
      return sendStorageError(res, 400, "UnsupportedQueryParameter", "The bench's page sink does not answer diffs of the TargetBlob.");
    }
    const snapshot = url.searchParams.get("snapshot");
    const listed: SinkSnapshot | undefined = snapshot ? blob.snapshots.get(snapshot) : { ranges: blob.pages.ranges(), sizeBytes: blob.sizeBytes };
    if (!listed) return sendStorageError(res, 404, "BlobNotFound", "The specified blob does not exist.");
    const asked = /^bytes=(\d+)-(\d+)$/.exec(requestedRange(req.headers));
    const window = asked ? { start: Number(asked[1]), end: Number(asked[2]) + 1 } : { start: 0, end: listed.sizeBytes };
    let xml: string;
    try {
      const paging = pageListPaging(url, req.headers, servicePageListMaxRanges);
      const page = takePage(listedWithin(listed.ranges, window, paging), paging);
      counts.pageListings += 1;
      counts.rangesListed += page.ranges.length;
      xml = pageListXml(page);
    } catch (error) {
      if (!(error instanceof EmulatorHttpError)) throw error;
      return sendStorageError(res, error.status, error.code, error.message, { details: error.details });
    }
    const body = Buffer.from(xml);
    res.writeHead(200, {
      ...answerHeaders(),
      "content-type": "application/xml",
      "x-ms-blob-content-length": String(listed.sizeBytes),
      "content-length": String(body.length),
    });
    res.end(body);
  };

  const tls = await issueServerCertificate(ca);
  const server = createServer({ cert: tls.cert, key: tls.key, keepAliveTimeout: 60_000 }, (req, res) => {
    req.on("error", () => undefined);
    const url = new URL(req.url ?? "/", "https://sink");
    const comp = url.searchParams.get("comp");
    const failed = () => sendStorageError(res, 500, "InternalError", "The sink failed.");
    if (req.method === "PUT" && comp === "page") writePage(req, res, url).catch(failed);
    else if (req.method === "GET" && comp === "pagelist") listPages(req, res, url);
    else forward(req, res, followerOf(req, url));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    blobEndpoint: `https://127.0.0.1:${port}/${stack.target.accountName}`,
    get counts() {
      return counts;
    },
    reset() {
      counts = empty();
    },
    close: () =>
      new Promise<void>((resolve) => {
        agent.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
