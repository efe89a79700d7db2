// The option validators, in process: what each accepts (and returns for the commands) and that
// everything else is an OptionError naming the option and saying what it takes.
import { describe, expect, it } from 'vitest';
import { decodeSourceName, parseTimeZone } from '@fsconv/fat';
import {
  OptionError, acceptedCodepages, checkMode, joinDashValues, parseClusterSize, parseCodepage, parseLabel, parsePartition,
  parseRootEntries, parseSize, parseSourceCharset, parseTz, parseVolumeId, refuseMissingValues, volumeIdText, type ModeOptions,
} from '../src/options.js';

/** The message of the OptionError `f` throws (failing when it throws something else or nothing). */
function refusal(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(OptionError);
    const message = (e as Error).message;
    expect(message).not.toContain('\n');
    return message;
  }
  throw new Error('expected an OptionError');
}

describe('--tz', () => {
  const accepted: Array<[string, string]> = [
    ['UTC', 'UTC'], ['utc', 'UTC'], ['Z', 'UTC'], ['local', 'local'], ['LOCAL', 'local'],
    ['+02:00', '+02:00'], ['-05:00', '-05:00'], ['+0530', '+05:30'], ['-5:30', '-05:30'], ['+5', '+05:00'], ['-03', '-03:00'],
    ['+14:00', '+14:00'], ['-14:00', '-14:00'], ['+00:00', '+00:00'], ['-00:00', '-00:00'], ['+05:45', '+05:45'], ['+1245', '+12:45'],
    ['Europe/Paris', 'Europe/Paris'], ['America/New_York', 'America/New_York'], ['Asia/Kathmandu', 'Asia/Kathmandu'],
    ['Etc/GMT+5', 'Etc/GMT+5'], ['GMT', 'GMT'], ['europe/paris', 'europe/paris'],
  ];
  for (const [given, got] of accepted) it(`takes ${given}`, () => expect(parseTz(given)).toBe(got));

  const refused = ['Mars/Olympus', '+99:99', '+14:01', '-14:30', '+15:00', '+24', '+5:3', '+123:00', '05:00', '+02:60', 'UTC+2', '', 'locale', 'Europe/', '+', '-'];
  for (const v of refused) {
    it(`refuses '${v}' saying what it takes`, () => {
      const m = refusal(() => parseTz(v));
      expect(m.startsWith(`--tz: '${v}' `)).toBe(true);
      expect(m).toMatch(/give UTC, local, an IANA zone such as Europe\/Paris, or an offset such as \+02:00 or -05:00 within ±14:00$/);
    });
  }

  it('says Mars/Olympus in the documented words', () => {
    expect(refusal(() => parseTz('Mars/Olympus'))).toBe("--tz: 'Mars/Olympus' is not a time zone: give UTC, local, an IANA zone such as Europe/Paris, or an offset such as +02:00 or -05:00 within ±14:00");
  });

  it('refuses a value given twice, and non-strings', () => {
    expect(refusal(() => parseTz(['UTC', 'local']))).toBe("--tz: given 2 times ('UTC', 'local'): give it once");
    expect(refusal(() => parseTz(5))).toMatch(/^--tz: '5' is not a time zone/);
    expect(refusal(() => parseTz(undefined))).toMatch(/^--tz: /);
  });

  it('every accepted value is one parseTimeZone takes, with the offset meant', () => {
    for (const [given, got] of accepted) expect(() => parseTimeZone(got), given).not.toThrow();
    expect(parseTimeZone(parseTz('-05:00'))(0)).toBe(-5 * 3600);
    expect(parseTimeZone(parseTz('+0530'))(0)).toBe(5.5 * 3600);
    expect(parseTimeZone(parseTz('-5'))(0)).toBe(-5 * 3600);
  });

  it('IANA zones follow daylight saving time at each instant (parseTimeZone in @fsconv/fat)', () => {
    const paris = parseTimeZone('Europe/Paris');
    const at = (iso: string): number => paris(Date.parse(iso) / 1000);
    expect(at('2024-01-15T12:00:00Z')).toBe(3600);
    expect(at('2024-07-15T12:00:00Z')).toBe(7200);
    expect(at('2024-03-31T00:59:59Z')).toBe(3600);
    expect(at('2024-03-31T01:00:00Z')).toBe(7200);
    expect(at('2024-10-27T00:59:59Z')).toBe(7200);
    expect(at('2024-10-27T01:00:00Z')).toBe(3600);
    // A change off the quarter hour grid of UTC: Kathmandu from +05:30 to +05:45 at 1986-01-01 00:00 local.
    const ktm = parseTimeZone('Asia/Kathmandu');
    expect(ktm(Date.parse('1985-12-31T18:29:59Z') / 1000)).toBe(19800);
    expect(ktm(Date.parse('1985-12-31T18:30:00Z') / 1000)).toBe(20700);
    // Far outside FAT's range (clamped there anyway): no RangeError from Intl.
    expect(() => paris(-1e15)).not.toThrow();
    expect(() => paris(1e15)).not.toThrow();
    expect(parseTimeZone('America/New_York')(Date.parse('2024-01-15T12:00:00Z') / 1000)).toBe(-5 * 3600);
    expect(() => parseTimeZone('Mars/Olympus')).toThrow(/unknown time zone/);
  });
});

