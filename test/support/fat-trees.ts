// A host directory tree holding every FAT naming trap we know of (fat-facts "Directory entries and
// long names" and "Traps found by testing"): names equal without case, characters illegal in long
// names, trailing dots and spaces, reserved device names, names at the 255-byte ext2 limit, 300
// names sharing a long prefix (short-name alias generation), characters outside the BMP, bytes
// that are not UTF-8, 8.3 names in every case combination, characters legal in long names only,
// and a deep directory with some of these inside. Plus a few times at and past FAT's limits.
//
// Everything is deterministic: contents (distinct per file, so a byte comparison tells any two
// apart), mtimes (even seconds unless an entry is about odd times) and creation order. Run as root
// (like the other trees; nothing here strictly needs it). Paths in the facts are '/'-rooted and
// decoded like LsEntry paths (U+FFFD for bytes that are not UTF-8), so two raw names can share one
// decoded path: use rawPath to tell them apart.
import { createHash } from 'node:crypto';
import { closeSync, existsSync, lutimesSync, mkdirSync, openSync, readdirSync, writeSync } from 'node:fs';
import { decodeName } from './ls-entry.js';
import { prngBytes } from './trees.js';

export type FatTrap =
  | 'case' // equal ignoring case to a sibling
  | 'illegal' // a character illegal in long names: " * : < > ? \ | or a control character
  | 'trailing' // ends with a dot or a space (not kept by Linux/Windows)
  | 'leading' // starts with a dot or a space
  | 'dots' // only dots (and spaces), legal on Linux
  | 'reserved' // a DOS device name, with or without extension
  | 'long' // 255 bytes, or the longest name in UTF-16 units that fits in 255 bytes
  | 'prefix' // one of 300 names sharing a long prefix
  | 'nonBmp' // characters outside the BMP (surrogate pairs in UTF-16)
  | 'notUtf8' // name bytes that are not valid UTF-8
  | 'signs' // $#%right.$#@ and $#%RIGHT.$#@
  | 'short83' // a valid 8.3 name in some case combination
  | 'lfnOnly' // characters legal in long names but not in short names (+ , ; = [ ] space, non-ASCII)
  | 'multiDot' // more than one dot
  | 'alias' // collides with a generated short-name alias, or has a hard one
  | 'nested' // inside the deep directory
  | 'time'; // an mtime at or past the FAT range (1980-01-01 .. 2107-12-31 23:59:58) or on an odd second

export interface FatTrapEntry {
  /** '/'-rooted, decoded per component (U+FFFD for invalid UTF-8). Not unique: see rawPath. */
  path: string;
  /** The exact bytes of the path relative to the root (no leading slash). Unique. */
  rawPath: Buffer;
  type: 'file' | 'dir';
  traps: FatTrap[];
  /** Files only: the exact content and its sha256 (hex). */
  content?: Buffer;
  sha256?: string;
  /** mtime set on the host, integer seconds since the epoch. */
  mtime: number;
}

export interface FatTrapFacts {
  root: string;
  /** Every entry under root, parents before children (root itself excluded). */
  entries: FatTrapEntry[];
  /** entries' decoded paths, in the same order (may repeat: two raw names can decode alike). */
  paths: string[];
  fileCount: number;
  dirCount: number;
  /** Decoded paths per trap kind. */
  byTrap: Record<FatTrap, string[]>;
  /** Groups of siblings whose names are equal ignoring case (each group ≥ 2 paths). */
  caseGroups: string[][];
  /** Groups of siblings that become equal once trailing dots and spaces are dropped. */
  trimGroups: string[][];
  /** Names whose bytes are not valid UTF-8: decoded path and raw name bytes (last component). */
  rawNames: Array<{ path: string; raw: Buffer }>;
  /** Decoded paths that more than one raw path decodes to. */
  decodedCollisions: string[];
  /** The directory holding the 300 common-prefix names, and their count. */
  prefixDir: string;
  prefixCount: number;
  /** The long names: 255 ASCII bytes; the longest in UTF-16 units with a multibyte char; others. */
  longNames: Array<{ path: string; bytes: number; utf16Units: number }>;
  /** Decoded path → content, for files whose decoded path is unique. */
  contents: Map<string, Buffer>;
  /** The deepest directory of the nest. */
  deepest: string;
}

const ALL_TRAPS: FatTrap[] = [
  'case', 'illegal', 'trailing', 'leading', 'dots', 'reserved', 'long', 'prefix', 'nonBmp', 'notUtf8', 'signs',
  'short83', 'lfnOnly', 'multiDot', 'alias', 'nested', 'time',
];

type Rel = string | Buffer;

