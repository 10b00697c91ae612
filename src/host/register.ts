/**
 * Every function is declared once, as data: the Functions host gets it through `app.*`, and the local host
 * (src/local/host.ts) reads the same declarations to run the handlers with the host's semantics.
 */
import { app, type HttpHandler, type InvocationContext, type Timer } from "@azure/functions";

/** A timer-triggered function; `schedule` is an NCRONTAB or a %setting% reference. */
export interface TimerFunction {
  readonly kind: "timer";
  readonly name: string;
  readonly schedule: string;
  readonly handler: (timer: Timer, context: InvocationContext) => Promise<void>;
}

/** A queue-triggered function on the app storage account. */
export interface QueueFunction {
  readonly kind: "queue";
  readonly name: string;
  readonly queueName: string;
  readonly handler: (message: unknown, context: InvocationContext) => Promise<void>;
}

/** An HTTP function under /api, protected by a function key. */
export interface HttpFunction {
  readonly kind: "http";
  readonly name: string;
  readonly methods: ("GET" | "POST" | "PATCH" | "DELETE")[];
  readonly route: string;
  readonly handler: HttpHandler;
}

export type FunctionDefinition = TimerFunction | QueueFunction | HttpFunction;

const declared: FunctionDefinition[] = [];

/** The definitions registered so far in this process. */
export function declaredFunctions(): readonly FunctionDefinition[] {
  return declared;
}

export function register<T extends FunctionDefinition>(definition: T): T {
  declared.push(definition);
  switch (definition.kind) {
    case "timer":
      app.timer(definition.name, { schedule: definition.schedule, handler: definition.handler });
      break;
    case "queue":
      app.storageQueue(definition.name, { queueName: definition.queueName, connection: "AzureWebJobsStorage", handler: definition.handler });
      break;
    case "http":
      app.http(definition.name, { methods: definition.methods, route: definition.route, authLevel: "function", handler: definition.handler });
      break;
  }
  return definition;
}
