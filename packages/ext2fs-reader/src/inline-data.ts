/**
 * ext4's inline_data: a small file, directory or symlink kept inside its inode (Linux
 * fs/ext4/inline.c, e2fsprogs lib/ext2fs/inline_data.c). The inode has EXT4_INLINE_DATA_FL; its
 * bytes are the 60 of i_block followed by the value of the in-inode attribute "system.data"
 * (present even when empty, and only in the inode's body: the kernel looks nowhere else). The
 * inline size is 60 + that value's length.
 *
 * An inline directory has no '.' or '..' records: i_block starts with the parent's inode number
 * (4 bytes), then records fill the other 56 bytes, then the system.data value as a second run of
 * records over its whole length (no checksum tail in either). Its i_size is its inline size.
 */
import { u32, type Xattr } from '@fsconv/base';
import { forEachDirEntry, type DirEntry } from './directory.js';
import { corrupt, type Ext2Location } from './errors.js';

/** The attribute holding the bytes past i_block. */
export const INLINE_DATA_XATTR = 'system.data';
/** Bytes of i_block: the first part of the inline data. */
export const MIN_INLINE_DATA_SIZE = 60;
/** An inline directory's parent inode number at the start of i_block. */
const INLINE_DOTDOT_SIZE = 4;

const DOT = new Uint8Array([0x2e]);
const DOTDOT = new Uint8Array([0x2e, 0x2e]);
/** The directory file type (filetype feature). */
const DIR_FILE_TYPE = 2;

/**
 * The inline bytes of an inode: i_block, then system.data from the attributes of its body (as
 * decoded, in full, from the inode). An inline inode without it is refused (e2fsck: "has
 * INLINE_DATA_FL flag but extended attribute not found").
 */
export function inlineDataOf(blockBytes: Uint8Array, inBody: readonly Xattr[], where: Ext2Location): Uint8Array {
  const ea = inBody.find((x) => x.name === INLINE_DATA_XATTR);
  if (ea === undefined) throw corrupt(`has the inline data flag but no ${INLINE_DATA_XATTR} attribute in the inode`, where);
  const out = new Uint8Array(MIN_INLINE_DATA_SIZE + ea.value.length);
  out.set(blockBytes.subarray(0, MIN_INLINE_DATA_SIZE));
  out.set(ea.value, MIN_INLINE_DATA_SIZE);
  return out;
}

/**
 * The records of an inline directory as readdir gives them: '.' and '..' first (from the inode
 * number and the stored parent), then those of i_block (logical block 0), then those of
 * system.data (logical block 1, as e2fsck numbers them). Each run is checked like a directory
 * block of its own length: records must tile it exactly.
 */
export function forEachInlineDirEntry(
  ino: number,
  data: Uint8Array,
  hasFiletype: boolean,
  where: Ext2Location,
  visit: (entry: DirEntry, logicalBlock: number) => void,
): void {
  const fileType = hasFiletype ? DIR_FILE_TYPE : 0;
  visit({ inode: ino, name: DOT, fileType, offset: 0, recLen: 12 }, 0);
  visit({ inode: u32(data, 0), name: DOTDOT, fileType, offset: 0, recLen: INLINE_DOTDOT_SIZE }, 0);
  const first = data.subarray(INLINE_DOTDOT_SIZE, MIN_INLINE_DATA_SIZE);
  forEachDirEntry(first, first.length, hasFiletype, { ...where, block: undefined }, (e) => visit({ ...e, offset: e.offset + INLINE_DOTDOT_SIZE }, 0));
  const rest = data.subarray(MIN_INLINE_DATA_SIZE);
  if (rest.length > 0) forEachDirEntry(rest, rest.length, hasFiletype, { ...where, block: undefined }, (e) => visit(e, 1));
}
