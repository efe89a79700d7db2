// Extent-mapped files (issue 13, first step: the extents feature), judged by the kernel: images by
// mke2fs with extents at 1, 2 and 4 KiB blocks are used through the kernel's ext4 driver (loop
// mount read-write): a large random file written, synced and deleted, then files fallocated over
// its blocks (unwritten extents over stale data), a file fallocated beyond its size, a file
// partly written inside its fallocated range, a file fragmented into an indexed extent tree,
// `cp -a` of the small tree (symlinks, hard link, FIFO, device, sparse file), deletions, xattrs
// (setfattr: one in the inode, one in a block). Then
// e2fsck -fn is clean, `ls --json` equals the kernel's view on every field, every file's bytes
// read by the reader equal the kernel's (zeros where unwritten, although stale bytes lie under
// them), and the in-place conversion passes every FAT check. Damaged extent trees are refused in
// one line, as e2fsck -fn complains of them.
import { createHash } from 'node:crypto';
import { closeSync, copyFileSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Device } from '../packages/device/src/index.js';
import { Ext2Volume, INODE_FLAGS, walkExtentTree, walkTree } from '../packages/ext2fs-reader/src/index.js';
import { e2fsckCheck } from './support/ext2-image.js';
import { expectExt4ConvertedInPlace, expectExt4ListedAsKernel } from './support/ext4-acceptance.js';
import { expectOneLineRefusal, fsconv, sha256File } from './support/fsconv.js';
import { unmount } from './support/reference-view.js';
import { run } from './support/run.js';
import { buildSmallTree } from './support/trees.js';

const BIG = { timeoutMs: 300_000, heapMiB: 512 };
let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'fsconv-ext4-extents-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Deterministic bytes (a counter through sha256), so that every block of the stale file differs from zeros. */
function noise(seed: string, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let o = 0, i = 0; o < length; i++) o += createHash('sha256').update(`${seed}:${i}`).digest().copy(out, o);
  return out;
}

/**
 * ext2 with extents only; mke2fs's default ext4 (journal, extents, flex_bg, 64bit, huge_file,
 * dir_nlink, extra_isize, metadata_csum: every structure checksummed, groups uninitialised); and
 * the ext4 of older installers, with uninit_bg's crc16 instead of metadata_csum.
 */
const EXTENTS_ONLY = ['-t', 'ext2', '-O', 'extent'];
const EXT4_DEFAULT = ['-t', 'ext4'];
const EXT4_UNINIT_BG = ['-t', 'ext4', '-O', '^metadata_csum,uninit_bg'];

/** An image with extents, used through the kernel's ext4 driver as a drive is used. */
function usedImage(name: string, blockSize: number, mkfs: readonly string[] = EXTENTS_ONLY): string {
  const img = join(work, `${name}.img`);
  run('mke2fs', ['-q', ...mkfs, '-b', String(blockSize), '-I', '256', '-F', img, '32M'], { env: { ...process.env, LC_ALL: 'C' } });
  const mnt = join(work, `${name}-mnt`);
  mkdirSync(mnt);
  run('mount', ['-t', 'ext4', '-o', 'loop', img, mnt]);
  try {
    const put = (p: string, bytes: Buffer): void => {
      const fd = openSync(join(mnt, p), 'w');
      writeSync(fd, bytes);
      closeSync(fd);
    };
    // Stale data: written, synced, deleted; the fallocated files below get its blocks.
    put('stale', noise(`${name}/stale`, 6 << 20));
    run('sync', []);
    rmSync(join(mnt, 'stale'));
    run('sync', []);
    run('fallocate', ['-l', String(3 << 20), join(mnt, 'unwritten')]);
    put('beyond', Buffer.from('kept size\n'));
    run('fallocate', ['-n', '-l', String(300 << 10), join(mnt, 'beyond')]);
    run('fallocate', ['-l', String(1 << 20), join(mnt, 'partly')]);
    run('dd', ['if=/dev/urandom', `of=${join(mnt, 'partly')}`, 'bs=1k', 'seek=100', 'count=37', 'conv=notrunc', 'status=none']);
    // Fragmented: two files written a block at a time in turn, then one deleted: more extents
    // than i_block holds, so the tree gets an index level.
    const a = openSync(join(mnt, 'fragmented'), 'w');
    const b = openSync(join(mnt, 'filler'), 'w');
    for (let i = 0; i < 300; i++) {
      writeSync(a, noise(`${name}/frag/${i}`, blockSize));
      run('sync', []);
      writeSync(b, noise(`${name}/fill/${i}`, blockSize));
      run('sync', []);
    }
    closeSync(a);
    closeSync(b);
    rmSync(join(mnt, 'filler'));
    const tree = join(work, `${name}-tree`);
    buildSmallTree(tree);
    run('cp', ['-a', tree, join(mnt, 'copied')]);
    rmSync(join(mnt, 'copied', 'empty'));
    // A directory the kernel indexes (an htree: with metadata_csum its nodes carry dx tails).
    mkdirSync(join(mnt, 'indexed'));
    for (let i = 0; i < 400; i++) put(`indexed/a-rather-long-file-name-to-fill-blocks-${i}`, Buffer.from(`${i}\n`));
    // Extended attributes through the kernel: a small one (in the inode) and one larger than the
    // inode's room (in an attribute block).
    run('setfattr', ['-n', 'user.note', '-v', 'kept on FAT', join(mnt, 'copied', 'hello.txt')]);
    run('setfattr', ['-n', 'user.big', '-v', `0x${noise(`${name}/xattr`, 600).toString('hex')}`, join(mnt, 'fragmented')]);
    run('sync', []);
  } finally {
    unmount(mnt);
  }
  return img;
}

