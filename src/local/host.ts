/**
 * Runs the app's declared functions outside the Functions host, with the host's semantics: queue messages are
 * received in batches of host.json's `batchSize`, made invisible for the run, deleted on success, made visible
 * again after `visibilityTimeout` on failure, and moved to `<queue>-poison` after `maxDequeueCount` deliveries;
 * base64 messages are decoded and JSON is parsed, as the host does. The timer fires on its NCRONTAB; HTTP routes
 * are served under /api with a function key. Used by `npm start`, the demo, the bench and the tests.
 */
import { createHash, randomUUID, timingSafeEqual } from "node:crypto";
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { HttpRequest, type HttpResponseInit, InvocationContext, type LogLevel } from "@azure/functions";
import type { QueueClient, QueueServiceClient } from "@azure/storage-queue";
import { Cron } from "croner";
import { bindDeps } from "../composition";
import type { Deps } from "../engine/deps";
import type { FunctionDefinition, HttpFunction, QueueFunction, TimerFunction } from "../host/register";
import { type QueueSettings, readQueueSettings } from "./host-json";

/** Where the local host's log lines go; tests capture them (e.g. to scan for secrets). */
export type LogSink = (level: LogLevel, functionName: string, text: string) => void;

export interface LocalHostOptions {
  readonly functions: readonly FunctionDefinition[];
  /**
   * The Deps every handler this host invokes runs with (bound to each invocation's context); without them the
   * handlers use the worker's, built from the settings `startWorker` read, as under the Functions host.
   */
  readonly deps?: Deps;
  readonly queueService: QueueServiceClient;
  /** Resolves %SETTING% references in trigger options. */
  readonly settings: Record<string, unknown>;
  readonly log?: LogSink;
  readonly queueSettings?: Partial<QueueSettings>;
  /** The key HTTP callers must send as `x-functions-key` or `?code=`. */
  readonly functionKey?: string;
}

/** A running local host. */
export interface LocalHost {
  readonly functionKey: string;
  /** Base URL of the HTTP routes once `listen` was called (http://127.0.0.1:port/api). */
  apiUrl?: string;
  listen(port?: number): Promise<string>;
  /**
   * Starts polling queues and the timer, as the host does; `timer: false` polls the queues only, for callers that
   * decide themselves when runs start (`tick`).
   */
  start(options?: { readonly timer?: boolean }): void;
  /** Fires the timer once now. */
  tick(): Promise<void>;
  /** Receives and processes queue messages until every queue is empty and nothing is in flight. */
  runUntilIdle(options?: { timeoutMs?: number }): Promise<void>;
  /** Processes one batch from every queue; returns how many messages were handled. */
  pollOnce(): Promise<number>;
  /** Calls an HTTP function as the host would route it (no network). */
  invokeHttp(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }>;
  stop(): Promise<void>;
}

