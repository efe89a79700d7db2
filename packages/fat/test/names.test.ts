import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_DIR_SLOTS, NT_LOWER_BASE, NT_LOWER_EXT, RIGHTS_FILE_NAME } from '../src/constants.js';
import { decodeDirectory } from '../src/dirent.js';
import { foldName } from '../src/case-fold.js';
import { DirectoryNamer, slotsFor, type NamerOptions, type PlannedName } from '../src/directory-namer.js';
import { isValidShortName, shortNameToString } from '../src/short-name.js';
import { decodeSourceName } from '../src/source-name.js';

const utf8 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'utf8'));
/** The 11 short-name bytes as a latin1 string, e.g. 'README  TXT'. */
const sn = (p: PlannedName): string => Buffer.from(p.shortName).toString('latin1');
const vfat = (dir = '/d', more: Partial<NamerOptions> = {}): DirectoryNamer => new DirectoryNamer({ target: 'vfat', ...more }, dir);
const msdos = (dir = '/d', more: Partial<NamerOptions> = {}): DirectoryNamer => new DirectoryNamer({ target: 'msdos', ...more }, dir);
const lfnText = (p: PlannedName): string | null => (p.longName === null ? null : String.fromCharCode(...p.longName));

/** What every planned name must satisfy, whatever the input: the list of broken rules. */
function problems(p: PlannedName, codepage = 'cp437'): string[] {
  const out: string[] = [];
  const bad = (what: string): void => void out.push(`${JSON.stringify(p.displayName)} / ${JSON.stringify(sn(p))}: ${what}`);
  if (p.shortName.length !== 11) bad('short name not 11 bytes');
  if (!isValidShortName(p.shortName)) bad('short name not valid');
  if (p.shortName[0] === 0x20) bad('short name starts with a space');
  if (p.shortName.some((b) => b === 0x3f || b === 0x2e || (b >= 0x61 && b <= 0x7a) || b < 0x20 || b === 0x7f)) bad('illegal byte');
  // Our generated names have no space inside a part, only padding.
  if (!/^[^ ]+ *$/.test(sn(p).slice(0, 8)) || !/^[^ ]* *$/.test(sn(p).slice(8))) bad('space inside a part');
  if (p.displayName.length < 1 || p.displayName.length > 255) bad('display name length');
  if (/[\u0000-\u001f"*/:<>?\\|]/.test(p.displayName)) bad('illegal character in display name');
  if (/[. ]$/.test(p.displayName)) bad('trailing dot or space');
  if (/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(p.displayName)) bad('lone surrogate');
  if (p.longName === null) {
    if (shortNameToString(p.shortName, codepage, p.ntCase) !== p.displayName) bad('8.3 entry does not show the display name');
  } else if (lfnText(p) !== p.displayName) bad('long name differs from display name');
  if ((p.ntCase & ~(NT_LOWER_BASE | NT_LOWER_EXT)) !== 0) bad('stray NT case bits');
  return out;
}
const checkPlanned = (p: PlannedName, codepage = 'cp437'): void => expect(problems(p, codepage)).toEqual([]);

/** Uniqueness within one directory: 11-byte short names, and display names / aliases without case. */
function checkDirectory(ps: PlannedName[], codepage = 'cp437'): void {
  const shorts = new Set(ps.map(sn));
  expect(shorts.size).toBe(ps.length);
  const displays = new Set(ps.map((p) => foldName(p.displayName)));
  expect(displays.size).toBe(ps.length);
  // No display name may look up (case-insensitively) another entry's 8.3 name.
  const aliasOwner = new Map(ps.map((p, i) => [foldName(shortNameToString(p.shortName, codepage)), i]));
  const clashes = ps.filter((q, j) => (aliasOwner.get(foldName(q.displayName)) ?? j) !== j).map((q) => q.displayName);
  expect(clashes).toEqual([]);
}

describe('8.3 names without long names', () => {
  it('keeps uppercase 8.3 names as they are, with no LFN', () => {
    const n = vfat();
    for (const [name, short] of [['README', 'README     '], ['AUTOEXEC.BAT', 'AUTOEXECBAT'], ['A', 'A          '], ['X-1_$~.{}', 'X-1_$~  {} '], ['123.456', '123     456']] as const) {
      const p = n.add(utf8(name));
      expect(p).toMatchObject({ displayName: name, longName: null, ntCase: 0 });
      expect(p.rename).toBeUndefined();
      expect(sn(p)).toBe(short);
      checkPlanned(p);
    }
  });

  it('uses the NT case bits for lowercase parts', () => {
    const n = vfat();
    const cases: Array<[string, string, number]> = [
      ['readme.txt', 'README  TXT', NT_LOWER_BASE | NT_LOWER_EXT],
      ['makefile', 'MAKEFILE   ', NT_LOWER_BASE],
      ['NOTES.md', 'NOTES   MD ', NT_LOWER_EXT],
      ['data.BIN', 'DATA    BIN', NT_LOWER_BASE],
      ['123.txt', '123     TXT', NT_LOWER_EXT],
    ];
    for (const [name, short, nt] of cases) {
      const p = n.add(utf8(name));
      expect(p).toMatchObject({ displayName: name, longName: null, ntCase: nt });
      expect(sn(p)).toBe(short);
      expect(p.rename).toBeUndefined();
      checkPlanned(p);
    }
  });

  it('gives mixed-case, too long, spaced, dotted and non-ASCII names an LFN and an alias', () => {
    const n = vfat();
    const cases: Array<[string, string]> = [
      ['ReadMe.txt', 'README  TXT'], // an 8.3 name apart from case: the alias is the plain form (Linux does the same)
      ['Makefile', 'MAKEFILE   '],
      ['Long File Name.txt', 'LONGFI~1TXT'],
      ['longfilename.html', 'LONGFI~1HTM'],
      ['archive.tar.gz', 'ARCHIV~1GZ '],
      ['.bashrc', 'BASHRC~1   '],
      ['a b', 'AB~1       '],
      ['x+y=z[1];2,3', 'X_Y_Z_~1   '],
      ["don't", 'DON_T~1    '], // `'` is legal but mtools refuses it when creating: never generated
      ['é', '\x90          '],
    ];
    for (const [name, short] of cases) {
      const p = n.add(utf8(name));
      expect(p.displayName).toBe(name);
      expect(lfnText(p)).toBe(name);
      expect(p.ntCase).toBe(0);
      expect(p.rename).toBeUndefined();
      expect(sn(p), name).toBe(short);
      checkPlanned(p);
    }
    expect(n.slotsUsed).toBe(cases.reduce((s, [name]) => s + 1 + Math.ceil(name.length / 13), 0));
  });

  it('reserves the rights file as $#%RIGHT$#@ with NT_LOWER_BASE and no LFN', () => {
    const n = vfat('/', {});
    const p = n.reserve(RIGHTS_FILE_NAME);
    expect(sn(p)).toBe('$#%RIGHT$#@');
    expect(p).toMatchObject({ longName: null, ntCase: NT_LOWER_BASE, displayName: '$#%right.$#@' });
    expect(p.rename).toBeUndefined();
    expect(slotsFor(p)).toBe(1);
    expect(n.slotsUsed).toBe(1);
  });
});

describe('renames', () => {
  it('replaces every character illegal in long names by _', () => {
    const illegal = [...'"*/:<>?\\|', ...Array.from({ length: 32 }, (_, i) => String.fromCharCode(i))];
    const n = vfat();
    for (const c of illegal) {
      const p = n.add(utf8(`a${c}b ${illegal.indexOf(c)}.txt`));
      expect(p.displayName).toBe(`a_b ${illegal.indexOf(c)}.txt`);
      expect(p.rename?.from).toBe(`a${c}b ${illegal.indexOf(c)}.txt`);
      expect(p.rename?.reason).toMatch(/not allowed/);
      checkPlanned(p);
    }
  });

  it('replaces trailing dots and spaces by _ each', () => {
    const n = vfat();
    expect(n.add(utf8('name.')).displayName).toBe('name_');
    expect(n.add(utf8('name. .')).displayName).toBe('name___');
    expect(n.add(utf8('a ')).displayName).toBe('a_');
    expect(n.add(utf8('...')).displayName).toBe('___');
    const p = n.add(utf8('x.y  '));
    expect(p.displayName).toBe('x.y__');
    expect(p.rename).toEqual({ from: 'x.y  ', reason: expect.stringMatching(/trailing/) });
    // A leading dot or inner spaces are fine.
    expect(n.add(utf8('.hidden file')).rename).toBeUndefined();
  });

  it('appends _ to reserved device names, any case, with any extension', () => {
    const n = vfat();
    const devices = ['CON', 'PRN', 'AUX', 'NUL', ...Array.from({ length: 9 }, (_, i) => `COM${i + 1}`), ...Array.from({ length: 9 }, (_, i) => `LPT${i + 1}`)];
    for (const d of devices) {
      const p = n.add(utf8(d));
      expect(p.displayName).toBe(`${d}_`);
      expect(p.rename?.reason).toMatch(/device/);
      expect(n.add(utf8(`${d.toLowerCase()}.txt`)).displayName).toBe(`${d.toLowerCase()}_.txt`);
    }
    expect(n.add(utf8('Con.tar.gz')).displayName).toBe('Con_.tar.gz');
    expect(n.add(utf8('aux .c')).displayName).toBe('aux_ .c');
    for (const ok of ['console', 'COM10', 'lpt0', 'nul_x', 'xcon', 'com']) {
      const p = n.add(utf8(ok));
      expect(p.displayName).toBe(ok);
      expect(p.rename).toBeUndefined();
    }
  });

  it('keeps a 255-unit name and shortens a 300-unit one, keeping the extension', () => {
    const n = vfat();
    const n255 = `${'a'.repeat(251)}.txt`;
    const p = n.add(utf8(n255));
    expect(p.displayName).toBe(n255);
    expect(p.rename).toBeUndefined();
    expect(slotsFor(p)).toBe(21);
    const n300 = `${'b'.repeat(296)}.txt`;
    const q = n.add(utf8(n300));
    expect(q.displayName).toBe(`${'b'.repeat(251)}.txt`);
    expect(q.rename?.reason).toMatch(/255/);
    expect(q.rename?.from).toBe(n300);
    const noExt = n.add(utf8('c'.repeat(300)));
    expect(noExt.displayName).toBe('c'.repeat(255));
    // Surrogate pairs are never split.
    const emoji = n.add(utf8(`${'😀'.repeat(150)}.txt`));
    expect(emoji.displayName).toBe(`${'😀'.repeat(125)}.txt`);
    for (const x of [p, q, noExt, emoji]) checkPlanned(x);
  });

  it('keeps non-BMP characters as surrogate pairs', () => {
    const n = vfat();
    const p = n.add(utf8('😀 𝄞.txt'));
    expect(p.displayName).toBe('😀 𝄞.txt');
    expect(Array.from(p.longName!.slice(0, 2))).toEqual([0xd83d, 0xde00]);
    expect(p.rename).toBeUndefined();
    expect(sn(p)).toBe('__~1    TXT');
    checkPlanned(p);
  });

  it('decodes Latin-1 bytes by sourceCharset', () => {
    const cafe = Uint8Array.from([0x63, 0x61, 0x66, 0xe9, 0x2e, 0x74, 0x78, 0x74]); // "café.txt" in Latin-1
    const asUtf8 = vfat().add(cafe);
    expect(asUtf8.displayName).toBe('caf_.txt');
    expect(asUtf8.rename).toEqual({ from: 'caf\ufffd.txt', reason: expect.stringMatching(/not valid utf-8/) });
    expect(asUtf8.longName).toBeNull();
    const asLatin1 = vfat('/d', { sourceCharset: 'latin1' }).add(cafe);
    expect(asLatin1.displayName).toBe('café.txt');
    expect(asLatin1.rename).toBeUndefined();
    expect(sn(asLatin1)).toBe('CAF\x90    TXT'); // É in cp437
    // Every bad byte becomes one _, good sequences around them survive.
    expect(decodeSourceName(Uint8Array.from([0xe2, 0x82, 0x41, 0xc3, 0xa9, 0xff, 0xed, 0xa0, 0x80, 0xc0, 0xaf]))).toEqual({
      text: '__Aé______', shown: '\ufffd\ufffdAé\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd', badBytes: 8,
    });
    expect(decodeSourceName(Uint8Array.from([0x41, 0x81, 0x80]), 'cp1252')).toEqual({ text: 'A_€', shown: 'A\ufffd€', badBytes: 1 });
  });

  it('puts characters ≥ 0x80 into aliases only when the code page maps them both ways', () => {
    const names = ['é.txt', 'Á.txt', 'Ø', '€uro', 'ß', 'ÿ', '中文.doc', 'a\u00a0b'];
    const in437 = vfat('/d', { codepage: 'cp437' });
    const in850 = vfat('/d', { codepage: 'cp850' });
    const r437 = names.map((x) => sn(in437.add(utf8(x))));
    const r850 = names.map((x) => sn(in850.add(utf8(x))));
    expect(r437).toEqual(['\x90       TXT', '_~1     TXT', '_~1        ', '_URO~1     ', '_~2        ', '_~3        ', '__~1    DOC', 'A_B~1      ']);
    expect(r850).toEqual(['\x90       TXT', '\xb5       TXT', '\x9d          ', '_URO~1     ', '_~1        ', '_~2        ', '__~1    DOC', 'A_B~1      ']);
    for (const r of [...r437, ...r850]) expect(r).not.toContain('?');
  });

  it('renames names equal without case to one already there, (2) (3) before the extension', () => {
    const n = vfat();
    const a = n.add(utf8('README'));
    const b = n.add(utf8('readme'));
    const c = n.add(utf8('Readme'));
    expect([a, b, c].map((p) => p.displayName)).toEqual(['README', 'readme (2)', 'Readme (3)']);
    expect(b.rename).toEqual({ from: 'readme', reason: expect.stringMatching(/ignores case/) });
    expect(n.add(utf8('readme (2)')).displayName).toBe('readme (2) (2)');
    expect(n.add(utf8('notes.txt')).displayName).toBe('notes.txt');
    expect(n.add(utf8('NOTES.TXT')).displayName).toBe('NOTES (2).TXT');
    expect(n.add(utf8('Notes.Txt')).displayName).toBe('Notes (3).Txt');
    expect(n.add(utf8('école')).displayName).toBe('école');
    expect(n.add(utf8('École')).displayName).toBe('École (2)');
    // A display name may not look up another entry's alias either (Linux refuses it: EEXIST).
    const long = n.add(utf8('Long File Name.txt'));
    expect(sn(long)).toBe('LONGFI~1TXT');
    expect(n.add(utf8('longfi~1.txt')).displayName).toBe('longfi~1 (2).txt');
    // A 255-unit name stays within 255 with its variant.
    const max = `${'z'.repeat(251)}.txt`;
    n.add(utf8(max));
    const v = n.add(utf8(max.toUpperCase()));
    expect(v.displayName).toBe(`${'Z'.repeat(247)} (2).TXT`);
    checkDirectory([a, b, c, long, v]);
  });

  it('renames collisions with the reserved rights file', () => {
    const n = vfat();
    const r = n.reserve(RIGHTS_FILE_NAME);
    const x = n.add(utf8('$#%RIGHT.$#@'));
    const y = n.add(utf8('$#%right.$#@'));
    expect(x.displayName).toBe('$#%RIGHT (2).$#@');
    expect(y.displayName).toBe('$#%right (3).$#@');
    checkDirectory([r, x, y]);
  });

  it('gives 300 names with one long prefix unique valid aliases', () => {
    const n = vfat();
    const ps = Array.from({ length: 300 }, (_, i) => n.add(utf8(`A very long common prefix for many files ${i}.txt`)));
    checkDirectory(ps);
    ps.forEach((p) => checkPlanned(p));
    expect(ps.slice(0, 9).map(sn)).toEqual(Array.from({ length: 9 }, (_, i) => `AVERYL~${i + 1}TXT`));
    for (const p of ps.slice(9)) expect(sn(p)).toMatch(/^AV[0-9A-F]{4}~1TXT$/);
    expect(ps.every((p) => p.rename === undefined)).toBe(true);
  });

  it('takes the lowest free ~n tail even when other entries took tails in between', () => {
    // The namer remembers the first tail not yet taken per basis: it must still find gaps left
    // by names that are themselves 8.3 names like an alias, and never reuse a taken one.
    const n = vfat();
    const a = n.add(utf8('verylongname-a.txt'));
    const own3 = n.add(utf8('verylo~3.txt')); // an exact 8.3 name: it takes VERYLO~3 TXT itself
    const b = n.add(utf8('verylongname-b.txt'));
    const c = n.add(utf8('verylongname-c.txt'));
    const other = n.add(utf8('verylongname-d.doc')); // another extension: its own tails
    const d = n.add(utf8('verylongname-e.txt'));
    expect([a, own3, b, c, other, d].map(sn)).toEqual([
      'VERYLO~1TXT', 'VERYLO~3TXT', 'VERYLO~2TXT', 'VERYLO~4TXT', 'VERYLO~1DOC', 'VERYLO~5TXT',
    ]);
    expect(own3.longName).toBeNull();
    checkDirectory([a, own3, b, c, other, d]);
  });
});

describe('msdos target', () => {
  it('keeps 8.3 names, converts the rest to unique 8.3 names with a reason', () => {
    const n = msdos();
    const ps = ['readme.txt', 'README', 'Long File Name.txt', 'Long File Name.doc', 'a.b.c', 'ReadMe.TXT', 'readme', 'con.txt', 'x?.txt', 'é', '😀']
      .map((x) => n.add(utf8(x)));
    expect(ps.map((p) => p.displayName)).toEqual([
      'readme.txt', 'README', 'LONGFI~1.TXT', 'LONGFI~1.DOC', 'AB~1.C', 'README~1.TXT', 'README~1', 'con_.txt', 'x_.txt', 'É', '_~1',
    ]);
    for (const p of ps) {
      expect(p.longName).toBeNull();
      checkPlanned(p);
    }
    expect(ps[0]!.rename).toBeUndefined();
    expect(ps[2]!.rename).toEqual({ from: 'Long File Name.txt', reason: 'not a valid 8.3 name' });
    expect(ps[5]!.rename?.reason).toMatch(/not a valid 8.3 name/);
    expect(ps[6]!.rename?.reason).toMatch(/already used/);
    expect(n.slotsUsed).toBe(ps.length);
    checkDirectory(ps);
    const r = msdos().reserve(RIGHTS_FILE_NAME);
    expect(sn(r)).toBe('$#%RIGHT$#@');
    expect(r.ntCase).toBe(NT_LOWER_BASE);
  });
});

describe('directory slot limit', () => {
  // The namer plans past the limit (so that planning can name the directory and its slot count in
  // a "Not feasible" verdict) and says when it went past.
  it('says when a directory goes past 65536 slots, counting on', () => {
    const n = new DirectoryNamer({ target: 'vfat' }, '/big/dir', { reservedSlots: 2 });
    for (let i = 0; i < MAX_DIR_SLOTS - 2; i++) n.add(utf8(`f${i}`));
    expect(n.slotsUsed).toBe(MAX_DIR_SLOTS - 2);
    expect(n.overLimit).toBe(false);
    n.add(utf8('one more'));
    expect(n.overLimit).toBe(true);
    expect(n.slotsUsed).toBe(MAX_DIR_SLOTS - 2 + 2);
  });

  it('counts LFN slots against maxSlots', () => {
    const n = new DirectoryNamer({ target: 'vfat' }, '/root', { reservedSlots: 1, maxSlots: 16 });
    const p = n.add(utf8('A name of 27 characters!!!!')); // 3 LFN slots + 1
    expect(slotsFor(p)).toBe(4);
    n.add(utf8('Another one of 27 units....x'));
    n.add(utf8('And a third one of 27 units!'));
    expect(n.slotsUsed).toBe(12);
    n.add(utf8('SHORT'));
    n.add(utf8('short2'));
    n.add(utf8('S3'));
    expect(n.slotsUsed).toBe(15);
    expect(n.overLimit).toBe(false);
    n.add(utf8('S4'));
    expect(n.overLimit).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// Property tests

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const POOL = [
  ...'abcdefghijklmnopqrstuvwxyz', ...'ABCDEFGHIJKLMNOPQRSTUVWXYZ', ...'0123456789', ..."!#$%&'()-@^_`{}~",
  ' ', ' ', '.', '.', '.', '+', ',', ';', '=', '[', ']', ...'"*:<>?\\|', '\x01', '\x1f', '\x7f',
  'é', 'É', 'ß', 'ñ', 'Á', 'Ø', '€', 'ı', 'ſ', '中', '文', '😀', '𝄞', '\u00a0', 'Ω', 'ω',
];
const SHORT_POOL = [...'abcxyzABCXYZ019_~-'];

function randomName(rnd: () => number, previous: string[]): Uint8Array {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const str = (pool: readonly string[], min: number, max: number): string =>
    Array.from({ length: min + Math.floor(rnd() * (max - min + 1)) }, () => pick(pool)).join('');
  const kind = rnd();
  let s: string;
  if (kind < 0.25) {
    // 8.3-like, often one case per part
    const base = str(SHORT_POOL, 1, 9);
    const ext = rnd() < 0.6 ? `.${str(SHORT_POOL, 1, 4)}` : '';
    const f = rnd();
    s = f < 0.33 ? (base + ext).toUpperCase() : f < 0.66 ? (base + ext).toLowerCase() : base + ext;
  } else if (kind < 0.4 && previous.length > 0) {
    // a case variant of an earlier name
    const p = pick(previous);
    s = rnd() < 0.5 ? p.toUpperCase() : p.toLowerCase();
  } else if (kind < 0.45) {
    s = `${pick(['con', 'PRN', 'aux', 'Nul', 'com3', 'LPT9'])}${rnd() < 0.5 ? `.${str(SHORT_POOL, 1, 3)}` : ''}`;
  } else if (kind < 0.48) {
    s = str(POOL, 250, 300);
  } else {
    s = str(POOL, 1, 30);
  }
  previous.push(s);
  const bytes = [...Buffer.from(s, 'utf8')];
  if (rnd() < 0.05) bytes.splice(Math.floor(rnd() * (bytes.length + 1)), 0, 0x80 + Math.floor(rnd() * 0x80));
  return Uint8Array.from(bytes);
}

describe('properties over random names', () => {
  for (const target of ['vfat', 'msdos'] as const) {
    for (const codepage of ['cp437', 'cp850']) {
      it(`${target}/${codepage}: valid, unique, unchanged when possible, deterministic`, () => {
        const rnd = mulberry32(target === 'vfat' ? 12345 : 777 + codepage.length);
        for (let dir = 0; dir < 8; dir++) {
          const previous: string[] = [];
          const raws = Array.from({ length: 250 }, () => randomName(rnd, previous));
          const run = (): PlannedName[] => {
            const n = new DirectoryNamer({ target, codepage, sourceCharset: 'utf-8' }, `/dir${dir}`, { reservedSlots: 2 });
            const out = [n.reserve(RIGHTS_FILE_NAME), ...raws.map((r) => n.add(r))];
            expect(n.slotsUsed).toBe(out.reduce((s, p) => s + slotsFor(p), 0));
            return out;
          };
          const ps = run();
          expect(run()).toEqual(ps);
          checkDirectory(ps, codepage);
          const seen = new Set<string>();
          const broken: string[] = [];
          ps.forEach((p, i) => {
            broken.push(...problems(p, codepage));
            if (target === 'msdos' && p.longName !== null) broken.push(`${p.displayName}: LFN on msdos`);
            const original = i === 0 ? RIGHTS_FILE_NAME : decodeSourceName(raws[i - 1]!).shown;
            if (p.rename === undefined ? p.displayName !== original : p.rename.from !== original) broken.push(`${original}: rename/from wrong`);
            if (target === 'vfat') {
              // A name FAT can hold as it is, unique without case so far, keeps its name.
              const holdable = original.length > 0 && original.length <= 255 && !/[\u0000-\u001f"*/:<>?\\|\ufffd]|[. ]$/.test(original)
                && !/^(CON|PRN|AUX|NUL|COM[1-9]|LPT[1-9]) *(\.|$)/i.test(original) && !seen.has(foldName(original));
              if (holdable && p.rename !== undefined) broken.push(`${original}: renamed needlessly`);
            }
            seen.add(foldName(p.displayName));
            seen.add(foldName(shortNameToString(p.shortName, codepage)));
          });
          expect(broken).toEqual([]);
        }
      });
    }
  }
});

// ---------------------------------------------------------------------------------------------
// The real tools: mtools must store our names exactly as the 8.3 entries we planned.

const have = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const toolsThere = have('mkfs.fat') && have('mcopy') && have('mdir');

describe.skipIf(!toolsThere)('mtools accepts our short names', () => {
  it('mcopy stores each 8.3 name as our exact bytes and case bits, with no long name; mdir lists them', () => {
    const work = mkdtempSync(join(tmpdir(), 'fsconv-names-'));
    try {
      // cp850 is mtools' default code page, so OEM bytes can be compared too.
      const n = vfat('/', { codepage: 'cp850' });
      const planned: PlannedName[] = [n.reserve(RIGHTS_FILE_NAME)];
      const rnd = mulberry32(99);
      const previous: string[] = [];
      const curated = ['readme.txt', 'NOTES.md', 'Long File Name.txt', 'x+y=z[1];2,3', "don't", '.bashrc', 'é.txt', 'Á.doc', 'Ø', '😀.txt', 'a b',
        ...Array.from({ length: 40 }, (_, i) => `A very long common prefix ${i}.txt`)];
      for (const c of curated) planned.push(n.add(utf8(c)));
      while (planned.length < 400) planned.push(n.add(randomName(rnd, previous)));
      const img = join(work, 'img');
      const src = join(work, 'src');
      mkdirSync(src);
      const mk = spawnSync('mkfs.fat', ['-C', img, '1440', '-r', '512'], { encoding: 'utf8' });
      expect(mk.status, mk.stderr).toBe(0);
      // Files named like the 8.3 entries (with case bits applied, as readers show them).
      const files = planned.map((p) => shortNameToString(p.shortName, 'cp850', p.ntCase));
      expect(new Set(files).size).toBe(files.length);
      for (const f of files) writeFileSync(join(src, f), '');
      const env = { ...process.env, LC_ALL: 'C.UTF-8', TZ: 'UTC' };
      const cp = spawnSync('mcopy', ['-i', img, ...files.map((f) => join(src, f)), '::/'], { encoding: 'utf8', env });
      expect(cp.status, cp.stderr).toBe(0);
      const dir = spawnSync('mdir', ['-i', img, '::/'], { encoding: 'utf8', env });
      expect(dir.status, dir.stderr).toBe(0);
      expect(dir.stdout).toMatch(new RegExp(`\\b${files.length} files`));
      // Read the root directory back and compare byte for byte.
      const bytes = new Uint8Array(readFileSync(img));
      const bps = bytes[11]! | (bytes[12]! << 8);
      const rootAt = ((bytes[14]! | (bytes[15]! << 8)) + bytes[16]! * (bytes[22]! | (bytes[23]! << 8))) * bps;
      const rootLen = (bytes[17]! | (bytes[18]! << 8)) * 32;
      const entries = decodeDirectory(bytes.subarray(rootAt, rootAt + rootLen));
      expect(entries.length).toBe(planned.length);
      const got = new Map(entries.map((e) => [Buffer.from(e.short.name).toString('latin1'), e]));
      for (const p of planned) {
        const e = got.get(sn(p));
        expect(e, `${p.displayName} as ${sn(p)}`).toBeDefined();
        expect(e!.longName, sn(p)).toBeNull();
        expect(e!.short.ntCase, sn(p)).toBe(p.ntCase);
      }
      if (have('fsck.fat')) {
        const fsck = spawnSync('fsck.fat', ['-n', img], { encoding: 'utf8' });
        expect(fsck.status).toBe(0);
        expect(fsck.stdout.trim().split('\n').filter((l) => !/^fsck\.fat \d|files, \d+\/\d+ clusters/.test(l))).toEqual([]);
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});
