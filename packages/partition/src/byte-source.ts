import type { ByteSource } from '@fsconv/base';
import { PartitionTableError } from './errors.js';

/** Where the codecs get their bytes: a disk (an fsconv Device, a slice of one, bytes in memory). */
export type PartitionSource = ByteSource;

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
