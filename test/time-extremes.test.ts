// What the readers accept, the writers carry (issue 11, item 4): an inode whose nanosecond field is
// 10^9 or more (ext4 keeps 30 bits there; e2fsck -fn calls it clean; info and ls accept it) converts
// with check, in place and with --output, without an internal error: the time is kept as the last
// nanosecond of its second and the report says so under "Not kept". Times at the ends of what ext2
// holds (1901 and 2446 through the extra epoch bits) round-trip exactly through the rights file, and
// so do the other fields at their ends: ids of 2^32 − 1, every mode bit, a 255-byte name that is not
// UTF-8, a 4095-byte symlink target, device numbers 4095:1048575.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateFatStructure } from './support/fat-validate.js';
import { fsconv } from './support/fsconv.js';
import { parseLsJsonLines } from './support/ls-entry.js';
import { run } from './support/run.js';

let work: string;
let img: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'fsconv-times-'));
  const tree = join(work, 'tree');
  mkdirSync(tree);
  for (const f of ['big-nsec', 'old', 'late', 'ids']) writeFileSync(join(tree, f), `${f}\n`);
  // The longest name ext2 holds (255 bytes, not UTF-8) and the longest symlink target (a block less its NUL).
  writeFileSync(Buffer.concat([Buffer.from(`${tree}/${'n'.repeat(250)}`), Buffer.from([0xe9, 0xff, 0x80, 0x41, 0x42])]), 'long name\n');
  symlinkSync('t'.repeat(4095), join(tree, 'long-target'));
  // A device with the largest numbers Linux's encoding holds (12-bit major, 20-bit minor; needs root).
  run('mknod', [join(tree, 'dev-max'), 'c', '4095', '1048575']);
  img = join(work, 'src.img');
  run('mke2fs', ['-q', '-t', 'ext2', '-b', '4096', '-I', '256', '-d', tree, '-F', img, '4M']);
  const set = (file: string, field: string, value: string): void => {
    run('debugfs', ['-w', '-R', `set_inode_field /${file} ${field} ${value}`, img]);
  };
  set('big-nsec', 'mtime_extra', '0xFF000000'); // nsec 1069547520, epoch bits 0
  set('old', 'mtime', '0x80000000'); // -2^31: 1901-12-13
  set('old', 'mtime_extra', '0');
  set('late', 'mtime', '0x7FFFFFFF');
  set('late', 'mtime_extra', '0x00000003'); // epoch bits 3: 2446
  // The largest ids (16 low + 16 high bits) and every permission bit.
  for (const f of ['uid', 'gid']) set('ids', f, '0xFFFFFFFF');
  set('ids', 'mode', '0107777');
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
      validateFatStructure(fat); // fsck.fat strictly, blkid, wipefs
      const l = parseLsJsonLines((await fsconv(['ls', '--json', '--strict', fat])).stdout);
      // Exact through the rights file, at both ends (FAT itself holds 1980..2107).
      expect(mtime(l, '/old')).toBe(-(2 ** 31));
      expect(mtime(l, '/late')).toBe(0x7fffffff + 3 * 2 ** 32);
      expect(mtime(l, '/big-nsec')).toBe(mtime(src, '/big-nsec'));
      // Every other value exactly as the source lists it: ids, modes, names, targets, devices.
      const strip = ({ ino: _i, fatPath: _f, ...rest }: (typeof l)[number]) => rest;
      expect(l.map(strip).sort((a, b) => a.path.localeCompare(b.path))).toEqual(src.map(strip).sort((a, b) => a.path.localeCompare(b.path)));
    }
    const ids = src.find((e) => e.path === '/ids')!;
    expect([ids.uid, ids.gid, ids.mode]).toEqual([2 ** 32 - 1, 2 ** 32 - 1, 0o107777]);
    expect(src.find((e) => e.path === '/dev-max')!.rdev).toEqual([4095, 1048575]);
    expect(src.find((e) => e.path === '/long-target')!.target).toHaveLength(4095);
  }, 60_000);
});
