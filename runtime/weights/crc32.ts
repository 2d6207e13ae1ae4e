/**
 * CRC-32 (the zip/PNG polynomial 0xEDB88320, reflected), used to check that zip entries read
 * back intact. Node's native zlib.crc32 (Node >= 20.15) is several times faster than any
 * JavaScript loop, which matters for gigabyte checkpoints; older Node 20 releases get the
 * table-driven fallback.
 */
import * as zlib from 'node:zlib';

const native = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 of `bytes` in JavaScript, continuing from `crc` (the CRC of the bytes before). */
export function crc32Table(bytes: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/** CRC-32 of `bytes`, continuing from `crc` (0 at the start). */
export function crc32(bytes: Uint8Array, crc = 0): number {
  return native ? native(bytes, crc) >>> 0 : crc32Table(bytes, crc);
}
