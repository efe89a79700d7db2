// The in-place issue's acceptance: ext2 images converted to FAT on their own blocks, judged like new
// FAT images (fsck.fat strictly, blkid, wipefs, mtools bytes at the fatPath ls reports, js-fatfs,
// case duplicates, and for vfat+rights `ls --json` equal to the ext2's before on every field but ino
// and fatPath):
// 1. every test tree (small, the full foundation tree at 1 KiB blocks with its 64 MiB sparse file,
//    the FAT trap tree) at ext2 blocks of 1, 2 and 4 KiB, FAT12/16/32, clusters smaller, equal and
//    larger than the block, each target;
// 2. images filled to the limit `check` computes (binary search on one extra file): the largest
//    feasible converts and passes; one ext2 block more is not feasible, and convert refuses it;
//    Also: ext3 with a clean journal, revision 0, 64 KiB blocks, a filesystem smaller than its file,
//    converting a converted device again;
// 2b. bad blocks become bad clusters; one in the FAT's front region is refused (or avoided);
// 3. refusals write nothing: mounted (or attached to a loop device), unclean, unsupported,
//    inconsistent, not feasible, no --yes without a terminal, nothing to resume;
// 4. the e2fsprogs corpus: every clean supported image converts (its `ls --json` unchanged but for
//    ino and fatPath), every other one is refused.
// Refused images are compared byte for byte (sha256) before and after.
import { copyFileSync, lutimesSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as tick } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeExt2Image } from './support/ext2-image.js';
import { canonicalListing } from './support/fat-acceptance.js';
import { fsckFatStrict, validateFatStructure } from './support/fat-validate.js';
import { expectOneLineRefusal, fsconv, sha256File } from './support/fsconv.js';
import {
  BAD_CLUSTER, buildNamedTree, checkInPlace, convertAndValidate, expectRefusedUnchanged, fatEntry, inPlaceArgs, Mounts,
  readBootSector, type InPlaceCase, type InPlaceReport, type TreeName,
} from './support/in-place-support.js';
import { parseLsJsonLines } from './support/ls-entry.js';
import { unmount } from './support/reference-view.js';
import { RunError, run, runText, tryRun } from './support/run.js';
import { corpusImages, corpusPresent, corpusReference, noteCorpusAbsence, unpackCorpusImage } from './support/corpus.js';
import { prngBytes } from './support/trees.js';

const MiB = 1024 * 1024;

let work: string;
const mounts = new Mounts();
/** Read-only noatime views of the built trees. */
const trees = new Map<TreeName, string>();

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'fsconv-inplace-'));
  for (const name of ['small', 'full', 'traps'] as const) {
    const hostRoot = join(work, `tree-${name}`);
    buildNamedTree(name, hostRoot);
    trees.set(name, mounts.readOnlyView(hostRoot, join(work, `ro-${name}`)));
    await tick(0);
  }
});

afterAll(() => {
  mounts.release();
  rmSync(work, { recursive: true, force: true });
});

const imagePath = (name: string): string => join(work, `${name.replace(/[^\w.-]+/g, '_')}.img`);

/** An ext2 image of a tree (built through its read-only view), e2fsck-clean. */
function ext2Of(tree: TreeName, blockSize: 1024 | 2048 | 4096, sizeBytes: number, name: string): string {
  return makeExt2Image({
    src: trees.get(tree)!, out: imagePath(name), blockSize, sizeBytes, inodeSize: tree === 'traps' ? 256 : 128,
  });
}

// ---------------------------------------------------------------------------------------------
// 1. Every tree, block size, FAT type, cluster size relative to the block, target.

interface Conversion extends InPlaceCase {
  tree: TreeName;
  blockSize: 1024 | 2048 | 4096;
  size: number;
}

