import { put32 as setU32 } from '@fsconv/base';
import { hex } from './bytes.js';
import { readExact, type PartitionSource } from './byte-source.js';
import { crc32 } from '@fsconv/base';
import { decodePartitionTable } from './decode.js';
import { PartitionTableError } from './errors.js';
import { decodeGptWithCopies, gptHeaderCrc, type GptCopy } from './gpt.js';
import { encodeGuid, isGuid, ZERO_GUID } from './guid.js';
import { classifySector0, EXTENDED_TYPES, hasBootSignature, mbrEntries, MBR_SECTOR_SIZE, PROTECTIVE_TYPE } from './mbr.js';
import type { Partition, PartitionTable, SectorWrite } from './model.js';
import { overlaySource } from './overlay.js';

/** The new type: an MBR type byte for an MBR table, a type GUID for a GPT. */
export type PartitionTypeChange = { mbr: number; gpt?: never } | { gpt: string; mbr?: never };

/**
 * The sector writes that change partition `number`'s type, for the caller to perform (nothing is
 * written here; the source is only read). MBR: the one entry's type byte, in the MBR or the EBR
 * holding it. GPT: the entry in the primary and the backup arrays, both array CRCs and both header
 * CRCs, in the order primary array, primary header, backup array, backup header. Each write is one
 * whole sector. The table on the source must still be the one decoded (else 'changed'); a GPT with
 * a damaged copy is refused (repair it first). Writing the result twice gives the same bytes; when
 * the partition already has that type the list is empty.
 */
export function setPartitionType(
  source: PartitionSource,
  table: PartitionTable,
  number: number,
  type: PartitionTypeChange,
): SectorWrite[] {
  const p = table.partitions.find((x) => x.number === number);
  if (p === undefined) {
    throw new PartitionTableError('bad-request', `${table.scheme.toUpperCase()}: there is no partition ${number}`);
  }
  if (p.extended === true) {
    throw new PartitionTableError('bad-request', `MBR: partition ${number} is the extended partition (a container); its type is not changed`);
  }
  if (source.size !== table.diskBytes) {
    throw new PartitionTableError('changed', `the disk is ${source.size} bytes, the table was decoded from ${table.diskBytes}`);
  }
  const writes = table.scheme === 'mbr' ? setMbrType(source, p, type) : setGptType(source, table, p, type);
  verifyResult(source, table, number, type, writes);
  return writes;
}

function setMbrType(source: PartitionSource, p: Partition, type: PartitionTypeChange): SectorWrite[] {
  const t = type.mbr;
  if (t === undefined || type.gpt !== undefined) {
    throw new PartitionTableError('bad-request', `MBR: partition ${p.number} takes an MBR type byte ({ mbr: 0x0c }), not a GUID`);
  }
  if (!Number.isInteger(t) || t < 1 || t > 0xff) {
    throw new PartitionTableError('bad-request', `MBR: ${String(t)} is not a partition type byte (1–255)`);
  }
  if (EXTENDED_TYPES.has(t) || t === PROTECTIVE_TYPE) {
    throw new PartitionTableError('bad-request', `MBR: type ${hex(t)} would make partition ${p.number} an ${t === PROTECTIVE_TYPE ? 'GPT protective entry' : 'extended partition'}`);
  }
  const lba = p.entry.sector;
  const sector = readExact(source, lba * MBR_SECTOR_SIZE, MBR_SECTOR_SIZE, `MBR: the sector at LBA ${lba}`);
  const e = mbrEntries(sector)[p.entry.slot];
  const rel = p.startLba - lba;
  if (!hasBootSignature(sector) || e === undefined || e.type !== p.type.mbr || e.start !== rel || e.sectors !== p.sectors) {
    throw new PartitionTableError(
      'changed',
      `MBR: slot ${p.entry.slot + 1} of the sector at LBA ${lba} no longer holds partition ${p.number} as decoded (type ${hex(p.type.mbr ?? 0)}, LBA ${p.startLba}, ${p.sectors} sectors)`,
    );
  }
  if (lba === 0 && classifySector0(sector).kind !== 'mbr') {
    throw new PartitionTableError('changed', 'MBR: sector 0 no longer reads as an MBR');
  }
  if (e.type === t) return [];
  const bytes = sector.slice();
  bytes[446 + 16 * p.entry.slot + 4] = t;
  return [{ offset: lba * MBR_SECTOR_SIZE, bytes }];
}

