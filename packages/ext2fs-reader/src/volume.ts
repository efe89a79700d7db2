import { readBytes, setBitRange, u16, u32, S_IFMT, S_IFLNK, S_IFDIR, S_IFREG, type ByteSource, type Xattr } from '@fsconv/base';
import { walkBlockMap, appendToExtents, maxMappableBlocks, type Extent, type BlockMapContext } from './block-map.js';
import { MAX_EXTENT_LOGICAL, walkExtentTree } from './extent-tree.js';
import { decodeRecLen, forEachDirEntry, type DirEntry } from './directory.js';
import { Ext2Error, corrupt, type Ext2Location } from './errors.js';
import { INCOMPAT, RO_COMPAT } from './features.js';
import { BG_BLOCK_UNINIT, BG_INODE_UNINIT, GroupTable, Layout, primaryDescriptorBlock } from './groups.js';
import { checkMmpBlock } from './mmp.js';
import {
  bitmapChecksum, directoryLeafChecksumMatches, dxNodeChecksumMatches, filesystemSeed, groupDescriptorChecksum,
  hasDirectoryTail, inodeSeed, storedGroupDescriptorChecksum, storedSuperblockChecksum, superblockChecksum,
} from './checksums.js';
import { decodeInode, INODE_FLAGS, type Inode } from './inode.js';
import { CREATOR_OS_HURD, EXT2_MAGIC, SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE, decodeSuperblock, validateSuperblock, type Superblock } from './superblock.js';
import { INLINE_DATA_XATTR, forEachInlineDirEntry, inlineDataOf } from './inline-data.js';
import { decodeInodeXattrs, decodeXattrBlock } from './xattr.js';

/**
 * Bytes of recently read metadata blocks to keep (inode table, directory and map blocks are read
 * again by every pass over the tree). Bounded in bytes, so memory does not depend on the device;
 * the least recently used block goes first. (Reading neighbouring blocks along was measured
 * slower: directory blocks are scattered, and inode tables are read whole by the check.)
 */
const CACHE_BYTES = 16 * 1024 * 1024;

/**
 * Inodes are read through a few windows of their tables: a directory's children mostly sit
 * together. Windows are aligned to their size, a power of two that every inode size divides,
 * so no inode straddles two.
 */
const INODE_WINDOW_BYTES = 64 * 1024;
const INODE_WINDOWS = 16;

/**
 * An opened ext2 filesystem: the superblock and descriptors validated, blocks and inodes readable.
 * Opening checks only the fixed structures; `checkFilesystem` checks everything else.
 */
export class Ext2Volume implements BlockMapContext {
  readonly blockSize: number;
  readonly firstDataBlock: number;
  readonly blocksCount: number;
  readonly hasFiletype: boolean;
  /** metadata_csum: every metadata structure carries a crc32c seeded with `checksumSeed`. */
  readonly metadataCsum: boolean;
  /** gdt_csum or metadata_csum: the group descriptors are checksummed and their uninit flags and itable_unused count. */
  readonly groupChecksums: boolean;
  readonly checksumSeed: number;
  /** 64bit on Linux: i_file_acl_high holds the attribute block's high bits (on the Hurd it is i_mode_high). */
  private readonly xattrBlockHigh: boolean;
  private readonly cache = new Map<number, Uint8Array>();
  /** Inode table windows (aligned, reused buffers) for readInode, apart from the block cache. */
  private readonly inodeWindows = Array.from({ length: INODE_WINDOWS }, () => ({ start: -1, used: 0, bytes: new Uint8Array(INODE_WINDOW_BYTES) }));
  private inodeReads = 0;
  private readonly cacheBlocks: number;

