// Builds real ext2 images from a host directory tree with `mke2fs -d`, and checks them with
// `e2fsck -fn`.
//
// What mke2fs 1.47.0 does (observed):
// - `-d` copies owners (incl. the high 16 bits), modes, links, symlinks, fifos, sockets and
//   device nodes (old and new device encodings), and keeps holes: only blocks holding data are
//   allocated, also across the DIND and TIND levels. It sorts each directory (byte order under
//   LC_ALL=C, which we set), so inode numbers do not depend on the host's readdir order.
// - It also turns all-zero data blocks into holes (a 1 KiB-block image of a host file with 4 KiB
//   allocation units maps exactly the 1 KiB blocks that hold non-zero bytes).
// - Times: atime and mtime are copied as 32-bit signed seconds; ctime is the *host* ctime (which
//   no one can set: not reproducible). With 256-byte inodes nanoseconds and epoch bits are
//   dropped (2100 becomes 1963) and atime comes from a stat made after reading the file, so on
//   a relatime host it becomes "now". Hence: we run mke2fs -d (and our own walk) on a read-only
//   noatime bind mount of the tree, and for inodes > 128 bytes set atime/mtime afterwards with
//   `debugfs -w` (`sif <ino> atime @0xLO` + `atime_extra 0x(nsec<<2|epoch)`), exactly as on the
//   host (exactTimes: false turns that off). The root inode's times are the mkfs time with
//   128-byte inodes.
// - `-r 0` (revision 0): no -O features are accepted ("Filesystem features not supported with
//   revision 0 filesystems"); `-I` is silently ignored (inodes are 128 bytes); `-O ^filetype`
//   is a no-op and accepted. We pass neither -I nor -O with rev0.
// - `-b 65536` works with warnings ("65536-byte blocks too big for system (max 4096), forced to
//   continue"); the kernel will not mount it, e2fsck and debugfs read it.
// - It prints "128-byte inodes cannot handle dates beyond 2038 and are deprecated" for -I 128.
import { existsSync, lstatSync, mkdtempSync, readdirSync, rmdirSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { debugfsBatch, debugfsWalk, unmount } from './reference-view.js';
import { run, tryRun } from './run.js';

export interface Ext2ImageOptions {
  /** Source directory copied into the image with mke2fs -d. */
  src: string;
  /** Image file to create (replaced if it exists). */
  out: string;
  blockSize: 1024 | 2048 | 4096 | 65536;
  /** Default 256; ignored (must be absent or 128) with rev0. */
  inodeSize?: 128 | 256;
  /** Revision 0 filesystem (-r 0): no features, 128-byte inodes. */
  rev0?: boolean;
  /** No file types in directory entries (-O ^filetype). */
  noFiletype?: boolean;
  /** Index directories afterwards with e2fsck -fyD (dir_index must be on, i.e. not rev0). */
  htree?: boolean;
  /** Image size in bytes (default: from the tree, with a generous margin). */
  sizeBytes?: number;
  /** Inode count (-N); default: from the tree. */
  inodes?: number;
  label?: string;
  /** Set atime/mtime exactly as on the host when inodes are > 128 bytes (default true). */
  exactTimes?: boolean;
  /**
   * A fixed "now" (seconds): E2FSPROGS_FAKE_TIME for mke2fs/e2fsck (superblock times, lost+found,
   * reserved inodes), and every inode's ctime (mke2fs -d would copy the host ctimes).
   */
  fakeTime?: number;
  /** Extra mke2fs -E options (comma-separated), e.g. 'hash_seed=...'. */
  extended?: string;
  /** Filesystem UUID (-U). */
  uuid?: string;
  /** mke2fs -t (default ext2: ext4 brings mke2fs.conf's ext4 features) and -O feature edits, as '^metadata_csum'. */
  fsType?: 'ext2' | 'ext3' | 'ext4';
  features?: string[];
}

interface TreeStats {
  entries: number;
  blocks: number;
}

/** Walks the source tree (raw byte names) and estimates image blocks and inodes. */
function treeStats(src: string, bs: number): TreeStats {
  const ptrs = bs / 4;
  let entries = 0;
  let blocks = 0;
  const seen = new Set<string>();
  const indirect = (n: number): number => {
    if (n <= 12) return 0;
    let extra = 1; // IND
    const beyondInd = n - 12 - ptrs;
    if (beyondInd > 0) extra += 1 + Math.ceil(Math.min(beyondInd, ptrs * ptrs) / ptrs);
    const beyondDind = beyondInd - ptrs * ptrs;
    if (beyondDind > 0) extra += 1 + Math.ceil(beyondDind / (ptrs * ptrs)) + Math.ceil(beyondDind / ptrs);
    return extra;
  };
  const walk = (dir: Buffer): void => {
    const names = readdirSync(dir, { encoding: 'buffer' });
    let dirBytes = 24;
    for (const name of names) {
      dirBytes += (8 + name.length + 3) & ~3;
      const full = Buffer.concat([dir, Buffer.from('/'), name]);
      const st = lstatSync(full);
      const key = `${st.dev}:${st.ino}`;
      entries++;
      if (st.isDirectory()) {
        walk(full);
        continue;
      }
      if (seen.has(key)) continue;
      seen.add(key);
      if (st.isFile()) {
        // Each allocated host block lands in at most one image block (or fills 1 KiB/2 KiB ones).
        const hostBlk = Math.max(512, st.blksize || 4096);
        const allocated = st.blocks * 512;
        const n = Math.min(Math.ceil(st.size / bs), Math.ceil(allocated / Math.min(bs, hostBlk)));
        blocks += n + indirect(Math.ceil(st.size / bs));
      } else if (st.isSymbolicLink()) {
        if (st.size >= 60) blocks += 1;
      }
    }
    const n = Math.ceil(dirBytes / bs) + 1; // +1 for the slack left by rec_len packing
    blocks += n + indirect(n);
  };
  walk(Buffer.from(src, 'utf8'));
  return { entries, blocks };
}

/** Image size and inode count for a tree: generous, so mke2fs -d never runs out of space. */
function defaultGeometry(src: string, bs: number, inodeSize: number): { size: number; inodes: number } {
  const st = treeStats(src, bs);
  const inodes = Math.max(64, Math.ceil((st.entries + 32) * 1.25));
  const dataBytes = st.blocks * bs;
  const inodeBytes = inodes * inodeSize;
  // Metadata per group (bitmaps, GDT, reserved GDT for resize_inode) is covered by the fixed part.
  let size = Math.ceil((dataBytes + inodeBytes) * 1.3) + 256 * bs + 4 * 1024 * 1024;
  size = Math.ceil(size / bs) * bs;
  return { size: Math.max(size, 64 * bs), inodes };
}

/** Result of `e2fsck -fn`: status 0 means clean. */
export function e2fsckCheck(image: string): { status: number; output: string } {
  const r = tryRun('e2fsck', ['-fn', image]);
  return { status: r.status, output: `${r.stdout.toString('utf8')}${r.stderr.toString('utf8')}` };
}

/** Throws with e2fsck's output unless `e2fsck -fn` finds the image clean. */
export function assertE2fsckClean(image: string): void {
  const r = e2fsckCheck(image);
  if (r.status !== 0) throw new Error(`e2fsck -fn ${image} is not clean (status ${r.status}):\n${r.output}`);
}

/**
 * Runs fn on a read-only, noatime bind mount of `src`, so that reading the tree (mke2fs -d, our
 * own walk) does not change the atimes the tree was built with (relatime would: the built
 * atimes are older than the host ctimes).
 */
export function withReadOnlyView<T>(src: string, fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'fsconv-src-'));
  try {
    run('mount', ['--bind', src, dir]);
    try {
      run('mount', ['-o', 'remount,bind,ro,noatime', dir]);
      return fn(dir);
    } finally {
      unmount(dir);
    }
  } finally {
    rmdirSync(dir);
  }
}

