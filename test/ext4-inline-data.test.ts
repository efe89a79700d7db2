// inline_data (issue 13): small files, directories and symlinks kept inside their inodes, the first
// 60 bytes in i_block and the rest in the in-inode attribute system.data. Images by mke2fs -O
// inline_data are used through the kernel's ext4 driver, which makes inline files (up to what the
// inode holds), inline directories (entries in i_block, then in system.data as they grow, then
// converted to blocks), and converts files that grow; deletions and renames inside inline
// directories, attributes sharing the inode's room, hard links. mke2fs -d writes the other kind the
// kernel does not make: inline symlinks, and empty inline files. Then e2fsck -fn is clean, `ls
// --json` equals the kernel's view on every field (system.data is layout, not an attribute: the
// kernel lists none), the bytes through the reader equal the kernel's, and the in-place conversion
// passes every FAT check (the bytes of inline files live in the inode table, not in blocks, so they
// are written anew). Damaged inline inodes are refused in one line, as e2fsck -fn complains of them.
import { createHash } from 'node:crypto';
import { closeSync, copyFileSync, linkSync, mkdirSync, mkdtempSync, openSync, renameSync, rmSync, symlinkSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Device } from '../packages/device/src/index.js';
import { Ext2Volume, INODE_FLAGS, walkTree } from '../packages/ext2fs-reader/src/index.js';
import { e2fsckCheck } from './support/ext2-image.js';
import { expectExt4ReadAndConverted } from './support/ext4-acceptance.js';
import { expectOneLineRefusal, fsconv, sha256File } from './support/fsconv.js';
import { unmount } from './support/reference-view.js';
import { run } from './support/run.js';
import { buildSmallTree } from './support/trees.js';

const BIG = { timeoutMs: 300_000, heapMiB: 512 };
const C = { env: { ...process.env, LC_ALL: 'C' } };
let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'fsconv-ext4-inline-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Deterministic bytes of a given length (no zeros, so a zero-filled copy differs). */
const bytes = (seed: string, length: number): Buffer => {
  const out = Buffer.alloc(length);
  for (let o = 0, i = 0; o < length; i++) o += createHash('sha256').update(`${seed}:${i}`).digest().copy(out, o);
  for (let i = 0; i < length; i++) if (out[i] === 0) out[i] = 1;
  return out;
};

/** What the kernel makes of small things on an inline_data volume, written through it. */
function useThroughKernel(mnt: string, tag: string): void {
  const put = (p: string, data: Buffer): void => writeFileSync(join(mnt, p), data);
  for (const n of [1, 40, 59, 60, 61, 100, 128, 129, 300]) put(`f${n}`, bytes(`${tag}/f${n}`, n));
  // An attribute first: it shares the inode's room with system.data.
  put('with-xattr', Buffer.alloc(0));
  run('setfattr', ['-n', 'user.small', '-v', 'in the inode too', join(mnt, 'with-xattr')]);
  put('with-xattr', bytes(`${tag}/with-xattr`, 70));
  // Grown past what the inode holds: converted to extents by the kernel.
  put('grown', bytes(`${tag}/grown`, 50));
  const fd = openSync(join(mnt, 'grown'), 'a');
  writeSync(fd, bytes(`${tag}/grown-more`, 5000));
  closeSync(fd);
  put('truncated', bytes(`${tag}/truncated`, 100));
  truncateSync(join(mnt, 'truncated'), 10);
  linkSync(join(mnt, 'f40'), join(mnt, 'f40-again'));
  // Directories: empty; entries in i_block; more in system.data; converted to blocks; nested.
  mkdirSync(join(mnt, 'empty-dir'));
  mkdirSync(join(mnt, 'd-iblock'));
  for (let i = 0; i < 3; i++) put(`d-iblock/n${i}`, bytes(`${tag}/d-iblock/${i}`, 20 + i));
  mkdirSync(join(mnt, 'd-xattr'));
  for (let i = 0; i < 7; i++) put(`d-xattr/n${i}`, bytes(`${tag}/d-xattr/${i}`, 30 + i));
  // A deletion and a rename inside an inline directory: records merged and reused.
  rmSync(join(mnt, 'd-xattr', 'n2'));
  renameSync(join(mnt, 'd-xattr', 'n5'), join(mnt, 'd-xattr', 'renamed'));
  mkdirSync(join(mnt, 'd-converted'));
  for (let i = 0; i < 30; i++) put(`d-converted/entry-${i}`, bytes(`${tag}/d-converted/${i}`, i));
  mkdirSync(join(mnt, 'a', 'b', 'c'), { recursive: true });
  put('a/b/c/deep', bytes(`${tag}/deep`, 33));
  symlinkSync('f40', join(mnt, 'fast-link'));
  symlinkSync('x'.repeat(90), join(mnt, 'slow-link'));
  const tree = join(work, `${tag}-tree`);
  buildSmallTree(tree);
  run('cp', ['-a', tree, join(mnt, 'copied')]);
}

