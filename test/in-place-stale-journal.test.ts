// A journal is never replayed over an ext2 that lives on (issue 9, scenarios 1, 5 and 6):
// - a crash just before the commit point leaves an ext2 and nothing to replay: the user mounts it
//   through the kernel, changes it, converts again, and the change is in the result;
// - a crash past the commit point whose ext2 is then brought back (e2fsck from the backup
//   superblock) and changed: info, ls, check and convert point at resume; resume says the journal
//   is stale and what changed, and writes nothing; `resume --discard` drops it and the ext2 as it is
//   now converts;
// - a damaged journal: resume says what is recoverable, and the e2fsck command it gives does bring
//   the ext2 back whole;
// - a forged marker whose lengths are huge: every command refuses at once, in one line;
// - FAT32 interrupted at its last commit write: not FAT to anyone (blkid, info, ls) until resume.
import { copyFileSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, closeSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { e2fsckCheck, makeExt2Image } from './support/ext2-image.js';
import { canonicalListing } from './support/fat-acceptance.js';
import { validateFatStructure } from './support/fat-validate.js';
import { expectOneLineRefusal, fsconv, sha256File, type FsconvResult } from './support/fsconv.js';
import { parseLsJsonLines, type LsEntry } from './support/ls-entry.js';
import { unmount } from './support/reference-view.js';
import { run, tryRun } from './support/run.js';
import { buildSmallTree, prngBytes } from './support/trees.js';

let work: string;
let tree: string;
const mounted: string[] = [];

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'fsconv-stale-'));
  tree = join(work, 'tree');
  buildSmallTree(tree);
});
afterAll(() => {
  for (const m of mounted.splice(0)) tryRun('umount', [m]);
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

const NO_CRASH = { FSCONV_CRASH_AFTER_WRITES: '0' };
const convertArgs = (img: string, extra: string[] = []): string[] => ['--from', 'ext2', '--to', 'vfat+rights', img, '--yes', '--json', '--tz', 'UTC', '-q', ...extra];
const crash = async (img: string, n: number, mode: 'kill' | 'powerloss' = 'kill', extra: string[] = []): Promise<void> => {
  const r = await fsconv(convertArgs(img, extra), { env: { FSCONV_CRASH_AFTER_WRITES: String(n), FSCONV_CRASH_MODE: mode } });
  if (r.status !== 128) throw new Error(`the crash hook did not kill the run at write ${n}: exit ${r.status}, ${r.stderr}`);
};
const ok = (r: FsconvResult, what: string): FsconvResult => {
  if (r.status !== 0) throw new Error(`${what}: exit ${r.status}: ${r.stderr}`);
  return r;
};
const listing = async (img: string): Promise<LsEntry[]> => parseLsJsonLines(ok(await fsconv(['ls', '--json', '--tz', 'UTC', img]), `ls ${img}`).stdout);
/** blkid's verdict: the TYPE it finds, or '' (exit 2: nothing found). */
const blkidType = (img: string): string => {
  const r = tryRun('blkid', ['-p', '-o', 'value', '-s', 'TYPE', img]);
  return r.status === 0 ? r.stdout.toString().trim() : '';
};

interface Base { base: string; W: number; M: number; extra: string[] }

/** An ext2 of two groups (so it has a backup superblock at block 8193), its write count W and commit point M. */
async function makeBase(name: string, opts: { blockSize: 1024 | 4096; sizeBytes: number; extra: string[] }): Promise<Base> {
  const dir = join(work, name);
  mkdirSync(dir);
  const base = makeExt2Image({ src: tree, out: join(dir, 'base.ext2'), blockSize: opts.blockSize, inodeSize: 128, sizeBytes: opts.sizeBytes });
  const ref = join(dir, 'ref.img');
  copyFileSync(base, ref);
  const W = (JSON.parse(ok(await fsconv(convertArgs(ref, opts.extra), { env: NO_CRASH }), 'reference').stdout) as { deviceWrites: number }).deviceWrites;
  const probe = join(dir, 'probe.img');
  copyFileSync(base, probe);
  await crash(probe, W - 1, 'kill', opts.extra);
  const C = (JSON.parse(ok(await fsconv(['resume', probe, '--json', '-q'], { env: NO_CRASH }), 'resume').stdout) as { deviceWrites: number }).deviceWrites;
  expect(sha256File(probe)).toBe(sha256File(ref));
  rmSync(probe);
  rmSync(ref);
  return { base, W, M: W - C + 1, extra: opts.extra };
}

/** Mounts the ext2 read-write through the kernel, writes a 3 MiB file and removes /sub, unmounts. */
function changeThroughKernel(img: string, mnt: string): Buffer {
  mkdirSync(mnt, { recursive: true });
  run('mount', ['-t', 'ext2', '-o', 'loop', img, mnt]);
  mounted.push(mnt);
  const data = prngBytes('stale-journal/new.bin', 3 << 20);
  try {
    writeFileSync(join(mnt, 'written-after-the-crash.bin'), data);
    rmSync(join(mnt, 'sub'), { recursive: true });
  } finally {
    unmount(mnt);
    mounted.splice(mounted.indexOf(mnt), 1);
  }
  // The loop device mount -o loop made goes away on unmount, a moment later.
  for (let i = 0; i < 50 && run('losetup', ['-j', img]).stdout.toString().trim() !== ''; i++) run('sleep', ['0.1']);
  return data;
}

/** The conversion holds the change: the new file's bytes (through mtools) and no /sub. */
async function expectChangeConverted(img: string, data: Buffer): Promise<void> {
  validateFatStructure(img);
  const entries = await listing(img);
  const paths = entries.map((e) => e.path);
  expect(paths).toContain('/written-after-the-crash.bin');
  expect(paths.some((p) => p === '/sub' || p.startsWith('/sub/'))).toBe(false);
  const out = join(work, `extract-${Date.now()}.bin`);
  run('mcopy', ['-n', '-i', img, '::/written-after-the-crash.bin', out], { env: { ...process.env, LC_ALL: 'C.UTF-8', TZ: 'UTC' } });
  expect(readFileSync(out).equals(data)).toBe(true);
  rmSync(out);
}

const u64 = (img: string, at: number): number => {
  const fd = openSync(img, 'r');
  try {
    const b = Buffer.alloc(8);
    readSync(fd, b, 0, 8, at);
    return Number(b.readBigUInt64LE(0));
  } finally {
    closeSync(fd);
  }
};
const patch = (img: string, at: number, bytes: Buffer): void => {
  const fd = openSync(img, 'r+');
  try {
    writeSync(fd, bytes, 0, bytes.length, at);
  } finally {
    closeSync(fd);
  }
};

describe('stale and damaged journals (1 KiB blocks, FAT16)', () => {
  let b: Base;
  beforeAll(async () => {
    b = await makeBase('fat16', { blockSize: 1024, sizeBytes: 16 << 20, extra: [] });
  }, 120_000);

  it('a crash just before the commit point, the ext2 changed through the kernel, converted again: the change is in the result', async () => {
    const img = join(work, 'fat16', 'window.img');
    copyFileSync(b.base, img);
    await crash(img, b.M - 1);
    expect(blkidType(img)).toBe('ext2');
    expect(e2fsckCheck(img).status).toBe(0);
    const info = ok(await fsconv(['info', img]), 'info');
    expect(info.stdout + info.stderr).not.toMatch(/interrupted/);
    const data = changeThroughKernel(img, join(work, 'fat16', 'mnt-window'));
    const r = ok(await fsconv(convertArgs(img), { env: NO_CRASH }), 'convert after the change');
    expect(JSON.parse(r.stdout)).toMatchObject({ resumed: false, feasible: true });
    expect(r.stderr).not.toMatch(/Resuming/);
    await expectChangeConverted(img, data);
  });

  it('an ext2 brought back past the commit point and changed: nothing replays it; resume says what changed; --discard, then convert keeps the change', async () => {
    const img = join(work, 'fat16', 'restored.img');
    copyFileSync(b.base, img);
    await crash(img, b.M + 1); // the marker over the superblock and its copy in sector 0
    expect(blkidType(img)).toBe('');
    expect(tryRun('e2fsck', ['-fy', '-b', '8193', '-B', '1024', img]).status).toBeLessThanOrEqual(1);
    expect(blkidType(img)).toBe('ext2');
    const data = changeThroughKernel(img, join(work, 'fat16', 'mnt-restored'));
    const before = sha256File(img);
    for (const args of [['info', img], ['ls', img], ['check', '--from', 'ext2', '--to', 'vfat+rights', img], convertArgs(img)]) {
      const line = expectOneLineRefusal(await fsconv(args, { env: NO_CRASH }));
      expect(line).toMatch(/interrupted conversion that must not be replayed .*run 'fsconv resume /);
    }
    const resume = expectOneLineRefusal(await fsconv(['resume', img], { env: NO_CRASH }));
    expect(resume).toMatch(/not replayed, nothing written: .*stale: the source filesystem changed after the conversion was planned: .*mount count \d+ \(planned: \d+\)/);
    expect(resume).toMatch(/fsconv resume --discard /);
    expect(sha256File(img)).toBe(before);
    ok(await fsconv(['resume', '--discard', img], { env: NO_CRASH }), 'resume --discard');
    expect(e2fsckCheck(img).status).toBe(0);
    ok(await fsconv(convertArgs(img), { env: NO_CRASH }), 'convert after --discard');
    await expectChangeConverted(img, data);
  });

  it('a damaged journal: resume replays nothing and gives the e2fsck command that brings the ext2 back whole', async () => {
    const img = join(work, 'fat16', 'damaged.img');
    copyFileSync(b.base, img);
    const original = canonicalListing(await listing(b.base));
    await crash(img, b.M); // the commit point only: the primary superblock's first half is gone
    const journalAt = u64(img, 1024 + 20);
    patch(img, journalAt + 60, Buffer.from([0xde, 0xad]));
    const before = sha256File(img);
    for (const args of [['info', img], ['ls', img], convertArgs(img)]) {
      expect(expectOneLineRefusal(await fsconv(args, { env: NO_CRASH }))).toMatch(/whose journal cannot be read .*run 'fsconv resume /);
    }
    const line = expectOneLineRefusal(await fsconv(['resume', img], { env: NO_CRASH }));
    expect(line).toMatch(/cannot finish .*nothing written: .*damaged.*'e2fsck -b 8193 -B 1024 .*' rebuilds the ext2 .*only erased the primary superblock/);
    expect(expectOneLineRefusal(await fsconv(['resume', '--discard', img], { env: NO_CRASH }))).toMatch(/not discarded/);
    expect(sha256File(img)).toBe(before);
    // The advice holds: the ext2 comes back whole.
    expect(tryRun('e2fsck', ['-fy', '-b', '8193', '-B', '1024', img]).status).toBeLessThanOrEqual(1);
    expect(e2fsckCheck(img).status).toBe(0);
    expect(canonicalListing(await listing(img))).toEqual(original);
  });

  it('a forged marker with huge lengths: every command refuses at once, in one line, writing nothing', async () => {
    const img = join(work, 'fat16', 'forged.img');
    copyFileSync(b.base, img);
    await crash(img, b.M);
    const fsBytes = u64(img, 1024 + 36);
    const journalAt = u64(img, 1024 + 20);
    for (const length of [0x7ffff000, 0xfffff000, fsBytes - journalAt]) {
      const marker = Buffer.alloc(48);
      readSync(openSync(img, 'r'), marker, 0, 48, 1024);
      marker.writeUInt32LE(length >>> 0, 28);
      marker.writeUInt32LE(crc32(marker.subarray(0, 44)) >>> 0, 44);
      patch(img, 1024, marker);
      const before = sha256File(img);
      for (const args of [['info', img], ['check', '--from', 'ext2', '--to', 'vfat+rights', img], convertArgs(img), ['resume', img]]) {
        const r = await fsconv(args, { env: NO_CRASH, heapMiB: 96, timeoutMs: 20_000 });
        const refusal = expectOneLineRefusal(r);
        // The last length fits the filesystem: bounded by the geometry (small here), the read is made and its CRC fails.
        expect(refusal).toMatch(length === fsBytes - journalAt ? /outside the filesystem|more than its geometry allows|does not match its marker/ : /outside the filesystem|more than its geometry allows/);
        expect(r.ms).toBeLessThan(15_000);
      }
      expect(sha256File(img)).toBe(before);
    }
  });
});

describe('FAT32 interrupted at its last commit write', () => {
  it('is FAT to nobody until resume finishes it (kill after the second-to-last write, power cut at the last)', async () => {
    const b = await makeBase('fat32', { blockSize: 4096, sizeBytes: 34 << 20, extra: ['--fat-bits', '32'] });
    for (const [n, mode] of [[b.W - 1, 'kill'], [b.W, 'powerloss']] as const) {
      const img = join(work, 'fat32', `last-${mode}.img`);
      copyFileSync(b.base, img);
      await crash(img, n, mode, b.extra);
      expect(blkidType(img), `${mode} at ${n}`).toBe('');
      for (const args of [['info', img], ['ls', img]]) {
        expect(expectOneLineRefusal(await fsconv(args))).toMatch(/interrupted after its commit point: run 'fsconv resume /);
      }
      ok(await fsconv(['resume', img, '-q']), 'resume');
      validateFatStructure(img);
      expect(blkidType(img)).toBe('vfat');
    }
  }, 120_000);
});
