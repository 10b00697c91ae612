/**
 * Azure Storage's scalability targets for page writes, modelled as token buckets in front of the target storage:
 * per page blob (bytes/s and requests/s) and per account (requests/s). A write that finds a bucket short is refused
 * the way the service refuses it — 503 `ServerBusy`, with `Retry-After` — and takes nothing from any bucket; an
 * admitted write then waits the modelled service time. Off unless a stack (or the bench's page sink) switches it on.
 *
 * The service's figures, defined here once:
 * https://learn.microsoft.com/azure/storage/blobs/scalability-targets ("Target request rate for a single blob: up to
 * 500 requests per second"; "Target throughput for a single page blob: up to 60 MiB per second") and
 * https://learn.microsoft.com/azure/storage/common/scalability-targets-standard-account ("Maximum request rate per
 * storage account: 20,000 requests per second"). How large a burst the service absorbs is not documented; the model
 * lets a bucket hold `burstSeconds` of its rate. A premium page blob's targets are its performance tier's
 * (src/domain/page-blob-tiers.ts): the proxy gives them with each of its writes.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { inferredPageBlobTier } from "../../src/domain/page-blob-tiers";
import { storageErrors, type ServiceError } from "../error-catalog";
import { answerStorageError } from "../service-errors";

/** The modelled limits on page writes (Put Page, Put Page From URL, Clear Pages). */
export interface BlobWriteLimits {
  /** Bytes per second one page blob accepts (Put Page bodies and Put Page From URL ranges; clears carry none). */
  readonly blobBytesPerSecond: number;
  /** Page writes per second one page blob accepts. */
  readonly blobRequestsPerSecond: number;
  /** Page writes per second the whole account accepts. */
  readonly accountRequestsPerSecond: number;
  /** How many seconds of its rate an idle bucket holds: the burst it absorbs before refusing. */
  readonly burstSeconds: number;
  /** Time the service takes for each admitted write, in ms (undocumented; 0 plays loopback as is). */
  readonly serviceTimeMs: number;
}

/** A standard storage account's documented targets (see the module comment). */
export const serviceBlobWriteLimits: BlobWriteLimits = {
  blobBytesPerSecond: 60 * 1024 * 1024,
  blobRequestsPerSecond: 500,
  accountRequestsPerSecond: 20_000,
  burstSeconds: 1,
  serviceTimeMs: 0,
};

/**
 * The limits of a premium page blob of `sizeBytes`: its performance tier's (the smallest that holds it; the table is
 * src/domain/page-blob-tiers.ts), with the standard account's request rate.
 */
export function premiumBlobWriteLimits(sizeBytes: number): BlobWriteLimits {
  const tier = inferredPageBlobTier(sizeBytes);
  if (!tier) throw new Error(`a page blob holds at most 8 TiB; ${sizeBytes} bytes has no premium tier`);
  return { ...serviceBlobWriteLimits, blobBytesPerSecond: tier.bytesPerSecond, blobRequestsPerSecond: tier.requestsPerSecond };
}

/**
 * How a stack switches the model on: any field overrides the service's, and `scale` multiplies the three rates (tests
 * use small numbers, e.g. `scale: 0.01` is 5 requests/s per blob).
 */
export type BlobLimitsOption = Partial<BlobWriteLimits> & { readonly scale?: number };

/** The limits an option describes. */
export function blobWriteLimits(option: BlobLimitsOption): BlobWriteLimits {
  const { scale = 1, ...fields } = option;
  const limits = { ...serviceBlobWriteLimits, ...fields };
  return {
    ...limits,
    blobBytesPerSecond: limits.blobBytesPerSecond * scale,
    blobRequestsPerSecond: limits.blobRequestsPerSecond * scale,
    accountRequestsPerSecond: limits.accountRequestsPerSecond * scale,
  };
}

/** A refused write: the service's error and how long it asks the caller to wait. */
export interface Refusal {
  readonly error: ServiceError;
  readonly retryAfterSeconds: number;
}

/** What the model counted since it was switched on. */
export interface BlobLimitCounts {
  admitted: number;
  refused: number;
}

/** One page blob's own write targets, where they are its own (a premium page blob's performance tier). */
export interface BlobRates {
  readonly bytesPerSecond: number;
  readonly requestsPerSecond: number;
}

/** One write as the model sees it. */
export interface PageWrite {
  readonly account: string;
  /** The blob's path (`/<account>/<container>/<blob>`), without the query. */
  readonly blob: string;
  readonly bytes: number;
  /** The blob's own targets (times the option's `scale`) instead of the model's per-blob ones; none for a standard blob. */
  readonly rates?: BlobRates;
}

