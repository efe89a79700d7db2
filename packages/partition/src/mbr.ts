import { u32 } from '@fsconv/base';
import { hex } from './bytes.js';
import { volumeBootSectorKind } from './filesystem-probe.js';
import { readExact, type PartitionSource } from './byte-source.js';
import { PartitionTableError } from './errors.js';
import type { Partition, PartitionTable } from './model.js';

export const MBR_SECTOR_SIZE = 512;
/** Types of an extended partition (a container of EBRs), as Linux recognises them. */
export const EXTENDED_TYPES: ReadonlySet<number> = new Set([0x05, 0x0f, 0x85]);
/** The type of a GPT protective MBR entry. */
export const PROTECTIVE_TYPE = 0xee;
/**
 * At most this many EBRs are followed (Linux stops after 100 links without a partition, libfdisk
 * keeps at most 60 partitions): a longer chain is refused, so a hostile chain costs at most this
 * many sector reads.
 */
export const MAX_EBRS = 128;

/** One 16-byte entry of an MBR or EBR table. */
export interface MbrEntry {
  slot: number;
  status: number;
  type: number;
  /** Relative to the table's base (0 for the MBR; the EBR or the extended partition for an EBR). */
  start: number;
  sectors: number;
}

export function mbrEntries(sector: Uint8Array): MbrEntry[] {
  const out: MbrEntry[] = [];
  for (let slot = 0; slot < 4; slot++) {
    const e = 446 + 16 * slot;
    out.push({ slot, status: sector[e]!, type: sector[e + 4]!, start: u32(sector, e + 8), sectors: u32(sector, e + 12) });
  }
  return out;
}

export const hasBootSignature = (sector: Uint8Array): boolean => sector[510] === 0x55 && sector[511] === 0xaa;

/** How sector 0 reads: not a partition table (and why), a protective MBR (GPT follows), or a DOS MBR. */
export type Sector0 =
  | { kind: 'none'; reason: string }
  | { kind: 'protective'; entries: MbrEntry[] }
  | { kind: 'mbr'; entries: MbrEntry[] };

/**
 * Classifies sector 0. It is an MBR only if it ends in 55 AA, is not a volume's boot sector, and
 * every entry is plausible: status 0x00 or 0x80, and a used entry (non-zero size) starts at LBA 1 or
 * later. Whether entries fit the disk is checked afterwards, as an error, not as a reason for "none".
 */
export function classifySector0(sector: Uint8Array): Sector0 {
  if (sector.length < 512 || !hasBootSignature(sector)) return { kind: 'none', reason: 'sector 0 does not end in 55 AA' };
  const volume = volumeBootSectorKind(sector);
  if (volume !== undefined) return { kind: 'none', reason: `sector 0 is a ${volume} boot sector` };
  const entries = mbrEntries(sector);
  for (const e of entries) {
    if (e.status !== 0x00 && e.status !== 0x80) {
      return { kind: 'none', reason: `entry ${e.slot + 1} has status byte ${hex(e.status)} (an MBR has 0x00 or 0x80)` };
    }
    if (e.sectors !== 0 && e.start === 0) return { kind: 'none', reason: `entry ${e.slot + 1} starts at LBA 0` };
  }
  if (entries.some((e) => e.sectors !== 0 && e.type === PROTECTIVE_TYPE)) return { kind: 'protective', entries };
  return { kind: 'mbr', entries };
}

const range = (start: number, sectors: number): string => `LBA ${start}–${start + sectors - 1}`;

interface Region {
  start: number;
  end: number; // exclusive
  what: string;
}

/** Refuses any two regions that share a sector. */
function refuseOverlaps(regions: Region[]): void {
  const sorted = [...regions].sort((a, b) => a.start - b.start || a.end - b.end);
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1]!;
    const b = sorted[i]!;
    if (b.start < a.end) throw new PartitionTableError('mbr-entry', `MBR: ${a.what} and ${b.what} overlap`);
  }
}

function partition(number: number, startLba: number, e: MbrEntry, tableLba: number, extended: boolean): Partition {
  const p: Partition = {
    number,
    startLba,
    sectors: e.sectors,
    startByte: startLba * MBR_SECTOR_SIZE,
    bytes: e.sectors * MBR_SECTOR_SIZE,
    type: { mbr: e.type },
    bootable: e.status === 0x80,
    entry: { sector: tableLba, slot: e.slot },
  };
  if (extended) p.extended = true;
  return p;
}

/**
 * Decodes a DOS MBR whose sector 0 classified as 'mbr': the four primary entries (numbered by slot)
 * and, inside the one extended partition, the EBR chain's logical partitions numbered 5, 6, … in
 * chain order (as Linux does). Refuses an entry past the end of the disk, overlaps (EBR sectors
 * included), a loop or an over-long chain, a link or a logical partition outside the extended one.
 */
