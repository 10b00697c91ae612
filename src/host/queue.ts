/**
 * Turns an engine operation into a queue-triggered handler with the host's retry semantics: a message that cannot
 * be parsed is reported and dropped (retrying cannot fix it); one of an unknown version is retried and so ends in
 * `<queue>-poison` for a newer worker or an operator (nothing lost); a permanent failure ends the run (or restore)
 * with its cause; a transient one is retried, and on the last delivery the run (or restore) is marked failed before
 * the message moves to the poison queue.
 */
import type { InvocationContext } from "@azure/functions";
import { getDeps } from "../composition";
import { describeError, isPermanent } from "../domain/errors";
import { type MessageOf, type QueueName, messageVersion, receiveMessage } from "../domain/messages";
import type { Deps, Delivery, Log } from "../engine/deps";
import { failDrill } from "../engine/drills";
import { failRestore } from "../engine/restores";
import { failRun } from "../engine/runs";
import { logFor } from "./log";
import type { QueueFunction } from "./register";

/** Must equal host.json `extensions.queues.maxDequeueCount` (a test checks). */
export const maxDequeueCount = 5;

/** How a queue's work ends when it fails for good: the BackupRun, restore or drill it serves is marked failed. */
type QueueFailure<Q extends QueueName> = (deps: Deps, message: MessageOf<Q>, error: unknown, log: Log) => Promise<void>;
const failTheRun = (deps: Deps, message: { diskKey: string; runId: string }, error: unknown, log: Log) => failRun(deps, message.diskKey, message.runId, error, log);
const failures: { [Q in QueueName]: QueueFailure<Q> } = {
  "run-starts": failTheRun,
  "copy-steps": failTheRun,
  "run-finalizations": failTheRun,
  "restore-point-verifications": failTheRun,
  restores: (deps, message, error, log) => failRestore(deps, message.diskKey, message.restoreId, error, log),
  drills: (deps, message, error, log) => failDrill(deps, message.diskKey, message.drillId, error, log),
  "managed-copies": failTheRun,
  // No run is started by a unit that failed for good: its disks wait for the next tick, which sends them again.
  "schedule-pages": async (_deps, message, error, log) => log.error("schedule page given up; its disks wait for the next tick", { tickAt: message.tickAt, diskKeys: message.diskKeys, error: describeError(error) }),
};

/** An engine operation served by a queue: it receives exactly that queue's message, parsed. */
export type QueueWork<Q extends QueueName> = (deps: Deps, message: MessageOf<Q>, log: Log, delivery: Delivery) => Promise<void>;

/** The queue-triggered function `name` on `queue`: the queue decides the schema its messages are parsed with. */
export function queueFunction<Q extends QueueName>(name: string, queue: Q, work: QueueWork<Q>): QueueFunction {
  return { kind: "queue", name, queueName: queue, handler: queueHandler(queue, work) };
}

export function queueHandler<Q extends QueueName>(queue: Q, work: QueueWork<Q>): (message: unknown, context: InvocationContext) => Promise<void> {
  return async (raw, context) => {
    const log = logFor(context);
    const received = receiveMessage(queue, typeof raw === "string" ? tryJson(raw) : raw);
    if (received.outcome === "unknown-version") {
      throw new Error(`message version ${received.version} is not understood by this worker (it knows ${messageVersion}); retried, then kept in the poison queue`);
    }
    if (received.outcome === "invalid") {
      log.error("invalid queue message dropped", { function: context.functionName, problems: received.problems });
      return;
    }
    const { message } = received;
    const deps = getDeps(context);
    const attempt = Number(context.triggerMetadata?.dequeueCount ?? 1);
    const messageId = context.triggerMetadata?.id;
    try {
      await work(deps, message, log, { attempt, ...(typeof messageId === "string" && messageId !== "" ? { messageId } : {}) });
    } catch (error) {
      const fail = failures[queue] as QueueFailure<Q>;
      if (isPermanent(error)) {
        await fail(deps, message, error, log);
        return;
      }
      if (attempt >= maxDequeueCount) {
        await fail(deps, message, new Error(`gave up after ${attempt} attempts: ${describeError(error)}`), log);
      } else {
        const { v: _v, kind: _kind, ...address } = message;
        log.warn("transient failure; the message will be retried", { ...address, attempt, error: describeError(error) });
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
