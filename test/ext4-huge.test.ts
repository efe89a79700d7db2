// An ext4 over 16 TiB (issue 13): block numbers above 2^32, in descriptors, extents and bitmaps.
// A sparse 17 TiB image on tmpfs (/dev/shm: the host's ext4 caps a file at 16 TiB), made by mke2fs
// and used through the kernel: a file of 16 TiB fallocated (unwritten extents over every low group,
// so that what follows is placed above block 2^32), then a directory with a random file and a
// copied tree and an attribute in a block of its own, then the big file deleted. e2fsck -fn is clean, `info` says ext4, `ls --json`
// equals the kernel's view on every field, the file bytes through the reader equal the kernel's,
// and `check` says in one line why no FAT can hold it, writing nothing.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Device } from '../packages/device/src/index.js';
import { Ext2Volume, walkTree } from '../packages/ext2fs-reader/src/index.js';
import { expectExt4ListedAsKernel } from './support/ext4-acceptance.js';
import { fsconv } from './support/fsconv.js';
import { unmount } from './support/reference-view.js';
import { run } from './support/run.js';
import { buildSmallTree } from './support/trees.js';

const BIG = { timeoutMs: 300_000, heapMiB: 512 };
const C = { env: { ...process.env, LC_ALL: 'C' } };
const SHM = '/dev/shm';
const BIG_XATTR = Buffer.from(Array.from({ length: 600 }, (_, i) => (i * 7 + 1) & 0xff));
let work: string;
beforeAll(() => {
  // Fails, never skips, where there is no tmpfs with room for the image's 2 GiB of written blocks.
  if (!existsSync(SHM)) throw new Error(`${SHM} is missing: this test needs a tmpfs that holds files over 16 TiB`);
  const free = statfsSync(SHM).bavail * statfsSync(SHM).bsize;
  if (free < 3 * 2 ** 30) throw new Error(`${SHM} has ${free} bytes free; this test needs 3 GiB there`);
  work = mkdtempSync(join(SHM, 'fsconv-ext4-huge-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('an ext4 of 17 TiB: block numbers above 2^32', () => {
  it('read as the kernel reads it; check refuses it in one line (no FAT holds 17 TiB)', async () => {
    const img = join(work, 'huge.img');
    writeFileSync(img, '');
    run('truncate', ['-s', '17T', img]);
    // Few inodes and lazy tables: mke2fs writes a few hundred MB, not the 17 TiB's inode tables.
    run('mke2fs', ['-q', '-t', 'ext4', '-N', '200000', '-E', 'lazy_itable_init=1,nodiscard', '-F', img], C);
    const mnt = join(work, 'mnt');
    mkdirSync(mnt);
    const inodesPerGroup = Number(/Inodes per group:\s+(\d+)/.exec(run('dumpe2fs', ['-h', img], C).stdout.toString())![1]);
    run('mount', ['-t', 'ext4', '-o', 'loop', img, mnt]);
    try {
      // Files over mb_stream_req blocks (16) are allocated from a volume-wide stream goal, not
      // near their inode: raised, so that a file's blocks follow its directory's group.
      const loop = run('findmnt', ['-n', '-o', 'SOURCE', mnt]).stdout.toString().trim().replace(/^\/dev\//, '');
      writeFileSync(`/sys/fs/ext4/${loop}/mb_stream_req`, '1000000');
      // The largest file ext4 allows (2^32 - 1 blocks: logical block numbers are 32-bit) fills
      // most low groups, so that the kernel's Orlov allocator, which spreads top-level
      // directories over groups with more free space than average, puts them mostly high; a file's
      // blocks go near its directory's group. Of 128 directories, one in a group above block 2^32
      // (plus a flex group) is kept as /high; that its file lies there is asserted below.
      run('fallocate', ['-l', String(2 ** 44 - 4096), join(mnt, 'hold')]);
      const firstHighGroup = 2 ** 32 / 32768 + 16;
      let high: string | undefined;
      for (let i = 0; i < 128; i++) {
        const dir = join(mnt, `d${i}`);
        mkdirSync(dir);
        if (high === undefined && Math.floor((statSync(dir).ino - 1) / inodesPerGroup) >= firstHighGroup) high = dir;
        else rmSync(dir, { recursive: true });
      }
      if (high === undefined) throw new Error('the kernel put none of 128 top-level directories above block 2^32');
      renameSync(high, join(mnt, 'high'));
      run('dd', ['if=/dev/urandom', `of=${join(mnt, 'high', 'data')}`, 'bs=1M', 'count=8', 'status=none']);
      const tree = join(work, 'tree');
      buildSmallTree(tree);
      run('cp', ['-a', tree, join(mnt, 'high', 'copied')]);
      // An attribute too large for the inode: its block is allocated above 2^32 too (i_file_acl_high).
      run('setfattr', ['-n', 'user.big', '-v', `0x${BIG_XATTR.toString('hex')}`, join(mnt, 'high', 'data')]);
      run('sync', []);
      rmSync(join(mnt, 'hold'));
      run('sync', []);
    } finally {
      unmount(mnt);
    }
    const stat = run('debugfs', ['-R', 'stat /high/data', img], C).stdout.toString();
    const firstPhysical = Number(/\(0-\d+\):(\d+)-/.exec(stat)![1]);
    expect(firstPhysical, 'the file lies above block 2^32').toBeGreaterThan(2 ** 32);
    expect(Number(/File ACL: (\d+)/.exec(stat)![1]), 'its attribute block too').toBeGreaterThan(2 ** 32);
    expect(run('dumpe2fs', ['-h', img], C).stdout.toString()).toMatch(/Block count:\s+45\d{8}/);

    const { ours, ref } = await expectExt4ListedAsKernel(img);
    expect(ours.find((e) => e.path === '/high/data')?.xattrs).toEqual({ 'user.big': BIG_XATTR.toString('base64') });

    const dev = Device.open(img);
    let files = 0;
    try {
      const vol = Ext2Volume.open(dev);
      walkTree(vol, {
        entry(e) {
          if ((e.inode.mode & 0o170000) !== 0o100000) return;
          files++;
          const h = createHash('sha256');
          const extents = vol.fileExtents(e.inode);
          for (let o = 0; o < e.inode.size; o += 1 << 20) h.update(vol.readFile(e.inode, o, Math.min(1 << 20, e.inode.size - o), extents));
          expect(h.digest('hex'), e.path).toBe(ref.fileSha256.get(e.path));
        },
      });
    } finally {
      dev.close();
    }
    expect(files).toBeGreaterThanOrEqual(5);

    // (The image is too large to hash; any write would change its mtime.)
    const before = statSync(img);
    const check = await fsconv(['check', '--from', 'ext4', '--to', 'vfat+rights', img], BIG);
    expect(check.status, check.stderr).toBe(1);
    expect(check.stdout + check.stderr).toMatch(/more than the 4294967295 a FAT32 boot sector can hold/);
    const after = statSync(img);
    expect([after.mtimeMs, after.ctimeMs, after.size], 'nothing written').toEqual([before.mtimeMs, before.ctimeMs, before.size]);
  }, 600_000);
});
