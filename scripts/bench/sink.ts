/**
 * A counting page sink in front of the target storage, for the scale scenario only. Azurite keeps a page blob's
 * ranges in one array that it rewrites on every Put Page, so its cost per write grows with the number of ranges
 * in the blob (measured in bench/README.md) and 200,000 scattered writes would take the local stack most of an
 * hour. The worker does not know: it talks to this HTTPS endpoint exactly as to the target, every page write is
 * checked (Shared Key, 512-byte ranges, a readable copy source whose bytes are read) and answered as the service
 * answers, and every other request (create, snapshot, list) is forwarded to the real target endpoint.
 */
import { randomUUID } from "node:crypto";
import { type IncomingMessage, type ServerResponse } from "node:http";
import { Agent, createServer, request } from "node:https";
import type { AddressInfo } from "node:net";
import { ensureLocalCa, issueServerCertificate } from "../../emulator/ca";
import { EmulatorHttpError } from "../../emulator/disks/api";
import { sendStorageError, storageServiceVersion } from "../../emulator/service-errors";
import { hasValidSharedKey } from "../../emulator/shared-key";
import type { LocalStack } from "../../emulator/stack";

/** What the sink received. */
export interface SinkCounts {
  copies: number;
  uploads: number;
  clears: number;
  /** Bytes read from copy sources plus bytes received in Put Page bodies: what a real target would have written. */
  bytesWritten: number;
  clearedBytes: number;
}

/** A running sink: its blob endpoint for the target account, and its counters. */
export interface PageSink {
  readonly blobEndpoint: string;
  readonly counts: SinkCounts;
  reset(): void;
  close(): Promise<void>;
}

const empty = (): SinkCounts => ({ copies: 0, uploads: 0, clears: 0, bytesWritten: 0, clearedBytes: 0 });

export async function startPageSink(stack: LocalStack): Promise<PageSink> {
  const upstream = new URL(stack.target.blobEndpoint);
  const account = { name: stack.target.accountName, key: stack.target.accountKey };
  const ca = await ensureLocalCa();
  const agent = new Agent({ keepAlive: true, maxSockets: 64, ca: ca.cert });
  let counts = empty();

  const forward = (req: IncomingMessage, res: ServerResponse) => {
    const outgoing = request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host }, agent },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    outgoing.on("error", () => sendStorageError(res, 500, "InternalError", "The target storage did not answer."));
    req.pipe(outgoing);
  };

  const writePage = async (req: IncomingMessage, res: ServerResponse) => {
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
    if (kind === "clear") {
      counts.clears += 1;
      counts.clearedBytes += length;
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
    } else {
      if (body !== length) return sendStorageError(res, 400, "InvalidHeaderValue", "Content-Length does not match the range.");
      counts.uploads += 1;
      counts.bytesWritten += body;
    }
    res.writeHead(201, {
      etag: `"0x8D${randomUUID().replace(/-/g, "").slice(0, 15).toUpperCase()}"`,
      "last-modified": new Date().toUTCString(),
      "x-ms-blob-sequence-number": "0",
      "x-ms-request-id": randomUUID(),
      "x-ms-version": storageServiceVersion,
      "x-ms-request-server-encrypted": "true",
      "content-length": "0",
    });
    res.end();
  };

  const tls = await issueServerCertificate(ca);
  const server = createServer({ cert: tls.cert, key: tls.key, keepAliveTimeout: 60_000 }, (req, res) => {
    req.on("error", () => undefined);
    const isPageWrite = req.method === "PUT" && /[?&]comp=page(&|$)/.test(req.url ?? "");
    if (!isPageWrite) return forward(req, res);
    writePage(req, res).catch(() => sendStorageError(res, 500, "InternalError", "The sink failed."));
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