describe('joinDashValues: --tz -05:00 as written', () => {
  it('joins a value starting with - to --tz', () => {
    expect(joinDashValues(['convert', 'x', '--tz', '-05:00', '--label', 'A'])).toEqual(['convert', 'x', '--tz=-05:00', '--label', 'A']);
    expect(joinDashValues(['ls', 'x', '--tz', '-5'])).toEqual(['ls', 'x', '--tz=-5']);
    expect(joinDashValues(['--tz', '-99:99'])).toEqual(['--tz=-99:99']);
  });
  it('leaves everything else as it is', () => {
    for (const argv of [
      ['--tz', '+05:00'], ['--tz=-05:00'], ['--tz', 'UTC', '-q'], ['--tz', '-q'], ['--tz', '--json'], ['--tz'],
      ['--volume-id', '1234-ABCD', '--label', 'DATA'], ['--', '--tz', '-05:00'], ['--label', '--tz'],
    ]) expect(joinDashValues(argv)).toEqual(argv);
  });
});

describe('refuseMissingValues: an option given no value is not quietly its default', () => {
  it('refuses a value option last or followed by another option', () => {
    expect(refusal(() => refuseMissingValues(['ls', 'x', '--tz']))).toBe('--tz: needs a value');
    expect(refusal(() => refuseMissingValues(['x', '--codepage', '--json']))).toBe('--codepage: needs a value (a value starting with - is written --codepage=--json)');
    expect(refusal(() => refuseMissingValues(['x', '--label', '-X-']))).toBe('--label: needs a value (a value starting with - is written --label=-X-)');
    expect(refusal(() => refuseMissingValues(['x', '-o']))).toBe('-o: needs a value');
  });
  it('leaves given values, flags, negative numbers and what follows -- alone', () => {
    for (const argv of [
      ['x', '--tz=-05:00', '--label', '', '--volume-id', '1234-ABCD', '-q'], ['x', '--partition', '-1'], ['x', '--json', '--yes'],
      ['x', '--', '--tz'], ['x', '--label=', '--tz', 'UTC'], ...[['--tz', '-05:00']].map(joinDashValues),
    ]) expect(() => refuseMissingValues(argv)).not.toThrow();
  });
});

