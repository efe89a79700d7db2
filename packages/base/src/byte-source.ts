import { SourceRangeError } from './errors.js';

/**
 * Where readers get their bytes: an image file, a block device, or memory in tests. Positional and
 * synchronous: a reader's loops stay plain loops (no promise per block), and engines wrap real
 * devices with large buffered reads.
 */
export interface ByteSource {
  /** Total size in bytes. */
  readonly size: number;
  /** Fill `target` with the bytes at `position`; throws when they are not all there. */
  readInto(target: Uint8Array, position: number): void;
}

/** Reads exactly `length` bytes at `position`, refusing reads past the end of the source. */
export function readBytes(source: ByteSource, position: number, length: number): Uint8Array {
  if (!Number.isSafeInteger(position) || !Number.isSafeInteger(length) || position < 0 || length < 0 || position + length > source.size) {
    throw new SourceRangeError(`read of ${length} bytes at offset ${position} is past the end of the device (${source.size} bytes)`);
  }
  const out = new Uint8Array(length);
  source.readInto(out, position);
  return out;
}

/** A ByteSource over bytes in memory (tests, and small images already loaded). */
export class MemoryByteSource implements ByteSource {
  constructor(private readonly bytes: Uint8Array) {}
  get size(): number {
    return this.bytes.length;
  }
  readInto(target: Uint8Array, position: number): void {
    if (position < 0 || position + target.length > this.bytes.length) {
      throw new SourceRangeError(`read of ${target.length} bytes at offset ${position} is past the end (${this.bytes.length} bytes)`);
    }
    target.set(this.bytes.subarray(position, position + target.length));
  }
}
