// Option values and combinations are checked once, before anything is opened: a mistake is a usage
// error (exit 2) in exactly one line saying which option and what it takes, nothing on stdout, the
// source untouched and no output created. The accepted forms reach the conversion as written.
import { copyFileSync, existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fsconv, REPO_ROOT, sha256File, type FsconvResult } from './support/fsconv.js';

let work: string;
let img: string;
let before: string;
let dir: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'fsconv-options-'));
  img = join(work, 'sample.img');
  copyFileSync(join(REPO_ROOT, 'fixtures', 'sample.ext2'), img);
  before = sha256File(img);
  dir = join(work, 'tree');
  mkdirSync(dir);
  writeFileSync(join(dir, 'hello.txt'), 'hello\n');
});
afterAll(() => rmSync(work, { recursive: true, force: true }));
// A test that failed by converting the sample must not take the next ones with it.
afterEach(() => {
  if (sha256File(img) !== before) copyFileSync(join(REPO_ROOT, 'fixtures', 'sample.ext2'), img);
});

/** Exit 2, one line on stderr (no pointer to --help, no stack, no 'internal error'), nothing on stdout. */
function expectUsageLine(r: FsconvResult, what: string): string {
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  expect(r.status, `${what}: ${r.stderr}`).toBe(2);
  expect(lines, what).toHaveLength(1);
  expect(lines[0], what).toMatch(/^fsconv: --[a-z-]+/);
  expect(r.stderr, what).not.toMatch(/internal error|\n\s+at /);
  expect(r.stdout, what).toBe('');
  return lines[0]!;
}

const IN_PLACE = ['convert', '--from', 'ext2', '--to', 'vfat+rights'];
const NEW_IMAGE = ['convert', '--from', 'ext2', '--to', 'vfat'];

/** FAT12/16/32 boot sector: volume ID and label (the image has no partition table). */
function fatIdAndLabel(path: string): { id: number; label: string } {
  const b = readFileSync(path).subarray(0, 512);
  const fat32 = b.toString('latin1', 82, 90) === 'FAT32   ';
  const at = fat32 ? 67 : 39;
  return { id: b.readUInt32LE(at), label: b.toString('latin1', at + 4, at + 15) };
}

describe('bad option values: exit 2 in one line, nothing opened', () => {
  const cases: Array<[string[], RegExp]> = [
    [['--tz', 'Mars/Olympus'], /^fsconv: --tz: 'Mars\/Olympus' is not a time zone: give UTC, local, an IANA zone such as Europe\/Paris, or an offset such as \+02:00 or -05:00 within ±14:00$/],
    [['--tz', '+99:99'], /^fsconv: --tz: '\+99:99' .*within ±14:00/],
    [['--tz=-14:30'], /^fsconv: --tz: '-14:30' .*within ±14:00/],
    [['--codepage', 'cp99999'], /^fsconv: --codepage: 'cp99999' .*cp437.*cp850/],
    [['--codepage', 'utf8'], /^fsconv: --codepage: 'utf8' .*cp437/],
    [['--codepage', 'cp932'], /^fsconv: --codepage: 'cp932' .*double-byte.*cp437/],
    [['--source-charset', 'nonsense'], /^fsconv: --source-charset: 'nonsense' is not a character set/],
    [['--source-charset', 'utf16'], /^fsconv: --source-charset: 'utf16' .*ASCII/],
    [['--volume-id', 'zz'], /^fsconv: --volume-id: 'zz' .*8 hex digits/],
    [['--volume-id', '12zz-9999'], /^fsconv: --volume-id: '12zz-9999' .*8 hex digits/],
    [['--label', 'ÉTÉ'], /^fsconv: --label: 'ÉTÉ' /],
    [['--label', 'MUCH TOO LONG'], /^fsconv: --label: 'MUCH TOO LONG' .*11/],
    [['--label', 'a.b'], /^fsconv: --label: 'a\.b' /],
    [['--cluster-size', 'abc'], /^fsconv: --cluster-size: 'abc' .*power of two/],
    [['--cluster-size', '3000'], /^fsconv: --cluster-size: '3000' .*power of two/],
  ];
  for (const [opts, message] of cases) {
    it(`${opts.join(' ')}: in place and into a new image`, async () => {
      const line = expectUsageLine(await fsconv([...IN_PLACE, img, '--yes', ...opts]), `in place ${opts.join(' ')}`);
      expect(line).toMatch(message);
      expect(sha256File(img)).toBe(before);
      const out = join(work, 'never.img');
      expect(expectUsageLine(await fsconv([...NEW_IMAGE, img, '--output', out, ...opts]), `--output ${opts.join(' ')}`)).toBe(line);
      expect(existsSync(out)).toBe(false);
      expect(sha256File(img)).toBe(before);
    });
  }

  it('is checked before the device is opened: a missing device still gets the option error', async () => {
    const line = expectUsageLine(await fsconv([...IN_PLACE, join(work, 'missing.img'), '--tz', 'Mars/Olympus']), 'missing device');
    expect(line).toMatch(/^fsconv: --tz: /);
    expect(expectUsageLine(await fsconv(['ls', join(work, 'missing.img'), '--tz', '+15:00']), 'ls')).toMatch(/^fsconv: --tz: '\+15:00'/);
    // An option given no value is not quietly its default (yargs took `--tz` alone as local).
    expect(expectUsageLine(await fsconv(['ls', img, '--tz']), 'ls --tz')).toBe('fsconv: --tz: needs a value');
  });
});

