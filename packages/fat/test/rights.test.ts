/**
 * The rights file codec: round trips over random records (seeded), determinism, the golden example
 * of docs/rights-file.md byte for byte, and malformed input refused with a one-line RightsFileError.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import {
  RightsFileError, decodeRightsFile, encodeRightsFile,
  type FatSnapshot, type RightsRecord, type RightsTime, type RightsType,
} from '../src/rights.js';
import { crc32 as rightsCrc32 } from '@fsconv/base';

// ------------------------------------------------------------------------------------------------
// helpers
// ------------------------------------------------------------------------------------------------

const te = new TextEncoder();
const td = new TextDecoder();
const bytes = (s: string): Uint8Array => te.encode(s);
const latin1 = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const t = (sec: number, nsec = 0): RightsTime => ({ sec, nsec });

/** Records with their byte arrays as hex (vitest's deep equality walks typed arrays slowly). */
function plain(recs: readonly RightsRecord[]): unknown[] {
  const hex = (b: Uint8Array): string => {
    if (!(b instanceof Uint8Array)) throw new Error('not a Uint8Array');
    return Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');
  };
  return recs.map((r) => ({
    ...r, originalName: hex(r.originalName), ...(r.target !== undefined ? { target: hex(r.target) } : {}),
    ...(r.xattrs !== undefined ? { xattrs: r.xattrs.map((x) => ({ name: x.name, value: hex(x.value) })) } : {}),
    ...(r.fat !== undefined ? { fat: { ...r.fat, shortName: hex(r.fat.shortName) } } : {}),
  }));
}
const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(a, b) === 0;

/** mulberry32: small, seeded, good enough for test data. */
function prng(seed: number): { next(): number; int(lo: number, hi: number): number; pick<T>(a: readonly T[]): T } {
  let s = seed >>> 0;
  const next = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)), pick: (a) => a[Math.floor(next() * a.length)]! };
}

const TYPES: readonly RightsType[] = ['file', 'dir', 'symlink', 'fifo', 'char', 'block', 'socket'];
const TYPE_BITS: Record<RightsType, number> = {
  file: 0o100000, dir: 0o040000, symlink: 0o120000, fifo: 0o010000, char: 0o020000, block: 0o060000, socket: 0o140000,
};

/** A FAT entry snapshot (what v2 records carry on every entry but '.'). */
const snap = (cluster = 5, shortName = 'FILE    TXT', attr = 0x20): FatSnapshot => ({
  cluster, size: 42, writeDate: 0x5b2c, writeTime: 0x6a21, attr, shortName: latin1(shortName.padEnd(11)),
});

function base(fatName: string, orig: Uint8Array, type: RightsType = 'file'): RightsRecord {
  const r: RightsRecord = {
    fatName, originalName: orig, type, mode: TYPE_BITS[type] | 0o644, uid: 0, gid: 0,
    atime: t(1), mtime: t(2), ctime: t(3), nlink: 1,
  };
  if (fatName !== '.') r.fat = snap(orig.length, 'X       Y', type === 'dir' ? 0x10 : 0x20);
  if (type === 'symlink') r.target = bytes('x');
  if (type === 'char' || type === 'block') r.rdev = [1, 2];
  return r;
}

/** Characters for FAT names: ASCII (minus forbidden), Latin-1, Greek, CJK, an astral emoji (surrogate pair). */
const NAME_CHARS = [
  ...Array.from('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 !#$%&\'()+,-.;=@[]^_`{}~\x7f'),
  'é', 'ß', 'Ω', 'ж', '中', '文', '\u200b', '\ufeff', '\u{1F600}', '\u{10FFFF}',
];

function randomTime(r: ReturnType<typeof prng>): RightsTime {
  const sec = r.pick([
    () => 0, () => -1, () => 2 ** 34, () => -(2 ** 34), () => 2 ** 32 + 1, () => -(2 ** 31),
    () => r.int(-(2 ** 34), 2 ** 34), () => r.int(-1000, 1000),
  ])();
  const nsec = r.pick([() => 0, () => 999_999_999, () => 1, () => r.int(0, 999_999_999)])();
  return { sec, nsec };
}

function randomBytes(r: ReturnType<typeof prng>, len: number, forbid: number[]): Uint8Array {
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) {
    let b: number;
    do b = r.int(1, 255); while (forbid.includes(b));
    out[i] = b;
  }
  return out;
}

/** A directory's worth of random, valid records (unique names), the '.' record first. */
function randomDirectory(seed: number, count: number): RightsRecord[] {
  const r = prng(seed);
  const out: RightsRecord[] = [];
  const dot = base('.', randomBytes(r, r.int(0, 255), [0x2f]), 'dir');
  dot.mode = 0o40000 | r.int(0, 0o7777);
  out.push(dot);
  for (let i = 0; i < count; i++) {
    const type = TYPES[i % TYPES.length]!;
    // A unique FAT name: random characters then a numeric tail, at most 255 UTF-16 units.
    let name = '';
    const want = r.pick([1, 8, 40, 200]);
    while (name.length < want) name += r.pick(NAME_CHARS);
    name = `${name.slice(0, 240).replace(/[\uD800-\uDBFF]$/, '')}~${i}`;
    // A unique original name: random bytes (invalid UTF-8 likely), all lengths up to 255.
    const tail = bytes(`#${i}`);
    const origLen = r.pick([1, 2, 17, 100, 255]);
    const orig = new Uint8Array(Math.max(origLen, tail.length));
    orig.set(randomBytes(r, orig.length - tail.length, [0x2f]), 0);
    orig.set(tail, orig.length - tail.length);
    const rec: RightsRecord = {
      fatName: name, originalName: orig, type, mode: TYPE_BITS[type] | r.int(0, 0o7777),
      uid: r.pick([0, 1000, 65534, 2 ** 32 - 1, r.int(0, 2 ** 32 - 1)]),
      gid: r.pick([0, 100, 2 ** 32 - 1, r.int(0, 2 ** 32 - 1)]),
      atime: randomTime(r), mtime: randomTime(r), ctime: randomTime(r),
      nlink: type === 'dir' ? r.int(1, 70000) : r.pick([1, 1, 2, 3, 2 ** 32 - 1]),
    };
    if (type !== 'dir' && r.next() < 0.4) rec.linkGroup = r.pick([0, 12, 2 ** 32 - 1, r.int(0, 2 ** 32 - 1)]);
    if (type === 'symlink') rec.target = randomBytes(r, r.pick([1, 10, 255, 4000, r.int(1, 4095)]), [0]);
    if (type === 'char' || type === 'block') rec.rdev = [r.pick([0, 8, 2 ** 32 - 1, r.int(0, 4095)]), r.pick([0, 1, 2 ** 32 - 1, r.int(0, 2 ** 20)])];
    if (r.next() < 0.3) rec.flags = r.pick(['i', 'a', 'dA', 'suSDiadAc', 'CxFNPVmhtTjIeE']);
    if (r.next() < 0.3) {
      rec.xattrs = Array.from({ length: r.int(1, 4) }, (_, j) => ({
        name: `${r.pick(['user.', 'trusted.', 'security.', 'system.'])}${r.pick(['a', 'posix_acl_access', 'x=y', 'é %', 'k'.repeat(200)])}${j}`,
        value: randomBytes(r, r.pick([0, 1, 30, 3000]), []),
      }));
    }
    rec.fat = {
      cluster: r.pick([0, 2, 0x0fffffff, r.int(0, 0x0fffffff)]), size: r.pick([0, 2 ** 32 - 1, r.int(0, 2 ** 32 - 1)]),
      writeDate: r.int(0, 0xffff), writeTime: r.int(0, 0xffff), attr: r.int(0, 0xff), shortName: randomBytes(r, 11, []),
    };
    out.push(rec);
  }
  return out;
}

