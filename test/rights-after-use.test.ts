// Rights records after the converted volume is used on FAT (issue 11, items 2 and 3): the volume is
// changed through mtools and through the Linux vfat driver itself (../shared/tools/uml-vfat): a
// symlink's placeholder overwritten, a file deleted and recreated under its name, a file renamed, a
// directory replaced by a file, one name of a hard-linked file edited, a file made read-only, a
// file's mtime set. Then fsck.fat stays clean, `fsconv ls` shows each change as FAT has it, keeps
// the full metadata of everything untouched (equal to the source's listing), warns on stderr about
// each record it no longer trusts, and `--strict` exits 1. A rights file whose hidden and system
// attributes were cleared still restores its directory.
import { chmodSync, copyFileSync, linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalListing, stripIdentity } from './support/fat-acceptance.js';
import { fsckFatStrict } from './support/fat-validate.js';
import { fsconv } from './support/fsconv.js';
import { parseLsJsonLines, type LsEntry } from './support/ls-entry.js';
import { run } from './support/run.js';
import { noteNotRun, runUnderVfatDriver } from './support/uml.js';

const MTOOLS_ENV = { ...process.env, LC_ALL: 'C.UTF-8', TZ: 'UTC' };
const SET_MTIME = 1622548800; // 2021-06-01 12:00:00 UTC (even: FAT keeps 2-second steps)

let work: string;
let converted: string;
let source: LsEntry[];
beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'fsconv-after-use-'));
  const tree = join(work, 'tree');
  mkdirSync(join(tree, 'keep-dir'), { recursive: true });
  mkdirSync(join(tree, 'dir2'));
  const put = (p: string, text: string, mode = 0o644): void => {
    writeFileSync(join(tree, p), text);
    chmodSync(join(tree, p), mode);
  };
  put('keep.txt', 'kept as it is\n');
  put('keep-dir/inner.txt', 'inner\n', 0o600);
  put('dir2/a.txt', 'a\n');
  put('del.txt', 'to be deleted\n', 0o640);
  put('ren.txt', 'to be renamed\n');
  put('h1', 'hard-linked\n', 0o664);
  linkSync(join(tree, 'h1'), join(tree, 'h2'));
  put('ro.txt', 'made read-only\n');
  put('mt.txt', 'its mtime set\n');
  put('suid', '#!/bin/sh\n', 0o4755);
  symlinkSync('keep.txt', join(tree, 'link'));
  // Old times, so that every change made on FAT now shows in its mtime.
  for (const p of ['keep.txt', 'keep-dir/inner.txt', 'keep-dir', 'dir2/a.txt', 'dir2', 'del.txt', 'ren.txt', 'h1', 'ro.txt', 'mt.txt', 'suid', '.']) {
    utimesSync(join(tree, p), 1600000000, 1600000000);
  }
  const img = join(work, 'source.img');
  run('mke2fs', ['-q', '-t', 'ext2', '-b', '1024', '-d', tree, '-E', 'root_owner=1000:100', '-F', img, '4M'],
    { env: { ...process.env, LC_ALL: 'C', E2FSPROGS_FAKE_TIME: '1700000000' } });
  source = parseLsJsonLines((await fsconv(['ls', '--json', '--tz', 'UTC', img])).stdout);
  converted = join(work, 'converted.img');
  copyFileSync(img, converted);
  const r = await fsconv(['--from', 'ext2', '--to', 'vfat+rights', converted, '--yes', '-q', '--tz', 'UTC', '--fat-bits', '16']);
  if (r.status !== 0) throw new Error(`convert: ${r.stderr}`);
}, 120_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

const byPath = (l: LsEntry[]): Map<string, LsEntry> => new Map(l.map((e) => [e.path, e]));
const UNTOUCHED = ['/keep.txt', '/keep-dir', '/keep-dir/inner.txt', '/suid'];