const BASE_MTIME = 1_000_000_000; // 2001-09-09T01:46:40Z (even)

class FatTrapBuilder {
  private readonly rootBuf: Buffer;
  readonly entries: FatTrapEntry[] = [];
  private readonly caseGroups = new Map<string, string[]>();
  private readonly trimGroups = new Map<string, string[]>();
  private readonly rawNames: Array<{ path: string; raw: Buffer }> = [];

  constructor(readonly root: string) {
    if (existsSync(root) && readdirSync(root).length > 0) throw new Error(`buildFatTrapTree: ${root} exists and is not empty`);
    mkdirSync(root, { recursive: true });
    this.rootBuf = Buffer.from(root, 'utf8');
  }

  private static buf(rel: Rel): Buffer {
    return typeof rel === 'string' ? Buffer.from(rel, 'utf8') : rel;
  }

  private abs(rel: Buffer): Buffer {
    return Buffer.concat([this.rootBuf, Buffer.from('/'), rel]);
  }

  private static display(rel: Buffer): string {
    const parts: string[] = [];
    let start = 0;
    for (let i = 0; i <= rel.length; i++) {
      if (i === rel.length || rel[i] === 0x2f) {
        parts.push(decodeName(rel.subarray(start, i)));
        start = i + 1;
      }
    }
    return '/' + parts.join('/');
  }

  private record(rel: Buffer, type: 'file' | 'dir', traps: FatTrap[], opts: EntryOpts, content?: Buffer): FatTrapEntry {
    const path = FatTrapBuilder.display(rel);
    const n = this.entries.length;
    const e: FatTrapEntry = { path, rawPath: rel, type, traps: [...traps], mtime: opts.mtime ?? BASE_MTIME + 2 * n };
    if (content !== undefined) {
      e.content = content;
      e.sha256 = createHash('sha256').update(content).digest('hex');
    }
    if (opts.mtime !== undefined && !e.traps.includes('time')) e.traps.push('time');
    const slash = rel.lastIndexOf(0x2f);
    const name = rel.subarray(slash + 1);
    if (!Buffer.from(decodeName(name), 'utf8').equals(name)) {
      this.rawNames.push({ path, raw: Buffer.from(name) });
      if (!e.traps.includes('notUtf8')) e.traps.push('notUtf8');
    }
    if (opts.caseGroup !== undefined) this.addTo(this.caseGroups, opts.caseGroup, path, e, 'case');
    if (opts.trimGroup !== undefined) this.addTo(this.trimGroups, opts.trimGroup, path, e, 'trailing');
    this.entries.push(e);
    return e;
  }

  private addTo(groups: Map<string, string[]>, id: string, path: string, e: FatTrapEntry, trap: FatTrap): void {
    const g = groups.get(id);
    if (g === undefined) groups.set(id, [path]);
    else g.push(path);
    if (trap === 'case' && !e.traps.includes(trap)) e.traps.push(trap);
  }

  dir(rel: Rel, traps: FatTrap[] = [], opts: EntryOpts = {}): string {
    const b = FatTrapBuilder.buf(rel);
    mkdirSync(this.abs(b));
    return this.record(b, 'dir', traps, opts).path;
  }

  file(rel: Rel, traps: FatTrap[] = [], opts: EntryOpts & { size?: number } = {}): string {
    const b = FatTrapBuilder.buf(rel);
    const n = this.entries.length;
    // Distinct content: a header naming the entry (index and raw path), then PRNG bytes.
    const header = Buffer.from(`fat-trap #${n} ${b.toString('hex')}\n`, 'utf8');
    const size = opts.size ?? (n * 37) % 1500;
    const content = Buffer.concat([header, prngBytes(`fat-trap/${b.toString('hex')}`, size)]);
    const fd = openSync(this.abs(b), 'wx', 0o644);
    try {
      for (let off = 0; off < content.length; ) off += writeSync(fd, content, off, content.length - off);
    } finally {
      closeSync(fd);
    }
    return this.record(b, 'file', traps, opts, content).path;
  }

  /** Sets every mtime (and atime = mtime), children before parents. */
  finish(): FatTrapFacts {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const e = this.entries[i]!;
      const t = new Date(e.mtime * 1000);
      lutimesSync(this.abs(e.rawPath), t, t);
    }
    const root = new Date(BASE_MTIME * 1000);
    lutimesSync(this.rootBuf, root, root);

