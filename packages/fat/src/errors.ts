import { FsconvError, type ErrorLocation } from '@fsconv/base';

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

/** Where on the FAT (path, entry slot, cluster): the base location, of which FAT uses these. */
export type FatLocation = Pick<ErrorLocation, 'path' | 'entry' | 'cluster'>;

export class FatError extends FsconvError<FatErrorCode> {
  override readonly name = 'FatError';
  constructor(code: FatErrorCode, detail: string, where: FatLocation = {}) {
    super(code, detail, where);
  }
}

export const fatCorrupt = (detail: string, where: FatLocation = {}): FatError => new FatError('corrupt', detail, where);
export const fatUnsupported = (detail: string, where: FatLocation = {}): FatError =>
  new FatError('unsupported', detail, where);
export const notFat = (detail: string, where: FatLocation = {}): FatError => new FatError('not-fat', detail, where);
