import * as zlib from 'node:zlib';

const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array) => number }).crc32;

const TABLE: Uint32Array = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/**
 * CRC-32 of `bytes[start, end)`: IEEE 802.3, reflected, polynomial 0xEDB88320, init and final xor
 * 0xFFFFFFFF: the one zlib, gzip, PNG and UEFI (GPT) use, and the rights file and the journal.
 */
export function crc32(bytes: Uint8Array, start = 0, end = bytes.length): number {
  // zlib's (Node ≥ 20.15) computes the same CRC many times faster; the table is the fallback.
  if (nativeCrc32 !== undefined) return nativeCrc32(bytes.subarray(start, end));
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