export function createLocalHost(options: LocalHostOptions): LocalHost {
  const queues = { ...readQueueSettings(), ...options.queueSettings };
  const sink: LogSink = options.log ?? ((level, name, text) => console.log(`[${level}] ${name}: ${text}`));
  const functionKey = options.functionKey ?? randomUUID().replace(/-/g, "");
  const queueFunctions = options.functions.filter((f): f is QueueFunction => f.kind === "queue");
  const timerFunctions = options.functions.filter((f): f is TimerFunction => f.kind === "timer");
  const httpFunctions = options.functions.filter((f): f is HttpFunction => f.kind === "http");
  const inFlight = new Set<Promise<void>>();
  const timers: Cron[] = [];
  let server: Server | undefined;
  let polling = false;

  const context = (functionName: string, triggerMetadata?: Record<string, unknown>) => {
    const invocation = new InvocationContext({
      invocationId: randomUUID(),
      functionName,
      triggerMetadata,
      logHandler: (level, ...args) => sink(level, functionName, args.map((a) => (typeof a === "string" ? a : String(a))).join(" ")),
    });
    return options.deps ? bindDeps(invocation, options.deps) : invocation;
  };

  const resolveSetting = (value: string) =>
    value.replace(/%([^%]+)%/g, (_, key: string) => String(options.settings[key] ?? ""));

  const queueClient = (name: string): QueueClient => options.queueService.getQueueClient(name);

  async function deliver(fn: QueueFunction, client: QueueClient, message: { messageId: string; popReceipt: string; messageText: string; dequeueCount: number; insertedOn: Date }): Promise<void> {
    const ctx = context(fn.name, { id: message.messageId, dequeueCount: message.dequeueCount, insertionTime: message.insertedOn, queueTrigger: message.messageText });
    let payload: unknown = message.messageText;
    if (queues.messageEncoding === "base64") {
      const decoded = Buffer.from(message.messageText, "base64");
      if (decoded.toString("base64") !== message.messageText.replace(/\s/g, "")) {
        sink("error", fn.name, `message ${message.messageId} is not valid base64; moved to ${fn.queueName}-poison`);
        await movePoison(fn, client, message);
        return;
      }
      payload = decoded.toString("utf8");
    }
    try {
      payload = JSON.parse(payload as string);
    } catch {
      // Not JSON: the handler receives the string, as with the host.
    }
    try {
      await fn.handler(payload, ctx);
      await client.deleteMessage(message.messageId, message.popReceipt);
    } catch (error) {
      sink("error", fn.name, `attempt ${message.dequeueCount} failed: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`);
      if (message.dequeueCount >= queues.maxDequeueCount) {
        await movePoison(fn, client, message);
      } else {
        await client.updateMessage(message.messageId, message.popReceipt, undefined, queues.visibilityTimeout).catch(() => undefined);
      }
    }
  }

  async function movePoison(fn: QueueFunction, client: QueueClient, message: { messageId: string; popReceipt: string; messageText: string }): Promise<void> {
    const poison = queueClient(`${fn.queueName}-poison`);
    await poison.createIfNotExists();
    await poison.sendMessage(message.messageText);
    await client.deleteMessage(message.messageId, message.popReceipt).catch(() => undefined);
  }

  async function pollQueue(fn: QueueFunction): Promise<number> {
    const client = queueClient(fn.queueName);
    await client.createIfNotExists();
    // Messages stay invisible while processed; long enough for a CopyStep, as the host renews it meanwhile.
    const received = await client.receiveMessages({ numberOfMessages: queues.batchSize, visibilityTimeout: 600 });
    const batch = received.receivedMessageItems.map((message) => {
      const work = deliver(fn, client, message).catch((error: unknown) => sink("error", fn.name, `delivery failed: ${String(error)}`));
      inFlight.add(work);
      return work.finally(() => inFlight.delete(work));
    });
    await Promise.all(batch);
    return batch.length;
  }

  async function pollOnce(): Promise<number> {
    const counts = await Promise.all(queueFunctions.map(pollQueue));
    return counts.reduce((a, b) => a + b, 0);
  }

  async function queuesEmpty(): Promise<boolean> {
    for (const fn of queueFunctions) {
      const client = queueClient(fn.queueName);
      await client.createIfNotExists();
      const properties = await client.getProperties();
      if ((properties.approximateMessagesCount ?? 0) > 0) return false;
    }
    return inFlight.size === 0;
  }

  async function tick(): Promise<void> {
    for (const fn of timerFunctions) {
      await fn.handler({ isPastDue: false, schedule: { adjustForDST: false }, scheduleStatus: { last: "", next: "", lastUpdated: "" } }, context(fn.name));
    }
  }

  function matchRoute(method: string, path: string): { fn: HttpFunction; params: Record<string, string> } | undefined {
    const segments = path.replace(/^\/api\/?/, "").split("/").filter(Boolean);
    for (const fn of httpFunctions) {
      if (!fn.methods.includes(method as never)) continue;
      const pattern = fn.route.split("/");
      if (pattern.length !== segments.length) continue;
      const params: Record<string, string> = {};
      const matches = pattern.every((part, i) => {
        const param = /^\{(\w+)\}$/.exec(part);
        if (param) params[param[1]] = decodeURIComponent(segments[i]);
        return param !== null || part === segments[i];
      });
      if (matches) return { fn, params };
    }
    return undefined;
  }

  async function handleHttp(method: string, url: URL, headers: Record<string, string>, body: Buffer): Promise<HttpResponseInit> {
    const key = headers["x-functions-key"] ?? url.searchParams.get("code") ?? "";
    if (!sameSecret(key, functionKey)) return { status: 401, jsonBody: { error: { code: "Unauthorized", message: "a function key is required (x-functions-key header or ?code=)" } } };
    const route = matchRoute(method, url.pathname);
    if (!route) return { status: 404, jsonBody: { error: { code: "NotFound", message: `no route for ${method} ${url.pathname}` } } };
    const query: Record<string, string> = Object.fromEntries(url.searchParams);
    const request = new HttpRequest({ method, url: url.toString(), headers, query, params: route.params, body: { bytes: body } });
    return route.fn.handler(request, context(route.fn.name));
  }

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? "/", `http://${req.headers.host ?? "127.0.0.1"}`);
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(",") : (v ?? "")]));
    const answer = await handleHttp(req.method ?? "GET", url, headers, Buffer.concat(chunks));
    const responseHeaders = { ...(answer.headers as Record<string, string> | undefined) };
    if (answer.jsonBody !== undefined) {
      res.writeHead(answer.status ?? 200, { ...responseHeaders, "content-type": "application/json" });
      res.end(JSON.stringify(answer.jsonBody));
    } else {
      res.writeHead(answer.status ?? 200, responseHeaders);
      res.end(typeof answer.body === "string" ? answer.body : "");
    }
  }

  const host: LocalHost = {
    functionKey,
    async listen(port = 0) {
      server = createServer((req, res) => {
        serve(req, res).catch((error: unknown) => {
          sink("error", "http", String(error));
          if (!res.headersSent) res.writeHead(500).end();
        });
      });
      // A port in use is an error the caller can explain (EADDRINUSE), not an unhandled 'error' event.
      await new Promise<void>((resolveListen, rejectListen) => {
        server!.once("error", rejectListen);
        server!.listen(port, "127.0.0.1", () => {
          server!.off("error", rejectListen);
          resolveListen();
        });
      });
      host.apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`;
      return host.apiUrl;
    },
    start({ timer = true } = {}) {
      polling = true;
      for (const fn of timer ? timerFunctions : []) {
        timers.push(new Cron(resolveSetting(fn.schedule), () => void tick().catch((e: unknown) => sink("error", fn.name, String(e)))));
      }
      const loop = async () => {
        let idleDelay = 100;
        while (polling) {
          const handled = await pollOnce().catch((error: unknown) => {
            sink("error", "host", `queue poll failed: ${String(error)}`);
            return 0;
          });
          idleDelay = handled > 0 ? 100 : Math.min(idleDelay * 2, queues.maxPollingInterval * 1000);
          if (handled === 0) await new Promise((r) => setTimeout(r, idleDelay));
        }
      };
      void loop();
    },
    tick,
    pollOnce,
    async runUntilIdle({ timeoutMs = 120_000 } = {}) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const handled = await pollOnce();
        if (handled === 0) {
          if (await queuesEmpty()) return;
          // Messages waiting out a retry delay: wait for them to become visible.
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      throw new Error(`queues not idle after ${timeoutMs} ms`);
    },
    async invokeHttp(method, path, body) {
      const url = new URL(path, "http://127.0.0.1");
      const bytes = body === undefined ? Buffer.alloc(0) : Buffer.from(typeof body === "string" ? body : JSON.stringify(body));
      const answer = await handleHttp(method, url, { "x-functions-key": functionKey, "content-type": "application/json" }, bytes);
      return { status: answer.status ?? 200, body: answer.jsonBody ?? answer.body };
    },
    async stop() {
      polling = false;
      for (const timer of timers) timer.stop();
      await Promise.allSettled([...inFlight]);
      if (server) await new Promise<void>((r) => server!.close(() => r()));
    },
  };
  return host;
}

/** Compares secrets in constant time (hashing first makes the lengths equal). */
function sameSecret(given: string, expected: string): boolean {
  const digest = (value: string) => createHash("sha256").update(value).digest();
  return timingSafeEqual(digest(given), digest(expected));
}
