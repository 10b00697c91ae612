/**
 * The SAS URLs behind `accessSAS`, shaped like the service's and path-style on the emulator's own origin, signed
 * with an HMAC key that never leaves the process: a snapshot's read SAS `/md-<access>/<blob>/abcd?sv&sr&sk&sig&st&se&sp`
 * and a disk's upload (write) SAS `/md-impexp-<access>/<blob>/abcd?sv&sr&si&sig`, whose time window is held by the
 * grant (a stored access policy, `si`), not by the URL.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { EmulatorHttpError } from "../disks/api";
import { httpError, storageErrors } from "../error-catalog";

const readPath = /^\/md-([a-z0-9]+)\/([a-z0-9]+)\/abcd$/;
const writePath = /^\/md-impexp-([a-z0-9]+)\/([a-z0-9]+)\/abcd$/;
const signedVersion = "2018-03-28";

/** The grant a data URL names, once its signature and time window check out. */
export interface DataUrlClaim {
  /** `read`: a snapshot's export SAS; `write`: a disk's upload SAS. */
  kind: "read" | "write";
  accessId: string;
  blobId: string;
}

/** A grant a SAS can be issued for. */
export interface IssuedAccess {
  readonly accessId: string;
  readonly blobId: string;
  readonly expiresAt: number;
}

export class SasAuthority {
  private readonly key = randomBytes(32);

  constructor(private readonly baseUrl: string) {}

  /** Whether a path is one of the data URLs (whatever its signature); other paths are not ours. */
  isDataPath(pathname: string): boolean {
    return readPath.test(pathname) || writePath.test(pathname);
  }

  /** True when the URL is on this emulator's origin, so `verify` applies to it. */
  isOwnOrigin(url: URL): boolean {
    return url.origin === new URL(this.baseUrl).origin;
  }

  /** A read SAS for the grant's blob, or for another blob of the same grant (the guest state's), valid as long. */
  issue(access: IssuedAccess, blobId = access.blobId): string {
    const path = `/md-${access.accessId}/${blobId}/abcd`;
    const fields = {
      sv: signedVersion,
      sr: "b",
      sk: "system-1",
      st: isoSeconds(Math.floor(Date.now() / 1000) * 1000),
      se: isoSeconds(Math.ceil(access.expiresAt / 1000) * 1000),
      sp: "r",
    };
    const sig = this.sign(path, fields);
    const query = new URLSearchParams({ sv: fields.sv, sr: fields.sr, sk: fields.sk, sig, st: fields.st, se: fields.se, sp: fields.sp });
    return `${this.baseUrl.replace(/\/$/, "")}${path}?${query.toString()}`;
  }

  /** An upload SAS for a disk's write grant; the grant's expiry is checked by the store, as a stored policy's is. */
  issueWrite(access: IssuedAccess): string {
    const path = `/md-impexp-${access.accessId}/${access.blobId}/abcd`;
    const fields = { sv: signedVersion, sr: "b", si: `${access.accessId}-write` };
    const sig = this.signWrite(path, fields);
    const query = new URLSearchParams({ sv: fields.sv, sr: fields.sr, si: fields.si, sig });
    return `${this.baseUrl.replace(/\/$/, "")}${path}?${query.toString()}`;
  }

  /** Checks the signature and time window; throws 403 AuthenticationFailed like the service. */
  verify(url: URL): DataUrlClaim {
    const upload = writePath.exec(url.pathname);
    if (upload) return this.verifyWrite(url, upload[1], upload[2]);
    const m = readPath.exec(url.pathname);
    if (!m) throw authenticationFailed("The URL is not a managed disk data URL.");
    const q = url.searchParams;
    const fields = { sv: q.get("sv"), sr: q.get("sr"), sk: q.get("sk"), st: q.get("st"), se: q.get("se"), sp: q.get("sp") };
    const sig = q.get("sig");
    if (!sig || Object.values(fields).some((v) => v === null)) {
      throw authenticationFailed("Signature fields not well formed.");
    }
    const expected = Buffer.from(this.sign(url.pathname, fields as Record<keyof typeof fields, string>), "base64");
    const given = Buffer.from(sig, "base64");
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw authenticationFailed("Signature did not match.");
    }
    const now = Date.now();
    if (now < Date.parse(fields.st as string) - 300_000 || now >= Date.parse(fields.se as string)) {
      throw authenticationFailed("Signature not valid in the specified time frame.");
    }
    return { kind: "read", accessId: m[1], blobId: m[2] };
  }

  private verifyWrite(url: URL, accessId: string, blobId: string): DataUrlClaim {
    const q = url.searchParams;
    const fields = { sv: q.get("sv"), sr: q.get("sr"), si: q.get("si") };
    const sig = q.get("sig");
    if (!sig || fields.sv === null || fields.sr === null || fields.si === null) {
      throw authenticationFailed("Signature fields not well formed.");
    }
    const expected = Buffer.from(this.signWrite(url.pathname, { sv: fields.sv, sr: fields.sr, si: fields.si }), "base64");
    const given = Buffer.from(sig, "base64");
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw authenticationFailed("Signature did not match.");
    }
    return { kind: "write", accessId, blobId };
  }

  private signWrite(path: string, f: Record<"sv" | "sr" | "si", string>): string {
    return createHmac("sha256", this.key).update([path, f.si, f.sv, f.sr, "write"].join("\n")).digest("base64");
  }

  private sign(path: string, f: Record<"sv" | "sr" | "sk" | "st" | "se" | "sp", string>): string {
    const toSign = [path, f.sp, f.st, f.se, f.sv, f.sr, f.sk].join("\n");
    return createHmac("sha256", this.key).update(toSign).digest("base64");
  }
}

/** The 403 the service answers for a bad, expired or revoked SAS; `detail` never contains the signature. */
export function authenticationFailed(detail: string): EmulatorHttpError {
  return httpError(storageErrors.sasRefused(detail));
}

function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}