describe('--codepage', () => {
  it('takes the single-byte DOS OEM pages, in their usual spellings, as cpNNN', () => {
    expect(parseCodepage('cp437')).toBe('cp437');
    expect(parseCodepage('437')).toBe('cp437');
    expect(parseCodepage('CP850')).toBe('cp850');
    expect(parseCodepage('IBM852')).toBe('cp852');
    expect(parseCodepage('cp-866')).toBe('cp866');
    for (const cp of ['cp437', 'cp737', 'cp775', 'cp850', 'cp852', 'cp855', 'cp857', 'cp858', 'cp860', 'cp861', 'cp862', 'cp863', 'cp865', 'cp866', 'cp869']) {
      expect(acceptedCodepages()).toContain(cp);
      expect(parseCodepage(cp)).toBe(cp);
    }
  });
  it('offers only pages the namer takes: cp864 moves ASCII % and is left out', () => {
    expect(acceptedCodepages()).not.toContain('cp864');
    expect(refusal(() => parseCodepage('cp864'))).toMatch(/^--codepage: 'cp864' is not a single-byte OEM code page/);
  });
  const refused: Array<[string, RegExp]> = [
    ['cp99999', /is not a single-byte OEM code page/], ['utf8', /is not a single-byte OEM code page/], ['utf-16', /is not/],
    ['cp932', /is a double-byte code page/], ['936', /is a double-byte code page/], ['cp949', /double-byte/], ['cp950', /double-byte/],
    ['windows-1252', /is not/], ['cp1252', /is not/], ['latin1', /is not/], ['ascii', /is not/], ['', /is not/], ['nonsense', /is not/],
  ];
  for (const [v, why] of refused) {
    it(`refuses '${v}' with the list of what it takes`, () => {
      const m = refusal(() => parseCodepage(v));
      expect(m.startsWith(`--codepage: '${v}' `)).toBe(true);
      expect(m).toMatch(why);
      expect(m).toMatch(/give one of cp437 \(the default\), .*cp850, .*cp866/);
    });
  }
});

describe('--source-charset', () => {
  const accepted = ['utf-8', 'utf8', 'UTF-8', 'latin1', 'iso-8859-1', 'iso-8859-15', 'cp1252', 'windows-1251', 'koi8-r', 'cp437', 'cp850',
    'shift_jis', 'sjis', 'euc-jp', 'gbk', 'gb18030', 'euc-kr', 'big5', 'cesu8', 'mac'];
  for (const v of accepted) {
    it(`takes ${v}, and names decode through it`, () => {
      expect(parseSourceCharset(v)).toBe(v);
      expect(decodeSourceName(new TextEncoder().encode('Notes 2024.txt'), v).text).toBe('Notes 2024.txt');
    });
  }
  it('decodes multi-byte names with what it took', () => {
    expect(decodeSourceName(Uint8Array.of(0x83, 0x5c, 0x2e, 0x74), parseSourceCharset('shift_jis')).text).toBe('ソ.t');
    expect(decodeSourceName(Uint8Array.of(0xe9, 0x74, 0xe9), parseSourceCharset('latin1')).text).toBe('été');
  });
  for (const v of ['utf16', 'utf-16le', 'utf-16be', 'ucs2', 'utf32', 'utf-32be', 'utf7', 'base64', 'hex']) {
    it(`refuses ${v}: ASCII bytes do not stay ASCII`, () => {
      expect(refusal(() => parseSourceCharset(v))).toMatch(new RegExp(`^--source-charset: '${v}' does not keep ASCII bytes as ASCII.*give utf-8 \\(the default\\)`));
    });
  }
  for (const v of ['nonsense', 'utf-9', 'cp99999']) {
    it(`refuses ${v}: unknown`, () => expect(refusal(() => parseSourceCharset(v))).toMatch(new RegExp(`^--source-charset: '${v}' is not a character set fsconv knows`)));
  }
  it('refuses empty and repeated values', () => {
    expect(refusal(() => parseSourceCharset(''))).toMatch(/^--source-charset: '' is not a character set/);
    expect(refusal(() => parseSourceCharset(['utf-8', 'latin1']))).toMatch(/given 2 times/);
  });
});

