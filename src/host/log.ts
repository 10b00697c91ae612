/** Structured logging through the Functions host: one JSON line per event, secrets removed. */
import type { InvocationContext } from "@azure/functions";
import { redact } from "../domain/errors";
import type { Log } from "../engine/deps";

function line(message: string, fields?: Record<string, unknown>): string {
  return redact(JSON.stringify({ message, ...fields }));
}

export function logFor(context: InvocationContext): Log {
  return {
    info: (message, fields) => context.log(line(message, fields)),
    warn: (message, fields) => context.warn(line(message, fields)),
    error: (message, fields) => context.error(line(message, fields)),
  };
}

/**
 * Log lines of the worker itself, outside any invocation (an adapter shared by all of them): the console, which the
 * Functions host collects into the same logs.
 */
export const workerLog: Log = {
  info: (message, fields) => console.info(line(message, fields)),
  warn: (message, fields) => console.warn(line(message, fields)),
  error: (message, fields) => console.error(line(message, fields)),
};
