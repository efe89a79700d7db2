// Crash safety proven in process (issue 12, item 5; test/support/crash-states.ts): one recorded
// in-place conversion per image, then every crash state rebuilt in memory from its write log (kill
// after each write; power loss: the durable writes plus subsets and reorderings of those since the
// last flush; torn multi-sector writes) and finished by the real resume or convert code, with no
// process per state. A state that still reads as ext2 must hold the original ext2 exactly; every
// finished device must be byte-identical to the uninterrupted run. CI runs a slice (fewer power-loss
// subsets, and only some of the states that are still ext2 converted again: every one of them is
// checked to hold the ext2 exactly); `npm run crash-sweep` (FSCONV_CRASH_STATES=full) runs more of
// them and prints `crash states: N checked, M failed`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sweep, type ConvertOptions, type SweepResult } from './support/crash-states.js';
import { makeExt2Image } from './support/ext2-image.js';
import { buildFatTrapTree } from './support/fat-trees.js';
import { run } from './support/run.js';
import { buildSmallTree } from './support/trees.js';

const FULL = process.env['FSCONV_CRASH_STATES'] === 'full';

type Slice = { subsetsPerPoint: number; tornPerWrite: number; stride: number; convertEvery: number; seed: number };
interface Spec {
  name: string; tree: 'small' | 'traps'; blockSize: 1024 | 4096; inodeSize: 128 | 256; sizeBytes?: number; opts: Partial<ConvertOptions>;
  /** An ext4 (mke2fs -t ext4 with these -O edits) instead of an ext2. */
  ext4Features?: string[];
  /** In partition 1 (at 1 MiB) of a disk image with this table, its type changed by the commit. */
  disk?: 'dos' | 'gpt';
  /** CI's slice and the full sweep's (a 34 MiB image costs a copy per state, and a conversion per ext2 state finished). */
  ci: Slice; full: Slice; minStates: number;
}
const IMAGES: Spec[] = [
  {
    name: 'FAT16, 1 KiB blocks', tree: 'small', blockSize: 1024, inodeSize: 128, opts: {},
    ci: { subsetsPerPoint: 6, tornPerWrite: 3, stride: 1, convertEvery: 3, seed: 1 },
    full: { subsetsPerPoint: 24, tornPerWrite: 8, stride: 1, convertEvery: 1, seed: 1 }, minStates: 1000,
  },
  {
    name: 'FAT12, 4 KiB blocks, a root of traps', tree: 'traps', blockSize: 4096, inodeSize: 256, opts: {},
    ci: { subsetsPerPoint: 4, tornPerWrite: 3, stride: 1, convertEvery: 8, seed: 2 },
    full: { subsetsPerPoint: 24, tornPerWrite: 8, stride: 1, convertEvery: 2, seed: 2 }, minStates: 1000,
  },
  {
    name: 'FAT32, 512-byte clusters on 4 KiB blocks', tree: 'small', blockSize: 4096, inodeSize: 128, sizeBytes: 34 << 20, opts: { fatBits: 32 },
    ci: { subsetsPerPoint: 2, tornPerWrite: 2, stride: 1, convertEvery: 20, seed: 3 },
    full: { subsetsPerPoint: 12, tornPerWrite: 6, stride: 1, convertEvery: 4, seed: 3 }, minStates: 1000,
  },
  {
    // Fewer writes than the ext2 images (its small files are inline: no blocks to move, fewer runs), so fewer distinct states.
    name: "FAT16 from mke2fs's default ext4 (journal, extents, flex_bg, 64bit, metadata_csum, uninitialised groups) with inline_data, 1 KiB blocks", tree: 'small', blockSize: 1024, inodeSize: 256,
    sizeBytes: 16 << 20, opts: {}, ext4Features: ['inline_data'],
    ci: { subsetsPerPoint: 4, tornPerWrite: 4, stride: 1, convertEvery: 6, seed: 5 },
    full: { subsetsPerPoint: 24, tornPerWrite: 8, stride: 1, convertEvery: 1, seed: 5 }, minStates: 900,
  },
  {
    name: 'FAT16 in partition 1 of a GPT disk (the type in both copies)', tree: 'small', blockSize: 1024, inodeSize: 128, opts: {}, disk: 'gpt',
    ci: { subsetsPerPoint: 4, tornPerWrite: 2, stride: 1, convertEvery: 6, seed: 4 },
    full: { subsetsPerPoint: 24, tornPerWrite: 8, stride: 1, convertEvery: 1, seed: 4 }, minStates: 1000,
  },
];

