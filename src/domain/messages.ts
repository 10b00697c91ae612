/**
 * The work queues of the CopyStep chain and the one message schema each carries. Senders give the message's body;
 * the envelope (`v`, `kind`) comes from the queue, and every message is parsed against its queue's schema both when
 * it is sent and when it is received, so a message cannot go to the wrong queue or leave a worker malformed.
 * `v` lets a newer worker refuse what it does not understand instead of guessing.
 */
import { z } from "zod";
import { MiB } from "./ranges";

/** The message version this code writes and understands. */
export const messageVersion = 1;

const runAddress = { diskKey: z.string().min(1), runId: z.string().min(1) };

function envelope<K extends string, S extends z.ZodRawShape>(kind: K, body: S) {
  return z.object({ v: z.literal(messageVersion), kind: z.literal(kind), ...body }).strict();
}

/** A message about one BackupRun. */
function runEnvelope<K extends string, S extends z.ZodRawShape>(kind: K, body: S) {
  return envelope(kind, { ...runAddress, ...body });
}

export const runStartMessageSchema = runEnvelope("run-start", {});
export const copyStepMessageSchema = runEnvelope("copy-step", {
  step: z.number().int().min(0),
  cursor: z.number().int().min(0),
  windowBytes: z.number().int().positive().refine((bytes) => bytes % MiB === 0, "must be a whole number of MiB"),
});
export const finalizeMessageSchema = runEnvelope("finalize", {});
/** A look at a managed run's copy (CopyStart): record its progress and look again later, or record its RestorePoint. */
export const managedCopyMessageSchema = runEnvelope("managed-copy", {});
export const verifyMessageSchema = runEnvelope("verify", { restorePointId: z.string().min(1) });
/** The next step of a tracked restore: start the disk import, or look whether it has finished. */
export const restoreStepMessageSchema = envelope("restore-step", { diskKey: z.string().min(1), restoreId: z.string().min(1) });

/** The next step of a DR drill: see whether its restore ended, or compare the window at `cursor` of the drill disk. */
export const drillStepMessageSchema = envelope("drill-step", { diskKey: z.string().min(1), drillId: z.string().min(1), cursor: z.number().int().min(0) });

/**
 * Most disks one `schedule-page` message may name (1,000 16-character diskKeys stay far below a queue message's
 * 64 KiB); the timer sends far fewer (see `schedulePageSize` in src/engine/scheduler.ts).
 */
export const schedulePageMaxDisks = 1000;

/**
 * One unit of a timer tick's fan-out: the disks whose due check, stall nudge, start and drill housekeeping one
 * worker does together. `tickAt` is the tick's time, for the due check: a duplicate delivered after the disk was
 * started (whatever its schedule) finds it not due at `tickAt`, so one tick starts a disk at most once.
 */
export const schedulePageMessageSchema = envelope("schedule-page", {
  tickAt: z.string().datetime(),
  diskKeys: z.array(z.string().min(1)).min(1).max(schedulePageMaxDisks),
});

/** Each queue (kebab-case, as in Azure) and the schema of the messages it carries. */
export const queueMessageSchemas = {
  "run-starts": runStartMessageSchema,
  "copy-steps": copyStepMessageSchema,
  "run-finalizations": finalizeMessageSchema,
  "restore-point-verifications": verifyMessageSchema,
  restores: restoreStepMessageSchema,
  drills: drillStepMessageSchema,
  "managed-copies": managedCopyMessageSchema,
  "schedule-pages": schedulePageMessageSchema,
} as const;

export type QueueName = keyof typeof queueMessageSchemas;
/** A message as it travels on queue Q. */
export type MessageOf<Q extends QueueName> = z.output<(typeof queueMessageSchemas)[Q]>;
/** What a sender gives for queue Q: the message without its envelope. */
export type MessageBody<Q extends QueueName> = Omit<MessageOf<Q>, "v" | "kind">;

export const queueNames = {
  runStarts: "run-starts",
  copySteps: "copy-steps",
  finalizations: "run-finalizations",
  verifications: "restore-point-verifications",
  restores: "restores",
  drills: "drills",
  managedCopies: "managed-copies",
  schedulePages: "schedule-pages",
} as const satisfies Record<string, QueueName>;

export type RunStartMessage = MessageOf<"run-starts">;
export type CopyStepMessage = MessageOf<"copy-steps">;
export type FinalizeMessage = MessageOf<"run-finalizations">;
export type VerifyMessage = MessageOf<"restore-point-verifications">;
export type RestoreStepMessage = MessageOf<"restores">;
export type DrillStepMessage = MessageOf<"drills">;
export type ManagedCopyMessage = MessageOf<"managed-copies">;
export type SchedulePageMessage = MessageOf<"schedule-pages">;

/** The message to send on `queue`: the body in its queue's envelope, parsed (a bad body is a bug: it throws). */
export function messageFor<Q extends QueueName>(queue: Q, body: MessageBody<Q>): MessageOf<Q> {
  const schema = queueMessageSchemas[queue];
  const kind = schema.shape.kind.value;
  return schema.parse({ ...body, v: messageVersion, kind }) as MessageOf<Q>;
}

/** What a receiver makes of a raw message: the parsed message, a newer version to retry, or the problems found. */
export type Received<Q extends QueueName> =
  | { readonly outcome: "parsed"; readonly message: MessageOf<Q> }
  | { readonly outcome: "unknown-version"; readonly version: number }
  | { readonly outcome: "invalid"; readonly problems: string[] };

export function receiveMessage<Q extends QueueName>(queue: Q, body: unknown): Received<Q> {
  const version = (body as { v?: unknown } | null | undefined)?.v;
  if (typeof version === "number" && version !== messageVersion) return { outcome: "unknown-version", version };
  const parsed = queueMessageSchemas[queue].safeParse(body);
  if (parsed.success) return { outcome: "parsed", message: parsed.data as MessageOf<Q> };
  return { outcome: "invalid", problems: parsed.error.issues.map((issue) => `${issue.path.join(".") || "(message)"}: ${issue.message}`) };
}