/**
 * Creates an ext2 image from `opts.src` with mke2fs -d, optionally htree-indexes it, restores
 * exact atime/mtime (inodes > 128 bytes), and checks that e2fsck -fn finds it clean.
 * Returns the image path.
 */
export function makeExt2Image(opts: Ext2ImageOptions): string {
  const bs = opts.blockSize;
  if (![1024, 2048, 4096, 65536].includes(bs)) throw new Error(`makeExt2Image: unsupported block size ${bs}`);
  if (opts.rev0 === true && opts.inodeSize !== undefined && opts.inodeSize !== 128) {
    throw new Error('makeExt2Image: revision 0 filesystems have 128-byte inodes');
  }
  if (opts.rev0 === true && opts.htree === true) throw new Error('makeExt2Image: htree needs dir_index, which rev0 lacks');
  const inodeSize = opts.rev0 === true ? 128 : opts.inodeSize ?? 256;
  withReadOnlyView(opts.src, (src) => mkfs(opts, src, inodeSize));
  if (opts.htree === true) {
    // 0: nothing to do, 1: directories were (re)indexed. Anything else is a failure.
    const env = opts.fakeTime !== undefined ? { E2FSPROGS_FAKE_TIME: String(opts.fakeTime) } : {};
    run('e2fsck', ['-fyD', opts.out], { okStatus: [0, 1], env });
  }
  assertE2fsckClean(opts.out);
  return opts.out;
}

