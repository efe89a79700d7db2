/**
 * ext2 `dir_index` support: the directory hash functions and a validator for the htree index of
 * an indexed directory (inode flag EXT2_INDEX_FL).
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
import { Ext2Error, corrupt, unsupported, type Ext2Location } from './errors.js';

// ---------------------------------------------------------------------------------------------
// Directory hash functions
// ---------------------------------------------------------------------------------------------

export const DX_HASH_LEGACY = 0;
export const DX_HASH_HALF_MD4 = 1;
export const DX_HASH_TEA = 2;
export const DX_HASH_LEGACY_UNSIGNED = 3;
export const DX_HASH_HALF_MD4_UNSIGNED = 4;
export const DX_HASH_TEA_UNSIGNED = 5;

/** Superblock s_flags bits that choose how name bytes >= 0x80 enter the hash. */
export const EXT2_FLAGS_SIGNED_HASH = 0x1;
export const EXT2_FLAGS_UNSIGNED_HASH = 0x2;

/** The seed used when the superblock's s_hash_seed is all zero (the MD4 initial state). */
const DEFAULT_SEED: readonly number[] = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];

const rotl = (x: number, s: number): number => ((x << s) | (x >>> (32 - s))) >>> 0;

/** A name byte as the hash sees it: sign-extended (signed char) or not. */
const charValue = (b: number, unsignedChars: boolean): number => (unsignedChars || b < 0x80 ? b : b - 256);

/** The original ext3 "dx_hack_hash". The seed plays no part. */
function legacyHash(name: Uint8Array, unsignedChars: boolean): number {
  let h0 = 0x12a3fe2d;
  let h1 = 0x37abe8f9;
  for (let i = 0; i < name.length; i++) {
    const c = charValue(name[i] ?? 0, unsignedChars);
    let h = (h1 + ((h0 ^ Math.imul(c, 7152373)) >>> 0)) >>> 0;
    if (h & 0x80000000) h = (h - 0x7fffffff) >>> 0;
    h1 = h0;
    h0 = h;
  }
  return (h0 << 1) >>> 0;
}

/**
 * Packs up to `words * 4` bytes of name[start..] into `out[0..words)` as big-endian-ish words
 * (each byte shifted in from the right), every word primed with a padding value derived from the
 * length still left; unused words are the padding value itself.
 */
function packWords(name: Uint8Array, start: number, words: number, unsignedChars: boolean, out: Uint32Array): void {
  const left = name.length - start;
  let pad = (left | (left << 8)) >>> 0;
  pad = (pad | (pad << 16)) >>> 0;
  const take = Math.min(left, words * 4);
  let w = 0;
  let acc = pad;
  for (let i = 0; i < take; i++) {
    const c = charValue(name[start + i] ?? 0, unsignedChars);
    acc = (c + ((acc << 8) >>> 0)) >>> 0;
    if (i % 4 === 3) {
      out[w++] = acc;
      acc = pad;
    }
  }
  if (w < words) out[w++] = acc;
  while (w < words) out[w++] = pad;
}

const MD4_K2 = 0x5a827999;
const MD4_K3 = 0x6ed9eba1;
// For each round of the cut-down MD4: the message word order and the four rotation amounts.
const MD4_ORDER: readonly (readonly number[])[] = [
  [0, 1, 2, 3, 4, 5, 6, 7],
  [1, 3, 5, 7, 0, 2, 4, 6],
  [3, 7, 2, 6, 1, 5, 0, 4],
];
const MD4_SHIFTS: readonly (readonly number[])[] = [
  [3, 7, 11, 19],
  [3, 5, 9, 13],
  [3, 9, 11, 15],
];

/** One half-MD4 compression of the 8 words `m` into the state `st` (4 words). */
function halfMd4Compress(st: Uint32Array, m: Uint32Array): void {
  // r holds the working registers a, b, c, d; each step updates r[(4 - step % 4) % 4], i.e.
  // a, d, c, b, a, d, c, b ... with the other three (in rotating order) as function inputs.
  const r = [st[0] ?? 0, st[1] ?? 0, st[2] ?? 0, st[3] ?? 0];
  for (let round = 0; round < 3; round++) {
    const order = MD4_ORDER[round] ?? [];
    const shifts = MD4_SHIFTS[round] ?? [];
    const k = round === 0 ? 0 : round === 1 ? MD4_K2 : MD4_K3;
    for (let step = 0; step < 8; step++) {
      const t = (4 - (step % 4)) % 4;
      const x = r[(t + 1) % 4] ?? 0;
      const y = r[(t + 2) % 4] ?? 0;
      const z = r[(t + 3) % 4] ?? 0;
      let f: number;
      if (round === 0) f = z ^ (x & (y ^ z));
      else if (round === 1) f = ((x & y) + ((x ^ y) & z)) >>> 0;
      else f = x ^ y ^ z;
      const word = m[order[step] ?? 0] ?? 0;
      const sum = ((r[t] ?? 0) + (f >>> 0) + ((word + k) >>> 0)) >>> 0;
      r[t] = rotl(sum, shifts[step % 4] ?? 0);
    }
  }
  for (let i = 0; i < 4; i++) st[i] = ((st[i] ?? 0) + (r[i] ?? 0)) >>> 0;
}

const TEA_DELTA = 0x9e3779b9;

