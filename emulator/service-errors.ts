/**
 * The writers of error answers, shaped like the real services': storage XML for blob and data, ARM JSON for compute
 * (and the same JSON for the stack's control routes). Clients (and the SDKs' retry policies) read the status,
 * `x-ms-error-code` and the body, so all three must look like Azure's. What the errors say is in `error-catalog.ts`.
 */
import { randomUUID } from "node:crypto";
import type { ServerResponse } from "node:http";
import { EmulatorHttpError, type ErrorDetails } from "./disks/api";
import { sendJson } from "./disks/http";
import { armErrors, type ServiceError } from "./error-catalog";
import { element, xmlDocument } from "./xml";

/** The storage service version these answers claim; any recent version works for the SDK. */
export const storageServiceVersion = "2025-11-05";

/** Extra XML elements some storage errors carry, e.g. CopySourceStatusCode. */
export type StorageErrorDetails = ErrorDetails;

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
  const body = xmlDocument(
    element("Error", [
      element("Code", code),
      element("Message", `${message}\nRequestId:${requestId}\nTime:${new Date().toISOString()}`),
      ...Object.entries(options.details ?? {}).map(([name, value]) => element(name, value)),
    ]),
  );
  sendOnce(res, status, Buffer.from(body), {
    "content-type": "application/xml",
    "x-ms-error-code": code,
    "x-ms-request-id": requestId,
    "x-ms-version": storageServiceVersion,
    ...options.headers,
  });
}

/** A storage error to answer: what the catalog says, plus the extra elements and headers of this answer. */
export type StorageErrorAnswer = ServiceError & { readonly details?: ErrorDetails; readonly headers?: Record<string, string> };

/** `sendStorageError` for a catalogued or thrown error; `options.headers` come after the error's own. */
export function answerStorageError(
  res: ServerResponse,
  error: StorageErrorAnswer,
  options: { headers?: Record<string, string>; requestId?: string } = {},
): void {
  sendStorageError(res, error.status, error.code, error.message, {
    details: error.details,
    headers: { ...error.headers, ...options.headers },
    requestId: options.requestId,
  });
}

/** The ARM error body: `{ "error": { "code", "message", "target"?, "details"? } }`. */
export function armErrorJson(
  error: Pick<ServiceError, "code" | "message">,
  more: { target?: string; details?: { code: string; target?: string; message: string }[] } = {},
): { error: Record<string, unknown> } {
  return { error: { code: error.code, message: error.message, ...more } };
}

/** Writes an ARM error body with the emulator's JSON answer (`sendJson`), as the routes answer their refusals. */
export function sendJsonError(
  res: ServerResponse,
  error: ServiceError,
  options: { target?: string; headers?: Record<string, string> } = {},
): void {
  sendJson(res, error.status, armErrorJson(error, { target: options.target }), options.headers);
}

/** Runs a route's work, answering an EmulatorHttpError it throws with `sendJsonError`; other errors propagate. */
export async function answeringJsonErrors(res: ServerResponse, work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (error) {
    if (!(error instanceof EmulatorHttpError)) throw error;
    sendJsonError(res, error);
  }
}

/** Writes an ARM error as ARM's front door does, with request and correlation ids. */
export function sendArmError(
  res: ServerResponse,
  error: ServiceError,
  options: { details?: { code: string; target?: string; message: string }[]; headers?: Record<string, string> } = {},
): void {
  const requestId = randomUUID();
  sendOnce(res, error.status, Buffer.from(JSON.stringify(armErrorJson(error, { details: options.details }))), {
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
  sendArmError(res, armErrors.throttled, {
    details: [{ code: "TooManyRequests", ...detail }],
    headers: { "retry-after": String(retryAfterSeconds), ...headers },
  });
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
