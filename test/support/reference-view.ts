// Reference views of an ext2 image, in the `ls --json` shape (LsEntry) plus a sha256 of every
// regular file's content, to compare our reader against:
//
// - kernelView: the Linux kernel's view through a read-only loop mount (needs root).
// - debugfsView: e2fsprogs' view (debugfs `ls -p` per directory, `stat` per inode; file and slow
//   symlink content read from the image at the block numbers debugfs reports, holes as zeros).
// - referenceView: the kernel when the mount works, else debugfs (e.g. 64 KiB blocks, which the
//   kernel refuses on 4 KiB-page machines: "EXT4-fs (loopN): bad block size 65536").
//
// What the kernel does with times (observed on Linux 6.18, e2fsprogs 1.47.0; ext2 images are
// mounted by the ext4 driver, "mounting ext2 file system using the ext4 subsystem"):
// - 128-byte inodes: the 32-bit time fields are signed: 0x80000000 is 1901-12-13, 0xfffeae80 is
//   -86400; no nanoseconds, nothing after 2038-01-19 03:14:07.
// - 256-byte inodes (i_extra_isize 32): the kernel honours the *_extra fields even though the
//   filesystem has no extra_isize feature: nanoseconds (extra >> 2) and the two epoch bits
//   (seconds = (s32)i_time + (extra & 3) << 32), so 2100-01-01 and 2446 show correctly and
//   -1.5 s shows as -2 s + 500000000 ns. debugfs prints the same two words as `0xTIME:EXTRA`,
//   decoded here the kernel's way (and the test checks they agree).
// - mke2fs -d (1.47.0) does not carry these over: with 256-byte inodes it stores mtime and atime
//   truncated to 32 bits (2100 becomes 1963) without nanoseconds, and takes atime from a stat
//   made *after* reading the file (so a relatime host leaks "now" in); ctime is always the host
//   ctime. makeExt2Image therefore reads the tree through a noatime bind mount and sets atime/mtime
//   exactly afterwards (see ext2-image.ts).
// - A kernel using the standalone fs/ext2 driver instead would ignore the extra fields (32-bit
//   seconds, no nanoseconds); the support test would then see the two views disagree on
//   /times/y2100 and /times/nanos.
import { createHash } from 'node:crypto';
import {
  closeSync, lstatSync, mkdtempSync, openSync, readSync, readdirSync, readlinkSync, rmSync, rmdirSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeName, sortEntries, typeFromMode, type LsEntry } from './ls-entry.js';
import { RunError, run, tryRun } from './run.js';

export interface View {
  /** Every entry but the root, sorted with sortEntries. */
  entries: LsEntry[];
  /** sha256 (hex) of the content of every regular file, by path. */
  fileSha256: Map<string, string>;
}

export interface ReferenceView extends View {
  source: 'kernel' | 'debugfs';
  /** Why the kernel view was not used (the mount error), when source is 'debugfs'. */
  kernelError?: string;
}

// ---------------------------------------------------------------------------------------------
// Small helpers

const NS = 1_000_000_000n;

/** floor(ns / 1e9) for a bigint nanosecond count (also for negative times). */
export function floorSeconds(ns: bigint): number {
  let q = ns / NS;
  if (ns % NS !== 0n && ns < 0n) q -= 1n;
  return Number(q);
}

