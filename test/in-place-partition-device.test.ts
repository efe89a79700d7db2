// In place on a partition's own block device (/dev/sdb1; issue 10, item 4): fsconv finds the disk
// and the partition's start through sysfs, checks the start against the disk's table, and writes
// the partition's new type through the disk. This machine's kernel creates no partition devices, so
// two real loop devices over one MBR disk image stand in: one for the disk (the whole image), one
// for its partition 1 (losetup --offset 1 MiB --sizelimit), and a made-up sysfs tree
// (FSCONV_TEST_SYSFS) says that the second is partition 1 of the first, as the kernel would.
// Judge: the whole image afterwards is byte-identical to converting `disk.img --partition 1`, which
// in-place-partition.test.ts checks with sfdisk, fdisk, fsck.fat and mtools; crashes at the last
// writes, then resume on the partition device, give the same bytes. Needs root and loop devices.
import { closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { validateFatStructure } from './support/fat-validate.js';
import { expectOneLineRefusal, fsconv, sha256File, type FsconvResult } from './support/fsconv.js';
import { run, runText, tryRun } from './support/run.js';
import { buildSmallTree } from './support/trees.js';

const MiB = 1024 * 1024;
const START = MiB;
const PART_BYTES = 32 * MiB;
const DISK_BYTES = 40 * MiB;

const canUseLoops = process.getuid?.() === 0 && existsSync('/dev/loop-control');
if (!canUseLoops && process.env['CI']) throw new Error('in-place-partition-device.test.ts needs root and loop devices (/dev/loop-control), which CI has');

let work: string;
let tree: string;
let base: string;
let ref: string;
beforeAll(async () => {
  work = realpathSync(mkdtempSync(join(tmpdir(), 'fsconv-partdev-')));
  tree = join(work, 'tree');
  buildSmallTree(tree);
  base = join(work, 'base.img');
  run('truncate', ['-s', String(DISK_BYTES), base]);
  run('sfdisk', ['-q', base], { input: `label: dos\nstart=${START / 512}, size=${PART_BYTES / 512}, type=83\n` });
  run('mke2fs', ['-q', '-t', 'ext2', '-b', '1024', '-I', '128', '-d', tree, '-E', `offset=${START},root_owner=0:0`, '-F', base, `${PART_BYTES / 1024}k`],
    { env: { ...process.env, LC_ALL: 'C', E2FSPROGS_FAKE_TIME: '1700000000' } });
  // The reference: the same conversion through the disk image and its table.
  ref = join(work, 'ref.img');
  copyFileSync(base, ref);
  ok(await fsconv(convertArgs(ref, ['--partition', '1'])), 'reference conversion');
}, 120_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

const loops: string[] = [];
afterEach(() => {
  for (const l of loops.splice(0).reverse()) tryRun('losetup', ['-d', l]);
});

const ok = (r: FsconvResult, what: string): FsconvResult => {
  if (r.status !== 0) throw new Error(`${what}: exit ${r.status}: ${r.stderr}`);
  return r;
};
const convertArgs = (dev: string, extra: string[] = []): string[] => ['--from', 'ext2', '--to', 'vfat+rights', dev, '--yes', '--json', '-q', '--tz', 'UTC', ...extra];

function attach(img: string, offset?: number, size?: number): string {
  const loop = runText('losetup', ['-f', '--show', ...(offset !== undefined ? ['--offset', String(offset), '--sizelimit', String(size)] : []), img]).trim();
  loops.push(loop);
  return loop;
}

const majMinOf = (node: string): string => {
  const rdev = statSync(node).rdev;
  // glibc's dev_t encoding, as the kernel's loop devices (major 7) use it.
  return `${Math.floor(rdev / 256) & 0xfff}:${(rdev & 0xff) | ((Math.floor(rdev / 4096) & 0xfff00))}`;
};

interface FakeSysfs {
  /** sysfs `start` and `size` of the partition, in 512-byte sectors. */
  start?: number;
  size?: number;
  number?: number;
  /** The disk's device number as sysfs gives it (default: the disk loop device's). */
  diskMajMin?: string;
}

/** A sysfs tree saying that `part` is partition 1 of `disk` ("fsconvdisk"), laid out as the kernel's. */
function fakeSysfs(name: string, disk: string, part: string, f: FakeSysfs = {}): string {
  const sys = join(work, name);
  const put = (p: string, text: string): void => {
    mkdirSync(dirname(join(sys, p)), { recursive: true });
    writeFileSync(join(sys, p), text);
  };
  const link = (p: string, target: string): void => {
    mkdirSync(dirname(join(sys, p)), { recursive: true });
    symlinkSync(target, join(sys, p));
  };
  const diskDir = 'devices/virtual/block/fsconvdisk';
  const diskMm = f.diskMajMin ?? majMinOf(disk);
  put(`${diskDir}/dev`, `${diskMm}\n`);
  put(`${diskDir}/size`, `${DISK_BYTES / 512}\n`);
  link(`dev/block/${diskMm}`, `../../${diskDir}`);
  put(`${diskDir}/fsconvdisk1/partition`, `${f.number ?? 1}\n`);
  put(`${diskDir}/fsconvdisk1/start`, `${f.start ?? START / 512}\n`);
  put(`${diskDir}/fsconvdisk1/size`, `${f.size ?? PART_BYTES / 512}\n`);
  put(`${diskDir}/fsconvdisk1/dev`, `${majMinOf(part)}\n`);
  link(`dev/block/${majMinOf(part)}`, `../../${diskDir}/fsconvdisk1`);
  return sys;
}

/** A fresh copy of the ext2 disk with its two loop devices and the sysfs tree describing them. */
function setUp(name: string, f: FakeSysfs = {}): { img: string; disk: string; part: string; env: Record<string, string> } {
  const img = join(work, `${name}.img`);
  copyFileSync(base, img);
  const disk = attach(img);
  const part = attach(img, START, PART_BYTES);
  return { img, disk, part, env: { FSCONV_TEST_SYSFS: fakeSysfs(`${name}-sys`, disk, part, f) } };
}

/** The image's bytes once every loop device over it is detached (their caches written back). */
function shaDetached(img: string): string {
  for (const l of loops.splice(0).reverse()) run('losetup', ['-d', l]);
  return sha256File(img);
}

describe.skipIf(!canUseLoops)('in place on a partition device (made-up sysfs, loop devices over a disk image)', () => {
  it('check says what it will do; convert gives the disk byte-identical to converting DISK --partition 1', async () => {
    const { img, part, env } = setUp('good');
    const check = ok(await fsconv(['check', '--from', 'ext2', '--to', 'vfat+rights', part, '--tz', 'UTC'], { env }), 'check');
    expect(check.stdout).toMatch(/Partition 1: type 0x83 will become 0x0[46e]/);
    const info = ok(await fsconv(['info', part], { env }), 'info');
    expect(info.stdout).toMatch(/ext2/);
    expect(info.stdout).toMatch(/^Partition: +1 of \/dev\/loop\d+ \(MBR\), at 1\.00 MiB, 32\.0 MiB, type 0x83$/m);
    const r = JSON.parse(ok(await fsconv(convertArgs(part), { env }), 'convert').stdout) as { partitionType: { from: string; to: string; changed: boolean } };
    expect(r.partitionType).toMatchObject({ from: '0x83', changed: true });
    const after = ok(await fsconv(['info', part], { env }), 'info after').stdout;
    expect(after).toMatch(/FAT1[26]/);
    expect(after).toMatch(/^Partition: +1 of \/dev\/loop\d+ \(MBR\), at 1\.00 MiB, 32\.0 MiB, type 0x0[46e]$/m);
    expect(shaDetached(img)).toBe(sha256File(ref));
    expect(run('sfdisk', ['--part-type', img, '1']).stdout.toString().trim()).toBe(r.partitionType.to.replace(/^0x0?/, '').toUpperCase());
  }, 120_000);

  it('--keep-partition-type converts the partition and leaves the table as it was', async () => {
    const { img, part, env } = setUp('keep');
    ok(await fsconv(convertArgs(part, ['--keep-partition-type']), { env }), 'convert');
    shaDetached(img);
    expect(run('sfdisk', ['--part-type', img, '1']).stdout.toString().trim()).toBe('83');
    validateFatStructure(img, START);
    const head = Buffer.alloc(512);
    const fd = openSync(img, 'r');
    readSync(fd, head, 0, 512, START);
    closeSync(fd);
    expect(head.readUInt32LE(0x1c)).toBe(START / 512); // hidden sectors: the partition's start
  }, 120_000);

  it('refuses, writing nothing, where the table disagrees with the kernel, the disk is missing, or --partition is given', async () => {
    const cases: Array<{ name: string; f: FakeSysfs; extra?: string[]; says: RegExp }> = [
      { name: 'moved', f: { start: 4096 }, says: /is partition 1 of \/dev\/loop\d+, but the kernel has it at byte 2097152 \(33554432 bytes\) while \/dev\/loop\d+'s table says byte 1048576 \(33554432 bytes\): the table was changed after the kernel read it \(re-read it with 'partprobe \/dev\/loop\d+', or replug the drive\); nothing written$/ },
      { name: 'resized', f: { size: 40000 }, says: /the kernel has it at byte 1048576 \(20480000 bytes\) while .* table says byte 1048576 \(33554432 bytes\)/ },
      { name: 'renumbered', f: { number: 2 }, says: /is partition 2 of \/dev\/loop\d+, but \/dev\/loop\d+'s MBR table has no partition 2/ },
      { name: 'nodisk', f: { diskMajMin: '7:1999' }, says: /is partition 1 of \/dev\/fsconvdisk, but no device node in \/dev is that disk \(7:1999\)/ },
      { name: 'option', f: {}, extra: ['--partition', '1'], says: /is partition 1 of \/dev\/loop\d+ itself: leave out --partition \(or give the disk: \/dev\/loop\d+ --partition 1\)$/ },
    ];
    for (const c of cases) {
      const { img, part, env } = setUp(c.name, c.f);
      const before = sha256File(img);
      expect(expectOneLineRefusal(await fsconv(convertArgs(part, c.extra), { env })), c.name).toMatch(c.says);
      if (c.extra === undefined) {
        // The read commands read the device as it is, with the same words as a warning.
        const info = ok(await fsconv(['info', part], { env }), `info ${c.name}`);
        expect(info.stderr, c.name).toMatch(/^fsconv: warning: .* is partition \d of /);
        expect(info.stdout, c.name).toMatch(/ext2/);
      }
      expect(shaDetached(img), c.name).toBe(before);
    }
  }, 120_000);

  it('a crash at each of the last writes (both modes), then resume or convert on the partition device: the disk byte-identical', async () => {
    const probe = setUp('count');
    const total = (JSON.parse(ok(await fsconv(convertArgs(probe.part), { env: probe.env }), 'count').stdout) as { deviceWrites: number }).deviceWrites;
    shaDetached(probe.img);
    rmSync(probe.img);
    const refSha = sha256File(ref);
    const failures: string[] = [];
    for (const mode of ['kill', 'powerloss'] as const) {
      for (let n = total - 4; n <= total; n++) {
        const { img, part, env } = setUp(`crash-${mode}-${n}`);
        const crashed = await fsconv(convertArgs(part), { env: { ...env, FSCONV_CRASH_AFTER_WRITES: String(n), FSCONV_CRASH_MODE: mode } });
        if (crashed.status !== 128) {
          failures.push(`${mode} ${n}: not killed (${crashed.status} ${crashed.stderr})`);
          continue;
        }
        const info = await fsconv(['info', part], { env });
        const interrupted = /interrupted/.test(info.stderr);
        const again = interrupted ? await fsconv(['resume', part, '--json', '-q'], { env }) : await fsconv(convertArgs(part), { env });
        if (again.status !== 0) failures.push(`${mode} ${n}: ${interrupted ? 'resume' : 'convert'} exit ${again.status}: ${again.stderr.trim()}`);
        else if (shaDetached(img) !== refSha) failures.push(`${mode} ${n}: the disk differs from the uninterrupted conversion after ${interrupted ? 'resume' : 'convert'}`);
        rmSync(img, { force: true });
      }
    }
    expect(failures).toEqual([]);
  }, 240_000);
});
