import { corrupt, type Ext2Location } from './errors.js';
import { u32 } from '@fsconv/base';

/** Number of direct pointers in i_block; [12] IND, [13] DIND, [14] TIND. */
export const DIRECT_BLOCKS = 12;

/** A run of a file's data: `length` blocks at logical index `logical` stored from `physical` on. */
export interface Extent {
  logical: number;
  physical: number;
  length: number;
}

/** What a block map walk needs from the filesystem. */
export interface BlockMapContext {
  blockSize: number;
  firstDataBlock: number;
  blocksCount: number;
  readBlock(block: number): Uint8Array;
}

/** Receives every block a map reaches, in logical order. */
export interface BlockMapVisitor {
  /** A data block: logical index within the file, physical block. */
  data(logical: number, physical: number): void;
  /** A block of the map itself (level 1 IND, 2 DIND, 3 TIND). */
  mapBlock(physical: number, level: 1 | 2 | 3): void;
}

/** Largest logical block index + 1 reachable through a block map with `blockSize` blocks. */
export function maxMappableBlocks(blockSize: number): number {
  const p = blockSize / 4;
  return DIRECT_BLOCKS + p + p * p + p * p * p;
}

/**
 * Walks an i_block[15] map, calling the visitor for every non-zero pointer (0 is a hole at any
 * level, so holes cost nothing). Every pointer is range-checked before it is followed; a map block
 * seen twice in one walk is a loop and refused. A data block at logical index ≥ `logicalLimit` is
 * refused as lying past the end of the file. Work is bounded by the number of distinct map blocks.
 */
export function walkBlockMap(
  ctx: BlockMapContext,
  iBlock: Uint32Array,
  logicalLimit: number,
  where: Ext2Location,
  visitor: BlockMapVisitor,
): void {
  const p = ctx.blockSize / 4;
  const seenMapBlocks = new Set<number>();

  const checkPointer = (block: number, what: string): void => {
    if (block < ctx.firstDataBlock || block >= ctx.blocksCount) {
      throw corrupt(`${what} points to block ${block}, outside the filesystem (${ctx.firstDataBlock}..${ctx.blocksCount - 1})`, where);
    }
  };
  const onData = (logical: number, block: number): void => {
    checkPointer(block, `logical block ${logical}`);
    if (logical >= logicalLimit) {
      throw corrupt(`logical block ${logical} (at block ${block}) lies past the end of the file`, where);
    }
    visitor.data(logical, block);
  };

  // `level` 1..3: the block holds pointers to blocks of level-1 (0 = data); first logical index covered is `base`.
  const walk = (block: number, level: 1 | 2 | 3, base: number): void => {
    checkPointer(block, `${['', 'indirect', 'double indirect', 'triple indirect'][level]} block for logical ${base}`);
    if (seenMapBlocks.has(block)) {
      throw corrupt(`map block ${block} is reached twice (a loop in the block map)`, where);
    }
    seenMapBlocks.add(block);
    visitor.mapBlock(block, level);
    const span = level === 1 ? 1 : level === 2 ? p : p * p;
    if (base >= logicalLimit) {
      // Nothing under this block may be data; it still must hold only zeros to be harmless.
      const buf = ctx.readBlock(block);
      for (let i = 0; i < p; i++) {
        if (u32(buf, 4 * i) !== 0) {
          throw corrupt(`logical block ${base + i * span} (map block ${block}) lies past the end of the file`, where);
        }
      }
      return;
    }
    const buf = ctx.readBlock(block);
    for (let i = 0; i < p; i++) {
      const child = u32(buf, 4 * i);
      if (child === 0) continue;
      const logical = base + i * span;
      if (level === 1) onData(logical, child);
      else walk(child, (level - 1) as 1 | 2, logical);
    }
  };

  for (let i = 0; i < DIRECT_BLOCKS; i++) {
    const b = iBlock[i]!;
    if (b !== 0) onData(i, b);
  }
  if (iBlock[12]! !== 0) walk(iBlock[12]!, 1, DIRECT_BLOCKS);
  if (iBlock[13]! !== 0) walk(iBlock[13]!, 2, DIRECT_BLOCKS + p);
  if (iBlock[14]! !== 0) walk(iBlock[14]!, 3, DIRECT_BLOCKS + p + p * p);
}

/** Appends (logical, physical) to a list of extents, extending the last one when contiguous. */
export function appendToExtents(extents: Extent[], logical: number, physical: number): void {
  const last = extents[extents.length - 1];
  if (last !== undefined && last.logical + last.length === logical && last.physical + last.length === physical) {
    last.length++;
  } else {
    extents.push({ logical, physical, length: 1 });
  }
}
