import type { ByteSource } from '@fsconv/base';
import { DeviceError } from './device.js';

/** What a filesystem engine reads and writes through: positional, synchronous, with flushes. */
export interface Storage extends ByteSource {
  writeAt(data: Uint8Array, position: number): void;
  flush(): void;
}

/**
 * A byte range of a device (a partition of a disk image or disk) seen as a device of its own:
 * positions are relative to its start, and nothing outside the range can be read or written
 * through it, so a conversion inside a partition touches only the partition.
 */
export class StorageSlice implements Storage {
  constructor(
    private readonly whole: Storage,
    /** Byte offset of the range on the whole device. */
    readonly offset: number,
    readonly size: number,
    /** For messages: e.g. "disk.img partition 1". */
    readonly label: string,
  ) {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(size) || offset < 0 || size < 0 || offset + size > whole.size) {
      throw new DeviceError(`${label}: bytes ${offset}..${offset + size} are not inside the device (${whole.size} bytes)`);
    }
  }

  private check(position: number, length: number, what: string): void {
    if (position < 0 || position + length > this.size) {
      throw new DeviceError(`${this.label}: ${what} of ${length} bytes at ${position} is outside it (${this.size} bytes)`);
    }
  }

  readInto(target: Uint8Array, position: number): void {
    this.check(position, target.length, 'read');
    this.whole.readInto(target, this.offset + position);
  }

  writeAt(data: Uint8Array, position: number): void {
    this.check(position, data.length, 'write');
    this.whole.writeAt(data, this.offset + position);
  }

  flush(): void {
    this.whole.flush();
  }
}
