import type { Storage } from "@fsconv/device";

/** What the in-place engine writes through: positional reads and writes, and flushes. */
export type WriteTarget = Storage;

/**
 * Counts the device writes of a conversion (its report's `deviceWrites`). A sibling (the disk whose
 * table holds the partition) shares the count: the N-th write is the N-th of the conversion,
 * whichever device it goes to. Nothing else: the fault hook the crash tests use is a wrapper of its
 * own that the CLI puts underneath only when asked (packages/cli/src/fault-hook.ts).
 */
export class CountingDevice implements WriteTarget {
  private readonly count: { writes: number };

  constructor(private readonly device: Storage, shared?: { writes: number }) {
    this.count = shared ?? { writes: 0 };
  }

  /** Device writes so far, on this device and its siblings. */
  get writes(): number {
    return this.count.writes;
  }

  sibling(device: Storage): CountingDevice {
    return new CountingDevice(device, this.count);
  }

  get size(): number {
    return this.device.size;
  }

  readInto(target: Uint8Array, position: number): void {
    this.device.readInto(target, position);
  }

  writeAt(data: Uint8Array, position: number): void {
    this.count.writes++;
    this.device.writeAt(data, position);
  }

  flush(): void {
    this.device.flush();
  }
}