  private constructor(
    readonly source: ByteSource,
    readonly sb: Superblock,
    readonly groups: GroupTable,
    readonly layout: Layout,
    checksumSeed: number,
  ) {
    this.metadataCsum = hasMetadataCsum(sb);
    this.groupChecksums = hasGroupChecksums(sb);
    this.checksumSeed = checksumSeed;
    this.xattrBlockHigh = (sb.incompat & INCOMPAT['64bit']) !== 0 && sb.creatorOs === 0;
    this.blockSize = sb.blockSize;
    this.firstDataBlock = sb.firstDataBlock;
    this.blocksCount = sb.blocksCount;
    // The Hurd writes no file types even with the feature set; e2fsck accepts that (it would only
    // clear the feature in a read-write run), so records are read as without the feature there.
    this.hasFiletype = (sb.incompat & INCOMPAT.filetype) !== 0 && sb.creatorOs !== CREATOR_OS_HURD;
    this.cacheBlocks = Math.max(64, Math.floor(CACHE_BYTES / sb.blockSize));
  }

  /** Reads and validates the superblock and the group descriptor table. */
  static open(source: ByteSource): Ext2Volume {
    if (source.size < SUPERBLOCK_OFFSET + SUPERBLOCK_SIZE) {
      throw new Ext2Error('not-ext2', `the device is too small to hold an ext2 filesystem (${source.size} bytes)`);
    }
    const raw = readBytes(source, SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE);
    const sb = decodeSuperblock(raw);
    checkMultiMountProtection(source, sb, raw);
    validateSuperblock(sb, source.size);
    const metadataCsum = hasMetadataCsum(sb);
    if (metadataCsum && superblockChecksum(raw) !== storedSuperblockChecksum(raw)) {
      throw corrupt(`superblock checksum 0x${storedSuperblockChecksum(raw).toString(16)} does not match its contents (0x${superblockChecksum(raw).toString(16)})`);
    }
    const seed = metadataCsum ? filesystemSeed(raw, (sb.incompat & INCOMPAT.metadata_csum_seed) !== 0) : 0;
    const descriptors = readDescriptorTable(source, sb);
    if (hasGroupChecksums(sb)) {
      const size = sb.descriptorSize;
      for (let g = 0; g < sb.groupCount; g++) {
        const desc = descriptors.subarray(g * size, (g + 1) * size);
        const want = metadataCsum ? groupDescriptorChecksum('crc32c', seed, g, desc, size) : groupDescriptorChecksum('crc16', sb.uuid, g, desc, size);
        const stored = storedGroupDescriptorChecksum(desc);
        if (want !== stored) {
          throw corrupt(`group descriptor checksum 0x${stored.toString(16)} does not match its contents (0x${want.toString(16)}, ${metadataCsum ? 'metadata_csum' : 'gdt_csum'})`, { group: g });
        }
      }
    }
    const groups = GroupTable.decode(descriptors, sb.groupCount, sb.descriptorSize);
    const layout = new Layout(sb, groups);
    layout.validate();
    return new Ext2Volume(source, sb, groups, layout, seed);
  }

  /**
   * Group g's block bitmap into `into` (one block): as stored, its checksum verified with
   * metadata_csum, or, for a BLOCK_UNINIT group (gdt_csum/metadata_csum only), the bitmap the flag
   * stands for: the stored block is not initialised and may hold anything.
   */
  readBlockBitmap(g: number, into: Uint8Array): void {
    if (this.groupChecksums && (this.groups.flags[g]! & BG_BLOCK_UNINIT) !== 0) {
      this.layout.uninitialisedBlockBitmap(g, into);
      return;
    }
    this.readBlocksInto(into, this.groups.blockBitmap[g]!);
    if (this.metadataCsum) this.verifyBitmap(into, this.sb.clustersPerGroup / 8, this.groups.blockBitmapCsum[g]!, 'block', g);
  }

  /** Group g's inode bitmap, likewise: INODE_UNINIT stands for no inode in use (and the padding set). */
  readInodeBitmap(g: number, into: Uint8Array): void {
    if (this.groupChecksums && (this.groups.flags[g]! & BG_INODE_UNINIT) !== 0) {
      into.fill(0);
      setBitRange(into, this.sb.inodesPerGroup, 8 * into.length);
      return;
    }
    this.readBlocksInto(into, this.groups.inodeBitmap[g]!);
    if (this.metadataCsum) this.verifyBitmap(into, this.sb.inodesPerGroup / 8, this.groups.inodeBitmapCsum[g]!, 'inode', g);
  }

