/** HTTP plumbing shared by the HTTP functions: JSON answers, bounded zod-validated bodies, secret-free errors. */
import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import type { z } from "zod";
import { getDeps } from "../composition";
import { SettingsError } from "../config";
import { PermanentError, describeError, redact } from "../domain/errors";
import type { Deps, Log } from "../engine/deps";
import { logFor } from "./log";

/** Largest request body accepted. */
export const maxBodyBytes = 64 * 1024;

export function json(status: number, body: unknown): HttpResponseInit {
  return { status, jsonBody: body };
}

/** An error answer: `{ error: { code, message, details? } }`, the shape ARM uses. */
export function problem(status: number, code: string, message: string, details?: string[]): HttpResponseInit {
  return json(status, { error: { code, message, ...(details ? { details } : {}) } });
}

/** A parsed body, or the 400/413 answer that says what is wrong with it and where. */
export async function readBody<S extends z.ZodType>(request: HttpRequest, schema: S): Promise<{ value: z.output<S> } | { response: HttpResponseInit }> {
  const text = await request.text();
  if (Buffer.byteLength(text) > maxBodyBytes) {
    return { response: problem(413, "BodyTooLarge", `request body is larger than ${maxBodyBytes} bytes`) };
  }
  let body: unknown;
  try {
    body = text.length ? JSON.parse(text) : {};
  } catch (error) {
    return { response: problem(400, "InvalidJson", `request body is not valid JSON: ${redact((error as Error).message)}`) };
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const details = parsed.error.issues.map((issue) => `${issue.path.join(".") || "(body)"}: ${issue.message}`);
    return { response: problem(400, "InvalidRequest", `request body is invalid: ${details.join("; ")}`, details) };
  }
  return { value: parsed.data };
}

/** Runs an HTTP operation with the worker's Deps; an unexpected failure is a 500 that names the cause, never a secret. */
export function httpHandler(
  work: (request: HttpRequest, deps: Deps, log: Log) => Promise<HttpResponseInit>,
): (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit> {
  return async (request, context) => {
    const log = logFor(context);
    try {
      return await work(request, getDeps(context), log);
    } catch (error) {
      // A permanent failure is about the state of what was asked for (e.g. an unusable ProtectedDisk row).
      if (error instanceof PermanentError) return problem(409, error.code, error.message);
      log.error("HTTP request failed", { url: redact(request.url), error: describeError(error) });
      if (error instanceof SettingsError) return problem(500, "InvalidAppSettings", error.message, [...error.problems]);
      return problem(500, "InternalError", describeError(error));
    }
  };
}
