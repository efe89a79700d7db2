import { S_IFDIR, S_IFMT, S_IFREG, fileTypeOfMode, type FileType, type Xattr } from '@fsconv/base';
import { Bitmap, allBitsSet, bitIsSet, countSetBits } from '@fsconv/base';
import { walkBlockMap, maxMappableBlocks } from './block-map.js';
import { MAX_EXTENT_LOGICAL, walkExtentTree } from './extent-tree.js';
import { Ext2Error, corrupt, unsupported, type Ext2Location } from './errors.js';
import { COMPAT, INCOMPAT, RO_COMPAT } from './features.js';
import { checkHtree } from './htree.js';
import { BG_INODE_UNINIT } from './groups.js';
import {
  BAD_BLOCKS_INO, DIRENT_TYPE, INODE_FLAGS, JOURNAL_INO, RESIZE_INO, ROOT_INO,
  decodeInode, type Inode,
} from './inode.js';
import { checkJournalSuperblock } from './jbd2-superblock.js';
import { u32 } from '@fsconv/base';
import { nameKey } from '@fsconv/base';
import { CREATOR_OS_HURD } from './superblock.js';
import type { Ext2Volume } from './volume.js';
import { walkTree } from './walk.js';
import { decodeInodeXattrs, decodeXattrBlock } from './xattr.js';
import { inlineDataOf } from './inline-data.js';
import { inodeChecksumMatches, orphanBlockChecksumMatches, xattrBlockChecksumMatches } from './checksums.js';

/** The last 8 bytes of every orphan file block: this magic, then the block's checksum. */
const ORPHAN_BLOCK_MAGIC = 0x0b10ca04;

/** Cluster sizes FAT can use; `info` reports what the data would take rounded to each. */
export const CLUSTER_SIZES = [512, 1024, 2048, 4096, 8192, 16384, 32768, 65536] as const;

/** What a full check learned about a filesystem (the numbers `fsconv info` prints). */
export interface Ext2Summary {
  blocks: {
    total: number;
    free: number;
    /** Superblock copies, descriptor tables, reserved GDT blocks, bitmaps, inode tables. */
    metadata: number;
    /** Data, map and extended-attribute blocks of files, directories and symlinks. */
    fileData: number;
    journal: number;
    bad: number;
    /** Blocks of other reserved inodes (resize inode's map, boot loader inode). */
    reservedInodes: number;
  };
  inodes: { total: number; used: number; free: number };
  files: number;
  directories: number;
  symlinks: number;
  fifos: number;
  charDevices: number;
  blockDevices: number;
  sockets: number;
  /** Regular files with more than one name. */
  hardLinkedFiles: number;
  /** Names beyond the first of hard-linked files (the copies FAT needs). */
  extraHardLinks: number;
  /** Sum of regular file sizes, each inode once. */
  fileBytes: number;
  /** Sum of regular file sizes over every name (hard links counted per name). */
  fileBytesAllNames: number;
  /** Sum of symlink target lengths over every name. */
  symlinkBytes: number;
  /** Per cluster size: files and symlink targets, every name, each rounded up to whole clusters. */
  clusterRounded: Array<{ clusterSize: number; bytes: number }>;
  /** Blocks listed in the bad blocks inode, ascending. */
  badBlocks: number[];
}

export interface CheckProgress {
  (phase: 'inodes' | 'bitmaps' | 'directories', done: number, total: number): void;
}

/** Used inodes found by the scan, in ascending order, as parallel typed arrays (no object per inode). */
class UsedInodes {
  ino = new Uint32Array(1024);
  mode = new Uint16Array(1024);
  links = new Uint16Array(1024);
  refs = new Uint32Array(1024);
  count = 0;

  add(ino: number, mode: number, links: number): void {
    if (this.count === this.ino.length) {
      const grow = <T extends Uint32Array | Uint16Array>(a: T): T => {
        const b = new (a.constructor as new (n: number) => T)(a.length * 2);
        b.set(a);
        return b;
      };
      this.ino = grow(this.ino);
      this.mode = grow(this.mode);
      this.links = grow(this.links);
      this.refs = grow(this.refs);
    }
    this.ino[this.count] = ino;
    this.mode[this.count] = mode;
    this.links[this.count] = links;
    this.count++;
  }

  /** Index of `ino`, or -1 when it is not in use. */
  find(ino: number): number {
    let lo = 0;
    let hi = this.count - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = this.ino[mid]!;
      if (v === ino) return mid;
      if (v < ino) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }
}

/** Set bits of each byte value. */
const POPCOUNT = Uint8Array.from({ length: 256 }, (_, b) => {
  let n = 0;
  for (let x = b; x !== 0; x >>= 1) n += x & 1;
  return n;
});

/**
 * Checks the whole filesystem the way e2fsck -fn would for the features we accept, and refuses
 * (throws Ext2Error) at the first inconsistency: every block is claimed once (metadata, or one
 * inode's data/map/xattr block), claims equal the block bitmap, in-use inodes equal the inode
 * bitmap, group counts are right, every in-use inode is reachable, link counts match names, and
 * every directory and htree index is sound. Reads metadata only, sequentially where it can.
 */