export function decodeMbr(source: PartitionSource, sector0: Uint8Array, entries: MbrEntry[]): PartitionTable {
  const diskSectors = Math.floor(source.size / MBR_SECTOR_SIZE);
  const warnings: string[] = [];
  const partitions: Partition[] = [];
  const regions: Region[] = [{ start: 0, end: 1, what: 'the MBR (LBA 0)' }];
  let extended: Partition | undefined;

  for (const e of entries) {
    if (e.sectors === 0) continue;
    const n = e.slot + 1;
    if (e.start + e.sectors > diskSectors) {
      throw new PartitionTableError(
        'mbr-entry',
        `MBR: partition ${n} (${range(e.start, e.sectors)}) ends past the end of the disk (${diskSectors} sectors)`,
      );
    }
    const isExtended = EXTENDED_TYPES.has(e.type);
    const p = partition(n, e.start, e, 0, isExtended);
    if (isExtended) {
      if (extended !== undefined) {
        throw new PartitionTableError('unsupported', `MBR: partitions ${extended.number} and ${n} are both extended partitions`);
      }
      extended = p;
    }
    partitions.push(p);
    regions.push({ start: e.start, end: e.start + e.sectors, what: `partition ${n} (${range(e.start, e.sectors)})` });
  }

  if (extended !== undefined) {
    // The container overlapping a primary is refused with the primaries; inside it, the EBRs and the
    // logical partitions are checked against each other.
    refuseOverlaps(regions);
    const chain = walkEbrChain(source, extended, warnings);
    const inner: Region[] = [...chain.ebrs];
    for (const p of chain.logicals) {
      partitions.push(p);
      inner.push({ start: p.startLba, end: p.startLba + p.sectors, what: `partition ${p.number} (${range(p.startLba, p.sectors)})` });
    }
    refuseOverlaps(inner);
  } else {
    refuseOverlaps(regions);
  }

  return {
    scheme: 'mbr',
    diskBytes: source.size,
    sectorSize: MBR_SECTOR_SIZE,
    diskId: hex(u32(sector0, 440), 8),
    partitions,
    warnings,
  };
}

interface Chain {
  logicals: Partition[];
  ebrs: Region[];
}

/**
 * Follows the EBR chain from the extended partition's first sector. Each EBR gives at most one
 * logical partition (its first used non-extended entry, relative to the EBR) and one link (its first
 * used extended entry, relative to the extended partition); further entries are ignored with a
 * warning, as libfdisk does.
 */
function walkEbrChain(source: PartitionSource, ext: Partition, warnings: string[]): Chain {
  const extStart = ext.startLba;
  const extEnd = ext.startLba + ext.sectors;
  const logicals: Partition[] = [];
  const ebrs: Region[] = [];
  const seen = new Set<number>();
  let ebrLba = extStart;
  let number = 5;
  for (let hop = 0; ; hop++) {
    if (seen.has(ebrLba)) {
      throw new PartitionTableError('ebr-chain', `MBR: the EBR chain loops: EBR ${hop + 1} is the EBR at LBA ${ebrLba} again`);
    }
    if (hop >= MAX_EBRS) {
      throw new PartitionTableError('ebr-chain', `MBR: the EBR chain in partition ${ext.number} is longer than ${MAX_EBRS} EBRs`);
    }
    seen.add(ebrLba);
    const sector = readExact(source, ebrLba * MBR_SECTOR_SIZE, MBR_SECTOR_SIZE, `the EBR at LBA ${ebrLba}`);
    if (!hasBootSignature(sector)) {
      throw new PartitionTableError('ebr-chain', `MBR: the EBR at LBA ${ebrLba} (EBR ${hop + 1} of partition ${ext.number}) does not end in 55 AA`);
    }
    let data: MbrEntry | undefined;
    let link: MbrEntry | undefined;
    for (const e of mbrEntries(sector)) {
      if (e.sectors === 0) continue;
      if (EXTENDED_TYPES.has(e.type)) {
        if (link === undefined) link = e;
        else warnings.push(`MBR: the EBR at LBA ${ebrLba} has a second link (slot ${e.slot + 1}); ignored`);
      } else if (data === undefined) {
        data = e;
      } else {
        warnings.push(`MBR: the EBR at LBA ${ebrLba} has a second partition entry (slot ${e.slot + 1}); ignored`);
      }
    }
    ebrs.push({ start: ebrLba, end: ebrLba + 1, what: `the EBR at LBA ${ebrLba}` });
    if (data !== undefined) {
      const start = ebrLba + data.start;
      if (data.start === 0 || start + data.sectors > extEnd) {
        throw new PartitionTableError(
          'ebr-chain',
          `MBR: logical partition ${number} (${range(start, data.sectors)}, in the EBR at LBA ${ebrLba}) is not inside extended partition ${ext.number} (${range(extStart, ext.sectors)})`,
        );
      }
      logicals.push(partition(number, start, data, ebrLba, false));
      number++;
    } else {
      warnings.push(`MBR: the EBR at LBA ${ebrLba} holds no partition`);
    }
    if (link === undefined) break;
    const next = extStart + link.start;
    if (next >= extEnd) {
      throw new PartitionTableError(
        'ebr-chain',
        `MBR: the EBR at LBA ${ebrLba} links to LBA ${next}, outside extended partition ${ext.number} (${range(extStart, ext.sectors)})`,
      );
    }
    ebrLba = next;
  }
  return { logicals, ebrs };
}
