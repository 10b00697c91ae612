/**
 * Fault injection for the local stack, in the spirit of restic's fault-injecting backends: off by default,
 * switched on per test, and deterministic for a given seed and request order, so a failing run replays.
 */
import { readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { request as httpsRequest } from "node:https";
import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";
import { armErrors, controlErrors, storageErrors, type ServiceError } from "./error-catalog";
import { answerStorageError, armErrorJson, sendArmError, sendComputeThrottle } from "./service-errors";

/** Which requests a rule applies to: ARM compute, snapshot data URLs, the proxied blob storage, or any. */
export type FaultScope = "compute" | "data" | "blob" | "all";
/** The scope of one request; undefined for requests outside every scope (only `all` rules see them). */
export type RequestScope = Exclude<FaultScope, "all"> | undefined;

const ruleBase = z.object({
  scope: z.enum(["compute", "data", "blob", "all"]),
  /** Probability that a matching request gets the fault, 0..1. */
  rate: z.number().min(0).max(1),
  /** Regular expression the HTTP method must match, e.g. "PUT|DELETE". */
  method: z.string().optional(),
  /** Regular expression the path and query must match, e.g. "comp=page". */
  path: z.string().optional(),
  /** Injects at most this many times; unlimited if absent. */
  maxCount: z.number().int().positive().optional(),
});

const faultRuleSchema = z.discriminatedUnion("kind", [
  ruleBase.extend({ kind: z.literal("latency"), latencyMs: z.number().int().min(0).max(60_000) }),
  ruleBase.extend({ kind: z.literal("error"), status: z.union([z.literal(500), z.literal(503)]).default(503) }),
  ruleBase.extend({
    kind: z.literal("throttle"),
    retryAfterSeconds: z.number().int().min(0).max(3600).default(1),
    /** Sent as x-ms-ratelimit-remaining-resource on compute throttles, e.g. "Microsoft.Compute/HighCostSnapshotCreateHydrate3Min;0". */
    remainingResource: z.string().optional(),
  }),
  ruleBase.extend({ kind: z.literal("reset") }),
  /**
   * The request is served as usual, then its answer's body is damaged on the way out: the first byte of the body
   * is inverted, status and headers (Content-Length, Content-MD5, x-ms-content-crc64) left as the service sent
   * them, as bytes corrupted in flight would arrive.
   */
  ruleBase.extend({ kind: z.literal("corrupt") }),
]);

const faultRequestSchema = z.object({ rules: z.array(faultRuleSchema), seed: z.number().int().optional() });

/** One fault rule as callers write it (defaults may be omitted). */
export type FaultRule = z.input<typeof faultRuleSchema>;
type ParsedRule = z.output<typeof faultRuleSchema>;
/**
 * The kinds of fault: added latency, a 500/503 error, a throttle answer with Retry-After, a connection reset, an
 * answer whose body is corrupted.
 */
export type FaultKind = ParsedRule["kind"];

/** What fault injection has done since the last `set` or `clear`. */
export interface FaultStats {
  /** Requests that went through fault injection (control routes excluded). */
  requests: number;
  /** Faults injected, by kind. */
  injected: Record<FaultKind, number>;
  /** Per rule, in the order given to `set`: requests it matched and faults it injected. */
  rules: { matched: number; injected: number }[];
}

/** Switches fault injection; the same contract in-process and over HTTP. */
export interface FaultControl {
  /** Replaces all rules; the random sequence restarts from `seed` (default 1). Throws on invalid rules. */
  set(rules: FaultRule[], seed?: number): Promise<void>;
  /** Removes all rules and resets the stats. */
  clear(): Promise<void>;
  stats(): Promise<FaultStats>;
}

/** Small, fast and seedable (mulberry32); quality is ample for picking which requests fail. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface ActiveRule {
  rule: ParsedRule;
  method?: RegExp;
  path?: RegExp;
  matched: number;
  injected: number;
}

function emptyInjected(): Record<FaultKind, number> {
  return { latency: 0, error: 0, throttle: 0, reset: 0, corrupt: 0 };
}

/** The in-process fault injector the HTTPS server consults before routing each request. */
export class FaultInjector implements FaultControl {
  private rules: ActiveRule[] = [];
  private random = seededRandom(1);
  private requests = 0;
  private injected = emptyInjected();

  async set(rules: FaultRule[], seed = 1): Promise<void> {
    this.setParsed(faultRequestSchema.parse({ rules, seed }));
  }

  async clear(): Promise<void> {
    this.setParsed({ rules: [], seed: 1 });
  }

  async stats(): Promise<FaultStats> {
    return {
      requests: this.requests,
      injected: { ...this.injected },
      rules: this.rules.map(({ matched, injected }) => ({ matched, injected })),
    };
  }

  /**
   * Applies the rules to one request: waits out injected latency, then answers it with an injected fault
   * and returns true, or returns false to let it through (for a `corrupt` fault, with its answer's body damaged).
   */
  async apply(req: IncomingMessage, res: ServerResponse, scope: RequestScope): Promise<boolean> {
    if (this.rules.length === 0) return false;
    this.requests++;
    let latencyMs = 0;
    let fault: ActiveRule | undefined;
    for (const active of this.rules) {
      if (!this.matches(active, req, scope)) continue;
      if (active.rule.kind !== "latency" && fault) continue;
      active.matched++;
      if (this.random() >= active.rule.rate) continue;
      active.injected++;
      this.injected[active.rule.kind]++;
      if (active.rule.kind === "latency") latencyMs += active.rule.latencyMs;
      else fault = active;
    }
    if (latencyMs > 0) await sleep(latencyMs);
    if (!fault) return false;
    if (fault.rule.kind === "corrupt") {
      corruptBody(res);
      return false;
    }
    answerWithFault(fault.rule, req, res, scope);
    return true;
  }

  private setParsed({ rules, seed }: z.output<typeof faultRequestSchema>): void {
    this.rules = rules.map((rule) => ({
      rule,
      method: rule.method === undefined ? undefined : new RegExp(`^(?:${rule.method})$`, "i"),
      path: rule.path === undefined ? undefined : new RegExp(rule.path),
      matched: 0,
      injected: 0,
    }));
    this.random = seededRandom(seed ?? 1);
    this.requests = 0;
    this.injected = emptyInjected();
  }

  private matches(active: ActiveRule, req: IncomingMessage, scope: RequestScope): boolean {
    const { rule } = active;
    if (rule.scope !== "all" && rule.scope !== scope) return false;
    if (rule.maxCount !== undefined && active.injected >= rule.maxCount) return false;
    if (active.method && !active.method.test(req.method ?? "")) return false;
    return !active.path || active.path.test(req.url ?? "");
  }
}

function answerWithFault(rule: ParsedRule, req: IncomingMessage, res: ServerResponse, scope: RequestScope): void {
  const compute = scope === "compute";
  switch (rule.kind) {
    case "reset":
      req.socket.destroy();
      return;
    case "error":
      if (compute) sendArmError(res, rule.status === 500 ? armErrors.injectedInternalError : armErrors.injectedUnavailable);
      else answerStorageError(res, rule.status === 500 ? storageErrors.internalError : storageErrors.serverBusy);
      return;
    case "throttle": {
      if (compute) {
        const headers: Record<string, string> = rule.remainingResource
          ? { "x-ms-ratelimit-remaining-resource": rule.remainingResource }
          : {};
        sendComputeThrottle(res, rule.retryAfterSeconds, { message: "Too many requests (injected fault)." }, headers);
      } else {
        // Azure Storage throttles with 503 ServerBusy, not 429.
        answerStorageError(res, storageErrors.accountThrottled, { headers: { "retry-after": String(rule.retryAfterSeconds) } });
      }
      return;
    }
    case "latency":
    case "corrupt":
      return;
  }
}

/**
 * Inverts the first byte of whatever body `res` sends, on a copy: the handler's buffers (snapshot data, shared
 * extents) stay intact, and the length stays what the headers say.
 */
function corruptBody(res: ServerResponse): void {
  let done = false;
  const damage = (chunk: unknown): unknown => {
    if (done || chunk === undefined || chunk === null || typeof chunk === "function") return chunk;
    const bytes = typeof chunk === "string" ? Buffer.from(chunk) : Buffer.from(chunk as Uint8Array);
    if (bytes.length === 0) return chunk;
    done = true;
    bytes[0] ^= 0xff;
    return bytes;
  };
  const write = res.write.bind(res) as (...args: unknown[]) => boolean;
  const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
  res.write = ((chunk: unknown, ...rest: unknown[]) => write(damage(chunk), ...rest)) as ServerResponse["write"];
  res.end = ((chunk?: unknown, ...rest: unknown[]) => end(damage(chunk), ...rest)) as ServerResponse["end"];
}

/** Path of the control routes; they bypass fault injection so a test can always switch faults off. */
export const faultRoutePrefix = "/_emulator/faults";

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > 1024 * 1024) throw new Error("body too large");
    chunks.push(chunk);
  }
  return size === 0 ? {} : JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = Buffer.from(JSON.stringify(value));
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": String(body.length) });
  res.end(body);
}

