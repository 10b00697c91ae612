/**
 * The local stack's one HTTPS endpoint on 127.0.0.1: fault injection first, then the disk emulator, then
 * the blob proxy, else 404. TLS because the ARM SDK's bearer-token policy refuses plain http.
 */
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { KeyPair } from "./ca";
import { handleFaultRoutes, type FaultInjector, type RequestScope } from "./faults";
import { storageErrors } from "./error-catalog";
import { answerStorageError } from "./service-errors";

/** Serves a request and returns true, or returns false without touching it. */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

/** Options for the HTTPS server. */
export interface EmulatorServerOptions {
  /** Server certificate and key (from `issueServerCertificate`). */
  tls: KeyPair;
  faults: FaultInjector;
  /** Tells which fault scope a non-control request belongs to. */
  scopeOf(req: IncomingMessage): RequestScope;
}

/** The running HTTPS server. Routes are attached after start because they need its URL. */
export interface EmulatorServer {
  /** e.g. https://127.0.0.1:43121 */
  readonly baseUrl: string;
  /** Sets the handlers tried in order for every request that fault injection lets through. */
  route(handlers: RouteHandler[]): void;
  /** Stops listening and closes every connection, idle or not. */
  close(): Promise<void>;
}

const controlPrefix = "/_emulator/";

/** Starts the HTTPS server on a free loopback port. */
export async function startEmulatorServer(options: EmulatorServerOptions): Promise<EmulatorServer> {
  let handlers: RouteHandler[] = [];
  const server: Server = createServer(
    {
      cert: options.tls.cert,
      key: options.tls.key,
      // Clients keep connections for a while between copy steps; keep them longer than Node's 5 s default.
      keepAliveTimeout: 60_000,
      headersTimeout: 65_000,
      requestTimeout: 0,
    },
    (req, res) => {
      serve(req, res).catch((error: unknown) => failRequest(res, error));
    },
  );

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // A client may go away at any moment; its socket errors must not take the process down.
    req.on("error", () => undefined);
    res.on("error", () => undefined);
    const isControl = (req.url ?? "").startsWith(controlPrefix);
    if (isControl && (await handleFaultRoutes(req, res, options.faults))) return;
    if (!isControl && (await options.faults.apply(req, res, options.scopeOf(req)))) return;
    for (const handler of handlers) {
      if (await handler(req, res)) return;
    }
    answerStorageError(res, storageErrors.resourceNotFound);
  }

  server.on("clientError", (_error, socket: Socket) => socket.destroy());
  server.on("tlsClientError", (_error, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", (error) => console.error(`local stack HTTPS server: ${error.message}`));
  const { port } = server.address() as AddressInfo;

  return {
    baseUrl: `https://127.0.0.1:${port}`,
    route: (next) => {
      handlers = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** An unexpected failure is the emulator's bug: answer 500 and say so, but keep serving. */
function failRequest(res: ServerResponse, error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  console.error(`local stack: request failed: ${message}`);
  answerStorageError(res, storageErrors.stackFailed);
}