  private verifyBitmap(bitmap: Uint8Array, bytes: number, stored: number, what: string, g: number): void {
    const full = bitmapChecksum(this.checksumSeed, bitmap, bytes);
    const want = this.sb.descriptorSize >= 64 ? full : full & 0xffff;
    if (want !== stored) {
      throw corrupt(`${what} bitmap checksum 0x${stored.toString(16)} does not match its contents (0x${want.toString(16)})`, { group: g, block: what === 'block' ? this.groups.blockBitmap[g]! : this.groups.inodeBitmap[g]! });
    }
  }

  /** With metadata_csum, the seed of an inode's own checksums (its extent and directory blocks); else undefined. */
  inodeChecksumSeed(inode: Inode): number | undefined {
    return this.metadataCsum ? inodeSeed(this.checksumSeed, inode.ino, inode.generation) : undefined;
  }

  /**
   * With metadata_csum, refuses a directory block whose checksum does not match: a leaf's tail
   * record, or an htree node's dx tail (e2fsprogs' ext2fs_dir_block_csum_verify order: a leaf tail
   * first, else an index node, else there is no room for a checksum).
   */
  verifyDirectoryBlock(block: Uint8Array, seed: number | undefined, where: Ext2Location): void {
    if (seed === undefined) return;
    const bs = this.blockSize;
    if (hasDirectoryTail(block, (o) => decodeRecLen(u16(block, o + 4), bs))) {
      if (!directoryLeafChecksumMatches(seed, block)) throw corrupt('directory block checksum does not match its contents', where);
      return;
    }
    const countOffset = dxCountOffset(block, bs);
    if (countOffset === undefined) throw corrupt('directory block has no room for its checksum (metadata_csum)', where);
    if (!dxNodeChecksumMatches(seed, block, countOffset)) throw corrupt('htree index block checksum does not match its contents', where);
  }

  /** One block, from the cache. The returned bytes must not be modified. */
  readBlock(block: number): Uint8Array {
    const hit = this.cache.get(block);
    if (hit !== undefined) {
      // Most recently used last (a Map keeps insertion order).
      this.cache.delete(block);
      this.cache.set(block, hit);
      return hit;
    }
    if (block < 0 || block >= this.blocksCount) throw corrupt(`read of block ${block} outside the filesystem`);
    const data = readBytes(this.source, block * this.blockSize, this.blockSize);
    if (this.cache.size >= this.cacheBlocks) this.cache.delete(this.cache.keys().next().value as number);
    this.cache.set(block, data);
    return data;
  }

  /** `count` consecutive blocks in one read (not cached: for sequential scans). */
  readBlocks(start: number, count: number): Uint8Array {
    if (start < 0 || count < 0 || start + count > this.blocksCount) {
      throw corrupt(`read of blocks ${start}..${start + count - 1} outside the filesystem`);
    }
    return readBytes(this.source, start * this.blockSize, count * this.blockSize);
  }

  /** Fills `into` (a whole number of blocks) from block `start` on: sequential scans reuse one buffer. */
  readBlocksInto(into: Uint8Array, start: number): void {
    const count = into.length / this.blockSize;
    if (!Number.isInteger(count) || start < 0 || start + count > this.blocksCount) {
      throw corrupt(`read of blocks ${start}..${start + count - 1} outside the filesystem`);
    }
    if (start * this.blockSize + into.length > this.source.size) {
      throw new Ext2Error('io', `read of ${into.length} bytes at offset ${start * this.blockSize} is past the end of the device (${this.source.size} bytes)`);
    }
    this.source.readInto(into, start * this.blockSize);
  }

  /** Byte position of inode `ino` in its inode table. */
  inodePosition(ino: number): number {
    const { sb } = this;
    if (!Number.isInteger(ino) || ino < 1 || ino > sb.inodesCount) {
      throw corrupt(`inode number ${ino} is out of range (1..${sb.inodesCount})`);
    }
    const group = Math.floor((ino - 1) / sb.inodesPerGroup);
    const index = (ino - 1) % sb.inodesPerGroup;
    return this.groups.inodeTable[group]! * this.blockSize + index * sb.inodeSize;
  }