function refuse(res: ServerResponse, error: ServiceError): void {
  sendJson(res, error.status, armErrorJson(error));
}

/**
 * Serves `POST /_emulator/faults` (body `{ rules, seed? }`), `DELETE /_emulator/faults` and
 * `GET /_emulator/faults/stats`. Returns false for any other path.
 */
export async function handleFaultRoutes(req: IncomingMessage, res: ServerResponse, faults: FaultControl): Promise<boolean> {
  const path = (req.url ?? "").split("?")[0];
  if (path === `${faultRoutePrefix}/stats` && req.method === "GET") {
    sendJson(res, 200, await faults.stats());
  } else if (path === faultRoutePrefix && req.method === "DELETE") {
    await faults.clear();
    res.writeHead(204).end();
  } else if (path === faultRoutePrefix && req.method === "POST") {
    let parsed;
    try {
      parsed = faultRequestSchema.safeParse(await readJson(req));
    } catch {
      refuse(res, controlErrors.invalidJson);
      return true;
    }
    if (!parsed.success) {
      refuse(res, controlErrors.invalidFaultRules(z.prettifyError(parsed.error)));
      return true;
    }
    await faults.set(parsed.data.rules, parsed.data.seed);
    res.writeHead(204).end();
  } else if (path === faultRoutePrefix || path === `${faultRoutePrefix}/stats`) {
    refuse(res, controlErrors.methodNotAllowed(req.method, path));
  } else {
    return false;
  }
  return true;
}

