import { u32, u64, put32 as setU32 } from '@fsconv/base';
import { hex } from './bytes.js';
import { readExact, type PartitionSource } from './byte-source.js';
import { crc32 } from '@fsconv/base';
import { PartitionTableError } from './errors.js';
import { formatGuid, ZERO_GUID } from './guid.js';
import type { GptLayout, Partition, PartitionTable } from './model.js';
import { PROTECTIVE_TYPE, type MbrEntry } from './mbr.js';

export const GPT_SIGNATURE = 'EFI PART';
export const GPT_HEADER_MIN_SIZE = 92;
export const GPT_REVISION_1_0 = 0x00010000;
/**
 * The largest partition entry array accepted (count × entry size): 1 MiB, 8192 entries of 128
 * bytes (tools write 128 × 128 = 16 KiB). Nothing is read or allocated for a larger claim.
 */
export const MAX_ENTRY_ARRAY_BYTES = 1 << 20;
/** Sector sizes tried, in this order, for the header at LBA 1. */
export const GPT_SECTOR_SIZES = [512, 4096] as const;

/** A GPT header's fields (LBAs as numbers; Infinity for a 64-bit value above 2^53 − 1). */
export interface GptHeader {
  revision: number;
  headerSize: number;
  headerCrc: number;
  myLba: number;
  alternateLba: number;
  firstUsableLba: number;
  lastUsableLba: number;
  diskGuid: string;
  entriesLba: number;
  entryCount: number;
  entrySize: number;
  entriesCrc: number;
}

export const hasGptSignature = (sector: Uint8Array): boolean =>
  sector.length >= 8 && String.fromCharCode(...sector.subarray(0, 8)) === GPT_SIGNATURE;

export function parseGptHeader(sector: Uint8Array): GptHeader {
  return {
    revision: u32(sector, 8),
    headerSize: u32(sector, 12),
    headerCrc: u32(sector, 16),
    myLba: u64(sector, 24),
    alternateLba: u64(sector, 32),
    firstUsableLba: u64(sector, 40),
    lastUsableLba: u64(sector, 48),
    diskGuid: formatGuid(sector, 56),
    entriesLba: u64(sector, 72),
    entryCount: u32(sector, 80),
    entrySize: u32(sector, 84),
    entriesCrc: u32(sector, 88),
  };
}

/** The CRC a header sector should carry: CRC-32 of its first headerSize bytes with the CRC field zeroed. */
export function gptHeaderCrc(sector: Uint8Array, headerSize: number): number {
  const copy = sector.slice(0, headerSize);
  setU32(copy, 16, 0);
  return crc32(copy);
}

type Which = 'primary' | 'backup';

/** One copy of the GPT as read: sound, or what is wrong with it (one line, naming the LBA). */
export interface GptCopy {
  which: Which;
  lba: number;
  header?: GptHeader;
  /** The header sector as read (when it has the signature). */
  headerSector?: Uint8Array;
  entries?: Uint8Array;
  problem?: string;
}

const arraySectors = (h: GptHeader, sectorSize: number): number => Math.ceil((h.entryCount * h.entrySize) / sectorSize);

/**
 * Reads and checks one copy: the header at `lba` (signature, size, CRC, its own LBA, the usable
 * range, the entry geometry and where the array lies), then the entry array and its CRC.
 */