// A representative slice for CI; FSCONV_INPLACE_SWEEP=1 runs the wider matrix below.
const conversions: Conversion[] = [
  { tree: 'small', blockSize: 1024, size: 2 * MiB, target: 'vfat+rights' }, // the geometry check chooses
  { tree: 'small', blockSize: 2048, size: 12 * MiB, target: 'vfat', fatBits: 16, clusterSize: 2048 },
  { tree: 'small', blockSize: 4096, size: 16 * MiB, target: 'msdos', fatBits: 12, clusterSize: 16384 },
  { tree: 'full', blockSize: 1024, size: 80 * MiB, target: 'vfat+rights', fatBits: 32, clusterSize: 512 },
  { tree: 'full', blockSize: 1024, size: 100 * MiB, target: 'vfat+rights', fatBits: 16, clusterSize: 4096 },
  { tree: 'traps', blockSize: 4096, size: 24 * MiB, target: 'vfat+rights', fatBits: 16, clusterSize: 4096 },
  { tree: 'traps', blockSize: 4096, size: 4 * MiB, target: 'vfat+rights', fatBits: 12, clusterSize: 1024 },
  { tree: 'traps', blockSize: 2048, size: 48 * MiB, target: 'vfat', fatBits: 32, clusterSize: 512 },
  { tree: 'traps', blockSize: 1024, size: 6 * MiB, target: 'msdos', fatBits: 12, clusterSize: 2048 },
];

// FSCONV_INPLACE_SWEEP=1: every tree × ext2 block size (the full tree at 1 KiB) × FAT type × cluster
// size (the targets taking turns), the image sized for the FAT type; combinations check refuses must
// be refused by convert too, writing nothing.
const SWEEP = process.env['FSCONV_INPLACE_SWEEP'] !== undefined;
if (SWEEP) {
  conversions.length = 0;
  const minSize: Record<TreeName, number> = { small: 2 * MiB, traps: 6 * MiB, full: 80 * MiB };
  const targets = ['vfat+rights', 'vfat', 'msdos'] as const;
  let turn = 0;
  for (const tree of ['small', 'traps', 'full'] as const) {
    for (const blockSize of tree === 'full' ? [1024 as const] : [1024, 2048, 4096] as const) {
      for (const fatBits of [12, 16, 32] as const) {
        for (const clusterSize of [512, 2048, 8192, 32768]) {
          if (fatBits === 32 && clusterSize > 8192) continue; // 2 GiB and more: too slow for a sweep
          const [want, max] = fatBits === 12 ? [1000, 4000] : fatBits === 16 ? [5000, 64000] : [67000, Infinity];
          const size = Math.ceil(Math.max(minSize[tree], want * clusterSize) / 4096) * 4096;
          if (size > max * clusterSize) continue;
          conversions.push({ tree, blockSize, size, target: targets[turn++ % 3]!, fatBits, clusterSize });
        }
      }
    }
  }
}

const relation = (c: Conversion): string =>
  c.clusterSize === undefined ? 'clusters chosen by check' : `${c.clusterSize} B clusters (${c.clusterSize < c.blockSize ? '<' : c.clusterSize > c.blockSize ? '>' : '='} block)`;

