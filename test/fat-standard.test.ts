// Volumes as users' devices expect them (issue 10, items 5-7):
// - new images of 16 MiB, 200 MiB and 2 GiB get the FAT type and cluster size mkfs.fat gives the
//   same size, the boot sector fields formatters write (OEM MSWIN4.1, drive 0x80, mkfs.fat's
//   default heads and sectors per track), and FAT12/16 a root of 512 entries (--root-entries N);
// - after an in-place conversion to FAT12 and to FAT16, 300 new files go into the root, through
//   mtools and through the Linux vfat driver itself (../shared/tools/uml-vfat), and fsck.fat stays
//   clean.
import { existsSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeExt2Image } from './support/ext2-image.js';
import { fsckFatStrict, validateFatStructure } from './support/fat-validate.js';
import { fsconv, REPO_ROOT } from './support/fsconv.js';
import { readBootSector } from './support/in-place-support.js';
import { run, tryRun } from './support/run.js';
import { noteNotRun, runUnderVfatDriver } from './support/uml.js';
import { buildSmallTree } from './support/trees.js';

const MiB = 1024 * 1024;

let work: string;
let tree: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'fsconv-standard-'));
  tree = join(work, 'tree');
  buildSmallTree(tree);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const readBpb = readBootSector;

const ok = async (args: string[], what: string): Promise<string> => {
  const r = await fsconv(args, { timeoutMs: 120_000 });
  if (r.status !== 0) throw new Error(`${what}: exit ${r.status}: ${r.stderr}`);
  return r.stdout;
};

describe('new images as mkfs.fat makes them', () => {
  for (const [size, mib] of [['16M', 16], ['200M', 200], ['2G', 2048]] as const) {
    it(`${size}: mkfs.fat's FAT type and cluster size, standard boot sector fields`, async () => {
      const img = join(work, `new-${size}.img`);
      await ok(['--from', 'dir', '--to', 'vfat+rights', tree, '--output', img, '--size', size, '-q', '--tz', 'UTC'], `build ${size}`);
      const ref = join(work, `mkfs-${size}.img`);
      run('mkfs.fat', ['-C', ref, String(mib * 1024)]);
      const want = readBpb(ref);
      rmSync(ref);
      const got = readBpb(img);
      expect({ fatBits: got.fatBits, clusterSize: got.clusterSize }).toEqual({ fatBits: want.fatBits, clusterSize: want.clusterSize });
      expect(got.oem).toBe('MSWIN4.1');
      expect(got.drive).toBe(0x80);
      expect([got.spt, got.heads]).toEqual(mib < 512 ? [32, 64] : [63, 255]);
      if (got.fatBits !== 32) expect(got.rootEntries).toBe(512);
      validateFatStructure(img);
      rmSync(img);
    }, 120_000);
  }

  it('--root-entries sizes the FAT12/16 root (whole sectors); a value the BPB cannot hold is a usage error', async () => {
    const img = join(work, 'root.img');
    await ok(['--from', 'dir', '--to', 'vfat', tree, '--output', img, '--size', '16M', '--root-entries', '1000', '-q'], 'build');
    expect(readBpb(img).rootEntries).toBe(1008);
    validateFatStructure(img);
    for (const bad of ['7', '70000', '12.5']) {
      const r = await fsconv(['--from', 'dir', '--to', 'vfat', tree, '--output', join(work, 'bad.img'), '--size', '16M', '--root-entries', bad]);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/--root-entries must be a whole number from 16 to 65520/);
      expect(existsSync(join(work, 'bad.img'))).toBe(false);
    }
  });
});