/** One TEA-based Davies-Meyer step: encrypt state words 0..1 keyed by the 4 words `m`. */
function teaCompress(st: Uint32Array, m: Uint32Array): void {
  let v0 = st[0] ?? 0;
  let v1 = st[1] ?? 0;
  const k0 = m[0] ?? 0;
  const k1 = m[1] ?? 0;
  const k2 = m[2] ?? 0;
  const k3 = m[3] ?? 0;
  let sum = 0;
  for (let n = 0; n < 16; n++) {
    sum = (sum + TEA_DELTA) >>> 0;
    v0 = (v0 + ((((v1 << 4) + k0) ^ (v1 + sum) ^ ((v1 >>> 5) + k1)) >>> 0)) >>> 0;
    v1 = (v1 + ((((v0 << 4) + k2) ^ (v0 + sum) ^ ((v0 >>> 5) + k3)) >>> 0)) >>> 0;
  }
  st[0] = ((st[0] ?? 0) + v0) >>> 0;
  st[1] = ((st[1] ?? 0) + v1) >>> 0;
}

/**
 * The ext2/ext3/ext4 directory index hash of `name`.
 *
 * `version` is the hash version: 0 legacy, 1 half_md4, 2 tea, and 3..5 the same three treating
 * name bytes as unsigned chars (0..2 sign-extend bytes >= 0x80). `seed` is the superblock's
 * s_hash_seed; null or all zero means the default seed. The major hash has its low bit cleared
 * (that bit marks hash-collision continuations in the index). Legacy has no minor hash (0).
 */
export function dxHash(name: Uint8Array, version: number, seed: Uint32Array | null): { hash: number; minorHash: number } {
  const st = new Uint32Array(DEFAULT_SEED);
  if (seed !== null) {
    const s = [seed[0] ?? 0, seed[1] ?? 0, seed[2] ?? 0, seed[3] ?? 0];
    if (s.some((w) => w !== 0)) st.set(s.map((w) => w >>> 0));
  }
  let hash: number;
  let minorHash = 0;
  switch (version) {
    case DX_HASH_LEGACY:
    case DX_HASH_LEGACY_UNSIGNED:
      hash = legacyHash(name, version === DX_HASH_LEGACY_UNSIGNED);
      break;
    case DX_HASH_HALF_MD4:
    case DX_HASH_HALF_MD4_UNSIGNED: {
      const m = new Uint32Array(8);
      for (let p = 0; p < name.length; p += 32) {
        packWords(name, p, 8, version === DX_HASH_HALF_MD4_UNSIGNED, m);
        halfMd4Compress(st, m);
      }
      hash = st[1] ?? 0;
      minorHash = st[2] ?? 0;
      break;
    }
    case DX_HASH_TEA:
    case DX_HASH_TEA_UNSIGNED: {
      const m = new Uint32Array(4);
      for (let p = 0; p < name.length; p += 16) {
        packWords(name, p, 4, version === DX_HASH_TEA_UNSIGNED, m);
        teaCompress(st, m);
      }
      hash = st[0] ?? 0;
      minorHash = st[1] ?? 0;
      break;
    }
    default:
      throw unsupported(`unsupported directory hash version ${version}`);
  }
  return { hash: (hash & 0xfffffffe) >>> 0, minorHash: minorHash >>> 0 };
}

// ---------------------------------------------------------------------------------------------
// htree validation
// ---------------------------------------------------------------------------------------------

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

const u16 = (b: Uint8Array, o: number): number => (b[o] ?? 0) | ((b[o + 1] ?? 0) << 8);
const u32 = (b: Uint8Array, o: number): number =>
  ((b[o] ?? 0) | ((b[o + 1] ?? 0) << 8) | ((b[o + 2] ?? 0) << 16) | ((b[o + 3] ?? 0) << 24)) >>> 0;

/** A dirent's record length; with 64 KiB blocks the full block is stored as 65535 or 0. */
function recLen(raw: number, blockSize: number): number {
  if (blockSize < 65536) return raw;
  if (raw === 0xffff || raw === 0) return blockSize;
  return (raw & 0xfffc) | ((raw & 3) << 16);
}

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
  const nodeLimit = Math.floor((bs - NODE_TABLE_OFFSET) / DX_ENTRY_SIZE);

  // ---- every block: classify, hash leaf entries, parse index tables ---------------------------
  for (let b = 0; b < n; b++) {
    const buf = b === 0 ? root : read(b);
    info.minHash[b] = 0xffffffff;
    info.maxHash[b] = 0;
    if (b === 0) {
      info.type[0] = TYPE_ROOT;
      info.flags[0] = (info.flags[0] ?? 0) | FLAG_FIRST | FLAG_LAST;
      parseIndexTable(buf, b, ROOT_INFO_OFFSET + infoLength, info, n, bs, fail);
      continue;
    }
    const firstInode = u32(buf, 0);
    const firstRecLen = recLen(u16(buf, 4), bs);
    const firstNameLen = buf[6] ?? 0;
    if (firstInode === 0 && firstRecLen === bs && firstNameLen === 0 && u16(buf, NODE_TABLE_OFFSET) === nodeLimit) {
      info.type[b] = TYPE_NODE;
      parseIndexTable(buf, b, NODE_TABLE_OFFSET, info, n, bs, fail);
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
  fail: (d: string) => Ext2Error,
): void {
  const expectLimit = Math.floor((bs - off) / DX_ENTRY_SIZE);
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