describe('--volume-id', () => {
  for (const [v, n] of [['1234ABCD', 0x1234abcd], ['1234-abcd', 0x1234abcd], ['deadbeef', 0xdeadbeef], ['FFFF-FFFF', 0xffffffff], ['00000000', 0]] as const) {
    it(`takes ${v}`, () => {
      expect(parseVolumeId(v)).toBe(n);
      expect(volumeIdText(parseVolumeId(v))).toBe(v.replace('-', '').toUpperCase());
    });
  }
  for (const v of ['zz', '12zz-9999', '1234', '1234-5', '123456789', '1234--ABCD', '12-34ABCD', '0x1234ABCD', ' 1234ABCD', '1234ABC', '', 'GGGGGGGG']) {
    it(`refuses '${v}'`, () => {
      expect(refusal(() => parseVolumeId(v))).toBe(`--volume-id: '${v}' is not a volume serial number: give 8 hex digits, as 1234ABCD or 1234-ABCD`);
    });
  }
  it('refuses a number yargs might hand over, and a value given twice', () => {
    expect(refusal(() => parseVolumeId(12345678))).toMatch(/^--volume-id: '12345678'/);
    expect(refusal(() => parseVolumeId(['1234ABCD', '1234ABCD']))).toMatch(/given 2 times/);
  });
});

describe('--cluster-size', () => {
  for (const [v, n] of [['512', 512], ['1024', 1024], ['4096', 4096], ['32768', 32768], ['65536', 65536], ['4K', 4096], ['4k', 4096], ['64K', 65536], ['8KiB', 8192], ['0512', 512]] as const) {
    it(`takes ${v}`, () => expect(parseClusterSize(v)).toBe(n));
  }
  for (const v of ['abc', '3000', '256', '131072', '128K', '0', '-4096', '4.5K', '4M', '', '4096 bytes', 'NaN', 'Infinity']) {
    it(`refuses '${v}'`, () => {
      expect(refusal(() => parseClusterSize(v))).toBe(`--cluster-size: '${v}' is not a cluster size: give a power of two from 512 to 65536 bytes, as 4096 or 4K`);
    });
  }
});

describe('--size', () => {
  for (const v of ['1474560', '1440K', '64M', '2G', '1T', '64MiB', '64mb']) it(`takes ${v}`, () => expect(parseSize(v)).toBe(v));
  for (const v of ['12X', 'abc', '', '0', '0M', '-5M', '1.5G', '99999999999999999999']) {
    it(`refuses '${v}'`, () => expect(refusal(() => parseSize(v))).toMatch(new RegExp(`^--size: '${v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}' is not a size: give bytes or a number with K, M, G or T`)));
  }
});