export function checkFilesystem(vol: Ext2Volume, progress?: CheckProgress): Ext2Summary {
  const { sb, layout, groups } = vol;
  const bs = vol.blockSize;
  const first = sb.firstDataBlock;
  const claimed = new Bitmap(sb.blocksCount - first);
  const used = new UsedInodes();
  /** Extended attribute blocks: how many inodes use each, and the first of them (for messages). */
  const eaRefs = new Map<number, number>();
  const eaFirstUser = new Map<number, number>();
  /** Inodes with attributes both in their body and in a block: no name may be in both. */
  const eaInBoth: Array<{ ino: number; block: number; names: string[] }> = [];
  const badBlocks: number[] = [];
  const hasEa = (sb.compat & COMPAT.ext_attr) !== 0;
  const hasJournal = (sb.compat & COMPAT.has_journal) !== 0;
  const largeFile = (sb.roCompat & RO_COMPAT.large_file) !== 0;
  const hasExtents = (sb.incompat & INCOMPAT.extents) !== 0;
  const is64 = (sb.incompat & INCOMPAT['64bit']) !== 0;
  const hugeFile = (sb.roCompat & RO_COMPAT.huge_file) !== 0;
  const dirNlink = (sb.roCompat & RO_COMPAT.dir_nlink) !== 0;
  const extraIsizeFeature = (sb.roCompat & RO_COMPAT.extra_isize) !== 0;
  /** large_dir: directories may pass 2 GiB (i_size_high) and their htrees have three levels. */
  const largeDir = (sb.incompat & INCOMPAT.large_dir) !== 0;
  const inlineDataFeature = (sb.incompat & INCOMPAT.inline_data) !== 0;
  const linuxOs = sb.creatorOs === 0;
  const sectorsPerBlock = bs / 512;
  const summary: Ext2Summary = {
    blocks: { total: sb.blocksCount, free: 0, metadata: 0, fileData: 0, journal: 0, bad: 0, reservedInodes: 0 },
    inodes: { total: sb.inodesCount, used: 0, free: 0 },
    files: 0, directories: 0, symlinks: 0, fifos: 0, charDevices: 0, blockDevices: 0, sockets: 0,
    hardLinkedFiles: 0, extraHardLinks: 0, fileBytes: 0, fileBytesAllNames: 0, symlinkBytes: 0,
    clusterRounded: CLUSTER_SIZES.map((clusterSize) => ({ clusterSize, bytes: 0 })),
    badBlocks,
  };

  const claim = (block: number, where: Ext2Location, what: string): void => {
    if (claimed.testAndSet(block - first)) {
      throw corrupt(`${what} block ${block} is also used by something else (a block claimed twice)`, where);
    }
  };

  // Phase 0: fixed metadata.
  for (let g = 0; g < sb.groupCount; g++) {
    layout.forEachMetadataRun(g, (start, length, what) => {
      for (let b = start; b < start + length; b++) {
        if (b < first) continue; // block 0 of a 1 KiB filesystem lies before it
        claim(b, { group: g }, what);
        summary.blocks.metadata++;
      }
    });
  }

  if ((sb.incompat & INCOMPAT.mmp) !== 0) {
    claim(sb.mmpBlock, { block: sb.mmpBlock }, 'multi-mount protection');
    summary.blocks.metadata++;
  }

  // Inodes the superblock names for metadata kept in files: quota and the orphan file. They are
  // in use and named by no directory; their blocks are metadata, not anybody's file.
  const specialInodes = new Map<number, string>();
  if ((sb.roCompat & RO_COMPAT.quota) !== 0) {
    if (sb.usrQuotaInum !== 0) specialInodes.set(sb.usrQuotaInum, 'user quota');
    if (sb.grpQuotaInum !== 0) specialInodes.set(sb.grpQuotaInum, 'group quota');
  }
  if ((sb.compat & COMPAT.orphan_file) !== 0) specialInodes.set(sb.orphanFileInum, 'orphan file');
  const specialSeen = new Set<number>();

  // Phase 1: every inode table, group by group.
  const perGroupUsedInodes = new Uint32Array(sb.groupCount);
  const perGroupDirs = new Uint32Array(sb.groupCount);
  // One buffer for every group's table: a large disk has thousands of groups of mostly unused inodes,
  // so the loop looks at the link count in place and decodes only inodes in use.
  const table = new Uint8Array(layout.inodeTableBlocks * bs);
  const ibitmap = new Uint8Array(bs);
  for (let g = 0; g < sb.groupCount; g++) {
    // Without gdt_csum/metadata_csum the kernel ignores bg_flags. e2fsck -fn fails on INODE_UNINIT
    // there (exit 4) and only notes BLOCK_UNINIT (exit 0): the same here, the bitmap read as it is.
    if (!vol.groupChecksums && (groups.flags[g]! & BG_INODE_UNINIT) !== 0) {
      throw corrupt(`is marked uninitialised (flags 0x${groups.flags[g]!.toString(16)}) on a filesystem without gdt_csum or metadata_csum`, { group: g });
    }
    vol.readInodeBitmap(g, ibitmap);
    // The bits past the last inode of the group must be set (e2fsck: padding at end of inode bitmap).
    if (!allBitsSet(ibitmap, sb.inodesPerGroup, 8 * bs)) throw corrupt('padding at the end of the inode bitmap is not set', { group: g });
    // With group checksums, an INODE_UNINIT group has no inode in use and its table is not read (it
    // was never written: garbage on a real drive), and the last itable_unused inodes of any group were
    // never used: only the table before them is read, and none of them may be marked in use.
    const unused = groups.itableUnused[g]!;
    if (vol.groupChecksums && unused > sb.inodesPerGroup) {
      throw corrupt(`says ${unused} inodes are unused at the end of its table, more than its ${sb.inodesPerGroup}`, { group: g });
    }
    const initialised = !vol.groupChecksums ? sb.inodesPerGroup
      : (groups.flags[g]! & BG_INODE_UNINIT) !== 0 ? 0 : sb.inodesPerGroup - unused;
    for (let i = initialised; i < sb.inodesPerGroup; i++) {
      if (bitIsSet(ibitmap, i)) {
        throw corrupt(`is marked in use but lies in its group's unused inode area (${(groups.flags[g]! & BG_INODE_UNINIT) !== 0 ? 'INODE_UNINIT' : `the last ${unused} inodes`})`, { inode: g * sb.inodesPerGroup + i + 1 });
      }
    }
    const tableBlocks = Math.ceil((initialised * sb.inodeSize) / bs);
    if (tableBlocks > 0) vol.readBlocksInto(table.subarray(0, tableBlocks * bs), groups.inodeTable[g]!);
    for (let i = 0; i < initialised; i++) {
      const ino = g * sb.inodesPerGroup + i + 1;
      const at = i * sb.inodeSize;
      const reserved = ino < sb.firstIno;
      const inUse = reserved || (table[at + 0x1a]! | table[at + 0x1b]!) !== 0;
      if (bitIsSet(ibitmap, i) !== inUse) {
        throw corrupt(
          inUse ? 'is in use but marked free in the inode bitmap' : 'is marked in use in the inode bitmap but has no links',
          { inode: ino },
        );
      }
      // e2fsck verifies every inode of the initialised table, in use or not (a free inode with a bad
      // checksum is "passes checks, but checksum does not match"); an all-zero inode passes.
      if (vol.metadataCsum && !inodeChecksumMatches(vol.checksumSeed, ino, table.subarray(at, at + sb.inodeSize), sb.inodeSize)) {
        throw corrupt(`inode checksum does not match its contents${inUse ? '' : ' (a free inode)'}`, { inode: ino });
      }
      if (!inUse) continue;
      perGroupUsedInodes[g]!++;
      const inode = decodeInode(table.subarray(at, at + sb.inodeSize), ino, sb.inodeSize);
      const special = specialInodes.get(ino);
      if (special !== undefined) {
        checkSpecialInode(inode, special);
        specialSeen.add(ino);
        continue;
      }
      if (reserved && ino !== ROOT_INO) {
        checkReservedInode(inode);
        continue;
      }
      // The attributes in the inode's body (and its i_extra_isize), decoded in full.
      const inBody = decodeInodeXattrs(table.subarray(at, at + sb.inodeSize), sb.inodeSize, { inode: ino });
      const type = checkInodeFields(inode, inBody);
      if (inBody.length > 0 && vol.xattrBlock(inode) !== 0) eaInBoth.push({ ino, block: vol.xattrBlock(inode), names: inBody.map((x) => x.name) });
      if (type === 'dir') perGroupDirs[g]!++;
      used.add(ino, inode.mode, inode.linksCount);
      accountInode(inode, type);
    }
    progress?.('inodes', g + 1, sb.groupCount);
  }

  for (const [ino, what] of specialInodes) {
    if (!specialSeen.has(ino)) throw corrupt(`the superblock names inode ${ino} as the ${what}, but it is not in use`, { inode: ino });
  }

  // Extended attribute blocks: each claimed once and decoded in full once (a block shared by
  // several inodes is normal), its reference count must match its users.
  const namesOfBlock = new Map<number, Set<string>>(eaInBoth.map((x) => [x.block, new Set<string>()]));
  for (const [block, refs] of eaRefs) {
    const where = { inode: eaFirstUser.get(block)!, block };
    const bytes = vol.readBlock(block);
    if (vol.metadataCsum && !xattrBlockChecksumMatches(vol.checksumSeed, block, bytes)) {
      throw corrupt('extended attribute block checksum does not match its contents', where);
    }
    const { header, xattrs } = decodeXattrBlock(bytes, where);
    if (header.refcount !== refs) {
      throw corrupt(`extended attribute block has reference count ${header.refcount}, but ${refs} inodes use it`, where);
    }
    const names = namesOfBlock.get(block);
    if (names !== undefined) for (const x of xattrs) names.add(x.name);
  }
  for (const { ino, block, names } of eaInBoth) {
    const twice = names.find((n) => namesOfBlock.get(block)!.has(n));
    if (twice !== undefined) {
      throw corrupt(`extended attribute ${JSON.stringify(twice)} is both in the inode and in its block`, { inode: ino, block });
    }
  }

  // Phase 2: claims against the block bitmaps, and the group counts.
  let freeTotal = 0;
  const bitmap = new Uint8Array(bs);
  for (let g = 0; g < sb.groupCount; g++) {
    vol.readBlockBitmap(g, bitmap);
    const start = layout.groupStart(g);
    const n = layout.groupEnd(g) - start;
    const base = g * sb.blocksPerGroup; // bit index of this group's first block in `claimed`
    let free = 0;
    // Whole bytes first (blocksPerGroup is a multiple of 8, so `base` is byte aligned): equal bytes
    // need no bit-by-bit look; the first differing byte is looked at bit by bit below, to name the block.
    let i = 0;
    const whole = n >>> 3;
    // Most groups agree in full: one native comparison, then the free count a word at a time.
    if (Buffer.compare(bitmap.subarray(0, whole), claimed.bytes.subarray(base / 8, base / 8 + whole)) === 0) {
      free = 8 * whole - countSetBits(bitmap, whole);
      i = 8 * whole;
    }
    for (let k = i >>> 3; k < whole; k++) {
      const d = bitmap[k]!;
      if (d !== claimed.bytes[base / 8 + k]) break;
      free += 8 - POPCOUNT[d]!;
      i += 8;
    }
    for (; i < n; i++) {
      const onDisk = bitIsSet(bitmap, i);
      const isClaimed = claimed.get(base + i);
      if (onDisk !== isClaimed) {
        throw corrupt(
          isClaimed ? 'is in use but marked free in the block bitmap' : 'is marked in use in the block bitmap but nothing uses it',
          { block: start + i },
        );
      }
      if (!onDisk) free++;
    }
    // The last group's bitmap must mark the blocks past the end of the filesystem as used.
    if (!allBitsSet(bitmap, n, sb.blocksPerGroup)) throw corrupt(`padding at the end of the block bitmap is not set`, { group: g });
    if (groups.freeBlocks[g] !== free) {
      throw corrupt(`free blocks count is ${groups.freeBlocks[g]}, counted ${free}`, { group: g });
    }
    const freeInodes = sb.inodesPerGroup - perGroupUsedInodes[g]!;
    if (groups.freeInodes[g] !== freeInodes) {
      throw corrupt(`free inodes count is ${groups.freeInodes[g]}, counted ${freeInodes}`, { group: g });
    }
    if (groups.usedDirs[g] !== perGroupDirs[g]) {
      throw corrupt(`directories count is ${groups.usedDirs[g]}, counted ${perGroupDirs[g]}`, { group: g });
    }
    freeTotal += free;
    progress?.('bitmaps', g + 1, sb.groupCount);
  }
  summary.blocks.free = freeTotal;
  summary.inodes.used = perGroupUsedInodes.reduce((a, b) => a + b, 0);
  summary.inodes.free = sb.inodesCount - summary.inodes.used;

  // Phase 3: the directory tree: every name points to an in-use inode of the type it says, once per name.
  const rootIndex = used.find(ROOT_INO);
  if (rootIndex < 0) throw corrupt('the root directory is not in use', { inode: ROOT_INO });
  let dirsSeen = 0;
  let namesInDir = new Set<string>();
  walkTree(vol, {
    directory(ino, path, inode, extents, parentIno) {
      dirsSeen++;
      used.refs[used.find(ino)]!++; // its '.'
      used.refs[used.find(parentIno)]!++; // its '..' (validated by the walk to be the parent)
      namesInDir = new Set<string>();
      if ((inode.flags & INODE_FLAGS.index) !== 0) {
        if ((sb.compat & COMPAT.dir_index) === 0) {
          throw corrupt('has the htree index flag on a filesystem without dir_index', { inode: ino, path });
        }
        const blockCount = inode.size / bs;
        const seed = vol.inodeChecksumSeed(inode);
        checkHtree({
          ino, path, blockSize: bs, blockCount,
          readBlock: (logical) => {
            let rest = logical;
            for (const e of extents) {
              if (rest < e.length) {
                // Checksums first: nothing a block says is used before it is known to be what was written.
                const block = vol.readBlock(e.physical + rest);
                vol.verifyDirectoryBlock(block, seed, { inode: ino, path, block: e.physical + rest });
                return block;
              }
              rest -= e.length;
            }
            throw corrupt(`htree index refers to block #${logical} past the end of the directory`, { inode: ino, path });
          },
          hashSeed: sb.hashSeed, defHashVersion: sb.defHashVersion, sbFlags: sb.flags, largeDir, metadataCsum: vol.metadataCsum,
        });
      }
      progress?.('directories', dirsSeen, summary.directories);
    },
    entry(e) {
      const where = { inode: e.ino, path: e.path };
      if (e.ino > sb.inodesCount || (e.ino < sb.firstIno && e.ino !== ROOT_INO) || e.ino === ROOT_INO) {
        throw corrupt(`directory entry points to ${e.ino === ROOT_INO ? 'the root directory' : 'a reserved or out-of-range inode'}`, where);
      }
      const idx = used.find(e.ino);
      if (idx < 0) throw corrupt('directory entry points to an inode that is not in use', where);
      const type = fileTypeOfMode(e.inode.mode)!;
      if (vol.hasFiletype && e.fileType !== DIRENT_TYPE[type]) {
        throw corrupt(`directory entry has file type ${e.fileType}, but the inode is a ${type} (${DIRENT_TYPE[type]})`, where);
      }
      const key = nameKey(e.name);
      if (namesInDir.has(key)) throw corrupt('the name appears twice in its directory', where);
      namesInDir.add(key);
      used.refs[idx]!++;
    },
  });

  // Phase 4: link counts; an in-use inode nobody names is unattached.
  for (let i = 0; i < used.count; i++) {
    const ino = used.ino[i]!;
    if (used.refs[i] === 0) throw corrupt('is in use but no directory entry points to it (unattached)', { inode: ino });
    // dir_nlink: a directory with more than 65,000 links says 1 (as the kernel keeps it).
    if (dirNlink && used.links[i] === 1 && (used.mode[i]! & S_IFMT) === S_IFDIR && used.refs[i]! > 65000) continue;
    if (used.refs[i] !== used.links[i]) {
      throw corrupt(`link count is ${used.links[i]}, but ${used.refs[i]} names point to it`, { inode: ino });
    }
  }
  badBlocks.sort((a, b) => a - b);
  return summary;

  // ----- helpers (closures over the scan state) -----

  /** Checks the fields of an in-use inode (not reserved) and claims its blocks; `inBody` are the attributes of its body. */
  function checkInodeFields(inode: Inode, inBody: readonly Xattr[]): FileType {
    const where = { inode: inode.ino };
    const type = fileTypeOfMode(inode.mode);
    if (type === undefined) throw corrupt(`has an invalid mode 0o${inode.mode.toString(8)}`, where);
    if (inode.ino === ROOT_INO && type !== 'dir') throw corrupt('the root inode is not a directory', where);
    if (inode.dtime !== 0) throw corrupt(`is in use but has a deletion time set (${inode.dtime})`, where);
    checkCommonFields(inode, where);
    if ((inode.flags & INODE_FLAGS.index) !== 0 && type !== 'dir') throw corrupt('has the htree index flag but is not a directory', where);
    if ((inode.flags & INODE_FLAGS.imagic) !== 0 && (sb.compat & COMPAT.imagic_inodes) === 0) {
      throw corrupt('has the imagic flag on a filesystem without imagic_inodes', where);
    }
    if (type !== 'file' && inode.sizeHigh !== 0 && !(type === 'dir' && largeDir)) {
      throw corrupt(`has i_size_high ${inode.sizeHigh} but is not a regular file${type === 'dir' ? ' (a directory over 4 GiB needs large_dir)' : ''}`, where);
    }
    const extentMapped = vol.usesExtents(inode);
    if (extentMapped && type !== 'file' && type !== 'dir' && type !== 'symlink') throw corrupt(`is a ${type} with the extents flag`, where);
    if (type === 'file' && !extentMapped && inode.size > maxMappableBlocks(bs) * bs) {
      throw corrupt(`i_size ${inode.size} is larger than a block-mapped file can be with ${bs}-byte blocks`, where);
    }
    if (type === 'file' && extentMapped && inode.size > MAX_EXTENT_LOGICAL * bs) {
      throw corrupt(`i_size ${inode.size} is larger than an extent-mapped file can be with ${bs}-byte blocks`, where);
    }
    if (type === 'file' && !largeFile && inode.size >= 2 ** 31) {
      throw corrupt(`is ${inode.size} bytes (2 GiB or more) on a filesystem without large_file`, where);
    }
    let blocks = claimEaBlock(inode, where);
    if (!linuxOs && sb.creatorOs === CREATOR_OS_HURD && inode.osd1 !== 0) {
      // A Hurd translator lives in a block of its own, counted in i_blocks.
      if (inode.osd1 < first || inode.osd1 >= sb.blocksCount) throw corrupt(`translator block ${inode.osd1} is outside the filesystem`, where);
      claim(inode.osd1, where, 'translator');
      blocks++;
    }
    if ((inode.flags & INODE_FLAGS.inline_data) !== 0) {
      // Inline data (inline-data.ts): no blocks but an attribute block; a directory or symlink is
      // exactly its inline bytes, a file may be longer (it reads zeros past them, as the kernel
      // reads it; e2fsck -fn accepts it).
      if (type !== 'file' && type !== 'dir' && type !== 'symlink') throw corrupt(`is a ${type} with the inline data flag`, where);
      if (extentMapped) throw corrupt('has both the inline data and extents flags', where);
      if ((inode.flags & INODE_FLAGS.index) !== 0) throw corrupt('is an inline directory with the htree index flag', where);
      const inlineSize = inlineDataOf(inode.blockBytes, inBody, where).length;
      if (type !== 'file' && inode.size !== inlineSize) {
        throw corrupt(`inline ${type === 'dir' ? 'directory' : 'symlink'} has size ${inode.size}, not its ${inlineSize} bytes of inline data`, where);
      }
      checkIBlocks(inode, blocks, where);
      summary.blocks.fileData += blocks;
      return type;
    }
    switch (type) {
      case 'file':
      case 'dir':
        blocks += claimMap(inode, where, 'data');
        break;
      case 'symlink':
        if (inode.size === 0 || (inode.flags & INODE_FLAGS.index) !== 0) throw corrupt('is a symlink with size 0', where);
        if (vol.isFastSymlink(inode)) {
          if (extentMapped) throw corrupt('fast symlink has the extents flag', where);
          if (inode.size >= 60) throw corrupt(`fast symlink has size ${inode.size}, more than fits in the inode`, where);
          const len = inode.blockBytes.indexOf(0);
          if ((len < 0 ? 60 : len) !== inode.size) throw corrupt(`fast symlink target length differs from its size ${inode.size}`, where);
        } else {
          if (inode.size >= bs) throw corrupt(`symlink target of ${inode.size} bytes does not fit in one block`, where);
          if (!extentMapped) {
            for (let i = 1; i < 15; i++) {
              if (inode.block[i] !== 0) throw corrupt('slow symlink maps more than its first block', where);
            }
          }
          blocks += claimMap(inode, where, 'data');
          const first = vol.fileExtents(inode, where)[0];
          if (first === undefined || first.logical !== 0) throw corrupt('slow symlink has no first block', where);
          const target = vol.readBlock(first.physical);
          const len = target.subarray(0, bs).indexOf(0);
          if ((len < 0 ? bs : len) !== inode.size) throw corrupt(`symlink target length differs from its size ${inode.size}`, where);
        }
        break;
      default:
        // e2fsck: "Special (device/socket/fifo) inode has non-zero size" (exit 4).
        if (inode.size !== 0) throw corrupt(`is a ${type} with a non-zero size (${inode.size})`, where);
        // Device numbers live in i_block: nothing to map. Immutable/append-only devices must have the rest zero.
        if ((inode.flags & 0x30) !== 0) {
          for (let i = 4; i < 15; i++) if (inode.block[i] !== 0) throw corrupt('special file has a block map', where);
        }
    }
    checkIBlocks(inode, blocks, where);
    summary.blocks.fileData += blocks;
    return type;
  }

  function checkCommonFields(inode: Inode, where: Ext2Location): void {
    if ((inode.flags & INODE_FLAGS.extents) !== 0 && !hasExtents) throw unsupported('uses extents (EXTENTS_FL) on a filesystem without the extents feature', where);
    if ((inode.flags & INODE_FLAGS.inline_data) !== 0 && !inlineDataFeature) throw unsupported('uses inline data on a filesystem without the inline_data feature', where);
    if ((inode.flags & INODE_FLAGS.ea_inode) !== 0) throw unsupported('is an EA inode on a filesystem without ea_inode', where);
    // casefold (name lookups without case) is refused as a feature; the flag without it is damage (e2fsck -fn exit 4).
    if ((inode.flags & INODE_FLAGS.casefold) !== 0) throw corrupt('has the casefold flag on a filesystem without casefold', where);
    if ((inode.flags & INODE_FLAGS.huge_file) !== 0 && !hugeFile) throw unsupported('has the huge_file flag on a filesystem without huge_file', where);
    if (inode.faddr !== 0) throw corrupt(`i_faddr is ${inode.faddr}, should be zero`, where);
    if (linuxOs && inode.fileAclHigh !== 0 && !is64) throw corrupt(`i_file_acl_hi is ${inode.fileAclHigh}, should be zero`, where);
    if (linuxOs && inode.blocksHigh !== 0 && !hugeFile) throw corrupt(`i_blocks_hi is ${inode.blocksHigh}, should be zero`, where);
    // i_extra_isize (e2fsck's check_inode_extra_space): 0, or 4..inode size − 128 in steps of 4, and with extra_isize at least the required size.
    const extra = inode.extraIsize - 128;
    if (sb.inodeSize > 128 && extra !== 0) {
      if (extra < 4 || extra > sb.inodeSize - 128 || extra % 4 !== 0) throw corrupt(`i_extra_isize ${extra} is invalid for ${sb.inodeSize}-byte inodes`, where);
      if (extraIsizeFeature && sb.minExtraIsize <= sb.inodeSize - 128 && extra < sb.minExtraIsize) throw corrupt(`i_extra_isize ${extra} is less than the required ${sb.minExtraIsize}`, where);
    }
  }

  /** i_blocks against the blocks an inode maps: 512-byte units, or (huge_file, HUGE_FILE_FL) filesystem blocks; i_blocks_hi only with huge_file. */
  function checkIBlocks(inode: Inode, blocks: number, where: Ext2Location): void {
    const raw = inode.blocks512 + (hugeFile ? inode.blocksHigh * 2 ** 32 : 0);
    const inBlocks = hugeFile && (inode.flags & INODE_FLAGS.huge_file) !== 0;
    const want = inBlocks ? blocks : blocks * sectorsPerBlock;
    if (raw !== want) throw corrupt(`i_blocks is ${raw}${inBlocks ? ' blocks' : ''}, should be ${want}`, where);
  }

  /** Claims the extended attribute block (shared blocks once); returns 1 when there is one. */
  function claimEaBlock(inode: Inode, where: Ext2Location): number {
    const eaBlock = vol.xattrBlock(inode);
    if (eaBlock === 0) return 0;
    if (!hasEa) throw corrupt(`i_file_acl is ${eaBlock}, should be zero (no ext_attr feature)`, where);
    if (eaBlock < first || eaBlock >= sb.blocksCount) {
      throw corrupt(`extended attribute block ${eaBlock} is outside the filesystem`, where);
    }
    const refs = eaRefs.get(eaBlock);
    if (refs === undefined) {
      claim(eaBlock, where, 'extended attribute');
      eaFirstUser.set(eaBlock, inode.ino);
    }
    eaRefs.set(eaBlock, (refs ?? 0) + 1);
    return 1;
  }

  /** Walks an inode's block map claiming every block; returns how many blocks (data + map) it has. */
  function claimMap(inode: Inode, where: Ext2Location, what: 'data' | 'bad' | 'journal' | 'reserved'): number {
    let count = 0;
    const limit = what === 'bad' ? maxMappableBlocks(bs) : vol.logicalLimit(inode);
    if (vol.usesExtents(inode)) {
      if (what === 'bad') throw corrupt('the bad blocks inode has the extents flag', where);
      const isDir = (inode.mode & S_IFMT) === S_IFDIR;
      walkExtentTree(vol, inode.blockBytes, limit, where, vol.inodeChecksumSeed(inode), {
        extent(logical, physical, length, unwritten) {
          // A directory's blocks are read as entries: an unwritten one would be stale bytes.
          if (unwritten && isDir) throw corrupt(`directory has an unwritten extent at logical ${logical}`, where);
          for (let b = physical; b < physical + length; b++) claim(b, where, 'data');
          count += length;
        },
        node(physical) {
          claim(physical, where, 'extent tree');
          count++;
        },
      });
      return count;
    }
    walkBlockMap(vol, inode.block, limit, where, {
      data(_logical, physical) {
        claim(physical, where, what === 'bad' ? 'bad' : 'data');
        if (what === 'bad') badBlocks.push(physical);
        count++;
      },
      mapBlock(physical) {
        claim(physical, where, 'block map');
        count++;
      },
    });
    return count;
  }

  function accountInode(inode: Inode, type: FileType): void {
    switch (type) {
      case 'file': {
        summary.files++;
        summary.fileBytes += inode.size;
        summary.fileBytesAllNames += inode.size * inode.linksCount;
        if (inode.linksCount > 1) {
          summary.hardLinkedFiles++;
          summary.extraHardLinks += inode.linksCount - 1;
        }
        for (const r of summary.clusterRounded) r.bytes += Math.ceil(inode.size / r.clusterSize) * r.clusterSize * inode.linksCount;
        break;
      }
      case 'dir': summary.directories++; break;
      case 'symlink':
        summary.symlinks++;
        summary.symlinkBytes += inode.size * inode.linksCount;
        for (const r of summary.clusterRounded) r.bytes += Math.ceil(inode.size / r.clusterSize) * r.clusterSize * inode.linksCount;
        break;
      case 'fifo': summary.fifos++; break;
      case 'char': summary.charDevices++; break;
      case 'block': summary.blockDevices++; break;
      case 'socket': summary.sockets++; break;
    }
  }

  /** Reserved inodes (1, 3..first_ino−1): the bad blocks list, the resize inode, the journal, others. */
  function checkReservedInode(inode: Inode): void {
    const ino = inode.ino;
    const where = { inode: ino };
    const hasMap = inode.block.some((b) => b !== 0);
    checkCommonFields(inode, where);
    if ((inode.flags & INODE_FLAGS.inline_data) !== 0) throw corrupt('reserved inode has the inline data flag', where);
    if (ino === BAD_BLOCKS_INO) {
      const n = claimMap(inode, where, 'bad');
      summary.blocks.bad = badBlocks.length;
      summary.blocks.reservedInodes += n - badBlocks.length;
      checkIBlocks(inode, n, where);
      return;
    }
    if (ino === RESIZE_INO) {
      checkResizeInode(inode, hasMap);
      return;
    }
    if (inode.mode !== 0 && (inode.mode & S_IFMT) !== S_IFREG) throw corrupt(`reserved inode has a bad mode 0o${inode.mode.toString(8)}`, where);
    if (ino === JOURNAL_INO && hasJournal) {
      if (sb.journalInum !== JOURNAL_INO) throw unsupported(`the journal is in inode ${sb.journalInum}, not the usual inode 8`);
      if ((inode.mode & S_IFMT) !== S_IFREG || inode.linksCount === 0) throw corrupt('the journal inode is not a regular file in use', where);
      const n = claimMap(inode, where, 'journal');
      summary.blocks.journal = n;
      checkIBlocks(inode, n, where);
      const extents = vol.fileExtents(inode, where);
      if (extents.length === 0 || extents[0]!.logical !== 0) throw corrupt('the journal has no first block', where);
      checkJournalSuperblock(vol.readBlock(extents[0]!.physical), bs, Math.ceil(inode.size / bs), where);
      return;
    }
    if (hasMap) {
      if (ino === JOURNAL_INO) throw corrupt('the journal inode has blocks but the filesystem has no journal', where);
      const n = claimMap(inode, where, 'reserved') + claimEaBlock(inode, where);
      summary.blocks.reservedInodes += n;
      checkIBlocks(inode, n, where);
    }
  }

  /**
   * A quota file or the orphan file: a regular file in use whose blocks are metadata. The orphan
   * file must list no inode: each of its blocks ends in the orphan magic (and a checksum with
   * metadata_csum), and an inode listed there awaits freeing by the kernel or e2fsck.
   */
  function checkSpecialInode(inode: Inode, what: string): void {
    const ino = inode.ino;
    const where = { inode: ino };
    checkCommonFields(inode, where);
    if ((inode.flags & INODE_FLAGS.inline_data) !== 0) throw corrupt(`the ${what} inode has the inline data flag`, where);
    if ((inode.mode & S_IFMT) !== S_IFREG) throw corrupt(`the ${what} inode is not a regular file (mode 0o${inode.mode.toString(8)})`, where);
    if (inode.dtime !== 0) throw corrupt(`the ${what} inode has a deletion time set (${inode.dtime})`, where);
    const n = claimMap(inode, where, 'reserved') + claimEaBlock(inode, where);
    summary.blocks.reservedInodes += n;
    checkIBlocks(inode, n, where);
    if (what !== 'orphan file') return;
    if (inode.size % bs !== 0) throw corrupt(`the orphan file's size ${inode.size} is not a whole number of blocks`, where);
    const extents = vol.fileExtents(inode, where);
    let next = 0;
    for (const e of extents) {
      if (e.logical !== next) throw corrupt(`the orphan file has a hole at block #${next}`, where);
      next += e.length;
    }
    if (next * bs < inode.size) throw corrupt(`the orphan file has a hole at block #${next}`, where);
    for (const e of extents) {
      for (let k = 0; k < e.length && (e.logical + k) * bs < inode.size; k++) {
        const physical = e.physical + k;
        const block = vol.readBlock(physical);
        const at = { inode: ino, block: physical };
        if (u32(block, bs - 8) !== ORPHAN_BLOCK_MAGIC) throw corrupt(`orphan file block #${e.logical + k} has a bad magic number`, at);
        if (vol.metadataCsum && !orphanBlockChecksumMatches(vol.checksumSeed, ino, inode.generation, physical, block)) {
          throw corrupt(`orphan file block #${e.logical + k} checksum does not match its contents`, at);
        }
        for (let o = 0; o < bs - 8; o += 4) {
          const listed = u32(block, o);
          if (listed !== 0) {
            throw new Ext2Error('unclean', `the orphan file lists inode ${listed}, deleted while open and not yet freed: mount and unmount the volume once, or run e2fsck on it`, at);
          }
        }
      }
    }
  }

  /**
   * The resize inode (resize_inode feature) maps the reserved GDT blocks through its DIND block:
   * entry (desc_blocks + i) mod p of the DIND is the primary reserved GDT block i, which lists its
   * backups in the groups holding superblock copies. Those blocks are metadata already; only the
   * DIND block itself is claimed here.
   */
  function checkResizeInode(inode: Inode, hasMap: boolean): void {
    const where = { inode: RESIZE_INO };
    if ((sb.compat & COMPAT.resize_inode) === 0) {
      if (hasMap) throw corrupt('the resize inode has blocks but the filesystem lacks resize_inode', where);
      return;
    }
    const dind = inode.block[13]!;
    for (let i = 0; i < 15; i++) {
      if (i !== 13 && inode.block[i] !== 0) throw corrupt('the resize inode is not valid (unexpected block pointers)', where);
    }
    if (dind === 0) {
      if (sb.reservedGdtBlocks !== 0) throw corrupt('the resize inode is not valid (no double indirect block)', where);
      return;
    }
    if (dind < first || dind >= sb.blocksCount) throw corrupt(`the resize inode's block ${dind} is outside the filesystem`, where);
    claim(dind, where, 'resize inode');
    summary.blocks.reservedInodes++;
    const p = bs / 4;
    const dindBuf = vol.readBlock(dind);
    const backups: number[] = [];
    for (let g = 1; g < sb.groupCount; g++) if (layout.hasSuperblock(g)) backups.push(g);
    for (let i = 0; i < sb.reservedGdtBlocks; i++) {
      const primary = first + 1 + layout.descBlocks + i;
      if (u32(dindBuf, 4 * ((layout.descBlocks + i) % p)) !== primary) {
        throw corrupt(`the resize inode is not valid (reserved GDT block ${primary} is not mapped)`, where);
      }
      const ind = vol.readBlock(primary);
      for (let k = 0; k < backups.length && k < p; k++) {
        const expected = layout.groupStart(backups[k]!) + 1 + layout.descBlocks + i;
        if (u32(ind, 4 * k) !== expected) {
          throw corrupt(`the resize inode is not valid (backup ${expected} of reserved GDT block ${primary} is not mapped)`, where);
        }
      }
    }
  }
}

export { Ext2Error };
