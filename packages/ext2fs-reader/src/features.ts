/**
 * ext2/3/4 feature flags and which of them this reader understands.
 * Everything not in an ACCEPTED set is refused by name: a feature we do not understand may change
 * the meaning of blocks we would otherwise move or overwrite.
 */
export const COMPAT = {
  dir_prealloc: 0x1, imagic_inodes: 0x2, has_journal: 0x4, ext_attr: 0x8, resize_inode: 0x10,
  dir_index: 0x20, lazy_bg: 0x40, exclude_inode: 0x80, exclude_bitmap: 0x100, sparse_super2: 0x200,
  fast_commit: 0x400, stable_inodes: 0x800, orphan_file: 0x1000,
} as const;

export const RO_COMPAT = {
  sparse_super: 0x1, large_file: 0x2, btree_dir: 0x4, huge_file: 0x8, gdt_csum: 0x10, dir_nlink: 0x20,
  extra_isize: 0x40, has_snapshot: 0x80, quota: 0x100, bigalloc: 0x200, metadata_csum: 0x400,
  replica: 0x800, read_only: 0x1000, project: 0x2000, shared_blocks: 0x4000, verity: 0x8000,
  orphan_present: 0x10000,
} as const;

export const INCOMPAT = {
  compression: 0x1, filetype: 0x2, needs_recovery: 0x4, journal_dev: 0x8, meta_bg: 0x10, extents: 0x40,
  '64bit': 0x80, mmp: 0x100, flex_bg: 0x200, ea_inode: 0x400, dirdata: 0x1000, metadata_csum_seed: 0x2000,
  large_dir: 0x4000, inline_data: 0x8000, encrypt: 0x10000, casefold: 0x20000,
} as const;

/**
 * What the reader accepts. has_journal (and fast_commit) only with a clean journal
 * (jbd2-superblock.ts), mmp only when its block says the volume was left cleanly (mmp.ts),
 * orphan_file only when the file lists no orphan (check.ts); stable_inodes is a promise to
 * whoever changes the filesystem, quota's files are metadata, not files.
 */
export const ACCEPTED_COMPAT =
  COMPAT.dir_prealloc | COMPAT.imagic_inodes | COMPAT.has_journal | COMPAT.ext_attr | COMPAT.resize_inode | COMPAT.dir_index |
  COMPAT.sparse_super2 | COMPAT.fast_commit | COMPAT.stable_inodes | COMPAT.orphan_file;
export const ACCEPTED_RO_COMPAT = RO_COMPAT.sparse_super | RO_COMPAT.large_file | RO_COMPAT.btree_dir |
  RO_COMPAT.huge_file | RO_COMPAT.dir_nlink | RO_COMPAT.extra_isize | RO_COMPAT.gdt_csum | RO_COMPAT.metadata_csum |
  RO_COMPAT.quota;
export const ACCEPTED_INCOMPAT = INCOMPAT.filetype | INCOMPAT.extents | INCOMPAT['64bit'] | INCOMPAT.flex_bg |
  INCOMPAT.metadata_csum_seed | INCOMPAT.meta_bg | INCOMPAT.mmp | INCOMPAT.large_dir | INCOMPAT.inline_data;

export interface FeatureSet {
  compat: number;
  incompat: number;
  roCompat: number;
}

/** Names of the bits set in `mask`, unknown bits as "compat_0x4000" style names. */
function namesOf(table: Record<string, number>, kind: string, mask: number): string[] {
  const out: string[] = [];
  for (let bit = 1; bit !== 0 && bit <= 0x80000000; bit = (bit << 1) >>> 0) {
    if ((mask & bit) === 0) continue;
    const name = Object.entries(table).find(([, v]) => v === bit)?.[0];
    out.push(name ?? `${kind}_0x${bit.toString(16)}`);
  }
  return out;
}

/** All feature names of a filesystem, in the order dumpe2fs prints them (compat, incompat, ro_compat). */
export function featureNames(f: FeatureSet): string[] {
  return [
    ...namesOf(COMPAT, 'compat', f.compat >>> 0),
    ...namesOf(INCOMPAT, 'incompat', f.incompat >>> 0),
    ...namesOf(RO_COMPAT, 'ro_compat', f.roCompat >>> 0),
  ];
}

/** The names of the features present that the reader refuses; empty when all are understood. */
export function unsupportedFeatures(f: FeatureSet): string[] {
  return featureNames({
    compat: (f.compat & ~ACCEPTED_COMPAT) >>> 0,
    incompat: (f.incompat & ~ACCEPTED_INCOMPAT) >>> 0,
    roCompat: (f.roCompat & ~ACCEPTED_RO_COMPAT) >>> 0,
  });
}

/** Incompatible features only ext4 introduced: a filesystem with one of them is an ext4. */
const EXT4_INCOMPAT = INCOMPAT.extents | INCOMPAT['64bit'] | INCOMPAT.flex_bg | INCOMPAT.mmp | INCOMPAT.ea_inode |
  INCOMPAT.metadata_csum_seed | INCOMPAT.large_dir | INCOMPAT.inline_data | INCOMPAT.encrypt | INCOMPAT.casefold;
const EXT4_RO_COMPAT = RO_COMPAT.huge_file | RO_COMPAT.gdt_csum | RO_COMPAT.dir_nlink | RO_COMPAT.extra_isize | RO_COMPAT.bigalloc | RO_COMPAT.metadata_csum;

/** Which of the family a filesystem is, as the kernel and blkid name it: ext4 by its features, ext3 by its journal, else ext2. */
export function ext2Family(f: FeatureSet): 'ext2' | 'ext3' | 'ext4' {
  if ((f.incompat & EXT4_INCOMPAT) !== 0 || (f.roCompat & EXT4_RO_COMPAT) !== 0) return 'ext4';
  return (f.compat & COMPAT.has_journal) !== 0 ? 'ext3' : 'ext2';
}