  readInode(ino: number): Inode {
    return decodeInode(this.rawInode(ino), ino, this.sb.inodeSize);
  }

  /**
   * The on-disk bytes of inode `ino` (inodeSize of them), read through the inode windows. Valid
   * only until the next inode read: the window's buffer is reused.
   */
  private rawInode(ino: number): Uint8Array {
    const pos = this.inodePosition(ino);
    const start = pos - (pos % INODE_WINDOW_BYTES);
    let w = this.inodeWindows.find((x) => x.start === start);
    if (w === undefined) {
      // Reuse the least recently used window's buffer: decodeInode copies what it keeps, so no
      // inode read allocates (passes over a large tree read hundreds of thousands of them).
      w = this.inodeWindows.reduce((a, b) => (a.used <= b.used ? a : b));
      const length = Math.min(INODE_WINDOW_BYTES, this.source.size - start);
      if (pos + this.sb.inodeSize > start + length) {
        throw new Ext2Error('io', `inode ${ino} at offset ${pos} is past the end of the device (${this.source.size} bytes)`);
      }
      w.start = -1; // invalid until the read succeeds
      this.source.readInto(w.bytes.subarray(0, length), start);
      w.start = start;
    }
    w.used = ++this.inodeReads;
    const at = pos - start;
    return w.bytes.subarray(at, at + this.sb.inodeSize);
  }

  /**
   * Every extended attribute of an inode, as getxattr(2) gives them (POSIX ACLs converted to the
   * userspace format): those in the inode's body first, then those of its xattr block, each in
   * entry order (the order listxattr(2) lists them in). Damage is an Ext2Error naming the inode.
   */
  readXattrs(inode: Inode, ino: number = inode.ino, where: Ext2Location = { inode: ino }): Xattr[] {
    const seen = new Set<string>();
    let out = decodeInodeXattrs(this.rawInode(ino), this.sb.inodeSize, where, seen);
    // An inline inode's system.data is where its bytes are, not an attribute: the kernel lists none.
    if (this.hasInlineData(inode)) out = out.filter((x) => x.name !== INLINE_DATA_XATTR);
    const block = this.xattrBlock(inode);
    if (block !== 0) {
      if (block < this.firstDataBlock || block >= this.blocksCount) {
        throw corrupt(`extended attribute block ${block} is outside the filesystem`, where);
      }
      out.push(...decodeXattrBlock(this.readBlock(block), { ...where, block }, seen).xattrs);
    }
    return out;
  }

  /** How many logical blocks of data an inode may map (the e2fsck rule: data at k needs size ≥ k·bs). */
  logicalLimit(inode: Inode): number {
    const type = inode.mode & S_IFMT;
    if (type === S_IFDIR) return inode.size / this.blockSize + this.sb.preallocDirBlocks;
    if (type === S_IFLNK) return 1;
    // An extent-mapped file may hold blocks past its size (fallocate with KEEP_SIZE): e2fsck accepts them.
    if (this.usesExtents(inode)) return MAX_EXTENT_LOGICAL;
    return Math.min(Math.floor(inode.size / this.blockSize) + 1, maxMappableBlocks(this.blockSize));
  }

  /** Whether the inode keeps its bytes inside itself (inline_data: EXT4_INLINE_DATA_FL), not in blocks. */
  hasInlineData(inode: Inode): boolean {
    return (inode.flags & INODE_FLAGS.inline_data) !== 0;
  }

  /** An inline inode's bytes: i_block, then its system.data attribute (inline-data.ts). */
  inlineData(inode: Inode, where: Ext2Location = { inode: inode.ino }): Uint8Array {
    return inlineDataOf(inode.blockBytes, decodeInodeXattrs(this.rawInode(inode.ino), this.sb.inodeSize, where), where);
  }

  /** Whether i_block holds an extent tree (EXTENTS_FL) rather than a block map. */
  usesExtents(inode: Inode): boolean {
    return (inode.flags & INODE_FLAGS.extents) !== 0;
  }

