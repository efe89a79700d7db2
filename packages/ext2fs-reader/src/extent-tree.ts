/**
 * The ext4 extent tree (an inode with EXTENTS_FL): a header and up to four entries in i_block,
 * index nodes and leaves in blocks. Every node is checked as e2fsprogs' ext2fs_extent_header_verify
 * and e2fsck's scan_extent_node do before anything it says is used: magic, entry counts against
 * the room the node has, depth (at most 5, one less at each level), entries in strictly ascending
 * logical order, extents that do not overlap and lie inside the range their index gives them,
 * physical blocks inside the filesystem, no node reached twice. Work is bounded by the number of
 * distinct nodes, each read once.
 *
 * Unwritten extents (fallocate) are reported as such: their blocks belong to the file, but they
 * read as zeros, never as the stale bytes under them.
 */
import { u16, u32 } from '@fsconv/base';
import { corrupt, type Ext2Location } from './errors.js';
import { extentBlockChecksumMatches } from './checksums.js';

export const EXTENT_MAGIC = 0xf30a;
/** The deepest tree ext4 builds (EXT4_MAX_EXTENT_DEPTH). */
export const MAX_EXTENT_DEPTH = 5;
/** A leaf's ee_len above this marks an unwritten extent of ee_len − 32768 blocks. */
const INIT_MAX_LEN = 32768;
const HEADER = 12;
const ENTRY = 12;
/** Logical block numbers are 32 bits. */
export const MAX_EXTENT_LOGICAL = 2 ** 32;

/** What an extent tree walk needs from the filesystem. */
export interface ExtentTreeContext {
  blockSize: number;
  firstDataBlock: number;
  blocksCount: number;
  readBlock(block: number): Uint8Array;
}

/** Receives what a tree holds, in logical order. */
export interface ExtentVisitor {
  /** `length` blocks of the file at logical `logical` stored from `physical` on; `unwritten`: allocated, reading as zeros. */
  extent(logical: number, physical: number, length: number, unwritten: boolean): void;
  /** A block holding a node of the tree (the depth of that node: 0 for a leaf). */
  node(physical: number, depth: number): void;
}

/**
 * Walks the tree rooted in `iBlock` (the 60 bytes of i_block). Extents reaching `logicalLimit` or
 * past it are refused as lying past the end of what the inode may map. With `checksumSeed` (the
 * inode's seed under metadata_csum) every tree block's tail checksum is verified before it is used.
 */
export function walkExtentTree(
  ctx: ExtentTreeContext, iBlock: Uint8Array, logicalLimit: number, where: Ext2Location, checksumSeed: number | undefined,
  visitor: ExtentVisitor,
): void {
  const seen = new Set<number>();
  let lastEnd = 0;

  const checkRun = (physical: number, length: number, what: string): void => {
    if (physical < ctx.firstDataBlock || physical + length > ctx.blocksCount) {
      throw corrupt(`${what} lies at blocks ${physical}..${physical + length - 1}, outside the filesystem (${ctx.firstDataBlock}..${ctx.blocksCount - 1})`, where);
    }
  };

  /** The node in `b` (i_block or a tree block), covering logical [from, to). */
  const walkNode = (b: Uint8Array, room: number, depth: number | null, from: number, to: number, at: string): void => {
    if (u16(b, 0) !== EXTENT_MAGIC) throw corrupt(`${at}: no extent header (magic 0x${u16(b, 0).toString(16)}, expected 0xf30a)`, where);
    const entries = u16(b, 2);
    const max = u16(b, 4);
    const d = u16(b, 6);
    const allowed = Math.floor((room - HEADER) / ENTRY);
    if (max > allowed || max < allowed - 2) throw corrupt(`${at}: extent header gives room for ${max} entries where ${allowed} fit`, where);
    if (entries > max) throw corrupt(`${at}: extent header lists ${entries} entries, more than its ${max}`, where);
    if (checksumSeed !== undefined && b !== iBlock && !extentBlockChecksumMatches(checksumSeed, b, max)) {
      throw corrupt(`${at}: extent block checksum does not match its contents`, where);
    }
    if (d > MAX_EXTENT_DEPTH) throw corrupt(`${at}: extent tree depth ${d}, more than ${MAX_EXTENT_DEPTH}`, where);
    if (depth !== null && d !== depth) throw corrupt(`${at}: extent node of depth ${d} where depth ${depth} belongs`, where);
    let previous = -1;
    for (let i = 0; i < entries; i++) {
      const o = HEADER + i * ENTRY;
      const logical = u32(b, o);
      if (logical <= previous) throw corrupt(`${at}: extent entries out of order (logical ${logical} after ${previous})`, where);
      // A child node starts where its index entry says (e2fsck: "logical start does not match logical start at next level").
      if (i === 0 && depth !== null && logical !== from) {
        throw corrupt(`${at}: first entry starts at logical ${logical}, but its index entry says ${from}`, where);
      }
      if (logical < from || logical >= to) throw corrupt(`${at}: entry for logical ${logical} lies outside its node's range ${from}..${to - 1}`, where);
      previous = logical;
      if (d === 0) {
        const raw = u16(b, o + 4);
        const unwritten = raw > INIT_MAX_LEN;
        const length = unwritten ? raw - INIT_MAX_LEN : raw;
        const physical = u16(b, o + 6) * 2 ** 32 + u32(b, o + 8);
        if (length === 0) throw corrupt(`${at}: extent at logical ${logical} has length 0`, where);
        if (logical < lastEnd) throw corrupt(`${at}: extent at logical ${logical} overlaps the one before (ending at ${lastEnd - 1})`, where);
        const end = logical + length;
        if (end > to) throw corrupt(`${at}: extent at logical ${logical} of ${length} blocks reaches past its node's range (${to - 1})`, where);
        if (end > logicalLimit) throw corrupt(`extent at logical ${logical} of ${length} blocks lies past the end of the file`, where);
        checkRun(physical, length, `extent at logical ${logical}`);
        lastEnd = end;
        visitor.extent(logical, physical, length, unwritten);
      } else {
        const child = u16(b, o + 8) * 2 ** 32 + u32(b, o + 4);
        const next = i + 1 < entries ? u32(b, HEADER + (i + 1) * ENTRY) : to;
        checkRun(child, 1, `extent index for logical ${logical}`);
        if (seen.has(child)) throw corrupt(`extent tree block ${child} is reached twice (a loop in the tree)`, where);
        seen.add(child);
        visitor.node(child, d - 1);
        walkNode(ctx.readBlock(child), ctx.blockSize, d - 1, logical, Math.max(logical + 1, Math.min(next, to)), `extent tree block ${child}`);
      }
    }
  };
  walkNode(iBlock, 60, null, 0, MAX_EXTENT_LOGICAL, 'i_block');
}
