/**
 * A pass-through in front of Azurite's Blob service that adds what Azurite lacks and this project needs:
 * Put Page From URL (Azurite answers 501), and paged Get Page Ranges (Azurite accepts `maxresults` and `marker`
 * but ignores them and always answers the whole list). Everything else is forwarded unchanged — Shared Key
 * signatures do not cover Host, so signed requests stay valid — except a SAS restricted to https, which is
 * re-signed for Azurite's plain-http port (`https-only-sas.ts`).
 */
import { createHash, randomUUID } from "node:crypto";
import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage, type ServerResponse } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { BehaviourSettings, type ServiceBehaviour } from "./behaviour";
import { type BlobLimiter, type BlobRates, admitPageWrite } from "./dataplane/blob-limits";
import { createPageBlobTiers } from "./dataplane/page-blob-tiers";
import { evaluateConditions } from "./dataplane/conditions";
import { admitPremiumSnapshot } from "./dataplane/premium-snapshots";
import { maxPageWriteBytes, refusalOf, serviceErrorFor } from "./dataplane/request-rules";
import { pageListPaging, pageListXml, parsePageListXml, takePage } from "./dataplane/page-list";
import { type CopySource, EmulatorHttpError, SourceUnreachableError } from "./disks/api";
import { httpError, storageErrors } from "./error-catalog";
import { answerStorageError, storageServiceVersion } from "./service-errors";
import { widenHttpsOnlySas } from "./https-only-sas";
import { hasValidSharedKey, sharedKeyAuthorization, type SharedKeyAccount } from "./shared-key";

/** Largest range one Put Page From URL may copy. */
const pageSize = 512;

/** Options for the blob proxy. */
export interface BlobProxyOptions {
  /** Azurite's blob service root, e.g. http://127.0.0.1:10000 (path-style: `<root>/<account>/...`). */
  azuriteBlobUrl: string;
  /** Accounts served through the proxy; their keys verify callers' and sign the proxy's own requests. */
  accounts: SharedKeyAccount[];
  /** In-process read of a disk-emulator data URL (the emulator's `openSource`); other URLs are fetched over HTTP. */
  openSource?: (url: URL) => CopySource | undefined;
  /** Extra CA (PEM) trusted when fetching https sources, i.e. the local CA. */
  ca?: string;
  /** Live service behaviour; Get Page Ranges answers hold at most `pageListMaxRanges`. Default: the service's. */
  behaviour?: ServiceBehaviour;
  /** The modelled scalability targets that page writes pass first (`dataplane/blob-limits.ts`); none: unlimited. */
  limiter?: BlobLimiter;
  /**
   * Accounts that are premium (`Premium_LRS`, kind StorageV2): they hold page blobs only, so block and append blob
   * requests are refused with 400 BlobTypeNotSupported; Get Account Information answers their SKU; their page blobs
   * have performance tiers (`dataplane/page-blob-tiers.ts`).
   */
  premiumAccounts?: ReadonlySet<string>;
}

/** The blob proxy as the HTTPS server uses it. */
export interface BlobProxy {
  /** The account a request path addresses when it is one this proxy serves, else undefined. */
  accountOf(path: string): string | undefined;
  /** Serves the request if it addresses a proxied account and returns true; otherwise returns false. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  /** Closes pooled connections. */
  close(): void;
}

/** How `forward` treats Azurite's answer. */
interface ForwardOptions {
  readonly rewrite?: (body: string) => string;
  readonly answerHeaders?: (answer: IncomingMessage) => Record<string, string> | undefined;
  readonly onAnswer?: (status: number) => unknown;
}

interface ByteRange {
  start: number;
  /** Inclusive, as in HTTP ranges. */
  end: number;
}

const hopByHopHeaders = ["connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade", "expect"];

/** Request headers of Put Page From URL that carry over to the Put Page that writes the bytes. */
const writeConditionHeaders = [
  "if-match",
  "if-none-match",
  "if-modified-since",
  "if-unmodified-since",
  "x-ms-if-tags",
  "x-ms-lease-id",
  "x-ms-if-sequence-number-le",
  "x-ms-if-sequence-number-lt",
  "x-ms-if-sequence-number-eq",
  "x-ms-client-request-id",
  "x-ms-encryption-scope",
];