  /**
   * The data of a file as physical extents in logical order; holes are the gaps between them.
   * Only blocks within the file's size are returned (ceil(size / block size) logical blocks).
   * An inline inode has none.
   */
  fileExtents(inode: Inode, where: Ext2Location = { inode: inode.ino }): Extent[] {
    const extents: Extent[] = [];
    if (this.hasInlineData(inode)) return extents;
    const dataBlocks = Math.ceil(inode.size / this.blockSize);
    if (this.usesExtents(inode)) {
      // Unwritten extents are left out: they read as zeros, like holes.
      walkExtentTree(this, inode.blockBytes, this.logicalLimit(inode), where, this.inodeChecksumSeed(inode), {
        extent(logical, physical, length, unwritten) {
          if (unwritten || logical >= dataBlocks) return;
          const n = Math.min(length, dataBlocks - logical);
          const last = extents[extents.length - 1];
          if (last !== undefined && last.logical + last.length === logical && last.physical + last.length === physical) last.length += n;
          else extents.push({ logical, physical, length: n });
        },
        node() {},
      });
      return extents;
    }
    walkBlockMap(this, inode.block, this.logicalLimit(inode), where, {
      data(logical, physical) {
        if (logical < dataBlocks) appendToExtents(extents, logical, physical);
      },
      mapBlock() {},
    });
    return extents;
  }

  /**
   * Reads `length` bytes of a file from `offset` (holes read as zeros). The caller bounds the
   * length: this allocates what it is asked for.
   */
  readFile(inode: Inode, offset: number, length: number, extents: Extent[] = this.fileExtents(inode)): Uint8Array {
    const end = Math.min(offset + length, inode.size);
    const out = new Uint8Array(Math.max(0, end - offset));
    if (this.hasInlineData(inode)) {
      // Past its inline bytes an inline file reads as zeros (the kernel zero-fills the page).
      const data = this.inlineData(inode);
      if (offset < data.length) out.set(data.subarray(offset, Math.min(end, data.length)));
      return out;
    }
    const bs = this.blockSize;
    for (const e of extents) {
      const eStart = e.logical * bs;
      const eEnd = (e.logical + e.length) * bs;
      const from = Math.max(eStart, offset);
      const to = Math.min(eEnd, end);
      if (from >= to) continue;
      const bytes = readBytes(this.source, e.physical * bs + (from - eStart), to - from);
      out.set(bytes, from - offset);
    }
    return out;
  }

  /** The target bytes of a symlink: inside i_block (fast), in its one data block (slow), or its inline data. */
  readSymlink(inode: Inode): Uint8Array {
    if (this.hasInlineData(inode)) return this.inlineData(inode).slice(0, inode.size);
    if (this.isFastSymlink(inode)) {
      return inode.blockBytes.slice(0, Math.min(inode.size, 59));
    }
    if (inode.size >= this.blockSize) throw corrupt(`symlink target of ${inode.size} bytes is longer than a block`, { inode: inode.ino });
    return this.readFile(inode, 0, inode.size);
  }

  /**
   * The inode's extended attribute block, 0 for none: i_file_acl, with 64bit (on Linux) its high
   * 16 bits from i_file_acl_high, as the kernel reads it; a volume over 16 TiB may place it there.
   */
  xattrBlock(inode: Inode): number {
    return inode.fileAcl + (this.xattrBlockHigh ? inode.fileAclHigh * 2 ** 32 : 0);
  }

  /** A fast symlink keeps its target in i_block: no data blocks (i_blocks counts only an EA block). */
  isFastSymlink(inode: Inode): boolean {
    if ((inode.mode & S_IFMT) !== S_IFLNK || this.hasInlineData(inode)) return false;
    const eaBlocks = this.xattrBlock(inode) !== 0 ? this.blockSize / 512 : 0;
    return inode.blocks512 - eaBlocks === 0;
  }

