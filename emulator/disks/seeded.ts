/**
 * Reproducible disk content: every 512-byte page is a slice of a fixed random pattern chosen by a hash of
 * (seed, page index), stamped with the page index and the seed. A page copied to the wrong offset, or from the
 * wrong write, therefore never matches what `fillSeeded` expects there.
 */

export const pageSize = 512;

const patternBytes = 1 << 20;
const pattern = makePattern(patternBytes + pageSize);

function makePattern(length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let x = 0x9e3779b9;
  for (let i = 0; i < length; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out.writeUInt32LE(x >>> 0, i);
  }
  return out;
}

function mix(seed: number, page: number): number {
  let h = Math.imul(seed ^ 0x85ebca6b, 0xcc9e2d51) ^ (page >>> 0);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) ^ Math.floor(page / 0x100000000);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Writes the seeded page with absolute index `page` into `target` at `at` (512 bytes). */
function writePage(target: Buffer, at: number, page: number, seed: number): void {
  const from = (mix(seed, page) & (patternBytes / 8 - 1)) * 8;
  // Uint8Array.set: Buffer.copy costs ~1 µs per call, ten times more than this for 512 bytes.
  target.set(pattern.subarray(from, from + pageSize), at);
  stamp(target, at, page >>> 0);
  stamp(target, at + 4, Math.floor(page / 0x100000000));
  stamp(target, at + 8, seed);
}

/** Little-endian uint32; plain byte stores are several times faster than writeUInt32LE here. */
function stamp(target: Buffer, at: number, value: number): void {
  target[at] = value;
  target[at + 1] = value >>> 8;
  target[at + 2] = value >>> 16;
  target[at + 3] = value >>> 24;
}

/**
 * Fills target[at, at + length) with the seeded content of absolute disk bytes [offset, offset + length).
 * Offsets need not be page-aligned: partial pages are generated into a scratch page and sliced.
 */
export function fillSeeded(target: Buffer, at: number, offset: number, length: number, seed: number): void {
  let pos = offset;
  const end = offset + length;
  let scratch: Buffer | undefined;
  while (pos < end) {
    const page = Math.floor(pos / pageSize);
    const pageStart = page * pageSize;
    const into = at + (pos - offset);
    if (pos === pageStart && end - pos >= pageSize) {
      writePage(target, into, page, seed);
      pos += pageSize;
      continue;
    }
    scratch ??= Buffer.allocUnsafe(pageSize);
    writePage(scratch, 0, page, seed);
    const take = Math.min(end, pageStart + pageSize) - pos;
    scratch.copy(target, into, pos - pageStart, pos - pageStart + take);
    pos += take;
  }
}

/** The seeded content of [offset, offset + length) as a new buffer; what tests compare copies against. */
export function seededBytes(offset: number, length: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  fillSeeded(out, 0, offset, length, seed);
  return out;
}
