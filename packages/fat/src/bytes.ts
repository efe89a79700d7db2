/** Little-endian field access for FAT structures (all fields are little-endian). */
export const le16 = (b: Uint8Array, o: number): number => (b[o] ?? 0) | ((b[o + 1] ?? 0) << 8);
export const le32 = (b: Uint8Array, o: number): number => (le16(b, o) | (le16(b, o + 2) << 16)) >>> 0;
export const put16 = (b: Uint8Array, o: number, v: number): void => {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
};
export const put32 = (b: Uint8Array, o: number, v: number): void => {
  put16(b, o, v & 0xffff);
  put16(b, o + 2, (v >>> 16) & 0xffff);
};