describe('options the mode would ignore are usage errors', () => {
  const cases: Array<[string, string[], RegExp]> = [
    ['--size in place', [...IN_PLACE, 'IMG', '--yes', '--size', '10M'], /^fsconv: --size: only with --output/],
    ['--partition-table in place', [...IN_PLACE, 'IMG', '--yes', '--partition-table', 'mbr'], /^fsconv: --partition-table: only with --output/],
    ['--from dir in place', ['convert', '--from', 'dir', '--to', 'vfat', 'DIR', '--yes'], /^fsconv: --from dir: only with --output/],
    ['check: --size in place', ['check', '--from', 'ext2', '--to', 'vfat', 'IMG', '--size', '10M'], /^fsconv: --size: only with --output/],
    ['--force in place', [...IN_PLACE, 'IMG', '--yes', '--force'], /^fsconv: --force: only with --output/],
    ['--keep-partition-type with --output', [...NEW_IMAGE, 'IMG', '--output', 'OUT', '--keep-partition-type'], /^fsconv: --keep-partition-type: only in place/],
    ['--yes with --output', [...NEW_IMAGE, 'IMG', '--output', 'OUT', '--yes'], /^fsconv: --yes: only in place/],
    ['--root-entries with --fat-bits 32', [...NEW_IMAGE, 'IMG', '--output', 'OUT', '--fat-bits', '32', '--root-entries', '1024'], /^fsconv: --root-entries: .*FAT32/],
    ['--from dir without --size', ['convert', '--from', 'dir', '--to', 'vfat', 'DIR', '--output', 'OUT'], /^fsconv: --size: needed with --from dir/],
    ['--partition with --from dir', ['convert', '--from', 'dir', '--to', 'vfat', 'DIR', '--output', 'OUT', '--size', '2M', '--partition', '1'], /^fsconv: --partition: .*--from dir/],
    ['a malformed --size', [...NEW_IMAGE, 'IMG', '--output', 'OUT', '--size', '12X'], /^fsconv: --size: '12X' is not a size/],
  ];
  for (const [name, args, message] of cases) {
    it(name, async () => {
      const out = join(work, 'never.img');
      const r = await fsconv(args.map((a) => (a === 'IMG' ? img : a === 'DIR' ? dir : a === 'OUT' ? out : a)));
      expect(expectUsageLine(r, args.join(' '))).toMatch(message);
      expect(existsSync(out)).toBe(false);
      expect(sha256File(img)).toBe(before);
    });
  }
});

describe('accepted forms reach the conversion', () => {
  it('--tz -05:00 (as written), --tz=-05:00 and --tz America/New_York give the same FAT times; --tz +00:00 five hours later', async () => {
    const times = async (tz: string[]): Promise<Map<string, number>> => {
      const out = join(work, `tz-${tz.join('')}.img`.replace(/[/=]/g, '_'));
      const r = await fsconv([...NEW_IMAGE, dir, '--from', 'dir', '--size', '2M', '--output', out, '-q', ...tz]);
      expect(r.status, r.stderr).toBe(0);
      // Read back as UTC: the FAT fields as they were written.
      const ls = await fsconv(['ls', out, '--json', '--tz', 'UTC']);
      expect(ls.status, ls.stderr).toBe(0);
      rmSync(out);
      return new Map(ls.stdout.trim().split('\n').map((l) => JSON.parse(l) as { path: string; mtime: number }).map((e) => [e.path, e.mtime]));
    };
    // A winter time: New York is at -05:00 then.
    utimesSync(join(dir, 'hello.txt'), new Date('2024-01-15T12:00:00Z'), new Date('2024-01-15T12:00:00Z'));
    const asWritten = await times(['--tz', '-05:00']);
    expect(await times(['--tz=-05:00'])).toEqual(asWritten);
    expect(await times(['--tz', 'America/New_York'])).toEqual(asWritten);
    const utc = await times(['--tz', '+00:00']);
    // Written as local times: noon UTC is 07:00 in -05:00, read back as UTC five hours earlier.
    expect(utc.get('/hello.txt')).toBe(Date.parse('2024-01-15T12:00:00Z') / 1000);
    expect(asWritten.get('/hello.txt')).toBe(utc.get('/hello.txt')! - 5 * 3600);
  });

  it('in place: --tz -05:00, --volume-id 1234-abcd, --label data (stored as DATA, said in one note)', async () => {
    const copy = join(work, 'in-place.img');
    copyFileSync(img, copy);
    const r = await fsconv([...IN_PLACE, copy, '--yes', '-q', '--tz', '-05:00', '--volume-id', '1234-abcd', '--label', 'data']);
    expect(r.status, r.stderr).toBe(0);
    const notes = r.stderr.split('\n').filter((l) => l !== '');
    expect(notes).toEqual([`fsconv: note: --label 'data' is stored as 'DATA' (FAT keeps volume labels in upper case, as Windows does)`]);
    expect(fatIdAndLabel(copy)).toEqual({ id: 0x1234abcd, label: 'DATA       ' });
    rmSync(copy);
  });

  it('--cluster-size 4K, --codepage 850 and --source-charset latin1 build an image', async () => {
    const out = join(work, 'forms.img');
    const r = await fsconv([...NEW_IMAGE, img, '--output', out, '-q', '--json', '--cluster-size', '4K', '--codepage', '850', '--source-charset', 'latin1', '--volume-id', 'DEADBEEF']);
    expect(r.status, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { clusterSize: number }).clusterSize).toBe(4096);
    expect(fatIdAndLabel(out).id).toBe(0xdeadbeef);
    rmSync(out);
  });

  it('ls takes --strict', async () => {
    const r = await fsconv(['ls', img, '--strict', '-q']);
    expect(r.stderr).not.toMatch(/Unknown argument/);
    expect([0, 1]).toContain(r.status);
  });
});