    const byTrap = Object.fromEntries(ALL_TRAPS.map((t) => [t, [] as string[]])) as Record<FatTrap, string[]>;
    for (const e of this.entries) for (const t of e.traps) byTrap[t].push(e.path);
    const seen = new Map<string, number>();
    for (const e of this.entries) seen.set(e.path, (seen.get(e.path) ?? 0) + 1);
    const contents = new Map<string, Buffer>();
    for (const e of this.entries) if (e.content !== undefined && seen.get(e.path) === 1) contents.set(e.path, e.content);
    const check = (groups: Map<string, string[]>, what: string): string[][] => {
      const out = [...groups.values()];
      for (const g of out) if (g.length < 2) throw new Error(`buildFatTrapTree: ${what} group ${g[0]} has one member`);
      return out;
    };
    return {
      root: this.root,
      entries: this.entries,
      paths: this.entries.map((e) => e.path),
      fileCount: this.entries.filter((e) => e.type === 'file').length,
      dirCount: this.entries.filter((e) => e.type === 'dir').length,
      byTrap,
      caseGroups: check(this.caseGroups, 'case'),
      trimGroups: check(this.trimGroups, 'trim'),
      rawNames: this.rawNames,
      decodedCollisions: [...seen].filter(([, c]) => c > 1).map(([p]) => p),
      prefixDir: '/prefix',
      prefixCount: PREFIX_COUNT,
      longNames: [],
      contents,
      deepest: '',
    };
  }
}

interface EntryOpts {
  /** Entries with the same id are equal ignoring case (siblings). */
  caseGroup?: string;
  /** Entries with the same id are equal once trailing dots/spaces are dropped (siblings). */
  trimGroup?: string;
  /** A deliberate mtime (seconds); otherwise an even, increasing one. */
  mtime?: number;
}

const PREFIX_COUNT = 300;

const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');

/**
 * Builds the FAT trap tree under root (created; must be absent or empty) and returns what it
 * made. See FatTrapFacts; every category of FatTrap has at least one entry.
 */
