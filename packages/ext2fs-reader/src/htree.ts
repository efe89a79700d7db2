/**
 * The htree index check of an indexed directory (inode flag EXT2_INDEX_FL, `dir_index`); the
 * names' hash it checks against is in dx-hash.ts.
 *
 * The reader lists directories linearly and never needs the index, but a filesystem whose index is
 * inconsistent is one e2fsck reports as unclean, so `checkHtree` reproduces the htree checks of
 * e2fsck's passes 1 and 2 (root node sanity, interior node count/limit, hash order, block
 * references, depth, and the min/max hash of every block against the index) and refuses the
 * directory on the first problem.
 *
 * On-disk layout (all little-endian):
 *   block 0 (root): '.' dirent (12 bytes), '..' dirent (rec_len = blockSize - 12), then at offset 24
 *     dx_root_info { u32 reserved_zero; u8 hash_version; u8 info_length; u8 indirect_levels;
 *     u8 unused_flags }, then at 24 + info_length the dx entry table.
 *   interior node: one empty dirent { inode 0, rec_len = blockSize, name_len 0 }, then at offset 8
 *     the dx entry table.
 *   dx entry table: { u16 limit; u16 count; u32 block } followed by count - 1 entries
 *     { u32 hash; u32 block }; entry 0's hash slot is the limit/count pair and counts as hash 0.
 */
import { u16, u32 } from '@fsconv/base';
import { decodeRecLen } from './directory.js';
import { Ext2Error, corrupt, type Ext2Location } from './errors.js';
import { DX_HASH_HALF_MD4, DX_HASH_LEGACY, DX_HASH_TEA, EXT2_FLAGS_UNSIGNED_HASH, dxHash } from './dx-hash.js';

export interface HtreeDirectory {
  /** Inode number of the directory (for '.' and error locations). */
  ino: number;
  /** Path of the directory, for error messages. */
  path: string;
  blockSize: number;
  /** Number of logical blocks of the directory (last mapped block + 1). */
  blockCount: number;
  /** Reads logical block `logical` (0 <= logical < blockCount); must return blockSize bytes. */
  readBlock(logical: number): Uint8Array;
  /** Superblock s_hash_seed (4 words). */
  hashSeed: Uint32Array;
  /** Superblock s_def_hash_version (not consulted: e2fsck uses the root's hash version). */
  defHashVersion: number;
  /** Superblock s_flags (EXT2_FLAGS_SIGNED_HASH / EXT2_FLAGS_UNSIGNED_HASH). */
  sbFlags: number;
  /** INCOMPAT_LARGEDIR: allows a 3-level tree. */
  largeDir: boolean;
  /** metadata_csum: every index table ends one entry early, for its dx_tail (checksums are verified by the reader). */
  metadataCsum?: boolean;
}

/** The inode flag marking an indexed directory. */
export const EXT2_INDEX_FL = 0x1000;

const ROOT_INFO_OFFSET = 24;
const NODE_TABLE_OFFSET = 8;
const DX_ENTRY_SIZE = 8;
const DX_BLOCK_MASK = 0x0fffffff;
/** Tree levels allowed (counting the root's table): 2 normally, 3 with largedir (e2fsck's limits). */
const HTREE_LEVELS_COMPAT = 2;
const HTREE_LEVELS_LARGEDIR = 3;
const EXT2_HASH_FLAG_INCOMPAT = 0x1;

const TYPE_LEAF = 1;
const TYPE_NODE = 2;
const TYPE_ROOT = 3;

const FLAG_REFERENCED = 1;
const FLAG_DUP_REF = 2;
const FLAG_FIRST = 4;
const FLAG_LAST = 8;

/** A dirent's record length (64 KiB blocks store the full block as 65535 or 0). */
const recLen = decodeRecLen;

/** Per-block bookkeeping, the same facts e2fsck keeps (struct dx_dirblock_info). */
class BlockInfo {
  readonly type: Uint8Array;
  readonly flags: Uint8Array;
  readonly parent: Uint32Array;
  readonly previous: Uint32Array;
  readonly minHash: Uint32Array;
  readonly maxHash: Uint32Array;
  readonly nodeMinHash: Uint32Array;
  readonly nodeMaxHash: Uint32Array;
  constructor(n: number) {
    this.type = new Uint8Array(n);
    this.flags = new Uint8Array(n);
    this.parent = new Uint32Array(n);
    this.previous = new Uint32Array(n);
    this.minHash = new Uint32Array(n);
    this.maxHash = new Uint32Array(n);
    this.nodeMinHash = new Uint32Array(n);
    this.nodeMaxHash = new Uint32Array(n);
  }
}

