/**
 * The locks Device.open takes for writing (lock.ts), against real holders: python3's fcntl (an OFD
 * write lock as QEMU takes, a classic POSIX lock) and util-linux flock(1); and what they keep out
 * while the device is open: flock -n and an OFD lock attempt fail until it is closed. A loop device
 * (needs root) gets a flock too.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Device, DeviceError } from '../src/device.js';
import { openExclusive } from '../src/exclusive-open.js';

const PATH = `${process.env['PATH'] ?? ''}:/usr/sbin:/sbin`;

function run(cmd: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 20_000, env: { ...process.env, PATH } });
  return { status: r.error ? -1 : r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? (r.error?.message ?? '') };
}

const has = (cmd: string): boolean => run('sh', ['-c', `command -v ${cmd}`]).status === 0;

/** Python that tries (or takes and keeps) a lock on argv[1]; prints 'locked' or 'held'. */
function pythonLock(kind: 'ofd' | 'posix', keep: boolean): string {
  return [
    'import fcntl, os, struct, sys, time',
    'fd = os.open(sys.argv[1], os.O_RDWR)',
    "arg = struct.pack('=hh4xqqi4x', fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)",
    'try:',
    `    fcntl.fcntl(fd, ${kind === 'ofd' ? "getattr(fcntl, 'F_OFD_SETLK', 37)" : 'fcntl.F_SETLK'}, arg)`,
    'except OSError:',
    "    print('held', flush=True); sys.exit(1)",
    "print('locked', flush=True)",
    ...(keep ? ['time.sleep(120)'] : []),
  ].join('\n');
}

describe.skipIf(process.platform !== 'linux' || !has('python3') || !has('flock'))('locks taken for writing', () => {
  let dir = '';
  const holders: ChildProcess[] = [];
  const open: Device[] = [];

  beforeAll(() => {
    dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'fsconv-lock-')));
  });
  afterEach(() => {
    for (const d of open.splice(0)) d.close();
    for (const h of holders.splice(0)) {
      try {
        process.kill(-h.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  function image(name: string): string {
    const p = path.join(dir, name);
    fs.writeFileSync(p, Buffer.alloc(64 * 1024, 1));
    return p;
  }

  function openDevice(p: string, options: Parameters<typeof Device.open>[1]): Device {
    const d = Device.open(p, options);
    open.push(d);
    return d;
  }

  /** Starts a holder; resolves once it printed 'locked'. */
  function hold(cmd: string, args: string[]): Promise<ChildProcess> {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, PATH } });
    holders.push(child);
    return new Promise((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`${cmd}: no lock within 10 s`)), 10_000);
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('locked')) {
          clearTimeout(timer);
          resolve(child);
        }
      });
      child.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${cmd} exited ${code} before locking: ${out}`));
      });
    });
  }

  const flockFree = (p: string): boolean => run('flock', ['-n', p, 'true']).status === 0;
  const ofdFree = (p: string): boolean => run('python3', ['-c', pythonLock('ofd', false), p]).status === 0;
  const posixFree = (p: string): boolean => run('python3', ['-c', pythonLock('posix', false), p]).status === 0;

  it('holds a flock and an OFD write lock while open for writing, and drops them on close', () => {
    const img = image('held.img');
    const d = openDevice(img, { write: true, exclusive: true });
    expect(flockFree(img)).toBe(false);
    expect(ofdFree(img)).toBe(false);
    expect(posixFree(img)).toBe(false); // OFD and POSIX locks conflict
    // Another opener in this very process is refused too (locks belong to the open file, not the process).
    expect(() => Device.open(img, { write: true, exclusive: true })).toThrow(DeviceError);
    d.close();
    open.splice(0);
    expect(flockFree(img)).toBe(true);
    expect(ofdFree(img)).toBe(true);
  });

  it('takes no lock to read, nor to write without exclusive', () => {
    const img = image('free.img');
    openDevice(img, {});
    openDevice(img, { write: true });
    expect(flockFree(img)).toBe(true);
    expect(ofdFree(img)).toBe(true);
  });

  it('refuses in one line when another program holds an OFD lock, a POSIX lock or a flock; reading still works', async () => {
    const ofd = image('ofd.img');
    await hold('python3', ['-c', pythonLock('ofd', true), ofd]);
    expect(() => Device.open(ofd, { write: true, exclusive: true })).toThrow(
      new DeviceError(`${ofd} is locked by another program (a write lock; another fsconv, or a virtual machine using it): close it first`),
    );
    openDevice(ofd, {}).readInto(new Uint8Array(16), 0);

    const posix = image('posix.img');
    const p = await hold('python3', ['-c', pythonLock('posix', true), posix]);
    expect(() => Device.open(posix, { write: true, exclusive: true })).toThrow(
      `${posix} is locked by another program (pid ${p.pid} (python3) holds a write lock; another fsconv, or a virtual machine using it): close it first`,
    );

    const fl = image('flock.img');
    const f = await hold('flock', [fl, 'sh', '-c', 'echo locked; exec sleep 120']);
    expect(() => Device.open(fl, { write: true, exclusive: true })).toThrow(
      `${fl} is locked by another program (pid ${f.pid} (flock) holds a flock; another fsconv, or a virtual machine using it): close it first`,
    );
    // openExclusive (the fd form) refuses the same way.
    expect(() => openExclusive(fl)).toThrow(/is locked by another program/);
    // The failed opens left nothing open that would hold a lock.
    for (const h of holders.splice(0)) process.kill(-h.pid!, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
    openDevice(fl, { write: true, exclusive: true });
  });

  it.skipIf(process.getuid?.() !== 0 || !fs.existsSync('/dev/loop-control') || !has('losetup'))(
    'flocks a block device opened for writing, and refuses one another program flocks',
    async () => {
      const img = image('disk.img');
      const loop = run('losetup', ['-f', '--show', img]).stdout.trim();
      expect(loop).toMatch(/^\/dev\/loop\d+$/);
      try {
        const d = openDevice(loop, { write: true, exclusive: true });
        expect(d.isBlockDevice).toBe(true);
        expect(flockFree(loop)).toBe(false);
        d.close();
        open.splice(0);
        expect(flockFree(loop)).toBe(true);

        await hold('flock', [loop, 'sh', '-c', 'echo locked; exec sleep 120']);
        const started = Date.now();
        expect(() => Device.open(loop, { write: true, exclusive: true })).toThrow(
          /^\/dev\/loop\d+ is locked by another program \(pid \d+ \(flock\); a partitioning or formatting tool\?\): close it first$/,
        );
        // A block device's lock is waited for a moment (udev probes a new device under a shared flock).
        expect(Date.now() - started).toBeGreaterThanOrEqual(2500);
      } finally {
        for (const h of holders.splice(0)) process.kill(-h.pid!, 'SIGKILL');
        for (const d of open.splice(0)) d.close();
        run('losetup', ['-d', loop]);
      }
    },
  );
});
