/**
 * Error answers shaped like the real services': ARM JSON for compute, storage XML for blob and data.
 * Clients (and the SDKs' retry policies) read the status, `x-ms-error-code` and the body, so all three
 * must look like Azure's.
 */
import { randomUUID } from "node:crypto";
import type { ServerResponse } from "node:http";

/** The storage service version these answers claim; any recent version works for the SDK. */
export const storageServiceVersion = "2025-11-05";

/** Extra XML elements some storage errors carry, e.g. CopySourceStatusCode. */
export type StorageErrorDetails = Record<string, string | number>;

function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * Writes a storage error: `<Error><Code>..</Code><Message>..</Message>..</Error>` plus x-ms-error-code. Pass
 * `requestId` when the answer's other headers already name one, so the body's RequestId line matches it.
 */
export function sendStorageError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  options: { details?: StorageErrorDetails; headers?: Record<string, string>; requestId?: string } = {},
): void {
  const requestId = options.requestId ?? randomUUID();
  const details = Object.entries(options.details ?? {})
    .map(([name, value]) => `<${name}>${escapeXml(String(value))}</${name}>`)
    .join("");
  const body = Buffer.from(
    `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${escapeXml(message)}\n` +
      `RequestId:${requestId}\nTime:${new Date().toISOString()}</Message>${details}</Error>`,
  );
  sendOnce(res, status, body, {
    "content-type": "application/xml",
    "x-ms-error-code": code,
    "x-ms-request-id": requestId,
    "x-ms-version": storageServiceVersion,
    ...options.headers,
  });
}

/** Writes an ARM error: `{ "error": { "code", "message", "details"? } }`. */
export function sendArmError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  options: { details?: { code: string; target?: string; message: string }[]; headers?: Record<string, string> } = {},
): void {
  const requestId = randomUUID();
  const error = options.details ? { code, message, details: options.details } : { code, message };
  sendOnce(res, status, Buffer.from(JSON.stringify({ error })), {
    "content-type": "application/json; charset=utf-8",
    "x-ms-request-id": requestId,
    "x-ms-correlation-request-id": requestId,
    ...options.headers,
  });
}

/**
 * Microsoft.Compute's throttling answer: 429 OperationNotAllowed with a TooManyRequests detail and Retry-After,
 * which the SDKs' throttling retry policy waits for.
 */
export function sendComputeThrottle(
  res: ServerResponse,
  retryAfterSeconds: number,
  detail: { target?: string; message: string },
  headers: Record<string, string> = {},
): void {
  sendArmError(
    res,
    429,
    "OperationNotAllowed",
    "The server rejected the request because too many requests have been received for this subscription.",
    { details: [{ code: "TooManyRequests", ...detail }], headers: { "retry-after": String(retryAfterSeconds), ...headers } },
  );
}

/** Answers unless an answer has started; a half-sent answer can only be cut off. */
function sendOnce(res: ServerResponse, status: number, body: Buffer, headers: Record<string, string>): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { ...headers, "content-length": String(body.length), date: new Date().toUTCString() });
  res.end(body);
}
