/** Small HTTP helpers the emulator's routes share. */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { armErrors, httpError, storageErrors } from "../error-catalog";
import { EmulatorHttpError } from "./api";

/** Reads the whole request body, refusing more than `limitBytes`. */
export async function readBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > limitBytes) {
      throw new EmulatorHttpError(413, "RequestBodyTooLarge", `The request body is larger than ${limitBytes} bytes.`);
    }
    parts.push(chunk);
  }
  return Buffer.concat(parts, total);
}

/** Parses a JSON body; an empty body is `undefined`. */
export async function readJson(req: IncomingMessage, limitBytes = 1 << 20): Promise<unknown> {
  const body = await readBody(req, limitBytes);
  if (body.length === 0) return undefined;
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    throw httpError(armErrors.invalidJson);
  }
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = body === undefined ? "" : JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    ...(text ? { "Content-Type": "application/json; charset=utf-8" } : {}),
    "Content-Length": Buffer.byteLength(text),
  });
  res.end(text);
}

/**
 * Streams `length` bytes produced chunk by chunk, waiting for the socket to drain so a slow reader never makes
 * the emulator hold a whole large range in memory. Stops quietly when the client goes away.
 */
export async function streamChunks(
  res: ServerResponse,
  offset: number,
  length: number,
  read: (offset: number, length: number) => Buffer,
  chunkBytes = 4 << 20,
): Promise<void> {
  const end = offset + length;
  for (let pos = offset; pos < end && !res.destroyed; pos += chunkBytes) {
    if (!res.write(read(pos, Math.min(chunkBytes, end - pos)))) await drainedOrClosed(res);
  }
  res.end();
}

/**
 * Resolves once `res` drains or closes, and takes both its listeners off again: a wait that left the other one
 * behind (as racing two `events.once` does) would add a listener per chunk of a long answer.
 */
function drainedOrClosed(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}

/** Parses `bytes=start-end` / `bytes=start-` into an inclusive range; undefined when the header is absent. */
export function parseByteRange(header: string | undefined): { start: number; end?: number } | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d+)-(\d*)$/.exec(header.trim());
  if (!m) throw httpError(storageErrors.rangeHeaderInvalid(header));
  const start = Number(m[1]);
  const end = m[2] === "" ? undefined : Number(m[2]);
  if (end !== undefined && end < start) throw httpError(storageErrors.rangeHeaderInvalid(header));
  return { start, end };
}

/** A request header's first value. */
export function requestHeader(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The storage service version answered when the request names none. */
const defaultStorageVersion = "2025-01-05";

/** The headers every Blob Storage answer of the data endpoints carries: a new request id, the version, the client's id. */
export function storageAnswerHeaders(req: IncomingMessage): { requestId: string; headers: Record<string, string> } {
  const requestId = randomUUID();
  const headers: Record<string, string> = {
    "x-ms-request-id": requestId,
    "x-ms-version": requestHeader(req, "x-ms-version") ?? defaultStorageVersion,
  };
  const clientRequestId = requestHeader(req, "x-ms-client-request-id");
  if (clientRequestId) headers["x-ms-client-request-id"] = clientRequestId;
  return { requestId, headers };
}
