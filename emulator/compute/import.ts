/**
 * Disk creation with `createOption: "Import"`: the source blob must be a fixed VHD (its last 512 bytes a valid
 * footer whose size matches the blob) of a whole number of MiB; the disk gets the blob's written pages.
 * The code InvalidVhd is the service's (its "not a supported VHD" error); answering it synchronously as a 400,
 * and copying before the 202, are the emulator's choices.
 */
import { EmulatorHttpError, type ImportSource } from "../disks/api";
import { gib } from "../disks/limits";
import type { CreationData, DiskRecord, DiskStore, NewResource } from "../disks/store";
import { parseVhdFooter, vhdFooterSize } from "../disks/vhd";

const copyChunkBytes = 4 << 20;
const mib = 1 << 20;

export async function importDisk(
  store: DiskStore,
  openSource: ((sourceUri: string) => Promise<ImportSource>) | undefined,
  params: NewResource,
  creationData: CreationData & { sourceUri: string },
  diskSizeGB: number | undefined,
): Promise<DiskRecord> {
  if (!openSource) {
    throw new EmulatorHttpError(400, "InvalidParameter", "This emulator was started without a blob reader for Import.");
  }
  const source = await openImportSource(openSource, creationData.sourceUri);
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
  const disk = store.createDisk(params, sizeBytes, creationData);
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

async function openImportSource(
  openSource: (sourceUri: string) => Promise<ImportSource>,
  sourceUri: string,
): Promise<ImportSource> {
  try {
    return await openSource(sourceUri);
  } catch (error) {
    if (error instanceof EmulatorHttpError) throw error;
    throw new EmulatorHttpError(400, "InvalidParameter", `The blob in 'sourceUri' could not be read.`);
  }
}