/** What every judge must see after the changes, whichever way they were made. */
async function expectReconciled(img: string, how: string, mtimeChanged: boolean): Promise<void> {
  const fsck = fsckFatStrict(img);
  expect(fsck.files, how).toBeGreaterThan(5);
  const ls = await fsconv(['ls', '--json', '--tz', 'UTC', img]);
  expect(ls.status, ls.stderr).toBe(0);
  const after = byPath(parseLsJsonLines(ls.stdout));
  const before = byPath(source);
  // Untouched: the full metadata of the source.
  for (const p of UNTOUCHED) expect(stripIdentity(after.get(p)!), `${how} ${p}`).toEqual(stripIdentity(before.get(p)!));
  // The symlink's placeholder overwritten: a file now, with its new content's size.
  expect(after.get('/link'), how).toMatchObject({ type: 'file', size: 9, uid: 0, gid: 0 });
  expect(after.get('/link')!.target).toBeUndefined();
  // Deleted and recreated: FAT's size and mtime (the name keeps its owner: FAT cannot tell a new file from an edited one).
  expect(after.get('/del.txt')!.size, how).toBe(4);
  expect(after.get('/del.txt')!.mtime, how).not.toBe(before.get('/del.txt')!.mtime);
  // Renamed: the new name is FAT-native, the old one is gone.
  expect(after.has('/ren.txt'), how).toBe(false);
  expect(after.get('/renamed.txt'), how).toMatchObject({ type: 'file', mode: 0o100644, uid: 0, gid: 0, nlink: 1 });
  // A directory replaced by a file: a file.
  expect(after.get('/dir2'), how).toMatchObject({ type: 'file', size: 1, mode: 0o100644 });
  expect(after.has('/dir2/a.txt'), how).toBe(false);
  // One name of a hard-linked file edited: two files of one name each.
  const h1 = after.get('/h1')!;
  const h2 = after.get('/h2')!;
  expect([h1.nlink, h2.nlink], how).toEqual([1, 1]);
  expect(h1.ino, how).not.toBe(h2.ino);
  expect(h1.size, how).toBe(12);
  expect(h2.size, how).toBe(16);
  expect(stripIdentity({ ...h1, nlink: 2 }), how).toEqual(stripIdentity(before.get('/h1')!));
  // Read-only: no write bits, the rest kept.
  expect(after.get('/ro.txt')!.mode, how).toBe(0o100444);
  expect(after.get('/ro.txt')!.mtime, how).toBe(before.get('/ro.txt')!.mtime);
  // The mtime set.
  if (mtimeChanged) expect(after.get('/mt.txt')!.mtime, how).toBe(SET_MTIME);
  // One warning line per record no longer trusted.
  const warnings = ls.stderr.trim().split('\n');
  for (const w of warnings) expect(w, how).toMatch(/^fsconv: warning: /);
  for (const p of ['/link', '/del.txt', '/ren.txt', '/dir2', '/h2', '/ro.txt', ...(mtimeChanged ? ['/mt.txt'] : [])]) {
    expect(warnings.some((w) => w.includes(p.slice(1))), `${how}: a warning about ${p} in ${ls.stderr}`).toBe(true);
  }
  for (const p of UNTOUCHED) expect(warnings.some((w) => w.includes(`${p}:`)), `${how}: no warning about ${p}`).toBe(false);
  const info = await fsconv(['info', '--json', img]);
  expect((JSON.parse(info.stdout) as { untrustedRecords: number }).untrustedRecords, how).toBe(warnings.length);
  const strict = await fsconv(['ls', '--strict', '--tz', 'UTC', img]);
  expect(strict.status, how).toBe(1);
  expect(strict.stderr, how).toMatch(/no longer trusted .*--strict/);
}