describe('--label', () => {
  it('takes what FAT holds as it is', () => {
    for (const v of ['DATA', 'MY DISK', 'A', '12345678901', "!#$%&'()-@^", '_`{}~', ' LEADING']) expect(parseLabel(v)).toEqual({ label: v, note: null });
  });
  it("'' is no label", () => expect(parseLabel('')).toEqual({ label: '', note: null }));
  it('stores lower case upper case, and says so in one note', () => {
    expect(parseLabel('data')).toEqual({ label: 'DATA', note: "note: --label 'data' is stored as 'DATA' (FAT keeps volume labels in upper case, as Windows does)" });
    expect(parseLabel('My Disk').label).toBe('MY DISK');
    expect(parseLabel('abcdefghijk').label).toBe('ABCDEFGHIJK');
  });
  it("drops FAT's padding, saying so", () => {
    expect(parseLabel('DATA  ')).toEqual({ label: 'DATA', note: "note: --label 'DATA  ' is stored as 'DATA' (trailing spaces are FAT's padding)" });
    expect(parseLabel('   ').label).toBe('');
    expect(parseLabel('   ').note).toMatch(/stored as no label/);
  });
  const refused: Array<[string, RegExp]> = [
    ['MUCH TOO LONG', /is 13 characters; FAT labels hold 11/], ['ABCDEFGHIJKL', /is 12 characters/],
    ['a.b', /cannot hold \(\.\)/], ['A/B', /\(\/\)/], ['A*B?C', /\(\* \?\)/], ['A"B', /\("\)/], ['A+B,C;D=E[F]G|H\\I<J>K:L', /cannot hold/],
    ['ÉTÉ', /cannot hold \(U\+00C9\)/], ['ñoño', /cannot hold \(U\+00F1\)/], ['DISK\u0007', /cannot hold \(U\+0007\)/], ['TAB\tX', /U\+0009/], ['ДИСК', /U\+0414/],
    ['NO NAME', /what FAT readers show for no label/], ['no name', /what FAT readers show/],
  ];
  for (const [v, why] of refused) {
    it(`refuses ${JSON.stringify(v)}`, () => {
      const m = refusal(() => parseLabel(v));
      expect(m.startsWith(`--label: '${v}' `)).toBe(true);
      expect(m).toMatch(why);
    });
  }
  it('what it takes is plain ASCII: one byte per character in every accepted code page', () => {
    for (const v of ['DATA', 'data', "!#$%&'()-@^"]) expect(new TextEncoder().encode(parseLabel(v).label).length).toBeLessThanOrEqual(11);
  });
});

describe('--root-entries and --partition (messages kept)', () => {
  it('take whole numbers in range', () => {
    expect(parseRootEntries(undefined)).toBeUndefined();
    expect(parseRootEntries(512)).toBe(512);
    expect(parsePartition(undefined)).toBeUndefined();
    expect(parsePartition(5)).toBe(5);
  });
  it('refuse others in one line', () => {
    for (const v of [7, 70000, 12.5, Number.NaN]) expect(refusal(() => parseRootEntries(v))).toMatch(/^--root-entries must be a whole number from 16 to 65520/);
    for (const v of [0, -1, 1.5, 5000, Number.NaN]) expect(refusal(() => parsePartition(v))).toMatch(/^--partition must be a partition number/);
    expect(refusal(() => parsePartition([1, 2]))).toMatch(/^--partition: given 2 times/);
  });
});

describe('combinations', () => {
  const base: ModeOptions = { from: 'ext2' };
  const ok = (o: Partial<ModeOptions>): void => expect(() => checkMode({ ...base, ...o })).not.toThrow();
  const no = (o: Partial<ModeOptions>, what: RegExp): void => expect(refusal(() => checkMode({ ...base, ...o }))).toMatch(what);

  it('in place: --yes, --keep-partition-type, --partition are fine; --size, --partition-table, --force, --from dir are not', () => {
    ok({ yes: true, keepPartitionType: true, partition: 2, fatBits: 16, rootEntries: 1024 });
    no({ size: '10M' }, /^--size: only with --output/);
    no({ partitionTable: 'mbr' }, /^--partition-table: only with --output/);
    no({ force: true }, /^--force: only with --output/);
    no({ from: 'dir' }, /^--from dir: only with --output/);
    no({ from: 'dir', size: '10M' }, /^--from dir: only with --output/);
  });
  it('with --output: --size, --partition-table, --force fine; --keep-partition-type and --yes are not', () => {
    ok({ output: 'o.img', size: '10M', partitionTable: 'mbr', force: true, partition: 1 });
    no({ output: 'o.img', keepPartitionType: true }, /^--keep-partition-type: only in place/);
    no({ output: 'o.img', yes: true }, /^--yes: only in place/);
  });
  it('--from dir needs --size and takes no --partition', () => {
    ok({ from: 'dir', output: 'o.img', size: '2M' });
    no({ from: 'dir', output: 'o.img' }, /^--size: needed with --from dir/);
    no({ from: 'dir', output: 'o.img', size: '2M', partition: 1 }, /^--partition: not with --from dir/);
  });
  it('--root-entries is not for FAT32', () => {
    ok({ fatBits: 16, rootEntries: 1024 });
    ok({ fatBits: 32 });
    no({ fatBits: 32, rootEntries: 1024 }, /^--root-entries: FAT32 has no fixed root directory/);
  });
});
