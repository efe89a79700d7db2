/**
 * storageLayers / storageOverlap / sameStorage on real loop devices (needs root): a loop device is
 * its backing file, two loop devices of one file are one storage, a loop device on a loop device is
 * the file under both; a partition (losetup -P) lies inside its disk, two partitions do not overlap,
 * and loop devices on two separate ranges of one file (--offset/--sizelimit) do not either. Plain
 * files: hard links and symlinks are the same file, a copy is not.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { sameStorage, storageLayers, storageOverlap } from '../src/identity.js';

const PATH = `${process.env['PATH'] ?? ''}:/usr/sbin:/sbin`;

function sh(cmd: string, ...args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 20_000, env: { ...process.env, PATH } });
  if (r.error || r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr ?? r.error?.message}`);
  return (r.stdout ?? '').trim();
}

const has = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`], { env: { ...process.env, PATH } }).status === 0;

let dir = '';
beforeAll(() => {
  dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'fsconv-identity-')));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function file(name: string, bytes = 4 * 1024 * 1024): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, Buffer.alloc(0));
  fs.truncateSync(p, bytes);
  return p;
}

describe('plain files', () => {
  it('a file is itself through a hard link and a symlink, not a copy; nothing at a path overlaps nothing', () => {
    const a = file('a.img', 1024);
    const link = path.join(dir, 'a-hard.img');
    fs.linkSync(a, link);
    const sym = path.join(dir, 'a-sym.img');
    fs.symlinkSync(a, sym);
    const copy = path.join(dir, 'a-copy.img');
    fs.copyFileSync(a, copy);
    expect(storageLayers(a)).toEqual([{ id: expect.stringMatching(/^file \d+:\d+ \d+$/), kind: 'file', path: a, start: 0, end: null }]);
    expect(storageOverlap(a, link)?.how).toBe('same');
    expect(sameStorage(sym, a)).toBe(true);
    expect(sameStorage(a, copy)).toBe(false);
    expect(storageLayers(path.join(dir, 'missing'))).toEqual([]);
    expect(sameStorage(a, path.join(dir, 'missing'))).toBe(false);
  });
});

describe.skipIf(process.getuid?.() !== 0 || !fs.existsSync('/dev/loop-control') || !has('losetup'))('through loop devices', () => {
  const loops: string[] = [];
  afterEach(() => {
    for (const l of loops.splice(0).reverse()) spawnSync('losetup', ['-d', l], { env: { ...process.env, PATH } });
  });

  function attach(target: string, ...opts: string[]): string {
    const loop = sh('losetup', '-f', '--show', ...opts, target);
    loops.push(loop);
    return loop;
  }

  it('a loop device is its backing file; two loop devices of one file and stacked ones are one storage', () => {
    const img = file('backing.img');
    const other = file('other.img');
    const l1 = attach(img);
    const l2 = attach(img);
    const stacked = attach(l1);
    const layers = storageLayers(l1);
    expect(layers.map((l) => [l.kind, l.path, l.next])).toEqual([['loop-device', l1, 'is'], ['file', img, undefined]]);
    expect(layers[1]!.id).toBe(storageLayers(img)[0]!.id);
    expect(storageLayers(stacked).map((l) => [l.kind, l.path])).toEqual([['loop-device', stacked], ['loop-device', l1], ['file', img]]);

    expect(storageOverlap(img, l1)).toMatchObject({ how: 'same', ai: 0, bi: 1 });
    expect(storageOverlap(l1, img)).toMatchObject({ how: 'same', ai: 1, bi: 0 });
    expect(storageOverlap(l1, l2)).toMatchObject({ how: 'same', ai: 1, bi: 1 });
    expect(storageOverlap(stacked, l2)?.how).toBe('same');
    expect(storageOverlap(stacked, img)).toMatchObject({ how: 'same', ai: 2, bi: 0 });
    expect(storageOverlap(l1, l1)).toMatchObject({ how: 'same', ai: 0, bi: 0 });
    expect(sameStorage(l1, other)).toBe(false);
    expect(sameStorage(attach(other), l2)).toBe(false);
  });

  it('loop devices on separate ranges of one file do not overlap; on overlapping ranges they do', () => {
    const img = file('ranges.img');
    const first = attach(img, '--offset', '0', '--sizelimit', String(1024 * 1024));
    const second = attach(img, '--offset', String(1024 * 1024), '--sizelimit', String(1024 * 1024));
    const across = attach(img, '--offset', String(512 * 1024), '--sizelimit', String(1024 * 1024));
    expect(storageLayers(second)[1]).toMatchObject({ kind: 'file', start: 1024 * 1024, end: 2 * 1024 * 1024 });
    expect(sameStorage(first, second)).toBe(false);
    expect(sameStorage(first, across)).toBe(true);
    expect(sameStorage(second, across)).toBe(true);
    expect(sameStorage(img, second)).toBe(true);
  });

  it.skipIf(!has('sfdisk') || !has('partx'))('a partition lies inside its disk (and the disk\'s file); two partitions do not overlap', () => {
    const img = file('disk.img', 8 * 1024 * 1024);
    sh('sh', '-c', `printf 'label: dos\\nstart=2048, size=4096\\nstart=6144, size=4096\\n' | sfdisk -q ${img}`);
    /** Partition n of a loop device attached with -P. Without udev (a container) there are no /dev nodes for it: made from sysfs. */
    const partition = (disk: string, n: number): string => {
      const name = path.basename(disk);
      const sys = `/sys/block/${name}/${name}p${n}`;
      for (let i = 0; i < 10 && !fs.existsSync(sys); i++) spawnSync('sleep', ['0.1']);
      // Some kernels (here, in a container) do not scan at attach time: ask for it.
      if (!fs.existsSync(sys)) sh('partx', '-a', disk);
      const [major, minor] = fs.readFileSync(`${sys}/dev`, 'utf8').trim().split(':');
      const p = path.join(dir, `${name}p${n}`);
      fs.rmSync(p, { force: true });
      sh('mknod', p, 'b', major!, minor!);
      return p;
    };
    const disk = attach(img, '-P');
    const p1 = partition(disk, 1);
    const p2 = partition(disk, 2);
    const layers = storageLayers(p2);
    expect(layers.map((l) => [l.kind, l.path, l.next])).toEqual([
      ['partition', p2, 'in'], ['loop-device', disk, 'is'], ['file', img, undefined],
    ]);
    expect(layers[1]).toMatchObject({ start: 6144 * 512, end: (6144 + 4096) * 512 });
    expect(storageOverlap(p1, disk)).toMatchObject({ how: 'a-in-b' });
    expect(storageOverlap(disk, p1)).toMatchObject({ how: 'b-in-a' });
    expect(storageOverlap(p1, img)).toMatchObject({ how: 'a-in-b' });
    expect(sameStorage(p1, p2)).toBe(false);
    // A loop device on the same bytes as the first partition overlaps it, not the second.
    const overP1 = attach(img, '--offset', String(2048 * 512), '--sizelimit', String(4096 * 512));
    expect(storageOverlap(overP1, p1)?.how).toBe('b-in-a'); // the partition lies in the file that overP1 is (a range of)
    expect(sameStorage(overP1, p2)).toBe(false);
    // The same partition through a second loop device of the file: two views of the same bytes.
    const again = attach(img, '-P');
    expect(storageOverlap(partition(again, 1), p1)?.how).toBe('overlap');
    expect(sameStorage(partition(again, 2), p1)).toBe(false);
  });
});
