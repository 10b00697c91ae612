/**
 * Turns an engine operation into a queue-triggered handler with the host's retry semantics: a message that cannot
 * be parsed is reported and dropped (retrying cannot fix it); one of an unknown version is retried and so ends in
 * `<queue>-poison` for a newer worker or an operator (nothing lost); a permanent failure ends the run with its
 * cause; a transient one is retried, and on the last delivery the run is marked failed before the message moves
 * to the poison queue.
 */
import type { InvocationContext } from "@azure/functions";
import type { z } from "zod";
import { getDeps } from "../composition";
import { describeError, isPermanent } from "../domain/errors";
import type { Deps, Log } from "../engine/deps";
import { failRun } from "../engine/runs";
import { logFor } from "./log";

/** Must equal host.json `extensions.queues.maxDequeueCount` (a test checks). */
export const maxDequeueCount = 5;

/** The message version this worker understands. */
const supportedVersion = 1;

type RunMessage = { diskKey: string; runId: string };

/** How this message got here: its delivery count (1 = first delivery; more = an earlier attempt failed or died). */
export interface Delivery {
  readonly attempt: number;
}

export function queueHandler<S extends z.ZodType<RunMessage>>(
  schema: S,
  work: (deps: Deps, message: z.output<S>, log: Log, delivery: Delivery) => Promise<void>,
): (message: unknown, context: InvocationContext) => Promise<void> {
  return async (raw, context) => {
    const log = logFor(context);
    const body = typeof raw === "string" ? tryJson(raw) : raw;
    const version = (body as { v?: unknown } | undefined)?.v;
    if (typeof version === "number" && version !== supportedVersion) {
      throw new Error(`message version ${version} is not understood by this worker (it knows ${supportedVersion}); retried, then kept in the poison queue`);
    }
    const parsed = schema.safeParse(body);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((issue) => `${issue.path.join(".") || "(message)"}: ${issue.message}`);
      log.error("invalid queue message dropped", { function: context.functionName, problems });
      return;
    }
    const message = parsed.data;
    const deps = getDeps(context);
    const attempt = Number(context.triggerMetadata?.dequeueCount ?? 1);
    try {
      await work(deps, message, log, { attempt });
    } catch (error) {
      if (isPermanent(error)) {
        await failRun(deps, message.diskKey, message.runId, error, log);
        return;
      }
      if (attempt >= maxDequeueCount) {
        await failRun(deps, message.diskKey, message.runId, new Error(`gave up after ${attempt} attempts: ${describeError(error)}`), log);
      } else {
        log.warn("transient failure; the message will be retried", { diskKey: message.diskKey, runId: message.runId, attempt, error: describeError(error) });
      }
      throw error;
    }
  };
}

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