export function buildFatTrapTree(root: string): { facts: FatTrapFacts } {
  const b = new FatTrapBuilder(root);

  // A few traps straight in the root directory (a fixed-size table on FAT12/16).
  b.file('README', ['short83'], { caseGroup: 'root:readme' });
  b.file('readme', ['short83'], { caseGroup: 'root:readme' });
  b.file('CON', ['reserved']);
  b.file('trailing dot.', ['trailing']);
  b.file('...', ['dots']);
  b.file('😀', ['nonBmp']);
  b.file('what?', ['illegal']);

  // Names equal ignoring case.
  b.dir('case');
  for (const n of ['README', 'readme', 'ReadMe']) b.file(`case/${n}`, [], { caseGroup: 'case:readme' });
  for (const n of ['a.TXT', 'A.txt']) b.file(`case/${n}`, [], { caseGroup: 'case:a.txt' });
  for (const n of ['readme.txt', 'README.TXT', 'ReadMe.Txt']) b.file(`case/${n}`, ['short83'], { caseGroup: 'case:readme.txt' });
  b.dir('case/Dir', [], { caseGroup: 'case:dir' }); // a directory and a file
  b.file('case/Dir/inside', []);
  b.file('case/DIR', [], { caseGroup: 'case:dir' });
  for (const n of ['École', 'école', 'ÉCOLE']) b.file(`case/${n}`, ['lfnOnly'], { caseGroup: 'case:ecole' });
  for (const n of ['Long Name A.txt', 'Long Name a.txt']) b.file(`case/${n}`, ['lfnOnly'], { caseGroup: 'case:long name a' });
  for (const n of ['x😀y', 'X😀Y']) b.file(`case/${n}`, ['nonBmp'], { caseGroup: 'case:x-emoji-y' });

  // $#%right.$#@: a valid 8.3 name in upper case; its lower-case twin maps to the same short name.
  b.dir('signs');
  b.file('signs/$#%right.$#@', ['signs'], { caseGroup: 'signs:right' });
  b.file('signs/$#%RIGHT.$#@', ['signs', 'short83'], { caseGroup: 'signs:right' });

  // Characters illegal in long names (Linux allows all but '/' and NUL).
  b.dir('illegal');
  for (const n of [
    'q"uote', 'star*', 'co:lon', 'lt<', 'gt>', 'what?', 'back\\slash', 'pi|pe', // each of " * : < > ? \ |
    'ctl\x01', '\x1fctl', 'tab\there', 'new\nline', 'cr\rhere', 'esc\x1b[0m', // control characters
    '???', ':', '"<>|', '*.*', 'a:b:c.txt', // only or mostly illegal characters
  ]) {
    b.file(`illegal/${n}`, ['illegal']);
  }
  b.file('illegal/del\x7f', ['lfnOnly']); // 0x7F: legal in a long name, illegal in a short one
  b.dir('illegal/dir?*', ['illegal']);
  b.file('illegal/dir?*/file|1', ['illegal']);

  // Trailing dots and spaces (dropped by Linux and Windows): several collapse onto one name.
  b.dir('trailing');
  for (const n of ['name', 'name.', 'name..', 'name ', 'name . ']) b.file(`trailing/${n}`, n === 'name' ? [] : ['trailing'], { trimGroup: 'trailing:name' });
  for (const n of ['a', 'a. .']) b.file(`trailing/${n}`, n === 'a' ? [] : ['trailing'], { trimGroup: 'trailing:a' });
  b.file('trailing/file.txt.', ['trailing', 'multiDot']);
  b.file('trailing/spaces   ', ['trailing']);
  b.dir('trailing/dir.', ['trailing']);
  b.file('trailing/dir./inside ', ['trailing']);

  // Leading dots and spaces.
  b.dir('leading');
  for (const n of [' lead space', '  two spaces', '.hidden', '..two dots', ' .space dot', '. dot space', '.profile']) {
    b.file(`leading/${n}`, ['leading']);
  }
  b.dir('leading/ dir');
  b.file('leading/ dir/.x', ['leading']);

  // Names of dots only (legal on Linux; '.' and '..' themselves are not names).
  b.dir('dots');
  for (const n of ['...', '....', '. .', '.. ', ' ...']) b.file(`dots/${n}`, ['dots'], { trimGroup: 'dots:empty' }); // all trim to ''

  // Reserved device names, in any case and with any extension.
  b.dir('reserved');
  for (const n of ['CON', 'con.txt', 'Nul', 'COM1.log', 'lpt9', 'aux.tar.gz', 'PRN', 'com9', 'LPT1.TXT', 'nul.', 'CONIN$', 'Con .txt']) {
    b.file(`reserved/${n}`, ['reserved']);
  }
  b.dir('reserved/Aux', ['reserved']);
  b.file('reserved/Aux/prn.c', ['reserved']);

  // Long names: ext2 caps names at 255 BYTES, long FAT names at 255 UTF-16 units.
  b.dir('long');
  const longNames: FatTrapFacts['longNames'] = [];
  const long = (name: string): void => {
    const bytes = Buffer.byteLength(name, 'utf8');
    if (bytes > 255) throw new Error(`buildFatTrapTree: ${bytes}-byte name`);
    const p = b.file(`long/${name}`, ['long']);
    longNames.push({ path: p, bytes, utf16Units: name.length });
  };
  long('L'.repeat(251) + '.txt'); // 255 bytes = 255 units: the most a long name can hold
  long('L'.repeat(250) + 'M.txt'); // differs only at position 250: the aliases must still differ
  long('é' + 'm'.repeat(249) + '.txt'); // multibyte: 255 bytes, 254 units (the longest possible)
  long('é'.repeat(125) + 'x.txt'); // 255 bytes, 130 units
  long('日'.repeat(85)); // 255 bytes, 85 units
  long('𝄞'.repeat(63) + 'abc'); // 255 bytes, 129 units, 63 surrogate pairs
  long('T'.repeat(254) + '.'); // 255 bytes with a trailing dot
  b.dir(`long/${'D'.repeat(255)}`, ['long']);
  b.file(`long/${'D'.repeat(255)}/${'F'.repeat(255)}`, ['long']);

  // 300 names sharing a long prefix: short-name aliases run past ~9 into the hashed form.
  b.dir('prefix');
  for (let i = 0; i < PREFIX_COUNT; i++) b.file(`prefix/a very long common prefix ${String(i).padStart(3, '0')}.txt`, ['prefix'], { size: i % 64 });

  // Characters outside the BMP (mtools 4.0.32 cannot round-trip them: fat-facts trap 3).
  b.dir('nonbmp');
  for (const n of ['😀 emoji.txt', '𝄞', '𝄞 clef.txt', 'family 👨‍👩‍👧.txt', 'a😀b', '🙂🙃']) b.file(`nonbmp/${n}`, ['nonBmp']);
  b.dir('nonbmp/📁 folder', ['nonBmp']);
  b.file('nonbmp/📁 folder/📄', ['nonBmp']);

  // Bytes that are not UTF-8 (Latin-1 names): caf\xe9 and caf\xe8 decode alike; café is valid.
  b.dir('latin1');
  b.file(latin1('latin1/caf\xe9'), ['notUtf8']);
  b.file(latin1('latin1/caf\xe8'), ['notUtf8']);
  b.file(latin1('latin1/\xff\xfe'), ['notUtf8']);
  b.file(latin1('latin1/caf\xe9.txt'), ['notUtf8']);
  b.file(Buffer.concat([Buffer.from('latin1/'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from(' lone surrogate')]), ['notUtf8']);
  b.file('latin1/café', ['lfnOnly']); // valid UTF-8, NFC
  b.file('latin1/cafe\u0301', ['lfnOnly']); // valid UTF-8, NFD: a different name
  b.dir(latin1('latin1/dir \xe0'), ['notUtf8']);
  b.file(latin1('latin1/dir \xe0/\xfcber'), ['notUtf8']);

  // Short-name (8.3) shapes, each alone in its directory so case bits are not confounded.
  b.dir('short');
  for (const [d, n] of [['lower', 'readme.txt'], ['upper', 'README.TXT'], ['mixed', 'ReadMe.Txt'], ['lowbase', 'readme.TXT'], ['lowext', 'README.txt'], ['noext-lower', 'noext'], ['noext-upper', 'NOEXT']] as const) {
    b.dir(`short/${d}`);
    b.file(`short/${d}/${n}`, ['short83']);
  }
  b.file('short/.profile', ['leading']); // extension only
  b.file('short/archive.tar.gz', ['multiDot']);
  b.file('short/A.B.C', ['multiDot']);
  b.file('short/a+b,c;d=e[f]', ['lfnOnly']);
  b.file('short/x y.txt', ['lfnOnly']);
  b.file('short/ABCDEFGHI.TXT', []); // base too long for 8.3
  b.file('short/ext.toolong', []);
  b.file('short/12345678.123', ['short83']);
  b.file('short/ÕX.TXT', ['short83']); // Õ is 0xE5 in CP850: stored as 0x05 in the first byte
  b.file('short/ÄÖÜ.TXT', ['short83']);
  b.file('short/LONGNA~1.TXT', ['alias', 'short83']); // a real name equal to the alias below would get
  b.file('short/longname alias.txt', ['alias']);
  b.file('short/big.bin', [], { size: 100_000 }); // spans many clusters

  // A nest a few levels deep, its directory names traps themselves.
  const deep = ['nest', 'nest/Level 1', 'nest/Level 1/CON', 'nest/Level 1/CON/trail dir.', 'nest/Level 1/CON/trail dir./ lead dir', 'nest/Level 1/CON/trail dir./ lead dir/😀 deep'];
  for (const d of deep) b.dir(d, d === 'nest' ? [] : ['nested']);
  const deepRaw = Buffer.concat([Buffer.from(`${deep[deep.length - 1]!}/`), latin1('caf\xe9 dir')]);
  const deepest = b.dir(deepRaw, ['nested']);
  const inDeep = (name: string): Buffer => Buffer.concat([deepRaw, Buffer.from(`/${name}`)]);
  b.file(inDeep('README'), ['nested'], { caseGroup: 'nest:readme' });
  b.file(inDeep('readme'), ['nested'], { caseGroup: 'nest:readme' });
  b.file(inDeep('what?'), ['nested', 'illegal']);
  b.file(inDeep('name.'), ['nested', 'trailing']);
  b.file(inDeep('a+b,c;d=e[f]'), ['nested', 'lfnOnly']);
  b.file(inDeep('lpt1.txt'), ['nested', 'reserved']);
  b.file(inDeep('N'.repeat(200) + '.txt'), ['nested', 'long']);
  b.file('nest/Level 1/file at level 1', ['nested']);
  b.file('nest/Level 1/CON/file in CON', ['nested']);

  // Times at and past the FAT range (2-second steps, 1980-01-01 to 2107-12-31 23:59:58, local).
  b.dir('times');
  const utc = (y: number, mo: number, d: number, h = 0, mi = 0, s = 0): number => Date.UTC(y, mo - 1, d, h, mi, s) / 1000;
  b.file('times/1975', [], { mtime: utc(1975, 6, 1, 12) });
  b.file('times/1980-01-01', [], { mtime: utc(1980, 1, 1) });
  b.file('times/odd second', [], { mtime: utc(2001, 2, 3, 4, 5, 7) });
  b.file('times/2107-12-31 23.59.58', [], { mtime: utc(2107, 12, 31, 23, 59, 58) });
  b.file('times/2107-12-31 23.59.59', [], { mtime: utc(2107, 12, 31, 23, 59, 59) });
  b.file('times/2110', [], { mtime: utc(2110, 1, 1) });

  const facts = b.finish();
  facts.longNames = longNames;
  facts.deepest = deepest;
  for (const t of ALL_TRAPS) if (facts.byTrap[t].length === 0) throw new Error(`buildFatTrapTree: no entry for trap '${t}'`);
  return { facts };
}
