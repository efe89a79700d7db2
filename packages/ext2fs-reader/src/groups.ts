import { corrupt } from './errors.js';
import { setBitRange, u16, u32 } from '@fsconv/base';
import { INCOMPAT } from './features.js';
import { groupHasSuperblock, type Superblock } from './superblock.js';

/** Size of one group descriptor without the 64bit feature (with it: the superblock's s_desc_size, at least 64). */
export const GROUP_DESC_SIZE = 32;
/** bg_flags: the group's inode table, or its block bitmap, is not initialised (gdt_csum/metadata_csum only); its inode table is zeroed. */
export const BG_INODE_UNINIT = 0x1;
export const BG_BLOCK_UNINIT = 0x2;
export const BG_ITABLE_ZEROED = 0x4;

/**
 * The group descriptor table as typed arrays (one entry per group; no object per group, since a
 * large filesystem has hundreds of thousands of groups).
 */
export class GroupTable {
  /** Block numbers (64bit: above 2^32 too, hence doubles). */
  readonly blockBitmap: Float64Array;
  readonly inodeBitmap: Float64Array;
  readonly inodeTable: Float64Array;
  readonly freeBlocks: Uint32Array;
  readonly freeInodes: Uint32Array;
  readonly usedDirs: Uint32Array;
  readonly flags: Uint16Array;
  /** bg_itable_unused: inodes at the end of the group never used (gdt_csum/metadata_csum only). */
  readonly itableUnused: Uint32Array;
  /** metadata_csum: the bitmaps' stored checksums (the high halves only with 64-byte descriptors). */
  readonly blockBitmapCsum: Uint32Array;
  readonly inodeBitmapCsum: Uint32Array;

  constructor(readonly count: number) {
    this.blockBitmap = new Float64Array(count);
    this.inodeBitmap = new Float64Array(count);
    this.inodeTable = new Float64Array(count);
    this.freeBlocks = new Uint32Array(count);
    this.freeInodes = new Uint32Array(count);
    this.usedDirs = new Uint32Array(count);
    this.flags = new Uint16Array(count);
    this.itableUnused = new Uint32Array(count);
    this.blockBitmapCsum = new Uint32Array(count);
    this.inodeBitmapCsum = new Uint32Array(count);
  }

  /** Decodes `count` descriptors of `size` bytes from the raw table (the high halves from 64 bytes on). */
  static decode(bytes: Uint8Array, count: number, size: number = GROUP_DESC_SIZE): GroupTable {
    const t = new GroupTable(count);
    const wide = size >= 64;
    for (let g = 0; g < count; g++) {
      const o = g * size;
      const hi32 = (at: number): number => (wide ? u32(bytes, o + at) * 2 ** 32 : 0);
      const hi16 = (at: number): number => (wide ? u16(bytes, o + at) * 2 ** 16 : 0);
      t.blockBitmap[g] = u32(bytes, o) + hi32(0x20);
      t.inodeBitmap[g] = u32(bytes, o + 4) + hi32(0x24);
      t.inodeTable[g] = u32(bytes, o + 8) + hi32(0x28);
      t.freeBlocks[g] = u16(bytes, o + 12) + hi16(0x2c);
      t.freeInodes[g] = u16(bytes, o + 14) + hi16(0x2e);
      t.usedDirs[g] = u16(bytes, o + 16) + hi16(0x30);
      t.flags[g] = u16(bytes, o + 0x12);
      t.itableUnused[g] = u16(bytes, o + 0x1c) + hi16(0x32);
      t.blockBitmapCsum[g] = u16(bytes, o + 0x18) + hi16(0x38);
      t.inodeBitmapCsum[g] = u16(bytes, o + 0x1a) + hi16(0x3a);
    }
    return t;
  }
}

/**
 * Where block i of the primary group descriptor table lies (ext2fs_descriptor_block_loc2): right
 * after the superblock, or with meta_bg from block s_first_meta_bg on in the first group of its
 * meta group, after that group's superblock copy if it has one.
 */