/** The image made and used through the kernel. */
function kernelImage(tag: string, mkfs: readonly string[], size: string): string {
  const img = join(work, `${tag}.img`);
  run('mke2fs', ['-q', '-t', 'ext4', '-O', 'inline_data', ...mkfs, '-F', img, size], C);
  const mnt = join(work, `${tag}-mnt`);
  mkdirSync(mnt);
  run('mount', ['-t', 'ext4', '-o', 'loop', img, mnt]);
  try {
    useThroughKernel(mnt, tag);
    run('sync', []);
  } finally {
    unmount(mnt);
  }
  return img;
}

/** An image written by mke2fs -d from a host tree: libext2fs makes inline symlinks and empty inline files. */
function mke2fsImage(tag: string): string {
  const tree = join(work, `${tag}-tree`);
  mkdirSync(tree);
  writeFileSync(join(tree, 'empty'), '');
  for (const n of [5, 60, 100]) writeFileSync(join(tree, `f${n}`), bytes(`${tag}/f${n}`, n));
  for (const n of [10, 59, 60, 80, 120, 200]) symlinkSync('t'.repeat(n), join(tree, `link${n}`));
  mkdirSync(join(tree, 'small-dir'));
  writeFileSync(join(tree, 'small-dir', 'inside'), bytes(`${tag}/inside`, 12));
  mkdirSync(join(tree, 'empty-dir'));
  const img = join(work, `${tag}.img`);
  run('mke2fs', ['-q', '-t', 'ext4', '-O', 'inline_data', '-d', tree, '-F', img, '16M'], C);
  return img;
}

/** How many inodes of each type the reader finds inline, with every file's bytes compared to the kernel's. */
function readInline(img: string, fileSha256: Map<string, string>): { file: number; dir: number; symlink: number; dirInXattr: number } {
  const dev = Device.open(img);
  const counts = { file: 0, dir: 0, symlink: 0, dirInXattr: 0 };
  try {
    const vol = Ext2Volume.open(dev);
    walkTree(vol, {
      entry(e) {
        const type = e.inode.mode & 0o170000;
        const inline = (e.inode.flags & INODE_FLAGS.inline_data) !== 0;
        if (type === 0o100000) {
          const got = createHash('sha256').update(vol.readFile(e.inode, 0, e.inode.size)).digest('hex');
          expect(got, e.path).toBe(fileSha256.get(e.path));
          if (inline) counts.file++;
        } else if (type === 0o040000 && inline) {
          counts.dir++;
          if (e.inode.size > 60) counts.dirInXattr++;
        } else if (type === 0o120000 && inline) counts.symlink++;
      },
    });
  } finally {
    dev.close();
  }
  return counts;
}

/** The ext4 acceptance (support/ext4-acceptance.ts), with system.data hidden and the bytes through the reader compared. */
async function expectReadAndConverted(img: string, tag: string): Promise<ReturnType<typeof readInline>> {
  let counts: ReturnType<typeof readInline> | undefined;
  await expectExt4ReadAndConverted(img, work, tag, (ours, ref) => {
    expect(ours.flatMap((e) => Object.keys(e.xattrs ?? {})), 'system.data is not an attribute').not.toContain('system.data');
    counts = readInline(img, ref.fileSha256);
  });
  return counts!;
}

