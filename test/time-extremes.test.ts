// What the readers accept, the writers carry (issue 11, item 4): an inode whose nanosecond field is
// 10^9 or more (ext4 keeps 30 bits there; e2fsck -fn calls it clean; info and ls accept it) converts
// with check, in place and with --output, without an internal error: the time is kept as the last
// nanosecond of its second and the report says so under "Not kept". Times at the ends of what ext2
// holds (1901 and 2446 through the extra epoch bits) round-trip exactly through the rights file.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fsconv } from './support/fsconv.js';
import { parseLsJsonLines } from './support/ls-entry.js';
import { run } from './support/run.js';

let work: string;
let img: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'fsconv-times-'));
  const tree = join(work, 'tree');
  mkdirSync(tree);
  for (const f of ['big-nsec', 'old', 'late']) writeFileSync(join(tree, f), `${f}\n`);
  img = join(work, 'src.img');
  run('mke2fs', ['-q', '-t', 'ext2', '-I', '256', '-d', tree, '-F', img, '4M']);
  const set = (file: string, field: string, value: string): void => {
    run('debugfs', ['-w', '-R', `set_inode_field /${file} ${field} ${value}`, img]);
  };
  set('big-nsec', 'mtime_extra', '0xFF000000'); // nsec 1069547520, epoch bits 0
  set('old', 'mtime', '0x80000000'); // -2^31: 1901-12-13
  set('old', 'mtime_extra', '0');
  set('late', 'mtime', '0x7FFFFFFF');
  set('late', 'mtime_extra', '0x00000003'); // epoch bits 3: 2446
  expect(run('e2fsck', ['-fn', img]).status).toBe(0);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('times at the edges of what ext2 holds', () => {
  it('info and ls accept them; check, in place and --output convert them, reporting the nanoseconds kept', async () => {
    const src = parseLsJsonLines((await fsconv(['ls', '--json', img])).stdout);
    const mtime = (l: typeof src, p: string): number => l.find((e) => e.path === p)!.mtime;
    expect(mtime(src, '/old')).toBe(-(2 ** 31));
    expect(mtime(src, '/late')).toBe(0x7fffffff + 3 * 2 ** 32);
    const check = await fsconv(['check', '--from', 'ext2', '--to', 'vfat+rights', img]);
    expect(check.status, check.stderr).toBe(0);
    expect(check.stdout).toMatch(/\/big-nsec: mtime nanoseconds 1069547520 \(more than a second\) kept as 999999999/);
    const out = join(work, 'out.img');
    const built = await fsconv(['--from', 'ext2', '--to', 'vfat+rights', img, '--output', out, '--json', '-q']);
    expect(built.status, built.stderr).toBe(0);
    expect(JSON.parse(built.stdout).losses).toContainEqual({ path: '/big-nsec', what: 'mtime nanoseconds 1069547520 (more than a second) kept as 999999999' });
    const inPlace = join(work, 'in-place.img');
    copyFileSync(img, inPlace);
    const conv = await fsconv(['--from', 'ext2', '--to', 'vfat+rights', inPlace, '--yes', '-q']);
    expect(conv.status, conv.stderr).toBe(0);
    for (const fat of [out, inPlace]) {
      const l = parseLsJsonLines((await fsconv(['ls', '--json', '--strict', fat])).stdout);
      // Exact through the rights file, at both ends (FAT itself holds 1980..2107).
      expect(mtime(l, '/old')).toBe(-(2 ** 31));
      expect(mtime(l, '/late')).toBe(0x7fffffff + 3 * 2 ** 32);
      expect(mtime(l, '/big-nsec')).toBe(mtime(src, '/big-nsec'));
    }
  }, 60_000);
});
