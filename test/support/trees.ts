// Builds test trees on the host filesystem (run as root: owners, device nodes, mode bits).
// Everything is deterministic: content from a seeded PRNG, explicit owners, modes, atimes and
// mtimes (ctime cannot be set on the host; mke2fs -d copies the host's). Reading the tree
// afterwards changes atimes on a relatime host: read it through a noatime view (makeExt2Image
// does) or with O_NOATIME.
//
// Paths in TreeFacts are '/'-rooted and decoded like LsEntry paths (U+FFFD for invalid UTF-8),
// so they can be looked up directly in a reference view.
import { spawnSync } from 'node:child_process';
import {
  chmodSync, closeSync, existsSync, lchownSync, linkSync, lstatSync, lutimesSync, mkdirSync,
  openSync, readdirSync, symlinkSync, writeSync, ftruncateSync,
} from 'node:fs';
import { decodeName } from './ls-entry.js';
import { run } from './run.js';

export interface TreeOptions {
  blockSize: number;
  inodeSize: 128 | 256;
}

/** An exact timestamp: integer seconds (may be negative) plus nanoseconds 0..999999999. */
export interface ExactTime {
  sec: number;
  nsec: number;
}

export interface SparseFact {
  path: string;
  size: number;
  /** Byte ranges [start, end) that hold (non-zero) data; everything else is a hole. */
  data: Array<[number, number]>;
}

export interface TreeFacts {
  root: string;
  blockSize: number;
  inodeSize: 128 | 256;
  /** Every entry created under root ('/'-rooted, decoded), parents before children. Excludes root and lost+found. */
  paths: string[];
  /** Regular files with PRNG content whose sizes sit on block-map boundaries. */
  boundaryFiles: Array<{ path: string; size: number; label: string }>;
  /** Files with holes, with the byte ranges that hold data. */
  sparse: SparseFact[];
  /** The sparse file reaching the triple-indirect level, when its offset is ≤ 8 GiB. */
  tindFile: string | undefined;
  symlinks: Array<{ path: string; target: string; kind: 'fast' | 'slow' | 'dangling' | 'dir' | 'bytes' }>;
  /** Names of the one inode with three links, in three directories. */
  hardLinks: string[];
  devices: Array<{ path: string; type: 'char' | 'block'; major: number; minor: number }>;
  fifos: string[];
  sockets: string[];
  owners: Array<{ path: string; uid: number; gid: number }>;
  /** Permission bits (07777) set explicitly. */
  modes: Array<{ path: string; perm: number }>;
  /** Every entry's atime/mtime as set on the host. */
  times: Map<string, { atime: ExactTime; mtime: ExactTime }>;
  /** The entries with deliberately odd times. */
  oddTimes: string[];
  /** Entry names whose bytes are not valid UTF-8: decoded path and raw name bytes. */
  rawNames: Array<{ path: string; raw: Buffer }>;
  /** UTF-8, 255-byte and punctuation names. */
  names: string[];
  manyDir: string | undefined;
  manyCount: number;
  deepest: string | undefined;
}

// ---------------------------------------------------------------------------------------------
// Deterministic content

/** FNV-1a 32-bit hash of a string, used to seed the PRNG per file. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(s, 'utf8')) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** Deterministic pseudo-random bytes (xorshift32 seeded from `seed`), never all zero. */
export function prngBytes(seed: string, length: number): Buffer {
  let x = fnv1a(seed) || 0x9e3779b9;
  const buf = Buffer.allocUnsafe(length);
  let i = 0;
  for (; i + 4 <= length; i += 4) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    buf.writeUInt32LE(x, i);
  }
  for (; i < length; i++) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    buf[i] = x & 0xff;
  }
  return buf;
}

// ---------------------------------------------------------------------------------------------
// Builder

type Rel = string | Buffer;

interface Attrs {
  uid: number;
  gid: number;
  perm: number | undefined; // undefined: symlink (no chmod)
  atime: ExactTime;
  mtime: ExactTime;
}

class TreeBuilder {
  readonly rootBuf: Buffer;
  /** Insertion order: parents are always recorded before children. */
  private readonly order: Buffer[] = [];
  private readonly attrs = new Map<string, Attrs>();
  private readonly isLink = new Set<string>();
  readonly facts: TreeFacts;
  private counter = 0;

