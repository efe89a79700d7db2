/** A fixed-size set of small integers as bits (bit i = byte i>>3, mask 1<<(i&7), as ext2 stores its bitmaps). */
export class Bitmap {
  readonly bytes: Uint8Array;
  constructor(readonly length: number) {
    this.bytes = new Uint8Array(Math.ceil(length / 8));
  }
  get(i: number): boolean {
    return ((this.bytes[i >>> 3]! >>> (i & 7)) & 1) === 1;
  }
  set(i: number): void {
    this.bytes[i >>> 3]! |= 1 << (i & 7);
  }
  clear(i: number): void {
    this.bytes[i >>> 3]! &= ~(1 << (i & 7));
  }
  /** Sets bit i and returns whether it was already set. */
  testAndSet(i: number): boolean {
    const byte = this.bytes[i >>> 3]!;
    const mask = 1 << (i & 7);
    this.bytes[i >>> 3] = byte | mask;
    return (byte & mask) !== 0;
  }
}

/** Whether bit i of an on-disk bitmap block is set. */
export const bitIsSet = (bytes: Uint8Array, i: number): boolean => ((bytes[i >>> 3]! >>> (i & 7)) & 1) === 1;
