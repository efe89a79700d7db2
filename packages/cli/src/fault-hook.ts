import type { Storage } from '@fsconv/device';

/**
 * The fault hook of the crash tests, installed under the devices of a conversion only when asked:
 * FSCONV_CRASH_AFTER_WRITES=N kills the process (SIGKILL: nothing runs after it) right after the
 * N-th device write, counted over every device the hook wraps (a partition and its disk). With
 * FSCONV_CRASH_MODE=powerloss the writes since each device's last flush are lost, as in a power
 * cut: they are held in memory until the flush and dropped at the crash (kill, the default, keeps
 * them: the kernel has them). The production device (packages/device) knows nothing of it.
 */
export class FaultHook {
  private writes = 0;

  private constructor(private readonly crashAfter: number, private readonly powerLoss: boolean) {}

  /** The hook the environment asks for, or null (the usual case: no wrapper at all). */
  static fromEnv(env: NodeJS.ProcessEnv = process.env): FaultHook | null {
    const n = env['FSCONV_CRASH_AFTER_WRITES'];
    const crashAfter = n !== undefined && /^\d+$/.test(n) ? Number(n) : 0;
    if (crashAfter === 0) return null;
    const mode = env['FSCONV_CRASH_MODE'] ?? 'kill';
    if (mode !== 'kill' && mode !== 'powerloss') throw new Error(`FSCONV_CRASH_MODE must be kill or powerloss, not '${mode}'`);
    return new FaultHook(crashAfter, mode === 'powerloss');
  }

  /** `device`, its writes counted towards the crash. */
  wrap(device: Storage): Storage {
    const hook = this;
    let pending: Array<{ data: Uint8Array; position: number }> = [];
    return {
      get size() {
        return device.size;
      },
      readInto(target: Uint8Array, position: number): void {
        device.readInto(target, position);
        // Our own writes not yet flushed (power-loss mode only) are what a read sees.
        for (const w of pending) {
          const from = Math.max(position, w.position);
          const to = Math.min(position + target.length, w.position + w.data.length);
          if (from < to) target.set(w.data.subarray(from - w.position, to - w.position), from - position);
        }
      },
      writeAt(data: Uint8Array, position: number): void {
        hook.writes++;
        if (hook.powerLoss) pending.push({ data: data.slice(), position });
        else device.writeAt(data, position);
        if (hook.writes >= hook.crashAfter) process.kill(process.pid, 'SIGKILL');
      },
      flush(): void {
        for (const w of pending) device.writeAt(w.data, w.position);
        pending = [];
        device.flush();
      },
    };
  }
}

/** `device` under the hook the environment asks for, or `device` itself. */
export const withFaultHook = (hook: FaultHook | null, device: Storage): Storage => (hook === null ? device : hook.wrap(device));
