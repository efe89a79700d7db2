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

export interface Ext2Location {
  group?: number;
  inode?: number;
  block?: number;
  path?: string;
}

export class Ext2Error extends Error {
  override readonly name = 'Ext2Error';
  constructor(
    readonly code: Ext2ErrorCode,
    readonly detail: string,
    readonly where: Ext2Location = {},
  ) {
    super(formatMessage(detail, where));
  }
}

function formatMessage(detail: string, where: Ext2Location): string {
  const parts: string[] = [];
  if (where.group !== undefined) parts.push(`group ${where.group}`);
  if (where.inode !== undefined) {
    parts.push(where.path !== undefined ? `inode ${where.inode} (${where.path})` : `inode ${where.inode}`);
  } else if (where.path !== undefined) {
    parts.push(where.path);
  }
  if (where.block !== undefined) parts.push(`block ${where.block}`);
  return parts.length > 0 ? `${parts.join(', ')}: ${detail}` : detail;
}

export const corrupt = (detail: string, where: Ext2Location = {}): Ext2Error => new Ext2Error('corrupt', detail, where);
export const unsupported = (detail: string, where: Ext2Location = {}): Ext2Error =>
  new Ext2Error('unsupported', detail, where);
