// The FAT issue's acceptance: new FAT images built from ext2 images and from directories, for
// trees holding every trap (the foundation's and the FAT naming traps), × targets × FAT types ×
// cluster sizes, judged by independent tools: fsck.fat (strictly), blkid, wipefs, mtools (bytes
// at the fatPath ls reports, nothing else but rights files), js-fatfs, a case-duplicate check,
// and for vfat+rights `ls --json` equal to the source's on every field but ino and fatPath.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, lstatSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as tick } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeExt2Image } from './support/ext2-image.js';
import { buildFatTrapTree } from './support/fat-trees.js';
import {
  caseInsensitiveDuplicates, compareExtractedWithSource, jsFatfsList, mtoolsExtract, validateFatStructure,
} from './support/fat-validate.js';
import { fsconv, sha256File } from './support/fsconv.js';
import { decodeName, parseLsJsonLines, sortEntries, type LsEntry } from './support/ls-entry.js';
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

interface HostEntry {
  type: 'dir' | 'file' | 'symlink' | 'special';
  bytes: Uint8Array;
}
/** Host entries by their decoded '/'-rooted path (the path `ls` shows); raw names that decode alike share a key. */
function hostEntries(root: string): Map<string, HostEntry[]> {
  const out = new Map<string, HostEntry[]>();
  const add = (path: string, e: HostEntry): void => {
    out.set(path, [...(out.get(path) ?? []), e]);
  };
  const walk = (dir: Buffer, shown: string): void => {
    for (const name of readdirSync(dir, { encoding: 'buffer' })) {
      const full = Buffer.concat([dir, Buffer.from('/'), name]);
      const path = `${shown === '/' ? '' : shown}/${decodeName(name)}`;
      const st = lstatSync(full);
      if (st.isDirectory()) {
        add(path, { type: 'dir', bytes: new Uint8Array(0) });
        walk(full, path);
      } else if (st.isFile()) add(path, { type: 'file', bytes: readFileSync(full) });
      else if (st.isSymbolicLink()) add(path, { type: 'symlink', bytes: readlinkSync(full, { encoding: 'buffer' }) });
      else add(path, { type: 'special', bytes: new Uint8Array(0) });
    }
  };
  walk(Buffer.from(root), '/');
  return out;
}

