// The FAT issue's acceptance checks on one finished FAT image, shared by the tests that build new
// FAT images (test/fat-build.test.ts) and those that convert ext2 images in place: fsck.fat
// (strictly), blkid, wipefs, `fsconv ls --json` of the image, a case-duplicate check, for
// vfat+rights the listing equal to the source's on every field but ino and fatPath (and names FAT
// can hold kept exactly), every source entry at the FAT path the report's renames give, mtools
// extraction byte for byte with nothing extra but rights files, and js-fatfs listing the same
// tree with the same sizes.
//
// Nothing here reads the source ext2 image: for an in-place conversion it is the result. The
// expected content comes from the host tree the image was built from (read through a read-only
// mount) and from the source listing the caller took before converting.
import { lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as tick } from 'node:timers/promises';
import { expect } from 'vitest';
import {
  caseInsensitiveDuplicates, compareExtractedWithSource, jsFatfsList, mtoolsExtract, validateFatStructure,
} from './fat-validate.js';
import { fsconv } from './fsconv.js';
import { decodeName, parseLsJsonLines, type LsEntry } from './ls-entry.js';

export type FatTarget = 'vfat+rights' | 'vfat' | 'msdos';

export interface AcceptanceInput {
  /** The FAT image (or MBR disk image). */
  img: string;
  /** 0, or 1 MiB for MBR disks. */
  partitionOffset: number;
  target: FatTarget;
  /** The source tree as it was converted: read through a read-only noatime mount (never the writable host path). */
  hostRoot: string;
  /** The source `ls --json` entries to compare with (vfat+rights): from `fsconv ls --json ext2.img` or directoryView(dir).entries. */
  sourceListing: LsEntry[];
  /** The conversion report (fsconv --json output): its renames drive the path mapping. */
  report: { renames: Array<{ path: string; fatName: string; reason: string }> };
  /** True when the source was an ext2 image (its lost+found is expected in the result). */
  fromExt2: boolean;
}

export interface HostEntry {
  type: 'dir' | 'file' | 'symlink' | 'special';
  bytes: Uint8Array;
}

/** Host entries by their decoded '/'-rooted path (the path `ls` shows); raw names that decode alike share a key. */
export function hostEntries(root: string): Map<string, HostEntry[]> {
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

/** An entry without ino (set to 0) and fatPath: what must survive a vfat+rights round trip. */
export const stripIdentity = (e: LsEntry): LsEntry => {
  const { ino: _ino, fatPath: _fatPath, ...rest } = e;
  return { ...rest, ino: 0 } as LsEntry;
};

/** Names that decode alike (caf\xe8, caf\xe9) share a path: an order-free form keyed by every field. */
export const canonicalListing = (l: readonly LsEntry[]): string[] =>
  l.map((e) => JSON.stringify(stripIdentity(e), Object.keys(stripIdentity(e)).sort())).sort();

const RIGHTS_FILE_SUFFIX = '/$#%right.$#@';

/** The mount options of the mount whose mount point is exactly `dir`, or undefined when `dir` is no mount point. */
function mountOptionsAt(dir: string): string[] | undefined {
  const real = realpathSync(dir);
  const unescape = (s: string): string => s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
  let found: string[] | undefined;
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    // The last mount on a mount point is the one visible there.
    if (f.length > 5 && unescape(f[4]!) === real) found = f[5]!.split(',');
  }
  return found;
}

/** Runs every check of the FAT issue on one image; throws (with vitest expect) on the first failure. */
export async function assertFatAcceptance(input: AcceptanceInput): Promise<void> {
  const { img, partitionOffset: offset, target, hostRoot, sourceListing, report, fromExt2 } = input;

  // The expected content is read through a read-only mount: reading it must not change it (atimes).
  expect(mountOptionsAt(hostRoot), `${hostRoot} must be a read-only (bind) mount point`).toContain('ro');

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
  if (target === 'vfat+rights') {
    expect(canonicalListing(listing)).toEqual(canonicalListing(sourceListing));
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
  const host = hostEntries(hostRoot); // through the noatime mount: reading must not change atimes
  // mke2fs adds lost+found, which the host tree does not have.
  if (fromExt2) host.set('/lost+found', [{ type: 'dir', bytes: new Uint8Array(0) }]);
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
  const stored = (e: HostEntry): boolean => e.type !== 'special' || target === 'vfat+rights';
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
  const out = mkdtempSync(join(tmpdir(), 'fsconv-fat-extract-'));
  try {
    mtoolsExtract(img, out, offset);
    const cmp = compareExtractedWithSource(out, expected);
    expect(cmp.missing).toEqual([]);
    expect(cmp.different).toEqual([]);
    const ambiguousFatPaths = new Set(fatPaths.filter((p) => !expectedPaths.has(p)).map(mtoolsName));
    const extra = cmp.extra.filter((p) => !(target === 'vfat+rights' && p.endsWith(RIGHTS_FILE_SUFFIX)) && !ambiguousFatPaths.has(p));
    expect(extra).toEqual([]);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  await tick(0);

  // js-fatfs, a second independent reader, lists the same tree (rights files aside).
  const fatfs = await jsFatfsList(img, offset);
  const fatfsPaths = fatfs.map((e) => e.path).filter((p) => !p.endsWith(RIGHTS_FILE_SUFFIX)).sort();
  expect(fatfsPaths).toEqual([...fatPaths].sort());
  const sizeOf = new Map(fatfs.map((e) => [e.path, e.size]));
  for (const e of listing) if (e.type === 'file') expect(sizeOf.get((e as LsEntry & { fatPath: string }).fatPath), e.path).toBe(e.size);
}