  constructor(root: string, opts: TreeOptions) {
    if (existsSync(root) && readdirSync(root).length > 0) throw new Error(`buildTree: ${root} exists and is not empty`);
    mkdirSync(root, { recursive: true });
    chmodSync(root, 0o755);
    this.rootBuf = Buffer.from(root, 'utf8');
    this.facts = {
      root, blockSize: opts.blockSize, inodeSize: opts.inodeSize, paths: [], boundaryFiles: [], sparse: [],
      tindFile: undefined, symlinks: [], hardLinks: [], devices: [], fifos: [], sockets: [], owners: [],
      modes: [], times: new Map(), oddTimes: [], rawNames: [], names: [], manyDir: undefined, manyCount: 0,
      deepest: undefined,
    };
  }

  private relBuf(rel: Rel): Buffer {
    return typeof rel === 'string' ? Buffer.from(rel, 'utf8') : rel;
  }

  abs(rel: Rel): Buffer {
    return Buffer.concat([this.rootBuf, Buffer.from('/'), this.relBuf(rel)]);
  }

  /** '/'-rooted decoded path of a relative path (decoded per component, like LsEntry paths). */
  display(rel: Rel): string {
    const b = this.relBuf(rel);
    const parts: string[] = [];
    let start = 0;
    for (let i = 0; i <= b.length; i++) {
      if (i === b.length || b[i] === 0x2f) {
        parts.push(decodeName(b.subarray(start, i)));
        start = i + 1;
      }
    }
    return '/' + parts.join('/');
  }

  private record(rel: Rel, perm: number | undefined): string {
    const b = this.relBuf(rel);
    const key = b.toString('hex');
    const n = this.counter++;
    // Default, deterministic times: distinct per entry, atime after mtime.
    const mtime = { sec: 1_500_000_000 + n * 61, nsec: 0 };
    const atime = { sec: mtime.sec + 7, nsec: 0 };
    this.order.push(b);
    this.attrs.set(key, { uid: 0, gid: 0, perm, atime, mtime });
    const p = this.display(b);
    this.facts.paths.push(p);
    return p;
  }

  private get(rel: Rel): Attrs {
    const a = this.attrs.get(this.relBuf(rel).toString('hex'));
    if (a === undefined) throw new Error(`buildTree: ${this.display(rel)} was not created by the builder`);
    return a;
  }

  dir(rel: Rel, perm = 0o755): string {
    mkdirSync(this.abs(rel));
    return this.record(rel, perm);
  }

  file(rel: Rel, content: Uint8Array | string, perm = 0o644): string {
    const fd = openSync(this.abs(rel), 'wx', 0o600);
    try {
      const data = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
      let off = 0;
      while (off < data.length) off += writeSync(fd, data, off, data.length - off);
    } finally {
      closeSync(fd);
    }
    return this.record(rel, perm);
  }