/**
 * Validates the htree index of an indexed directory the way e2fsck does; throws
 * `corrupt(...)` (an Ext2Error) on the first problem e2fsck would report. Reads every block of the
 * directory once; memory is proportional to blockCount.
 */
export function checkHtree(dir: HtreeDirectory): void {
  const where: Ext2Location = { inode: dir.ino, path: dir.path };
  const fail = (detail: string): Ext2Error => corrupt(`htree index: ${detail}`, where);

  const bs = dir.blockSize;
  if (!Number.isInteger(bs) || bs < 1024 || bs > 65536 || (bs & (bs - 1)) !== 0) {
    throw fail(`bad block size ${String(bs)}`);
  }
  const n = dir.blockCount;
  if (!Number.isSafeInteger(n) || n < 1) throw fail(`bad directory size (${String(n)} blocks)`);
  // Index entries address at most DX_BLOCK_MASK + 1 blocks; any block past that can never be
  // referenced, which e2fsck reports ("block #N not referenced").
  if (n > DX_BLOCK_MASK + 1) throw fail(`block #${DX_BLOCK_MASK + 1} not referenced`);

  const read = (b: number): Uint8Array => {
    let buf: unknown;
    try {
      buf = dir.readBlock(b);
    } catch (e) {
      if (e instanceof Ext2Error) throw e;
      throw new Ext2Error('io', `reading directory block #${b}: ${e instanceof Error ? e.message : String(e)}`, where);
    }
    if (!(buf instanceof Uint8Array) || buf.length !== bs) {
      throw new Ext2Error('io', `reading directory block #${b}: got a short or invalid block`, where);
    }
    return buf;
  };

  // ---- root block: pass 1 (handle_htree) and pass 2 root checks ------------------------------
  const root = read(0);
  checkRootDirents(root, bs, dir.ino, fail);
  const reservedZero = u32(root, ROOT_INFO_OFFSET);
  const hashVersion = root[ROOT_INFO_OFFSET + 4] ?? 0;
  const infoLength = root[ROOT_INFO_OFFSET + 5] ?? 0;
  const indirectLevels = root[ROOT_INFO_OFFSET + 6] ?? 0;
  const unusedFlags = root[ROOT_INFO_OFFSET + 7] ?? 0;
  if (reservedZero !== 0) throw fail(`invalid root node (reserved field is 0x${reservedZero.toString(16)})`);
  if (infoLength < 8) throw fail(`invalid root node (info length ${infoLength})`);
  if (hashVersion !== DX_HASH_LEGACY && hashVersion !== DX_HASH_HALF_MD4 && hashVersion !== DX_HASH_TEA) {
    throw fail(`unsupported hash version ${hashVersion}`);
  }
  if (unusedFlags & EXT2_HASH_FLAG_INCOMPAT) throw fail('root node uses an incompatible flag');
  const maxLevels = dir.largeDir ? HTREE_LEVELS_LARGEDIR : HTREE_LEVELS_COMPAT;
  if (indirectLevels >= maxLevels) throw fail(`tree depth ${indirectLevels} is too big`);
  const version = dir.sbFlags & EXT2_FLAGS_UNSIGNED_HASH ? hashVersion + 3 : hashVersion;
  const treeDepth = indirectLevels + 1;
  const seed = dir.hashSeed;

  const info = new BlockInfo(n);
  const tail = dir.metadataCsum === true ? 1 : 0;
  const nodeLimit = Math.floor((bs - NODE_TABLE_OFFSET) / DX_ENTRY_SIZE) - tail;

  // ---- every block: classify, hash leaf entries, parse index tables ---------------------------
  for (let b = 0; b < n; b++) {
    const buf = b === 0 ? root : read(b);
    info.minHash[b] = 0xffffffff;
    info.maxHash[b] = 0;
    if (b === 0) {
      info.type[0] = TYPE_ROOT;
      info.flags[0] = (info.flags[0] ?? 0) | FLAG_FIRST | FLAG_LAST;
      parseIndexTable(buf, b, ROOT_INFO_OFFSET + infoLength, info, n, bs, tail, fail);
      continue;
    }
    const firstInode = u32(buf, 0);
    const firstRecLen = recLen(u16(buf, 4), bs);
    const firstNameLen = buf[6] ?? 0;
    if (firstInode === 0 && firstRecLen === bs && firstNameLen === 0 && u16(buf, NODE_TABLE_OFFSET) === nodeLimit) {
      info.type[b] = TYPE_NODE;
      parseIndexTable(buf, b, NODE_TABLE_OFFSET, info, n, bs, tail, fail);
      continue;
    }
    info.type[b] = TYPE_LEAF;
    hashLeaf(buf, b, bs, version, seed, info, fail);
  }

  // ---- the final pass of e2fsck pass 2 ----------------------------------------------------------
  const rootFlags = info.flags[0] ?? 0;
  info.flags[0] = rootFlags | (rootFlags & FLAG_REFERENCED ? FLAG_DUP_REF : FLAG_REFERENCED);
  updateParents(info, n, TYPE_LEAF);
  updateParents(info, n, TYPE_NODE);

  for (let b = 0; b < n; b++) {
    const flags = info.flags[b] ?? 0;
    if (!(flags & FLAG_FIRST) && (info.minHash[b] ?? 0) < (info.nodeMinHash[b] ?? 0)) {
      throw fail(`block #${b} has bad min hash`);
    }
    if (info.type[b] === TYPE_LEAF) {
      const depth = leafDepth(info, b, treeDepth);
      if (depth !== treeDepth) throw fail(`block #${b} has invalid depth (${treeDepth})`);
    }
    if (b !== 0 && (info.maxHash[b] ?? 0) > (info.nodeMaxHash[b] ?? 0)) {
      throw fail(`block #${b} has bad max hash`);
    }
    if (!(flags & FLAG_REFERENCED)) throw fail(`block #${b} not referenced`);
    if (flags & FLAG_DUP_REF) throw fail(`block #${b} referenced twice`);
  }
}