/** The file's bytes as the reader gives them (in 1 MiB pieces), hashed. */
function readerSha256(vol: Ext2Volume, inode: Parameters<Ext2Volume['fileExtents']>[0]): string {
  const h = createHash('sha256');
  const extents = vol.fileExtents(inode);
  for (let o = 0; o < inode.size; o += 1 << 20) h.update(vol.readFile(inode, o, Math.min(1 << 20, inode.size - o), extents));
  return h.digest('hex');
}

describe('ext4 extents, used through the kernel', () => {
  const configs = [
    ...[1024, 2048, 4096].map((b) => ['ext2 with extents', EXTENTS_ONLY, 'x', b] as const),
    ...[1024, 2048, 4096].map((b) => ["ext4 with mke2fs's defaults (metadata_csum)", EXT4_DEFAULT, 'e4', b] as const),
    ['ext4 with uninit_bg instead of metadata_csum', EXT4_UNINIT_BG, 'e4u', 4096] as const,
  ];
  for (const [features, mkfs, short, blockSize] of configs) {
    it(`${features}, ${blockSize}-byte blocks: e2fsck clean, ls and bytes equal the kernel's, converted in place`, async () => {
      const tag = `${short}-b${blockSize}`;
      const img = usedImage(tag, blockSize, mkfs);
      // The kernel view has no xattrs: they are compared with the values set through the kernel, below.
      const { ours, ref, lsStdout } = await expectExt4ListedAsKernel(img);
      const xattrsOf = (p: string) => ours.find((e) => e.path === p)?.xattrs;
      expect(xattrsOf('/copied/hello.txt')).toEqual({ 'user.note': Buffer.from('kept on FAT').toString('base64') });
      expect(xattrsOf('/fragmented')).toEqual({ 'user.big': noise(`${tag}/xattr`, 600).toString('base64') });
      expect(ours.filter((e) => e.xattrs !== undefined).map((e) => e.path).sort()).toEqual(['/copied/hello.txt', '/copied/sub/hello-again.txt', '/fragmented']); // the hard link shares its inode

      // Bytes through the reader; the tree really has unwritten extents over stale bytes, and an index level.
      const dev = Device.open(img);
      let unwrittenOverStale = 0;
      let indexed = 0;
      let files = 0;
      try {
        const vol = Ext2Volume.open(dev);
        walkTree(vol, {
          entry(e) {
            if ((e.inode.flags & INODE_FLAGS.extents) === 0 || (e.inode.mode & 0o170000) !== 0o100000) return;
            files++;
            expect(readerSha256(vol, e.inode), e.path).toBe(ref.fileSha256.get(e.path));
            if (e.inode.blockBytes[6] !== 0) indexed++;
            walkExtentTree(vol, e.inode.blockBytes, 2 ** 32, { inode: e.ino }, undefined, {
              extent(_l, physical, length, unwritten) {
                if (!unwritten) return;
                for (let k = 0; k < length; k++) if (vol.readBlock(physical + k).some((x) => x !== 0)) { unwrittenOverStale++; break; }
              },
              node() {},
            });
          },
        });
      } finally {
        dev.close();
      }
      expect(files).toBeGreaterThanOrEqual(8);
      expect(unwrittenOverStale, 'unwritten extents lying over stale non-zero bytes').toBeGreaterThan(0);
      expect(indexed, 'a file with an index level in its extent tree').toBeGreaterThan(0);
      // The unwritten file reads as zeros, end to end.
      const zeros = createHash('sha256').update(Buffer.alloc(3 << 20)).digest('hex');
      expect(ref.fileSha256.get('/unwritten')).toBe(zeros);

      // In place: every FAT check, with the original as the host tree (read-only loop mount).
      await expectExt4ConvertedInPlace(img, work, tag, lsStdout, mkfs === EXTENTS_ONLY ? 'ext2' : 'ext4');
    }, 300_000);
  }

  it('metadata_csum: a checksum that does not match is refused in one line naming the structure, as e2fsck -fn complains', async () => {
    const img = usedImage('csum', 1024, EXT4_DEFAULT);
    expect(e2fsckCheck(img).status).toBe(0);
    const debugfs = (cmd: string): string => run('debugfs', ['-R', cmd, img]).stdout.toString();
    const bs = 1024;
    // Where things are, from debugfs: an inode's place, a directory leaf, an htree node, an extent
    // tree block, an xattr block.
    const imap = /located at block (\d+), offset 0x([0-9a-f]+)/.exec(debugfs('imap /copied/hello.txt'))!;
    const inodeAt = Number(imap[1]) * bs + parseInt(imap[2]!, 16);
    const copiedBlock = Number(debugfs('blocks /copied').trim().split(/\s+/)[0]);
    const indexedRoot = Number(debugfs('blocks /indexed').trim().split(/\s+/)[0]);
    const stat = debugfs('stat /fragmented');
    const treeBlock = Number(/\(ETB0\):\s*(\d+)/.exec(stat)![1]);
    const xattrBlock = Number(/File ACL: (\d+)/.exec(stat)![1]);
    expect(xattrBlock).toBeGreaterThan(0);
    const cases: Array<{ name: string; at: number; message: RegExp }> = [
      { name: 'inode', at: inodeAt + 0x20 /* i_flags' high byte area: i_version */, message: /inode \d+.*inode checksum does not match/ },
      { name: 'directory leaf', at: copiedBlock * bs + 32 /* the first name after '.' and '..' */, message: /directory block checksum does not match/ },
      { name: 'htree root', at: indexedRoot * bs + 40, message: /htree index block checksum does not match/ },
      { name: 'extent tree block', at: treeBlock * bs + 20, message: /extent block checksum does not match/ },
      { name: 'xattr block', at: xattrBlock * bs + 40, message: /extended attribute block checksum does not match/ },
      { name: 'superblock', at: 1024 + 0x78 /* volume name */, message: /superblock checksum .* does not match/ },
      { name: 'group descriptor', at: 2048 + 0x0c /* free blocks count of group 0 */, message: /group 0.*group descriptor checksum .* does not match/ },
    ];
    for (const c of cases) {
      const bad = join(work, `csum-${c.name.replace(/\W+/g, '-')}.img`);
      copyFileSync(img, bad);
      const fd = openSync(bad, 'r+');
      const byte = Buffer.alloc(1);
      readSync(fd, byte, 0, 1, c.at);
      byte[0] = byte[0]! ^ 0x5a;
      writeSync(fd, byte, 0, 1, c.at);
      closeSync(fd);
      expect(e2fsckCheck(bad).status, `${c.name}: e2fsck -fn complains too`).not.toBe(0);
      const before = sha256File(bad);
      for (const args of [['ls', bad], ['--from', 'ext4', '--to', 'vfat+rights', bad, '--yes', '-q']]) {
        const r = await fsconv(args, BIG);
        expect(expectOneLineRefusal(r), `${c.name}: ${args[0]}`).toMatch(c.message);
      }
      expect(sha256File(bad), `${c.name}: nothing written`).toBe(before);
    }
  }, 300_000);

  it('a damaged extent tree is refused in one line, as e2fsck -fn complains, and nothing is written', async () => {
    const img = usedImage('damaged', 1024);
    const cases: Array<{ name: string; sif: string[]; message: RegExp }> = [
      { name: 'no header', sif: ['block[0]', '0'], message: /inode \d+.*i_block: no extent header/ },
      // i_block[5] is the first extent's start (low 32 bits) in a depth-0 root.
      { name: 'outside the filesystem', sif: ['block[5]', '2147483647'], message: /extent at logical 0 lies at blocks 2147483647\.\..*outside the filesystem/ },
      // i_block[1] holds eh_max (low 16 bits) and eh_depth: depth 9.
      { name: 'too deep', sif: ['block[1]', String(4 | (9 << 16))], message: /extent tree depth 9, more than 5/ },
    ];
    for (const c of cases) {
      const bad = join(work, `damaged-${c.name.replace(/\W+/g, '-')}.img`);
      copyFileSync(img, bad);
      run('debugfs', ['-w', '-R', `sif /copied/hello.txt ${c.sif.join(' ')}`, bad]);
      expect(e2fsckCheck(bad).status, `${c.name}: e2fsck -fn complains too`).not.toBe(0);
      const before = sha256File(bad);
      for (const args of [['ls', bad], ['--from', 'ext2', '--to', 'vfat+rights', bad, '--yes', '-q']]) {
        const r = await fsconv(args, BIG);
        expect(expectOneLineRefusal(r), `${c.name}: ${args[0]}`).toMatch(c.message);
      }
      expect(sha256File(bad), `${c.name}: nothing written`).toBe(before);
      // (the check reads the whole image: readFileSync keeps the comparison honest about size)
      expect(readFileSync(bad).length).toBe(32 << 20);
    }
  }, 300_000);
});
