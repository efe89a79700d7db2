import { PartitionTableError } from './errors.js';

/**
 * Where the codecs get their bytes: structurally the same as ext2fs-reader's ByteSource (so an
 * fsconv Device or a MemoryByteSource can be passed in as it is), defined here so that this package
 * depends on nothing. Positional and synchronous.
 */
export interface PartitionSource {
  /** Total size in bytes. */
  readonly size: number;
  /** Fill `target` with the bytes at `position`; throws when they are not all there. */
  readInto(target: Uint8Array, position: number): void;
}

/** Reads exactly `length` bytes at `position` (`what` names them in the error), refusing reads past the end. */
export function readExact(source: PartitionSource, position: number, length: number, what: string): Uint8Array {
  if (!Number.isSafeInteger(position) || !Number.isSafeInteger(length) || position < 0 || length < 0 || position + length > source.size) {
    throw new PartitionTableError(
      'io',
      `${what}: ${length} bytes at offset ${position} are past the end of the disk (${source.size} bytes)`,
    );
  }
  const out = new Uint8Array(length);
  source.readInto(out, position);
  return out;
}