/** Block 0 must start with '.' (this directory, rec_len 12) and '..' covering the rest. */
function checkRootDirents(root: Uint8Array, bs: number, ino: number, fail: (d: string) => Ext2Error): void {
  const dotIno = u32(root, 0);
  const dotLen = recLen(u16(root, 4), bs);
  if (dotIno === 0 || (root[6] ?? 0) !== 1 || root[8] !== 0x2e) throw fail("invalid root node (first entry is not '.')");
  if (dotIno !== ino) throw fail(`invalid root node ('.' refers to inode ${dotIno})`);
  if (dotLen !== 12) throw fail(`invalid root node ('.' has record length ${dotLen})`);
  const dotdotIno = u32(root, 12);
  const dotdotLen = recLen(u16(root, 16), bs);
  if (dotdotIno === 0 || (root[18] ?? 0) !== 2 || root[20] !== 0x2e || root[21] !== 0x2e) {
    throw fail("invalid root node (second entry is not '..')");
  }
  if (dotdotLen !== bs - 12) throw fail(`invalid root node ('..' has record length ${dotdotLen})`);
}

/**
 * e2fsck's parse_int_node: checks the limit/count header of an index table at `off` in block `b`,
 * the order of its hashes and the range of its block numbers, and records, for each block it
 * points to, the reference, the parent, the hash range the index assigns to it, and whether it is
 * the first/last child.
 */
