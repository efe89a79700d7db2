import { corrupt, type Ext2Location } from './errors.js';
import { u16, u32, u8 } from '@fsconv/base';

/** One record of a directory block. */
export interface DirEntry {
  inode: number;
  /** Raw name bytes (a view into the block: copy before keeping). */
  name: Uint8Array;
  /** file_type byte (filetype feature) or 0. */
  fileType: number;
  /** Byte offset of the record within its block. */
  offset: number;
  recLen: number;
}

/**
 * Decodes rec_len. Blocks of 64 KiB cannot store 65536 in 16 bits: it is written as 65535 or 0
 * there, and the low two bits extend larger lengths (e2fsprogs' and Linux's encoding).
 */
export function decodeRecLen(raw: number, blockSize: number): number {
  if (blockSize < 65536) return raw;
  if (raw === 65535 || raw === 0) return 65536;
  return (raw & 65532) | ((raw & 3) << 16);
}

/**
 * Walks the records of one directory block, calling `visit` for used records (inode ≠ 0) and
 * refusing any record that would make a reader loop or read out of bounds: rec_len below 12, not a
 * multiple of 4, past the block end, or too short for its name; an empty name; '/' or NUL in a name;
 * a file type byte without the filetype feature.
 */
export function forEachDirEntry(
  block: Uint8Array,
  blockSize: number,
  hasFiletype: boolean,
  where: Ext2Location,
  visit: (entry: DirEntry) => void,
): void {
  let offset = 0;
  while (offset < blockSize) {
    const inode = u32(block, offset);
    const recLen = decodeRecLen(u16(block, offset + 4), blockSize);
    const nameLen = u8(block, offset + 6);
    const typeByte = u8(block, offset + 7);
    const at = `directory record at offset ${offset}`;
    if (recLen < 12 || recLen % 4 !== 0 || offset + recLen > blockSize) {
      throw corrupt(`${at} has an invalid rec_len ${recLen}`, where);
    }
    if (8 + nameLen > recLen) {
      throw corrupt(`${at} has name length ${nameLen}, longer than its rec_len ${recLen}`, where);
    }
    if (inode !== 0) {
      if (nameLen === 0) throw corrupt(`${at} has an empty name`, where);
      if (!hasFiletype && typeByte !== 0) {
        throw corrupt(`${at} has a file type (or name length high byte) ${typeByte} without the filetype feature`, where);
      }
      const name = block.subarray(offset + 8, offset + 8 + nameLen);
      for (let i = 0; i < nameLen; i++) {
        if (name[i] === 0 || name[i] === 0x2f) {
          throw corrupt(`${at} has a name containing ${name[i] === 0 ? 'NUL' : "'/'"}`, where);
        }
      }
      visit({ inode, name, fileType: hasFiletype ? typeByte : 0, offset, recLen });
    }
    offset += recLen;
  }
}
