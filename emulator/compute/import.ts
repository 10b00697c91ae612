/**
 * Disk creation with `createOption: "Import"`: the source blob must be a fixed VHD (its last 512 bytes a valid
 * footer whose size matches the blob) of a whole number of MiB; the disk gets the blob's written pages.
 * The code InvalidVhd is the service's (its "not a supported VHD" error); answering it synchronously as a 400,
 * and copying before the 202, are the emulator's choices.
 *
 * `createOption: "ImportSecure"` imports the same way and also the VM guest state from `securityDataUri` (DiskRP
 * reference: "Similar to Import ... importing additional blobs for VM guest state specified by securityDataUri and
 * VM metadata specified by securityMetadataUri ... only required for certain Confidential VM configurations"). The
 * emulator requires the metadata for every ConfidentialVM_* type, checks it can be read, and keeps nothing of it.
 */
import { EmulatorHttpError, type ImportSource } from "../disks/api";
import { GuestStateView } from "../disks/guest-state";
import { gib } from "../disks/limits";
import type { BootProperties, CreationData, DiskRecord, DiskSettings, DiskStore, NewResource } from "../disks/store";
import { parseVhdFooter, vhdFooterSize } from "../disks/vhd";
import type { StorageAccountDirectory } from "../storage-accounts";
import { isConfidential } from "./disk-properties";
import { armLocation } from "./operations";
import { armError, missingParameter, requiredString } from "./validation";

type ImportReader = (sourceUri: string) => Promise<ImportSource>;

/** `sourceUri` and `storageAccountId` of an Import or ImportSecure, both required. */
export function importSource(creation: Record<string, unknown> | undefined): { sourceUri: string; storageAccountId: string } {
  return {
    sourceUri: requiredString(creation?.sourceUri, "creationData.sourceUri"),
    storageAccountId: requiredString(creation?.storageAccountId, "creationData.storageAccountId"),
  };
}

/**
 * Refuses an Import or ImportSecure whose source is in a storage account of another region than the disk, as the
 * disk service does: 400 `BadRequest` "The source blob <uri> does not belong to the same region as the disk." (the
 * service's code and message as reported in microsoft/DefendTheFlag#1, 2019; DiskRP's reference documents no error
 * for it). The account is the one `sourceUri` names, else the one `storageAccountId` names; the region is the one the
 * stack's directory holds for it (the same one ARM's Get of the account reports). An account the stack does not
 * know is left to the reader, which refuses it.
 */
export function refuseOtherRegion(
  accounts: StorageAccountDirectory | undefined,
  source: { sourceUri: string; storageAccountId: string },
  diskLocation: string,
): void {
  const account = accounts?.ofBlobUrl(source.sourceUri) ?? accounts?.ofResourceId(source.storageAccountId);
  if (account && armLocation(account.location) !== armLocation(diskLocation)) {
    throw new EmulatorHttpError(400, "BadRequest", `The source blob ${source.sourceUri} does not belong to the same region as the disk.`);
  }
}

/** The blobs an ImportSecure adds to an Import, checked against the disk's securityType (400 InvalidParameter). */
export function secureImportSource(
  creation: Record<string, unknown> | undefined,
  boot: BootProperties,
): { securityDataUri: string; securityMetadataUri?: string } {
  const securityType = boot.securityProfile?.securityType;
  if (securityType === undefined) {
    throw armError(
      "properties.securityProfile.securityType",
      "createOption 'ImportSecure' creates a Trusted Launch or Confidential VM disk: set 'properties.securityProfile.securityType' to 'TrustedLaunch' or a 'ConfidentialVM_*' type.",
    );
  }
  const securityDataUri = requiredString(creation?.securityDataUri, "creationData.securityDataUri");
  if (!isConfidential(securityType)) return { securityDataUri };
  if (creation?.securityMetadataUri === undefined || creation.securityMetadataUri === null) {
    throw missingParameter("creationData.securityMetadataUri");
  }
  return { securityDataUri, securityMetadataUri: requiredString(creation.securityMetadataUri, "creationData.securityMetadataUri") };
}

/** Reads the guest state blob of an ImportSecure whole (it is small), and checks that the VM metadata blob can be read. */
export async function importGuestState(
  openSource: ImportReader | undefined,
  secure: { securityDataUri: string; securityMetadataUri?: string },
): Promise<GuestStateView> {
  if (!openSource) throw noReader();
  const source = await openImportSource(openSource, secure.securityDataUri, "securityDataUri");
  if (secure.securityMetadataUri !== undefined) await openImportSource(openSource, secure.securityMetadataUri, "securityMetadataUri");
  return GuestStateView.of(await source.read(0, source.sizeBytes), `The blob in 'securityDataUri' (${secure.securityDataUri})`);
}

const copyChunkBytes = 4 << 20;
const mib = 1 << 20;

export async function importDisk(
  store: DiskStore,
  openSource: ImportReader | undefined,
  params: NewResource,
  creationData: CreationData & { sourceUri: string },
  diskSizeGB: number | undefined,
  settings: DiskSettings = {},
): Promise<DiskRecord> {
  if (!openSource) throw noReader();
  const source = await openImportSource(openSource, creationData.sourceUri, "sourceUri");
  const vhdSize = source.sizeBytes - vhdFooterSize;
  const invalid = (reason: string) =>
    new EmulatorHttpError(
      400,
      "InvalidVhd",
      `The blob ${creationData.sourceUri} of disk '${params.name}' is not a supported VHD: ${reason}.`,
    );
  if (vhdSize <= 0 || source.sizeBytes % 512 !== 0) throw invalid("its length is not a VHD's");
  const footer = parseVhdFooter(await source.read(vhdSize, vhdFooterSize));
  if ("invalid" in footer) throw invalid(footer.invalid);
  if (footer.currentSize !== vhdSize) {
    throw invalid(`the footer's size ${footer.currentSize} is not the blob's length less the footer (${vhdSize})`);
  }
  if (vhdSize % mib !== 0) throw invalid(`its size ${vhdSize} is not a whole number of MiB`);
  const sizeBytes = diskSizeGB === undefined ? vhdSize : diskSizeGB * gib;
  if (sizeBytes < vhdSize) {
    throw new EmulatorHttpError(
      400,
      "InvalidParameter",
      `'diskSizeGB' ${diskSizeGB} is smaller than the imported VHD (${vhdSize} bytes).`,
    );
  }
  const disk = store.createDisk(params, sizeBytes, creationData, settings);
  try {
    for (const range of await source.pageRanges()) {
      const end = Math.min(range.end + 1, vhdSize);
      for (let offset = range.start; offset < end; offset += copyChunkBytes) {
        const length = Math.min(copyChunkBytes, end - offset);
        store.write(disk.id, offset, await source.read(offset, length));
      }
    }
  } catch (error) {
    store.deleteDisk(disk);
    throw error;
  }
  return disk;
}

async function openImportSource(openSource: ImportReader, uri: string, field: string): Promise<ImportSource> {
  try {
    return await openSource(uri);
  } catch (error) {
    if (error instanceof EmulatorHttpError) throw error;
    throw new EmulatorHttpError(400, "InvalidParameter", `The blob in '${field}' could not be read.`);
  }
}

function noReader(): EmulatorHttpError {
  return new EmulatorHttpError(400, "InvalidParameter", "This emulator was started without a blob reader for Import.");
}
