import { DeviceError } from './device.js';
import type { Storage } from './slice.js';

/**
 * A device in memory: what tests run conversions on without files (and what an in-process crash
 * state is made of). Reads and writes outside it are refused, as a real device's would be.
 */
export class MemoryStorage implements Storage {
  constructor(readonly bytes: Uint8Array, readonly label = 'memory device') {}

  get size(): number {
    return this.bytes.length;
  }

  readInto(target: Uint8Array, position: number): void {
    if (position < 0 || position + target.length > this.bytes.length) throw new DeviceError(`${this.label}: read of ${target.length} bytes at ${position} is past the end (${this.bytes.length} bytes)`);
    target.set(this.bytes.subarray(position, position + target.length));
  }

  writeAt(data: Uint8Array, position: number): void {
    if (position < 0 || position + data.length > this.bytes.length) throw new DeviceError(`${this.label}: write of ${data.length} bytes at ${position} is past the end (${this.bytes.length} bytes)`);
    this.bytes.set(data, position);
  }

  flush(): void {}
}
