/**
 * The CLI's only way out: JSON over HTTP to the app's API. The function key goes in the `x-functions-key` header
 * (never in a URL, so it cannot end up in a printed URL), and only to the API's own origin.
 */
import { hostname, userInfo } from "node:os";

/** The API answered with an error: `{ error: { code, message, details? } }`, or something else with a status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: readonly string[] = [],
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** The API could not be reached at all (refused, DNS, TLS, reset). */
export class ApiUnreachableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ApiUnreachableError";
  }
}

/** Where the API is and how to authenticate. */
export interface ApiConnection {
  /** Base URL of the HTTP routes, ending in the route prefix: https://<app>.azurewebsites.net/api */
  readonly baseUrl: string;
  readonly key?: string;
}

/** A JSON request to the API. Each call is one HTTP request: no retries (POSTs like sync are not idempotent). */
export interface Api {
  request<T>(method: "GET" | "POST" | "PATCH" | "DELETE", path: string, body?: unknown): Promise<T>;
  /** The API path of an absolute URL the API handed out (a status URL), if it points into this API. */
  pathOf(url: string): string | undefined;
}

/**
 * The API base URL as given: a bare origin gets the Functions route prefix `/api`; a trailing slash is dropped.
 * Refuses anything but http(s) and URLs carrying credentials or a query (a `?code=` key would be printed in errors).
 */
export function normalizeBaseUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`the API URL "${text}" is not a URL; expected e.g. https://<app>.azurewebsites.net/api`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error(`the API URL must be http(s), not ${url.protocol}`);
  if (url.username || url.password || url.search || url.hash) {
    throw new Error("the API URL must not carry credentials, a query or a fragment; pass the function key with --key or DISKDELTA_FUNCTION_KEY");
  }
  const path = url.pathname.replace(/\/+$/, "");
  return `${url.origin}${path === "" ? "/api" : path}`;
}

export function createApi(connection: ApiConnection, fetchImpl: typeof fetch = fetch): Api {
  const base = connection.baseUrl;
  return {
    pathOf(url) {
      return url.startsWith(`${base}/`) ? url.slice(base.length) : undefined;
    },
    async request<T>(method: string, path: string, body?: unknown): Promise<T> {
      const headers: Record<string, string> = { accept: "application/json", "user-agent": "diskdelta-cli" };
      if (connection.key) headers["x-functions-key"] = connection.key;
      // Recorded with what this call asks for (e.g. a restore); Azure's front end, when it authenticates, says better.
      headers["x-diskdelta-requested-by"] = operatorName();
      if (body !== undefined) headers["content-type"] = "application/json";
      let response: Response;
      try {
        response = await fetchImpl(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      } catch (error) {
        throw new ApiUnreachableError(`cannot reach the API at ${base}: ${reasonOf(error)}`);
      }
      const text = await response.text();
      const parsed = parseJson(text);
      if (!response.ok) throw errorOf(response, parsed, method, path);
      if (parsed === undefined && text.length > 0) {
        throw new ApiError(response.status, "InvalidResponse", `${method} ${path} answered ${response.status} with a body that is not JSON`);
      }
      return parsed as T;
    },
  };
}

function errorOf(response: Response, body: unknown, method: string, path: string): ApiError {
  const error = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } } | undefined)?.error;
  if (error && typeof error.message === "string") {
    const details = Array.isArray(error.details) ? error.details.filter((d): d is string => typeof d === "string") : [];
    return new ApiError(response.status, typeof error.code === "string" ? error.code : `Http${response.status}`, error.message, details);
  }
  // A 401/403 is explained by the CLI, which knows whether a key was sent and where it came from.
  return new ApiError(response.status, `Http${response.status}`, `${method} ${path} answered ${response.status} ${response.statusText}`);
}

function parseJson(text: string): unknown {
  if (text.length === 0) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** fetch reports "fetch failed" and hides the reason in `cause` (ECONNREFUSED, ENOTFOUND, certificate errors). */
function reasonOf(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
  if (cause && typeof cause.code === "string") return cause.code;
  if (cause && typeof cause.message === "string") return cause.message;
  return error instanceof Error ? error.message : String(error);
}

/** The operator as the machine knows them: user@host (never a credential). */
function operatorName(): string {
  try {
    return `${userInfo().username}@${hostname()}`;
  } catch {
    return `cli@${hostname()}`;
  }
}
