// Support for the in-place acceptance test (test/in-place.test.ts): the test trees behind read-only
// noatime bind mounts, ext2 images built from them, `fsconv check`/`convert --yes` on an image
// file, and the two verdicts every case ends in: converted (and then judged by
// assertFatAcceptance, like a new FAT image) or refused with the image byte-identical.
import { closeSync, mkdirSync, openSync, readSync, rmdirSync, statSync } from 'node:fs';
import { setTimeout as tick } from 'node:timers/promises';
import { expect } from 'vitest';
import { assertFatAcceptance, type FatTarget } from './fat-acceptance.js';
import { buildFatTrapTree } from './fat-trees.js';
import { expectOneLineRefusal, fsconv, sha256File, type FsconvResult } from './fsconv.js';
import { parseLsJsonLines, type LsEntry } from './ls-entry.js';
import { unmount } from './reference-view.js';
import { run } from './run.js';
import { buildSmallTree, buildTree } from './trees.js';

export type TreeName = 'small' | 'full' | 'traps';

/** Builds one of the test trees at `dir` (the full tree with its 1 KiB-block facts: a 64 MiB sparse file). */
export function buildNamedTree(name: TreeName, dir: string): void {
  if (name === 'small') buildSmallTree(dir);
  else if (name === 'full') buildTree(dir, { blockSize: 1024, inodeSize: 128 });
  else buildFatTrapTree(dir);
}

/** Read-only noatime bind mounts, undone in reverse order by `release`. */
export class Mounts {
  private readonly points: string[] = [];

  /** A read-only noatime bind mount of `src` at `dir` (created). */
  readOnlyView(src: string, dir: string): string {
    mkdirSync(dir, { recursive: true });
    run('mount', ['--bind', src, dir]);
    this.points.push(dir);
    run('mount', ['-o', 'remount,bind,ro,noatime', dir]);
    return dir;
  }

  release(): void {
    for (const dir of this.points.splice(0).reverse()) {
      try {
        unmount(dir);
        rmdirSync(dir);
      } catch {
        /* reported by the test that needed it */
      }
    }
  }
}

/** What `check --json` and `convert --yes --json` print in place (the fields the tests read). */
export interface InPlaceReport {
  device: string;
  inPlace: boolean;
  target: FatTarget;
  feasible: boolean;
  resumed: boolean;
  plan: string | null;
  fatBits: number | null;
  clusterSize: number | null;
  candidates: Array<{ fatBits: number; clusterSize: number; feasible: boolean; reasons: string[] }>;
  space: null | {
    filesystemBytes: number; frontRegionBytes: number; fatBytes: number; fileDataBytes: number; bytesInPlace: number;
    bytesMoved: number; bytesDuplicated: number; bytesHoles: number; directoryBytes: number; rightsFileBytes: number;
    symlinkBytes: number; journalBytes: number; stagingRoomBytes: number; spareBytes: number; badClusters: number;
  };
  renames: Array<{ path: string; fatName: string; reason: string }>;
  duplicates: Array<{ path: string; of: string }>;
  losses: Array<{ path: string; what: string }>;
  deviceWrites: number;
  bytesWritten: number;
  entries: number | null;
}

export interface InPlaceCase {
  target: FatTarget;
  fatBits?: 12 | 16 | 32;
  clusterSize?: number;
}

/** The in-place command line for an image (without check/--yes/--json). */
export function inPlaceArgs(img: string, c: InPlaceCase): string[] {
  return ['--from', 'ext2', '--to', c.target, img, '--tz', 'UTC',
    ...(c.fatBits !== undefined ? ['--fat-bits', String(c.fatBits)] : []),
    ...(c.clusterSize !== undefined ? ['--cluster-size', String(c.clusterSize)] : [])];
}

const BIG = { timeoutMs: 300_000, heapMiB: 512 };

/** `fsconv check --json`: exit 0 with feasible true, or exit 1 with feasible false; never writes. */
export async function checkInPlace(img: string, c: InPlaceCase): Promise<{ feasible: boolean; report: InPlaceReport; result: FsconvResult }> {
  const before = sha256File(img);
  const r = await fsconv(['check', ...inPlaceArgs(img, c), '--json'], BIG);
  expect(sha256File(img), 'check must not write').toBe(before);
  expect([0, 1], `check exited ${r.status}: ${r.stderr}`).toContain(r.status);
  let report: InPlaceReport;
  try {
    report = JSON.parse(r.stdout) as InPlaceReport;
  } catch {
    throw new Error(`check exited ${r.status} without a JSON report:\nstdout: ${r.stdout.slice(0, 2000)}\nstderr: ${r.stderr}`);
  }
  expect(report.inPlace).toBe(true);
  expect(report.feasible, report.plan ?? '').toBe(r.status === 0);
  expect(report.deviceWrites).toBe(0);
  return { feasible: r.status === 0, report, result: r };
}

/**
 * Converts `img` in place after checking it, and runs every FAT acceptance check on the result.
 * `hostRoot` is the read-only mount of the tree the image was built from. Returns the convert report.
 */
