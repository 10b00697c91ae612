/**
 * What is fixed once a disk or snapshot exists: its `creationData`, and a snapshot's `incremental`. A PUT on the
 * same name may update tags or size, but a different source is refused. The answer is the one seen from the service
 * for a disk PUT (ansible/ansible#38883: `PropertyChangeNotAllowed`, "Changing property 'creationData' is not
 * allowed.", target `creationData`); 409 is the status ARM gives that code elsewhere (azure-cli#15765). Assumed for
 * this API version; the service wins. For `incremental` the same answer is the emulator's choice: the reference
 * leaves it out of SnapshotUpdateProperties and documents no answer to a PUT that changes it.
 */
import type { CreationData } from "../disks/store";
import { armErrors } from "../error-catalog";
import { PropertyError } from "./validation";

/** The fields compared; ids and the option are case-insensitive in ARM, a blob URL is not. */
const comparedFields: readonly { name: keyof CreationData; caseInsensitive: boolean }[] = [
  { name: "createOption", caseInsensitive: true },
  { name: "sourceUri", caseInsensitive: false },
  { name: "sourceResourceId", caseInsensitive: true },
  { name: "storageAccountId", caseInsensitive: true },
  { name: "uploadSizeBytes", caseInsensitive: false },
];

/**
 * Throws 409 PropertyChangeNotAllowed when `requested` (a PUT body's creationData) differs from the existing
 * disk's or snapshot's; a body without creationData asks for no change. Runs before anything is applied, so a
 * refused PUT leaves the resource as it was.
 */
export function unchangedCreationData(existing: CreationData, requested: Record<string, unknown> | undefined): void {
  if (requested === undefined) return;
  const changed = comparedFields.some(
    ({ name, caseInsensitive }) => normalized(existing[name], caseInsensitive) !== normalized(requested[name], caseInsensitive),
  );
  if (changed) throw propertyChangeNotAllowed("creationData");
}

/**
 * Throws 409 PropertyChangeNotAllowed when `requested` (a PUT body's `properties.incremental`) differs from the
 * existing snapshot's; a body without it asks for no change. Runs before anything is applied.
 */
export function unchangedIncremental(existing: boolean, requested: unknown): void {
  if (requested !== undefined && requested !== null && requested !== existing) throw propertyChangeNotAllowed("incremental");
}

function propertyChangeNotAllowed(property: string): PropertyError {
  const { status, code, message } = armErrors.propertyChangeNotAllowed(property);
  return new PropertyError(status, code, property, message);
}

function normalized(value: unknown, caseInsensitive: boolean): unknown {
  return typeof value === "string" && caseInsensitive ? value.toLowerCase() : value;
}
