// Guards against losing data through the device itself, with real processes, loop devices, mounts
// and a small tmpfs:
// 1. locks: an image locked by another program (an OFD write lock as QEMU holds on a running VM's
//    image, a classic POSIX lock, flock(1)) is refused; a second conversion of an image being
//    converted is refused (held at its question, and both started at once, several times); read
//    commands take no lock;
// 2. loop devices are the files behind them: --output onto the file behind the source's loop device
//    (and the other way round, and two loop devices of one file) is refused;
// 3. a second loop device on an image mounted through a first one is refused, naming the mount;
// 4. --output is built in a temporary file beside it and renamed into place only when finished: a
//    full disk leaves nothing behind, an existing output needs --force (and survives a failed
//    build), a build killed halfway leaves no temporary file, a block device needs --force.
// Refusals are one line on stderr (exit 1) and leave the image byte-identical (sha256). Every
// mount, loop device and holder process is released in finally/afterAll, also on failure.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { canonicalListing } from './support/fat-acceptance.js';
import { validateFatStructure } from './support/fat-validate.js';
import { expectOneLineRefusal, fsconv, FSCONV_BIN, REPO_ROOT, sha256File } from './support/fsconv.js';
import { parseLsJsonLines, type LsEntry } from './support/ls-entry.js';
import { unmount } from './support/reference-view.js';
import { requireTool, run, runText, toolPath, tryRun } from './support/run.js';

const SAMPLE = join(REPO_ROOT, 'fixtures', 'sample.ext2');
const CONVERT = ['--from', 'ext2', '--to', 'vfat+rights'];

let work = '';
/** Undone in reverse order after each test (and again in afterAll): holder processes, mounts, loop devices. */
const cleanups: Array<() => void> = [];
const later = (f: () => void): void => {
  cleanups.push(f);
};

function runCleanups(): void {
  const errors: string[] = [];
  while (cleanups.length > 0) {
    try {
      cleanups.pop()!();
    } catch (e) {
      errors.push((e as Error).message);
    }
  }
  if (errors.length > 0) throw new Error(`cleanup failed: ${errors.join('; ')}`);
}

/** Mount points under `work`, deepest last (from /proc/self/mountinfo). */
function mountsUnderWork(): string[] {
  const out: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mp = line.split(' ')[4];
    if (mp !== undefined && (mp === work || mp.startsWith(`${work}/`))) out.push(mp.replace(/\\040/g, ' '));
  }
  return out;
}

/** Unmounts everything under `work` and detaches every loop device backed by a file under it. */
function sweep(): void {
  if (!work) return;
  for (const mp of mountsUnderWork().reverse()) if (tryRun('umount', [mp]).status !== 0) tryRun('umount', ['-l', mp]);
  for (const name of existsSync('/sys/block') ? readdirSync('/sys/block') : []) {
    if (!/^loop\d+$/.test(name)) continue;
    let backing = '';
    try {
      backing = readFileSync(`/sys/block/${name}/loop/backing_file`, 'utf8').trim().replace(/ \(deleted\)$/, '');
    } catch {
      continue;
    }
    if (backing.startsWith(`${work}/`)) tryRun('losetup', ['-d', `/dev/${name}`]);
  }
}

beforeAll(() => {
  work = realpathSync(mkdtempSync(join(tmpdir(), 'fsconv-safety-')));
});
afterEach(() => runCleanups());
afterAll(() => {
  try {
    runCleanups();
  } finally {
    sweep();
    // Never delete recursively through a mount that is still there.
    if (mountsUnderWork().length === 0) rmSync(work, { recursive: true, force: true });
  }
});

/** A copy of the bundled sample ext2 (2 MiB). */
function sample(name: string): string {
  const img = join(work, name);
  copyFileSync(SAMPLE, img);
  return img;
}

/** An ext2 image (1 KiB blocks) holding `dataMiB` of random bytes and a directory of small files. */
function ext2WithData(name: string, dataMiB: number, sizeMiB: number): string {
  const src = join(work, `${name}.tree`);
  mkdirSync(join(src, 'small'), { recursive: true });
  writeFileSync(join(src, 'data.bin'), randomBytes(dataMiB * 1024 * 1024));
  for (let i = 0; i < 200; i++) writeFileSync(join(src, 'small', `f${i}.txt`), `file ${i}\n`);
  const img = join(work, name);
  run('mke2fs', ['-q', '-t', 'ext2', '-b', '1024', '-d', src, '-F', img, `${sizeMiB}M`], { env: { LC_ALL: 'C' } });
  rmSync(src, { recursive: true, force: true });
  return img;
}