describe('in-place conversions pass every FAT check', () => {
  for (const c of conversions) {
    const size = c.size % MiB === 0 ? `${c.size / MiB} MiB` : `${c.size / 1024} KiB`;
    const name = `${c.tree} at ${c.blockSize} B blocks, ${size} → ${c.target}${c.fatBits !== undefined ? ` FAT${c.fatBits}` : ''} ${relation(c)}`;
    it(name, async () => {
      const img = ext2Of(c.tree, c.blockSize, c.size, name);
      await tick(0);
      if (SWEEP) {
        const check = await checkInPlace(img, c);
        if (!check.feasible) {
          console.log(`${name}: not feasible: ${check.report.plan}`);
          const before = sha256File(img);
          expect((await fsconv([...inPlaceArgs(img, c), '--yes'], { timeoutMs: 300_000 })).status).toBe(1);
          expect(sha256File(img)).toBe(before);
          rmSync(img);
          return;
        }
      }
      const report = await convertAndValidate(img, c, trees.get(c.tree)!);
      // Left to itself, check prefers clusters of one ext2 block (then no file block is misaligned).
      if (c.clusterSize === undefined) expect(report.clusterSize).toBe(c.blockSize);
      if (SWEEP) console.log(`${name}: ${report.plan}`);
      rmSync(img);
    });
  }

  // Other ext2 flavours the reader accepts (the small tree).
  const mkfs = (name: string, args: string[], size: string): string => {
    const img = imagePath(name);
    run('mke2fs', ['-q', ...args, '-N', '64', '-d', trees.get('small')!, '-E', 'root_owner=0:0', '-F', img, size], { env: { LC_ALL: 'C' } });
    expect(tryRun('e2fsck', ['-fn', img]).status, `${name} must be e2fsck-clean`).toBe(0);
    return img;
  };
  it('ext3 with a clean journal (its blocks become free space)', async () => {
    const img = mkfs('ext3', ['-t', 'ext3', '-b', '1024', '-I', '128'], '8M');
    const journal = /^Total journal size:\s+(\d+)k$/m.exec(runText('dumpe2fs', ['-h', img]))?.[1];
    expect(journal).toBeDefined();
    const report = await convertAndValidate(img, { target: 'vfat+rights' }, trees.get('small')!);
    // The FAT uses about what the tree takes (under 200 KiB), not the ext3 journal's blocks.
    const used = fsckFatStrict(img).usedClusters * report.clusterSize!;
    expect(used).toBeLessThan(200 * 1024);
    expect(Number(journal) * 1024).toBeGreaterThan(used);
    rmSync(img);
  });
  it('revision 0 (a superblock copy in every group)', async () => {
    const img = mkfs('rev0', ['-t', 'ext2', '-r', '0', '-b', '1024'], '4M');
    await convertAndValidate(img, { target: 'vfat' }, trees.get('small')!);
    rmSync(img);
  });
  it('64 KiB blocks (clusters smaller than the block)', async () => {
    const img = mkfs('b64k', ['-t', 'ext2', '-b', '65536', '-I', '128'], '16M');
    await convertAndValidate(img, { target: 'vfat+rights' }, trees.get('small')!);
    rmSync(img);
  });
  it('a filesystem smaller than its image file: the bytes after it are not touched', async () => {
    const img = imagePath('smaller-than-file');
    writeFileSync(img, Buffer.alloc(10 * MiB, 0xa5));
    run('mke2fs', ['-q', '-t', 'ext2', '-b', '1024', '-I', '128', '-N', '64', '-d', trees.get('small')!, '-E', 'root_owner=0:0', '-F', img, '8M']);
    const tail = readFileSync(img).subarray(8 * MiB);
    expect(tail.every((b) => b === 0xa5)).toBe(true);
    await convertAndValidate(img, { target: 'vfat+rights' }, trees.get('small')!, { fsBytes: 8 * MiB });
    expect(readFileSync(img).subarray(8 * MiB).equals(tail)).toBe(true);
    rmSync(img);
  });

  it('a converted device is FAT: convert again says so and writes nothing; resume has nothing to do', async () => {
    const img = ext2Of('small', 1024, 2 * MiB, 'already-fat');
    await convertAndValidate(img, { target: 'vfat+rights' }, trees.get('small')!);
    const before = sha256File(img);
    const again = await fsconv([...inPlaceArgs(img, { target: 'vfat+rights' }), '--yes', '--json']);
    expect(again.status, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ alreadyFat: true, deviceWrites: 0 });
    await expectRefusedUnchanged(img, ['resume', img], /nothing to resume/);
    expect(sha256File(img)).toBe(before);
    rmSync(img);
  });
});

// ---------------------------------------------------------------------------------------------
// 2. Filled to the limit check computes.

interface Limit extends InPlaceCase {
  name: string;
  blockSize: 1024 | 2048 | 4096;
  size: number;
}

const limits: Limit[] = [
  { name: 'small tree + fill, 1 KiB blocks, 2 MiB, check chooses', blockSize: 1024, size: 2 * MiB, target: 'vfat+rights' },
  { name: 'small tree + fill, 2 KiB blocks, 6 MiB, msdos FAT12 8 KiB clusters (> block)', blockSize: 2048, size: 6 * MiB, target: 'msdos', fatBits: 12, clusterSize: 8192 },
];

