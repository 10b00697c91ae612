/** The parts of host.json the local host honours, parsed with the host's defaults. */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { z } from "zod";

const timeSpan = z
  .string()
  .regex(/^\d{2}:\d{2}:\d{2}$/, "expected hh:mm:ss")
  .transform((span) => span.split(":").map(Number).reduce((total, part) => total * 60 + part, 0));

const hostJsonSchema = z.object({
  extensions: z
    .object({
      queues: z
        .object({
          batchSize: z.number().int().min(1).max(32).default(16),
          newBatchThreshold: z.number().int().min(0).optional(),
          maxDequeueCount: z.number().int().min(1).default(5),
          visibilityTimeout: timeSpan.default(0),
          maxPollingInterval: timeSpan.default(60),
          messageEncoding: z.enum(["base64", "none"]).default("base64"),
        })
        .prefault({}),
    })
    .prefault({}),
});

/** Queue trigger settings in seconds and counts. */
export type QueueSettings = z.output<typeof hostJsonSchema>["extensions"]["queues"];

/** Reads host.json from the app root (three levels above dist/src/local). */
export function readQueueSettings(path = resolve(__dirname, "..", "..", "..", "host.json")): QueueSettings {
  return hostJsonSchema.parse(JSON.parse(readFileSync(path, "utf8"))).extensions.queues;
}
