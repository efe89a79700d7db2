// A FAT volume as a source (issue 12, item 3): the trap tree (names) and the small tree (owners,
// modes, times, symlinks, a hard link, a FIFO, a device, a sparse file) in an ext2 (mke2fs -d),
// converted in place to FAT16 with rights files, are rebuilt with `--from vfat+rights --output` into new images of
// another FAT type (FAT12 on the same size, FAT32 on a larger one). Each rebuilt image passes every
// FAT acceptance check (fsck.fat strictly, blkid, wipefs, mtools bytes, a second reader) and its
// `ls` equals the original ext2's on every field but ino and fatPath: every Unix attribute went
// through FAT and came back. Records FAT changed since are FAT's word, with a warning, as in `ls`.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertFatAcceptance, canonicalListing } from './support/fat-acceptance.js';
import { expectOneLineRefusal, fsconv } from './support/fsconv.js';
import { Mounts, buildNamedTree, type TreeName } from './support/in-place-support.js';
import { parseLsJsonLines, type LsEntry } from './support/ls-entry.js';
import { run } from './support/run.js';

const BIG = { timeoutMs: 300_000, heapMiB: 512 };
const mounts = new Mounts();
let work: string;

/** A tree in an ext2 converted in place to FAT16 with rights files: its view, both listings. */
interface Converted {
  hostRoot: string;
  converted: string;
  ext2Listing: LsEntry[];
  fatListing: LsEntry[];
}
const sources = new Map<TreeName, Converted>();

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'fsconv-rebuild-'));
  for (const name of ['traps', 'small'] as const) {
    const tree = join(work, `${name}-tree`);
    mkdirSync(tree);
    buildNamedTree(name, tree);
    const hostRoot = mounts.readOnlyView(tree, join(work, `${name}-view`));
    const img = join(work, `${name}.img`);
    run('mke2fs', ['-q', '-t', 'ext2', '-b', '1024', '-d', hostRoot, '-F', img, '24M'], { env: { ...process.env, LC_ALL: 'C' } });
    const ls = await fsconv(['ls', '--json', '--tz', 'UTC', img], BIG);
    expect(ls.status, ls.stderr).toBe(0);
    const converted = join(work, `${name}-converted.img`);
    copyFileSync(img, converted);
    const r = await fsconv(['--from', 'ext2', '--to', 'vfat+rights', converted, '--yes', '-q', '--tz', 'UTC', '--fat-bits', '16'], BIG);
    expect(r.status, r.stderr).toBe(0);
    const after = await fsconv(['ls', '--json', '--tz', 'UTC', converted], BIG);
    expect(after.status, after.stderr).toBe(0);
    sources.set(name, { hostRoot, converted, ext2Listing: parseLsJsonLines(ls.stdout), fatListing: parseLsJsonLines(after.stdout) });
  }
}, 300_000);
afterAll(() => {
  mounts.release();
  rmSync(work, { recursive: true, force: true });
});

interface BuildReport {
  feasible: boolean;
  fatBits: number;
  clusterSize: number;
  renames: Array<{ path: string; fatName: string; reason: string }>;
  losses: Array<{ path: string; what: string }>;
}