describe('images filled to the limit check computes', () => {
  for (const l of limits) {
    it(l.name, async () => {
      // The small tree plus one file of n ext2 blocks of non-zero bytes (no holes), rebuilt with mke2fs -d.
      const dir = join(work, `limit-${l.blockSize}`);
      buildNamedTree('small', dir);
      const view = mounts.readOnlyView(dir, join(work, `limit-${l.blockSize}-ro`));
      const fill = join(dir, 'fill.bin');
      const maxBlocks = l.size / l.blockSize;
      const content = prngBytes(`fill@${l.blockSize}`, maxBlocks * l.blockSize);
      const img = imagePath(`limit-${l.blockSize}`);
      const inodes = 64;
      /** The image with a fill of n blocks, or null when mke2fs cannot fit it. */
      const build = (n: number): string | null => {
        writeFileSync(fill, content.subarray(0, n * l.blockSize));
        lutimesSync(fill, new Date(1_600_000_000_000), new Date(1_600_000_000_000));
        try {
          return makeExt2Image({ src: dir, out: img, blockSize: l.blockSize, sizeBytes: l.size, inodes, inodeSize: 128 });
        } catch (e) {
          if (e instanceof RunError && /mke2fs/.test(e.message)) return null;
          throw e;
        }
      };
      const feasible = async (n: number): Promise<boolean> => {
        const built = build(n);
        await tick(0);
        return built !== null && (await checkInPlace(built, l)).feasible;
      };
      // Binary search for a boundary: lo feasible, hi = lo + 1 not.
      let lo = 0;
      let hi = maxBlocks;
      expect(await feasible(lo), 'the tree without the fill must be feasible').toBe(true);
      expect(await feasible(hi)).toBe(false);
      while (hi - lo > 1) {
        const mid = (lo + hi) >>> 1;
        if (await feasible(mid)) lo = mid;
        else hi = mid;
      }
      expect(lo, 'the limit must leave room for a fill').toBeGreaterThan(0);

      // One ext2 block more: the ext2 holds it, but check says not feasible and convert refuses, writing nothing.
      expect(build(hi), `mke2fs cannot fit a fill of ${hi} blocks: the limit is the ext2's, not check's`).not.toBeNull();
      const over = await checkInPlace(img, l);
      expect(over.feasible).toBe(false);
      expect(over.result.status).toBe(1);
      expect(over.report.plan).toMatch(/missing/);
      const before = sha256File(img);
      const refused = await fsconv([...inPlaceArgs(img, l), '--yes'], { timeoutMs: 120_000 });
      expect(refused.status, refused.stderr).toBe(1);
      expect(sha256File(img)).toBe(before);

      // The largest feasible fill converts and passes every check.
      expect(build(lo)).not.toBeNull();
      const report: InPlaceReport = await convertAndValidate(img, l, view);
      // At the limit there is (almost) nothing to spare: one more block did not fit.
      console.log(`${l.name}: limit ${lo} blocks of fill; ${report.plan}`);
      expect(report.space!.spareBytes).toBeLessThanOrEqual(Math.max(l.blockSize, report.clusterSize!) * 4);
      rmSync(img);
    });
  }
});

// ---------------------------------------------------------------------------------------------
// 3. Refusals write nothing.