export async function convertAndValidate(img: string, c: InPlaceCase, hostRoot: string, opts: { fsBytes?: number } = {}): Promise<InPlaceReport> {
  const size = statSync(img).size;
  // The source listing, taken before: nothing of the ext2 is left to read afterwards.
  const ls = await fsconv(['ls', '--json', img], BIG);
  expect(ls.status, ls.stderr).toBe(0);
  const sourceListing: LsEntry[] = parseLsJsonLines(ls.stdout);

  const check = await checkInPlace(img, c);
  expect(check.feasible, check.report.plan ?? '').toBe(true);
  if (c.fatBits !== undefined) expect(check.report.fatBits).toBe(c.fatBits);
  if (c.clusterSize !== undefined) expect(check.report.clusterSize).toBe(c.clusterSize);
  await tick(0);

  const conv = await fsconv([...inPlaceArgs(img, c), '--yes', '--json'], BIG);
  expect(conv.status, conv.stderr).toBe(0);
  const report = JSON.parse(conv.stdout) as InPlaceReport;
  // The conversion did what check said it would.
  expect(report.feasible).toBe(true);
  expect(report.resumed).toBe(false);
  expect(report.fatBits).toBe(check.report.fatBits);
  expect(report.clusterSize).toBe(check.report.clusterSize);
  expect(report.space).toEqual(check.report.space);
  expect(report.renames).toEqual(check.report.renames);
  expect(report.losses).toEqual(check.report.losses);
  expect(report.deviceWrites).toBeGreaterThan(0);
  expect(report.bytesWritten).toBeGreaterThan(0);
  expect(report.entries).toBeGreaterThan(0);
  // Space accounting adds up: every byte of file data either stays, moves, or is written anew.
  const s = report.space!;
  expect(s.filesystemBytes).toBe(opts.fsBytes ?? size);
  expect(s.bytesInPlace + s.bytesMoved + s.bytesDuplicated + s.bytesHoles).toBe(s.fileDataBytes);
  // In place: the device keeps its size.
  expect(statSync(img).size).toBe(size);
  await tick(0);

  await assertFatAcceptance({ img, partitionOffset: 0, target: c.target, hostRoot, sourceListing, report, fromExt2: true });
  return report;
}

/** Runs fsconv and expects a one-line refusal (exit 1, `fsconv: …` on stderr) that left `img` byte-identical. */
export async function expectRefusedUnchanged(img: string, args: readonly string[], pattern?: RegExp): Promise<string> {
  const before = sha256File(img);
  const r = await fsconv(args, BIG);
  const line = expectOneLineRefusal(r);
  if (pattern !== undefined) expect(line).toMatch(pattern);
  expect(sha256File(img), `${args.join(' ')} changed the image`).toBe(before);
  return line;
}

/** The FAT geometry from a boot sector, read with no code of ours (the BPB fields, by the spec). */
export function readBootSector(img: string): {
  fatBits: 12 | 16 | 32; bytesPerSector: number; clusterSize: number; dataStart: number; fatStart: number; clusterCount: number;
  rootEntries: number; oem: string; drive: number; spt: number; heads: number;
} {
  const b = Buffer.alloc(512);
  const fd = openSync(img, 'r');
  try {
    readSync(fd, b, 0, 512, 0);
  } finally {
    closeSync(fd);
  }
  const bps = b.readUInt16LE(11);
  const spc = b.readUInt8(13);
  const reserved = b.readUInt16LE(14);
  const fats = b.readUInt8(16);
  const rootEntries = b.readUInt16LE(17);
  const total = b.readUInt16LE(19) || b.readUInt32LE(32);
  const fatSize = b.readUInt16LE(22) || b.readUInt32LE(36);
  const rootSectors = Math.ceil((rootEntries * 32) / bps);
  const dataSector = reserved + fats * fatSize + rootSectors;
  const clusterCount = Math.floor((total - dataSector) / spc);
  const fatBits = clusterCount < 4085 ? 12 : clusterCount < 65525 ? 16 : 32;
  const fat32 = b.readUInt16LE(22) === 0;
  return {
    fatBits, bytesPerSector: bps, clusterSize: bps * spc, dataStart: dataSector * bps, fatStart: reserved * bps, clusterCount,
    rootEntries, oem: b.toString('latin1', 3, 11), drive: b[fat32 ? 0x40 : 0x24]!, spt: b.readUInt16LE(0x18), heads: b.readUInt16LE(0x1a),
  };
}

/** The first FAT's entry for `cluster`, read straight from the image. */
export function fatEntry(img: string, cluster: number): number {
  const g = readBootSector(img);
  const offset = g.fatBits === 12 ? Math.floor((cluster * 3) / 2) : (cluster * g.fatBits) / 8;
  const b = Buffer.alloc(4);
  const fd = openSync(img, 'r');
  try {
    readSync(fd, b, 0, 4, g.fatStart + offset);
  } finally {
    closeSync(fd);
  }
  if (g.fatBits === 12) {
    const v = b.readUInt16LE(0);
    return cluster % 2 === 0 ? v & 0xfff : v >>> 4;
  }
  return g.fatBits === 16 ? b.readUInt16LE(0) : b.readUInt32LE(0) & 0x0fffffff;
}

/** The "bad cluster" mark of a FAT type. */
export const BAD_CLUSTER: Record<12 | 16 | 32, number> = { 12: 0xff7, 16: 0xfff7, 32: 0x0ffffff7 };
