/**
 * CRC64 as Azure Storage computes it for `x-ms-content-crc64`: the reflected polynomial 0x9A6C9329AC4BC9B5, all
 * bits set at the start and inverted at the end (the parameters catalogued as CRC-64/NVME), sent as the 8 bytes
 * of the value in little-endian order, base64-encoded. `@azure/storage-blob` exposes no CRC64 of its own.
 */

const polynomial = 0x9a6c9329ac4bc9b5n;

// The 64-bit register is kept as two unsigned 32-bit halves: BigInt per byte would make a 4 MiB range crawl.
const tableLow = new Uint32Array(256);
const tableHigh = new Uint32Array(256);
for (let i = 0; i < 256; i++) {
  let c = BigInt(i);
  for (let bit = 0; bit < 8; bit++) c = c & 1n ? (c >> 1n) ^ polynomial : c >> 1n;
  tableLow[i] = Number(c & 0xffffffffn);
  tableHigh[i] = Number(c >> 32n);
}

/** The CRC64 of `data` as an unsigned 64-bit value. */
export function storageCrc64(data: Uint8Array): bigint {
  let low = 0xffffffff;
  let high = 0xffffffff;
  for (const byte of data) {
    const index = (low ^ byte) & 0xff;
    low = (((low >>> 8) | (high << 24)) ^ tableLow[index]) >>> 0;
    high = ((high >>> 8) ^ tableHigh[index]) >>> 0;
  }
  return (BigInt((high ^ 0xffffffff) >>> 0) << 32n) | BigInt((low ^ 0xffffffff) >>> 0);
}

/** The `x-ms-content-crc64` header value of `data`: the CRC's 8 bytes, least significant first, in base64. */
export function storageCrc64Header(data: Uint8Array): string {
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64LE(storageCrc64(data));
  return bytes.toString("base64");
}