const MiB = 1024 * 1024;
/** A 40 MiB disk image with partition 1 (32 MiB at 1 MiB, Linux type) holding the ext2 of `tree`. */
function diskImage(tree: string, scheme: 'dos' | 'gpt', out: string, blockSize: number): string {
  run('truncate', ['-s', String(40 * MiB), out]);
  run('sfdisk', ['-q', out], { input: `label: ${scheme}\nstart=2048, size=${(32 * MiB) / 512}, type=${scheme === 'dos' ? '83' : '0FC63DAF-8483-4772-8E79-3D69D8477DE4'}\n` });
  run('mke2fs', ['-q', '-t', 'ext2', '-b', String(blockSize), '-I', '128', '-d', tree, '-E', `offset=${MiB}`, '-F', out, `${(32 * MiB) / 1024}k`]);
  return out;
}

let work: string;
const totals: SweepResult[] = [];
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'fsconv-crash-states-'));
});
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
  if (totals.length === IMAGES.length) {
    const checked = totals.reduce((n, r) => n + r.checked, 0);
    const failed = totals.reduce((n, r) => n + r.failed.length, 0);
    console.log(`crash states: ${checked} checked, ${failed} failed`);
  }
});

describe('every crash state of an in-place conversion, in process', () => {
  for (const spec of IMAGES) {
    it(spec.name, async () => {
      const tree = join(work, `tree-${spec.name.replace(/\W+/g, '-')}`);
      if (spec.tree === 'small') buildSmallTree(tree);
      else buildFatTrapTree(tree);
      const out = join(work, `${spec.name.replace(/\W+/g, '-')}.img`);
      const img = spec.disk !== undefined ? diskImage(tree, spec.disk, out, spec.blockSize) : makeExt2Image({
        src: tree, out, blockSize: spec.blockSize, inodeSize: spec.inodeSize,
        ...(spec.sizeBytes !== undefined && { sizeBytes: spec.sizeBytes }),
        ...(spec.ext4Features !== undefined && { fsType: 'ext4' as const, features: spec.ext4Features }),
      });
      const opts: ConvertOptions = { target: 'vfat+rights', tz: 'UTC', ...spec.opts };
      const t0 = Date.now();
      const r = await sweep(img, opts, FULL ? spec.full : spec.ci, { partition: spec.disk !== undefined });
      totals.push(r);
      console.log(`${spec.name}: ${r.writes} writes; ${r.checked} crash states checked (${r.ext2Intact} still ext2 and intact, ` +
        `${r.converted} finished by converting again, ${r.resumed} by resume; ${r.e2fscked} of the ext2 ones also by e2fsck -fn), ${r.failed.length} failed; ${((Date.now() - t0) / 1000).toFixed(1)} s` +
        r.failed.slice(0, 5).map((f) => `\n  FAILED ${f}`).join(''));
      expect(r.failed).toEqual([]);
      // The sweep reached past the commit point and states before it, and enough of them.
      expect(r.resumed).toBeGreaterThan(5);
      expect(r.converted).toBeGreaterThan(5);
      expect(r.e2fscked).toBeGreaterThan(0);
      expect(r.checked).toBeGreaterThan(spec.minStates);
    }, 600_000);
  }
});