/** FaultControl for another process: talks to the control routes of a running stack. */
export class FaultControlClient implements FaultControl {
  private readonly ca: string;

  /** `baseUrl` is the stack's HTTPS endpoint; `caCertPath` the local CA that signed its certificate. */
  constructor(
    private readonly baseUrl: string,
    caCertPath: string,
  ) {
    this.ca = readFileSync(caCertPath, "utf8");
  }

  async set(rules: FaultRule[], seed?: number): Promise<void> {
    await this.call("POST", faultRoutePrefix, { rules, seed });
  }

  async clear(): Promise<void> {
    await this.call("DELETE", faultRoutePrefix);
  }

  async stats(): Promise<FaultStats> {
    return JSON.parse(await this.call("GET", `${faultRoutePrefix}/stats`)) as FaultStats;
  }

  private call(method: string, path: string, body?: unknown): Promise<string> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        new URL(path, this.baseUrl),
        {
          method,
          ca: this.ca,
          headers: payload ? { "content-type": "application/json", "content-length": payload.length } : {},
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("error", reject);
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            if ((res.statusCode ?? 500) >= 300) reject(new Error(`fault control ${method} ${path}: ${res.statusCode} ${text}`));
            else resolve(text);
          });
        },
      );
      req.on("error", reject);
      req.end(payload);
    });
  }
}
