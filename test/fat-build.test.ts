// The FAT issue's acceptance: new FAT images built from ext2 images and from directories, for
// trees holding every trap (the foundation's and the FAT naming traps), × targets × FAT types ×
// cluster sizes, judged by independent tools: fsck.fat (strictly), blkid, wipefs, mtools (bytes
// at the fatPath ls reports, nothing else but rights files), js-fatfs, a case-duplicate check,
// and for vfat+rights `ls --json` equal to the source's on every field but ino and fatPath.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as tick } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeExt2Image } from './support/ext2-image.js';
import { buildFatTrapTree } from './support/fat-trees.js';
import { assertFatAcceptance } from './support/fat-acceptance.js';
import { fsconv, sha256File } from './support/fsconv.js';
import { parseLsJsonLines, type LsEntry } from './support/ls-entry.js';
import { directoryView, unmount } from './support/reference-view.js';
import { run } from './support/run.js';
import { buildSmallTree, buildTree } from './support/trees.js';

type TreeName = 'small' | 'full' | 'traps';
interface Build {
  tree: TreeName;
  from: 'ext2' | 'dir';
  target: 'vfat+rights' | 'vfat' | 'msdos';
  fatBits: 12 | 16 | 32;
  clusterSize: number;
  size: string;
  mbr?: boolean;
  twice?: boolean;
}

// A representative slice for CI (the wider sweep is tools/sweep-fat-builds, run by hand).
const builds: Build[] = [
  { tree: 'small', from: 'ext2', target: 'vfat+rights', fatBits: 12, clusterSize: 512, size: '2M' },
  { tree: 'small', from: 'ext2', target: 'vfat', fatBits: 12, clusterSize: 2048, size: '4M' },
  { tree: 'small', from: 'ext2', target: 'msdos', fatBits: 16, clusterSize: 512, size: '8M' },
  { tree: 'full', from: 'ext2', target: 'vfat+rights', fatBits: 16, clusterSize: 2048, size: '100M', twice: true },
  { tree: 'full', from: 'ext2', target: 'vfat+rights', fatBits: 32, clusterSize: 4096, size: '300M' },
  { tree: 'full', from: 'ext2', target: 'vfat+rights', fatBits: 32, clusterSize: 512, size: '90M' },
  { tree: 'traps', from: 'ext2', target: 'vfat+rights', fatBits: 16, clusterSize: 1024, size: '32M' },
  { tree: 'traps', from: 'ext2', target: 'vfat', fatBits: 32, clusterSize: 512, size: '40M' },
  { tree: 'traps', from: 'ext2', target: 'msdos', fatBits: 12, clusterSize: 4096, size: '15M' },
  { tree: 'traps', from: 'dir', target: 'vfat+rights', fatBits: 32, clusterSize: 1024, size: '80M', mbr: true, twice: true },
  { tree: 'full', from: 'dir', target: 'vfat+rights', fatBits: 16, clusterSize: 4096, size: '200M' },
  { tree: 'small', from: 'dir', target: 'vfat', fatBits: 12, clusterSize: 1024, size: '4M' },
];

// tools/sweep-fat-builds.sh: every tree × source × target × FAT type × cluster size that fits.
if (process.env['FSCONV_SWEEP']) {
  builds.length = 0;
  const sizes: Record<TreeName, Record<12 | 16 | 32, string>> = {
    small: { 12: '2M', 16: '40M', 32: '300M' }, traps: { 12: '15M', 16: '60M', 32: '300M' }, full: { 12: '', 16: '120M', 32: '300M' },
  };
  for (const tree of ['small', 'traps', 'full'] as const)
    for (const from of ['ext2', 'dir'] as const)
      for (const target of ['vfat+rights', 'vfat', 'msdos'] as const)
        for (const fatBits of [12, 16, 32] as const)
          for (const clusterSize of [512, 2048, 8192, 32768]) {
            const size = sizes[tree][fatBits];
            if (size === '') continue;
            builds.push({ tree, from, target, fatBits, clusterSize, size, twice: clusterSize === 2048 });
          }
}

