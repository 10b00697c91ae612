/**
 * The work queues of the CopyStep chain. Contract: `send` is at-least-once from the caller's point of view (a
 * retry after an unknown outcome may duplicate a message), so every consumer treats duplicates as normal.
 * Messages are base64-encoded JSON, as the Functions host's default `messageEncoding` expects.
 */
import type { TokenCredential } from "@azure/core-auth";
import { QueueServiceClient, type StoragePipelineOptions } from "@azure/storage-queue";
import { type MessageBody, type QueueName, messageFor } from "../domain/messages";

export { type QueueName, queueNames } from "../domain/messages";

/** Sends work to the chain's queues: the body of the queue's own message, put in its envelope and parsed first. */
export interface WorkQueues {
  send<Q extends QueueName>(queue: Q, body: MessageBody<Q>, delaySeconds?: number): Promise<void>;
}

/** Where the queues live: a connection string (local) or an endpoint with a managed identity (Azure). */
export type QueuesConnection =
  | { readonly connectionString: string }
  | { readonly endpoint: string; readonly credential: TokenCredential };

export function encodeMessage(message: object): string {
  return Buffer.from(JSON.stringify(message), "utf8").toString("base64");
}

export function createServiceClient(connection: QueuesConnection, options: StoragePipelineOptions = {}): QueueServiceClient {
  return "connectionString" in connection
    ? QueueServiceClient.fromConnectionString(connection.connectionString, options)
    : new QueueServiceClient(connection.endpoint, connection.credential, options);
}

export function createWorkQueues(connection: QueuesConnection): WorkQueues {
  const service = createServiceClient(connection);
  const created = new Map<string, Promise<unknown>>();
  return {
    async send(queue, body, delaySeconds) {
      const client = service.getQueueClient(queue);
      if (!created.has(queue)) created.set(queue, client.createIfNotExists());
      await created.get(queue);
      await client.sendMessage(encodeMessage(messageFor(queue, body)), delaySeconds ? { visibilityTimeout: delaySeconds } : {});
    },
  };
}
