// Deterministic, realistic directory trees for the benchmark (see docs/performance.md).
//
// A tree is first *planned* entirely from a seeded PRNG (shape, names, sizes, owners, modes, times),
// then written. The plan depends only on the spec (and GENERATOR_VERSION), never on the host, so a
// scenario always produces the same names, sizes and bytes. File contents are an AES-128-CTR
// keystream (node:crypto, GB/s) keyed from the seed, with the file's index as the counter block:
// incompressible, never a block of zeros (mke2fs -d would turn one into a hole), and reproducible.
//
// Kinds:
//   home        a home directory: a random tree of directories (up to maxDepth), files spread over
//               them with a skewed (log-normal) weight, log-normal sizes with the given median whose
//               spread is solved so that the sizes add up to totalBytes (capped per file), some long
//               names, some non-ASCII UTF-8 names, dotfiles, a few hundred relative symlinks to files.
//   smallfiles  many small files: uniform sizes 0..maxFileBytes, two directory levels, at most
//               perDir files per directory (FAT directories hold at most 65536 slots).
import { createCipheriv, createHash } from 'node:crypto';
import {
  chmodSync, closeSync, fchmodSync, lchownSync, lutimesSync, mkdirSync, openSync, rmSync, symlinkSync, utimesSync, writeSync,
} from 'node:fs';
import { posix } from 'node:path';

/** Bump when the plan or the content of a tree changes: cached trees and images are keyed by it. */
export const GENERATOR_VERSION = 1;

const BLOCK = 4096;

// ---------------------------------------------------------------------------------------------
// PRNG: sfc32 seeded from SHA-256 of the seed string.

export function makeRng(seed) {
  const h = createHash('sha256').update(String(seed)).digest();
  let a = h.readUInt32LE(0), b = h.readUInt32LE(4), c = h.readUInt32LE(8), d = h.readUInt32LE(12);
  const next = () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 20; i++) next();
  let spare = null;
  const rng = {
    float: next,
    int: (n) => Math.floor(next() * n),
    range: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    chance: (p) => next() < p,
    pick: (arr) => arr[Math.floor(next() * arr.length)],
    normal() {
      if (spare !== null) {
        const s = spare;
        spare = null;
        return s;
      }
      let u = 0;
      while (u === 0) u = next();
      const v = next();
      const r = Math.sqrt(-2 * Math.log(u));
      spare = r * Math.sin(2 * Math.PI * v);
      return r * Math.cos(2 * Math.PI * v);
    },
  };
  return rng;
}

// ---------------------------------------------------------------------------------------------
// Names

const WORDS = (
  'alpha backup beta budget build cache cards chapter client config core data draft export final ' +
  'gallery holiday index invoice journal kernel letter library lecture main meeting model notes old ' +
  'paper photo plan project quote recipe release report review sample scan script setup slides song ' +
  'source spec summary talk test thesis todo tour trip update video vendor work archive music ' +
  'camera family garden house travel school taxes bank contract design logo poster map scores ' +
  'network server deploy docker python rust node webapp frontend backend assets fonts icons themes'
).split(' ');
const NON_ASCII = [
  'café', 'résumé', 'Übersicht', 'Grüße', 'naïve', 'façade', 'smörgåsbord', 'Ærø', 'jalapeño',
  'Привет', 'Москва', 'Ελλάδα', '日本語', '東京', '写真', '한국어', '中文资料', 'ĳssel', 'Łódź', 'Zürich',
];
const EXT = {
  doc: ['txt', 'md', 'pdf', 'odt', 'docx', 'tex', 'csv', 'xlsx', 'html'],
  media: ['jpg', 'JPG', 'png', 'jpeg', 'gif', 'mp3', 'flac', 'ogg', 'mp4', 'mkv', 'webp'],
  code: ['c', 'h', 'js', 'ts', 'py', 'rs', 'go', 'json', 'yaml', 'toml', 'sh', 'o', 'lock'],
  misc: ['log', 'bak', 'tar.gz', 'zip', 'iso', 'db', 'sqlite', 'bin', 'dat', ''],
};
const EXT_GROUPS = Object.keys(EXT);
const HOME_TOP = [
  'Documents', 'Downloads', 'Pictures', 'Music', 'Videos', 'Desktop', 'Projects', 'src', '.config',
  '.cache', '.local', '.ssh', '.mozilla', 'Mail', 'Templates', 'Public', 'backup', 'tmp',
];
const DOTFILES = ['.bashrc', '.profile', '.bash_history', '.gitconfig', '.vimrc', '.inputrc', '.zshrc', '.xsession-errors', '.viminfo', '.lesshst'];
const SEPS = ['-', '_', ' ', '.', ''];