function mkfs(opts: Ext2ImageOptions, srcDir: string, inodeSize: number): void {
  const bs = opts.blockSize;
  const geo = defaultGeometry(srcDir, bs, inodeSize);
  const size = opts.sizeBytes ?? geo.size;
  if (size % 1024 !== 0) throw new Error('makeExt2Image: sizeBytes must be a multiple of 1024');
  const inodes = opts.inodes ?? geo.inodes;

  const args = ['-q', '-t', opts.fsType ?? 'ext2', '-b', String(bs)];
  if (opts.features !== undefined && opts.features.length > 0) args.push('-O', opts.features.join(','));
  if (opts.rev0 === true) args.push('-r', '0');
  else args.push('-I', String(inodeSize));
  args.push('-N', String(inodes));
  args.push('-d', srcDir);
  args.push('-E', ['root_owner=0:0', ...(opts.extended !== undefined ? [opts.extended] : [])].join(','));
  if (opts.noFiletype === true && opts.rev0 !== true) args.push('-O', '^filetype');
  if (opts.label !== undefined) args.push('-L', opts.label);
  if (opts.uuid !== undefined) args.push('-U', opts.uuid);
  args.push('-F', opts.out, `${size / 1024}k`);

  if (existsSync(opts.out)) unlinkSync(opts.out);
  const env: Record<string, string> = { LC_ALL: 'C' };
  if (opts.fakeTime !== undefined) env['E2FSPROGS_FAKE_TIME'] = String(opts.fakeTime);
  run('mke2fs', args, { env });

  const exact = inodeSize > 128 && opts.exactTimes !== false;
  if (exact || opts.fakeTime !== undefined) fixImageTimes(opts.out, srcDir, { exact, ctime: opts.fakeTime });
}

function lexists(p: Buffer): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/** The (i_time, i_time_extra) words that encode an exact time the way the kernel decodes them. */
export function encodeExtraTime(sec: bigint, nsec: bigint): { lo: number; extra: number } {
  const lo = BigInt.asIntN(32, sec);
  const epoch = (sec - lo) >> 32n;
  if (epoch < 0n || epoch > 3n) throw new Error(`time ${sec} cannot be stored in an ext2 inode`);
  return { lo: Number(BigInt.asUintN(32, lo)), extra: Number((nsec << 2n) | epoch) };
}

export interface FixTimesOptions {
  /** Set atime/mtime from the host tree, nanoseconds and epoch bits included (inodes > 128 bytes). */
  exact: boolean;
  /** Set every inode's ctime (root, lost+found and the tree's) to this many seconds since the epoch. */
  ctime?: number;
}

/**
 * Fixes the times of an image made with mke2fs -d from `src`, matching entries by raw name
 * bytes, in one debugfs -w process: exact atime/mtime from the host, and/or a fixed ctime.
 */
export function fixImageTimes(image: string, src: string, opts: FixTimesOptions): void {
  const commands: string[] = [];
  const done = new Set<number>();
  const srcBuf = Buffer.from(src, 'utf8');
  const add = (ino: number, full: Buffer | undefined): void => {
    if (done.has(ino)) return;
    done.add(ino);
    if (opts.ctime !== undefined) {
      const { lo, extra } = encodeExtraTime(BigInt(opts.ctime), 0n);
      commands.push(`sif <${ino}> ctime @0x${lo.toString(16)}`);
      if (opts.exact) commands.push(`sif <${ino}> ctime_extra 0x${extra.toString(16)}`);
    }
    if (!opts.exact || full === undefined) return;
    const st = lstatSync(full, { bigint: true });
    for (const [field, ns] of [['atime', st.atimeNs], ['mtime', st.mtimeNs]] as const) {
      let sec = ns / 1_000_000_000n;
      let nsec = ns % 1_000_000_000n;
      if (nsec < 0n) {
        sec -= 1n;
        nsec += 1_000_000_000n;
      }
      const { lo, extra } = encodeExtraTime(sec, nsec);
      commands.push(`sif <${ino}> ${field} @0x${lo.toString(16)}`);
      commands.push(`sif <${ino}> ${field}_extra 0x${extra.toString(16)}`);
    }
  };
  add(2, srcBuf);
  for (const e of debugfsWalk(image)) {
    const full = Buffer.concat([srcBuf, ...e.components.flatMap((c) => [Buffer.from('/'), c])]);
    if (!lexists(full)) {
      if (e.path === '/lost+found') {
        add(e.ino, undefined); // created by mke2fs: ctime only
        continue;
      }
      throw new Error(`fixImageTimes: ${e.path} is in the image but not in ${src}`);
    }
    add(e.ino, full);
  }
  if (commands.length > 0) debugfsBatch(image, commands, { write: true });
}

/**
 * The blocks an ext2 does not use, from `dumpe2fs` (not our reader): `free[b] === 1` for a free
 * block. `offset`: where the ext2 starts in the image (a partition; e2fsprogs' `IMG?offset=N`).
 */
export function ext2FreeBlocks(img: string, offset = 0): { blockSize: number; free: Uint8Array } {
  const out = run('dumpe2fs', [offset === 0 ? img : `${img}?offset=${offset}`]).stdout.toString();
  const blockSize = Number(/^Block size:\s+(\d+)/m.exec(out)![1]);
  const count = Number(/^Block count:\s+(\d+)/m.exec(out)![1]);
  const free = new Uint8Array(count);
  for (const m of out.matchAll(/^\s+Free blocks: (.*)$/gm)) {
    for (const range of m[1]!.split(',').map((r) => r.trim()).filter((r) => r !== '')) {
      const [a, b] = range.split('-').map(Number);
      for (let i = a!; i <= (b ?? a!); i++) free[i] = 1;
    }
  }
  return { blockSize, free };
}