/** The image's entries as `fsconv ls --json` shows them, in an order-free form without ino/fatPath. */
async function listing(img: string): Promise<string[]> {
  const r = await fsconv(['ls', '--json', '--tz', 'UTC', img]);
  expect(r.status, r.stderr).toBe(0);
  const entries: LsEntry[] = parseLsJsonLines(r.stdout);
  expect(entries.length).toBeGreaterThan(0);
  return canonicalListing(entries);
}

/** Kills a holder and whatever it started (its process group: flock's command inherits the lock). */
function killGroup(child: ChildProcess): void {
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    /* gone already */
  }
}

/** Starts a process that prints `locked` once it holds its lock; resolves when it does. Killed (with its group) after the test. */
async function holder(cmd: string, args: string[]): Promise<ChildProcess> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PATH: toolPath() }, detached: true });
  later(() => killGroup(child));
  let out = '';
  let err = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${cmd} did not take its lock within 10 s: ${err}`)), 10_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString('utf8');
      if (out.includes('locked')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr!.on('data', (d: Buffer) => (err += d.toString('utf8')));
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${cmd} exited (${code}) before taking its lock: ${err}`));
    });
  });
  return child;
}

/** python3 holding a lock on `img` with fcntl: an OFD write lock over the whole file (as QEMU does) or a classic POSIX one. */
function pythonLock(img: string, kind: 'ofd' | 'posix'): Promise<ChildProcess> {
  const script = [
    'import fcntl, os, struct, sys, time',
    'fd = os.open(sys.argv[1], os.O_RDWR)',
    // struct flock on 64-bit Linux: short l_type, short l_whence, (pad) off_t l_start, off_t l_len, pid_t l_pid, (pad)
    "arg = struct.pack('=hh4xqqi4x', fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)",
    `fcntl.fcntl(fd, ${kind === 'ofd' ? "getattr(fcntl, 'F_OFD_SETLK', 37)" : 'fcntl.F_SETLK'}, arg)`,
    "print('locked', flush=True)",
    'time.sleep(120)',
  ].join('\n');
  return holder(requireTool('python3'), ['-c', script, img]);
}

// ------------------------------------------------------------------------------------------------

