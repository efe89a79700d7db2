import { s32, u16, u32, type FileType, type Timestamp } from '@fsconv/base';

/** Directory entry file_type codes (filetype feature), by FileType. */
export const DIRENT_TYPE: Record<FileType, number> = {
  file: 1, dir: 2, char: 3, block: 4, fifo: 5, socket: 6, symlink: 7,
};

/** i_flags bits the reader cares about. */
export const INODE_FLAGS = {
  index: 0x1000, // htree-indexed directory
  imagic: 0x2000,
  huge_file: 0x40000,
  extents: 0x80000,
  ea_inode: 0x200000,
  inline_data: 0x10000000,
  casefold: 0x40000000,
} as const;

/** Special inode numbers. */
export const BAD_BLOCKS_INO = 1;
export const ROOT_INO = 2;
export const RESIZE_INO = 7;
export const JOURNAL_INO = 8;


/** One decoded on-disk inode. Only fields are decoded here; checks live where they are used. */
export interface Inode {
  ino: number;
  mode: number;
  uid: number;
  gid: number;
  /** i_size with size_high (files; for other types size_high must be 0, checked by the scanner). */
  size: number;
  sizeHigh: number;
  atime: Timestamp;
  ctime: Timestamp;
  mtime: Timestamp;
  dtime: number;
  linksCount: number;
  /** i_blocks in 512-byte units (low 32 bits; huge_file is refused). */
  blocks512: number;
  flags: number;
  /** i_block[0..14]. */
  block: Uint32Array;
  /** The same 60 bytes raw (a fast symlink's target lives here). */
  blockBytes: Uint8Array;
  fileAcl: number;
  /** osd2 0x76: i_file_acl_high on Linux (must be 0 without 64bit), i_mode_high on Hurd. */
  fileAclHigh: number;
  /** osd2 0x74: i_blocks_hi on Linux (must be 0 without huge_file); frag and fsize on Hurd. */
  blocksHigh: number;
  /** osd1 (0x24): on the Hurd, the block holding the inode's translator (0 = none). */
  osd1: number;
  /** i_faddr (0x70): obsolete fragment address, must be 0. */
  faddr: number;
  /** Bytes of the fixed 128-byte inode plus i_extra_isize (128 for small inodes). */
  extraIsize: number;
  /** i_generation (seeds the inode's metadata checksums). */
  generation: number;
}

/**
 * Decodes a time with its optional `_extra` field: bits 0-1 extend the 32-bit signed seconds by
 * multiples of 2^32 (ext4's epoch bits), bits 2-31 hold nanoseconds.
 */
function decodeTime(b: Uint8Array, o: number, extraOffset: number | undefined): Timestamp {
  const base = s32(b, o);
  if (extraOffset === undefined) return { sec: base, nsec: 0 };
  const extra = u32(b, extraOffset);
  return { sec: base + (extra & 3) * 2 ** 32, nsec: extra >>> 2 };
}

/** Decodes one inode from its `inodeSize` bytes. */
export function decodeInode(b: Uint8Array, ino: number, inodeSize: number): Inode {
  const block = new Uint32Array(15);
  for (let i = 0; i < 15; i++) block[i] = u32(b, 0x28 + 4 * i);
  // The extra fields exist only when the inode is large and i_extra_isize covers them.
  const extraIsize = inodeSize > 128 ? u16(b, 0x80) : 0;
  const has = (end: number): boolean => inodeSize > 128 && extraIsize >= 4 && 128 + extraIsize >= end && end <= inodeSize;
  const mode = u16(b, 0x00);
  const sizeLo = u32(b, 0x04);
  const sizeHigh = u32(b, 0x6c);
  return {
    ino,
    mode,
    uid: (u16(b, 0x02) | (u16(b, 0x78) << 16)) >>> 0,
    gid: (u16(b, 0x18) | (u16(b, 0x7a) << 16)) >>> 0,
    size: sizeLo + sizeHigh * 2 ** 32,
    sizeHigh,
    atime: decodeTime(b, 0x08, has(0x90) ? 0x8c : undefined),
    ctime: decodeTime(b, 0x0c, has(0x88) ? 0x84 : undefined),
    mtime: decodeTime(b, 0x10, has(0x8c) ? 0x88 : undefined),
    dtime: u32(b, 0x14),
    linksCount: u16(b, 0x1a),
    blocks512: u32(b, 0x1c),
    flags: u32(b, 0x20),
    block,
    blockBytes: b.slice(0x28, 0x28 + 60),
    fileAcl: u32(b, 0x68),
    fileAclHigh: u16(b, 0x76),
    blocksHigh: u16(b, 0x74),
    faddr: u32(b, 0x70),
    osd1: u32(b, 0x24),
    extraIsize: inodeSize > 128 ? 128 + extraIsize : 128,
    generation: u32(b, 0x64),
  };
}

/** Device number of a char/block special inode: old 16-bit encoding in i_block[0], else new in i_block[1]. */
export function deviceNumber(inode: Inode): [major: number, minor: number] {
  const old = inode.block[0]!;
  if (old !== 0) return [(old >>> 8) & 0xff, old & 0xff];
  const dev = inode.block[1]!;
  return [(dev & 0xfff00) >>> 8, (dev & 0xff) | ((dev >>> 12) & 0xfff00)];
}
