// mkfsFatChoice against the real mkfs.fat: for image files of many sizes (floppies, every FAT12/16
// cluster-size step, the 512 MiB switch to FAT32, Microsoft's FAT32 table steps), with the FAT type
// forced and with other root entry counts, the FAT type and cluster size must be mkfs.fat's.
import { closeSync, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { mkfsFatChoice } from '../src/mkfs-choice.js';
import type { FatBits } from '../src/constants.js';
import { requireTool, run } from '../../../test/support/run.js';

let dir: string;
beforeAll(() => {
  requireTool('mkfs.fat');
  dir = mkdtempSync(join(tmpdir(), 'fsconv-mkfs-choice-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

/** What mkfs.fat -C wrote: FAT type (FATSz16 = 0 means FAT32, else the type label) and cluster size. */
function mkfs(bytes: number, extra: string[]): { fatBits: FatBits; clusterSize: number; rootEntries: number } | null {
  const img = join(dir, 'x.img');
  rmSync(img, { force: true });
  const r = run('mkfs.fat', [...extra, '-C', img, String(bytes / KiB)], { okStatus: [0, 1] });
  if (r.status !== 0) return null;
  const b = Buffer.alloc(512);
  const fd = openSync(img, 'r');
  try {
    readSync(fd, b, 0, 512, 0);
  } finally {
    closeSync(fd);
  }
  rmSync(img);
  const fat32 = b.readUInt16LE(0x16) === 0;
  const label = b.toString('latin1', 0x36, 0x3e);
  return { fatBits: fat32 ? 32 : label.startsWith('FAT12') ? 12 : 16, clusterSize: b[0x0d]! * 512, rootEntries: b.readUInt16LE(0x11) };
}

const SIZES = [
  360 * KiB, 720 * KiB, 1440 * KiB, 2880 * KiB, 1 * MiB, 2 * MiB, 4 * MiB, 4 * MiB + 512 * KiB, 8 * MiB, 15 * MiB, 16 * MiB, 17 * MiB,
  32 * MiB, 33 * MiB, 64 * MiB, 100 * MiB, 127 * MiB, 128 * MiB, 129 * MiB, 200 * MiB, 255 * MiB, 256 * MiB, 257 * MiB, 300 * MiB,
  511 * MiB, 512 * MiB, 1 * GiB, 2 * GiB, 8 * GiB, 8 * GiB + 1 * MiB, 16 * GiB + 1 * MiB, 32 * GiB + 1 * MiB,
];

it('chooses mkfs.fat\'s FAT type and cluster size for image files of every size step', () => {
  const diffs: string[] = [];
  for (const bytes of SIZES) {
    const want = mkfs(bytes, []);
    const got = mkfsFatChoice(bytes);
    if (JSON.stringify(got) !== JSON.stringify(want)) diffs.push(`${bytes / KiB} KiB: mkfs.fat ${JSON.stringify(want)}, ours ${JSON.stringify(got)}`);
  }
  expect(diffs).toEqual([]);
});

it('follows a forced FAT type and other root entry counts as mkfs.fat -F / -r does', () => {
  const diffs: string[] = [];
  const cases: Array<[number, FatBits | undefined, number | undefined]> = [
    [100 * MiB, 32, undefined], [300 * MiB, 32, undefined], [600 * MiB, 16, undefined], [3 * MiB, 16, undefined],
    [64 * MiB, 12, undefined], [20 * MiB, undefined, 1024], [20 * MiB, undefined, 16], [200 * MiB, 16, 4096], [1 * GiB, 16, undefined],
  ];
  for (const [bytes, fatBits, root] of cases) {
    const args = [...(fatBits ? ['-F', String(fatBits)] : []), ...(root ? ['-r', String(root)] : [])];
    const want = mkfs(bytes, args);
    const got = mkfsFatChoice(bytes, { ...(fatBits && { fatBits }), ...(root && { rootEntries: root }) });
    if (JSON.stringify(got) !== JSON.stringify(want)) diffs.push(`${bytes / KiB} KiB ${args.join(' ')}: mkfs.fat ${JSON.stringify(want)}, ours ${JSON.stringify(got)}`);
  }
  expect(diffs).toEqual([]);
});