describe('locks against other programs and a second fsconv', () => {
  it('an OFD write lock (a virtual machine using the image) refuses the conversion; read commands still work', async () => {
    const img = sample('vm.img');
    const before = sha256File(img);
    await pythonLock(img, 'ofd');
    const line = expectOneLineRefusal(await fsconv([...CONVERT, img, '--yes']));
    expect(line).toBe(`fsconv: ${img} is locked by another program (a write lock; another fsconv, or a virtual machine using it): close it first`);
    expect(sha256File(img)).toBe(before);
    // Read-only opens take no lock.
    for (const args of [['info', img], ['ls', img], ['check', ...CONVERT, img]]) {
      const r = await fsconv(args);
      expect(r.status, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    }
    expect(sha256File(img)).toBe(before);
  });

  it('a classic POSIX lock refuses it too, naming the holder', async () => {
    const img = sample('posix.img');
    const before = sha256File(img);
    const child = await pythonLock(img, 'posix');
    const line = expectOneLineRefusal(await fsconv([...CONVERT, img, '--yes']));
    expect(line).toBe(
      `fsconv: ${img} is locked by another program (pid ${child.pid} (python3) holds a write lock; another fsconv, or a virtual machine using it): close it first`,
    );
    expect(sha256File(img)).toBe(before);
  });

  it('a flock (flock IMG sleep) refuses it, naming the holder', async () => {
    const img = sample('flock.img');
    const before = sha256File(img);
    const child = await holder(requireTool('flock'), [img, 'sh', '-c', 'echo locked; exec sleep 120']);
    const line = expectOneLineRefusal(await fsconv([...CONVERT, img, '--yes']));
    // flock(1) takes the lock and runs the command, which inherits it: the pid /proc/locks names is flock's.
    expect(line).toMatch(new RegExp(`^fsconv: ${img} is locked by another program \\(pid \\d+ \\((flock|sh|sleep)\\) holds a flock; another fsconv, or a virtual machine using it\\): close it first$`));
    expect(line).toContain(`pid ${child.pid} `);
    expect(sha256File(img)).toBe(before);
    // Once released, the same conversion goes through.
    const closed = new Promise((r) => child.once('close', r));
    killGroup(child);
    await closed;
    const ok = await fsconv([...CONVERT, img, '--yes', '--quiet']);
    expect(ok.status, ok.stderr).toBe(0);
    validateFatStructure(img);
  });

  it('a second conversion while the first one is running (held at its question) is refused; the first converts', async () => {
    const img = sample('twice.img');
    const before = sha256File(img);
    const sourceListing = await listing(img);
    // The first one on a terminal, stopped at its question: it has the image open (and locked) by then.
    const cmd = `${process.execPath} ${FSCONV_BIN} ${CONVERT.join(' ')} ${img} --tz UTC --quiet`;
    const first = spawn(requireTool('script'), ['-qec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    later(() => {
      if (first.exitCode === null && first.signalCode === null) first.kill('SIGKILL');
    });
    let screen = '';
    const asked = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no question after 30 s:\n${screen}`)), 30_000);
      first.stdout!.on('data', (d: Buffer) => {
        screen += d.toString('utf8');
        if (screen.includes('[y/N]')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    const firstDone = new Promise<number | null>((resolve) => first.on('close', (code) => resolve(code)));
    await asked;

    const second = await fsconv([...CONVERT, img, '--yes']);
    const line = expectOneLineRefusal(second);
    expect(line).toMatch(new RegExp(`^fsconv: ${img} is locked by another program \\(pid \\d+ \\(node\\) holds a flock; another fsconv`));
    expect(sha256File(img)).toBe(before);

    first.stdin!.write('y\n');
    expect(await firstDone, screen).toBe(0);
    validateFatStructure(img);
    expect(await listing(img)).toEqual(sourceListing);
  });

  it('two conversions started at once, several times: exactly one converts, the other is refused or finds FAT; the result is whole', async () => {
    const original = ext2WithData('race-original.img', 4, 24);
    const sourceListing = await listing(original);
    let refusals = 0;
    for (let round = 0; round < 4; round++) {
      const img = join(work, `race-${round}.img`);
      copyFileSync(original, img);
      const results = await Promise.all([0, 1].map(() => fsconv([...CONVERT, img, '--yes', '--quiet'])));
      const converted = results.filter((r) => r.status === 0 && /Converted .* in place/.test(r.stdout));
      expect(converted, results.map((r) => `${r.status}: ${r.stdout.split('\n')[0]} ${r.stderr}`).join('\n')).toHaveLength(1);
      const other = results.find((r) => r !== converted[0])!;
      if (other.status === 0) {
        // Started after the first had finished: it found FAT and did nothing.
        expect(other.stdout).toMatch(/already holds FAT: nothing to do/);
      } else {
        expect(expectOneLineRefusal(other)).toMatch(/is locked by another program/);
        refusals++;
      }
      validateFatStructure(img);
      expect(await listing(img)).toEqual(sourceListing);
      rmSync(img);
    }
    // Checking the ext2 takes far longer than starting node: they overlap nearly every time.
    expect(refusals).toBeGreaterThan(0);
  });
});

// ------------------------------------------------------------------------------------------------

describe('loop devices are the files behind them', () => {
  const canUseLoops = process.getuid?.() === 0 && existsSync('/dev/loop-control');

  function attach(img: string, readOnly = false): string {
    const loop = runText('losetup', ['-f', '--show', ...(readOnly ? ['-r'] : []), img]).trim();
    later(() => {
      if (existsSync(`/sys/block/${basename(loop)}/loop/backing_file`)) run('losetup', ['-d', loop]);
    });
    return loop;
  }

  it.skipIf(!canUseLoops)('--output onto the file behind the source loop device is refused, both ways and between two loop devices', async () => {
    const img = sample('behind.img');
    const before = sha256File(img);
    const loop = attach(img);
    // As the tester ran it, and with --force: the same refusal.
    for (const force of [[], ['--force']]) {
      const line = expectOneLineRefusal(await fsconv([...CONVERT, loop, '--output', img, ...force]));
      expect(line).toBe(`fsconv: --output ${img} is the file behind the source's loop device ${loop}: write the image elsewhere`);
      expect(sha256File(img)).toBe(before);
    }
    let line: string;

    line = expectOneLineRefusal(await fsconv([...CONVERT, img, '--output', loop, '--force']));
    expect(line).toBe(`fsconv: --output ${loop} is a loop device on the source ${img}: write the image elsewhere`);
    expect(sha256File(img)).toBe(before);

    const other = attach(img);
    line = expectOneLineRefusal(await fsconv([...CONVERT, loop, '--output', other, '--force']));
    expect(line).toBe(`fsconv: --output ${other} and the source ${loop} are loop devices of the same file ${img}: write the image elsewhere`);
    expect(sha256File(img)).toBe(before);

    // A loop device on the first loop device is the same storage too.
    const stacked = attach(loop);
    line = expectOneLineRefusal(await fsconv([...CONVERT, stacked, '--output', img, '--force']));
    expect(line).toBe(`fsconv: --output ${img} is the file behind the source's loop device ${stacked}: write the image elsewhere`);
    expect(sha256File(img)).toBe(before);
  });

  it.skipIf(!canUseLoops)('a second loop device on an image mounted through a first one is refused, naming the mount', async () => {
    const img = join(work, 'mounted.img');
    run('mke2fs', ['-q', '-t', 'ext2', '-F', img, '8M']);
    const mp = join(work, 'mnt');
    mkdirSync(mp);
    const first = attach(img, true);
    run('mount', ['-o', 'ro', first, mp]);
    later(() => unmount(mp));
    const second = attach(img);
    const before = sha256File(img);
    const line = expectOneLineRefusal(await fsconv([...CONVERT, second, '--yes']));
    expect(line).toBe(`fsconv: ${second} is mounted on ${mp} through loop device ${first} on its backing file ${img}: unmount it and detach the loop device first`);
    expect(sha256File(img)).toBe(before);
    // The file itself is refused as before, and `check` says the same.
    expect(expectOneLineRefusal(await fsconv([...CONVERT, img, '--yes']))).toMatch(`is mounted on ${mp} through loop device ${first}`);
    expect(sha256File(img)).toBe(before);
  });

  it.skipIf(!canUseLoops)('a loop device whose backing file is attached to another loop device, not mounted, is refused as attached', async () => {
    const img = sample('attached.img');
    const before = sha256File(img);
    const first = attach(img);
    const second = attach(img);
    const line = expectOneLineRefusal(await fsconv([...CONVERT, second, '--yes']));
    expect(line).toBe(
      `fsconv: ${second} is attached to loop device ${first} too (its backing file ${img}), not mounted: detach the loop device first (losetup -d ${first})`,
    );
    expect(sha256File(img)).toBe(before);
  });
});

// ------------------------------------------------------------------------------------------------

describe('--output is finished in a temporary file and renamed into place', () => {
  const canMount = process.getuid?.() === 0;

  /** A small tmpfs at a new directory under work. */
  function smallTmpfs(name: string, size: string): string {
    const dir = join(work, name);
    mkdirSync(dir);
    run('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'fsconv-test', dir]);
    later(() => unmount(dir));
    return dir;
  }

  it.skipIf(!canMount)('no space left: one line, nothing left in the directory', async () => {
    const src = ext2WithData('big-source.img', 6, 10);
    const dir = smallTmpfs('full', '4m');
    const out = join(dir, 'out.img');
    const line = expectOneLineRefusal(await fsconv([...CONVERT, src, '--output', out, '--quiet']));
    expect(line).toMatch(new RegExp(`^fsconv: cannot write --output ${out}: no space left on the device \\(nothing was left behind\\)$`));
    expect(readdirSync(dir)).toEqual([]);
  });

  it.skipIf(!canMount)('an existing output is refused without --force and replaced with it; a failed --force build keeps the old file', async () => {
    const dir = smallTmpfs('existing', '4m');
    const out = join(dir, 'out.img');
    writeFileSync(out, 'precious, not an image\n');
    const before = sha256File(out);
    const src = sample('src-existing.img');
    let line = expectOneLineRefusal(await fsconv([...CONVERT, src, '--output', out]));
    expect(line).toBe(`fsconv: --output ${out} already exists: give --force to replace it`);
    expect(sha256File(out)).toBe(before);
    // check refuses whatever convert would.
    expect(expectOneLineRefusal(await fsconv(['check', ...CONVERT, src, '--output', out]))).toBe(line);
    // Anything at that path counts: a directory is refused even with --force.
    const sub = join(dir, 'sub');
    mkdirSync(sub);
    expect(expectOneLineRefusal(await fsconv([...CONVERT, src, '--output', sub, '--force']))).toBe(
      `fsconv: --output ${sub} is a directory: give the path of an image file or a block device`,
    );

    // A build that fails (no space) with --force leaves the old file as it was.
    const big = ext2WithData('big-existing.img', 6, 10);
    line = expectOneLineRefusal(await fsconv([...CONVERT, big, '--output', out, '--force', '--quiet']));
    expect(line).toMatch(/no space left on the device/);
    expect(sha256File(out)).toBe(before);
    expect(readdirSync(dir).sort()).toEqual(['out.img', 'sub']);

    // With --force a good build replaces it.
    const r = await fsconv([...CONVERT, src, '--output', out, '--force', '--quiet']);
    expect(r.status, r.stderr).toBe(0);
    expect(sha256File(out)).not.toBe(before);
    validateFatStructure(out);
    expect(readdirSync(dir).sort()).toEqual(['out.img', 'sub']);
  });

  it('a build killed halfway (SIGTERM, SIGINT, SIGKILL) leaves no temporary file and no output', async () => {
    const src = ext2WithData('slow-source.img', 64, 96);
    const dir = join(work, 'killed');
    mkdirSync(dir);
    for (const signal of ['SIGTERM', 'SIGINT', 'SIGKILL'] as const) {
      const out = join(dir, 'out.img');
      const child = spawn(process.execPath, [FSCONV_BIN, ...CONVERT, src, '--output', out, '--quiet'], { stdio: 'ignore' });
      later(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      });
      const ended = new Promise<void>((r) => child.once('close', () => r()));
      // Wait for the temporary file (checked every millisecond), then interrupt.
      let temp: string | undefined;
      const deadline = Date.now() + 20_000;
      while (temp === undefined && Date.now() < deadline && child.exitCode === null) {
        temp = readdirSync(dir).find((n) => n.startsWith('.out.img.fsconv-'));
        if (temp === undefined) await sleep(1);
      }
      expect(temp, `no temporary file seen (${readdirSync(dir).join(', ')})`).toBeDefined();
      expect(existsSync(out)).toBe(false);
      child.kill(signal);
      await ended;
      expect(child.exitCode, `${signal}: the build finished before it was interrupted`).toBeNull();
      // The guard removes the temporary file once the process is gone.
      for (let i = 0; i < 200 && readdirSync(dir).length > 0; i++) await sleep(10);
      expect(readdirSync(dir), signal).toEqual([]);
    }
  });

  it.skipIf(!(process.getuid?.() === 0 && existsSync('/dev/loop-control')))('a block device as --output needs --force and is written directly', async () => {
    const backing = join(work, 'blank-disk.img');
    writeFileSync(backing, Buffer.alloc(0));
    run('truncate', ['-s', '4M', backing]);
    // Leftovers of an earlier filesystem on the device must not survive.
    run('mke2fs', ['-q', '-t', 'ext2', '-F', backing]);
    const loop = runText('losetup', ['-f', '--show', backing]).trim();
    later(() => run('losetup', ['-d', loop]));
    const before = sha256File(backing);
    const src = sample('src-block.img');
    const line = expectOneLineRefusal(await fsconv([...CONVERT, src, '--output', loop]));
    expect(line).toBe(`fsconv: --output ${loop} is a block device: give --force to overwrite it`);
    expect(sha256File(backing)).toBe(before);
    const r = await fsconv([...CONVERT, src, '--output', loop, '--force', '--quiet']);
    expect(r.status, r.stderr).toBe(0);
    expect(statSync(backing).size).toBe(4 * 1024 * 1024);
    validateFatStructure(backing);
    expect(await listing(backing)).toEqual(await listing(src));
  });
});
