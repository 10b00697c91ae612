/**
 * Stand-ins for the edges of Azure a production worker talks to, all on loopback, to observe how it authenticates:
 * the managed identity endpoint the Functions platform provides (IDENTITY_ENDPOINT / IDENTITY_HEADER), an HTTPS
 * server that records how each request is authorised, and a DNS guard that keeps public names from being resolved.
 */
import dns from "node:dns";
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { ensureLocalCa, issueServerCertificate } from "../../emulator/ca";

/** A token request the identity endpoint received. */
export interface TokenRequest {
  readonly resource: string;
  readonly clientId: string;
}

/** The App Service managed identity endpoint (API 2019-08-01), handing out one known token. */
export interface IdentityEndpoint {
  readonly environment: { readonly IDENTITY_ENDPOINT: string; readonly IDENTITY_HEADER: string };
  readonly token: string;
  readonly requests: TokenRequest[];
  close(): Promise<void>;
}

/** A request the recording server received, with how it was authorised. */
export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly authorization: string;
}

/** An HTTPS server (trusted through the local CA) that answers 404 to everything and records each request. */
export interface RecordingServer {
  readonly url: string;
  readonly requests: RecordedRequest[];
  close(): Promise<void>;
}

function listening(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)));
}

function closing(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

export async function startIdentityEndpoint(): Promise<IdentityEndpoint> {
  const token = "managed-identity-token-0123456789";
  const header = "identity-header-secret";
  const requests: TokenRequest[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    if (req.headers["x-identity-header"] !== header) {
      res.writeHead(401).end();
      return;
    }
    requests.push({ resource: url.searchParams.get("resource") ?? "", clientId: url.searchParams.get("client_id") ?? "" });
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ access_token: token, expires_on: String(Math.floor(Date.now() / 1000) + 3600), resource: url.searchParams.get("resource"), token_type: "Bearer" }));
  });
  const port = await listening(server);
  return {
    environment: { IDENTITY_ENDPOINT: `http://127.0.0.1:${port}/msi/token`, IDENTITY_HEADER: header },
    token,
    requests,
    close: () => closing(server),
  };
}

export async function startRecordingServer(): Promise<RecordingServer> {
  const requests: RecordedRequest[] = [];
  const server = createHttpsServer(await issueServerCertificate(await ensureLocalCa()), (req, res) => {
    requests.push({ method: req.method ?? "", path: req.url ?? "", authorization: req.headers.authorization ?? "" });
    req.resume();
    if ((req.url ?? "").startsWith("/subscriptions/")) {
      res.writeHead(404, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { code: "ResourceNotFound", message: "not found (recording server)" } }));
    } else {
      res.writeHead(404, { "x-ms-error-code": "BlobNotFound" }).end();
    }
  });
  const port = await listening(server);
  return { url: `https://127.0.0.1:${port}`, requests, close: () => closing(server) };
}

/** Refuses to resolve any name but localhost, as if offline, and records what was asked. */
export interface DnsGuard {
  readonly asked: string[];
  restore(): void;
}

export function guardPublicDns(): DnsGuard {
  const original = dns.lookup;
  const asked: string[] = [];
  dns.lookup = function (hostname: string, ...rest: unknown[]) {
    if (hostname === "localhost") return (original as (...args: unknown[]) => void).call(dns, hostname, ...rest);
    asked.push(hostname);
    const callback = rest[rest.length - 1] as (error: Error) => void;
    const error = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname} (public DNS blocked by the test)`), { code: "ENOTFOUND", hostname });
    process.nextTick(() => callback(error));
  } as typeof dns.lookup;
  return { asked, restore: () => void (dns.lookup = original) };
}

/** Sets environment variables until the returned function puts the old values back. */
export function withEnvironment(variables: Record<string, string>): () => void {
  const previous = Object.fromEntries(Object.keys(variables).map((key) => [key, process.env[key]]));
  Object.assign(process.env, variables);
  return () => {
    for (const [key, value] of Object.entries(previous)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };
}
