/** Request-body checks with ARM's answers: 400 InvalidParameter naming the offending property in `target`. */
import { EmulatorHttpError } from "../disks/api";
import { armErrors, httpError } from "../error-catalog";

/** An ARM error about one property, named in the error's `target` as ARM does. */
export class PropertyError extends EmulatorHttpError {
  constructor(
    status: number,
    code: string,
    readonly target: string,
    message: string,
  ) {
    super(status, code, message);
  }
}

/** A 400 InvalidParameter about one property. */
export class InvalidParameter extends PropertyError {
  constructor(target: string, message: string) {
    super(400, "InvalidParameter", target, message);
  }
}

export function armError(target: string, message: string): InvalidParameter {
  return new InvalidParameter(target, message);
}

/** The 400 for a required property the body leaves out. */
export function missingParameter(name: string): InvalidParameter {
  return armError(name, `Required parameter '${name}' is missing (null).`);
}

export function bodyObject(body: unknown): Record<string, unknown> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw httpError(armErrors.notJsonObject);
  }
  return body as Record<string, unknown>;
}

export function optionalObject(value: unknown, name: string): Record<string, unknown> | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "object" || Array.isArray(value)) throw armError(name, `Parameter '${name}' must be an object.`);
  return value as Record<string, unknown>;
}

export function requiredString(value: unknown, name: string): string {
  if (value === undefined || value === null) throw missingParameter(name);
  if (typeof value !== "string" || value === "") throw armError(name, `Parameter '${name}' must be a non-empty string.`);
  return value;
}

export function optionalPositiveInt(value: unknown, name: string, max: number): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1 || value > max) {
    throw armError(name, `The value '${String(value)}' of parameter '${name}' is not valid: expected 1 to ${max}.`);
  }
  return value;
}

export function optionalTags(value: unknown): Record<string, string> | undefined {
  const tags = optionalObject(value, "tags");
  if (tags && Object.values(tags).some((v) => typeof v !== "string")) {
    throw armError("tags", "Tag values must be strings.");
  }
  return tags as Record<string, string> | undefined;
}

/** A resource's `location`, which every PUT of a tracked resource (disk, snapshot, resource group) requires. */
export function requiredLocation(body: Record<string, unknown>): string {
  if (typeof body.location !== "string" || body.location.trim() === "") {
    throw httpError(armErrors.locationRequired);
  }
  return body.location;
}

/**
 * Disk and snapshot names as resource-name-rules gives them for Microsoft.Compute/disks and snapshots: 1 to 80
 * alphanumerics, underscores, periods and hyphens, starting with an alphanumeric, ending with an alphanumeric or
 * an underscore.
 */
const resourceName = /^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,78}[A-Za-z0-9_])?$/;

/**
 * A PUT's disk or snapshot name, checked as DiskRP does: 400 InvalidParameter, target `disk.name` / `snapshot.name`,
 * "The value of parameter disk.name is invalid." (the message as reported for a name over 80 characters,
 * microsoft/AzureStorageExplorer#4425; the code is assumed, DiskRP's for that message).
 */
export function requireResourceName(kind: "disk" | "snapshot", name: string): void {
  if (!resourceName.test(name)) throw armError(`${kind}.name`, `The value of parameter ${kind}.name is invalid.`);
}
