/**
 * Interception points for reliability tests: wrap one adapter operation of the worker's Deps so that after its
 * n-th successful call something happens once — a simulated crash (the worker dies right there: the queue message
 * is not completed and comes back), or an outside event (someone deletes a snapshot, revokes access, …).
 * Only the local stack's real services are behind the wrappers; nothing is mocked.
 */
import type { ComputeGateway } from "../../src/adapters/compute";
import type { WorkQueues } from "../../src/adapters/queues";
import type { SourceSnapshotReader } from "../../src/adapters/source-snapshot";
import type { Records } from "../../src/adapters/tables";
import type { TargetBlob } from "../../src/adapters/target-blob";
import type { Deps } from "../../src/engine/deps";

/** The worker "died" at an interception point. */
export class SimulatedCrash extends Error {
  constructor(point: string) {
    super(`simulated crash after ${point}`);
    this.name = "SimulatedCrash";
  }
}

export type InterceptPoint =
  | `compute.${keyof ComputeGateway & string}`
  | `source.${keyof SourceSnapshotReader & string}`
  | `target.${keyof TargetBlob & string}`
  | `records.${keyof Records & string}`
  | `queues.${keyof WorkQueues & string}`;

/** What happens at the interception point: a crash, or an outside event (awaited before the call returns). */
export type Intercept = "crash" | (() => Promise<void>);

/** A Deps with one interception, and how often the point was reached. */
export interface Intercepted {
  readonly deps: Deps;
  readonly calls: () => number;
  readonly fired: () => boolean;
}

/** After the `after`-th successful call of `point` (1 = the first), `then` happens once. */
export function intercept(deps: Deps, point: InterceptPoint, after: number, then: Intercept): Intercepted {
  const [group, method] = point.split(".") as [string, string];
  let calls = 0;
  let fired = false;
  // While an outside event happens, later calls of the same operation wait for it: the event lands between the
  // n-th call and the ones after, whatever the concurrency (calls already in flight finish as they would).
  let event: Promise<void> | undefined;
  const wrap = <T extends object>(target: T): T => {
    const original = (target as Record<string, unknown>)[method];
    if (typeof original !== "function") throw new Error(`no operation ${point}`);
    return {
      ...target,
      [method]: async (...args: unknown[]) => {
        if (event) await event;
        const result = await (original as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        calls += 1;
        if (!fired && calls >= after) {
          fired = true;
          if (then === "crash") throw new SimulatedCrash(point);
          event = then();
          await event;
        }
        return result;
      },
    } as T;
  };
  let wrapped: Deps;
  switch (group) {
    case "compute":
      wrapped = { ...deps, compute: wrap(deps.compute) };
      break;
    case "source":
      wrapped = { ...deps, source: wrap(deps.source) };
      break;
    case "records":
      wrapped = { ...deps, records: wrap(deps.records) };
      break;
    case "queues":
      wrapped = { ...deps, queues: wrap(deps.queues) };
      break;
    case "target":
      wrapped = { ...deps, targets: (location) => wrap(deps.targets(location)) };
      break;
    default:
      throw new Error(`no interception group ${group}`);
  }
  return { deps: wrapped, calls: () => calls, fired: () => fired };
}

/** Every message sent twice: at-least-once delivery made visible. */
export function duplicateMessages(deps: Deps): Deps {
  return {
    ...deps,
    queues: {
      async send(queue, message, delay) {
        await deps.queues.send(queue, message, delay);
        await deps.queues.send(queue, message, delay);
      },
    },
  };
}
