import { readExact, type PartitionSource } from './byte-source.js';
import { decodeGpt, hasGptSignature, type DecodeOptions } from './gpt.js';
import { classifySector0, decodeMbr, MBR_SECTOR_SIZE } from './mbr.js';
import type { PartitionTable } from './model.js';

/**
 * Decodes the partition table of a disk: a GPT (behind a protective MBR), a DOS MBR with its
 * logical partitions, or null when sector 0 is no partition table at all (a filesystem starts
 * there, or nothing does: see classifySector0 for the rules). A table that is there but broken is
 * refused with a PartitionTableError, never returned half-read.
 */
export function decodePartitionTable(source: PartitionSource, options: DecodeOptions = {}): PartitionTable | null {
  if (source.size < MBR_SECTOR_SIZE) return null;
  const sector0 = readExact(source, 0, MBR_SECTOR_SIZE, 'sector 0');
  const c = classifySector0(sector0);
  if (c.kind === 'none') return null;
  if (c.kind === 'protective') return decodeGpt(source, c.entries, options);
  const table = decodeMbr(source, sector0, c.entries);
  if (source.size >= 2 * MBR_SECTOR_SIZE && hasGptSignature(readExact(source, MBR_SECTOR_SIZE, 8, 'LBA 1'))) {
    table.warnings.push('MBR: LBA 1 holds a GPT header, ignored: the MBR has no protective (0xee) entry');
  }
  return table;
}

/** Why sector 0 is not a partition table, or undefined when it is one (cheap: reads sector 0 only). */
export function noPartitionTableReason(source: PartitionSource): string | undefined {
  if (source.size < MBR_SECTOR_SIZE) return `the disk is smaller than one sector (${source.size} bytes)`;
  const c = classifySector0(readExact(source, 0, MBR_SECTOR_SIZE, 'sector 0'));
  return c.kind === 'none' ? c.reason : undefined;
}
