// Uninitialised groups (gdt_csum/uninit_bg and metadata_csum): mke2fs leaves the bitmaps of
// BLOCK_UNINIT and INODE_UNINIT groups, the inode tables of INODE_UNINIT groups and the last
// itable_unused inodes of every group unwritten (lazy_itable_init), so on a real drive they hold
// whatever the drive held before. The kernel and e2fsck go by the flags and never read them; so must
// fsconv. Here every such block is filled with noise: e2fsck -fn must stay clean, `ls` must not
// change, and the in-place conversion must pass every FAT check.
import { createHash } from 'node:crypto';
import { closeSync, copyFileSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { e2fsckCheck } from './support/ext2-image.js';
import { assertFatAcceptance } from './support/fat-acceptance.js';
import { fsconv } from './support/fsconv.js';
import { parseLsJsonLines } from './support/ls-entry.js';
import { unmount } from './support/reference-view.js';
import { run } from './support/run.js';
import { buildSmallTree } from './support/trees.js';

const BIG = { timeoutMs: 300_000, heapMiB: 512 };
let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'fsconv-ext4-uninit-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface GroupFacts {
  group: number;
  flags: string[];
  blockBitmap: number;
  inodeBitmap: number;
  inodeTable: [number, number];
  unusedInodes: number;
}

/** The groups as dumpe2fs prints them (the judge of where things are). */
function dumpGroups(img: string): { groups: GroupFacts[]; inodesPerGroup: number; inodeSize: number; blockSize: number } {
  const text = run('dumpe2fs', [img], { env: { ...process.env, LC_ALL: 'C' } }).stdout.toString();
  const num = (re: RegExp): number => Number(re.exec(text)![1]);
  const groups: GroupFacts[] = [];
  for (const part of text.split(/^(?=Group \d+:)/m).slice(1)) {
    groups.push({
      group: Number(/^Group (\d+):/.exec(part)![1]),
      flags: (/\[([^\]]*)\]/.exec(part.split('\n')[0]!)?.[1] ?? '').split(',').map((s) => s.trim()).filter((s) => s !== ''),
      blockBitmap: Number(/Block bitmap at (\d+)/.exec(part)![1]),
      inodeBitmap: Number(/Inode bitmap at (\d+)/.exec(part)![1]),
      inodeTable: /Inode table at (\d+)-(\d+)/.exec(part)!.slice(1, 3).map(Number) as [number, number],
      unusedInodes: Number(/(\d+) unused inodes/.exec(part)?.[1] ?? 0),
    });
  }
  return { groups, inodesPerGroup: num(/^Inodes per group:\s+(\d+)/m), inodeSize: num(/^Inode size:\s+(\d+)/m), blockSize: num(/^Block size:\s+(\d+)/m) };
}

function noiseBlock(seed: string, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let o = 0, i = 0; o < length; i++) o += createHash('sha256').update(`${seed}:${i}`).digest().copy(out, o);
  return out;
}

describe('uninitialised groups hold garbage, read by the flags as the kernel does', () => {
  for (const [name, features] of [['metadata_csum (mke2fs defaults)', []], ['uninit_bg (older installers)', ['-O', '^metadata_csum,uninit_bg']]] as const) {
    it(`ext4 with ${name}: noise in every unwritten bitmap and inode table block changes nothing`, async () => {
      const tree = join(work, `tree-${features.length}`);
      buildSmallTree(tree);
      const img = join(work, `uninit-${features.length}.img`);
      run('mke2fs', ['-q', '-t', 'ext4', ...features, '-b', '1024', '-d', tree, '-F', img, '48M'], { env: { ...process.env, LC_ALL: 'C' } });
      const before = await fsconv(['ls', '--json', '--tz', 'UTC', img], BIG);
      expect(before.status, before.stderr).toBe(0);

      const { groups, inodesPerGroup, inodeSize, blockSize } = dumpGroups(img);
      const fd = openSync(img, 'r+');
      let blocks = 0;
      const scribble = (block: number): void => {
        writeSync(fd, noiseBlock(`${name}/${block}`, blockSize), 0, blockSize, block * blockSize);
        blocks++;
      };
      let blockUninit = 0;
      let inodeUninit = 0;
      for (const g of groups) {
        if (g.flags.includes('BLOCK_UNINIT')) {
          blockUninit++;
          scribble(g.blockBitmap);
        }
        if (g.flags.includes('INODE_UNINIT')) {
          inodeUninit++;
          scribble(g.inodeBitmap);
        }
        // The inode table blocks wholly inside the unused area (all of them with INODE_UNINIT).
        const usedInodes = g.flags.includes('INODE_UNINIT') ? 0 : inodesPerGroup - g.unusedInodes;
        const firstUnusedBlock = g.inodeTable[0] + Math.ceil((usedInodes * inodeSize) / blockSize);
        for (let b = firstUnusedBlock; b <= g.inodeTable[1]; b++) scribble(b);
      }
      closeSync(fd);
      expect(blockUninit, 'groups with BLOCK_UNINIT').toBeGreaterThan(0);
      expect(inodeUninit, 'groups with INODE_UNINIT').toBeGreaterThan(0);
      expect(blocks).toBeGreaterThan(10);
      const fsck = e2fsckCheck(img);
      expect(fsck.status, `e2fsck -fn ignores the garbage too: ${fsck.output}`).toBe(0);

      const after = await fsconv(['ls', '--json', '--tz', 'UTC', img], BIG);
      expect(after.status, after.stderr).toBe(0);
      expect(after.stdout).toBe(before.stdout);
      const check = await fsconv(['check', '--from', 'ext4', '--to', 'vfat+rights', img], BIG);
      expect(check.status, check.stderr).toBe(0);

      const converted = join(work, `uninit-${features.length}-converted.img`);
      copyFileSync(img, converted);
      const conv = await fsconv(['--from', 'ext4', '--to', 'vfat+rights', converted, '--yes', '--json', '--tz', 'UTC'], BIG);
      expect(conv.status, conv.stderr).toBe(0);
      const report = JSON.parse(conv.stdout) as { renames: Array<{ path: string; fatName: string; reason: string }> };
      const hostRoot = join(work, `uninit-${features.length}-host`);
      mkdirSync(hostRoot);
      run('mount', ['-o', 'loop,ro,noatime', img, hostRoot]);
      try {
        await assertFatAcceptance({ img: converted, partitionOffset: 0, target: 'vfat+rights', hostRoot, sourceListing: parseLsJsonLines(after.stdout), report, fromExt2: true });
      } finally {
        unmount(hostRoot);
      }
    }, 300_000);
  }
});
