import { corrupt } from './errors.js';
import { u16, u32 } from '@fsconv/base';
import { groupHasSuperblock, type Superblock } from './superblock.js';

/** Size of one ext2 group descriptor (without the 64bit feature, which is refused). */
export const GROUP_DESC_SIZE = 32;

/**
 * The group descriptor table as typed arrays (one entry per group; no object per group, since a
 * large filesystem has hundreds of thousands of groups).
 */
export class GroupTable {
  readonly blockBitmap: Uint32Array;
  readonly inodeBitmap: Uint32Array;
  readonly inodeTable: Uint32Array;
  readonly freeBlocks: Uint16Array;
  readonly freeInodes: Uint16Array;
  readonly usedDirs: Uint16Array;

  constructor(readonly count: number) {
    this.blockBitmap = new Uint32Array(count);
    this.inodeBitmap = new Uint32Array(count);
    this.inodeTable = new Uint32Array(count);
    this.freeBlocks = new Uint16Array(count);
    this.freeInodes = new Uint16Array(count);
    this.usedDirs = new Uint16Array(count);
  }

  /** Decodes `count` descriptors from the raw table bytes. */
  static decode(bytes: Uint8Array, count: number): GroupTable {
    const t = new GroupTable(count);
    for (let g = 0; g < count; g++) {
      const o = g * GROUP_DESC_SIZE;
      t.blockBitmap[g] = u32(bytes, o);
      t.inodeBitmap[g] = u32(bytes, o + 4);
      t.inodeTable[g] = u32(bytes, o + 8);
      t.freeBlocks[g] = u16(bytes, o + 12);
      t.freeInodes[g] = u16(bytes, o + 14);
      t.usedDirs[g] = u16(bytes, o + 16);
    }
    return t;
  }
}

/**
 * Where everything of fixed position lives: superblock copies, descriptor tables, reserved GDT
 * blocks, bitmaps and inode tables. Derived from the superblock and descriptors, then validated.
 */
export class Layout {
  /** Blocks taken by the group descriptor table (each copy). */
  readonly descBlocks: number;
  /** Blocks taken by one group's inode table. */
  readonly inodeTableBlocks: number;

  constructor(
    readonly sb: Superblock,
    readonly groups: GroupTable,
  ) {
    this.descBlocks = Math.ceil((sb.groupCount * GROUP_DESC_SIZE) / sb.blockSize);
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

  /**
   * The run of blocks at the start of group g holding a superblock copy, the descriptor table and
   * the reserved GDT blocks; length 0 in groups without a backup.
   */
  superblockRun(g: number): { start: number; length: number } {
    if (!this.hasSuperblock(g)) return { start: this.groupStart(g), length: 0 };
    // In group 0 with blocks > 1 KiB, block 0 holds both the boot area and the superblock.
    return { start: this.groupStart(g), length: 1 + this.descBlocks + this.sb.reservedGdtBlocks };
  }

  /** Calls `fn(start, length, what)` for every fixed metadata run of group g. */
  forEachMetadataRun(g: number, fn: (start: number, length: number, what: string) => void): void {
    const run = this.superblockRun(g);
    if (run.length > 0) fn(run.start, run.length, g === 0 ? 'superblock and group descriptors' : 'superblock backup');
    fn(this.groups.blockBitmap[g]!, 1, 'block bitmap');
    fn(this.groups.inodeBitmap[g]!, 1, 'inode bitmap');
    fn(this.groups.inodeTable[g]!, this.inodeTableBlocks, 'inode table');
  }

  /**
   * Refuses descriptors whose bitmaps or inode tables lie outside their group or overlap the
   * superblock copy or each other (ext2fs_check_desc's rules, stricter where ext2 allows no slack).
   */
  validate(): void {
    const { sb } = this;
    for (let g = 0; g < sb.groupCount; g++) {
      const start = this.groupStart(g);
      const end = this.groupEnd(g);
      const run = this.superblockRun(g);
      if (run.start + run.length > end) {
        throw corrupt(`the superblock copy and descriptor tables (${run.length} blocks) do not fit in the group`, { group: g });
      }
      const parts: Array<[string, number, number]> = [
        ['block bitmap', this.groups.blockBitmap[g]!, 1],
        ['inode bitmap', this.groups.inodeBitmap[g]!, 1],
        ['inode table', this.groups.inodeTable[g]!, this.inodeTableBlocks],
      ];
      for (const [what, at, len] of parts) {
        if (at < start || at + len > end) {
          throw corrupt(`${what} at block ${at} (${len} blocks) is outside the group (blocks ${start}..${end - 1})`, { group: g });
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