describe('a converted FAT volume rebuilt through the FAT+rights importer', () => {
  it('the in-place conversions kept everything (the premise)', () => {
    for (const [name, s] of sources) {
      expect(canonicalListing(s.fatListing), name).toEqual(canonicalListing(s.ext2Listing));
      expect(s.ext2Listing.length, name).toBeGreaterThan(10);
    }
    const kinds = new Set(sources.get('small')!.ext2Listing.map((e) => e.type));
    expect([...kinds].sort()).toEqual(['char', 'dir', 'fifo', 'file', 'symlink']);
  });

  for (const c of [
    { tree: 'traps' as const, name: 'FAT12 on the same size', args: ['--fat-bits', '12'], fatBits: 12 },
    { tree: 'traps' as const, name: 'FAT32 with 512-byte clusters on 40 MiB', args: ['--fat-bits', '32', '--cluster-size', '512', '--size', '40M'], fatBits: 32 },
    { tree: 'small' as const, name: 'FAT12 on the same size', args: ['--fat-bits', '12'], fatBits: 12 },
  ]) {
    it(`the ${c.tree} tree into ${c.name}: fsck.fat strict, mtools bytes, and ls equal to the original ext2's`, async () => {
      const { converted, hostRoot, ext2Listing } = sources.get(c.tree)!;
      const out = join(work, `rebuilt-${c.tree}-${c.fatBits}.img`);
      const r = await fsconv(['--from', 'vfat+rights', '--to', 'vfat+rights', converted, '--output', out, '--tz', 'UTC', '--json', ...c.args], BIG);
      expect(r.status, r.stderr).toBe(0);
      // Every record was trusted: nothing was said about any.
      expect(r.stderr).not.toMatch(/warning/);
      const report = JSON.parse(r.stdout) as BuildReport;
      expect(report.feasible).toBe(true);
      expect(report.fatBits).toBe(c.fatBits);
      // The rights file keeps everything: only what FAT's own entries cannot hold is listed, never an attribute lost.
      expect(report.losses.filter((l) => /not kept/.test(l.what))).toEqual([]);
      await assertFatAcceptance({ img: out, partitionOffset: 0, target: 'vfat+rights', hostRoot, sourceListing: ext2Listing, report, fromExt2: true });
    }, 300_000);
  }

  it('a record FAT changed since is FAT\'s word in the rebuild, with the warning ls gives', async () => {
    const { converted, ext2Listing, fatListing } = sources.get('small')!;
    const used = join(work, 'used.img');
    copyFileSync(converted, used);
    // A file rewritten on FAT (mtools): its record no longer matches its entry.
    const victim = ext2Listing.find((e) => e.type === 'file' && (e.size ?? 0) > 0 && e.nlink === 1 && /^\/[A-Za-z0-9_.-]+$/.test(e.path));
    expect(victim, 'the trap tree has a plain top-level file').toBeDefined();
    const fatPath = (fatListing.find((e) => e.path === victim!.path) as LsEntry & { fatPath: string }).fatPath;
    const content = join(work, 'new-content');
    run('sh', ['-c', `printf 'rewritten on FAT\\n' > '${content}'`]);
    run('mcopy', ['-o', '-i', used, content, `::${fatPath}`], { env: { ...process.env, MTOOLS_SKIP_CHECK: '1', TZ: 'UTC' } });
    const out = join(work, 'rebuilt-used.img');
    const r = await fsconv(['--from', 'vfat+rights', '--to', 'vfat+rights', used, '--output', out, '--tz', 'UTC', '-q'], BIG);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`warning: ${victim!.path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: changed on FAT since its conversion`));
    const ls = parseLsJsonLines((await fsconv(['ls', '--json', '--tz', 'UTC', out], BIG)).stdout);
    const rebuilt = ls.find((e) => e.path === victim!.path)!;
    expect(rebuilt.size).toBe('rewritten on FAT\n'.length);
    // What FAT cannot hold is still the record's: owner and permissions.
    expect({ uid: rebuilt.uid, gid: rebuilt.gid }).toEqual({ uid: victim!.uid, gid: victim!.gid });
  }, 300_000);

  it('refuses in place and a source that is not FAT, in one line', async () => {
    const { converted } = sources.get('traps')!;
    const inPlace = await fsconv(['--from', 'vfat+rights', '--to', 'vfat+rights', converted, '--yes']);
    expect(inPlace.status).toBe(2);
    expect(inPlace.stderr).toMatch(/--from vfat\+rights: only with --output/);
    const notFat = join(work, 'zeros.img');
    run('truncate', ['-s', '4M', notFat]);
    const line = expectOneLineRefusal(await fsconv(['--from', 'vfat+rights', '--to', 'vfat+rights', notFat, '--output', join(work, 'never.img')]));
    expect(line).toMatch(/zeros\.img holds no FAT volume/);
  });
});