/** Source conditions, sent to an HTTP source as its own conditional headers. */
const sourceConditionHeaders: Record<string, string> = {
  "x-ms-source-if-match": "if-match",
  "x-ms-source-if-none-match": "if-none-match",
  "x-ms-source-if-modified-since": "if-modified-since",
  "x-ms-source-if-unmodified-since": "if-unmodified-since",
};

/**
 * Whether a Copy Blob's source is addressed through this proxy (its URL's host is the request's own). Azurite proves
 * such a source's SAS by reading the source URL, but only when its host is the one the request was sent to: the
 * request then reaches Azurite with its own Host (Shared Key does not sign it), not Azurite's.
 */
function copiesThroughProxy(req: IncomingMessage): boolean {
  const source = header(req, "x-ms-copy-source");
  if (source === undefined || req.headers.host === undefined) return false;
  try {
    return new URL(source).host === req.headers.host;
  } catch {
    return false;
  }
}

/** The request's `x-ms-source-if-*` headers as the conditions of a read of the source. */
function sourceConditions(req: IncomingMessage): Record<string, string> {
  const conditions: Record<string, string> = {};
  for (const [from, to] of Object.entries(sourceConditionHeaders)) {
    const value = header(req, from);
    if (value !== undefined) conditions[to] = value;
  }
  return conditions;
}

