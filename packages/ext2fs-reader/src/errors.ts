import { FsconvError, type ErrorLocation } from '@fsconv/base';

/**
 * Every refusal of the reader is an Ext2Error: a one-line message naming what is wrong and where
 * (group, inode, block, path), plus a machine-readable code. Nothing else is thrown for bad input.
 */
export type Ext2ErrorCode =
  /** Not an ext2 filesystem at all (no magic, too small). */
  | 'not-ext2'
  /** A valid filesystem using something this reader refuses (a feature, a revision, a block size). */
  | 'unsupported'
  /** The filesystem contradicts itself: e2fsck would report an error here. */
  | 'corrupt'
  /** The filesystem is valid but not in a state we may use (needs recovery, errors flagged). */
  | 'unclean'
  /** The byte source failed or is shorter than the filesystem claims. */
  | 'io';

/** Where in the ext2 (group, inode, block, path): the base location, of which ext2 uses these. */
export type Ext2Location = Pick<ErrorLocation, 'group' | 'inode' | 'block' | 'path'>;

export class Ext2Error extends FsconvError<Ext2ErrorCode> {
  override readonly name = 'Ext2Error';
  constructor(code: Ext2ErrorCode, detail: string, where: Ext2Location = {}) {
    super(code, detail, where);
  }
}

export const corrupt = (detail: string, where: Ext2Location = {}): Ext2Error => new Ext2Error('corrupt', detail, where);
export const unsupported = (detail: string, where: Ext2Location = {}): Ext2Error =>
  new Ext2Error('unsupported', detail, where);
