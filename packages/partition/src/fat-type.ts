import type { PartitionScheme } from './model.js';
import type { PartitionTypeChange } from './set-type.js';

/** GPT type of a FAT (or NTFS/exFAT) volume Windows mounts: Microsoft basic data. */
export const MICROSOFT_BASIC_DATA_GUID = 'EBD0A0A2-B9E5-4433-87C0-68B6B72699C7';

/**
 * The last sector a CHS address can reach with the geometry every tool now writes in MBR entries
 * (255 heads, 63 sectors per track, 1024 cylinders): a partition ending at or below this many
 * sectors lies wholly within CHS reach. 16,450,560 sectors = 8,422,686,720 bytes (7.84 GiB).
 */
export const CHS_REACH_SECTORS = 1024 * 255 * 63;

/** Below this many sectors (32 MiB) a FAT12/16 volume's size fits the 16-bit BPB field: the "small" types. */
export const SMALL_FAT_SECTORS = 65536;

export type FatBits = 12 | 16 | 32;

export interface FatPartition {
  fatBits: FatBits;
  /** In 512-byte sectors, as MBR entries count. */
  startLba: number;
  sectors: number;
}

/**
 * 'mkfs.fat' (the default): what dosfstools' mkfs.fat --mbr and FatFs' f_mkfs write; FAT32 is
 * always 0x0C. 'sd-card': the SD Association's layout (as SdFat's formatter writes it); FAT32 is
 * 0x0B when the partition ends within CHS reach, 0x0C beyond. FAT12/16 are the same in both.
 */
export type FatTypeConvention = 'mkfs.fat' | 'sd-card';

/**
 * The MBR type byte for a FAT volume filling a partition (docs/partition-tables.md has the table):
 * - FAT12/16 ending beyond CHS reach: 0x0E (FAT16, LBA);
 * - FAT12 below 32 MiB: 0x01; FAT16 below 32 MiB: 0x04; FAT12/16 from 32 MiB: 0x06 ("big FAT16");
 * - FAT32: 0x0C (LBA), or with 'sd-card' 0x0B (CHS) when it ends within CHS reach.
 */
export function fatMbrType(p: FatPartition, convention: FatTypeConvention = 'mkfs.fat'): number {
  if (!Number.isSafeInteger(p.startLba) || !Number.isSafeInteger(p.sectors) || p.startLba < 0 || p.sectors < 1) {
    throw new RangeError(`fatMbrType: bad partition extent (start ${p.startLba}, ${p.sectors} sectors)`);
  }
  const end = p.startLba + p.sectors; // one past the last sector
  const withinChs = end <= CHS_REACH_SECTORS;
  switch (p.fatBits) {
    case 32:
      return convention === 'sd-card' && withinChs ? 0x0b : 0x0c;
    case 12:
    case 16:
      if (!withinChs) return 0x0e;
      if (p.sectors < SMALL_FAT_SECTORS) return p.fatBits === 12 ? 0x01 : 0x04;
      return 0x06;
    default:
      throw new RangeError(`fatMbrType: FAT${String(p.fatBits)} is not FAT12, FAT16 or FAT32`);
  }
}

/** The type to give a partition that now holds a FAT volume, in its table's scheme. */
export function fatPartitionType(scheme: PartitionScheme, p: FatPartition, convention: FatTypeConvention = 'mkfs.fat'): PartitionTypeChange {
  return scheme === 'gpt' ? { gpt: MICROSOFT_BASIC_DATA_GUID } : { mbr: fatMbrType(p, convention) };
}

/** MBR types Windows gives a drive letter to a FAT volume in (and fsconv's CLI looks for). */
export const FAT_MBR_TYPES: ReadonlySet<number> = new Set([0x01, 0x04, 0x06, 0x0b, 0x0c, 0x0e]);