export function primaryDescriptorBlock(sb: Superblock, i: number): number {
  const old = (sb.incompat & INCOMPAT.meta_bg) === 0 || i < sb.firstMetaBg;
  if (old) return sb.firstDataBlock + 1 + i;
  const g = i * (sb.blockSize / sb.descriptorSize);
  return sb.firstDataBlock + g * sb.blocksPerGroup + (groupHasSuperblock(sb, g) ? 1 : 0);
}

/**
 * Where everything of fixed position lives: superblock copies, descriptor tables, reserved GDT
 * blocks, bitmaps and inode tables. Derived from the superblock and descriptors, then validated.
 */
export class Layout {
  /** Blocks taken by the whole group descriptor table. */
  readonly descBlocks: number;
  /** Descriptors in one block: with meta_bg, the groups of one meta group. */
  readonly descPerBlock: number;
  /**
   * Descriptor blocks kept after the superblock and its copies: all of them, or with meta_bg the
   * first s_first_meta_bg; the rest each lie in their own meta group.
   */
  readonly oldDescBlocks: number;
  readonly metaBg: boolean;
  /** Blocks taken by one group's inode table. */
  readonly inodeTableBlocks: number;

  constructor(
    readonly sb: Superblock,
    readonly groups: GroupTable,
  ) {
    this.descBlocks = Math.ceil((sb.groupCount * sb.descriptorSize) / sb.blockSize);
    this.descPerBlock = sb.blockSize / sb.descriptorSize;
    this.metaBg = (sb.incompat & INCOMPAT.meta_bg) !== 0;
    this.oldDescBlocks = this.metaBg ? Math.min(sb.firstMetaBg, this.descBlocks) : this.descBlocks;
    this.inodeTableBlocks = (sb.inodesPerGroup * sb.inodeSize) / sb.blockSize;
  }

  groupStart(g: number): number {
    return this.sb.firstDataBlock + g * this.sb.blocksPerGroup;
  }

  /** One past the last block of group g. */
  groupEnd(g: number): number {
    return Math.min(this.groupStart(g) + this.sb.blocksPerGroup, this.sb.blocksCount);
  }

  hasSuperblock(g: number): boolean {
    return groupHasSuperblock(this.sb, g);
  }

  /** meta_bg: whether group g lies in a meta group that keeps its descriptors itself. */
  private inMetaGroup(g: number): boolean {
    return this.metaBg && Math.floor(g / this.descPerBlock) >= this.oldDescBlocks;
  }

  /**
   * The run of blocks at the start of group g holding a superblock copy and, after it, a copy of
   * the descriptor blocks kept there (all, or with meta_bg the first s_first_meta_bg, copied only
   * in the meta groups before those) and the reserved GDT blocks; length 0 without a copy.
   */
  superblockRun(g: number): { start: number; length: number } {
    if (!this.hasSuperblock(g)) return { start: this.groupStart(g), length: 0 };
    // In group 0 with blocks > 1 KiB, block 0 holds both the boot area and the superblock.
    const descriptors = this.inMetaGroup(g) ? 0 : this.oldDescBlocks + (this.metaBg ? 0 : this.sb.reservedGdtBlocks);
    return { start: this.groupStart(g), length: 1 + descriptors };
  }

  /**
   * meta_bg: the descriptor block group g holds for its meta group (the first, second and last
   * group of each meta group from s_first_meta_bg on hold one, after their superblock copy), or -1.
   * As ext2fs_super_and_bgd_loc2 places them.
   */
  metaDescriptorBlock(g: number): number {
    if (!this.inMetaGroup(g)) return -1;
    const d = this.descPerBlock;
    const r = g % d;
    if (r !== 0 && r !== 1 && r !== d - 1) return -1;
    return this.groupStart(g) + (this.hasSuperblock(g) ? 1 : 0);
  }

