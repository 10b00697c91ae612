/**
 * Permanent failures end a BackupRun with a visible status; everything else is presumed transient and retried
 * (by the SDK's retry policy, then by queue redelivery). Messages never carry SAS tokens or keys.
 */

/** A failure that retrying will not fix: bad configuration, a disk or snapshot that is gone, access denied. */
export class PermanentError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(redact(message));
    this.name = "PermanentError";
  }
}

/** A permanent failure caused by the state of what was asked for (a name taken, a blob in use): HTTP 409. */
export class ConflictError extends PermanentError {
  constructor(code: string, message: string) {
    super(code, message);
    this.name = "ConflictError";
  }
}

/** A record in Table Storage that does not parse: what is wrong and where. Retrying cannot fix it; an operator can. */
export class InvalidRecordError extends PermanentError {
  constructor(
    readonly where: string,
    readonly problems: readonly string[],
  ) {
    super("InvalidRecord", `invalid record ${where}: ${problems.join("; ")}`);
    this.name = "InvalidRecordError";
  }
}

/** Another writer changed a record since it was read (its ETag no longer matches): read it again and decide again. */
export class ConcurrencyError extends Error {
  constructor(what: string) {
    super(`${what} was changed by someone else; read it again`);
    this.name = "ConcurrencyError";
  }
}

/** Which of Azure's managed-copy (CopyStart) limits refused a copy. */
export type CopyLimit =
  /** 100 copies in flight per subscription per target region. */
  | "regionInFlight"
  /** One copy of a disk's snapshots at a time. */
  | "diskInFlight"
  /** A disk's snapshots are copied in the order they were created. */
  | "creationOrder";

/**
 * A CopyStart that Azure refused because of one of its managed-copy limits (`limit`): transient, the caller waits
 * (for a copy in flight to complete) and tries again later; not counted as a failure of the copy.
 */
export class CopyLimitError extends Error {
  constructor(
    readonly limit: CopyLimit,
    message: string,
  ) {
    super(redact(message));
    this.name = "CopyLimitError";
  }
}

/** The service could not read a copy source (expired or revoked SAS, snapshot gone): Put Page From URL's 403. */
export function isSourceError(error: unknown): boolean {
  return codeOf(error) === "CannotVerifyCopySource";
}

const leaseCodes = new Set([
  "LeaseIdMismatchWithBlobOperation", "LeaseNotPresentWithBlobOperation", "LeaseIdMissing", "LeaseLost",
  "LeaseIdMismatchWithLeaseOperation", "LeaseNotPresentWithLeaseOperation",
]);

/** A write was refused because the caller no longer holds the TargetBlob's lease: it has been fenced off. */
export function isLeaseLost(error: unknown): boolean {
  return statusOf(error) === 412 && leaseCodes.has(codeOf(error) ?? "");
}

/** True for a PermanentError, or a service answer that retrying will not change (4xx other than 408/409/412/429). */
export function isPermanent(error: unknown): boolean {
  if (error instanceof PermanentError) return true;
  const status = statusOf(error);
  return status !== undefined && status >= 400 && status < 500 && ![408, 409, 412, 429].includes(status);
}

/** The HTTP status of an SDK RestError, if it has one. */
export function statusOf(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | undefined)?.statusCode;
  return typeof status === "number" ? status : undefined;
}

/** The service error code of an SDK RestError (`ResourceNotFound`, `BlobNotFound`, ...), if it has one. */
export function codeOf(error: unknown): string | undefined {
  const err = error as { code?: unknown; details?: { errorCode?: unknown } } | undefined;
  const code = err?.details?.errorCode ?? err?.code;
  return typeof code === "string" ? code : undefined;
}

const secretPatterns: [RegExp, string][] = [
  [/([?&](?:sig|se|st|sv|sp|sr|skoid|sktid|skt|ske|sks|skv|si|spr)=)[^&\s"'<>]*/gi, "$1REDACTED"],
  [/(AccountKey=)[^;\s"']+/gi, "$1REDACTED"],
  // A password in a URL's user information (https://user:password@host).
  [/(\b[a-z][a-z0-9+.-]*:\/\/[^\s/:@"'<>]*:)[^\s/@"'<>]+@/gi, "$1REDACTED@"],
  [/(SharedAccessSignature=)[^;\s"']+/gi, "$1REDACTED"],
  // A SAS nested, percent-encoded, in another URL's query.
  [/((?:%3F|%26)sig%3D)(?:(?!%26)[^&\s"'<>])*/gi, "$1REDACTED"],
  // Headers as text ("Authorization: Bearer …") and as JSON ("authorization":"Bearer …").
  [/(Authorization"?\s*[:=]\s*"?)(Bearer|SharedKey)\s+[^\s"']+/gi, "$1$2 REDACTED"],
];

/** Removes SAS parameters, account keys and credentials from text meant for logs, tables or HTTP answers. */
export function redact(text: string): string {
  return secretPatterns.reduce((out, [pattern, replacement]) => out.replace(pattern, replacement), text);
}

/** A one-line, secret-free description of any error: `[status code] message`. */
export function describeError(error: unknown): string {
  const status = statusOf(error);
  const code = error instanceof PermanentError ? error.code : codeOf(error);
  const message = error instanceof Error ? error.message.split("\n")[0] : String(error);
  const prefix = [status, code].filter((part) => part !== undefined).join(" ");
  return redact(prefix ? `[${prefix}] ${message}` : message);
}
