import { FsconvError } from '@fsconv/base';

/**
 * Every refusal of this package is a PartitionTableError: a one-line message naming what is wrong
 * and where (which table, which LBA, which entry), plus a machine-readable code. Nothing else is
 * thrown for bad input.
 */
export type PartitionTableErrorCode =
  /** The byte source is shorter than a structure the table points at, or a read failed. */
  | 'io'
  /** An MBR or EBR entry contradicts the disk: past its end, overlapping, starting at sector 0. */
  | 'mbr-entry'
  /** The chain of extended boot records is broken: a loop, too long, outside its container, no signature. */
  | 'ebr-chain'
  /** A GPT header is unusable (signature, size, CRC, its own LBA, usable range, entry geometry). */
  | 'gpt-header'
  /** A GPT partition entry array does not match its CRC or does not fit. */
  | 'gpt-entries'
  /** A GPT partition entry contradicts the header: outside the usable range, overlapping, backwards. */
  | 'gpt-partition'
  /** Both GPT copies are sound but say different things. */
  | 'gpt-mismatch'
  /** Something this package does not handle (a sector size, a second extended partition). */
  | 'unsupported'
  /** setPartitionType: no such partition, or a type that cannot be set on it. */
  | 'bad-request'
  /** setPartitionType: the table on the source is no longer the one that was decoded. */
  | 'changed';

export class PartitionTableError extends FsconvError<PartitionTableErrorCode> {
  override readonly name = 'PartitionTableError';
  constructor(code: PartitionTableErrorCode, message: string) {
    super(code, message);
  }
}
