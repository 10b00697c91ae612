/**
 * Table `diskdeltaVerifications`: verifications of RestorePoints that a caller follows (partition key diskKey, row
 * key the caller's verificationId). Created once by the request that runs the verification, then written only if
 * unchanged since it was read.
 */
import { type Verification, type Versioned, verificationSchema } from "../../domain/records";
import { type Table, versionedRecords } from "./entities";

/** Verifications being followed. */
export interface VerificationRecords {
  /** Creates the Verification; a `ConcurrencyError` when one with its id exists. */
  createVerification(verification: Verification): Promise<void>;
  getVerification(diskKey: string, verificationId: string): Promise<Versioned<Verification> | undefined>;
  /** Writes the Verification if unchanged since read (or written) at `etag`; a `ConcurrencyError` otherwise. */
  putVerification(verification: Verification, etag: string): Promise<string>;
}

export function createVerificationRecords(table: Table): VerificationRecords {
  const verifications = versionedRecords(table, verificationSchema, (v) => v.verificationId, (id) => `verification ${id}`);
  return { createVerification: verifications.create, getVerification: verifications.get, putVerification: verifications.put };
}
