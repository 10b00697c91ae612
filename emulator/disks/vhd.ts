/**
 * The 512-byte footer of a fixed VHD (Microsoft "Virtual Hard Disk Image Format Specification"): the managed
 * disk export format and the format Import expects at the end of its source blob.
 */

export const vhdFooterSize = 512;
const cookie = "conectix";
const fixedDiskType = 2;
const vhdEpochMs = Date.UTC(2000, 0, 1);

/** What a footer says about its disk. */
export interface VhdFooterInfo {
  currentSize: number;
  diskType: number;
  uniqueId: string;
}

/** Builds the footer of a fixed VHD of `diskSizeBytes`; `uniqueId` is a GUID. */
export function buildFixedVhdFooter(diskSizeBytes: number, uniqueId: string, created: Date): Buffer {
  const f = Buffer.alloc(vhdFooterSize);
  f.write(cookie, 0, "ascii");
  f.writeUInt32BE(2, 8); // features: reserved bit always set
  f.writeUInt32BE(0x00010000, 12); // format version 1.0
  f.writeBigUInt64BE(0xffffffffffffffffn, 16); // data offset: none for fixed disks
  f.writeUInt32BE(Math.max(0, Math.floor((created.getTime() - vhdEpochMs) / 1000)) >>> 0, 24);
  f.write("dde ", 28, "ascii"); // creator application
  f.writeUInt32BE(0x000a0000, 32);
  f.write("Wi2k", 36, "ascii");
  f.writeBigUInt64BE(BigInt(diskSizeBytes), 40);
  f.writeBigUInt64BE(BigInt(diskSizeBytes), 48);
  const { cylinders, heads, sectorsPerTrack } = chsGeometry(diskSizeBytes);
  f.writeUInt16BE(cylinders, 56);
  f.writeUInt8(heads, 58);
  f.writeUInt8(sectorsPerTrack, 59);
  f.writeUInt32BE(fixedDiskType, 60);
  Buffer.from(uniqueId.replace(/-/g, ""), "hex").copy(f, 68, 0, 16);
  f.writeUInt32BE(checksum(f), 64);
  return f;
}

/** Parses a fixed-VHD footer; returns a reason instead when it is not one. */
export function parseVhdFooter(footer: Buffer): VhdFooterInfo | { invalid: string } {
  if (footer.length !== vhdFooterSize) return { invalid: "the source is smaller than a VHD footer" };
  if (footer.toString("ascii", 0, 8) !== cookie) {
    return { invalid: `the cookie value in the VHD footer is not '${cookie}'` };
  }
  if (footer.readUInt32BE(64) !== checksum(footer)) return { invalid: "the VHD footer checksum is wrong" };
  const diskType = footer.readUInt32BE(60);
  if (diskType !== fixedDiskType) return { invalid: `the VHD is not a fixed VHD (disk type ${diskType})` };
  return {
    currentSize: Number(footer.readBigUInt64BE(48)),
    diskType,
    uniqueId: footer.subarray(68, 84).toString("hex"),
  };
}

function checksum(footer: Buffer): number {
  let sum = 0;
  for (let i = 0; i < vhdFooterSize; i++) if (i < 64 || i >= 68) sum += footer[i];
  return ~sum >>> 0;
}

function chsGeometry(sizeBytes: number): { cylinders: number; heads: number; sectorsPerTrack: number } {
  const totalSectors = Math.min(Math.floor(sizeBytes / 512), 65535 * 16 * 255);
  let sectorsPerTrack: number;
  let heads: number;
  let cylinderTimesHeads: number;
  if (totalSectors >= 65535 * 16 * 63) {
    sectorsPerTrack = 255;
    heads = 16;
    cylinderTimesHeads = Math.floor(totalSectors / sectorsPerTrack);
  } else {
    sectorsPerTrack = 17;
    cylinderTimesHeads = Math.floor(totalSectors / sectorsPerTrack);
    heads = Math.max(4, Math.floor((cylinderTimesHeads + 1023) / 1024));
    if (cylinderTimesHeads >= heads * 1024 || heads > 16) {
      sectorsPerTrack = 31;
      heads = 16;
      cylinderTimesHeads = Math.floor(totalSectors / sectorsPerTrack);
    }
    if (cylinderTimesHeads >= heads * 1024) {
      sectorsPerTrack = 63;
      heads = 16;
      cylinderTimesHeads = Math.floor(totalSectors / sectorsPerTrack);
    }
  }
  return { cylinders: Math.floor(cylinderTimesHeads / heads), heads, sectorsPerTrack };
}