function cap(w) {
  return w.charAt(0).toUpperCase() + w.slice(1);
}

function plainWord(rng) {
  const w = rng.pick(WORDS);
  return rng.chance(0.25) ? cap(w) : w;
}

function fileBase(rng) {
  const r = rng.float();
  if (r < 0.05) {
    // A long name: 60..200 bytes of words.
    const want = rng.range(60, 200);
    const sep = rng.pick(['_', ' ', '-']);
    let s = plainWord(rng);
    while (s.length < want) s += sep + plainWord(rng);
    return s.slice(0, want).replace(/[ .]+$/, '') || 'long';
  }
  if (r < 0.09) return `${plainWord(rng)} ${rng.pick(NON_ASCII)}${rng.chance(0.5) ? ` ${rng.range(1, 99)}` : ''}`;
  if (r < 0.30) return `${rng.pick(['IMG', 'DSC', 'scan', 'Screenshot', 'file', 'doc'])}_${String(rng.range(0, 99999)).padStart(5, '0')}`;
  const sep = rng.pick(SEPS);
  let s = plainWord(rng);
  if (rng.chance(0.6)) s += sep + plainWord(rng);
  if (rng.chance(0.4)) s += sep + String(rng.range(1, 2024));
  return s;
}

function fileName(rng) {
  const base = fileBase(rng);
  const ext = rng.pick(EXT[rng.pick(EXT_GROUPS)]);
  return ext === '' ? base : `${base}.${ext}`;
}

function dirName(rng) {
  const r = rng.float();
  if (r < 0.04) return `${plainWord(rng)} ${rng.pick(NON_ASCII)}`;
  if (r < 0.08) return `.${rng.pick(WORDS)}`;
  if (r < 0.18) return `${rng.range(2005, 2024)}-${String(rng.range(1, 12)).padStart(2, '0')}${rng.chance(0.5) ? ` ${plainWord(rng)}` : ''}`;
  if (r < 0.25) return `v${rng.range(0, 9)}.${rng.range(0, 30)}`;
  return rng.chance(0.3) ? `${plainWord(rng)}${rng.pick(SEPS)}${plainWord(rng)}` : plainWord(rng);
}

/** Keeps names unique per directory, ignoring case (FAT compares names without case). */
class NameSet {
  constructor() {
    this.seen = new Set();
  }
  claim(name) {
    let candidate = name;
    for (let n = 2; this.seen.has(candidate.toLowerCase()); n++) {
      const dot = name.lastIndexOf('.');
      candidate = dot > 0 ? `${name.slice(0, dot)}-${n}${name.slice(dot)}` : `${name}-${n}`;
    }
    this.seen.add(candidate.toLowerCase());
    return candidate;
  }
}

// ---------------------------------------------------------------------------------------------
// Plans

const T_MIN = 1420070400; // 2015-01-01
const T_MAX = 1735689600; // 2025-01-01

function times(rng) {
  const mtime = rng.range(T_MIN, T_MAX - 86400 * 30);
  const atime = Math.min(T_MAX, mtime + rng.int(86400 * 400));
  return { atime, mtime };
}