/** Builds a file from a header and record lines with a correct end line (CRC by node:zlib). */
function build(records: string[], header = 'fsconv-rights 1.0', count = records.length): Uint8Array {
  const body = bytes([header, ...records].map((l) => `${l}\n`).join(''));
  const end = bytes(`end records=${count} crc32=${crc32(body).toString(16).padStart(8, '0')}\n`);
  const out = new Uint8Array(body.length + end.length);
  out.set(body);
  out.set(end, body.length);
  return out;
}

const GOOD = 'name=A orig=a type=file mode=100644 uid=0 gid=0 nlink=1 atime=0.000000000 mtime=0.000000000 ctime=0.000000000';
const GOOD_B = GOOD.replace('name=A', 'name=B').replace('orig=a', 'orig=b');

/** Decoding must fail with a one-line RightsFileError matching `pattern`; returns the message. */
function refuses(input: Uint8Array, pattern: RegExp): string {
  let err: unknown;
  try {
    decodeRightsFile(input);
  } catch (e) {
    err = e;
  }
  expect(err, `expected a RightsFileError matching ${pattern}`).toBeInstanceOf(RightsFileError);
  const msg = (err as Error).message;
  expect(msg).not.toMatch(/[\n\r]/);
  expect(msg).toMatch(pattern);
  return msg;
}

function encodeRefuses(records: RightsRecord[], pattern: RegExp): void {
  let err: unknown;
  try {
    encodeRightsFile(records);
  } catch (e) {
    err = e;
  }
  expect(err, `expected a RightsFileError matching ${pattern}`).toBeInstanceOf(RightsFileError);
  expect((err as Error).message).not.toMatch(/[\n\r]/);
  expect((err as Error).message).toMatch(pattern);
}

// ------------------------------------------------------------------------------------------------
// golden
// ------------------------------------------------------------------------------------------------

/** Version 1 (what fsconv wrote before version 2): still read, without the v2 fields. */
const V1_RECORDS: RightsRecord[] = [
  { fatName: '.', originalName: new Uint8Array(0), type: 'dir', mode: 0o40755, uid: 0, gid: 0, atime: t(1700000000, 5), mtime: t(1700000000), ctime: t(1700000000, 999999999), nlink: 3 },
  { fatName: 'README.TXT', originalName: bytes('README.txt'), type: 'file', mode: 0o100644, uid: 1000, gid: 100, atime: t(1700000100, 123456789), mtime: t(1700000000, 123456789), ctime: t(1700000000, 123456789), nlink: 1 },
  {
    fatName: 'café 50%.txt', originalName: latin1('caf\xe9 50%.txt'), type: 'file', mode: 0o104755, uid: 4294967295, gid: 0,
    atime: t(-2, 500000000), mtime: t(-1, 0), ctime: t(17179869184, 999999999), nlink: 2, linkGroup: 12,
  },
  { fatName: 'latest', originalName: bytes('latest'), type: 'symlink', mode: 0o120777, uid: 0, gid: 0, atime: t(0), mtime: t(0), ctime: t(0), nlink: 1, target: bytes('../café 50%.txt') },
  { fatName: 'TTY0', originalName: bytes('tty0'), type: 'char', mode: 0o20620, uid: 0, gid: 5, atime: t(1), mtime: t(1), ctime: t(1), nlink: 1, rdev: [4, 0] },
];

const V1_TEXT = [
  'fsconv-rights 1.0',
  'name=. orig= type=dir mode=40755 uid=0 gid=0 nlink=3 atime=1700000000.000000005 mtime=1700000000.000000000 ctime=1700000000.999999999',
  'name=README.TXT orig=README.txt type=file mode=100644 uid=1000 gid=100 nlink=1 atime=1700000100.123456789 mtime=1700000000.123456789 ctime=1700000000.123456789',
  'name=caf%C3%A9%2050%25.txt orig=caf%E9%2050%25.txt type=file mode=104755 uid=4294967295 gid=0 nlink=2 link=12 atime=-1.500000000 mtime=-1.000000000 ctime=17179869184.999999999',
  'name=latest orig=latest type=symlink mode=120777 uid=0 gid=0 nlink=1 atime=0.000000000 mtime=0.000000000 ctime=0.000000000 target=../caf%C3%A9%2050%25.txt',
  'name=TTY0 orig=tty0 type=char mode=20620 uid=0 gid=5 nlink=1 atime=1.000000000 mtime=1.000000000 ctime=1.000000000 rdev=4:0',
  'end records=5 crc32=d5d36e32',
  '',
].join('\n');

