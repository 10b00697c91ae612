/**
 * Everything the app lets out, collected for a secret scan: what the process writes to stdout and stderr, every
 * entity of diskdelta's tables, and every message waiting in its queues (poison queues included).
 */
import { TableClient } from "@azure/data-tables";
import { QueueServiceClient } from "@azure/storage-queue";
import { tableNames } from "../../src/adapters/tables";
import type { StackEndpoints } from "../../emulator/stack";
import type { Captured } from "./secret-scan";

/** Writes to process.stdout and process.stderr, passed through and kept, until `stop`. */
export interface ProcessOutputCapture {
  readonly captured: Captured[];
  stop(): void;
}

export function captureProcessOutput(): ProcessOutputCapture {
  const captured: Captured[] = [];
  const streams = [
    { name: "stdout", stream: process.stdout, write: process.stdout.write },
    { name: "stderr", stream: process.stderr, write: process.stderr.write },
  ];
  for (const { name, stream, write } of streams) {
    stream.write = function (chunk: unknown, ...rest: unknown[]) {
      captured.push({ source: `process ${name}`, text: typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString("utf8") });
      return (write as (...args: unknown[]) => boolean).call(stream, chunk, ...rest);
    } as typeof stream.write;
  }
  return {
    captured,
    stop() {
      for (const { stream, write } of streams) stream.write = write;
    },
  };
}

/** Every entity of the ProtectedDisk, BackupRun and RestorePoint tables, one JSON text each. */
export async function tableEntities(stack: StackEndpoints): Promise<Captured[]> {
  const captured: Captured[] = [];
  for (const name of Object.values(tableNames)) {
    const table = TableClient.fromConnectionString(stack.appStorage.connectionString, name, { allowInsecureConnection: true });
    for await (const entity of table.listEntities()) {
      captured.push({ source: `table ${name}/${entity.partitionKey}/${entity.rowKey}`, text: JSON.stringify(entity) });
    }
  }
  return captured;
}

/** Every message waiting in the app's queues (up to 32 each), base64 decoded as the host would. */
export async function queuedMessages(stack: StackEndpoints): Promise<Captured[]> {
  const service = QueueServiceClient.fromConnectionString(stack.appStorage.connectionString);
  const captured: Captured[] = [];
  for await (const queue of service.listQueues()) {
    const peeked = await service.getQueueClient(queue.name).peekMessages({ numberOfMessages: 32 });
    for (const message of peeked.peekedMessageItems) {
      captured.push({ source: `queue ${queue.name}`, text: `${message.messageText}\n${Buffer.from(message.messageText, "base64").toString("utf8")}` });
    }
  }
  return captured;
}