/** The model's state: the buckets, switched on and off at run time. */
export interface BlobLimiter {
  /** Admits the write (taking its tokens) or says why not; undefined while the model is off. */
  admit(write: PageWrite): Refusal | undefined;
  /** The service time an admitted write waits, in ms. */
  readonly serviceTimeMs: number;
  /** Switches the model on with `option`, or off with undefined; the buckets start full. */
  set(option: BlobLimitsOption | undefined): void;
  /** Whether the model is on. */
  readonly on: boolean;
  readonly counts: BlobLimitCounts;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** A bucket refilled at `rate` per second up to `burstSeconds` of it; a cost above that is admitted from a full bucket. */
function shortfall(bucket: Bucket, cost: number, rate: number, burstSeconds: number, now: number): number {
  const capacity = rate * burstSeconds;
  bucket.tokens = Math.min(capacity, bucket.tokens + ((now - bucket.at) / 1000) * rate);
  bucket.at = now;
  return Math.max(0, Math.min(cost, capacity) - bucket.tokens);
}

export function createBlobLimiter(option?: BlobLimitsOption, clock: () => number = () => performance.now()): BlobLimiter {
  let limits: BlobWriteLimits | undefined;
  let scale = 1;
  let buckets = new Map<string, Bucket>();
  const counts: BlobLimitCounts = { admitted: 0, refused: 0 };
  const bucket = (key: string, rate: number, now: number): Bucket => {
    let found = buckets.get(key);
    if (!found) {
      found = { tokens: rate * (limits?.burstSeconds ?? 0), at: now };
      buckets.set(key, found);
    }
    return found;
  };
  const limiter: BlobLimiter = {
    admit(write) {
      if (!limits) return undefined;
      const now = clock();
      const { burstSeconds } = limits;
      const blobRequests = write.rates ? write.rates.requestsPerSecond * scale : limits.blobRequestsPerSecond;
      const blobBytes = write.rates ? write.rates.bytesPerSecond * scale : limits.blobBytesPerSecond;
      const checks = [
        { key: `account ${write.account}`, cost: 1, rate: limits.accountRequestsPerSecond, error: storageErrors.accountThrottled },
        { key: `requests ${write.blob}`, cost: 1, rate: blobRequests, error: storageErrors.serverBusy },
        { key: `bytes ${write.blob}`, cost: write.bytes, rate: blobBytes, error: storageErrors.serverBusy },
      ].map((check) => ({ ...check, bucket: bucket(check.key, check.rate, now) }));
      for (const check of checks) {
        const missing = shortfall(check.bucket, check.cost, check.rate, burstSeconds, now);
        if (missing > 0) {
          counts.refused += 1;
          // The service's Retry-After is whole seconds; at least one.
          return { error: check.error, retryAfterSeconds: Math.max(1, Math.ceil(missing / check.rate)) };
        }
      }
      for (const check of checks) check.bucket.tokens -= check.cost;
      counts.admitted += 1;
      return undefined;
    },
    get serviceTimeMs() {
      return limits?.serviceTimeMs ?? 0;
    },
    get on() {
      return limits !== undefined;
    },
    set(next) {
      limits = next ? blobWriteLimits(next) : undefined;
      scale = next?.scale ?? 1;
      buckets = new Map();
      counts.admitted = 0;
      counts.refused = 0;
    },
    counts,
  };
  limiter.set(option);
  return limiter;
}

/**
 * The page write a request is, for the model: `PUT ?comp=page` (Put Page, Put Page From URL, Clear Pages) with the
 * bytes its range writes (none for a clear); undefined for any other request.
 */
export function pageWriteOf(method: string | undefined, path: string, headers: Record<string, string | string[] | undefined>): Omit<PageWrite, "account"> | undefined {
  const url = new URL(path, "http://blob");
  if (method !== "PUT" || url.searchParams.get("comp") !== "page") return undefined;
  const range = /^bytes=(\d+)-(\d+)$/.exec(String(headers["x-ms-range"] ?? headers.range ?? "").trim());
  const clearing = String(headers["x-ms-page-write"] ?? "").toLowerCase() === "clear";
  const bytes = range && !clearing ? Math.max(0, Number(range[2]) + 1 - Number(range[1])) : 0;
  return { blob: decodeURIComponent(url.pathname), bytes };
}

/**
 * A page write passes the modelled limits first, as it reaches the service's front end before anything else: over
 * them it is answered 503 ServerBusy with Retry-After (in whole seconds; its body is left unread, as the service
 * leaves it) and false is returned; within them it waits the modelled service time. Other requests pass at once.
 * `ratesOf` gives a blob's own targets (a premium page blob's tier), asked only while the model is on.
 */
export async function admitPageWrite(
  limiter: BlobLimiter | undefined, account: string, req: IncomingMessage, res: ServerResponse, ratesOf?: () => Promise<BlobRates | undefined>,
): Promise<boolean> {
  const write = limiter?.on ? pageWriteOf(req.method, req.url ?? "/", req.headers) : undefined;
  if (!limiter || !write) return true;
  const refusal = limiter.admit({ account, ...write, rates: await ratesOf?.() });
  if (refusal) {
    answerStorageError(res, refusal.error, { headers: { "retry-after": String(refusal.retryAfterSeconds) } });
    return false;
  }
  if (limiter.serviceTimeMs > 0) await sleep(limiter.serviceTimeMs);
  return true;
}