const sn = (s: string): Uint8Array => latin1(s.padEnd(11));
const GOLDEN_RECORDS: RightsRecord[] = [
  { ...V1_RECORDS[0]!, xattrs: [{ name: 'system.posix_acl_default', value: Uint8Array.from([2, 0, 0, 0, 1, 0, 7, 0, 255, 255, 255, 255, 4, 0, 5, 0, 255, 255, 255, 255, 32, 0, 5, 0, 255, 255, 255, 255]) }] },
  { ...V1_RECORDS[1]!, flags: 'ia', xattrs: [{ name: 'user.comment', value: bytes('read me first') }], fat: { cluster: 3, size: 1234, writeDate: 0x5779, writeTime: 0x0000, attr: 0x21, shortName: sn('README  TXT') } },
  { ...V1_RECORDS[2]!, fat: { cluster: 4, size: 0, writeDate: 0x0021, writeTime: 0x0000, attr: 0x20, shortName: sn('CAF\x8250~1TXT') } },
  { ...V1_RECORDS[3]!, fat: { cluster: 5, size: 15, writeDate: 0x0021, writeTime: 0x0000, attr: 0x20, shortName: sn('LATEST') } },
  { ...V1_RECORDS[4]!, xattrs: [{ name: 'security.selinux', value: bytes('system_u:object_r:tty_device_t:s0\0') }], fat: { cluster: 0, size: 0, writeDate: 0x0021, writeTime: 0x0000, attr: 0x20, shortName: sn('TTY0') } },
];

const GOLDEN_TEXT = [
  'fsconv-rights 2.0',
  'name=. orig= type=dir mode=40755 uid=0 gid=0 nlink=3 atime=1700000000.000000005 mtime=1700000000.000000000 ctime=1700000000.999999999 xattr0=system.posix_acl_default=%02%00%00%00%01%00%07%00%FF%FF%FF%FF%04%00%05%00%FF%FF%FF%FF%20%00%05%00%FF%FF%FF%FF',
  'name=README.TXT orig=README.txt type=file mode=100644 uid=1000 gid=100 nlink=1 atime=1700000100.123456789 mtime=1700000000.123456789 ctime=1700000000.123456789 flags=ia xattr0=user.comment=read%20me%20first fat=00000003:000004d2:57790000:21:README%20%20TXT',
  'name=caf%C3%A9%2050%25.txt orig=caf%E9%2050%25.txt type=file mode=104755 uid=4294967295 gid=0 nlink=2 link=12 atime=-1.500000000 mtime=-1.000000000 ctime=17179869184.999999999 fat=00000004:00000000:00210000:20:CAF%8250~1TXT',
  'name=latest orig=latest type=symlink mode=120777 uid=0 gid=0 nlink=1 atime=0.000000000 mtime=0.000000000 ctime=0.000000000 target=../caf%C3%A9%2050%25.txt fat=00000005:0000000f:00210000:20:LATEST%20%20%20%20%20',
  'name=TTY0 orig=tty0 type=char mode=20620 uid=0 gid=5 nlink=1 atime=1.000000000 mtime=1.000000000 ctime=1.000000000 rdev=4:0 xattr0=security.selinux=system_u:object_r:tty_device_t:s0%00 fat=00000000:00000000:00210000:20:TTY0%20%20%20%20%20%20%20',
  'end records=5 crc32=920046f2',
  '',
].join('\n');

describe('rights file: golden example', () => {
  it('reads version 1 files (written before version 2) without the version 2 fields', () => {
    expect(decodeRightsFile(bytes(V1_TEXT))).toEqual(V1_RECORDS);
  });

  it('encodes the example to exactly the bytes of the spec', () => {
    expect(td.decode(encodeRightsFile(GOLDEN_RECORDS))).toBe(GOLDEN_TEXT);
  });

  it('decodes the golden bytes back to the records', () => {
    expect(decodeRightsFile(bytes(GOLDEN_TEXT))).toEqual(GOLDEN_RECORDS);
  });

  it('is the example printed in docs/rights-file.md', () => {
    const doc = readFileSync(new URL('../../../docs/rights-file.md', import.meta.url), 'utf8');
    const m = /<!-- golden-example -->\n```\n([\s\S]*?)```/.exec(doc);
    expect(m, 'golden example block in docs/rights-file.md').not.toBeNull();
    expect(m![1]).toBe(GOLDEN_TEXT);
  });

  it('uses the common CRC-32 (zlib), check value cbf43926', () => {
    expect(rightsCrc32(bytes('123456789')).toString(16)).toBe('cbf43926');
    const g = bytes(GOLDEN_TEXT);
    const endAt = GOLDEN_TEXT.indexOf('end records=');
    expect(rightsCrc32(g, 0, endAt)).toBe(crc32(g.subarray(0, endAt)));
  });

  it('an empty directory (only the . record) and no records at all', () => {
    expect(td.decode(encodeRightsFile([]))).toBe(`fsconv-rights 2.0\nend records=0 crc32=${crc32(bytes('fsconv-rights 2.0\n')).toString(16).padStart(8, '0')}\n`);
    expect(decodeRightsFile(encodeRightsFile([]))).toEqual([]);
    expect(decodeRightsFile(encodeRightsFile([GOLDEN_RECORDS[0]!]))).toEqual([GOLDEN_RECORDS[0]]);
  });
});

// ------------------------------------------------------------------------------------------------
// round trips
// ------------------------------------------------------------------------------------------------