function owner(rng) {
  const r = rng.float();
  if (r < 0.95) return [1000, 1000];
  if (r < 0.99) return [0, 0];
  return [1001, 100];
}

function fileMode(rng) {
  const r = rng.float();
  if (r < 0.85) return 0o644;
  if (r < 0.93) return 0o600;
  if (r < 0.99) return 0o755;
  return 0o664;
}

/**
 * Log-normal sizes with median `median`: z-scores from the PRNG, then the spread sigma solved by
 * bisection so that the capped sizes add up to `total` (the median does not depend on sigma).
 */
function logNormalSizes(rng, count, median, total, capBytes, emptyShare) {
  const z = new Float64Array(count);
  const empty = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    z[i] = rng.normal();
    empty[i] = rng.chance(emptyShare) ? 1 : 0;
  }
  const sum = (sigma) => {
    let s = 0;
    for (let i = 0; i < count; i++) if (!empty[i]) s += Math.min(capBytes, Math.round(median * Math.exp(sigma * z[i])));
    return s;
  };
  let lo = 0;
  let hi = 6;
  for (let it = 0; it < 100; it++) {
    const mid = (lo + hi) / 2;
    if (sum(mid) < total) lo = mid;
    else hi = mid;
  }
  const sigma = (lo + hi) / 2;
  const sizes = new Array(count);
  for (let i = 0; i < count; i++) sizes[i] = empty[i] ? 0 : Math.min(capBytes, Math.round(median * Math.exp(sigma * z[i])));
  return { sizes, sigma };
}