/** Whether a managed-disk source meets the request's source conditions (a 304 or 412 of a read fails them alike). */
function sourceConditionsMet(req: IncomingMessage, source: CopySource): boolean {
  try {
    return evaluateConditions(sourceConditions(req), source) === "proceed";
  } catch (error) {
    if (error instanceof EmulatorHttpError && error.status === 412) return false;
    throw error;
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(",") : value;
}

function withoutHopByHop(headers: IncomingMessage["headers"]): IncomingMessage["headers"] {
  const copy = { ...headers };
  for (const name of hopByHopHeaders) delete copy[name];
  return copy;
}

/** Creates the proxy for Azurite's blob service. */
export function createBlobProxy(options: BlobProxyOptions): BlobProxy {
  const azurite = new URL(options.azuriteBlobUrl);
  const accounts = new Map(options.accounts.map((account) => [account.name, account]));
  // Plenty of sockets: the copy engine keeps many 4 MiB requests in flight.
  const azuriteAgent = new HttpAgent({ keepAlive: true, maxSockets: 512, maxFreeSockets: 128 });
  const sourceAgent = new HttpsAgent({ keepAlive: true, maxSockets: 128, ca: options.ca });
  const behaviour = options.behaviour ?? new BehaviourSettings();
  const tiers = createPageBlobTiers();
  /** Per premium blob path, its length as Azurite last answered it, for its tier's write targets. */
  const blobSizes = new Map<string, number>();
  /** Per premium blob path, the Snapshot Blob being served (its answer's end), which the next one waits for. */
  const snapshotTurns = new Map<string, Promise<void>>();

  function accountOf(path: string): string | undefined {
    const name = path.split("/", 2)[1]?.split("?", 1)[0];
    return name !== undefined && accounts.has(name) ? name : undefined;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const accountName = accountOf(req.url ?? "/");
    if (!accountName) return false;
    // Every path below (forward, page list, Put Page From URL's write) sends req.url on, so it is widened once here.
    req.url = widenHttpsOnlySas(req.url ?? "/", accounts);
    const premium = options.premiumAccounts?.has(accountName) ?? false;
    const ratesOf = premium ? () => premiumWriteRates(req, accounts.get(accountName)!) : undefined;
    try {
      if (!(await admitPageWrite(options.limiter, accountName, req, res, ratesOf))) return true;
      if (premium && isBlockOrAppendBlobWrite(req)) refuseBlockBlob(req, accounts.get(accountName)!);
      refuseAsTheService(req, accounts.get(accountName)!);
      if (isPutPageFromUrl(req)) await putPageFromUrl(req, res, accounts.get(accountName)!);
      else if (isGetPageRanges(req)) getPageRanges(req, res);
      else if (premium && isGetAccountInformation(req)) forward(req, res, { answerHeaders: () => premiumAccountHeaders });
      else if (premium) await premiumTiered(req, res, accounts.get(accountName)!);
      else forward(req, res);
    } catch (error) {
      if (!(error instanceof EmulatorHttpError)) throw error;
      answerStorageError(res, error);
    }
    return true;
  }

  /**
   * Get Page Ranges, paged like the service. The request goes to Azurite unchanged, so its signature still
   * verifies there, and Azurite's whole list is cut to the page the request asks for. Invalid paging parameters
   * are refused here (Azurite answers them with a bodiless 400), before authentication.
   */
  function getPageRanges(req: IncomingMessage, res: ServerResponse): void {
    const paging = pageListPaging(new URL(req.url ?? "/", "http://proxy"), req.headers, behaviour.pageListMaxRanges);
    forward(req, res, { rewrite: (xml) => pageListXml(takePage(parsePageListXml(xml), paging)) });
  }

  /**
   * A premium account holds page blobs only: the request is authenticated as the service would (Shared Key here, a
   * SAS by Azurite, which never sees this request: a forged SAS is refused 400 here where the service says 403), then
   * refused.
   */
  function refuseBlockBlob(req: IncomingMessage, account: SharedKeyAccount): never {
    authenticate(req, new URL(req.url ?? "/", "http://proxy"), account);
    throw httpError(storageErrors.blockBlobsNotSupported);
  }

  /** Refuses, once authenticated, what the service refuses before it touches the blob (`dataplane/request-rules.ts`). */
  function refuseAsTheService(req: IncomingMessage, account: SharedKeyAccount): void {
    const target = new URL(req.url ?? "/", "http://proxy");
    const refusal = refusalOf(req, target);
    if (!refusal) return;
    authenticate(req, target, account);
    throw refusal;
  }

  /**
   * A premium account's request where page blob tiers matter (`dataplane/page-blob-tiers.ts`): Set Blob Tier is
   * answered here (Shared Key; with a SAS it goes to Azurite, which keeps no page blob tiers); a Snapshot Blob is
   * refused when the blob has as many snapshots, or as recent a one, as the service allows (`premium-snapshots.ts`);
   * Get Blob Properties answers carry the tier; a page blob created (Put Blob, with or without `x-ms-access-tier`) or
   * deleted sets or forgets it, and a request that may change its length forgets the length kept for its write
   * targets. Anything else is forwarded.
   */
  async function premiumTiered(req: IncomingMessage, res: ServerResponse, account: SharedKeyAccount): Promise<void> {
    const target = new URL(req.url ?? "/", "http://proxy");
    const path = decodedPath(target.pathname);
    const comp = target.searchParams.get("comp");
    const onBase = !target.searchParams.has("snapshot") && !target.searchParams.has("versionid");
    const forget = forgetSize(req, path, comp);
    if (forget) res.once("close", forget);
    if (req.method === "PUT" && comp === "tier" && onBase && !authenticate(req, target, account)) {
      const properties = await azuriteHead(target.pathname, account);
      // Azurite says what the service says of a blob that is not there.
      if (properties.statusCode !== 200) return forward(req, res);
      const asked = header(req, "x-ms-access-tier");
      if (asked === undefined) throw httpError(storageErrors.missingRequiredHeader, { HeaderName: "x-ms-access-tier" });
      tiers.set(path, tiers.check(asked, Number(properties.headers["content-length"] ?? 0)));
      res.writeHead(200, { "x-ms-request-id": randomUUID(), "x-ms-version": storageServiceVersion, "content-length": "0" });
      return void res.end();
    }
    if (req.method === "PUT" && comp === "snapshot") {
      // Authenticated first (a Shared Key here, a SAS by Azurite after the check), then the limits are proven, in the
      // blob's turn. Asked through a snapshot's or a version's URL it is still a snapshot of this blob, and counts.
      authenticate(req, target, account);
      await afterEarlierSnapshots(path, res);
      await admitPremiumSnapshot(options.azuriteBlobUrl, account, path, behaviour.premiumSnapshotIntervalSeconds);
      return forward(req, res);
    }
    if (req.method === "HEAD" && comp === null) {
      return forward(req, res, { answerHeaders: (answer) => tiers.answerHeaders(path, answer.headers) });
    }
    if (req.method === "PUT" && comp === null && String(req.headers["x-ms-blob-type"] ?? "").toLowerCase() === "pageblob") {
      const asked = header(req, "x-ms-access-tier");
      // Authenticated first (the service answers 403 before it looks at the tier), then the header is taken off.
      if (asked !== undefined) withoutTierHeader(req, target, account);
      const tier = asked === undefined ? undefined : tiers.check(asked, Number(header(req, "x-ms-blob-content-length") ?? 0));
      return forward(req, res, { onAnswer: (status) => status === 201 && tiers.set(path, tier) });
    }
    if (req.method === "DELETE" && comp === null && onBase && header(req, "x-ms-delete-snapshots") !== "only") {
      return forward(req, res, { onAnswer: (status) => status === 202 && tiers.set(path, undefined) });
    }
    forward(req, res);
  }

  /**
   * A premium page blob's own write targets, its tier's: the tier set on it, or the one its length infers. The length
   * is asked of Azurite once and kept until a request that may change it (`forgetSize`); a blob Azurite does not know
   * has none (the write then meets Azurite's own answer).
   */
  async function premiumWriteRates(req: IncomingMessage, account: SharedKeyAccount): Promise<BlobRates | undefined> {
    const pathname = new URL(req.url ?? "/", "http://proxy").pathname;
    const path = decodedPath(pathname);
    let size = blobSizes.get(path);
    if (size === undefined) {
      const properties = await azuriteHead(pathname, account);
      if (properties.statusCode !== 200) return undefined;
      size = Number(properties.headers["content-length"] ?? 0);
      blobSizes.set(path, size);
    }
    const tier = tiers.tierOf(path, size);
    return tier && { bytesPerSecond: tier.bytesPerSecond, requestsPerSecond: tier.requestsPerSecond };
  }

  /**
   * Forgets the kept length of the blob a request addresses when the request may change it (Put Blob, Copy Blob, Set
   * Blob Properties, Incremental Copy, Delete), before it is served and again once it is answered.
   */
  function forgetSize(req: IncomingMessage, path: string, comp: string | null): (() => void) | undefined {
    const changes = req.method === "DELETE" || (req.method === "PUT" && (comp === null || comp === "properties" || comp === "incrementalcopy"));
    if (!changes) return undefined;
    blobSizes.delete(path);
    return () => void blobSizes.delete(path);
  }

  /**
   * Waits until every earlier Snapshot Blob of the blob at `path` has been answered, and holds the blob's turn until
   * `res` is: the check of the blob's snapshots and the snapshot it admits are one step, so calls made at the same
   * instant cannot all pass one count.
   */
  async function afterEarlierSnapshots(path: string, res: ServerResponse): Promise<void> {
    const earlier = snapshotTurns.get(path) ?? Promise.resolve();
    const answered = new Promise<void>((resolve) => res.once("close", () => resolve()));
    const turn = earlier.then(() => answered);
    snapshotTurns.set(path, turn);
    void turn.then(() => {
      if (snapshotTurns.get(path) === turn) snapshotTurns.delete(path);
    });
    await earlier;
  }

  /**
   * Takes `x-ms-access-tier` off a Put Blob this proxy keeps the tier of (Azurite refuses tiers on page blobs): a
   * Shared Key request is verified here and signed again without it; a SAS does not sign headers.
   */
  function withoutTierHeader(req: IncomingMessage, target: URL, account: SharedKeyAccount): void {
    const usesSas = authenticate(req, target, account);
    delete req.headers["x-ms-access-tier"];
    if (!usesSas) req.headers.authorization = sharedKeyAuthorization(req.method ?? "PUT", req.url ?? "/", req.headers, account);
  }

  /** Get Blob Properties of the blob at `path` as the proxy itself asks Azurite, signed with the account key. */
  function azuriteHead(path: string, account: SharedKeyAccount): Promise<IncomingMessage> {
    const headers: Record<string, string> = { "x-ms-version": storageServiceVersion, "x-ms-date": new Date().toUTCString() };
    headers.authorization = sharedKeyAuthorization("HEAD", path, headers, account);
    return new Promise((resolve, reject) => {
      const head = httpRequest({ host: azurite.hostname, port: azurite.port, method: "HEAD", path, headers: { ...headers, host: azurite.host }, agent: azuriteAgent }, (answer) => {
        answer.resume();
        resolve(answer);
      });
      head.on("error", () => reject(httpError(storageErrors.azuriteSilent)));
      head.end();
    });
  }

  /**
   * Streams the request to Azurite and Azurite's answer back, both ways without buffering; with `rewrite`, a
   * 200 answer's body is read whole and replaced by what `rewrite` makes of it; `answerHeaders` are added to (and
   * replace) Azurite's on a 200; `onAnswer` learns the status Azurite answered.
   */
  function forward(req: IncomingMessage, res: ServerResponse, how: ForwardOptions = {}): void {
    const { rewrite, answerHeaders, onAnswer } = how;
    const upstream = httpRequest(
      {
        host: azurite.hostname,
        port: azurite.port,
        method: req.method,
        path: req.url,
        headers: { ...withoutHopByHop(req.headers), host: copiesThroughProxy(req) ? String(req.headers.host) : azurite.host },
        agent: azuriteAgent,
      },
      (answer) => {
        onAnswer?.(answer.statusCode ?? 502);
        if (answeredAsTheService(req, answer, res)) return;
        if (rewrite && answer.statusCode === 200) {
          relayRewritten(answer, res, rewrite);
          return;
        }
        res.writeHead(answer.statusCode ?? 502, { ...withoutHopByHop(answer.headers), ...(answer.statusCode === 200 ? answerHeaders?.(answer) : undefined) });
        answer.pipe(res);
      },
    );
    upstream.on("error", () => {
      if (res.headersSent) res.destroy();
      else answerStorageError(res, storageErrors.azuriteSilent);
    });
    // A client that gives up must not leave a half-sent request hanging on Azurite.
    res.on("close", () => {
      if (!res.writableFinished) upstream.destroy();
    });
    // Azurite may answer before it has read the body (412 to a leased 4 MiB Put Page). The client is still sending:
    // the rest is read and dropped so its keep-alive connection can carry its next request, instead of stalling
    // until the server's keep-alive timeout resets it.
    res.on("finish", () => {
      if (!req.readableEnded) {
        req.unpipe(upstream);
        req.resume();
      }
      abandonUnsent(upstream);
    });
    req.pipe(upstream);
  }

  /** Put Page From URL, following https://learn.microsoft.com/rest/api/storageservices/put-page-from-url. */
  async function putPageFromUrl(req: IncomingMessage, res: ServerResponse, account: SharedKeyAccount): Promise<void> {
    const target = new URL(req.url ?? "/", "http://proxy");
    const usesSas = authenticate(req, target, account);
    const destination = parseRange(req, header(req, "x-ms-range") === undefined ? "range" : "x-ms-range");
    const source = parseRange(req, "x-ms-source-range");
    const length = destination.end - destination.start + 1;
    if (source.end - source.start + 1 !== length) {
      throw invalidHeader("x-ms-source-range", "The source range and the destination range must have the same length.");
    }
    if (length > maxPageWriteBytes) {
      throw httpError(storageErrors.outOfRangeInput, {
        HeaderName: "x-ms-range",
        Reason: `A page range can be at most ${maxPageWriteBytes} bytes.`,
      });
    }
    if ((header(req, "x-ms-page-write") ?? "").toLowerCase() !== "update") {
      throw invalidHeader("x-ms-page-write", "Put Page From URL requires x-ms-page-write: update.");
    }
    const bytes = await readSource(req, source);
    const expectedMd5 = header(req, "x-ms-source-content-md5");
    const md5 = expectedMd5 === undefined ? undefined : createHash("md5").update(bytes).digest("base64");
    if (md5 !== undefined && md5 !== expectedMd5) {
      throw httpError(storageErrors.md5Mismatch, {
        UserSpecifiedMd5: expectedMd5 ?? "",
        ServerCalculatedMd5: md5,
      });
    }
    await writePages(req, res, target, usesSas ? undefined : account, destination, bytes, md5);
  }

  /**
   * Shared Key is verified here with the account key; a SAS is verified by Azurite when the proxy writes
   * with it (so a forged SAS fails after the source was read, where the service would fail before).
   * Returns true for SAS.
   */
  function authenticate(req: IncomingMessage, target: URL, account: SharedKeyAccount): boolean {
    const authorization = header(req, "authorization");
    if (authorization?.startsWith("SharedKey ")) {
      if (hasValidSharedKey(req.method ?? "PUT", req.url ?? "/", req.headers, account)) return false;
      throw httpError(storageErrors.authenticationFailed, {
        AuthenticationErrorDetail: "The MAC signature found in the HTTP request is not the same as any computed signature.",
      });
    }
    if (authorization === undefined && target.searchParams.has("sig")) return true;
    throw httpError(authorization === undefined ? storageErrors.noAuthenticationInformation : storageErrors.authenticationSchemeRefused);
  }

  function parseRange(req: IncomingMessage, name: string): ByteRange {
    const value = header(req, name);
    if (value === undefined) {
      throw httpError(storageErrors.missingRequiredHeader, { HeaderName: name });
    }
    const match = /^bytes=(\d+)-(\d+)$/.exec(value.trim());
    const range = match ? { start: Number(match[1]), end: Number(match[2]) } : undefined;
    if (!range || range.end < range.start) throw invalidHeader(name, "The range is not of the form bytes=start-end.");
    if (range.start % pageSize !== 0 || (range.end + 1) % pageSize !== 0) {
      throw invalidHeader(name, "Page ranges must start at a multiple of 512 and end one byte before one.");
    }
    return range;
  }

  async function readSource(req: IncomingMessage, range: ByteRange): Promise<Buffer> {
    let url: URL;
    try {
      url = new URL(header(req, "x-ms-copy-source") ?? "");
    } catch {
      throw invalidHeader("x-ms-copy-source", "The copy source is not an absolute URL.");
    }
    let reader: CopySource | undefined;
    try {
      reader = options.openSource?.(url);
    } catch (error) {
      // An unreachable source gives no answer to relay, as when a fetched source's connection fails.
      if (error instanceof SourceUnreachableError) throw httpError(storageErrors.cannotVerifyCopySource);
      if (error instanceof EmulatorHttpError) throw cannotVerifySource(error.status, error.code, error.message);
      throw error;
    }
    if (!reader) return fetchSource(req, url, range);
    if (!sourceConditionsMet(req, reader)) throw httpError(storageErrors.sourceConditionNotMet);
    if (range.end >= reader.sizeBytes) throw sourceRangeInvalid();
    return reader.read(range.start, range.end - range.start + 1);
  }

  /** A ranged GET of the source URL, as the service does with the caller's SAS in the URL. */
  function fetchSource(req: IncomingMessage, url: URL, range: ByteRange): Promise<Buffer> {
    const headers: Record<string, string> = {
      "x-ms-range": `bytes=${range.start}-${range.end}`,
      "x-ms-version": header(req, "x-ms-version") ?? storageServiceVersion,
      "x-ms-date": new Date().toUTCString(),
    };
    Object.assign(headers, sourceConditions(req));
    const length = range.end - range.start + 1;
    const get = url.protocol === "https:" ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const sourceRequest = get(url, { headers, agent: url.protocol === "https:" ? sourceAgent : azuriteAgent }, (answer) => {
        const status = answer.statusCode ?? 500;
        const body: Buffer[] = [];
        answer.on("data", (chunk: Buffer) => body.push(chunk));
        answer.on("error", reject);
        answer.on("end", () => {
          const bytes = Buffer.concat(body);
          if (status === 304 || status === 412) {
            // Only the source conditions can fail the read: the service answers 412 whichever failed.
            reject(httpError(storageErrors.sourceConditionNotMet));
          } else if (status >= 300) {
            const code = /<Code>([^<]*)<\/Code>/.exec(bytes.toString("utf8"))?.[1] ?? answer.headers["x-ms-error-code"];
            reject(cannotVerifySource(status, String(code ?? "Unknown"), answer.statusMessage ?? "The source refused the read."));
          } else if (bytes.length !== length) {
            reject(sourceRangeInvalid());
          } else {
            resolve(bytes);
          }
        });
      });
      sourceRequest.setTimeout(60_000, () => sourceRequest.destroy(new Error("timed out")));
      sourceRequest.on("error", () => reject(httpError(storageErrors.cannotVerifyCopySource)));
      sourceRequest.end();
    });
  }

  /** Writes the bytes with a Put Page to Azurite and relays its answer, which has the headers the service returns. */
  function writePages(
    req: IncomingMessage,
    res: ServerResponse,
    target: URL,
    signer: SharedKeyAccount | undefined,
    range: ByteRange,
    bytes: Buffer,
    md5: string | undefined,
  ): Promise<void> {
    const headers: Record<string, string> = {
      "x-ms-version": header(req, "x-ms-version") ?? storageServiceVersion,
      "x-ms-date": new Date().toUTCString(),
      "x-ms-range": `bytes=${range.start}-${range.end}`,
      "x-ms-page-write": "update",
      "content-length": String(bytes.length),
      "content-type": "application/octet-stream",
    };
    for (const name of writeConditionHeaders) {
      const value = header(req, name);
      if (value !== undefined) headers[name] = value;
    }
    // With SAS, the caller's query (sig included) authorizes the write; otherwise only comp and timeout remain.
    const path = signer ? `${target.pathname}?comp=page${target.searchParams.has("timeout") ? `&timeout=${target.searchParams.get("timeout")}` : ""}` : (req.url ?? "/");
    if (signer) headers.authorization = sharedKeyAuthorization("PUT", path, headers, signer);
    return new Promise((resolve) => {
      const put = httpRequest(
        { host: azurite.hostname, port: azurite.port, method: "PUT", path, headers: { ...headers, host: azurite.host }, agent: azuriteAgent },
        (answer) => {
          if (answeredAsTheService(req, answer, res)) {
            answer.on("end", () => {
              abandonUnsent(put);
              resolve();
            });
            return;
          }
          const answerHeaders = withoutHopByHop(answer.headers);
          if (md5 !== undefined && answer.statusCode === 201) answerHeaders["content-md5"] = md5;
          res.writeHead(answer.statusCode ?? 502, answerHeaders);
          answer.pipe(res);
          answer.on("end", () => {
            abandonUnsent(put);
            resolve();
          });
          answer.on("error", resolve);
        },
      );
      put.on("error", () => {
        answerStorageError(res, storageErrors.azuriteSilent);
        resolve();
      });
      put.end(bytes);
    });
  }

  return {
    accountOf,
    handle,
    close: () => {
      azuriteAgent.destroy();
      sourceAgent.destroy();
    },
  };
}