  /** A file of `size` bytes holding only the given chunks (all else holes). */
  sparseFile(rel: Rel, size: number, chunks: Array<[number, Uint8Array]>): SparseFact {
    const fd = openSync(this.abs(rel), 'wx', 0o600);
    const data: Array<[number, number]> = [];
    try {
      for (const [off, bytes] of chunks) {
        if (bytes.some((x) => x === 0)) throw new Error('sparse chunks must not contain zero bytes');
        let done = 0;
        while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done, off + done);
        data.push([off, off + bytes.length]);
      }
      ftruncateSync(fd, size);
    } finally {
      closeSync(fd);
    }
    const path = this.record(rel, 0o644);
    const fact = { path, size, data };
    this.facts.sparse.push(fact);
    return fact;
  }

  symlink(rel: Rel, target: string | Buffer, kind: TreeFacts['symlinks'][number]['kind']): string {
    symlinkSync(typeof target === 'string' ? Buffer.from(target, 'utf8') : target, this.abs(rel));
    this.isLink.add(this.relBuf(rel).toString('hex'));
    const p = this.record(rel, undefined);
    this.facts.symlinks.push({ path: p, target: typeof target === 'string' ? target : decodeName(target), kind });
    return p;
  }

  hardlink(existing: Rel, rel: Rel): string {
    linkSync(this.abs(existing), this.abs(rel));
    // Same inode: share the attributes object so later changes apply to every name.
    const p = this.display(rel);
    this.order.push(this.relBuf(rel));
    this.attrs.set(this.relBuf(rel).toString('hex'), this.get(existing));
    this.facts.paths.push(p);
    return p;
  }

  fifo(rel: string, perm = 0o644): string {
    run('mkfifo', ['-m', '0600', this.abs(rel).toString('utf8')]);
    const p = this.record(rel, perm);
    this.facts.fifos.push(p);
    return p;
  }

  device(rel: string, type: 'char' | 'block', major: number, minor: number, perm = 0o600): string {
    run('mknod', ['-m', '0600', this.abs(rel).toString('utf8'), type === 'char' ? 'c' : 'b', String(major), String(minor)]);
    const p = this.record(rel, perm);
    this.facts.devices.push({ path: p, type, major, minor });
    return p;
  }

  /** A unix socket, bound by a short-lived node process (relative name: sun_path is short). */
  socket(dirRel: string, name: string): string {
    const rel = `${dirRel}/${name}`;
    const r = spawnSync(process.execPath, ['-e', "require('net').createServer().listen(process.argv[1], () => process.exit(0))", name], {
      cwd: this.abs(dirRel).toString('utf8'),
      encoding: 'utf8',
      timeout: 30_000,
    });
    if (r.status !== 0 || !lstatSync(this.abs(rel)).isSocket()) {
      throw new Error(`buildTree: could not create a unix socket ${rel}: ${r.error?.message ?? r.stderr}`);
    }
    const p = this.record(rel, 0o755);
    this.facts.sockets.push(p);
    return p;
  }

  owner(rel: Rel, uid: number, gid: number): void {
    const a = this.get(rel);
    a.uid = uid;
    a.gid = gid;
    this.facts.owners.push({ path: this.display(rel), uid, gid });
  }

  perm(rel: Rel, perm: number): void {
    const a = this.get(rel);
    if (a.perm === undefined) throw new Error('buildTree: symlink permissions cannot be set');
    a.perm = perm;
    this.facts.modes.push({ path: this.display(rel), perm });
  }

  times(rel: Rel, atime: ExactTime | number, mtime: ExactTime | number = atime): void {
    const a = this.get(rel);
    a.atime = typeof atime === 'number' ? { sec: atime, nsec: 0 } : atime;
    a.mtime = typeof mtime === 'number' ? { sec: mtime, nsec: 0 } : mtime;
    this.facts.oddTimes.push(this.display(rel));
  }

  /** Applies owners, modes and times, children before parents (creating entries touches the parent's times). */
  finish(): TreeFacts {
    const done = new Set<Attrs>();
    for (let i = this.order.length - 1; i >= 0; i--) {
      const rel = this.order[i]!;
      const key = rel.toString('hex');
      const a = this.attrs.get(key)!;
      const p = this.abs(rel);
      this.facts.times.set(this.display(rel), { atime: a.atime, mtime: a.mtime });
      if (done.has(a)) continue; // other names of a hard-linked inode
      done.add(a);
      lchownSync(p, a.uid, a.gid);
      if (!this.isLink.has(key) && a.perm !== undefined) chmodSync(p, a.perm); // after chown, which clears set-id bits
      setTimes(p, a.atime, a.mtime);
    }
    // The root itself: fixed times too (mke2fs -d copies them onto the root inode).
    setTimes(this.rootBuf, { sec: 1_400_000_000, nsec: 0 }, { sec: 1_400_000_000, nsec: 0 });
    return this.facts;
  }
}

/** Sets atime/mtime without following symlinks; exact to the nanosecond. */
function setTimes(p: Buffer, atime: ExactTime, mtime: ExactTime): void {
  if (atime.nsec === 0 && mtime.nsec === 0) {
    // Dates, not numbers: Node turns a negative number into "now". Whole seconds are exact.
    lutimesSync(p, new Date(atime.sec * 1000), new Date(mtime.sec * 1000));
    return;
  }
  // Node converts times through a double, which loses nanoseconds: use touch(1) instead.
  const path = p.toString('utf8');
  if (!Buffer.from(path, 'utf8').equals(p)) throw new Error('buildTree: nanosecond times need a UTF-8 path');
  const fmt = (t: ExactTime): string => {
    // '@S.N' with S = floor and N the fractional part: for negative times write S+N/1e9 exactly.
    const total = BigInt(t.sec) * 1_000_000_000n + BigInt(t.nsec);
    const neg = total < 0n;
    const abs = neg ? -total : total;
    const s = abs / 1_000_000_000n;
    const n = abs % 1_000_000_000n;
    return `@${neg ? '-' : ''}${s}.${n.toString().padStart(9, '0')}`;
  };
  run('touch', ['-h', '-a', '-d', fmt(atime), path]);
  run('touch', ['-h', '-m', '-d', fmt(mtime), path]);
}

// ---------------------------------------------------------------------------------------------
// The trees

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/**
 * Builds the full test tree under `root` (created; must be absent or empty). As root.
 * Times after 2038 and nanoseconds are only used when inodeSize is 256.
 */