export function readGptCopy(source: PartitionSource, sectorSize: number, lba: number, which: Which): GptCopy {
  const diskSectors = Math.floor(source.size / sectorSize);
  const where = `the ${which} header at LBA ${lba}`;
  const copy: GptCopy = { which, lba };
  if (!(lba >= 1 && lba < diskSectors)) return { ...copy, problem: `${where} is outside the disk (${diskSectors} sectors)` };
  const sector = readExact(source, lba * sectorSize, sectorSize, `GPT: ${where}`);
  if (!hasGptSignature(sector)) return { ...copy, problem: `${where} has no "${GPT_SIGNATURE}" signature` };
  const h = parseGptHeader(sector);
  copy.headerSector = sector;
  const bad = (what: string): GptCopy => ({ ...copy, problem: `${where} ${what}` });
  if (h.headerSize < GPT_HEADER_MIN_SIZE || h.headerSize > sectorSize) return bad(`has a header size of ${h.headerSize} bytes (want ${GPT_HEADER_MIN_SIZE}–${sectorSize})`);
  if (gptHeaderCrc(sector, h.headerSize) !== h.headerCrc) return bad('has a bad CRC');
  copy.header = h;
  if (h.myLba !== lba) return bad(`says it is at LBA ${h.myLba}`);
  if (!(h.alternateLba >= 1 && h.alternateLba < diskSectors) || h.alternateLba === lba) {
    return bad(`puts the other header at LBA ${h.alternateLba} (the disk has ${diskSectors} sectors)`);
  }
  if (!(h.firstUsableLba <= h.lastUsableLba && h.lastUsableLba < diskSectors)) {
    return bad(`has a usable range LBA ${h.firstUsableLba}–${h.lastUsableLba} outside the disk (${diskSectors} sectors)`);
  }
  if (h.entrySize < 128 || (h.entrySize & (h.entrySize - 1)) !== 0) {
    return bad(`has an entry size of ${h.entrySize} bytes (want 128 × a power of two)`);
  }
  const arrayBytes = h.entryCount * h.entrySize;
  if (arrayBytes > MAX_ENTRY_ARRAY_BYTES) {
    return bad(`claims ${h.entryCount} entries of ${h.entrySize} bytes (more than the ${MAX_ENTRY_ARRAY_BYTES} bytes accepted)`);
  }
  const nSectors = arraySectors(h, sectorSize);
  const arrayEnd = h.entriesLba + nSectors; // exclusive
  const usableStart = h.firstUsableLba;
  const usableEnd = h.lastUsableLba + 1;
  const arrayOk =
    which === 'primary'
      ? h.entriesLba > lba && arrayEnd <= usableStart && lba < usableStart
      : h.entriesLba >= usableEnd && arrayEnd <= lba && lba >= usableEnd;
  if (!arrayOk) {
    return bad(
      `puts its entry array at LBA ${h.entriesLba}–${arrayEnd - 1}, which is not between the header and the usable range LBA ${usableStart}–${h.lastUsableLba}`,
    );
  }
  const entries = readExact(source, h.entriesLba * sectorSize, arrayBytes, `GPT: the ${which} entry array at LBA ${h.entriesLba}`);
  if (crc32(entries) !== h.entriesCrc) {
    return { ...copy, problem: `the ${which} entry array at LBA ${h.entriesLba} (${h.entryCount} entries of ${h.entrySize} bytes) has a bad CRC` };
  }
  return { ...copy, entries };
}

const utf16 = new TextDecoder('utf-16le');

/** The name of an entry: 36 UTF-16LE code units at offset 56, up to the first NUL. */
export function entryName(entries: Uint8Array, offset: number): string {
  let end = offset + 56;
  const limit = offset + 56 + 72;
  while (end < limit && (entries[end] !== 0 || entries[end + 1] !== 0)) end += 2;
  return utf16.decode(entries.subarray(offset + 56, end));
}

