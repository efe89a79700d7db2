// The rest of the ext4 family's layouts and metadata files (issue 13): meta_bg (descriptor blocks
// in their meta groups), sparse_super2 (two superblock backups only), large_dir, quota (hidden
// quota inodes), orphan_file, mmp (multi-mount protection) and fast_commit. Each image is made by
// mke2fs, used read-write through the kernel's ext4 driver (which updates quota, fills and empties
// the orphan file, writes fast commits on fsync and stamps the MMP block), unmounted, and then:
// e2fsck -fn is clean, `info` says ext4, `ls --json` equals the kernel's view on every field,
// and the in-place conversion passes every FAT check. (Quota alone is written by mke2fs -d and
// judged by the kernel read-only: this machine's kernel has no CONFIG_QUOTA.) The states these features exist to flag are
// refused in one line, with nothing written: a volume MMP says is in use, an orphan file listing an
// inode the kernel had not freed yet (made by the kernel itself, frozen mid-use), a garbage quota
// inode number.
import { closeSync, copyFileSync, fsyncSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { e2fsckCheck } from './support/ext2-image.js';
import { expectExt4ReadAndConverted } from './support/ext4-acceptance.js';
import { REPO_ROOT, expectOneLineRefusal, fsconv, sha256File } from './support/fsconv.js';
import { unmount } from './support/reference-view.js';
import { run } from './support/run.js';
import { buildSmallTree } from './support/trees.js';

const BIG = { timeoutMs: 300_000, heapMiB: 512 };
const C = { env: { ...process.env, LC_ALL: 'C' } };
let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'fsconv-ext4-layouts-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const dumpe2fsHeader = (img: string): string => run('dumpe2fs', ['-h', img], C).stdout.toString();
const dumpe2fs = (img: string): string => run('dumpe2fs', [img], C).stdout.toString();

/** Makes the image and uses it through the kernel; `during` runs with the volume mounted at `mnt`. */
function usedImage(name: string, mkfs: readonly string[], size: string, during?: (mnt: string) => void): string {
  const img = join(work, `${name}.img`);
  run('mke2fs', ['-q', '-t', 'ext4', ...mkfs, '-F', img, size], C);
  const mnt = join(work, `${name}-mnt`);
  mkdirSync(mnt);
  run('mount', ['-t', 'ext4', '-o', 'loop', img, mnt]);
  try {
    const tree = join(work, `${name}-tree`);
    buildSmallTree(tree);
    run('cp', ['-a', tree, join(mnt, 'copied')]);
    // Written and fsynced one by one (with fast_commit each fsync is a fast commit), some deleted.
    for (let i = 0; i < 40; i++) {
      const fd = openSync(join(mnt, `f${i}`), 'w');
      writeSync(fd, Buffer.alloc(1000 + 4000 * i, i));
      fsyncSync(fd);
      closeSync(fd);
    }
    for (let i = 0; i < 40; i += 3) rmSync(join(mnt, `f${i}`));
    // A file deleted while open: the kernel lists it in the orphan list (the orphan file, with
    // orphan_file) until it is closed, then frees it.
    const held = openSync(join(mnt, 'held'), 'w');
    writeSync(held, Buffer.alloc(1 << 20, 7));
    rmSync(join(mnt, 'held'));
    run('sync', []);
    closeSync(held);
    run('setfattr', ['-n', 'user.note', '-v', 'kept', join(mnt, 'copied', 'hello.txt')]);
    during?.(mnt);
    run('sync', []);
  } finally {
    unmount(mnt);
  }
  return img;
}

const expectReadAndConverted = async (img: string, tag: string): Promise<void> => {
  await expectExt4ReadAndConverted(img, work, tag);
};

/** Refused in one line matching `message` by ls and by the conversion, and nothing written. */
async function expectRefused(img: string, message: RegExp): Promise<void> {
  const before = sha256File(img);
  for (const args of [['ls', img], ['--from', 'ext4', '--to', 'vfat+rights', img, '--yes', '-q']]) {
    expect(expectOneLineRefusal(await fsconv(args, BIG)), args[0]).toMatch(message);
  }
  expect(sha256File(img), 'nothing written').toBe(before);
}

describe('ext4 layouts and metadata files, used through the kernel', () => {
  it('meta_bg (1 KiB blocks, 4 meta groups): descriptor blocks in their meta groups', async () => {
    const img = usedImage('metabg', ['-b', '1024', '-O', 'meta_bg,^resize_inode'], '512M');
    const dump = dumpe2fs(img);
    expect(dumpe2fsHeader(img)).toMatch(/features:.*\bmeta_bg\b/);
    // Descriptor blocks really lie outside the primary table: in groups 16, 17, 31, 32, ...
    expect(dump).toMatch(/Group 16: .*\n\s+Group descriptor at 131073/);
    expect(dump).toMatch(/Group 17: .*\n\s+Backup superblock at 139265, Group descriptor at 139266|Group 17: .*\n\s+Group descriptor at 139265/);
    await expectReadAndConverted(img, 'metabg');
  }, 300_000);

  it('sparse_super2 (2 KiB blocks): superblock backups only in the two named groups', async () => {
    const img = usedImage('sparse2', ['-b', '2048', '-O', 'sparse_super2'], '256M');
    const header = dumpe2fsHeader(img);
    expect(header).toMatch(/features:.*\bsparse_super2\b/);
    const backups = [...dumpe2fs(img).matchAll(/Backup superblock at (\d+)/g)];
    expect(backups.length, 'backup superblocks (sparse_super would put 4 in 16 groups)').toBe(2);
    await expectReadAndConverted(img, 'sparse2');
  }, 300_000);

  it('orphan_file, mmp, fast_commit and large_dir together (4 KiB blocks)', async () => {
    const img = usedImage('meta-files', ['-O', 'orphan_file,mmp,fast_commit,large_dir'], '128M', (mnt) => {
      mkdirSync(join(mnt, 'big-dir'));
      for (let i = 0; i < 600; i++) closeSync(openSync(join(mnt, 'big-dir', `an-entry-with-a-long-name-${i}`), 'w'));
    });
    const header = dumpe2fsHeader(img);
    for (const f of ['orphan_file', 'mmp', 'fast_commit', 'large_dir']) expect(header).toMatch(new RegExp(`features:.*\\b${f}\\b`));
    expect(header).toMatch(/Orphan file inode:\s+\d+/);
    expect(header).toMatch(/mmp_sequence: 0xff4d4d50/); // left clean by the kernel
    expect(header, 'the kernel checksums the journal (csum v3 verified by the reader)').toMatch(/Journal features:.*journal_checksum_v3/);
    await expectReadAndConverted(img, 'meta-files');
  }, 300_000);

  // This machine's kernel has no CONFIG_QUOTA: it mounts a quota volume read-only only. So mke2fs
  // -d writes the tree (and the quota usage), and the kernel's read-only view is the judge.
  it('quota (user and group quota inodes 3 and 4, 1 KiB blocks): metadata, not files', async () => {
    const img = quotaImage('quota-read');
    const header = dumpe2fsHeader(img);
    expect(header).toMatch(/features:.*\bquota\b/);
    expect(header).toMatch(/User quota inode:\s+3/);
    expect(header).toMatch(/Group quota inode:\s+4/);
    await expectReadAndConverted(img, 'quota-read');
  }, 300_000);
});

function quotaImage(name: string): string {
  const tree = join(work, `${name}-tree`);
  buildSmallTree(tree);
  const img = join(work, `${name}.img`);
  // tune2fs -O quota after mke2fs -d, as an existing drive gets quota (mke2fs 1.47.0 -O quota -d
  // records the usage before -d adds the tree, which e2fsck then finds inconsistent).
  run('mke2fs', ['-q', '-t', 'ext4', '-b', '1024', '-d', tree, '-F', img, '32M'], C);
  run('tune2fs', ['-O', 'quota', img], C);
  return img;
}

describe('the states those features flag are refused in one line, nothing written, as e2fsck -fn complains', () => {
  it('mmp says the volume is in use (copied while the kernel has it mounted), or being checked', async () => {
    // In use: the kernel's MMP thread stamps a live sequence while the volume is mounted.
    const img = join(work, 'mmp.img');
    run('mke2fs', ['-q', '-t', 'ext4', '-O', 'mmp', '-F', img, '32M'], C);
    const mnt = join(work, 'mmp-mnt');
    mkdirSync(mnt);
    const live = join(work, 'mmp-live.img');
    run('mount', ['-t', 'ext4', '-o', 'loop', img, mnt]);
    try {
      run('cp', ['-a', join(REPO_ROOT, 'packages', 'base', 'src'), join(mnt, 'copied')]);
      run('sync', []);
      copyFileSync(img, live);
    } finally {
      unmount(mnt);
    }
    // (e2fsck -fn waits 42 s for the sequence to move, then only warns that it skips the journal:
    // a copy is as a system that crashed while mounted. The kernel too waits, then takes it over.
    // Refusing is the safe side: fsconv cannot tell a copy from a volume in use.)
    const liveHeader = dumpe2fsHeader(live);
    expect(liveHeader).not.toMatch(/mmp_sequence: 0xff4d4d50/);
    expect(liveHeader).toMatch(/features:.*\bneeds_recovery\b/);
    await expectRefused(live, /multi-mount protection says the volume is in use on node ".*" \(device ".*"\) \(sequence 0x[0-9a-f]+\): unmount it there/);
    // Being checked: e2fsck's sequence, written over the clean one (no metadata_csum, so the MMP
    // block carries no checksum to redo; debugfs cannot do it: it leaves the block clean on exit).
    const fsckImg = join(work, 'mmp-fsck.img');
    run('mke2fs', ['-q', '-t', 'ext4', '-O', 'mmp,^metadata_csum', '-F', fsckImg, '32M'], C);
    const fsckHeader = dumpe2fsHeader(fsckImg);
    const mmpBlock = Number(/MMP block number:\s+(\d+)/.exec(fsckHeader)![1]);
    const blockSize = Number(/Block size:\s+(\d+)/.exec(fsckHeader)![1]);
    const fd = openSync(fsckImg, 'r+');
    const seq = Buffer.alloc(4);
    seq.writeUInt32LE(0xe24d4d50);
    writeSync(fd, seq, 0, 4, mmpBlock * blockSize + 4);
    closeSync(fd);
    expect(dumpe2fsHeader(fsckImg)).toMatch(/mmp_sequence: 0xe24d4d50/);
    expect(e2fsckCheck(fsckImg).status, 'e2fsck -fn refuses it too').not.toBe(0);
    await expectRefused(fsckImg, /multi-mount protection says e2fsck is checking the volume/);
  }, 300_000);

  it('the orphan file lists a file deleted while open (the kernel frozen mid-use)', async () => {
    const img = join(work, 'orphan.img');
    run('mke2fs', ['-q', '-t', 'ext4', '-O', 'orphan_file', '-F', img, '32M'], C);
    const mnt = join(work, 'orphan-mnt');
    mkdirSync(mnt);
    const frozen = join(work, 'orphan-frozen.img');
    run('mount', ['-t', 'ext4', '-o', 'loop', img, mnt]);
    try {
      const fd = openSync(join(mnt, 'held'), 'w');
      writeSync(fd, Buffer.alloc(1 << 20, 3));
      rmSync(join(mnt, 'held'));
      run('sync', []);
      run('fsfreeze', ['-f', mnt]);
      try {
        copyFileSync(img, frozen);
      } finally {
        run('fsfreeze', ['-u', mnt]);
        closeSync(fd);
      }
    } finally {
      unmount(mnt);
    }
    expect(dumpe2fsHeader(frozen)).toMatch(/features:.*\borphan_present\b/);
    // Frozen, the journal is flushed (no needs_recovery) and orphan_present says an orphan is listed: refused by name.
    expect(dumpe2fsHeader(frozen)).not.toMatch(/features:.*\bneeds_recovery\b/);
    await expectRefused(frozen, /orphan_present: files deleted while still open/);
    // With the flag cleared, the orphan file itself must say it.
    run('debugfs', ['-w', '-R', 'feature -orphan_present', frozen], C);
    expect(e2fsckCheck(frozen).output).toMatch(/Orphan file .* is not clean/);
    await expectRefused(frozen, /the orphan file lists inode \d+, deleted while open and not yet freed/);
  }, 300_000);

  it('a garbage quota inode number', async () => {
    const img = quotaImage('quota');
    for (const [field, value, message] of [
      ['usr_quota_inum', '8', /the user quota inode number 8 is invalid/],
      ['grp_quota_inum', '999999', /the group quota inode number 999999 is invalid/],
      ['usr_quota_inum', '8000', /names inode 8000 as the user quota, but it is not in use/],
    ] as const) {
      const bad = join(work, `quota-${field}-${value}.img`);
      copyFileSync(img, bad);
      run('debugfs', ['-w', '-R', `ssv ${field} ${value}`, bad], C);
      expect(e2fsckCheck(bad).status, `${field}=${value}: e2fsck -fn complains too`).not.toBe(0);
      await expectRefused(bad, message);
    }
  }, 300_000);
});