export function buildTree(root: string, opts: TreeOptions): TreeFacts {
  const bs = opts.blockSize;
  const p = bs / 4;
  const b = new TreeBuilder(root, opts);
  const f = b.facts;

  // Block-map boundaries with PRNG content.
  b.dir('sizes');
  const sizes: Array<[string, number]> = [
    ['zero', 0], ['one', 1], ['bs-1', bs - 1], ['bs', bs], ['bs+1', bs + 1],
    ['12bs-1', 12 * bs - 1], ['12bs', 12 * bs], ['12bs+1', 12 * bs + 1],
  ];
  const dind = (12 + p) * bs;
  if (dind + 1 <= 64 * MiB) sizes.push(['ind-dind-1', dind - 1], ['ind-dind', dind], ['ind-dind+1', dind + 1]);
  for (const [label, size] of sizes) {
    const rel = `sizes/${label}`;
    b.file(rel, prngBytes(`${rel}@${bs}`, size));
    f.boundaryFiles.push({ path: `/${rel}`, size, label });
  }

  // Sparse files.
  b.dir('sparse');
  const tindOffset = (12 + p + p * p) * bs;
  if (tindOffset <= 8 * GiB) {
    const fact = b.sparseFile('sparse/tind', tindOffset + 4 * bs, [
      [0, Buffer.from('start of a file that reaches TIND\n')],
      [tindOffset + 100, Buffer.from('written beyond the first triple-indirect block\n')],
    ]);
    f.tindFile = fact.path;
  }
  const noZero = (seed: string, n: number): Buffer => prngBytes(seed, n).map((x) => x | 1) as Buffer;
  b.sparseFile('sparse/holes', 40 * bs, [
    [5 * bs + 3, noZero('mid1', 2 * bs + 7)],
    [20 * bs, noZero('mid2', bs)],
  ]);
  b.sparseFile('sparse/all-hole', 3 * bs + 5, []);

  // Symlinks.
  b.dir('links');
  b.symlink('links/fast', 'short/target.txt', 'fast');
  b.symlink('links/fast59', 'f'.repeat(59), 'fast');
  b.symlink('links/slow60', 's'.repeat(60), 'slow');
  b.symlink('links/slow', `../sizes/${'x'.repeat(180)}/end-of-a-200-byte-target`.slice(0, 200), 'slow');
  b.symlink('links/long', 'L'.repeat(Math.min(bs - 1, 4095)), 'slow');
  b.symlink('links/dangling', 'does/not/exist', 'dangling');
  b.symlink('links/todir', '../deep', 'dir');
  b.symlink('links/utf8', 'ünïcødé/日本語', 'fast');
  b.symlink('links/bytes', Buffer.from('caf\xe9/\xff', 'latin1'), 'bytes');

  // Hard links across directories.
  b.dir('hard');
  b.dir('hard/a');
  b.dir('hard/b');
  b.dir('hard/c');
  b.file('hard/a/one', 'one inode, three names\n');
  b.hardlink('hard/a/one', 'hard/b/two');
  b.hardlink('hard/a/one', 'hard/c/three');
  f.hardLinks.push('/hard/a/one', '/hard/b/two', '/hard/c/three');

  // Special files.
  b.dir('special');
  b.fifo('special/fifo');
  b.device('special/null', 'char', 1, 3, 0o666);
  b.device('special/sda1', 'block', 8, 1, 0o660);
  b.device('special/big-char', 'char', 259, 70000);
  b.device('special/big-block', 'block', 4095, 1048575);
  b.device('special/major300', 'char', 300, 1);
  b.socket('special', 'sock');

  // Owners.
  b.dir('owners');
  for (const [name, uid, gid] of [
    ['root', 0, 0], ['nobody', 65534, 65534], ['mixed', 12345, 54321], ['high', 100000, 200000],
    ['edge', 65535, 65536], ['max', 4294967294, 4294967294],
  ] as const) {
    b.file(`owners/${name}`, `${name}\n`);
    b.owner(`owners/${name}`, uid, gid);
  }
  b.dir('owners/high-dir');
  b.owner('owners/high-dir', 100001, 200001);
  b.symlink('owners/high-link', 'root', 'fast');
  b.owner('owners/high-link', 123456, 654321);

  // Modes.
  b.dir('modes');
  for (const [name, perm] of [
    ['zero', 0], ['all', 0o777], ['setuid', 0o4755], ['setgid', 0o2755], ['sticky', 0o1644], ['every-bit', 0o7777],
  ] as const) {
    b.file(`modes/${name}`, `${name}\n`);
    b.perm(`modes/${name}`, perm);
  }
  b.dir('modes/tmp-like');
  b.perm('modes/tmp-like', 0o1777);
  b.dir('modes/no-perms');
  b.file('modes/no-perms/inside', 'inside a 000 directory\n');
  b.perm('modes/no-perms', 0o000);
  b.dir('modes/setgid-dir');
  b.perm('modes/setgid-dir', 0o2775);

  // Times.
  b.dir('times');
  const odd: Array<[string, ExactTime | number, ExactTime | number]> = [
    ['epoch', 0, 0], ['one', 1, 1], ['y1980', 315532800, 315532800], ['negative', -86400, -86400],
    ['max32', 2147483647, 2147483647], ['min32', -2147483648, -2147483648], ['mixed', 2147483647, -86400],
  ];
  if (opts.inodeSize === 256) {
    odd.push(
      ['y2100', 4102444800, 4102444800],
      ['y2446', 15032385535, 15032385535],
      ['nanos', { sec: 1700000001, nsec: 999999999 }, { sec: 1700000000, nsec: 123456789 }],
      ['neg-nanos', { sec: -2, nsec: 500000000 }, { sec: -1, nsec: 1 }],
      ['y2100-nanos', { sec: 4102444800, nsec: 1 }, { sec: 4102444801, nsec: 999999999 }],
    );
  }
  for (const [name, at, mt] of odd) {
    b.file(`times/${name}`, `${name}\n`);
    b.times(`times/${name}`, at, mt);
  }
  b.dir('times/old-dir');
  b.times('times/old-dir', 315532800, -86400);
  b.symlink('times/old-link', 'epoch', 'fast');
  b.times('times/old-link', 1, 0);

  // Names.
  b.dir('names');
  const utf8Names = [
    'é', '日本語', '🎉 party.txt', 'ünïcødé-ñame', 'with space', ' leading space', 'trailing dot.', 'a.b.c',
    '.hidden', '..dots', '...', 'L'.repeat(255), 'é'.repeat(127) + 'x', '日'.repeat(85),
  ];
  for (const name of utf8Names) {
    b.file(`names/${name}`, `${name}\n`);
    f.names.push(`/names/${name}`);
  }
  for (const raw of [Buffer.from('caf\xe9', 'latin1'), Buffer.from('bad\xff\xfename', 'latin1'), Buffer.from('trunc\xe6\x97', 'latin1')]) {
    const rel = Buffer.concat([Buffer.from('names/'), raw]);
    const path = b.file(rel, raw);
    f.rawNames.push({ path, raw });
  }

  // Deep nesting and an empty directory.
  let deep = 'deep';
  b.dir(deep);
  for (let i = 1; i <= 8; i++) {
    deep += `/d${i}`;
    b.dir(deep);
  }
  f.deepest = b.file(`${deep}/leaf.txt`, 'deepest leaf\n');
  b.dir('empty');

  // A big directory.
  b.dir('many');
  const manyCount = 2000;
  for (let i = 0; i < manyCount; i++) {
    const name = `f${String(i).padStart(4, '0')}`;
    const size = (i * 37) % 200;
    b.file(`many/${name}`, Buffer.from(`${name}:`.repeat(Math.ceil(size / 6) + 1).slice(0, size), 'utf8'));
  }
  f.manyDir = '/many';
  f.manyCount = manyCount;

  return b.finish();
}

