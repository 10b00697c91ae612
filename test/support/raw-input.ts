/**
 * The app's storage as an outsider sees it: table rows and queue messages written and read directly, bypassing
 * the app, for tests that feed it input it did not produce.
 */
import { TableClient } from "@azure/data-tables";
import { type QueueClient, QueueServiceClient } from "@azure/storage-queue";
import { tableNames } from "../../src/adapters/tables";
import type { StackEndpoints } from "../../emulator/stack";

export function disksTable(stack: StackEndpoints): TableClient {
  return TableClient.fromConnectionString(stack.appStorage.connectionString, tableNames.disks, { allowInsecureConnection: true });
}

export function runsTable(stack: StackEndpoints): TableClient {
  return TableClient.fromConnectionString(stack.appStorage.connectionString, tableNames.runs, { allowInsecureConnection: true });
}

export function rawQueue(stack: StackEndpoints, name: string): QueueClient {
  return QueueServiceClient.fromConnectionString(stack.appStorage.connectionString).getQueueClient(name);
}

/** The text of every message waiting in a queue (up to 32), without taking them. */
export async function peekTexts(queue: QueueClient): Promise<string[]> {
  if (!(await queue.exists())) return [];
  const peeked = await queue.peekMessages({ numberOfMessages: 32 });
  return peeked.peekedMessageItems.map((item) => item.messageText);
}

export function base64(text: string): string {
  return Buffer.from(text, "utf8").toString("base64");
}