/**
 * Answers in the service's words an Azurite error it names otherwise (`serviceErrorFor`), keeping its request id;
 * false when Azurite's answer stands. Azurite's body is read and dropped.
 */
function answeredAsTheService(req: IncomingMessage, answer: IncomingMessage, res: ServerResponse): boolean {
  const code = answer.headers["x-ms-error-code"];
  const error = serviceErrorFor(req, new URL(req.url ?? "/", "http://proxy"), answer.statusCode ?? 502, Array.isArray(code) ? code[0] : code);
  if (!error) return false;
  answer.resume();
  const requestId = answer.headers["x-ms-request-id"];
  answerStorageError(res, error, { requestId: typeof requestId === "string" ? requestId : undefined });
  return true;
}

/** Relays Azurite's answer with its body replaced, headers kept but the length recomputed. */
function relayRewritten(answer: IncomingMessage, res: ServerResponse, rewrite: (body: string) => string): void {
  const chunks: Buffer[] = [];
  answer.on("data", (chunk: Buffer) => chunks.push(chunk));
  answer.on("error", () => res.destroy());
  answer.on("end", () => {
    const body = Buffer.from(rewrite(Buffer.concat(chunks).toString("utf8")));
    const headers = withoutHopByHop(answer.headers);
    delete headers["transfer-encoding"];
    res.writeHead(answer.statusCode ?? 200, { ...headers, "content-length": String(body.length) });
    res.end(body);
  });
}