describe('rights file: round trips', () => {
  it('random directories (seeded): decode(encode(x)) = x, ASCII output, deterministic', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const recs = randomDirectory(seed, 60);
      const enc = encodeRightsFile(recs);
      expect(enc.every((b) => b === 0x0a || (b >= 0x20 && b <= 0x7e))).toBe(true);
      const dec = decodeRightsFile(enc);
      expect(plain(dec)).toEqual(plain(recs));
      // Deterministic: again, and through a decode.
      expect(sameBytes(encodeRightsFile(recs), enc)).toBe(true);
      expect(sameBytes(encodeRightsFile(dec), enc)).toBe(true);
    }
  });

  it('every type, with and without a link group', () => {
    const recs = TYPES.flatMap((type, i) => {
      const a = base(`${type}-a`, bytes(`a${i}`), type);
      const b = base(`${type}-b`, bytes(`b${i}`), type);
      if (type !== 'dir') b.linkGroup = i;
      return [a, b];
    });
    expect(decodeRightsFile(encodeRightsFile(recs))).toEqual(recs);
  });

  it('a name with every byte 1..255 except /, invalid UTF-8 names, 255-byte names', () => {
    const all = Uint8Array.from({ length: 254 }, (_, i) => (i + 1 < 0x2f ? i + 1 : i + 2));
    expect(all.length).toBe(254);
    expect(all.includes(0x2f)).toBe(false);
    const recs = [
      base('ALL', all),
      base('BAD1', Uint8Array.from([0xff, 0xfe])),
      base('BAD2', Uint8Array.from([0xc3])), // truncated sequence
      base('BAD3', Uint8Array.from([0xed, 0xa0, 0x80])), // encoded surrogate
      base('BAD4', Uint8Array.from([0xc0, 0xaf])), // overlong '/'
      base('LONG', new Uint8Array(255).fill(0x61)),
      base('PCT', bytes('%41%%')),
      base('SP', bytes(' x ')),
      base('EQ', bytes('a=b=c')),
      base('DOT3', bytes('...')),
      base('DOTX', bytes('.x')),
    ];
    const dec = decodeRightsFile(encodeRightsFile(recs));
    expect(dec).toEqual(recs);
    expect(dec[0]!.originalName).toEqual(all);
  });

  it('targets of 4000 and 65535 bytes of every byte but NUL', () => {
    const r = prng(7);
    const a = base('T1', bytes('t1'), 'symlink');
    a.target = randomBytes(r, 4000, [0]);
    const b = base('T2', bytes('t2'), 'symlink');
    b.target = Uint8Array.from({ length: 65535 }, (_, i) => (i % 255) + 1);
    const recs = [a, b];
    expect(plain(decodeRightsFile(encodeRightsFile(recs)))).toEqual(plain(recs));
  });

  it('FAT names: 255 UTF-16 units, astral characters, BOM, the characters FAT allows', () => {
    const recs = [
      base('x'.repeat(255), bytes('a')),
      base('\u{1F600}'.repeat(127) + 'y', bytes('b')), // 255 units
      base('\ufeffbom', bytes('c')),
      base("a+,;=[] !#$%&'()-@^_`{}~\x7f.", bytes('d')),
      base('ÄÖÜ äöü ß', bytes('e')),
      base('ABC', bytes('f')),
      base('abcé', bytes('g')), // differs from ABCÉ only outside ASCII: not a duplicate
      base('ABCÉ', bytes('h')),
    ];
    expect(decodeRightsFile(encodeRightsFile(recs))).toEqual(recs);
  });

  it('time extremes: ±2^34 seconds, nsec 0 and 999999999, the values around zero', () => {
    const times: RightsTime[] = [
      t(2 ** 34, 999_999_999), t(-(2 ** 34), 0), t(-(2 ** 34), 999_999_999), t(-(2 ** 34), 1), t(2 ** 32 + 7, 1),
      t(-1, 0), t(-1, 1), t(-1, 999_999_999), t(0, 0), t(0, 1), t(0, 999_999_999), t(-2, 500_000_000),
    ];
    const recs = times.map((tm, i) => ({ ...base(`N${i}`, bytes(`n${i}`)), atime: tm, mtime: tm, ctime: tm }));
    expect(decodeRightsFile(encodeRightsFile(recs))).toEqual(recs);
    const text = td.decode(encodeRightsFile(recs));
    expect(text).toContain('atime=17179869184.999999999 ');
    expect(text).toContain('atime=-17179869184.000000000 ');
    expect(text).toContain('atime=-17179869183.000000001 '); // {-2^34, 999999999}
    expect(text).toContain('atime=-0.999999999 '); // {-1, 1}
    expect(text).toContain('atime=-0.000000001 '); // {-1, 999999999}
  });

  it('65536 records (a full FAT directory): linear, fast', () => {
    const r = prng(99);
    const tails = Array.from({ length: 64 }, () => randomBytes(r, r.int(0, 20), [0x2f]));
    const targets = Array.from({ length: 64 }, () => randomBytes(r, r.int(1, 60), [0]));
    const recs: RightsRecord[] = [base('.', new Uint8Array(0), 'dir')];
    for (let i = 1; i < 65536; i++) {
      const type = TYPES[i % TYPES.length]!;
      const head = bytes(`file-${i}`);
      const tail = tails[i % 64]!;
      const orig = new Uint8Array(head.length + tail.length);
      orig.set(head);
      orig.set(tail, head.length);
      const rec = base(`File name ${i}${['', '.txt', ' é', '\u{1F600}'][i % 4]}`, orig, type);
      rec.mtime = randomTime(r);
      if (type === 'symlink') rec.target = targets[i % 64]!;
      recs.push(rec);
    }
    const t0 = performance.now();
    const enc = encodeRightsFile(recs);
    const dec = decodeRightsFile(enc);
    const ms = performance.now() - t0;
    expect(dec.length).toBe(recs.length);
    const sample = (rs: RightsRecord[]): RightsRecord[] => rs.filter((_, i) => i % 97 === 0 || i === rs.length - 1);
    expect(plain(sample(dec))).toEqual(plain(sample(recs)));
    // Typically well under a second; the bound only catches quadratic behaviour on a busy machine.
    expect(ms).toBeLessThan(8000);
  });
});

// ------------------------------------------------------------------------------------------------
// malformed input
// ------------------------------------------------------------------------------------------------