describe('a FAT12/16 root that takes new files after an in-place conversion', () => {
  const converted: Array<{ img: string; fatBits: 12 | 16 }> = [];
  beforeAll(async () => {
    for (const [fatBits, blockSize, sizeBytes] of [[12, 4096, 8 * MiB], [16, 1024, 16 * MiB]] as const) {
      const img = makeExt2Image({ src: tree, out: join(work, `inplace-${fatBits}.img`), blockSize, inodeSize: 128, sizeBytes });
      const report = JSON.parse(await ok(['--from', 'ext2', '--to', 'vfat+rights', img, '--yes', '--json', '-q', '--tz', 'UTC', '--fat-bits', String(fatBits)], `convert FAT${fatBits}`)) as { fatBits: number; space: { rootEntries: number; rootEntriesFree: number } };
      expect(report.fatBits).toBe(fatBits);
      expect(report.space.rootEntries).toBe(512);
      expect(report.space.rootEntriesFree).toBeGreaterThanOrEqual(300);
      expect(readBpb(img).rootEntries).toBe(512);
      converted.push({ img, fatBits });
    }
  }, 120_000);

  it('300 new files copied into the root with mcopy all succeed; fsck.fat stays clean', () => {
    for (const { img } of converted) {
      const copy = `${img}.mtools`;
      copyFileSync(img, copy);
      const src = join(work, 'one.txt');
      writeFileSync(src, 'a new file\n');
      for (let i = 1; i <= 300; i++) {
        const r = tryRun('mcopy', ['-i', copy, src, `::/N${String(i).padStart(3, '0')}.TXT`], { env: { ...process.env, LC_ALL: 'C.UTF-8', TZ: 'UTC' } });
        if (r.status !== 0) throw new Error(`${img}: mcopy of new file ${i} failed: ${r.stderr.toString()}`);
      }
      expect(fsckFatStrict(copy).files).toBeGreaterThanOrEqual(300);
      rmSync(copy);
    }
  }, 120_000);

  it('300 new files written into the root through the Linux vfat driver all succeed; fsck.fat stays clean', () => {
    const job = join(work, 'write300.sh');
    writeFileSync(job, [
      'set -e',
      'for d in ubda ubdb; do',
      '  mkdir -p /tmp/m-$d && mount -t vfat -o utf8,shortname=mixed,tz=UTC /dev/$d /tmp/m-$d',
      '  i=1; while [ $i -le 300 ]; do echo "a new file" > /tmp/m-$d/K$(printf %03d $i).TXT; i=$((i+1)); done',
      '  ls /tmp/m-$d | wc -l',
      '  umount /tmp/m-$d',
      'done',
      'echo done-ok',
    ].join('\n'));
    const copies = converted.map(({ img }) => {
      const c = `${img}.kernel`;
      copyFileSync(img, c);
      return c;
    });
    const r = runUnderVfatDriver(job, copies);
    if (!r.ran) {
      noteNotRun('writing 300 files into the root', r.why);
      return;
    }
    expect(r.status, r.output).toBe(0);
    expect(r.output).toMatch(/done-ok/);
    for (const c of copies) {
      expect(fsckFatStrict(c).files).toBeGreaterThanOrEqual(300);
      const listing = run('mdir', ['-b', '-i', c, '::/'], { env: { ...process.env, LC_ALL: 'C.UTF-8' } }).stdout.toString();
      expect(listing.split('\n').filter((l) => /K\d{3}\.TXT/i.test(l))).toHaveLength(300);
      rmSync(c);
    }
  }, 300_000);
});

describe('a directory FAT cannot hold (more than 65536 slots)', () => {
  it('is the ordinary "Not feasible" verdict, naming it and its slots, and saying whether --to msdos would fit', async () => {
    const big = join(work, 'bigdir');
    mkdirSync(join(big, 'many'), { recursive: true });
    // 22000 long names of 3 slots each: 66002 slots with the dot entries; one slot each as 8.3 names.
    for (let i = 0; i < 22000; i++) writeFileSync(join(big, 'many', `a long file name number ${i}.txt`), '');
    const verdict = /the directory \/many needs \d{5} slots, more than the 65536 a FAT directory can hold \(with --to msdos, 8\.3 names only, it would take 22002 and fit\)/;
    const newImage = await fsconv(['check', '--from', 'dir', '--to', 'vfat+rights', big, '--output', join(work, 'big.img'), '--size', '200M', '-q']);
    expect(newImage.status, newImage.stderr).toBe(1);
    expect(newImage.stdout).toMatch(/^Not feasible\./);
    expect(newImage.stdout).toMatch(verdict);
    expect(existsSync(join(work, 'big.img'))).toBe(false);
    const msdos = await fsconv(['check', '--from', 'dir', '--to', 'msdos', big, '--output', join(work, 'big.img'), '--size', '200M', '-q']);
    expect(msdos.status, msdos.stderr).toBe(0);
    // In place, the same verdict from check and from convert (which writes nothing).
    const img = makeExt2Image({ src: big, out: join(work, 'bigdir.ext2'), blockSize: 4096, inodeSize: 128, sizeBytes: 200 * MiB, inodes: 23000 });
    const inPlace = await fsconv(['check', '--from', 'ext2', '--to', 'vfat+rights', img, '-q']);
    expect(inPlace.status, inPlace.stderr).toBe(1);
    expect(inPlace.stdout).toMatch(verdict);
    const convert = await fsconv(['--from', 'ext2', '--to', 'vfat+rights', img, '--yes', '-q']);
    expect(convert.status).toBe(1);
    expect(convert.stderr).toMatch(/not converted, nothing written: .*the directory \/many needs/);
    rmSync(big, { recursive: true, force: true });
  }, 180_000);
});
