/**
 * Long-running operations as Microsoft.Compute reports them: a DiskOperations resource that reads InProgress
 * until the operation's time has come, then Succeeded (or Failed) with `properties.output`; and its
 * `monitor=true` twin, which answers 202 while running and then the operation's final body.
 *
 * Retry-After follows the recorded azure-mgmt-compute session: the 202 of a PUT or PATCH carries one (2 s there),
 * the first InProgress poll of such an operation carries one (10 s there) and later polls none, so a client then
 * polls at its own interval; the polls of a POST (grant, revoke) or DELETE never carry one.
 */
import { randomUUID } from "node:crypto";
import { armTime } from "./resources";

/** One operation; `output` is read when it completes, so it shows the resource as it is then. */
interface Operation {
  readonly name: string;
  readonly startTime: number;
  readonly doneAt: number;
  /** `properties.output` of the status resource; absent for delete and revoke. */
  readonly output?: () => unknown;
  /** Body of the final monitor answer (default: the output). */
  readonly finalBody?: () => unknown;
  /** True for PUT and PATCH: their first InProgress poll carries Retry-After. */
  readonly retryAfterOnFirstPoll: boolean;
  polled: boolean;
}

/** What started an operation: a PUT or PATCH of a resource, or a POST or DELETE. */
export type OperationKind = "write" | "action";

/** Where to poll an operation, as the 202 answer's headers carry it. */
export interface OperationLinks {
  azureAsyncOperation: string;
  location: string;
}

/** What a poll answers: status code, headers and body. */
export interface PollAnswer {
  status: number;
  headers: Record<string, string>;
  body?: unknown;
}

export class OperationRegistry {
  private readonly operations = new Map<string, Operation>();
  /** Stands for the `p` parameter ARM adds to operation URLs (the serving instance). */
  private readonly servedBy = randomUUID();

  constructor(
    private readonly baseUrl: string,
    private readonly subscriptionId: string,
    private readonly delayMs: number,
    /** Retry-After of the first InProgress poll of a PUT or PATCH, in seconds. */
    private readonly pollRetryAfterSeconds: number,
  ) {}

  /**
   * Starts an operation that completes `delayMs` from now; `output` is read when a poll finds it done. Its links
   * carry the api-version of the request that started it, as ARM's do.
   */
  start(location: string, apiVersion: string, kind: OperationKind, output?: () => unknown, finalBody?: () => unknown): OperationLinks {
    const name = randomUUID();
    const startTime = Date.now();
    this.forgetOlderThan(startTime - retentionMs);
    this.operations.set(name, {
      name,
      startTime,
      doneAt: startTime + this.delayMs,
      output,
      finalBody,
      retryAfterOnFirstPoll: kind === "write",
      polled: false,
    });
    const base =
      `${this.baseUrl.replace(/\/$/, "")}/subscriptions/${this.subscriptionId}/providers/Microsoft.Compute/locations/` +
      `${armLocation(location)}/DiskOperations/${name}?p=${this.servedBy}`;
    return {
      azureAsyncOperation: `${base}&api-version=${apiVersion}`,
      location: `${base}&monitor=true&api-version=${apiVersion}`,
    };
  }

  /** Operations are kept in start order, so the old ones are at the front. */
  private forgetOlderThan(cutoff: number): void {
    for (const [name, op] of this.operations) {
      if (op.doneAt >= cutoff) return;
      this.operations.delete(name);
    }
  }

  /** Answers a GET of an operation URL; undefined when the operation is unknown. */
  poll(name: string, monitor: boolean): PollAnswer | undefined {
    const op = this.operations.get(name);
    if (!op) return undefined;
    const done = Date.now() >= op.doneAt;
    const retryAfter = { "Retry-After": String(this.pollRetryAfterSeconds) };
    if (monitor) {
      // The recording never polls the monitor URL while running; 202 with Retry-After is ARM's Location contract.
      if (!done) return { status: 202, headers: retryAfter };
      const body = (op.finalBody ?? op.output)?.();
      return { status: 200, headers: {}, body };
    }
    const status: Record<string, unknown> = { startTime: armTime(op.startTime) };
    if (!done) {
      const first = !op.polled;
      op.polled = true;
      const headers = first && op.retryAfterOnFirstPoll ? retryAfter : {};
      return { status: 200, headers, body: { ...status, status: "InProgress", name: op.name } };
    }
    const output = op.output?.();
    return {
      status: 200,
      headers: {},
      body: {
        ...status,
        endTime: armTime(op.doneAt),
        status: "Succeeded",
        ...(output === undefined ? {} : { properties: { output } }),
        name: op.name,
      },
    };
  }
}

/** How long a finished operation can still be polled; ARM keeps them for hours, a local run needs less. */
const retentionMs = 60 * 60_000;

/** ARM's location name: "West US" → "westus". */
export function armLocation(location: string): string {
  return location.replace(/\s+/g, "").toLowerCase();
}
