import { Ext2Error, corrupt, unsupported } from './errors.js';
import { COMPAT, INCOMPAT, RO_COMPAT, featureNames, unsupportedFeatures, type FeatureSet } from './features.js';
import { u16, u32, u8 } from '@fsconv/base';

/** Byte offset of the primary superblock; bytes 0..1023 are never used by ext2. */
export const SUPERBLOCK_OFFSET = 1024;
export const SUPERBLOCK_SIZE = 1024;
export const EXT2_MAGIC = 0xef53;
/** Where the magic lies on the device (byte 1080): the signature blkid and wipefs look for. */
export const EXT2_MAGIC_OFFSET = SUPERBLOCK_OFFSET + 0x38;

export const CREATOR_OS = ['Linux', 'Hurd', 'Masix', 'FreeBSD', 'Lites'] as const;
export const CREATOR_OS_HURD = 1;

/** The superblock fields the reader uses, decoded (see ext2-facts.md for offsets). */
export interface Superblock extends FeatureSet {
  inodesCount: number;
  blocksCount: number;
  reservedBlocksCount: number;
  freeBlocksCount: number;
  freeInodesCount: number;
  firstDataBlock: number;
  logBlockSize: number;
  logClusterSize: number;
  blocksPerGroup: number;
  clustersPerGroup: number;
  inodesPerGroup: number;
  mountTime: number;
  writeTime: number;
  /** Mounts since the last check (bumped by every mount). */
  mountCount: number;
  magic: number;
  state: number;
  errorsBehaviour: number;
  minorRevLevel: number;
  creatorOs: number;
  revLevel: number;
  firstIno: number;
  inodeSize: number;
  uuid: Uint8Array;
  volumeName: Uint8Array;
  lastMounted: Uint8Array;
  preallocDirBlocks: number;
  reservedGdtBlocks: number;
  journalInum: number;
  journalDev: number;
  lastOrphan: number;
  hashSeed: Uint32Array;
  defHashVersion: number;
  descSize: number;
  /** Derived: bytes of one group descriptor (64bit: s_desc_size; else 32). */
  descriptorSize: number;
  /** flex_bg: log2 of the groups whose metadata is packed together. */
  logGroupsPerFlex: number;
  wantExtraIsize: number;
  firstMetaBg: number;
  mkfsTime: number;
  minExtraIsize: number;
  flags: number;
  /** s_checksum_type: 1 is crc32c, the only one defined. */
  checksumType: number;
  /** mmp: the multi-mount protection block (0 without the feature). */
  mmpBlock: number;
  /** quota: the user and group quota inodes (0 for none). */
  usrQuotaInum: number;
  grpQuotaInum: number;
  /** project quota inode (project feature; refused for now, decoded for messages). */
  prjQuotaInum: number;
  /** sparse_super2: the only two groups besides group 0 with superblock backups (0 for none). */
  backupBgs: [number, number];
  /** orphan_file: the inode of the orphan file. */
  orphanFileInum: number;
  /** Derived: block size in bytes. */
  blockSize: number;
  /** Derived: number of block groups. */
  groupCount: number;
}

/** s_state bits. */
export const STATE_VALID = 0x1;
export const STATE_ERRORS = 0x2;
/** s_flags bits: which dx hash signedness the directory indexes were built with. */
export const FLAGS_SIGNED_HASH = 0x1;
export const FLAGS_UNSIGNED_HASH = 0x2;