const nonBmp = (s: string): boolean => /[\u{10000}-\u{10ffff}]/u.test(s);
const strip = (e: LsEntry): LsEntry => {
  const { ino: _ino, fatPath: _fatPath, ...rest } = e as LsEntry & { fatPath?: string };
  return { ...rest, ino: 0 } as LsEntry;
};

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

      // fsck.fat strictly clean, blkid says vfat, wipefs sees nothing else.
      validateFatStructure(img, offset);

      // What fsconv says is on it.
      // ls finds the FAT partition of an MBR disk image by itself.
      const r = await fsconv(['ls', '--json', '--tz', 'UTC', img]);
      expect(r.status, r.stderr).toBe(0);
      const listing = parseLsJsonLines(r.stdout);
      const fatPathOf = new Map(listing.map((e) => [e.path, (e as LsEntry & { fatPath: string }).fatPath]));
      const fatPaths = listing.map((e) => (e as LsEntry & { fatPath: string }).fatPath);

      // No two names in one directory equal without case (nothing else catches it).
      expect(caseInsensitiveDuplicates(fatPaths)).toEqual([]);

      // vfat+rights: the listing equals the source's on every field but ino and fatPath.
      if (b.target === 'vfat+rights') {
        const source = b.from === 'ext2'
          ? parseLsJsonLines((await fsconv(['ls', '--json', t.image])).stdout)
          : directoryView(t.roMount).entries;
        // Names that decode alike (caf\xe8, caf\xe9) share a path: order by every field.
        const canon = (l: LsEntry[]): string[] => l.map((e) => JSON.stringify(strip(e), Object.keys(strip(e)).sort())).sort();
        expect(canon(listing)).toEqual(canon(source));
        // Names FAT can hold are kept exactly.
        const renamed = new Set(report.renames.map((r) => r.path));
        for (const e of listing) {
          const fp = fatPathOf.get(e.path)!;
          const last = (p: string) => p.slice(p.lastIndexOf('/') + 1);
          if (!renamed.has(e.path)) expect(last(fp), e.path).toBe(last(e.path));
        }
      }
      await tick(0);

      // Where every source entry went: the report's renames, component by component.
      const host = hostEntries(t.roMount); // through the noatime mount: reading must not change atimes
      // mke2fs adds lost+found, which the host tree does not have.
      if (b.from === 'ext2') host.set('/lost+found', [{ type: 'dir', bytes: new Uint8Array(0) }]);
      const renamedTo = new Map<string, string[]>();
      for (const r of report.renames) renamedTo.set(r.path, [...(renamedTo.get(r.path) ?? []), r.fatName]);
      const memo = new Map<string, string | null>();
      const fatOfOriginal = (orig: string): string | null => {
        if (memo.has(orig)) return memo.get(orig)!;
        const cut = orig.lastIndexOf('/');
        const parent = cut === 0 ? '' : fatOfOriginal(orig.slice(0, cut));
        const names = renamedTo.get(orig);
        const ambiguous = (host.get(orig)?.length ?? 0) > 1 || (names !== undefined && names.length > 1);
        const result = parent === null || ambiguous ? null : `${parent}/${names?.[0] ?? orig.slice(cut + 1)}`;
        memo.set(orig, result);
        return result;
      };
      const stored = (e: HostEntry): boolean => e.type !== 'special' || b.target === 'vfat+rights';
      const expectedPaths = new Set<string>();
      for (const [orig, list] of host) {
        if (!list.some(stored)) continue;
        const fp = fatOfOriginal(orig);
        if (fp !== null) expectedPaths.add(fp);
      }
      // Every unambiguous source entry is listed at the FAT path the renames say, and only those.
      const ambiguousCount = [...host.values()].filter((l) => l.length > 1).reduce((n, l) => n + l.length, 0);
      expect(fatPaths.filter((p) => expectedPaths.has(p)).length).toBe(expectedPaths.size);
      expect(fatPaths.length).toBe(expectedPaths.size + ambiguousCount + [...host.keys()].filter((k) => fatOfOriginal(k) === null && (host.get(k)?.length ?? 0) === 1 && host.get(k)!.some(stored)).length);

      // mtools extracts every file with identical bytes at its fatPath, and nothing else but rights files.
      const mtoolsName = (p: string): string => p.replace(/[\u{10000}-\u{10ffff}]/gu, '__');
      const expected = new Map<string, Uint8Array>();
      const tolerated = new Set<string>();
      for (const [orig, list] of host) {
        const fp = fatOfOriginal(orig);
        for (const e of list) {
          if (e.type === 'dir' || !stored(e)) continue;
          if (fp === null) tolerated.add(orig); // ambiguous: only counted above
          else expected.set(mtoolsName(fp), e.bytes);
        }
      }
      const out = join(work, 'extract');
      rmSync(out, { recursive: true, force: true });
      mtoolsExtract(img, out, offset);
      const cmp = compareExtractedWithSource(out, expected);
      expect(cmp.missing).toEqual([]);
      expect(cmp.different).toEqual([]);
      const ambiguousFatPaths = new Set(fatPaths.filter((p) => !expectedPaths.has(p)).map(mtoolsName));
      const extra = cmp.extra.filter((p) => !(b.target === 'vfat+rights' && p.endsWith('/$#%right.$#@')) && !ambiguousFatPaths.has(p));
      expect(extra).toEqual([]);
      rmSync(out, { recursive: true, force: true });
      await tick(0);

      // js-fatfs, a second independent reader, lists the same tree (rights files aside).
      const fatfs = await jsFatfsList(img, offset);
      const fatfsPaths = fatfs.map((e) => e.path).filter((p) => !p.endsWith('/$#%right.$#@')).sort();
      expect(fatfsPaths).toEqual([...fatPaths].sort());
      const sizeOf = new Map(fatfs.map((e) => [e.path, e.size]));
      for (const e of listing) if (e.type === 'file') expect(sizeOf.get((e as LsEntry & { fatPath: string }).fatPath), e.path).toBe(e.size);

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
