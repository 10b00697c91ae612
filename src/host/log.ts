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