/** Decodes the 1024 superblock bytes. Pure: no validation beyond what decoding needs. */
export function decodeSuperblock(b: Uint8Array): Superblock {
  const revLevel = u32(b, 0x4c);
  const logBlockSize = u32(b, 0x18);
  // 64bit: the block counts have high halves, and descriptors are s_desc_size bytes.
  const is64 = revLevel !== 0 && (u32(b, 0x60) & 0x80) !== 0;
  const hi = (o: number): number => (is64 ? u32(b, o) * 2 ** 32 : 0);
  const sb: Superblock = {
    inodesCount: u32(b, 0x00),
    blocksCount: u32(b, 0x04) + hi(0x150),
    reservedBlocksCount: u32(b, 0x08) + hi(0x154),
    freeBlocksCount: u32(b, 0x0c) + hi(0x158),
    freeInodesCount: u32(b, 0x10),
    firstDataBlock: u32(b, 0x14),
    logBlockSize,
    logClusterSize: u32(b, 0x1c),
    blocksPerGroup: u32(b, 0x20),
    clustersPerGroup: u32(b, 0x24),
    inodesPerGroup: u32(b, 0x28),
    mountTime: u32(b, 0x2c),
    writeTime: u32(b, 0x30),
    mountCount: u16(b, 0x34),
    magic: u16(b, 0x38),
    state: u16(b, 0x3a),
    errorsBehaviour: u16(b, 0x3c),
    minorRevLevel: u16(b, 0x3e),
    creatorOs: u32(b, 0x48),
    revLevel,
    // Revision 0 has fixed values for these; the fields exist only from revision 1.
    firstIno: revLevel === 0 ? 11 : u32(b, 0x54),
    inodeSize: revLevel === 0 ? 128 : u16(b, 0x58),
    compat: revLevel === 0 ? 0 : u32(b, 0x5c),
    incompat: revLevel === 0 ? 0 : u32(b, 0x60),
    roCompat: revLevel === 0 ? 0 : u32(b, 0x64),
    uuid: b.slice(0x68, 0x78),
    volumeName: b.slice(0x78, 0x88),
    lastMounted: b.slice(0x88, 0xc8),
    preallocDirBlocks: u8(b, 0xcd),
    reservedGdtBlocks: u16(b, 0xce),
    journalInum: u32(b, 0xe0),
    journalDev: u32(b, 0xe4),
    lastOrphan: u32(b, 0xe8),
    hashSeed: new Uint32Array([u32(b, 0xec), u32(b, 0xf0), u32(b, 0xf4), u32(b, 0xf8)]),
    defHashVersion: u8(b, 0xfc),
    descSize: u16(b, 0xfe),
    descriptorSize: is64 ? u16(b, 0xfe) : 32,
    logGroupsPerFlex: u8(b, 0x174),
    wantExtraIsize: u16(b, 0x15e),
    firstMetaBg: u32(b, 0x104),
    mkfsTime: u32(b, 0x108),
    minExtraIsize: u16(b, 0x15c),
    flags: u32(b, 0x160),
    checksumType: u8(b, 0x175),
    mmpBlock: u32(b, 0x168) + u32(b, 0x16c) * 2 ** 32,
    usrQuotaInum: u32(b, 0x240),
    grpQuotaInum: u32(b, 0x244),
    prjQuotaInum: u32(b, 0x26c),
    backupBgs: [u32(b, 0x24c), u32(b, 0x250)],
    orphanFileInum: u32(b, 0x280),
    blockSize: logBlockSize <= 16 ? 1024 * 2 ** logBlockSize : 0,
    groupCount: 0,
  };
  if (sb.blocksPerGroup > 0 && sb.blocksCount > sb.firstDataBlock) {
    sb.groupCount = Math.ceil((sb.blocksCount - sb.firstDataBlock) / sb.blocksPerGroup);
  }
  return sb;
}

/**
 * What a user can do about a refused feature, where there is something: the features a drive of
 * today most likely has first. One clause each, joined into the one-line refusal.
 */
const FEATURE_ADVICE: Readonly<Record<string, string>> = {
  bigalloc: 'bigalloc allocates clusters of several blocks, which fsconv does not map: copy the files to a FAT volume instead',
  encrypt: 'encrypt: directories encrypted with fscrypt hold ciphertext names and data; unlock them and copy the files instead',
  verity: 'verity: fs-verity files carry Merkle trees FAT cannot keep; copy the files instead',
  casefold: 'casefold: case-insensitive directories are not mapped yet; copy the files instead',
  orphan_present: 'orphan_present: files deleted while still open are waiting to be freed; mount and unmount the volume once, or run e2fsck on it',
};

const isPowerOfTwo = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;

/**
 * Refuses a superblock that is not ext2, uses what we do not support, or whose numbers cannot be
 * trusted to size anything. After this, every derived size is bounded by the device size.
 */
