/**
 * One request to a `/_emulator/…` control route of a running stack, for the typed clients that other processes
 * use. Trusts the local CA through NODE_EXTRA_CA_CERTS like every other client of the stack.
 */
import { EmulatorHttpError } from "./disks/api";

/**
 * Sends the request and returns the answer when it is 2xx; otherwise throws EmulatorHttpError with the route's
 * status and the `{error: {code, message}}` it answered, so a caller sees the emulator's reason, not a bare status.
 */
export async function callControlRoute(
  baseUrl: string,
  path: string,
  query: Record<string, string>,
  init: RequestInit,
): Promise<Response> {
  const url = new URL(path, baseUrl);
  for (const [key, value] of Object.entries(query)) url.searchParams.set(key, value);
  const res = await fetch(url, init);
  if (!res.ok) {
    const body = (await res.json().catch(() => undefined)) as { error?: { code?: string; message?: string } } | undefined;
    throw new EmulatorHttpError(
      res.status,
      body?.error?.code ?? "Unknown",
      body?.error?.message ?? `${init.method ?? "GET"} ${path} answered ${res.status}.`,
    );
  }
  return res;
}