describe('rights file: malformed input is refused in one line', () => {
  it('the GOOD fixture itself decodes', () => {
    expect(decodeRightsFile(build([GOOD]))).toHaveLength(1);
  });

  it('not a rights file', () => {
    refuses(new Uint8Array(0), /empty/);
    refuses(bytes('hello\n'), /not a rights file/);
    refuses(Uint8Array.from([0x7f, 0x45, 0x4c, 0x46, 0, 0, 0]), /not a rights file/);
    refuses(bytes('FSCONV-RIGHTS 1.0\nend records=0 crc32=00000000\n'), /not a rights file/);
  });

  it('every truncation of a valid file', () => {
    const full = encodeRightsFile(GOLDEN_RECORDS);
    for (let n = 0; n < full.length; n++) refuses(full.subarray(0, n), /empty|not a rights file|truncated|no end line|end line/);
    // Whole lines cut away (the count and the CRC notice).
    const lines = GOLDEN_TEXT.split('\n');
    refuses(bytes([...lines.slice(0, 3), ...lines.slice(4)].join('\n')), /says 5 records, the file has 4/);
    refuses(bytes(lines.slice(0, 4).join('\n') + '\n'), /truncated: no end line/);
  });

  it('every single-byte change of a valid file', () => {
    const full = encodeRightsFile(GOLDEN_RECORDS.slice(0, 3));
    for (let i = 0; i < full.length; i++) {
      for (const x of [0x01, 0x20, 0x80]) {
        const bad = full.slice();
        bad[i] = bad[i]! ^ x;
        expect(() => decodeRightsFile(bad), `byte ${i} ^ ${x}`).toThrow(RightsFileError);
      }
    }
  });

  it('a damaged field is caught by the CRC, naming both values', () => {
    const bad = bytes(GOLDEN_TEXT.replace('uid=1000', 'uid=1001'));
    refuses(bad, /end line \(line 7, byte \d+\): CRC-32 mismatch: the end line says 920046f2/);
  });

  it('version 2 fields: xattrs in order, flags from lsattr\'s letters, the FAT snapshot fixed-width and required', () => {
    const FAT = 'fat=00000005:0000002a:5b2c6a21:20:A%20%20%20%20%20%20%20%20%20%20';
    const V2 = `${GOOD} ${FAT}`;
    const v2 = (lines: string[]): Uint8Array => build(lines, 'fsconv-rights 2.0');
    const [rec] = decodeRightsFile(v2([`${GOOD} flags=iad xattr0=user.a=1 xattr1=user.b%3Dc=%00%FF ${FAT}`]));
    expect(rec!.flags).toBe('iad');
    expect(rec!.xattrs).toEqual([{ name: 'user.a', value: bytes('1') }, { name: 'user.b=c', value: Uint8Array.from([0, 255]) }]);
    expect(rec!.fat).toEqual({ cluster: 5, size: 42, writeDate: 0x5b2c, writeTime: 0x6a21, attr: 0x20, shortName: latin1('A'.padEnd(11)) });
    refuses(v2([GOOD]), /record 1 .*missing field 'fat' \(required in version 2 on every record but '\.'\)/);
    expect(decodeRightsFile(v2([GOOD.replace('name=A', 'name=.').replace('orig=a', 'orig=').replace('type=file', 'type=dir').replace('mode=100644', 'mode=40755')]))).toHaveLength(1);
    refuses(v2([`${GOOD.replace('name=A', 'name=.').replace('orig=a', 'orig=').replace('type=file', 'type=dir').replace('mode=100644', 'mode=40755')} ${FAT}`]), /fat: is not allowed in the record named '\.'/);
    refuses(v2([`${V2} xattr1=user.a=1`]), /field 'xattr1' out of order \(expected xattr0\)/);
    refuses(v2([`${V2} xattr0=user.a=1 xattr0=user.b=2`]), /field 'xattr0' out of order \(expected xattr1\)/);
    refuses(v2([`${V2} xattr0=user.a=1 xattr1=user.a=2`]), /xattr1: name 'user\.a' appears twice/);
    refuses(v2([`${V2} xattr0=novalue`]), /xattr0: 'novalue' is not NAME=VALUE/);
    refuses(v2([`${V2} xattr0==x`]), /xattr0: '=x' is not NAME=VALUE/);
    refuses(v2([`${V2} xattr0=user.%FF=x`]), /xattr0: the name is not valid UTF-8/);
    refuses(v2([`${V2} xattr0=user.a=%4`]), /xattr0: bad escape/);
    refuses(v2([`${V2} xattr01=user.a=1`]), /field 'xattr01': an xattr index has no leading zero/);
    refuses(v2([`${V2} flags=iq`]), /flags: 'iq': 'q' is not an lsattr letter/);
    refuses(v2([`${V2} flags=ii`]), /flags: 'ii' has 'i' twice/);
    refuses(v2([`${V2} flags=`]), /flags: is empty/);
    for (const bad of ['00000005:2a:5b2c6a21:20:A', '0000000G:0000002a:5b2c6a21:20:A', '00000005:0000002a:5b2c6a21:20:', '00000005:0000002A:5b2c6a21:20:A%20%20%20%20%20%20%20%20%20%20']) {
      refuses(v2([`${GOOD} fat=${bad}`]), /fat: '.*' is not CLUSTER:SIZE:DATETIME:ATTR:SHORTNAME/);
    }
    refuses(v2([`${GOOD} fat=00000005:0000002a:5b2c6a21:20:A`]), /fat: the short name is 1 bytes, not 11/);
    refuses(v2([`${GOOD} fat=10000000:0000002a:5b2c6a21:20:A%20%20%20%20%20%20%20%20%20%20`]), /fat: cluster 268435456 is not in 0\.\.0x0fffffff/);
    // In a version 1 file the version 2 names are unknown fields, skipped (as a 1.x reader would).
    const [old] = decodeRightsFile(build([`${GOOD} flags=zz xattr0=whatever fat=junk`]));
    expect(old).toEqual(decodeRightsFile(build([GOOD]))[0]);
  });

  it('the encoder writes version 2: the snapshot is required, and its width never depends on the values', () => {
    const a = base('A', bytes('a'));
    delete a.fat;
    encodeRefuses([a], /rights record 1 \(name=A\): fat: is missing \(required in version 2 on every record but '\.'\)/);
    const lengths = new Set([0, 2, 0x0fffffff].map((c) => encodeRightsFile([{ ...base('A', bytes('a')), fat: { ...snap(c), size: c === 0 ? 0 : 2 ** 32 - 1 } }]).length));
    expect(lengths.size).toBe(1);
    const x = base('X', bytes('x'));
    x.xattrs = [{ name: 'user.big', value: new Uint8Array(65537) }];
    encodeRefuses([x], /xattr0: value of 'user\.big' is 65537 bytes \(at most 65536\)/);
    x.xattrs = [{ name: '', value: new Uint8Array(1) }];
    encodeRefuses([x], /xattr0: name is 0 bytes long/);
    x.xattrs = [{ name: 'user.a', value: bytes('1') }, { name: 'user.a', value: bytes('2') }];
    encodeRefuses([x], /xattr1: name 'user\.a' appears twice/);
    delete x.xattrs;
    x.flags = 'iZ';
    encodeRefuses([x], /flags: 'iZ': 'Z' is not an lsattr letter/);
  });

  it('versions: unknown major refused, other minors accepted, malformed refused', () => {
    refuses(build([GOOD], 'fsconv-rights 3.0'), /unsupported rights file version 3\.0: this reader knows major versions 1 and 2 only/);
    refuses(build([GOOD], 'fsconv-rights 0.9'), /unsupported rights file version 0\.9/);
    refuses(build([GOOD], 'fsconv-rights 1'), /header \(byte 14\): bad version '1'/);
    refuses(build([GOOD], 'fsconv-rights 01.0'), /bad version '01\.0'/);
    refuses(build([GOOD], 'fsconv-rights 1.0x'), /bad version/);
    refuses(build([GOOD], 'fsconv-rights  1.0'), /bad version ''/);
    refuses(build([GOOD], 'fsconv-rights 1.0 '), /empty field/);
    refuses(build([GOOD], 'fsconv-rights 1.0 junk'), /header.*field 'junk' has no '='/);
    refuses(build([GOOD], 'fsconv-rights 1.0 a=%zz'), /header.*bad escape/);
    expect(decodeRightsFile(build([GOOD], 'fsconv-rights 1.999 writer=fsconv%202.1 x-y_z='))).toHaveLength(1);
    // The major version is judged before the rest, whatever a later version puts there.
    refuses(bytes('fsconv-rights 3.0\n\u00e9\u00e9\r\n'), /header \(byte 14\): unsupported rights file version 3\.0/);
    refuses(bytes('fsconv-rights 1.0'), /header \(byte 0\): truncated: the header has no LF/);
  });

  it('unknown fields of a later minor version are skipped; fields in any order', () => {
    const later = `xattrs=user.x%3D1 ${GOOD.split(' ').reverse().join(' ')} birth=12.000000000 a-b_c=`;
    const [rec] = decodeRightsFile(build([later], 'fsconv-rights 1.3'));
    expect(rec).toEqual(decodeRightsFile(build([GOOD]))[0]);
    refuses(build([`${GOOD} xattrs=%4`]), /record 1 \(line 2, byte \d+\): xattrs: bad escape '%4'/);
    refuses(build([`${GOOD} Xattrs=1`]), /bad field name 'Xattrs'/);
    refuses(build([`${GOOD} x.y=1`]), /bad field name 'x\.y'/);
    refuses(build([`${GOOD} ${'k'.repeat(33)}=1`]), /bad field name/);
    refuses(build([`${GOOD} zz=1 zz=2`]), /field 'zz' appears twice/);
  });

  it('bad escapes, with the byte offset', () => {
    const at = (s: string): number => 18 + s.indexOf('%'); // header is 18 bytes
    const cases = ['name=A%', 'name=A%4', 'name=A%G1', 'name=A%4g', 'name=A%%41', 'name=A% 1', 'name=A%-1'];
    for (const c of cases) {
      const line = GOOD.replace('name=A', c);
      refuses(build([line]), new RegExp(`record 1 \\(line 2, byte ${at(line)}\\): name: bad escape`));
    }
    refuses(build([GOOD.replace('orig=a', 'orig=a%0')]), /orig: bad escape '%0'/);
    refuses(build([`${GOOD.replace('type=file', 'type=symlink').replace('mode=100644', 'mode=120777')} target=ab%`]), /target: bad escape '%'/);
  });

  it('bytes that are not printable ASCII, CRLF, empty lines and stray spaces', () => {
    refuses(build([GOOD.replace('name=A', 'name=\u00e9')]), /byte 0xc3 is not printable ASCII/);
    refuses(build([GOOD.replace('name=A', 'name=A\tB')]), /record 1 \(line 2, byte 24\): byte 0x09/);
    refuses(bytes(td.decode(build([GOOD])).replace(/\n/g, '\r\n')), /byte 0x0d/);
    refuses(build([GOOD, '']), /record 2 \(line 3, byte \d+\): empty line/);
    refuses(build([` ${GOOD}`]), /empty field/);
    refuses(build([`${GOOD} `]), /empty field/);
    refuses(build([GOOD.replace(' orig', '  orig')]), /empty field/);
    refuses(build([GOOD.replace('orig=a', 'orig')]), /field 'orig' has no '='/);
    refuses(build([GOOD.replace('orig=a', '=a')]), /bad field name ''/);
  });

  it('the end line: count, CRC, syntax, position', () => {
    refuses(build([GOOD], undefined, 2), /says 2 records, the file has 1/);
    const ok = td.decode(build([GOOD]));
    refuses(bytes(ok + 'x'), /truncated: the last line has no LF/);
    refuses(bytes(ok + 'name=B\n'), /end line \(line 3, byte 128\): data after the end line \(from byte 157\)/);
    refuses(bytes(ok.replace(/crc32=[0-9a-f]{8}/, 'crc32=ABCDEF12')), /malformed end line/);
    refuses(bytes(ok.replace(/crc32=[0-9a-f]{8}/, 'crc32=123')), /malformed end line/);
    refuses(bytes(ok.replace('end records=1', 'end records=01')), /malformed end line/);
    refuses(bytes(ok.replace('end records=1', 'end records=99999999999')), /malformed end line/);
    refuses(bytes(ok.replace(/end .*\n/, 'end\n')), /malformed end line/);
    refuses(build([GOOD, 'end records=1 crc32=00000000', GOOD_B]), /end line \(line 3, byte \d+\): data after the end line/);
  });

  it('missing fields, each in turn', () => {
    for (const key of ['name', 'orig', 'type', 'mode', 'uid', 'gid', 'nlink', 'atime', 'mtime', 'ctime']) {
      const line = GOOD.split(' ').filter((f) => !f.startsWith(`${key}=`)).join(' ');
      refuses(build([GOOD_B, line]), new RegExp(`record 2 \\(line 3, byte \\d+\\): missing field '${key}'`));
    }
    const sym = GOOD.replace('type=file', 'type=symlink').replace('mode=100644', 'mode=120777');
    refuses(build([sym]), /target: is missing \(required for a symlink\)/);
    const chr = GOOD.replace('type=file', 'type=char').replace('mode=100644', 'mode=20644');
    refuses(build([chr]), /rdev: is missing \(required for a char device\)/);
    refuses(build([`${GOOD} target=x`]), /target: is only allowed on a symlink, not on a file/);
    refuses(build([`${GOOD} rdev=1:2`]), /rdev: is only allowed on a char or block device/);
  });

  it('overlong and out-of-range numbers', () => {
    const cases: Array<[string, string, RegExp]> = [
      ['uid=0', 'uid=4294967296', /uid: 4294967296 is out of range 0\.\.4294967295/],
      ['uid=0', 'uid=123456789012345678901234567890', /uid: '123456789012345678901234567890' is too long \(at most 10 digits/],
      ['uid=0', `uid=${'9'.repeat(100000)}`, /uid: '9{48}\.\.\.' is too long/],
      ['uid=0', 'uid=00', /uid: '00' has a leading zero/],
      ['uid=0', 'uid=-1', /uid: '-1' is not a decimal number/],
      ['uid=0', 'uid=+1', /not a decimal number/],
      ['uid=0', 'uid=1e3', /not a decimal number/],
      ['uid=0', 'uid=', /uid: '' is not a decimal number/],
      ['gid=0', 'gid=0x10', /gid: '0x10' is not a decimal number/],
      ['nlink=1', 'nlink=0', /nlink: 0/],
      ['nlink=1', 'nlink=4294967296', /nlink: 4294967296 is out of range/],
      ['mode=100644', 'mode=00644', /mode: '00644' has a leading zero/],
      ['mode=100644', 'mode=0100644', /mode: '0100644' is too long/],
      ['mode=100644', 'mode=1000644', /mode: '1000644' is too long/],
      ['mode=100644', 'mode=100648', /mode: '100648' is not an octal number/],
      ['mode=100644', 'mode=200644', /mode: 200644 is out of range/],
      ['mode=100644', 'mode=40755', /mode: 40755 has type bits 040000, not those of file \(100000\)/],
      ['mtime=0.000000000', 'mtime=123456789012.000000000', /mtime: '123456789012\.000000000' is not a time/],
      ['mtime=0.000000000', 'mtime=0.0000000001', /mtime: .* is not a time/],
      ['mtime=0.000000000', 'mtime=0.00000000', /is not a time/],
      ['mtime=0.000000000', 'mtime=0', /is not a time/],
      ['mtime=0.000000000', 'mtime=00.000000000', /is not a time/],
      ['mtime=0.000000000', 'mtime=+1.000000000', /is not a time/],
      ['mtime=0.000000000', 'mtime=--1.000000000', /is not a time/],
      ['mtime=0.000000000', 'mtime=-0.000000000', /mtime: '-0\.000000000' is a negative zero/],
      ['mtime=0.000000000', 'mtime=17179869185.000000000', /mtime: 17179869185\.000000000 is out of range -2\^34\.\.2\^34/],
      ['mtime=0.000000000', 'mtime=-17179869184.000000001', /is out of range -2\^34/],
      ['atime=0.000000000', 'atime=1.000000000.5', /atime: .* is not a time/],
    ];
    for (const [from, to, pattern] of cases) refuses(build([GOOD.replace(from, to)]), pattern);
    expect(decodeRightsFile(build([GOOD.replace('mtime=0.000000000', 'mtime=-17179869183.000000001')]))[0]!.mtime).toEqual(t(-(2 ** 34), 999_999_999));
    expect(decodeRightsFile(build([GOOD.replace('mtime=0.000000000', 'mtime=17179869184.999999999')]))[0]!.mtime).toEqual(t(2 ** 34, 999_999_999));
    const chr = GOOD.replace('type=file', 'type=block').replace('mode=100644', 'mode=60644');
    refuses(build([`${chr} rdev=4294967296:0`]), /rdev major: 4294967296 is out of range/);
    refuses(build([`${chr} rdev=1:01`]), /rdev minor: '01' has a leading zero/);
    refuses(build([`${chr} rdev=1`]), /rdev: '1' is not MAJOR:MINOR/);
    refuses(build([`${chr} rdev=1:2:3`]), /not MAJOR:MINOR/);
    refuses(build([`${GOOD} link=4294967296`]), /link: 4294967296 is out of range/);
    refuses(build([`${GOOD.replace('type=file', 'type=dir').replace('mode=100644', 'mode=40755')} link=5`]), /link: is not allowed on a directory/);
    refuses(build([GOOD.replace('type=file', 'type=fil')]), /type: 'fil' is not one of file, dir/);
  });

  it('duplicate names (exact and ignoring ASCII case) and duplicate original names', () => {
    const other = GOOD.replace('orig=a', 'orig=b');
    refuses(build([GOOD, other]), /record 2 \(line 3, byte \d+\): name: 'A' duplicates the name of record 1$/);
    refuses(build([GOOD, other.replace('name=A', 'name=a')]), /name: 'a' duplicates the name of record 1 \(ignoring ASCII case\)/);
    refuses(build([GOOD, other.replace('name=A', 'name=%41')]), /duplicates the name of record 1/);
    refuses(build([GOOD, GOOD.replace('name=A', 'name=B')]), /orig: 'a' duplicates the original name of record 1/);
    refuses(build([GOOD, GOOD.replace('name=A', 'name=B').replace('orig=a', 'orig=%61')]), /orig: 'a' duplicates/);
    const dot = 'name=. orig=a type=dir mode=40755 uid=0 gid=0 nlink=2 atime=0.000000000 mtime=0.000000000 ctime=0.000000000';
    expect(decodeRightsFile(build([dot, GOOD]))).toHaveLength(2); // '.' keeps the directory's own name: no clash
    refuses(build([dot, GOOD, dot.replace('orig=a', 'orig=b')]), /name: '\.' duplicates the name of record 1/);
  });

  it('names and original names that cannot be', () => {
    const cases: Array<[string, string, RegExp]> = [
      ['name=A', 'name=', /name: empty/],
      ['name=A', 'name=%FF', /name: '%FF' is not valid UTF-8/],
      ['name=A', 'name=%C3', /not valid UTF-8/],
      ['name=A', 'name=%ED%A0%80', /not valid UTF-8/],
      ['name=A', 'name=%C0%AF', /not valid UTF-8/],
      ['name=A', 'name=a%2Fb', /name: 'a\/b' contains a character FAT does not allow/],
      ['name=A', 'name=a%00', /FAT does not allow/],
      ['name=A', 'name=a%0A', /FAT does not allow/],
      ['name=A', 'name=a:b', /FAT does not allow/],
      ['name=A', 'name=..', /name: '\.\.' has no record/],
      ['name=A', 'name=$#%25RIGHT.$#@', /name: '\$#%25RIGHT\.\$#@' is the rights file's own name/],
      ['name=A', `name=${'x'.repeat(256)}`, /name: is 256 UTF-16 units long \(at most 255\)/],
      ['name=A', 'name=.', /type: must be 'dir' in the record named '\.'/],
      ['orig=a', 'orig=', /orig: is 0 bytes long \(1\.\.255\)/],
      ['orig=a', `orig=${'a'.repeat(256)}`, /orig: is 256 bytes long/],
      ['orig=a', 'orig=a%2Fb', /orig: contains '\/'/],
      ['orig=a', 'orig=a/b', /orig: contains '\/'/],
      ['orig=a', 'orig=a%00b', /orig: contains a NUL byte/],
      ['orig=a', 'orig=.', /orig: '\.' is not a name/],
      ['orig=a', 'orig=%2E%2E', /orig: '\.\.' is not a name/],
    ];
    for (const [from, to, pattern] of cases) refuses(build([GOOD.replace(from, to)]), pattern);
    const sym = `${GOOD.replace('type=file', 'type=symlink').replace('mode=100644', 'mode=120777')} target=`;
    refuses(build([sym]), /target: is 0 bytes long/);
    refuses(build([`${sym}a%00`]), /target: contains a NUL byte/);
    refuses(build([`${sym}${'%41'.repeat(65536)}`]), /target: is 65536 bytes long \(1\.\.65535\)/);
  });

  it('garbage of every kind is refused, never anything else thrown (seeded fuzz)', () => {
    const r = prng(4242);
    const good = encodeRightsFile(randomDirectory(5, 20));
    for (let i = 0; i < 3000; i++) {
      const bad = good.slice(0, r.int(0, good.length));
      const edits = r.int(1, 4);
      for (let e = 0; e < edits; e++) bad[r.int(0, Math.max(0, bad.length - 1))] = r.pick([0x0a, 0x20, 0x25, 0x3d, 0x2d, 0x30, 0x39, r.int(0, 255)]);
      if (bad.length === good.length && bad.every((b, j) => b === good[j])) continue; // no change
      try {
        decodeRightsFile(bad);
      } catch (e) {
        expect(e).toBeInstanceOf(RightsFileError);
        expect((e as Error).message).not.toMatch(/[\n\r]/);
        continue;
      }
      throw new Error(`fuzz case ${i} decoded`);
    }
  });
});

// ------------------------------------------------------------------------------------------------
// the encoder refuses what the decoder would
// ------------------------------------------------------------------------------------------------

describe('rights file: the encoder refuses invalid records', () => {
  it('names the record and the field', () => {
    const ok = base('A', bytes('a'));
    const cases: Array<[Partial<RightsRecord> | Record<string, unknown>, RegExp]> = [
      [{ uid: -1 }, /rights record 1 \(name=A\): uid: -1 is not an integer in 0\.\.4294967295/],
      [{ uid: 2 ** 32 }, /uid: 4294967296 is not an integer/],
      [{ gid: 1.5 }, /gid: 1\.5/],
      [{ gid: Number.NaN }, /gid: NaN/],
      [{ nlink: 0 }, /nlink: 0 is not an integer in 1\.\./],
      [{ mode: 0o40755 }, /mode: 40755 has type bits/],
      [{ mode: 0o1000000 }, /mode: .* is not an integer in 0\.\.0o177777/],
      [{ atime: t(0, 1e9) }, /atime: nsec 1000000000/],
      [{ atime: t(0, -1) }, /atime: nsec -1/],
      [{ mtime: t(2 ** 34 + 1) }, /mtime: sec 17179869185 is not an integer in -2\^34\.\.2\^34/],
      [{ ctime: t(0.5) }, /ctime: sec 0\.5/],
      [{ fatName: '' }, /name: is empty/],
      [{ fatName: 'a\ud800b' }, /name: contains an unpaired surrogate/],
      [{ fatName: 'a\udc00' }, /unpaired surrogate/],
      [{ fatName: 'a\nb' }, /rights record 1 \(name=a%0Ab\): name: 'a%0Ab' contains a character FAT does not allow/],
      [{ fatName: '$#%RIGHT.$#@' }, /is the rights file's own name/],
      [{ fatName: 'x'.repeat(256) }, /256 UTF-16 units/],
      [{ originalName: bytes('a/b') }, /orig: contains '\/'/],
      [{ originalName: new Uint8Array(0) }, /orig: is 0 bytes long/],
      [{ originalName: 'a' as unknown as Uint8Array }, /orig: is not a Uint8Array/],
      [{ type: 'door' as RightsType }, /type: 'door' is not one of/],
      [{ type: 'a\nb' as RightsType }, /type: 'a%0Ab' is not one of/],
      [{ target: bytes('x') }, /target: is only allowed on a symlink/],
      [{ rdev: [1, 2] as [number, number] }, /rdev: is only allowed on a char or block device/],
      [{ linkGroup: -1 }, /link: -1/],
      [{ linkGroup: 2 ** 32 }, /link: 4294967296/],
    ];
    for (const [patch, pattern] of cases) encodeRefuses([{ ...ok, ...patch } as RightsRecord], pattern);
    const chr = base('C', bytes('c'), 'char');
    encodeRefuses([{ ...chr, rdev: [1, 2 ** 32] }], /rdev: must be \[major, minor\]/);
    encodeRefuses([{ ...chr, rdev: undefined }], /rdev: is missing/);
    const sym = base('S', bytes('s'), 'symlink');
    encodeRefuses([{ ...sym, target: bytes('a\0b') }], /target: contains a NUL byte/);
    encodeRefuses([{ ...sym, target: new Uint8Array(65536).fill(1) }], /target: is 65536 bytes long/);
    encodeRefuses([{ ...base('.', bytes('x'), 'dir'), type: 'file', mode: 0o100644 }], /type: must be 'dir'/);
    encodeRefuses([{ ...base('D', bytes('d'), 'dir'), linkGroup: 3 }], /link: is not allowed on a directory/);
  });

  it('duplicates across records', () => {
    encodeRefuses([base('A', bytes('a')), base('A', bytes('b'))], /rights record 2 \(name=A\): name: 'A' duplicates the name of record 1$/);
    encodeRefuses([base('Ab', bytes('a')), base('aB', bytes('b'))], /ignoring ASCII case/);
    encodeRefuses([base('A', bytes('a')), base('B', bytes('a'))], /orig: 'a' duplicates the original name of record 1/);
    encodeRefuses([base('.', bytes('d'), 'dir'), base('.', bytes('e'), 'dir')], /record 2.*duplicates the name of record 1/);
  });
});