export function validateSuperblock(sb: Superblock, deviceSize: number): void {
  if (sb.magic !== EXT2_MAGIC) {
    throw new Ext2Error('not-ext2', `no ext2 superblock (magic 0x${sb.magic.toString(16)} at byte 1080, expected 0xef53)`);
  }
  if (sb.revLevel > 1) throw unsupported(`superblock: revision ${sb.revLevel} is not supported (only 0 and 1)`);
  if (sb.logBlockSize > 6) throw corrupt(`superblock: block size 1024<<${sb.logBlockSize} is out of range (1 KiB to 64 KiB)`);
  const bs = sb.blockSize;

  // Features before anything else: an ext4 may have fields that are legal only with its features.
  if ((sb.incompat & INCOMPAT.needs_recovery) !== 0) {
    throw new Ext2Error('unclean', 'the journal needs recovery (feature needs_recovery): run e2fsck on it first');
  }
  const refused = unsupportedFeatures(sb);
  if (refused.length > 0) {
    const advice = refused.map((f) => FEATURE_ADVICE[f]).filter((a): a is string => a !== undefined);
    throw unsupported(`features not supported: ${refused.join(', ')} (this tool reads ext2, ext3 with a clean journal, and ext4 with extents, flex_bg, 64bit, meta_bg, sparse_super2, huge_file, dir_nlink, extra_isize, large_dir, inline_data, metadata_csum, uninit_bg, quota, mmp, fast_commit and an empty orphan_file)` +
      (advice.length > 0 ? `; ${advice.join('; ')}` : ''));
  }
  if ((sb.incompat & 0x80) !== 0 && (sb.descriptorSize < 64 || sb.descriptorSize > 1024 || !isPowerOfTwo(sb.descriptorSize))) {
    throw corrupt(`superblock: group descriptor size ${sb.descriptorSize} is not a power of two from 64 to 1024 (64bit)`);
  }
  if ((sb.roCompat & 0x400) !== 0 && sb.checksumType !== 1) {
    throw corrupt(`superblock: checksum type ${sb.checksumType} is unknown (metadata_csum defines only 1, crc32c)`);
  }
  if ((sb.incompat & INCOMPAT.metadata_csum_seed) !== 0 && (sb.roCompat & 0x400) === 0) {
    throw corrupt('superblock: metadata_csum_seed is set without metadata_csum');
  }
  if ((sb.incompat & 0x200) !== 0 && sb.logGroupsPerFlex > 31) {
    throw corrupt(`superblock: log groups per flex ${sb.logGroupsPerFlex} is more than 31`);
  }
  // The required and desired extra inode sizes matter only to whoever writes inodes: the kernel
  // clamps invalid ones with a warning and e2fsck -n passes them (f_sb_extra_isize), so a reader
  // ignores them, and each inode's own i_extra_isize is checked instead.
  if (sb.logClusterSize !== sb.logBlockSize) {
    throw corrupt(`superblock: cluster size log ${sb.logClusterSize} differs from block size log ${sb.logBlockSize} without bigalloc`);
  }
  if (sb.inodeSize < 128 || sb.inodeSize > bs || !isPowerOfTwo(sb.inodeSize)) {
    throw corrupt(`superblock: inode size ${sb.inodeSize} is not a power of two between 128 and the block size ${bs}`);
  }
  const maxPerGroup = Math.min(8 * bs, 65528);
  if (sb.blocksPerGroup < 8 || sb.blocksPerGroup > maxPerGroup || sb.blocksPerGroup % 8 !== 0) {
    throw corrupt(`superblock: ${sb.blocksPerGroup} blocks per group is out of range (8 to ${maxPerGroup}, a multiple of 8)`);
  }
  if (sb.clustersPerGroup !== sb.blocksPerGroup) {
    throw corrupt(`superblock: ${sb.clustersPerGroup} fragments per group differs from ${sb.blocksPerGroup} blocks per group`);
  }
  const expectedFirst = bs === 1024 ? 1 : 0;
  if (sb.firstDataBlock !== expectedFirst) {
    throw corrupt(`superblock: first data block is ${sb.firstDataBlock}, must be ${expectedFirst} with ${bs}-byte blocks`);
  }
  if (sb.blocksCount <= sb.firstDataBlock + 1) throw corrupt(`superblock: ${sb.blocksCount} blocks is too few`);
  const inodesPerBlock = bs / sb.inodeSize;
  if (sb.inodesPerGroup < inodesPerBlock || sb.inodesPerGroup > 8 * bs || sb.inodesPerGroup % inodesPerBlock !== 0) {
    throw corrupt(
      `superblock: ${sb.inodesPerGroup} inodes per group is out of range (a multiple of ${inodesPerBlock}, at most ${8 * bs})`,
    );
  }
  if (sb.groupCount * sb.inodesPerGroup !== sb.inodesCount) {
    throw corrupt(`superblock: inode count ${sb.inodesCount} is not ${sb.groupCount} groups × ${sb.inodesPerGroup} inodes`);
  }
  if (sb.reservedGdtBlocks > bs / 4) {
    throw corrupt(`superblock: ${sb.reservedGdtBlocks} reserved GDT blocks is more than ${bs / 4}`);
  }
  if (sb.firstIno < 11 || sb.firstIno > sb.inodesCount) {
    throw corrupt(`superblock: first inode ${sb.firstIno} is out of range (11 to ${sb.inodesCount})`);
  }
  if (sb.freeBlocksCount > sb.blocksCount) {
    throw corrupt(`superblock: free blocks count ${sb.freeBlocksCount} exceeds the block count ${sb.blocksCount}`);
  }
  if (sb.freeInodesCount > sb.inodesCount) {
    throw corrupt(`superblock: free inodes count ${sb.freeInodesCount} exceeds the inode count ${sb.inodesCount}`);
  }
  if (sb.reservedBlocksCount > sb.blocksCount / 2) {
    throw corrupt(`superblock: reserved blocks count ${sb.reservedBlocksCount} is more than half the filesystem`);
  }
  const bytes = sb.blocksCount * bs;
  if (bytes > deviceSize) {
    throw new Ext2Error(
      'io',
      `the filesystem claims ${sb.blocksCount} blocks of ${bs} bytes (${bytes} bytes) but the device has only ${deviceSize} bytes`,
    );
  }
  validateFeatureFields(sb);
  if (sb.lastOrphan !== 0) {
    throw new Ext2Error('unclean', `the orphan inode list is not empty (inode ${sb.lastOrphan}): run e2fsck on it first`);
  }
}