/**
 * Closes a request Azurite answered before reading all of it: its connection still expects the unsent bytes, so
 * it can carry no other request, and Azurite would only reset it at its keep-alive timeout.
 */
function abandonUnsent(upstream: ClientRequest): void {
  if (!upstream.writableFinished) upstream.destroy();
}

/** A request path as one key whatever a client percent-encodes; a malformed escape leaves it as sent. */
function decodedPath(pathname: string): string {
  try {
    return decodeURIComponent(pathname);
  } catch {
    return pathname;
  }
}

function isGetPageRanges(req: IncomingMessage): boolean {
  return req.method === "GET" && /[?&]comp=pagelist(&|$)/.test(req.url ?? "");
}

/** What Get Account Information answers for a premium page blob account (Azurite always says Standard_RAGRS). */
const premiumAccountHeaders = { "x-ms-sku-name": "Premium_LRS", "x-ms-account-kind": "StorageV2" };

/** Get Account Information, at the account, a container or a blob: `?restype=account&comp=properties`. */
function isGetAccountInformation(req: IncomingMessage): boolean {
  const query = new URL(req.url ?? "/", "http://proxy").searchParams;
  return (req.method === "GET" || req.method === "HEAD") && query.get("restype") === "account" && query.get("comp") === "properties";
}

