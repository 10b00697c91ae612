import type { SourceReader } from "./api";
import type { ExtentMap } from "./extents";
import { fillSeeded } from "./seeded";
import { vhdFooterSize } from "./vhd";

/**
 * A disk's content as the fixed VHD that the managed-disk data endpoint serves: `diskSizeBytes` of data, then
 * the footer. Never-written and trimmed pages read as zeros.
 */
export class VhdView implements SourceReader {
  constructor(
    readonly diskSizeBytes: number,
    readonly data: ExtentMap,
    readonly footer: Buffer,
  ) {}

  get sizeBytes(): number {
    return this.diskSizeBytes + vhdFooterSize;
  }

  read(offset: number, length: number): Buffer {
    const out = Buffer.alloc(length);
    const end = offset + length;
    const dataEnd = Math.min(end, this.diskSizeBytes);
    for (const e of this.data.overlapping(offset, dataEnd)) {
      const at = e.start - offset;
      const c = e.content;
      if (c.kind === "seeded") fillSeeded(out, at, e.start, e.end - e.start, c.seed);
      else if (c.kind === "bytes") c.data.copy(out, at, e.start - c.origin, e.end - c.origin);
    }
    if (end > this.diskSizeBytes) {
      const from = Math.max(offset, this.diskSizeBytes);
      this.footer.copy(out, from - offset, from - this.diskSizeBytes, end - this.diskSizeBytes);
    }
    return out;
  }
}
