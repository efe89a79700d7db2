/** Little-endian field access over a byte array (all ext2 fields are little-endian). */
export const u8 = (b: Uint8Array, o: number): number => b[o] ?? 0;
export const u16 = (b: Uint8Array, o: number): number => (b[o] ?? 0) | ((b[o + 1] ?? 0) << 8);
export const u32 = (b: Uint8Array, o: number): number =>
  ((b[o] ?? 0) | ((b[o + 1] ?? 0) << 8) | ((b[o + 2] ?? 0) << 16) | ((b[o + 3] ?? 0) << 24)) >>> 0;
export const s32 = (b: Uint8Array, o: number): number => u32(b, o) | 0;