  /** Calls `fn(start, length, what)` for every fixed metadata run of group g. */
  forEachMetadataRun(g: number, fn: (start: number, length: number, what: string) => void): void {
    const run = this.superblockRun(g);
    if (run.length > 0) fn(run.start, run.length, g === 0 ? 'superblock and group descriptors' : 'superblock backup');
    const meta = this.metaDescriptorBlock(g);
    if (meta >= 0) fn(meta, 1, 'meta_bg group descriptors');
    fn(this.groups.blockBitmap[g]!, 1, 'block bitmap');
    fn(this.groups.inodeBitmap[g]!, 1, 'inode bitmap');
    fn(this.groups.inodeTable[g]!, this.inodeTableBlocks, 'inode table');
  }

  /**
   * The block bitmap a BLOCK_UNINIT group stands for, as the kernel's ext4_init_block_bitmap builds
   * it: the superblock copy and descriptor run, the group's own bitmaps and inode table where they
   * lie inside it, and the bits past the end of the filesystem.
   */
  uninitialisedBlockBitmap(g: number, into: Uint8Array): void {
    into.fill(0);
    const start = this.groupStart(g);
    const end = this.groupEnd(g);
    const set = (b: number): void => {
      if (b >= start && b < end) into[(b - start) >>> 3]! |= 1 << ((b - start) & 7);
    };
    const run = this.superblockRun(g);
    for (let b = run.start; b < run.start + run.length; b++) set(b);
    set(this.metaDescriptorBlock(g));
    set(this.groups.blockBitmap[g]!);
    set(this.groups.inodeBitmap[g]!);
    for (let b = this.groups.inodeTable[g]!; b < this.groups.inodeTable[g]! + this.inodeTableBlocks; b++) set(b);
    setBitRange(into, end - start, 8 * into.length);
  }

  /**
   * Refuses descriptors whose bitmaps or inode tables lie outside their group (with flex_bg:
   * outside the filesystem) or overlap the superblock copy or each other (ext2fs_check_desc's rules,
   * stricter where ext2 allows no slack). With flex_bg a group's metadata may lie in another group:
   * overlaps across groups are found by the check, which claims every block once.
   */
  validate(): void {
    const { sb } = this;
    const flex = (sb.incompat & 0x200) !== 0;
    for (let g = 0; g < sb.groupCount; g++) {
      const start = flex ? sb.firstDataBlock : this.groupStart(g);
      const end = flex ? sb.blocksCount : this.groupEnd(g);
      const run = this.superblockRun(g);
      // A meta_bg descriptor block directly follows the superblock copy (or starts the group): one run here.
      const meta = this.metaDescriptorBlock(g);
      if (meta >= 0) run.length = meta + 1 - run.start;
      if (run.start + run.length > this.groupEnd(g)) {
        throw corrupt(`the superblock copy and descriptor tables (${run.length} blocks) do not fit in the group`, { group: g });
      }
      const parts: Array<[string, number, number]> = [
        ['block bitmap', this.groups.blockBitmap[g]!, 1],
        ['inode bitmap', this.groups.inodeBitmap[g]!, 1],
        ['inode table', this.groups.inodeTable[g]!, this.inodeTableBlocks],
      ];
      for (const [what, at, len] of parts) {
        if (at < start || at + len > end) {
          throw corrupt(`${what} at block ${at} (${len} blocks) is outside the ${flex ? 'filesystem' : 'group'} (blocks ${start}..${end - 1})`, { group: g });
        }
        if (run.length > 0 && at < run.start + run.length && at + len > run.start) {
          throw corrupt(`${what} at block ${at} overlaps the superblock and descriptor tables`, { group: g });
        }
      }
      for (let i = 0; i < parts.length; i++) {
        for (let j = i + 1; j < parts.length; j++) {
          const [wa, a, la] = parts[i]!;
          const [wb, b, lb] = parts[j]!;
          if (a < b + lb && b < a + la) throw corrupt(`${wa} at block ${a} overlaps ${wb} at block ${b}`, { group: g });
        }
      }
    }
  }
}