/**
 * A quick tree of about a dozen entries of various kinds: text files, an empty file, a
 * subdirectory, fast and slow symlinks, a hard link, a fifo, a char device, UTF-8 and Latin-1
 * names, a sparse file.
 */
export function buildSmallTree(root: string): TreeFacts {
  const b = new TreeBuilder(root, { blockSize: 1024, inodeSize: 128 });
  const f = b.facts;
  b.file('hello.txt', 'Hello, ext2!\n');
  b.file('empty', '');
  b.file('random.bin', prngBytes('small/random.bin', 5000));
  b.dir('sub');
  b.file('sub/nested.txt', 'nested\n');
  b.owner('sub/nested.txt', 1000, 1000);
  b.times('sub/nested.txt', 315532800, 315532800);
  b.symlink('fast-link', 'sub/nested.txt', 'fast');
  b.symlink('slow-link', `sub/${'s'.repeat(96)}/${'t'.repeat(96)}`, 'slow');
  b.hardlink('hello.txt', 'sub/hello-again.txt');
  f.hardLinks.push('/hello.txt', '/sub/hello-again.txt');
  b.fifo('fifo');
  b.device('null', 'char', 1, 3, 0o666);
  b.file('héllo wörld.txt', 'UTF-8 name\n');
  f.names.push('/héllo wörld.txt');
  const raw = Buffer.from('caf\xe9', 'latin1');
  f.rawNames.push({ path: b.file(raw, 'Latin-1 name\n'), raw });
  b.sparseFile('sparse', 64 * 1024, [[20 * 1024, Buffer.from('in the middle\n')]]);
  return b.finish();
}