function parseIndexTable(
  buf: Uint8Array,
  b: number,
  off: number,
  info: BlockInfo,
  n: number,
  bs: number,
  tailEntries: number,
  fail: (d: string) => Ext2Error,
): void {
  // With metadata_csum the table ends one entry early: the dx_tail takes its place.
  const expectLimit = Math.floor((bs - off) / DX_ENTRY_SIZE) - tailEntries;
  const limit = u16(buf, off);
  const count = u16(buf, off + 2);
  if (limit !== expectLimit) throw fail(`block #${b} has invalid limit (${limit})`);
  if (count > expectLimit) throw fail(`block #${b} has invalid count (${count})`);
  // e2fsck itself does not object to an empty table unless blocks end up unreferenced; the kernel
  // rejects it outright, and no tool writes one.
  if (count === 0) throw fail(`block #${b} has invalid count (0)`);

  let minHash = 0xffffffff;
  let maxHash = 0;
  let hash = 0;
  for (let i = 0; i < count; i++) {
    const e = off + i * DX_ENTRY_SIZE;
    const prevHash = hash;
    hash = i === 0 ? 0 : (u32(buf, e) & 0xfffffffe) >>> 0;
    const blk = u32(buf, e + 4) & DX_BLOCK_MASK;
    if (blk >= n) throw fail(`bad block number ${blk}`);
    if (hash < prevHash) throw fail(`block #${b} has an unordered hash table`);
    let flags = info.flags[blk] ?? 0;
    if (flags & FLAG_REFERENCED) {
      flags |= FLAG_DUP_REF;
    } else {
      flags |= FLAG_REFERENCED;
      info.parent[blk] = b;
    }
    info.previous[blk] = i === 0 ? 0 : u32(buf, e - DX_ENTRY_SIZE + 4) & DX_BLOCK_MASK;
    if (hash < minHash) minHash = hash;
    if (hash > maxHash) maxHash = hash;
    info.nodeMinHash[blk] = hash;
    if (i + 1 < count) {
      info.nodeMaxHash[blk] = (u32(buf, e + DX_ENTRY_SIZE) & 0xfffffffe) >>> 0;
    } else {
      info.nodeMaxHash[blk] = 0xfffffffe;
      flags |= FLAG_LAST;
    }
    if (i === 0) flags |= FLAG_FIRST;
    info.flags[blk] = flags;
  }
  info.minHash[b] = minHash;
  info.maxHash[b] = maxHash;
}

/** Walks the dirents of a leaf block (e2fsck's validity rules) and records its min/max name hash. */
function hashLeaf(
  buf: Uint8Array,
  b: number,
  bs: number,
  version: number,
  seed: Uint32Array,
  info: BlockInfo,
  fail: (d: string) => Ext2Error,
): void {
  let minHash = 0xffffffff;
  let maxHash = 0;
  let off = 0;
  while (off < bs) {
    if (bs - off < 12) throw fail(`block #${b} has a corrupted directory entry at offset ${off}`);
    const inode = u32(buf, off);
    const len = recLen(u16(buf, off + 4), bs);
    const nameLen = buf[off + 6] ?? 0;
    if (off + len > bs || len < 12 || len % 4 !== 0 || nameLen + 8 > len) {
      throw fail(`block #${b} has a corrupted directory entry at offset ${off}`);
    }
    if (inode !== 0) {
      const { hash } = dxHash(buf.subarray(off + 8, off + 8 + nameLen), version, seed);
      if (hash < minHash) minHash = hash;
      if (hash > maxHash) maxHash = hash;
    }
    off += len;
  }
  info.minHash[b] = minHash;
  info.maxHash[b] = maxHash;
}

/**
 * e2fsck's update_parents: a block's first child's min hash becomes the block's min hash (and the
 * upper bound of the previous sibling block), its last child's max hash becomes its max hash.
 */
function updateParents(info: BlockInfo, n: number, type: number): void {
  for (let b = 0; b < n; b++) {
    if (info.type[b] !== type) continue;
    const flags = info.flags[b] ?? 0;
    const parent = info.parent[b] ?? 0;
    if (flags & FLAG_FIRST) {
      const min = info.minHash[b] ?? 0;
      info.minHash[parent] = min;
      const prev = info.previous[parent] ?? 0;
      if (prev !== 0) info.nodeMaxHash[prev] = min;
    }
    if (flags & FLAG_LAST) info.maxHash[parent] = info.maxHash[b] ?? 0;
  }
}

/** Number of parent links from leaf `b` up to the root; stops early once it exceeds `expected`. */
function leafDepth(info: BlockInfo, b: number, expected: number): number {
  let depth = 0;
  let cur = b;
  while (info.type[cur] !== TYPE_ROOT && depth <= expected) {
    cur = info.parent[cur] ?? 0;
    depth++;
  }
  return depth;
}
