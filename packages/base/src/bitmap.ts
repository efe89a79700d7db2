/** A fixed-size set of small integers as bits (bit i = byte i>>3, mask 1<<(i&7), as ext2 stores its bitmaps). */
/**
 * The byte holding bit i. Bit numbers pass 2^32 on large volumes (a 17 TiB ext4 has 4.5 billion
 * blocks), where `i >>> 3` would wrap; the shift stays for the common case, being cheaper.
 * (`i & 7` is right for any i below 2^53: 2^32 is a multiple of 8.)
 */
const byteOf = (i: number): number => (i < 0x100000000 ? i >>> 3 : Math.floor(i / 8));

export class Bitmap {
  readonly bytes: Uint8Array;
  constructor(readonly length: number) {
    this.bytes = new Uint8Array(Math.ceil(length / 8));
  }
  get(i: number): boolean {
    return ((this.bytes[byteOf(i)]! >>> (i & 7)) & 1) === 1;
  }
  set(i: number): void {
    this.bytes[byteOf(i)]! |= 1 << (i & 7);
  }
  clear(i: number): void {
    this.bytes[byteOf(i)]! &= ~(1 << (i & 7));
  }
  /** Sets bit i and returns whether it was already set. */
  testAndSet(i: number): boolean {
    const byte = this.bytes[byteOf(i)]!;
    const mask = 1 << (i & 7);
    this.bytes[byteOf(i)] = byte | mask;
    return (byte & mask) !== 0;
  }
}

/** Whether bit i of an on-disk bitmap block is set. */
export const bitIsSet = (bytes: Uint8Array, i: number): boolean => ((bytes[byteOf(i)]! >>> (i & 7)) & 1) === 1;

/** Bytes of all-ones to compare runs of set bits against natively (memcmp rather than a byte loop). */
const ONES = Buffer.alloc(64 * 1024, 0xff);

/** Sets bits [from, to) of `bytes`: whole bytes at once (a group's padding is most of a bitmap block). */
export function setBitRange(bytes: Uint8Array, from: number, to: number): void {
  let i = from;
  for (; i < to && (i & 7) !== 0; i++) bytes[byteOf(i)]! |= 1 << (i & 7);
  const wholeEnd = to - (to & 7);
  if (i < wholeEnd) {
    bytes.fill(0xff, byteOf(i), byteOf(wholeEnd));
    i = wholeEnd;
  }
  for (; i < to; i++) bytes[byteOf(i)]! |= 1 << (i & 7);
}

/** Whether every bit in [from, to) of `bytes` is set. */
export function allBitsSet(bytes: Uint8Array, from: number, to: number): boolean {
  let i = from;
  for (; i < to && (i & 7) !== 0; i++) if (!bitIsSet(bytes, i)) return false;
  const wholeEnd = to - (to & 7);
  for (let at = byteOf(i), end = i < wholeEnd ? byteOf(wholeEnd) : at; at < end; at += ONES.length) {
    const n = Math.min(ONES.length, end - at);
    if (Buffer.compare(bytes.subarray(at, at + n), ONES.subarray(0, n)) !== 0) return false;
  }
  for (i = Math.max(i, wholeEnd); i < to; i++) if (!bitIsSet(bytes, i)) return false;
  return true;
}

/** How many of the first `bytes` bytes' bits are set, a 32-bit word at a time where aligned. */
export function countSetBits(bits: Uint8Array, bytes: number): number {
  let count = 0;
  let i = 0;
  if ((bits.byteOffset & 3) === 0) {
    const words = new Uint32Array(bits.buffer, bits.byteOffset, bytes >>> 2);
    for (let w = 0; w < words.length; w++) {
      let v = words[w]!;
      if (v === 0) continue;
      v -= (v >>> 1) & 0x55555555;
      v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
      count += Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
    }
    i = words.length * 4;
  }
  for (; i < bytes; i++) {
    let v = bits[i]!;
    while (v !== 0) {
      v &= v - 1;
      count++;
    }
  }
  return count;
}
