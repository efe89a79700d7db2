/**
 * The FAT type and cluster size `mkfs.fat` (dosfstools 4.2) picks for a filesystem of a given size,
 * so that new images look like what users and their devices expect. Facts only, from reading its
 * `establish_params` and `setup_tables` and checked against the real program
 * (packages/fat/test/mkfs-choice.test.ts): our own layout solver then builds the chosen geometry.
 *
 * - Below 512 MiB it starts at 4 sectors per cluster (floppy sizes have their own table) and doubles
 *   the cluster size until FAT12 or FAT16 can address the clusters, with 512 root entries and the
 *   structures aligned to the cluster size (above 8192 sectors); FAT16 wins where it gives more
 *   clusters; FAT16 is never used below its minimum cluster count.
 * - From 512 MiB on, FAT32 with Microsoft's table: up to 260 MiB 1 sector per cluster, up to 8 GiB
 *   8, up to 16 GiB 16, up to 32 GiB 32, above 64 (32 KiB).
 */
import type { FatBits } from './constants.js';

export interface MkfsChoice {
  fatBits: FatBits;
  clusterSize: number;
  /** The root entries mkfs.fat gives (FAT12/16, rounded up to whole clusters when it aligns; 0 on FAT32). */
  rootEntries: number;
}

const MAX_CLUST_12 = 4084;
const MAX_CLUST_16 = 65524;
const MIN_CLUST_32 = 65525;
const MAX_CLUST_32 = 268435446;
/** Fewer clusters than this make a FAT16 that would be taken for FAT12. */
const FAT12_THRESHOLD = 4085;
const NUM_FATS = 2;
const MiB = 1024 * 1024;

/** Floppy sizes (KiB) → sectors per cluster and root entries (for image files, as mkfs.fat -C). */
const FLOPPIES = new Map<number, { spc: number; root: number }>([
  [360, { spc: 2, root: 112 }], [720, { spc: 2, root: 112 }], [1200, { spc: 1, root: 224 }],
  [1440, { spc: 1, root: 224 }], [2880, { spc: 2, root: 224 }],
]);

const cdiv = (a: number, b: number): number => Math.ceil(a / b);

/**
 * mkfs.fat's choice for `bytes` (512-byte sectors; the rule is only meant for those), with the FAT
 * type forced or not and the root entries given or its default. Null when mkfs.fat would find
 * nothing (too small or too large for the type).
 */
export function mkfsFatChoice(bytes: number, options: { fatBits?: FatBits; rootEntries?: number } = {}): MkfsChoice | null {
  const sectorSize = 512;
  const numSectors = Math.floor(Math.floor(bytes / 1024) * 1024 / sectorSize);
  const floppy = FLOPPIES.get(Math.floor(bytes / 1024));
  let sizeFat: 0 | FatBits = options.fatBits ?? (bytes >= 512 * MiB ? 32 : 0);
  const forced = options.fatBits !== undefined;
  let spc = floppy?.spc ?? 4;
  if (sizeFat === 32) {
    const mb = Math.floor(bytes / MiB);
    spc = mb > 32 * 1024 ? 64 : mb > 16 * 1024 ? 32 : mb > 8 * 1024 ? 16 : mb > 260 ? 8 : 1;
  }
  const rootEntries = sizeFat === 32 ? 0 : (options.rootEntries ?? floppy?.root ?? 512);
  const reserved = sizeFat === 32 ? 32 : 1;
  const align = numSectors > 8192;
  const alignTo = (sectors: number, cs: number): number => (align ? cdiv(sectors, cs) * cs : sectors);
  const rootSectors = cdiv(rootEntries * 32, sectorSize);
  let clust12 = 0;
  let clust16 = 0;
  let clust32 = 0;
  for (; spc <= 128; spc *= 2) {
    const fatdata32 = numSectors - alignTo(reserved, spc);
    const fatdata1216 = fatdata32 - alignTo(rootSectors, spc);

    clust12 = Math.floor((2 * (fatdata1216 * sectorSize + NUM_FATS * 3)) / (2 * spc * sectorSize + NUM_FATS * 3));
    const fatlength12 = alignTo(cdiv(((clust12 + 2) * 3 + 1) >> 1, sectorSize), spc);
    clust12 = Math.floor((fatdata1216 - NUM_FATS * fatlength12) / spc);
    const maxclust12 = Math.min(Math.floor((fatlength12 * 2 * sectorSize) / 3), MAX_CLUST_12);
    if (clust12 > maxclust12 - 2) clust12 = 0;

    clust16 = Math.floor((fatdata1216 * sectorSize + NUM_FATS * 4) / (spc * sectorSize + NUM_FATS * 2));
    const fatlength16 = alignTo(cdiv((clust16 + 2) * 2, sectorSize), spc);
    clust16 = Math.floor((fatdata1216 - NUM_FATS * fatlength16) / spc);
    const maxclust16 = Math.min(Math.floor((fatlength16 * sectorSize) / 2), MAX_CLUST_16);
    if (clust16 > maxclust16 - 2) clust16 = 0;
    if (clust16 < FAT12_THRESHOLD && !(forced && sizeFat === 16)) clust16 = 0;

    clust32 = Math.floor((fatdata32 * sectorSize + NUM_FATS * 8) / (spc * sectorSize + NUM_FATS * 4));
    const fatlength32 = alignTo(cdiv((clust32 + 2) * 4, sectorSize), spc);
    clust32 = Math.floor((fatdata32 - NUM_FATS * fatlength32) / spc);
    const maxclust32 = Math.min(Math.floor((fatlength32 * sectorSize) / 4), MAX_CLUST_32);
    if (clust32 > 0 && clust32 < MIN_CLUST_32 && !(forced && sizeFat === 32)) clust32 = 0;
    if (clust32 > maxclust32) clust32 = 0;

    if ((clust12 > 0 && (sizeFat === 0 || sizeFat === 12)) || (clust16 > 0 && (sizeFat === 0 || sizeFat === 16)) || (clust32 > 0 && sizeFat === 32)) break;
  }
  if (spc > 128) return null;
  if (sizeFat === 0) sizeFat = clust16 > clust12 ? 16 : 12;
  // A forced FAT16 below its minimum is refused (it would be read as FAT12).
  if (sizeFat === 16 && clust16 < FAT12_THRESHOLD) return null;
  // mkfs.fat rounds the root region up to whole clusters when it aligns the structures.
  const entries = sizeFat === 32 ? 0 : align ? alignTo(rootSectors, spc) * (sectorSize / 32) : rootEntries;
  return { fatBits: sizeFat, clusterSize: spc * sectorSize, rootEntries: entries };
}