/** Major and minor from a Linux dev_t (glibc's gnu_dev_major/gnu_dev_minor encoding). */
export function splitDev(dev: bigint): [number, number] {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return [Number(major), Number(minor)];
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function sha256OfFd(fd: number): string {
  const h = createHash('sha256');
  const buf = Buffer.allocUnsafe(4 * 1024 * 1024);
  let n: number;
  while ((n = readSync(fd, buf, 0, buf.length, null)) > 0) h.update(n === buf.length ? buf : buf.subarray(0, n));
  return h.digest('hex');
}

// ---------------------------------------------------------------------------------------------
// Kernel view

/**
 * The kernel's view: mounts `image` read-only (loop, noatime) on a fresh temporary directory,
 * walks it with raw name bytes and exact times, and unmounts (also on error).
 * Throws a RunError when the mount fails.
 */
export function kernelView(image: string): View {
  const dir = mkdtempSync(join(tmpdir(), 'fsconv-mnt-'));
  let mounted = false;
  try {
    run('mount', ['-o', 'loop,ro,noatime', image, dir]);
    mounted = true;
    return walkMounted(dir);
  } finally {
    if (mounted) unmount(dir);
    rmdirSync(dir);
  }
}

/** The same view of a directory tree that is already on the host (raw names, exact times). */
export function directoryView(dir: string): View {
  return walkMounted(dir);
}

/** Unmounts `dir`, retrying a few times while it is busy. */
export function unmount(dir: string): void {
  let last: RunError | undefined;
  for (let attempt = 0; attempt < 20; attempt++) {
    const r = tryRun('umount', [dir]);
    if (r.status === 0) return;
    last = new RunError(`umount ${dir} failed (status ${r.status}): ${r.stderr.toString('utf8').trim()}`, r);
    sleepMs(100 * (attempt + 1));
  }
  throw last!;
}

// Reading a huge hole through the kernel costs seconds per GiB (every page is zero-filled into the
// page cache): for big, mostly-unallocated files read only the ranges the kernel maps (FIEMAP,
// via filefrag) and hash zeros for the rest. The debugfs view computes the same hash from
// debugfs' block map, and the support test checks that the two agree.
function mostlyHoles(st: { size: bigint; blocks: bigint }): boolean {
  return st.size >= 64n * 1024n * 1024n && st.blocks * 512n * 2n < st.size;
}

/** Byte ranges [start, end) that hold data according to the kernel (filefrag -v), or undefined. */
function kernelDataRanges(full: Buffer): Array<[number, number]> | undefined {
  const path = full.toString('utf8');
  if (!Buffer.from(path, 'utf8').equals(full)) return undefined; // filefrag needs a string path
  const out = run('filefrag', ['-v', path]).stdout.toString('utf8');
  const unit = /\(\d+ blocks? of (\d+) bytes\)/.exec(out);
  if (unit === null) return undefined;
  const bs = Number(unit[1]);
  const ranges: Array<[number, number]> = [];
  for (const m of out.matchAll(/^\s*\d+:\s+(\d+)\.\.\s*(\d+):\s+\d+\.\.\s*\d+:\s+\d+:/gm)) {
    ranges.push([Number(m[1]) * bs, (Number(m[2]) + 1) * bs]);
  }
  if (!/ extents? found/.test(out)) return undefined;
  ranges.sort((a, b) => a[0] - b[0]);
  return ranges;
}

function sha256OfRanges(fd: number, size: number, ranges: Array<[number, number]>): string {
  const h = createHash('sha256');
  const zeros = Buffer.alloc(4 * 1024 * 1024);
  const buf = Buffer.allocUnsafe(4 * 1024 * 1024);
  let pos = 0;
  const zerosUntil = (end: number): void => {
    while (pos < end) {
      const k = Math.min(end - pos, zeros.length);
      h.update(zeros.subarray(0, k));
      pos += k;
    }
  };
  for (const [a, b0] of ranges) {
    const b = Math.min(b0, size);
    if (b <= pos) continue;
    zerosUntil(Math.min(a, size));
    while (pos < b) {
      const k = Math.min(b - pos, buf.length);
      const n = readSync(fd, buf, 0, k, pos);
      if (n !== k) throw new Error(`short read at ${pos}`);
      h.update(buf.subarray(0, n));
      pos += n;
    }
  }
  zerosUntil(size);
  return h.digest('hex');
}

function walkMounted(mountDir: string): View {
  const entries: LsEntry[] = [];
  const fileSha256 = new Map<string, string>();
  const rootBuf = Buffer.from(mountDir, 'utf8');
  const walk = (dirBuf: Buffer, dirPath: string): void => {
    const names = readdirSync(dirBuf, { encoding: 'buffer' });
    for (const name of names) {
      const full = Buffer.concat([dirBuf, Buffer.from('/'), name]);
      const path = `${dirPath}/${decodeName(name)}`;
      const st = lstatSync(full, { bigint: true });
      const mode = Number(st.mode);
      const type = typeFromMode(mode);
      const e: LsEntry = {
        path,
        type,
        mode,
        uid: Number(st.uid),
        gid: Number(st.gid),
        atime: floorSeconds(st.atimeNs),
        mtime: floorSeconds(st.mtimeNs),
        ctime: floorSeconds(st.ctimeNs),
        nlink: Number(st.nlink),
        ino: Number(st.ino),
      };
      if (type === 'file') {
        e.size = Number(st.size);
        const fd = openSync(full, 'r');
        try {
          const ranges = mostlyHoles(st) ? kernelDataRanges(full) : undefined;
          fileSha256.set(path, ranges === undefined ? sha256OfFd(fd) : sha256OfRanges(fd, e.size, ranges));
        } finally {
          closeSync(fd);
        }
      } else if (type === 'symlink') {
        e.target = decodeName(readlinkSync(full, { encoding: 'buffer' }));
      } else if (type === 'char' || type === 'block') {
        e.rdev = splitDev(st.rdev);
      }
      entries.push(e);
      if (type === 'dir') walk(full, path);
    }
  };
  walk(rootBuf, '');
  return { entries: sortEntries(entries), fileSha256 };
}

// ---------------------------------------------------------------------------------------------
// debugfs plumbing

/**
 * Runs debugfs once with a command file and returns each command's stdout (as a byte-preserving
 * latin1 string), split on the `debugfs: CMD` echo lines. `write` opens the image read-write.
 */
export function debugfsBatch(image: string, commands: readonly string[], opts: { write?: boolean } = {}): string[] {
  if (commands.length === 0) return [];
  for (const c of commands) {
    if (c.includes('\n') || c.includes('\r') || c.startsWith('#') || Buffer.byteLength(c) > 4000) {
      throw new Error(`debugfsBatch: command cannot go in a command file: ${JSON.stringify(c.slice(0, 80))}`);
    }
  }
  const tmp = mkdtempSync(join(tmpdir(), 'fsconv-debugfs-'));
  try {
    const cmdFile = join(tmp, 'commands');
    writeFileSync(cmdFile, commands.join('\n') + '\n');
    const args = [...(opts.write === true ? ['-w'] : []), '-f', cmdFile, image];
    const r = run('debugfs', args);
    const out = r.stdout.toString('latin1');
    const stderr = r.stderr.toString('utf8');
    // Errors of single commands go to stderr without failing debugfs; anything beyond the banner is an error.
    const errLines = stderr.split('\n').filter((l) => l.trim() !== '' && !/^debugfs \d/.test(l));
    if (errLines.length > 0) {
      throw new Error(`debugfs ${args.join(' ')} reported errors:\n${errLines.slice(0, 20).join('\n')}`);
    }
    const results: string[] = [];
    let pos = 0;
    const markerOf = (c: string): string => `debugfs: ${Buffer.from(c, 'utf8').toString('latin1')}\n`;
    let marker = markerOf(commands[0]!);
    let start = out.indexOf(marker, pos);
    if (start !== 0) throw new Error(`debugfs output does not start with the echo of '${commands[0]}'`);
    for (let i = 0; i < commands.length; i++) {
      const bodyStart = start + marker.length;
      let next = out.length;
      let nextMarker = '';
      if (i + 1 < commands.length) {
        nextMarker = markerOf(commands[i + 1]!);
        next = out.indexOf(nextMarker, bodyStart);
        if (next < 0) throw new Error(`debugfs output lacks the echo of '${commands[i + 1]}'`);
      }
      results.push(out.slice(bodyStart, next));
      pos = next;
      start = next;
      marker = nextMarker;
    }
    return results;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

export interface Geometry {
  blockSize: number;
  inodeSize: number;
  revLevel: number;
  blocksCount: number;
  featureCompat: number;
  featureIncompat: number;
  featureRoCompat: number;
}

/** Reads the few superblock fields the support layer needs. */
export function readGeometry(image: string): Geometry {
  const fd = openSync(image, 'r');
  try {
    const sb = Buffer.alloc(1024);
    if (readSync(fd, sb, 0, 1024, 1024) !== 1024) throw new Error(`${image}: too short for a superblock`);
    if (sb.readUInt16LE(0x38) !== 0xef53) throw new Error(`${image}: no ext2 superblock magic`);
    const revLevel = sb.readUInt32LE(0x4c);
    return {
      blockSize: 1024 << sb.readUInt32LE(0x18),
      inodeSize: revLevel === 0 ? 128 : sb.readUInt16LE(0x58),
      revLevel,
      blocksCount: sb.readUInt32LE(0x04),
      featureCompat: sb.readUInt32LE(0x5c),
      featureIncompat: sb.readUInt32LE(0x60),
      featureRoCompat: sb.readUInt32LE(0x64),
    };
  } finally {
    closeSync(fd);
  }
}

export interface DebugfsDirEntry {
  /** Raw name bytes of each component from the root. */
  components: Buffer[];
  /** '/'-rooted decoded path. */
  path: string;
  ino: number;
  /** i_mode as listed by `ls -p`. */
  mode: number;
}

/**
 * Every entry but the root, from `ls -p <ino>` of each directory: one debugfs process per
 * directory depth level.
 */
export function debugfsWalk(image: string): DebugfsDirEntry[] {
  const all: DebugfsDirEntry[] = [];
  let level: Array<{ ino: number; components: Buffer[]; path: string }> = [{ ino: 2, components: [], path: '' }];
  const seenDirs = new Set<number>([2]);
  // Names may hold any byte but NUL and '/' (CR and LF too), so records are matched over the whole
  // output with [^/]* for the name, and must cover it exactly.
  const recordRe = /\/(\d+)\/([0-7]+)\/(-?\d+)\/(-?\d+)\/([^/]*)\/(\d*)\/\n/g;
  while (level.length > 0) {
    const outputs = debugfsBatch(image, level.map((d) => `ls -p <${d.ino}>`));
    const next: typeof level = [];
    level.forEach((d, i) => {
      const text = outputs[i]!;
      const records = [...text.matchAll(recordRe)];
      if (records.length === 0) throw new Error(`debugfs ls -p <${d.ino}> (${d.path || '/'}) printed nothing`);
      const covered = records.reduce((n, r) => n + r[0].length, 0);
      if (covered !== text.replace(/\n+$/, '\n').length) {
        throw new Error(`cannot parse debugfs ls -p output of ${d.path || '/'}: ${JSON.stringify(text.slice(0, 200))}`);
      }
      for (const m of records) {
        const nameBytes = Buffer.from(m[5]!, 'latin1');
        const name = nameBytes.toString('latin1');
        const ino = Number(m[1]);
        // Skip '.', '..' and unused records (inode 0: e.g. the empty blocks of lost+found).
        if (name === '.' || name === '..' || ino === 0) continue;
        const mode = parseInt(m[2]!, 8);
        const components = [...d.components, nameBytes];
        const path = `${d.path}/${decodeName(nameBytes)}`;
        all.push({ components, path, ino, mode });
        if ((mode & 0o170000) === 0o040000) {
          if (seenDirs.has(ino)) throw new Error(`directory inode ${ino} reached twice (at ${path})`);
          seenDirs.add(ino);
          next.push({ ino, components, path });
        }
      }
    });
    level = next;
  }
  return all;
}

export interface BlockRun {
  /** First logical block of the run. */
  logical: number;
  /** Its physical block. */
  physical: number;
  /** Number of consecutive blocks. */
  count: number;
}

export interface BlockMap {
  /** Data blocks, sorted by logical block; logical blocks not covered are holes. */
  data: BlockRun[];
  /** Indirect blocks (IND/DIND/TIND) in the order debugfs lists them. */
  meta: Array<{ level: 'IND' | 'DIND' | 'TIND'; block: number }>;
}

export interface DebugfsInode {
  ino: number;
  typeName: string;
  /** Permission bits from `Mode:` (the type comes from `ls -p` / typeName). */
  perm: number;
  uid: number;
  gid: number;
  size: number;
  links: number;
  flags: number;
  /** Exact times: seconds (kernel decoding of the epoch bits) and nanoseconds. */
  atime: { sec: number; nsec: number };
  mtime: { sec: number; nsec: number };
  ctime: { sec: number; nsec: number };
  /** Raw words as printed: [i_time, extra or undefined]. */
  rawTimes: Record<'atime' | 'mtime' | 'ctime', [number, number | undefined]>;
  rdev: [number, number] | undefined;
  /** Fast symlink target bytes, when debugfs prints `Fast link dest`. */
  fastLink: Buffer | undefined;
  blocks: BlockMap | undefined;
}

function parseBlockMap(text: string): BlockMap {
  const data: BlockRun[] = [];
  const meta: BlockMap['meta'] = [];
  const re = /\((\d+|IND|DIND|TIND)(?:-(\d+))?\):(\d+)(?:-(\d+))?/g;
  for (const m of text.matchAll(re)) {
    const what = m[1]!;
    const p0 = Number(m[3]);
    if (what === 'IND' || what === 'DIND' || what === 'TIND') {
      meta.push({ level: what, block: p0 });
      continue;
    }
    const l0 = Number(what);
    const l1 = m[2] !== undefined ? Number(m[2]) : l0;
    const p1 = m[4] !== undefined ? Number(m[4]) : p0;
    if (p1 - p0 !== l1 - l0) throw new Error(`debugfs block run ${m[0]} has mismatched lengths`);
    data.push({ logical: l0, physical: p0, count: l1 - l0 + 1 });
  }
  data.sort((a, b) => a.logical - b.logical);
  return { data, meta };
}

function decodeTime(lo: number, extra: number | undefined): { sec: number; nsec: number } {
  const signed = lo | 0;
  if (extra === undefined) return { sec: signed, nsec: 0 };
  return { sec: signed + (extra & 3) * 2 ** 32, nsec: extra >>> 2 };
}

/** Parses the output of debugfs `stat <ino>` (given as a latin1 string). */
export function parseDebugfsStat(ino: number, text: string): DebugfsInode {
  const need = (re: RegExp, what: string): RegExpExecArray => {
    const m = re.exec(text);
    if (m === null) throw new Error(`debugfs stat <${ino}>: no ${what} in:\n${text.slice(0, 1500)}`);
    return m;
  };
  const head = need(/Inode: (\d+)\s+Type: (.+?)\s+Mode:\s+([0-7]+)\s+Flags: 0x([0-9a-f]+)/, 'Type/Mode line');
  if (Number(head[1]) !== ino) throw new Error(`debugfs stat <${ino}> printed inode ${head[1]}`);
  const owner = need(/User:\s+(-?\d+)\s+Group:\s+(-?\d+)(?:\s+Project:\s+-?\d+)?\s+Size:\s+(\d+)/, 'User/Group/Size');
  const links = need(/Links: (\d+)/, 'Links');
  const rawTimes = {} as DebugfsInode['rawTimes'];
  for (const which of ['atime', 'mtime', 'ctime'] as const) {
    const m = need(new RegExp(`^\\s*${which}: 0x([0-9a-f]{1,8})(?::([0-9a-f]{1,8}))? --`, 'm'), which);
    rawTimes[which] = [parseInt(m[1]!, 16), m[2] !== undefined ? parseInt(m[2], 16) : undefined];
  }
  const dev = /Device major\/minor number: (\d+):(\d+)/.exec(text);
  const size = Number(owner[3]);
  let fastLink: Buffer | undefined;
  const fl = text.indexOf('Fast link dest: "');
  if (fl >= 0) {
    const start = fl + 'Fast link dest: "'.length;
    fastLink = Buffer.from(text.slice(start, start + size), 'latin1');
    if (text[start + size] !== '"') throw new Error(`debugfs stat <${ino}>: fast link target is not ${size} bytes`);
  }
  const bi = text.indexOf('\nBLOCKS:\n');
  return {
    ino,
    typeName: head[2]!,
    perm: parseInt(head[3]!, 8),
    uid: Number(owner[1]) >>> 0, // debugfs prints ids with %d
    gid: Number(owner[2]) >>> 0,
    size,
    links: Number(links[1]),
    flags: parseInt(head[4]!, 16),
    atime: decodeTime(...rawTimes.atime),
    mtime: decodeTime(...rawTimes.mtime),
    ctime: decodeTime(...rawTimes.ctime),
    rawTimes,
    rdev: dev === null ? undefined : [Number(dev[1]), Number(dev[2])],
    fastLink,
    blocks: bi >= 0 ? parseBlockMap(text.slice(bi + 9, (text.indexOf('\nTOTAL:', bi) + 1 || text.length + 1) - 1)) : undefined,
  };
}

/** debugfs `stat` of many inodes in one process. */
export function debugfsStat(image: string, inos: readonly number[]): Map<number, DebugfsInode> {
  const outs = debugfsBatch(image, inos.map((i) => `stat <${i}>`));
  const m = new Map<number, DebugfsInode>();
  inos.forEach((ino, i) => m.set(ino, parseDebugfsStat(ino, outs[i]!)));
  return m;
}

/** The block map debugfs reports for one inode (by number, or by an ASCII path without quotes). */
export function imageBlockMap(image: string, inode: number | string): BlockMap {
  const spec = typeof inode === 'number' ? `<${inode}>` : inode;
  if (typeof inode === 'string' && !/^[\x21-\x7e]+$/.test(inode)) throw new Error('imageBlockMap: use an inode number for this path');
  const [out] = debugfsBatch(image, [`stat ${spec}`]);
  const ino = /Inode: (\d+)/.exec(out ?? '');
  if (ino === null) throw new Error(`debugfs stat ${spec}: no such inode`);
  const st = parseDebugfsStat(Number(ino[1]), out!);
  return st.blocks ?? { data: [], meta: [] };
}

/** Reads `size` bytes of an inode's content through a block map, holes as zeros, into `sink`. */
function readThroughMap(fd: number, bs: number, map: BlockMap, size: number, sink: (b: Buffer) => void): void {
  const zeros = Buffer.alloc(4 * 1024 * 1024);
  const buf = Buffer.allocUnsafe(4 * 1024 * 1024);
  let pos = 0; // bytes of content emitted so far
  const emitZeros = (n: number): void => {
    while (n > 0) {
      const k = Math.min(n, zeros.length);
      sink(zeros.subarray(0, k));
      n -= k;
      pos += k;
    }
  };
  for (const run of map.data) {
    const start = run.logical * bs;
    if (start >= size) break;
    if (start < pos) throw new Error('overlapping block runs in debugfs block map');
    emitZeros(start - pos);
    let remaining = Math.min(run.count * bs, size - start);
    let phys = run.physical * bs;
    while (remaining > 0) {
      const k = Math.min(remaining, buf.length);
      const n = readSync(fd, buf, 0, k, phys);
      if (n !== k) throw new Error(`short read of the image at ${phys}`);
      sink(buf.subarray(0, k));
      remaining -= k;
      phys += k;
      pos += k;
    }
  }
  emitZeros(size - pos);
}

// ---------------------------------------------------------------------------------------------
// debugfs view

/**
 * e2fsprogs' view: entries from debugfs `ls -p` and `stat` (batched: one process per directory
 * depth level plus one for all inodes), content read from the image at the blocks `stat` lists.
 */
export function debugfsView(image: string): View {
  const geo = readGeometry(image);
  const walk = debugfsWalk(image);
  const inos = [...new Set(walk.map((w) => w.ino))];
  const stats = debugfsStat(image, inos);
  const entries: LsEntry[] = [];
  const fileSha256 = new Map<string, string>();
  const fd = openSync(image, 'r');
  try {
    const hashes = new Map<number, string>(); // per inode: hard links are hashed once
    for (const w of walk) {
      const st = stats.get(w.ino)!;
      const type = typeFromMode(w.mode);
      if ((w.mode & 0o7777) !== st.perm) throw new Error(`debugfs: ls -p and stat disagree on the mode of ${w.path}`);
      const t = (x: { sec: number }): number => x.sec; // nsec ≥ 0, so floor(exact) = sec
      const e: LsEntry = {
        path: w.path,
        type,
        mode: w.mode,
        uid: st.uid,
        gid: st.gid,
        atime: t(st.atime),
        mtime: t(st.mtime),
        ctime: t(st.ctime),
        nlink: st.links,
        ino: w.ino,
      };
      if (type === 'file') {
        e.size = st.size;
        let h = hashes.get(w.ino);
        if (h === undefined) {
          const hash = createHash('sha256');
          readThroughMap(fd, geo.blockSize, st.blocks ?? { data: [], meta: [] }, st.size, (b) => hash.update(b));
          h = hash.digest('hex');
          hashes.set(w.ino, h);
        }
        fileSha256.set(w.path, h);
      } else if (type === 'symlink') {
        let bytes = st.fastLink;
        if (bytes === undefined) {
          const parts: Buffer[] = [];
          readThroughMap(fd, geo.blockSize, st.blocks ?? { data: [], meta: [] }, st.size, (b) => parts.push(Buffer.from(b)));
          bytes = Buffer.concat(parts);
        }
        e.target = decodeName(bytes);
      } else if (type === 'char' || type === 'block') {
        if (st.rdev === undefined) throw new Error(`debugfs stat printed no device number for ${w.path}`);
        e.rdev = st.rdev;
      }
      entries.push(e);
    }
  } finally {
    closeSync(fd);
  }
  return { entries: sortEntries(entries), fileSha256 };
}

// ---------------------------------------------------------------------------------------------
// Reference view

/** The kernel's view when `image` mounts, else debugfs's; says which and why. */
export function referenceView(image: string): ReferenceView {
  let kernelError: string;
  try {
    return { ...kernelView(image), source: 'kernel' };
  } catch (e) {
    if (!(e instanceof RunError) || !e.message.startsWith('mount ')) throw e;
    kernelError = e.message;
  }
  return { ...debugfsView(image), source: 'debugfs', kernelError };
}