let work: string;
const trees = new Map<TreeName, { hostRoot: string; roMount: string; image: string }>();
const mounts: string[] = [];

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'fsconv-fatbuild-'));
  for (const name of ['small', 'full', 'traps'] as const) {
    const hostRoot = join(work, `tree-${name}`);
    if (name === 'small') buildSmallTree(hostRoot);
    else if (name === 'full') buildTree(hostRoot, { blockSize: 1024, inodeSize: 128 });
    else buildFatTrapTree(hostRoot);
    // Read the tree through a read-only, noatime bind mount: reading it must not change it.
    const roMount = join(work, `ro-${name}`);
    mkdirSync(roMount);
    run('mount', ['--bind', hostRoot, roMount]);
    mounts.push(roMount);
    run('mount', ['-o', 'remount,bind,ro,noatime', roMount]);
    const image = makeExt2Image({ src: roMount, out: join(work, `${name}.ext2`), blockSize: name === 'traps' ? 4096 : 1024, inodeSize: name === 'full' ? 128 : 256 });
    trees.set(name, { hostRoot, roMount, image });
    await tick(0);
  }
});

afterAll(() => {
  for (const m of mounts) {
    try {
      unmount(m);
    } catch {
      /* reported by the test that needed it */
    }
  }
  rmSync(work, { recursive: true, force: true });
});

interface Report {
  feasible: boolean;
  fatBits: number;
  clusterSize: number;
  renames: Array<{ path: string; fatName: string; reason: string }>;
}

function convertArgs(b: Build, out: string): string[] {
  const t = trees.get(b.tree)!;
  const source = b.from === 'ext2' ? t.image : t.roMount;
  return ['--from', b.from, '--to', b.target, source, '--output', out, '--size', b.size, '--fat-bits', String(b.fatBits),
    '--cluster-size', String(b.clusterSize), '--tz', 'UTC', '--json', ...(b.mbr ? ['--partition-table', 'mbr'] : [])];
}

async function convert(b: Build, out: string): Promise<Report> {
  const r = await fsconv(convertArgs(b, out), { timeoutMs: 300_000, heapMiB: 512 });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Report;
}

describe('new FAT images pass every independent check', () => {
  for (const b of builds) {
    const name = `${b.from}:${b.tree} → ${b.target} FAT${b.fatBits} ${b.clusterSize} B clusters${b.mbr ? ' in an MBR disk' : ''}`;
    it(name, async () => {
      const t = trees.get(b.tree)!;
      const img = join(work, `${name.replace(/\W+/g, '_')}.img`);
      if (process.env['FSCONV_SWEEP']) {
        // The sweep tries combinations that cannot exist: check must say so, and convert must agree.
        const check = await fsconv(['check', ...convertArgs(b, img)]);
        if (check.status === 1) {
          expect((JSON.parse(check.stdout) as Report).feasible).toBe(false);
          expect((await fsconv(convertArgs(b, img))).status).toBe(1);
          expect(existsSync(img)).toBe(false);
          return;
        }
      }
      const report = await convert(b, img);
      expect(report.feasible).toBe(true);
      expect(report.fatBits).toBe(b.fatBits);
      expect(report.clusterSize).toBe(b.clusterSize);
      const offset = b.mbr ? 1 << 20 : 0;
      await tick(0);

      // vfat+rights compares with the source's listing, taken here: the module never reads the source image.
      let sourceListing: LsEntry[] = [];
      if (b.target === 'vfat+rights') {
        if (b.from === 'ext2') {
          const src = await fsconv(['ls', '--json', t.image]);
          expect(src.status, src.stderr).toBe(0);
          sourceListing = parseLsJsonLines(src.stdout);
        } else sourceListing = directoryView(t.roMount).entries;
      }
      await assertFatAcceptance({
        img, partitionOffset: offset, target: b.target, hostRoot: t.roMount, sourceListing, report, fromExt2: b.from === 'ext2',
      });

      // The same input gives the same bytes.
      if (b.twice) {
        const again = `${img}.again`;
        await convert(b, again);
        expect(sha256File(again)).toBe(sha256File(img));
        rmSync(again);
      }
      rmSync(img);
    });
  }

  it('a size check refuses is refused by the build too, and nothing is written', async () => {
    const t = trees.get('full')!;
    const out = join(work, 'too-small.img');
    const args = ['--from', 'ext2', '--to', 'vfat+rights', t.image, '--output', out, '--size', '8M'];
    const check = await fsconv(['check', ...args]);
    expect(check.status).toBe(1);
    expect(check.stdout).toMatch(/Not feasible/);
    expect(check.stdout).toMatch(/missing/);
    const build = await fsconv(args);
    expect(build.status).toBe(1);
    expect(existsSync(out)).toBe(false);
  });
});