function setGptType(source: PartitionSource, table: PartitionTable, p: Partition, type: PartitionTypeChange): SectorWrite[] {
  const g = type.gpt;
  if (g === undefined || type.mbr !== undefined) {
    throw new PartitionTableError('bad-request', `GPT: partition ${p.number} takes a type GUID ({ gpt: 'EBD0A0A2-…' }), not a type byte`);
  }
  if (!isGuid(g)) throw new PartitionTableError('bad-request', `GPT: '${g}' is not a GUID (want 8-4-4-4-12 hex digits)`);
  const guid = g.toUpperCase();
  if (guid === ZERO_GUID) throw new PartitionTableError('bad-request', `GPT: the zero GUID would delete partition ${p.number}`);

  const sector0 = readExact(source, 0, MBR_SECTOR_SIZE, 'sector 0');
  const c = classifySector0(sector0);
  if (c.kind !== 'protective') throw new PartitionTableError('changed', 'GPT: sector 0 is no longer a protective MBR');
  const { table: now, copies } = decodeGptWithCopies(source, c.entries);
  if (now.gpt?.damaged !== undefined) {
    throw new PartitionTableError(
      'unsupported',
      `GPT: the ${now.gpt.damaged} copy is damaged (${now.warnings[0] ?? ''}); repair the table (sfdisk or gdisk rewrite both) before changing a type`,
    );
  }
  const q = now.partitions.find((x) => x.number === p.number);
  if (
    q === undefined || now.sectorSize !== table.sectorSize || now.diskId !== table.diskId ||
    q.startLba !== p.startLba || q.sectors !== p.sectors || q.type.gpt !== p.type.gpt || q.guid !== p.guid
  ) {
    throw new PartitionTableError('changed', `GPT: partition ${p.number} on the disk is no longer the one decoded`);
  }
  if (q.type.gpt === guid) return [];
  const typeBytes = encodeGuid(guid);
  const ss = copies.sectorSize;
  const writes: SectorWrite[] = [];
  for (const copy of [copies.primary, copies.backup]) writes.push(...rewriteCopy(source, copy, ss, p.entry.slot, typeBytes));
  return writes;
}

/** The entry's array sector and the header sector of one copy, with the new type GUID and both CRCs. */
function rewriteCopy(source: PartitionSource, copy: GptCopy, ss: number, index: number, typeBytes: Uint8Array): SectorWrite[] {
  const h = copy.header!;
  const entries = copy.entries!.slice();
  const at = index * h.entrySize;
  entries.set(typeBytes, at);
  // The sector holding the entry's first 16 bytes, as on the disk (the array may end mid-sector).
  const sectorInArray = Math.floor(at / ss);
  const entryLba = h.entriesLba + sectorInArray;
  const entrySector = readExact(source, entryLba * ss, ss, `GPT: the ${copy.which} entry array at LBA ${entryLba}`);
  entrySector.set(typeBytes, at - sectorInArray * ss);
  const header = copy.headerSector!.slice();
  setU32(header, 88, crc32(entries));
  setU32(header, 16, gptHeaderCrc(header, h.headerSize));
  return [
    { offset: entryLba * ss, bytes: entrySector },
    { offset: copy.lba * ss, bytes: header },
  ];
}

/** Decodes the disk as the writes would leave it: the same partitions, only this one's type changed, no new complaint. */
function verifyResult(source: PartitionSource, table: PartitionTable, number: number, type: PartitionTypeChange, writes: SectorWrite[]): void {
  if (writes.length === 0) return;
  const after = decodePartitionTable(overlaySource(source, writes));
  const want = table.partitions.map((x) => (x.number === number ? { ...x, type: type.mbr !== undefined ? { mbr: type.mbr } : { gpt: type.gpt!.toUpperCase() } } : x));
  const same =
    after !== null && after.scheme === table.scheme && after.warnings.length === table.warnings.length &&
    JSON.stringify(after.partitions) === JSON.stringify(want);
  if (!same) {
    // A bug here, not bad input: refuse rather than hand out writes that do something else.
    throw new PartitionTableError('changed', `${table.scheme.toUpperCase()}: the writes for partition ${number} do not decode to the intended table`);
  }
}

