import type { FatTarget } from '@fsconv/fat';

/**
 * What the convert and check commands take, and their refusals: shared by the new-image path
 * (convert.ts) and the in-place one (in-place.ts), which import this module and not each other.
 */

/** A conversion refused before anything is written, for a reason the user can act on: one line, exit 1. */
export class ConvertRefusal extends Error {
  override readonly name = 'ConvertRefusal';
}

export interface ConvertArgs {
  /** What SOURCE holds: an ext2, a directory, or a FAT volume with its rights files. */
  from: 'ext2' | 'dir' | 'vfat+rights';
  to: FatTarget;
  source: string;
  output?: string;
  size?: string;
  fatBits?: 12 | 16 | 32;
  clusterSize?: number;
  /** The partition of a whole-disk image or disk to work on (default: the one that holds ext2). */
  partition?: number | undefined;
  /** In place in a partition: leave its type in the partition table as it is. */
  keepPartitionType: boolean;
  /** FAT12/16 fixed root entries (default 512). */
  rootEntries?: number | undefined;
  label?: string;
  volumeId?: string;
  codepage: string;
  sourceCharset: string;
  tz: string;
  partitionTable?: 'mbr';
  json: boolean;
  quiet: boolean;
  dryRun: boolean;
  yes: boolean;
  /** With --output: replace an existing file, or overwrite a block device. */
  force?: boolean;
}

