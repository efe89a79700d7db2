/** FAT on-disk constants (fatgen103, dosfstools, Linux fs/fat). */
export type FatBits = 12 | 16 | 32;

/** Directory entry attribute bits. */
export const ATTR = {
  readOnly: 0x01,
  hidden: 0x02,
  system: 0x04,
  volumeLabel: 0x08,
  directory: 0x10,
  archive: 0x20,
  /** read-only | hidden | system | volume: marks a long-name slot. */
  longName: 0x0f,
} as const;

/** NT case byte (offset 12): the base / extension of the 8.3 name is shown in lowercase. */
export const NT_LOWER_BASE = 0x08;
export const NT_LOWER_EXT = 0x10;

export const DIRENT_SIZE = 32;
/** Deleted entry marker; a real first byte of 0xE5 is stored as 0x05. */
export const DELETED = 0xe5;
export const KANJI_E5 = 0x05;
/** The last long-name slot (stored first) has this bit in its ordinal. */
export const LFN_LAST = 0x40;
/** UTF-16 units per long-name slot. */
export const LFN_CHARS_PER_SLOT = 13;
/** At most 255 UTF-16 units, so at most 20 slots. */
export const LFN_MAX_UNITS = 255;
/** A directory holds at most 65536 entries (slots), dot entries and long-name slots included. */
export const MAX_DIR_SLOTS = 65536;

/** Cluster counts: dosfstools' safe limits (never 4085/4086, where Linux and Windows disagree). */
export const MAX_CLUSTERS: Record<FatBits, number> = { 12: 4084, 16: 65524, 32: 268435446 };
export const MIN_CLUSTERS: Record<FatBits, number> = { 12: 1, 16: 4087, 32: 65525 };

/** FAT entry values per type. */
export const FAT_EOC: Record<FatBits, number> = { 12: 0xfff, 16: 0xffff, 32: 0x0fffffff };
export const FAT_BAD: Record<FatBits, number> = { 12: 0xff7, 16: 0xfff7, 32: 0x0ffffff7 };
/** Values at or above this end a chain (0x?FF8..0x?FFF). */
export const FAT_EOC_MIN: Record<FatBits, number> = { 12: 0xff8, 16: 0xfff8, 32: 0x0ffffff8 };

export const MEDIA_FIXED = 0xf8;
/** The rights file kept in every directory by vfat+rights. */
export const RIGHTS_FILE_NAME = '$#%right.$#@';