/** Weighted choice over a cumulative array (binary search). */
function weightedIndex(cum, x) {
  let lo = 0;
  let hi = cum.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cum[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The plan of a tree: { dirs: [{path, mode, uid, gid, atime, mtime}], files: [{path, size, mode,
 * uid, gid, atime, mtime}], symlinks: [{path, target, uid, gid, atime, mtime}], stats }. Paths are
 * relative ('a/b/c'); dirs are listed parents first.
 */
export function planTree(spec) {
  const rng = makeRng(`fsconv-bench/${GENERATOR_VERSION}/${spec.seed}`);
  return spec.kind === 'smallfiles' ? planSmallFiles(spec, rng) : planHome(spec, rng);
}

function planHome(spec, rng) {
  const dirs = [{ path: '', depth: 0, names: new NameSet(), files: 0 }];
  const planDirs = [];
  const addDir = (parent, name, mode) => {
    const nm = parent.names.claim(name);
    const path = parent.path === '' ? nm : `${parent.path}/${nm}`;
    const d = { path, depth: parent.depth + 1, names: new NameSet(), files: 0 };
    dirs.push(d);
    const [uid, gid] = owner(rng);
    planDirs.push({ path, mode, uid, gid, ...times(rng) });
    return d;
  };
  for (const top of HOME_TOP.slice(0, Math.min(HOME_TOP.length, Math.max(4, Math.floor(spec.dirs / 5))))) {
    addDir(dirs[0], top, top === '.ssh' ? 0o700 : 0o755);
  }
  while (dirs.length - 1 < spec.dirs) {
    // A random existing directory below the depth limit (never the root: its top level is fixed).
    let parent;
    do parent = dirs[1 + rng.int(dirs.length - 1)];
    while (parent.depth >= spec.maxDepth);
    addDir(parent, dirName(rng), rng.chance(0.1) ? 0o700 : 0o755);
  }

  // Files: skewed directory weights (some directories hold many files), at most perDir each.
  const cum = new Float64Array(dirs.length);
  let acc = 0;
  for (let i = 0; i < dirs.length; i++) {
    acc += i === 0 ? 0.2 : Math.exp(1.3 * rng.normal());
    cum[i] = acc;
  }
  const { sizes, sigma } = logNormalSizes(rng, spec.files, spec.medianBytes, spec.totalBytes, spec.capBytes, 0.02);
  const files = [];
  const dotfiles = [...DOTFILES];
  for (let i = 0; i < spec.files; i++) {
    let d;
    do d = dirs[weightedIndex(cum, rng.float() * acc)];
    while (d.files >= spec.perDir);
    d.files++;
    const raw = d.depth === 0 && dotfiles.length > 0 ? dotfiles.shift() : rng.chance(0.03) ? `.${rng.pick(WORDS)}${rng.pick(['rc', '.conf', '_history', ''])}` : fileName(rng);
    const name = d.names.claim(raw);
    const [uid, gid] = owner(rng);
    files.push({ path: d.path === '' ? name : `${d.path}/${name}`, size: sizes[i], mode: fileMode(rng), uid, gid, ...times(rng) });
  }

  // Symlinks: relative, always to an existing file (the copy path's mcopy follows them).
  const symlinks = [];
  for (let i = 0; i < spec.symlinks; i++) {
    const d = dirs[rng.int(dirs.length)];
    const target = files[rng.int(files.length)];
    const name = d.names.claim(rng.chance(0.3) ? rng.pick(['latest', 'current', 'default', 'link']) : `${plainWord(rng)}-link`);
    const rel = posix.relative(d.path === '' ? '.' : d.path, target.path);
    const [uid, gid] = owner(rng);
    symlinks.push({ path: d.path === '' ? name : `${d.path}/${name}`, target: rel, uid, gid, ...times(rng) });
  }
  return { dirs: planDirs, files, symlinks, sigma };
}

function planSmallFiles(spec, rng) {
  const leaves = Math.ceil(spec.files / spec.perDir);
  const tops = Math.max(1, Math.ceil(Math.sqrt(leaves)));
  const dirs = [];
  const leafPaths = [];
  for (let t = 0; t < tops; t++) {
    const top = `batch-${String(t).padStart(3, '0')}`;
    dirs.push({ path: top, mode: 0o755, uid: 1000, gid: 1000, ...times(rng) });
  }
  for (let l = 0; l < leaves; l++) {
    const path = `batch-${String(l % tops).padStart(3, '0')}/part-${String(l).padStart(4, '0')}`;
    dirs.push({ path, mode: 0o755, uid: 1000, gid: 1000, ...times(rng) });
    leafPaths.push(path);
  }
  const files = [];
  const styles = [
    (n) => `IMG_${String(n).padStart(6, '0')}.jpg`,
    (n) => `thumb-${n.toString(16).padStart(8, '0')}.png`,
    (n) => `msg-${n}.eml`,
    (n) => `${n}.json`,
    (n) => `cache entry ${n}.bin`,
  ];
  for (let i = 0; i < spec.files; i++) {
    const dir = leafPaths[Math.floor(i / spec.perDir)];
    const name = rng.pick(styles)(i);
    files.push({ path: `${dir}/${name}`, size: rng.int(spec.maxFileBytes + 1), mode: fileMode(rng), uid: 1000, gid: 1000, ...times(rng) });
  }
  return { dirs, files, symlinks: [], sigma: null };
}

/** Numbers that describe a plan (and size the image). */
export function planStats(plan) {
  const sizes = plan.files.map((f) => f.size).sort((x, y) => x - y);
  let bytes = 0;
  let dataBlocks = 0;
  for (const s of sizes) {
    bytes += s;
    const blocks = Math.ceil(s / BLOCK);
    // Indirect blocks of a 4 KiB-block ext2 (1024 pointers per block).
    const ind = blocks > 12 ? 1 + Math.ceil(Math.max(0, blocks - 12 - 1024) / (1024 * 1024)) + Math.ceil(Math.max(0, blocks - 12 - 1024) / 1024) : 0;
    dataBlocks += blocks + ind;
  }
  const perDir = new Map();
  let nameBytes = 0;
  let longNames = 0;
  let nonAscii = 0;
  let maxDepth = 0;
  for (const e of [...plan.files, ...plan.symlinks, ...plan.dirs]) {
    const slash = e.path.lastIndexOf('/');
    const parent = slash < 0 ? '' : e.path.slice(0, slash);
    const name = e.path.slice(slash + 1);
    perDir.set(parent, (perDir.get(parent) ?? 0) + 1);
    const nb = Buffer.byteLength(name);
    nameBytes += nb;
    if (nb > 64) longNames++;
    if (/[^\x00-\x7f]/.test(name)) nonAscii++;
    maxDepth = Math.max(maxDepth, e.path.split('/').length);
  }
  const entries = plan.files.length + plan.symlinks.length + plan.dirs.length;
  // Directory blocks: 8-byte records + names rounded to 4, per directory, plus one block each.
  const dirBlocks = plan.dirs.length + 1 + Math.ceil((entries * 12 + nameBytes) / BLOCK);
  const slowLinks = plan.symlinks.filter((l) => Buffer.byteLength(l.target) >= 60).length;
  return {
    files: plan.files.length,
    dirs: plan.dirs.length,
    symlinks: plan.symlinks.length,
    entries,
    bytes,
    medianFileBytes: sizes.length ? sizes[Math.floor(sizes.length / 2)] : 0,
    largestFileBytes: sizes.length ? sizes[sizes.length - 1] : 0,
    maxEntriesPerDir: Math.max(0, ...perDir.values()),
    maxDepth,
    longNames,
    nonAsciiNames: nonAscii,
    sigma: plan.sigma,
    dataBlocks: dataBlocks + dirBlocks + slowLinks,
  };
}

// ---------------------------------------------------------------------------------------------
// Writing

const CHUNK = 8 << 20;
const ZEROS = Buffer.alloc(CHUNK);

function writeAll(fd, buf) {
  for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off, buf.length - off);
}

/**
 * Writes the plan under root (removed first). Owners are set when running as root (mke2fs -d copies
 * them). progress(doneFiles, totalFiles) is called now and then.
 */
export function writeTree(plan, root, seed, progress) {
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  const key = createHash('sha256').update(`fsconv-bench-content/${GENERATOR_VERSION}/${seed}`).digest().subarray(0, 16);
  const iv = Buffer.alloc(16);
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  for (const d of plan.dirs) mkdirSync(`${root}/${d.path}`, { mode: 0o755 });
  let lastReport = Date.now();
  plan.files.forEach((f, i) => {
    const path = `${root}/${f.path}`;
    const fd = openSync(path, 'w', f.mode);
    try {
      fchmodSync(fd, f.mode); // exact, whatever the umask
      if (f.size > 0) {
        iv.fill(0);
        iv.writeUInt32BE(i, 0); // counter block: file index high, block counter low
        const cipher = createCipheriv('aes-128-ctr', key, iv);
        for (let left = f.size; left > 0; ) {
          const n = Math.min(left, CHUNK);
          writeAll(fd, cipher.update(ZEROS.subarray(0, n)));
          left -= n;
        }
      }
    } finally {
      closeSync(fd);
    }
    if (asRoot) lchownSync(path, f.uid, f.gid);
    utimesSync(path, f.atime, f.mtime);
    if ((i + 1) % 1000 === 0 && Date.now() - lastReport > 2000) {
      lastReport = Date.now();
      progress(i + 1, plan.files.length);
    }
  });
  for (const l of plan.symlinks) {
    const path = `${root}/${l.path}`;
    symlinkSync(l.target, path);
    if (asRoot) lchownSync(path, l.uid, l.gid);
    lutimesSync(path, l.atime, l.mtime);
  }
  // Directories last (creating entries changes a directory's times): modes, owners, times.
  for (const d of [...plan.dirs].reverse()) {
    const path = `${root}/${d.path}`;
    chmodSync(path, d.mode);
    if (asRoot) lchownSync(path, d.uid, d.gid);
    utimesSync(path, d.atime, d.mtime);
  }
  utimesSync(root, T_MAX, T_MAX);
  progress(plan.files.length, plan.files.length);
}
