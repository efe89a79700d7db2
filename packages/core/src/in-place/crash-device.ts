import type { Storage } from '@fsconv/device';

/** What the in-place engine writes through: positional reads and writes, and flushes. */
export type WriteTarget = Storage;

/**
 * The device as the in-place engine sees it, with the fault hook the crash tests use:
 * FSCONV_CRASH_AFTER_WRITES=N kills the process (SIGKILL, nothing runs after it) right after the
 * N-th write. With FSCONV_CRASH_MODE=powerloss the writes since the last flush are lost, as in a
 * power cut: they are held in memory until a flush and dropped at the crash. (kill, the default,
 * keeps them: the kernel has them.)
 */
/** The write count and crash point the devices of one conversion share (a partition and its disk's table). */
interface WriteCount {
  writes: number;
  readonly crashAfter: number;
  readonly powerLoss: boolean;
}

export class CountingDevice implements WriteTarget {
  private readonly count: WriteCount;
  private pending: Array<{ data: Uint8Array; position: number }> = [];

  constructor(private readonly device: Storage, env: NodeJS.ProcessEnv | WriteCount = process.env) {
    if ('crashAfter' in env && typeof env.crashAfter === 'number') {
      this.count = env as WriteCount;
      return;
    }
    const vars = env as NodeJS.ProcessEnv;
    const n = vars['FSCONV_CRASH_AFTER_WRITES'];
    const crashAfter = n !== undefined && /^\d+$/.test(n) ? Number(n) : 0;
    const mode = vars['FSCONV_CRASH_MODE'] ?? 'kill';
    if (mode !== 'kill' && mode !== 'powerloss') throw new Error(`FSCONV_CRASH_MODE must be kill or powerloss, not '${mode}'`);
    this.count = { writes: 0, crashAfter, powerLoss: crashAfter > 0 && mode === 'powerloss' };
  }

  /** Device writes so far, on this device and its siblings. */
  get writes(): number {
    return this.count.writes;
  }

  /**
   * Another device of the same conversion (the disk whose table holds the partition), counted
   * with this one: the N-th write is the N-th of the conversion, whichever device it goes to.
   */
  sibling(device: Storage): CountingDevice {
    return new CountingDevice(device, this.count);
  }

  get size(): number {
    return this.device.size;
  }

  readInto(target: Uint8Array, position: number): void {
    this.device.readInto(target, position);
    // Read our own pending writes (power-loss simulation only).
    for (const w of this.pending) {
      const from = Math.max(position, w.position);
      const to = Math.min(position + target.length, w.position + w.data.length);
      if (from < to) target.set(w.data.subarray(from - w.position, to - w.position), from - position);
    }
  }

  writeAt(data: Uint8Array, position: number): void {
    const c = this.count;
    c.writes++;
    if (c.powerLoss) this.pending.push({ data: data.slice(), position });
    else this.device.writeAt(data, position);
    if (c.crashAfter > 0 && c.writes >= c.crashAfter) {
      // The writes not yet flushed never reach the disk.
      this.pending = [];
      process.kill(process.pid, 'SIGKILL');
    }
  }

  flush(): void {
    for (const w of this.pending) this.device.writeAt(w.data, w.position);
    this.pending = [];
    this.device.flush();
  }
}