  /**
   * Calls `visit` for every used record of a directory, block by block in logical order (an
   * inline directory's as readdir gives them: '.' and '..' first).
   */
  forEachDirEntry(
    inode: Inode,
    where: Ext2Location,
    visit: (entry: DirEntry, logicalBlock: number) => void,
    extents: Extent[] = this.fileExtents(inode, where),
  ): void {
    if (this.hasInlineData(inode)) {
      forEachInlineDirEntry(inode.ino, this.inlineData(inode, where), this.hasFiletype, where, visit);
      return;
    }
    const seed = this.inodeChecksumSeed(inode);
    for (const e of extents) {
      for (let i = 0; i < e.length; i++) {
        const logical = e.logical + i;
        const block = this.readBlock(e.physical + i);
        this.verifyDirectoryBlock(block, seed, { ...where, block: e.physical + i });
        forEachDirEntry(block, this.blockSize, this.hasFiletype, { ...where, block: e.physical + i }, (entry) => visit(entry, logical));
      }
    }
  }

  isRegular(inode: Inode): boolean {
    return (inode.mode & S_IFMT) === S_IFREG;
  }
}

const hasMetadataCsum = (sb: Superblock): boolean => (sb.roCompat & RO_COMPAT.metadata_csum) !== 0;
/** gdt_csum or metadata_csum: descriptors are checksummed, and only then do their uninit flags and itable_unused count. */
const hasGroupChecksums = (sb: Superblock): boolean => (sb.roCompat & (RO_COMPAT.gdt_csum | RO_COMPAT.metadata_csum)) !== 0;

/**
 * Where an htree node's count/limit pair lies, if `block` is one: a root ('.' of 12 bytes, '..' to
 * the end, an 8-byte root info) at 32, an interior node (one empty record over the whole block) at 8.
 */
function dxCountOffset(block: Uint8Array, bs: number): number | undefined {
  const rec = (o: number): number => decodeRecLen(u16(block, o + 4), bs);
  if (rec(0) === bs && block[6] === 0 && u32(block, 0) === 0) return 8;
  if (rec(0) === 12 && rec(12) === bs - 12 && u32(block, 24) === 0 && block[29] === 8) return 32;
  return undefined;
}

/**
 * The primary group descriptor table: one run after the superblock, or with meta_bg the first
 * s_first_meta_bg blocks there and each further block at the start of its meta group.
 */
function readDescriptorTable(source: ByteSource, sb: Superblock): Uint8Array {
  const bytes = sb.groupCount * sb.descriptorSize;
  if ((sb.incompat & INCOMPAT.meta_bg) === 0) return readBytes(source, (sb.firstDataBlock + 1) * sb.blockSize, bytes);
  const out = new Uint8Array(bytes);
  for (let i = 0; i * sb.blockSize < bytes; i++) {
    const length = Math.min(sb.blockSize, bytes - i * sb.blockSize);
    out.set(readBytes(source, primaryDescriptorBlock(sb, i) * sb.blockSize, length), i * sb.blockSize);
  }
  return out;
}

/**
 * mmp: a volume that multi-mount protection says another system (or e2fsck) is using is refused
 * as that, before anything else it says is believed: while it is in use, its journal needs
 * recovery and its blocks change under us. Read as soon as the superblock is decoded, so only the
 * fields this needs are checked here.
 */
function checkMultiMountProtection(source: ByteSource, sb: Superblock, raw: Uint8Array): void {
  if (sb.magic !== EXT2_MAGIC || sb.revLevel === 0 || (sb.incompat & INCOMPAT.mmp) === 0) return;
  if (sb.logBlockSize > 6) return; // validateSuperblock refuses it
  const blocks = Math.floor(source.size / sb.blockSize);
  if (sb.mmpBlock <= sb.firstDataBlock || sb.mmpBlock >= Math.min(sb.blocksCount, blocks)) {
    throw corrupt(`the multi-mount protection block ${sb.mmpBlock} is outside the filesystem`);
  }
  const metadataCsum = hasMetadataCsum(sb);
  const seed = metadataCsum ? filesystemSeed(raw, (sb.incompat & INCOMPAT.metadata_csum_seed) !== 0) : 0;
  checkMmpBlock(readBytes(source, sb.mmpBlock * sb.blockSize, 1024), sb.mmpBlock, metadataCsum, seed);
}
