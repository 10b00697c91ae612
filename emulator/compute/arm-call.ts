/**
 * What every ARM route of the emulator shares: the call as a handler sees it, ARM's first checks (a bearer token,
 * decodable names) and its answers (request ids on success, ARM error bodies and the 401 challenge on refusal).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { randomUUID } from "node:crypto";
import { EmulatorHttpError } from "../disks/api";
import { sendJson } from "../disks/http";
import { armErrors, httpError } from "../error-catalog";
import { sendJsonError } from "../service-errors";
import { PropertyError } from "./validation";

/** One admitted ARM call, as a route's handler sees it. */
export interface ArmCall {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  /** The path's placeholders; `resourceGroup` and `name` are URL-decoded. */
  params: Readonly<Record<string, string>>;
  /** The call's api-version; the operations it starts carry it on. */
  version: string;
}

/** A successful ARM answer, with the request ids and no-cache header ARM sends. */
export function sendArm(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  sendJson(res, status, body, {
    "x-ms-request-id": randomUUID(),
    "x-ms-correlation-request-id": randomUUID(),
    "Cache-Control": "no-cache",
    ...headers,
  });
}

/** The path's placeholders with `resourceGroup` and `name` URL-decoded; a malformed escape throws URIError. */
export function decodeNames(params: Readonly<Record<string, string>>): Readonly<Record<string, string>> {
  const decoded = { ...params };
  for (const key of ["resourceGroup", "name"]) {
    if (decoded[key] !== undefined) decoded[key] = decodeURIComponent(decoded[key]);
  }
  return decoded;
}

/** ARM's first check: a bearer token must be sent (the emulator does not validate it). */
export function checkAuthorization(req: IncomingMessage): void {
  const value = req.headers.authorization;
  if (!value) throw httpError(armErrors.authorizationMissing);
  if (!/^Bearer \S+$/i.test(value)) throw httpError(armErrors.invalidToken);
}

/** Answers an EmulatorHttpError as ARM does (a 401 with its WWW-Authenticate challenge); rethrows anything else. */
export function answerArmError(res: ServerResponse, error: unknown): void {
  if (!(error instanceof EmulatorHttpError)) throw error;
  const headers: Record<string, string> = { "x-ms-request-id": randomUUID() };
  if (error.status === 401) {
    headers["WWW-Authenticate"] =
      'Bearer authorization_uri="https://login.microsoftonline.com/common", error="invalid_token", ' +
      `error_description="${error.message}"`;
  }
  sendJsonError(res, error, { target: error instanceof PropertyError ? error.target : undefined, headers });
}
