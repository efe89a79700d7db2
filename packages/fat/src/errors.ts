/**
 * Every refusal of the FAT codecs and reader is a FatError: a one-line message naming what is
 * wrong and where (directory path, entry slot, cluster), plus a machine-readable code, in the
 * manner of the ext2 reader's Ext2Error. Nothing else is thrown for bad input.
 */
export type FatErrorCode =
  /** Not a FAT filesystem at all (no boot signature, BPB fields that no FAT could have). */
  | 'not-fat'
  /** A valid FAT using something this code refuses (an FS version, a cluster count past the limits). */
  | 'unsupported'
  /** The filesystem contradicts itself: fsck.fat would report an error here. */
  | 'corrupt'
  /** The byte source failed or is shorter than the filesystem claims. */
  | 'io'
  /** A caller passed something impossible (an encoder parameter out of range). */
  | 'invalid-argument';

export interface FatLocation {
  /** A '/'-rooted path, or a description such as 'root directory'. */
  path?: string;
  /** Slot index of a directory entry within its directory. */
  entry?: number;
  cluster?: number;
}

export class FatError extends Error {
  override readonly name = 'FatError';
  constructor(
    readonly code: FatErrorCode,
    readonly detail: string,
    readonly where: FatLocation = {},
  ) {
    super(formatMessage(detail, where));
  }
}

function formatMessage(detail: string, where: FatLocation): string {
  const parts: string[] = [];
  if (where.path !== undefined && where.path !== '') parts.push(where.path);
  if (where.entry !== undefined) parts.push(`entry ${where.entry}`);
  if (where.cluster !== undefined) parts.push(`cluster ${where.cluster}`);
  // Keep it one line whatever the detail holds (names come from disk).
  const text = parts.length > 0 ? `${parts.join(', ')}: ${detail}` : detail;
  return text.replace(/[\r\n]+/g, ' ');
}

export const fatCorrupt = (detail: string, where: FatLocation = {}): FatError => new FatError('corrupt', detail, where);
export const fatUnsupported = (detail: string, where: FatLocation = {}): FatError =>
  new FatError('unsupported', detail, where);
export const notFat = (detail: string, where: FatLocation = {}): FatError => new FatError('not-fat', detail, where);