/** Differences between two sound copies that must agree (empty when they do). */
function disagreements(p: GptCopy, b: GptCopy): string[] {
  const ph = p.header!;
  const bh = b.header!;
  const out: string[] = [];
  if (ph.diskGuid !== bh.diskGuid) out.push(`disk GUID ${ph.diskGuid} vs ${bh.diskGuid}`);
  if (ph.firstUsableLba !== bh.firstUsableLba || ph.lastUsableLba !== bh.lastUsableLba) {
    out.push(`usable range LBA ${ph.firstUsableLba}–${ph.lastUsableLba} vs ${bh.firstUsableLba}–${bh.lastUsableLba}`);
  }
  if (ph.entryCount !== bh.entryCount || ph.entrySize !== bh.entrySize) {
    out.push(`${ph.entryCount} entries of ${ph.entrySize} bytes vs ${bh.entryCount} of ${bh.entrySize}`);
  } else if (ph.entriesCrc !== bh.entriesCrc || !sameBytes(p.entries!, b.entries!)) {
    out.push('the partition entries differ');
  }
  if (bh.alternateLba !== p.lba) out.push(`the backup points at LBA ${bh.alternateLba} for the primary`);
  return out;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Both copies as read, before choosing: what setPartitionType rewrites. */
export interface GptCopies {
  sectorSize: number;
  primary: GptCopy;
  backup: GptCopy;
}

/** Finds the sector size (a header at LBA 1 of 512 or 4096 bytes, else a backup at the last LBA) and reads both copies. */
export function readGptCopies(source: PartitionSource): GptCopies {
  let sectorSize: number | undefined;
  for (const ss of GPT_SECTOR_SIZES) {
    if (source.size >= 2 * ss && hasGptSignature(readExact(source, ss, 8, 'GPT: the header at LBA 1'))) {
      sectorSize = ss;
      break;
    }
  }
  if (sectorSize === undefined) {
    for (const ss of GPT_SECTOR_SIZES) {
      const last = Math.floor(source.size / ss) - 1;
      if (last >= 1 && hasGptSignature(readExact(source, last * ss, 8, 'GPT: the header at the last LBA'))) {
        sectorSize = ss;
        break;
      }
    }
  }
  if (sectorSize === undefined) {
    throw new PartitionTableError(
      'gpt-header',
      'GPT: the MBR is protective (type 0xee) but there is no GPT header at LBA 1 nor at the last LBA (sector size 512 or 4096)',
    );
  }
  const diskSectors = Math.floor(source.size / sectorSize);
  const primary = readGptCopy(source, sectorSize, 1, 'primary');
  // The backup is where a primary with a sound header says; otherwise where it belongs, at the last LBA.
  const alt = primary.header?.alternateLba;
  const backupLba = alt !== undefined && alt >= 2 && alt < diskSectors ? alt : diskSectors - 1;
  const backup = readGptCopy(source, sectorSize, backupLba, 'backup');
  return { sectorSize, primary, backup };
}

/**
 * Decodes a GPT behind a protective MBR. Both copies are read and checked; with both sound they
 * must agree, else the table is refused. With one damaged, the other is used and a warning says
 * so (as sfdisk and gdisk do). With both damaged, the table is refused.
 */
export function decodeGpt(source: PartitionSource, mbrEntries: MbrEntry[], options: DecodeOptions = {}): PartitionTable {
  return decodeGptWithCopies(source, mbrEntries, options).table;
}

export interface DecodeOptions {
  /**
   * Two sound GPT copies that say different things: refused (the default), or decoded from the
   * primary with a warning, as the Linux kernel reads it. `fsconv resume` asks for the latter: a
   * conversion interrupted between rewriting the primary and the backup copy leaves exactly that,
   * and its journal rewrites both.
   */
  whenCopiesDisagree?: 'refuse' | 'primary';
}

/** decodeGpt, also returning both copies as read (setPartitionType rewrites them). */
export function decodeGptWithCopies(source: PartitionSource, mbrEntries: MbrEntry[], options: DecodeOptions = {}): { table: PartitionTable; copies: GptCopies } {
  const copies = readGptCopies(source);
  const { sectorSize, primary, backup } = copies;
  const warnings: string[] = [];
  const diskSectors = Math.floor(source.size / sectorSize);
  let chosen: GptCopy;
  let damaged: Which | undefined;
  if (primary.problem === undefined && backup.problem === undefined) {
    const diff = disagreements(primary, backup);
    if (diff.length > 0 && options.whenCopiesDisagree === 'primary') {
      warnings.push(`GPT: the primary (LBA 1) and backup (LBA ${backup.lba}) tables disagree (${diff.join('; ')}); decoded from the primary`);
    } else if (diff.length > 0) {
      throw new PartitionTableError(
        'gpt-mismatch',
        `GPT: the primary (LBA 1) and backup (LBA ${backup.lba}) tables disagree: ${diff.join('; ')}`,
      );
    }
    chosen = primary;
  } else if (primary.problem === undefined) {
    chosen = primary;
    damaged = 'backup';
    warnings.push(`GPT: ${backup.problem}; decoded from the primary`);
  } else if (backup.problem === undefined) {
    chosen = backup;
    damaged = 'primary';
    warnings.push(`GPT: ${primary.problem}; decoded from the backup at LBA ${backup.lba}`);
  } else {
    const code = /entry array/.test(primary.problem) && /entry array/.test(backup.problem) ? 'gpt-entries' : 'gpt-header';
    throw new PartitionTableError(code, `GPT: neither copy is usable: ${primary.problem}; ${backup.problem}`);
  }
  const h = chosen.header!;
  const entries = chosen.entries!;

  if (chosen === primary && h.alternateLba !== diskSectors - 1) {
    warnings.push(`GPT: the backup header is at LBA ${h.alternateLba}, not at the last LBA ${diskSectors - 1} of the disk`);
  }
  if (h.revision !== GPT_REVISION_1_0) warnings.push(`GPT: header revision ${hex(h.revision, 8)} (expected 0x00010000)`);
  protectiveMbrWarnings(mbrEntries, diskSectors, sectorSize, warnings);

  const partitions: Partition[] = [];
  for (let i = 0; i < h.entryCount; i++) {
    const o = i * h.entrySize;
    const type = formatGuid(entries, o);
    if (type === ZERO_GUID) continue;
    const first = u64(entries, o + 32);
    const last = u64(entries, o + 40);
    const n = i + 1;
    if (!(first <= last)) {
      throw new PartitionTableError('gpt-partition', `GPT: partition ${n} ends (LBA ${last}) before it starts (LBA ${first})`);
    }
    if (first < h.firstUsableLba || last > h.lastUsableLba) {
      throw new PartitionTableError(
        'gpt-partition',
        `GPT: partition ${n} (LBA ${first}–${last}) is outside the usable range LBA ${h.firstUsableLba}–${h.lastUsableLba}`,
      );
    }
    const sectors = last - first + 1;
    const p: Partition = {
      number: n,
      startLba: first,
      sectors,
      startByte: first * sectorSize,
      bytes: sectors * sectorSize,
      type: { gpt: type },
      guid: formatGuid(entries, o + 16),
      entry: { sector: h.entriesLba + Math.floor(o / sectorSize), slot: i },
    };
    const name = entryName(entries, o);
    if (name !== '') p.name = name;
    partitions.push(p);
  }
  const sorted = [...partitions].sort((a, b) => a.startLba - b.startLba);
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1]!;
    const b = sorted[i]!;
    if (b.startLba < a.startLba + a.sectors) {
      throw new PartitionTableError(
        'gpt-partition',
        `GPT: partitions ${a.number} (LBA ${a.startLba}–${a.startLba + a.sectors - 1}) and ${b.number} (LBA ${b.startLba}–${b.startLba + b.sectors - 1}) overlap`,
      );
    }
  }

  // Where a damaged copy's array is, as far as its header (if its CRC holds) says, else where it belongs.
  const layout: GptLayout = {
    diskGuid: h.diskGuid,
    firstUsableLba: h.firstUsableLba,
    lastUsableLba: h.lastUsableLba,
    entryCount: h.entryCount,
    entrySize: h.entrySize,
    primaryHeaderLba: 1,
    primaryEntriesLba: primary.header?.entriesLba ?? 2,
    backupHeaderLba: backup.lba,
    backupEntriesLba: backup.header?.entriesLba ?? h.lastUsableLba + 1,
    decodedFrom: chosen.which,
  };
  if (damaged !== undefined) layout.damaged = damaged;
  const table: PartitionTable = {
    scheme: 'gpt',
    diskBytes: source.size,
    sectorSize,
    diskId: h.diskGuid,
    partitions,
    warnings,
    gpt: layout,
  };
  return { table, copies };
}

function protectiveMbrWarnings(entries: MbrEntry[], diskSectors: number, sectorSize: number, warnings: string[]): void {
  const used = entries.filter((e) => e.sectors !== 0);
  const pmbr = used.find((e) => e.type === PROTECTIVE_TYPE)!;
  const others = used.filter((e) => e !== pmbr);
  if (others.length > 0) {
    warnings.push(`GPT: hybrid MBR: MBR entries ${others.map((e) => e.slot + 1).join(', ')} also describe partitions; the GPT is used`);
  }
  const want = Math.min(diskSectors - 1, 0xffffffff);
  if (pmbr.start !== 1 || pmbr.sectors !== want) {
    warnings.push(
      `GPT: the protective MBR entry covers LBA ${pmbr.start}–${pmbr.start + pmbr.sectors - 1} (${sectorSize}-byte sectors), not LBA 1–${want}`,
    );
  }
}