/**
 * Inode numbers that can never hold quota or the orphan file: the bad blocks list, the root, the
 * boot loader, the undelete directory, the resize inode, the journal, the exclude and replica
 * inodes (e2fsck_validate_quota_inodes' list).
 */
const NOT_FOR_SPECIAL_FILES = new Set([1, 2, 5, 6, 7, 8, 9, 10]);

/** The superblock fields that exist only with meta_bg, sparse_super2, quota or orphan_file. */
function validateFeatureFields(sb: Superblock): void {
  const descBlocks = Math.ceil((sb.groupCount * sb.descriptorSize) / sb.blockSize);
  if ((sb.incompat & INCOMPAT.meta_bg) !== 0) {
    if (sb.firstMetaBg > descBlocks) {
      throw corrupt(`superblock: first meta block group ${sb.firstMetaBg} is past the ${descBlocks} group descriptor blocks (meta_bg)`);
    }
    // mke2fs never makes both; e2fsck turns resize_inode off when it finds them together.
    if ((sb.compat & COMPAT.resize_inode) !== 0) throw corrupt('superblock: resize_inode and meta_bg are both set, which cannot be');
  }
  if ((sb.compat & COMPAT.sparse_super2) !== 0) {
    for (const g of sb.backupBgs) {
      if (g >= sb.groupCount) throw corrupt(`superblock: backup superblock group ${g} is past the last group ${sb.groupCount - 1} (sparse_super2)`);
    }
  }
  const special = (what: string, ino: number): void => {
    if (ino === 0) return;
    if (NOT_FOR_SPECIAL_FILES.has(ino) || ino > sb.inodesCount) {
      throw corrupt(`superblock: the ${what} inode number ${ino} is invalid (a reserved inode, or past the ${sb.inodesCount} inodes)`);
    }
  };
  if ((sb.roCompat & RO_COMPAT.quota) !== 0) {
    special('user quota', sb.usrQuotaInum);
    special('group quota', sb.grpQuotaInum);
    if (sb.usrQuotaInum !== 0 && sb.usrQuotaInum === sb.grpQuotaInum) throw corrupt(`superblock: the user and group quota share inode ${sb.usrQuotaInum}`);
  }
  if ((sb.compat & COMPAT.orphan_file) !== 0) {
    if (sb.orphanFileInum === 0) throw corrupt('superblock: orphan_file is set but names no orphan file inode');
    special('orphan file', sb.orphanFileInum);
    if ((sb.roCompat & RO_COMPAT.quota) !== 0 && (sb.orphanFileInum === sb.usrQuotaInum || sb.orphanFileInum === sb.grpQuotaInum)) {
      throw corrupt(`superblock: the orphan file and a quota file share inode ${sb.orphanFileInum}`);
    }
  }
}

/** Names of all features present (for info). */
export const superblockFeatures = (sb: Superblock): string[] => featureNames(sb);

/**
 * Whether a superblock copy lives in group g: group 0 always; with sparse_super2 only the two
 * groups the superblock names; with sparse_super groups 1 and the powers of 3, 5 and 7; else all.
 */
export function groupHasSuperblock(sb: Superblock, g: number): boolean {
  if (g === 0) return true;
  if ((sb.compat & 0x200) !== 0) return g === sb.backupBgs[0] || g === sb.backupBgs[1];
  if (g <= 1) return true;
  if ((sb.roCompat & 0x1) === 0) return true;
  for (const base of [3, 5, 7]) {
    let n = base;
    while (n < g) n *= base;
    if (n === g) return true;
  }
  return false;
}