/**
 * A request that creates or writes a block or append blob: Put Blob (and Put Blob From URL) of those types, Put Block
 * (From URL), Put Block List and Append Block (From URL). Copy Blob passes: its destination takes the source's type.
 */
function isBlockOrAppendBlobWrite(req: IncomingMessage): boolean {
  if (req.method !== "PUT") return false;
  const comp = new URL(req.url ?? "/", "http://proxy").searchParams.get("comp");
  if (comp === "block" || comp === "blocklist" || comp === "appendblock") return true;
  if (comp !== null) return false;
  const type = String(req.headers["x-ms-blob-type"] ?? "").toLowerCase();
  return type === "blockblob" || type === "appendblob";
}

function isPutPageFromUrl(req: IncomingMessage): boolean {
  return req.method === "PUT" && req.headers["x-ms-copy-source"] !== undefined && /[?&]comp=page(&|$)/.test(req.url ?? "");
}

function invalidHeader(name: string, reason: string): EmulatorHttpError {
  return httpError(storageErrors.invalidHeaderValue, { HeaderName: name, Reason: reason });
}

/** How the service reports a source it could not read: the source's status, and its error in detail. */
function cannotVerifySource(status: number, code: string, message: string): EmulatorHttpError {
  return httpError(
    { ...storageErrors.cannotVerifyCopySource, status, message },
    { CopySourceStatusCode: status, CopySourceErrorCode: code, CopySourceErrorMessage: message },
    { "x-ms-copy-source-status-code": String(status), "x-ms-copy-source-error-code": code },
  );
}

/** A source range past the source's end, refused as the source refuses it. */
function sourceRangeInvalid(): EmulatorHttpError {
  const { status, code, message } = storageErrors.invalidRange;
  return cannotVerifySource(status, code, message);
}