describe('ext4 inline_data', () => {
  it('used through the kernel, 1 KiB blocks and 256-byte inodes: read as the kernel reads it, converted in place', async () => {
    const img = kernelImage('k1', ['-b', '1024', '-I', '256'], '64M');
    const counts = await expectReadAndConverted(img, 'k1');
    // f1..f128, with-xattr, truncated, f40's two names (one inode), d-iblock's and d-xattr's files, deep.
    expect(counts.file, 'inline files').toBeGreaterThanOrEqual(15);
    expect(counts.dir, 'inline directories').toBeGreaterThanOrEqual(5);
    expect(counts.dirInXattr, 'inline directories with entries in system.data').toBeGreaterThanOrEqual(1);
  }, 300_000);

  it('used through the kernel, 4 KiB blocks and 512-byte inodes (more room inline)', async () => {
    const img = kernelImage('k4', ['-I', '512'], '64M');
    const counts = await expectReadAndConverted(img, 'k4');
    expect(counts.file).toBeGreaterThanOrEqual(17); // f129 and f300 fit in a 512-byte inode
    expect(counts.dirInXattr).toBeGreaterThanOrEqual(1);
  }, 300_000);

  it('written by mke2fs -d: inline symlinks and empty inline files too', async () => {
    const img = mke2fsImage('d');
    const counts = await expectReadAndConverted(img, 'd');
    expect(counts.symlink, 'inline symlinks (60 bytes and more)').toBeGreaterThanOrEqual(2);
    expect(counts.file).toBeGreaterThanOrEqual(4);
  }, 300_000);

  it('an inline file whose size is past its inline data reads zeros there, as the kernel reads it (e2fsck -fn accepts it)', async () => {
    const img = kernelImage('past', ['-b', '1024', '-I', '256'], '32M');
    run('debugfs', ['-w', '-R', 'sif /f100 size 5000', img], C);
    const counts = await expectReadAndConverted(img, 'past');
    expect(counts.file).toBeGreaterThanOrEqual(15);
  }, 300_000);

  it('damaged inline inodes are refused in one line, as e2fsck -fn complains, and nothing is written', async () => {
    const base = kernelImage('bad', ['-b', '1024', '-I', '256'], '32M');
    const cases: Array<[string, string, RegExp]> = [
      ['inline directory size', 'sif /d-iblock size 64', /inline directory|size 64/],
      ['inline data and extents', 'sif /f40 flags 0x10080000', /inline data and extents|extents flag/],
      ["inline directory's parent", 'sif /d-iblock block[0] 13', /'\.\.' points to inode 13/],
      ['inline directory record', 'sif /d-iblock block[2] 0x00ff0000', /rec_len/],
      ['no system.data', 'ea_rm /f100 system.data', /system\.data/],
      ['inline flag on a fast symlink', 'sif /fast-link flags 0x10000000', /system\.data/],
      ['an indexed inline directory', 'sif /d-xattr flags 0x10001000', /htree|index/],
      // Found by mutating inline inodes: accepted until then, e2fsck -fn exits 4.
      ['the casefold flag without casefold', 'sif /f40 flags 0x50000000', /casefold flag/],
    ];
    for (const [what, command, message] of cases) {
      const img = join(work, `bad-${what.replace(/\W+/g, '-')}.img`);
      copyFileSync(base, img);
      run('debugfs', ['-w', '-R', command, img], C);
      expect(e2fsckCheck(img).status, `${what}: e2fsck -fn complains`).not.toBe(0);
      const before = sha256File(img);
      for (const args of [['ls', img], ['--from', 'ext4', '--to', 'vfat+rights', img, '--yes', '-q']]) {
        expect(expectOneLineRefusal(await fsconv(args, BIG)), `${what}: ${args[0]}`).toMatch(message);
      }
      expect(sha256File(img), `${what}: nothing written`).toBe(before);
    }
  }, 300_000);
});
