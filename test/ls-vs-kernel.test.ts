// The foundation's acceptance: images built at test time with mke2fs -d from generated trees
// (every trap of the ext2 format), and for every entry of every image, `fsconv ls --json` equals
// the kernel's view (read-only loop mount; debugfs where the kernel cannot mount, e.g. 64 KiB
// blocks), and every file's bytes read through the reader's extents equal the kernel's bytes.
import { createHash } from 'node:crypto';
import { setTimeout as tick } from 'node:timers/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Device } from '../packages/device/src/index.js';
import { Ext2Volume, maxMappableBlocks, walkTree, type Extent } from '../packages/ext2fs-reader/src/index.js';
import { makeExt2Image, type Ext2ImageOptions } from './support/ext2-image.js';
import { fsconv } from './support/fsconv.js';
import { parseLsJsonLines, sortEntries } from './support/ls-entry.js';
import { referenceView } from './support/reference-view.js';
import { buildTree, type TreeFacts } from './support/trees.js';

interface Variant {
  name: string;
  image: Omit<Ext2ImageOptions, 'src' | 'out'>;
}

const variants: Variant[] = [
  { name: '1 KiB blocks, 128-byte inodes', image: { blockSize: 1024, inodeSize: 128 } },
  { name: '2 KiB blocks, 256-byte inodes', image: { blockSize: 2048, inodeSize: 256 } },
  { name: '4 KiB blocks, 256-byte inodes', image: { blockSize: 4096, inodeSize: 256 } },
  { name: '64 KiB blocks', image: { blockSize: 65536, inodeSize: 256 } },
  { name: 'revision 0', image: { blockSize: 1024, rev0: true } },
  { name: 'without filetype', image: { blockSize: 4096, inodeSize: 128, noFiletype: true } },
  { name: 'htree directories (e2fsck -fyD)', image: { blockSize: 1024, inodeSize: 256, htree: true } },
];

let work: string;
const trees = new Map<string, TreeFacts>();
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'fsconv-kernel-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function treeFor(blockSize: number, inodeSize: 128 | 256): TreeFacts {
  const key = `${blockSize}-${inodeSize}`;
  let t = trees.get(key);
  if (t === undefined) {
    t = buildTree(join(work, `tree-${key}`), { blockSize, inodeSize });
    trees.set(key, t);
  }
  return t;
}

/** sha256 of a file's bytes as the reader sees them: extents in order, holes as zeros. */
function hashThroughExtents(vol: Ext2Volume, size: number, extents: Extent[]): string {
  const h = createHash('sha256');
  const zeros = new Uint8Array(1 << 20);
  const bs = vol.blockSize;
  let pos = 0;
  const zeroUntil = (end: number): void => {
    while (pos < end) {
      const n = Math.min(zeros.length, end - pos);
      h.update(zeros.subarray(0, n));
      pos += n;
    }
  };
  for (const e of extents) {
    zeroUntil(Math.min(e.logical * bs, size));
    for (let i = 0; i < e.length; i += 256) {
      const count = Math.min(256, e.length - i);
      const end = Math.min((e.logical + i + count) * bs, size);
      if (end <= pos) break;
      const bytes = vol.readBlocks(e.physical + i, count).subarray(0, end - pos);
      h.update(bytes);
      pos = end;
    }
  }
  zeroUntil(size);
  return h.digest('hex');
}

describe('ls --json equals the kernel view, file data equals the kernel bytes', () => {
  for (const v of variants) {
    it(v.name, async () => {
      const inodeSize = v.image.rev0 ? 128 : (v.image.inodeSize ?? 256);
      const facts = treeFor(v.image.blockSize, inodeSize);
      const img = makeExt2Image({ ...v.image, src: facts.root, out: join(work, `${v.name.replace(/\W+/g, '_')}.img`) });
      await tick(0);
      const ref = referenceView(img);
      await tick(0);
      if (v.image.blockSize <= 4096 && process.getuid?.() === 0) {
        // As root the kernel must be the reference wherever it can mount the image.
        expect(ref.source, ref.kernelError).toBe('kernel');
      }

      const ls = await fsconv(['ls', '--json', img], { timeoutMs: 120_000 });
      expect(ls.status, ls.stderr).toBe(0);
      const ours = sortEntries(parseLsJsonLines(ls.stdout));
      expect(ours.length).toBe(ref.entries.length);
      expect(ours).toEqual(ref.entries);

      // The traps are really in the image (a broken tree builder must not pass silently).
      const paths = new Set(ours.map((e) => e.path));
      for (const p of facts.paths) expect(paths.has(p), p).toBe(true);
      expect(ours.filter((e) => e.path.startsWith(`${facts.manyDir}/`)).length).toBe(facts.manyCount);
      expect(facts.manyCount).toBe(2000);

      // File data through the reader's extents equals the kernel's bytes.
      const dev = Device.open(img);
      try {
        const vol = Ext2Volume.open(dev);
        const p = vol.blockSize / 4;
        let checked = 0;
        let reachedTind = false;
        let indexedDirs = 0;
        walkTree(vol, {
          entry(e) {
            if ((e.inode.flags & 0x1000) !== 0) indexedDirs++;
            if ((e.inode.mode & 0o170000) !== 0o100000) return;
            const extents = vol.fileExtents(e.inode);
            const last = extents[extents.length - 1];
            if (last && last.logical + last.length > 12 + p + p * p) reachedTind = true;
            expect(hashThroughExtents(vol, e.inode.size, extents), e.path).toBe(ref.fileSha256.get(e.path));
            checked++;
          },
        });
        expect(checked).toBe(ref.fileSha256.size);
        if (v.image.htree) expect(indexedDirs, 'directories with an htree index').toBeGreaterThan(0);
        if (facts.tindFile !== undefined) expect(reachedTind, 'a file reaching the triple indirect level').toBe(true);
        expect(maxMappableBlocks(vol.blockSize)).toBeGreaterThan(12 + p + p * p);
      } finally {
        dev.close();
      }
      rmSync(img);
    });
  }
});
