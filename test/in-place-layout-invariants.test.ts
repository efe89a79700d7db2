// The in-place layout's invariants (issue 12, item 6), on real ext2 images (mke2fs -d) converted in
// memory through a recording device:
// - before the commit point, every write lands in clusters the plan may use: free in the ext2, past
//   the FAT's front region, not bad; no byte is written twice (no two contents in one cluster);
// - the plan and the staging agree: the clusters staged are the plan's new clusters plus its
//   journal, and the journal lies where the plan put it;
// - after the commit the FAT holds exactly the clusters the conversion says it used, and reads back.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, linkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ext2Source, Ext2Volume } from '../packages/ext2fs-reader/src/index.js';
import { FatVolume, fatInPlaceExporter, type FatInPlaceOptions } from '../packages/fat/src/index.js';
import { MemoryStorage } from '../packages/device/src/index.js';
import { convertInPlace, planInPlace } from '../packages/core/src/index.js';
import { validateFatStructure } from './support/fat-validate.js';

/** A device in memory that keeps where each write went, and its first bytes. */
class RecordingStorage extends MemoryStorage {
  readonly writes: Array<{ offset: number; length: number; head: Uint8Array }> = [];
  override writeAt(data: Uint8Array, position: number): void {
    super.writeAt(data, position);
    this.writes.push({ offset: position, length: data.length, head: data.slice(0, 16) });
  }
}

const MARKER = new TextEncoder().encode('FSCONV-IN-PLACE\0');

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'fsconv-layout-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A tree with what moves and what stays: files of many sizes, a sparse one, hard links, a deep directory, symlinks. */
function tree(dir: string): void {
  mkdirSync(join(dir, 'a/b/c'), { recursive: true });
  for (let i = 0; i < 40; i++) writeFileSync(join(dir, 'a', `f${i}`), Buffer.alloc(i * 1537 + 1, i));
  writeFileSync(join(dir, 'a/b/c/big'), Buffer.alloc(3 << 20, 7));
  linkSync(join(dir, 'a/f3'), join(dir, 'a/b/hard-f3'));
  symlinkSync('../f1', join(dir, 'a/b/up'));
  symlinkSync('x'.repeat(300), join(dir, 'long-link'));
  const sparse = join(dir, 'sparse');
  writeFileSync(sparse, '');
  spawnSync('truncate', ['-s', '2M', sparse]);
  writeFileSync(sparse, 'end', { flag: 'a' });
}

function image(name: string, blockSize: number, mib: number): Uint8Array {
  const src = join(work, `${name}-tree`);
  mkdirSync(src);
  tree(src);
  const img = join(work, `${name}.img`);
  const r = spawnSync('mke2fs', ['-q', '-t', 'ext2', '-b', String(blockSize), '-d', src, '-F', img, `${mib}M`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mke2fs failed (needs e2fsprogs): ${r.stderr}`);
  return new Uint8Array(readFileSync(img));
}

/** Which ext2 blocks are free, from the original's bitmaps. */
function freeBlocks(bytes: Uint8Array): { blockSize: number; free: (block: number) => boolean } {
  const vol = Ext2Volume.open(new RecordingStorage(bytes.slice()));
  const bs = vol.blockSize;
  const perGroup = vol.sb.blocksPerGroup;
  const maps: Uint8Array[] = [];
  for (let g = 0; g < vol.groups.count; g++) {
    const m = new Uint8Array(bs);
    vol.readBlocksInto(m, vol.groups.blockBitmap[g]!);
    maps.push(m);
  }
  return {
    blockSize: bs,
    free: (block) => {
      const rel = block - vol.sb.firstDataBlock;
      if (rel < 0) return false;
      const m = maps[Math.floor(rel / perGroup)];
      const i = rel % perGroup;
      return m !== undefined && (m[i >> 3]! & (1 << (i & 7))) === 0;
    },
  };
}

describe('in-place layout invariants', () => {
  for (const { name, blockSize, mib, opts } of [
    { name: 'FAT16 on 1 KiB blocks', blockSize: 1024, mib: 16, opts: {} },
    { name: 'FAT12 on 4 KiB blocks', blockSize: 4096, mib: 12, opts: { fatBits: 12 as const } },
    { name: 'FAT32, clusters smaller than the blocks', blockSize: 4096, mib: 40, opts: { fatBits: 32 as const, clusterSize: 512 } },
  ]) {
    it(name, () => {
      const original = image(name.replace(/\W+/g, '-'), blockSize, mib);
      const { free } = freeBlocks(original);
      const dev = new RecordingStorage(original.slice());
      const options: FatInPlaceOptions = { target: 'vfat+rights', tz: 'UTC', ...opts };
      const exporter = fatInPlaceExporter(options);
      const src = new Ext2Source(Ext2Volume.open(dev));
      const plan = planInPlace(src, exporter);
      expect(plan.feasible, plan.summary).toBe(true);
      const g = plan.geometry!.fat;
      const a = plan.accounting!;
      const cs = g.clusterSize;
      const dataStart = g.dataStartSector * g.bytesPerSector;
      const result = convertInPlace(dev, src, exporter, plan);
      // The commit point: the marker's write over the superblock's magic.
      const commit = dev.writes.findIndex((w) => w.offset === 1024 && MARKER.every((b, i) => w.head[i] === b));
      expect(commit).toBeGreaterThan(0);
      const staging = dev.writes.slice(0, commit);
      // Before the commit point: only clusters past the front region, in blocks the ext2 has free, each byte once.
      const written = new Set<number>();
      const clusters = new Set<number>();
      for (const w of staging) {
        expect(w.offset, `a staging write at byte ${w.offset} inside the front region`).toBeGreaterThanOrEqual(dataStart);
        for (let b = Math.floor(w.offset / blockSize); b * blockSize < w.offset + w.length; b++) {
          expect(free(b), `a staging write at byte ${w.offset} into ext2 block ${b}, which the ext2 uses`).toBe(true);
        }
        for (let c = Math.floor((w.offset - dataStart) / cs); c * cs < w.offset + w.length - dataStart; c++) clusters.add(c + 2);
        for (let s = w.offset; s < w.offset + w.length; s += 512) {
          expect(written.has(s), `byte ${s} staged twice`).toBe(false);
          written.add(s);
        }
      }
      // The plan and the staging agree: new content plus the journal, the journal where planned.
      const journal = new Set(Array.from({ length: a.journalUnits }, (_, i) => a.journalFirstUnit + i));
      for (const c of journal) expect(clusters.has(c), `journal cluster ${c} not written`).toBe(true);
      expect(clusters.size - journal.size).toBe(a.newUnits);
      expect(a.missingUnits).toBe(0);
      // After the commit: the FAT allocates what the conversion used, and reads back.
      // Judged by fsck.fat (strictly), blkid and wipefs too, not only by our reader.
      const file = join(work, `${name.replace(/\W+/g, '-')}.fat`);
      writeFileSync(file, dev.bytes);
      validateFatStructure(file);
      const fat = FatVolume.open(dev);
      expect(fat.clusterCount - fat.freeClusters()).toBe(result.unitsUsed);
      let entries = 0;
      fat.walk(() => entries++);
      expect(entries).toBeGreaterThan(45);
    }, 60_000);
  }
});