describe('refusals write nothing', () => {
  let base: string;
  beforeAll(() => {
    base = ext2Of('small', 1024, 2 * MiB, 'refusal-base');
  });
  const copy = (name: string): string => {
    const img = imagePath(name);
    copyFileSync(base, img);
    return img;
  };
  const convertArgs = (img: string): string[] => [...inPlaceArgs(img, { target: 'vfat+rights' }), '--yes'];

  it('a mounted image (read-only loop mount), through its file and through its loop device', async () => {
    const img = copy('mounted');
    const mnt = join(work, 'mnt');
    mkdirSync(mnt, { recursive: true });
    const before = sha256File(img);
    run('mount', ['-o', 'ro,loop', img, mnt]);
    try {
      await expectRefusedUnchanged(img, convertArgs(img), /mounted/);
      const loop = runText('findmnt', ['-n', '-o', 'SOURCE', mnt]).trim();
      expect(loop).toMatch(/^\/dev\/loop\d+$/);
      // The loop device itself is mounted: refused as well (a read-only loop: any write would fail anyway).
      const r = await fsconv([...inPlaceArgs(loop, { target: 'vfat+rights' }), '--yes']);
      expect(expectOneLineRefusal(r)).toMatch(/mounted/);
    } finally {
      unmount(mnt);
    }
    expect(sha256File(img)).toBe(before);
    rmSync(img);
  });

  it('an image attached to a loop device (not mounted)', async () => {
    const img = copy('attached');
    const loop = runText('losetup', ['--find', '--show', img]).trim();
    try {
      await expectRefusedUnchanged(img, convertArgs(img), /loop/);
    } finally {
      run('losetup', ['-d', loop]);
    }
    rmSync(img);
  });

  it('an unclean ext2 (state not clean, or errors) is refused, pointing at e2fsck', async () => {
    for (const state of [0, 3]) {
      const img = copy(`unclean-${state}`);
      run('debugfs', ['-w', '-R', `ssv state ${state}`, img]);
      await expectRefusedUnchanged(img, convertArgs(img), /e2fsck/);
      rmSync(img);
    }
  });

  it('unsupported filesystems (ext4 with bigalloc, ext4 with encrypt)', async () => {
    for (const [name, mkfs] of [['bigalloc', ['-t', 'ext4', '-O', 'bigalloc', '-C', '16384']], ['encrypt', ['-t', 'ext4', '-O', 'encrypt']]] as const) {
      const img = imagePath(`unsupported-${name}`);
      run('mke2fs', ['-q', ...mkfs, '-d', trees.get('small')!, '-F', img, '4M']);
      await expectRefusedUnchanged(img, convertArgs(img), /not supported/);
      await expectRefusedUnchanged(img, ['check', ...inPlaceArgs(img, { target: 'vfat+rights' })], /not supported/);
      rmSync(img);
    }
  });

  it('an inconsistent ext2 (a used block marked free)', async () => {
    const img = copy('inconsistent');
    const block = runText('debugfs', ['-R', 'bmap /random.bin 0', img]).trim();
    expect(block).toMatch(/^\d+$/);
    run('debugfs', ['-w', '-R', `freeb ${block}`, img]);
    expect(tryRun('e2fsck', ['-fn', img]).status).not.toBe(0);
    await expectRefusedUnchanged(img, convertArgs(img), new RegExp(`block ${block}`));
    rmSync(img);
  });

  it('no --yes without a terminal', async () => {
    const img = copy('no-yes');
    await expectRefusedUnchanged(img, inPlaceArgs(img, { target: 'vfat+rights' }), /--yes/);
    rmSync(img);
  });

  it('nothing to resume on an ext2', async () => {
    const img = copy('resume');
    await expectRefusedUnchanged(img, ['resume', img], /nothing to resume/);
    rmSync(img);
  });

  // Not feasible: a 4 GiB file (FAT holds 4 GiB − 1), and holes that do not fit (64 MiB of zeros in 16 MiB).
  const infeasible = [
    { name: 'a 4 GiB file', size: 4 * 1024 * MiB, blockSize: 4096 as const, imageSize: 8 * MiB },
    { name: 'a 40 MiB sparse file in a 16 MiB image', size: 40 * MiB, blockSize: 1024 as const, imageSize: 16 * MiB },
  ];
  const infeasibleImage = (f: (typeof infeasible)[number]): string => {
    const dir = join(work, `infeasible-${f.blockSize}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'a.txt'), 'a small file\n');
    writeFileSync(join(dir, 'sparse'), 'data at the start, then a hole\n');
    run('truncate', ['-s', String(f.size), join(dir, 'sparse')]);
    return makeExt2Image({ src: dir, out: imagePath(`infeasible-${f.blockSize}`), blockSize: f.blockSize, sizeBytes: f.imageSize, inodeSize: 128, inodes: 32 });
  };
  for (const f of infeasible) {
    it(`not feasible: ${f.name}: check says so (exit 1) and convert --yes refuses, writing nothing`, async () => {
      const img = infeasibleImage(f);
      const check = await checkInPlace(img, { target: 'vfat+rights' });
      expect(check.feasible).toBe(false);
      const before = sha256File(img);
      const r = await fsconv(convertArgs(img));
      expect(r.status, r.stderr).toBe(1);
      expect(`${r.stdout}${r.stderr}`).toMatch(/not feasible/i);
      expect(sha256File(img)).toBe(before);
      rmSync(img);
    });
  }
  it('not feasible: the refusal is one line on stderr, like every refusal (docs/cli.md: exit codes)', async () => {
    const img = infeasibleImage(infeasible[0]!);
    await expectRefusedUnchanged(img, convertArgs(img), /feasible/i);
    rmSync(img);
  });
});

// ---------------------------------------------------------------------------------------------
// Bad blocks (docs/in-place.md): they become bad clusters; one in the FAT's front region is refused.

describe('bad blocks', () => {
  /** The small tree in an ext2 of 1 KiB blocks whose bad-blocks inode lists `bad` (mke2fs -l). */
  const withBadBlocks = (name: string, sizeBytes: number, bad: number[]): string => {
    const img = imagePath(name);
    const list = `${img}.badblocks`;
    writeFileSync(list, bad.map((b) => `${b}\n`).join(''));
    run('mke2fs', ['-q', '-t', 'ext2', '-b', '1024', '-I', '128', '-N', '64', '-l', list, '-d', trees.get('small')!,
      '-E', 'root_owner=0:0', '-F', img, `${sizeBytes / 1024}k`], { env: { LC_ALL: 'C' } });
    rmSync(list);
    expect(tryRun('e2fsck', ['-fn', img]).status, `${name} must be e2fsck-clean`).toBe(0);
    expect(runText('dumpe2fs', ['-b', img]).trim().split('\n').map(Number)).toEqual(bad);
    return img;
  };
  const bad = [500, 501, 1500];

  for (const c of [{ target: 'vfat+rights' }, { target: 'vfat', fatBits: 16, clusterSize: 512 }, { target: 'msdos', fatBits: 12, clusterSize: 4096 }] as InPlaceCase[]) {
    it(`outside the front region they become bad clusters (${c.clusterSize ?? 'chosen'} B clusters)`, async () => {
      const img = withBadBlocks(`bad-${c.clusterSize ?? 'auto'}`, 3 * MiB, bad);
      const report = await convertAndValidate(img, c, trees.get('small')!);
      const g = readBootSector(img);
      const clusterOf = (byte: number): number => 2 + Math.floor((byte - g.dataStart) / g.clusterSize);
      // Every cluster that holds a byte of a bad block.
      const clusters = new Set(bad.flatMap((b) => {
        const out: number[] = [];
        for (let cl = clusterOf(b * 1024); cl <= clusterOf((b + 1) * 1024 - 1); cl++) out.push(cl);
        return out;
      }));
      expect(report.space!.badClusters).toBe(clusters.size);
      for (const cl of clusters) expect(fatEntry(img, cl), `cluster ${cl}`).toBe(BAD_CLUSTER[g.fatBits]);
      rmSync(img);
    });
  }

  it('in the front region of a forced geometry: check says not feasible, convert refuses in one line, nothing written', async () => {
    // FAT16 with 512-byte clusters on 3 MiB: boot sector, 4 reserved sectors and two 12 KiB FATs cover block 15.
    const img = withBadBlocks('bad-front-forced', 3 * MiB, [15]);
    const c: InPlaceCase = { target: 'vfat+rights', fatBits: 16, clusterSize: 512 };
    const check = await checkInPlace(img, c);
    expect(check.feasible).toBe(false);
    await expectRefusedUnchanged(img, [...inPlaceArgs(img, c), '--yes'], /bad block/);
    rmSync(img);
  });

  it('in the front region of the geometry check prefers: another geometry, or a clean refusal', async () => {
    // 80 MiB: check prefers FAT32 with 1 KiB clusters, whose FATs cover block 500; FAT16 with 2 KiB clusters
    // (a 160 KiB front region) does not.
    const img = withBadBlocks('bad-front-auto', 80 * MiB, [500]);
    const c: InPlaceCase = { target: 'vfat+rights' };
    const check = await checkInPlace(img, c);
    if (check.feasible) {
      await convertAndValidate(img, c, trees.get('small')!);
      expect(fatEntry(img, 2 + Math.floor((500 * 1024 - readBootSector(img).dataStart) / check.report.clusterSize!))).toBe(BAD_CLUSTER[check.report.fatBits as 12 | 16 | 32]);
    } else {
      await expectRefusedUnchanged(img, [...inPlaceArgs(img, c), '--yes'], /bad block/);
    }
    rmSync(img);
  });
});

// ---------------------------------------------------------------------------------------------
// 4. The e2fsprogs corpus.

noteCorpusAbsence('the in-place corpus tests');

describe.skipIf(!corpusPresent)('e2fsprogs corpus converted in place', () => {
  let dir: string;
  beforeAll(() => {
    dir = join(work, 'corpus');
    mkdirSync(dir);
  });
  const unpack = (file: string): string => unpackCorpusImage(file, dir);

  it('has images', () => expect(corpusImages.length).toBeGreaterThan(50));

  const converted: string[] = [];
  for (const file of corpusImages) {
    it(file, async () => {
      const img = unpack(file);
      const ref = corpusReference(img);
      // Clean for an in-place conversion: e2fsck finds nothing, the superblock says clean (an ext2
      // left "not clean" is refused, pointing at e2fsck, even when e2fsck -fn finds nothing), and
      // every feature is supported.
      const convertible = ref.clean && ref.stateClean && ref.supported;
      await tick(0);
      if (!convertible) {
        await expectRefusedUnchanged(img, [...inPlaceArgs(img, { target: 'vfat+rights' }), '--yes']);
        if (ref.clean && !ref.stateClean && ref.supported) {
          // e2fsck finds nothing but the superblock says "not clean" (f_hurd, f_special_ea): the refusal
          // advises e2fsck; once e2fsck has marked it clean, it converts like the others.
          const refusal = await fsconv([...inPlaceArgs(img, { target: 'vfat+rights' }), '--yes']);
          expect(refusal.stderr).toMatch(/e2fsck/);
          tryRun('e2fsck', ['-fy', img], { timeoutMs: 60_000 });
          const r = await fsconv([...inPlaceArgs(img, { target: 'vfat+rights' }), '--yes', '--json'], { timeoutMs: 300_000, heapMiB: 512 });
          expect(r.status, r.stderr).toBe(0);
          validateFatStructure(img);
          converted.push(`${file} (after e2fsck -fy)`);
        }
      } else {
        const before = await fsconv(['ls', '--json', img], { timeoutMs: 120_000 });
        expect(before.status, before.stderr).toBe(0);
        const r = await fsconv([...inPlaceArgs(img, { target: 'vfat+rights' }), '--yes', '--json'], { timeoutMs: 300_000, heapMiB: 512 });
        expect(r.status, r.stderr).toBe(0);
        validateFatStructure(img);
        const after = await fsconv(['ls', '--json', '--tz', 'UTC', img], { timeoutMs: 120_000 });
        expect(after.status, after.stderr).toBe(0);
        expect(canonicalListing(parseLsJsonLines(after.stdout))).toEqual(canonicalListing(parseLsJsonLines(before.stdout)));
        converted.push(file);
      }
      rmSync(img);
    });
  }

  it('converted the clean supported images (at least eight)', () => {
    console.log(`converted in place: ${converted.join(', ')}`);
    expect(converted.length).toBeGreaterThanOrEqual(8);
  });
});