describe('the volume used on FAT after its conversion', () => {
  it('the converted volume lists as its source, with no warning (the baseline)', async () => {
    const ls = await fsconv(['ls', '--json', '--strict', '--tz', 'UTC', converted]);
    expect(ls.status, ls.stderr).toBe(0);
    expect(ls.stderr).toBe('');
    expect(canonicalListing(parseLsJsonLines(ls.stdout))).toEqual(canonicalListing(source));
  });

  it('changed through mtools: each change as FAT has it, the rest as converted, a warning per record', async () => {
    const img = join(work, 'mtools.img');
    copyFileSync(converted, img);
    const m = (cmd: string, ...args: string[]): void => {
      run(cmd, ['-i', img, ...args], { env: MTOOLS_ENV });
    };
    const file = (name: string, text: string): string => {
      const p = join(work, name);
      writeFileSync(p, text);
      return p;
    };
    m('mcopy', '-o', file('replaced', 'replaced\n'), '::link');
    m('mdel', '::del.txt');
    m('mcopy', file('new', 'new\n'), '::del.txt');
    m('mren', '::ren.txt', '::renamed.txt');
    m('mdeltree', '::dir2');
    m('mcopy', file('x', 'x'), '::dir2');
    m('mcopy', '-o', file('edited', 'hard-linked\nmore'), '::h2');
    m('mattrib', '+r', '::ro.txt');
    const stamped = file('stamped', 'its mtime set\n');
    run('touch', ['-d', `@${SET_MTIME}`, stamped]);
    m('mcopy', '-o', '-m', stamped, '::mt.txt');
    await expectReconciled(img, 'mtools', true);
  }, 120_000);

  it('changed through the Linux vfat driver: the same', async () => {
    const img = join(work, 'kernel.img');
    copyFileSync(converted, img);
    const job = join(work, 'use.sh');
    writeFileSync(job, [
      'set -e',
      'mkdir -p /tmp/fsconv-use && mount -t vfat -o utf8,shortname=mixed,tz=UTC /dev/ubda /tmp/fsconv-use',
      'cd /tmp/fsconv-use',
      "printf 'replaced\\n' > link",
      "rm del.txt && printf 'new\\n' > del.txt",
      'mv ren.txt renamed.txt',
      "rm -r dir2 && printf x > dir2",
      "printf more >> h2",
      'chmod a-w ro.txt',
      `touch -d @${SET_MTIME} mt.txt`,
      'cd / && umount /tmp/fsconv-use',
      'echo done-ok',
    ].join('\n'));
    const r = runUnderVfatDriver(job, [img]);
    if (!r.ran) {
      noteNotRun('the after-use scenario', r.why);
      return;
    }
    expect(r.status, r.output).toBe(0);
    expect(r.output).toMatch(/done-ok/);
    await expectReconciled(img, 'vfat driver', true);
  }, 300_000);

  it('a rights file whose hidden and system attributes were cleared still restores its directory', async () => {
    const img = join(work, 'unhidden.img');
    copyFileSync(converted, img);
    run('mattrib', ['-i', img, '-h', '-s', '::/$#%right.$#@'], { env: MTOOLS_ENV });
    run('mattrib', ['-i', img, '-h', '-s', '::/keep-dir/$#%right.$#@'], { env: MTOOLS_ENV });
    const ls = await fsconv(['ls', '--json', '--strict', '--tz', 'UTC', img]);
    expect(ls.status, ls.stderr).toBe(0);
    // Only the attributes changed; the snapshot of nothing else did, so no warning either.
    expect(ls.stderr).toBe('');
    expect(canonicalListing(parseLsJsonLines(ls.stdout))).toEqual(canonicalListing(source));
  });

  it('a damaged rights file: a warning, FAT-native metadata for that directory only', async () => {
    const img = join(work, 'damaged.img');
    copyFileSync(converted, img);
    const rights = join(work, 'rights.txt');
    run('mcopy', ['-i', img, '::/keep-dir/$#%right.$#@', rights], { env: MTOOLS_ENV });
    const text = readFileSync(rights, 'utf8').replace('uid=0', 'uid=7');
    writeFileSync(rights, text);
    run('mcopy', ['-o', '-i', img, rights, '::/keep-dir/$#%right.$#@'], { env: MTOOLS_ENV });
    const ls = await fsconv(['ls', '--json', '--tz', 'UTC', img]);
    expect(ls.status, ls.stderr).toBe(0);
    expect(ls.stderr.trim().split('\n').filter((l) => /keep-dir\/\$#%right\.\$#@: damaged \(rights file: .*CRC-32 mismatch/.test(l))).toHaveLength(1);
    const after = byPath(parseLsJsonLines(ls.stdout));
    expect(after.get('/keep-dir/inner.txt')).toMatchObject({ uid: 0, mode: 0o100644 });
    expect(stripIdentity(after.get('/keep.txt')!)).toEqual(stripIdentity(byPath(source).get('/keep.txt')!));
    expect((await fsconv(['ls', '--strict', img])).status).toBe(1);
  });
});
