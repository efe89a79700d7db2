import { u16 as le16, u32 as le32, put16, put32 } from '@fsconv/base';
import { ATTR, DELETED, DIRENT_SIZE, KANJI_E5, LFN_CHARS_PER_SLOT, LFN_LAST } from './constants.js';

/** A decoded 8.3 directory entry (32 bytes). */
export interface ShortEntry {
  /** The 11 name bytes as stored (0x05 for a leading 0xE5 already turned back into 0xE5). */
  name: Uint8Array;
  attr: number;
  ntCase: number;
  createCentis: number;
  createTime: number;
  createDate: number;
  accessDate: number;
  cluster: number;
  writeTime: number;
  writeDate: number;
  size: number;
}


/** Writes an 8.3 entry into `out` at `offset`. */
export function encodeShortEntry(e: ShortEntry, out: Uint8Array, offset: number): void {
  out.set(e.name.subarray(0, 11), offset);
  if (out[offset] === DELETED) out[offset] = KANJI_E5;
  out[offset + 11] = e.attr;
  out[offset + 12] = e.ntCase;
  out[offset + 13] = e.createCentis;
  put16(out, offset + 14, e.createTime);
  put16(out, offset + 16, e.createDate);
  put16(out, offset + 18, e.accessDate);
  put16(out, offset + 20, (e.cluster >>> 16) & 0xffff);
  put16(out, offset + 22, e.writeTime);
  put16(out, offset + 24, e.writeDate);
  put16(out, offset + 26, e.cluster & 0xffff);
  put32(out, offset + 28, e.size);
}

export function decodeShortEntry(b: Uint8Array, offset: number): ShortEntry {
  const name = b.slice(offset, offset + 11);
  if (name[0] === KANJI_E5) name[0] = DELETED;
  return {
    name,
    attr: b[offset + 11]!,
    ntCase: b[offset + 12]!,
    createCentis: b[offset + 13]!,
    createTime: le16(b, offset + 14),
    createDate: le16(b, offset + 16),
    accessDate: le16(b, offset + 18),
    cluster: ((le16(b, offset + 20) << 16) | le16(b, offset + 26)) >>> 0,
    writeTime: le16(b, offset + 22),
    writeDate: le16(b, offset + 24),
    size: le32(b, offset + 28),
  };
}

/** The checksum of an 11-byte short name that every long-name slot of it carries. */
export function lfnChecksum(shortName: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < 11; i++) s = (((s & 1) << 7) + (s >> 1) + shortName[i]!) & 0xff;
  return s;
}

/** Character positions (byte offsets) of the 13 UTF-16 units in a long-name slot. */
const LFN_OFFSETS = [1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30];

/** How many long-name slots a name of `units` UTF-16 units needs. */
export const lfnSlotCount = (units: number): number => Math.ceil(units / LFN_CHARS_PER_SLOT);

/**
 * Encodes the long-name slots for `name` (UTF-16 units) into `out` at `offset`, in on-disk order
 * (the last piece first, with the 0x40 bit), then returns the offset after them. The name is
 * terminated by 0x0000 when it does not fill its last slot, then padded with 0xFFFF.
 */
export function encodeLongNameSlots(name: Uint16Array, checksum: number, out: Uint8Array, offset: number): number {
  const slots = lfnSlotCount(name.length);
  for (let s = slots; s >= 1; s--) {
    const o = offset + (slots - s) * DIRENT_SIZE;
    out.fill(0, o, o + DIRENT_SIZE);
    out[o] = s | (s === slots ? LFN_LAST : 0);
    out[o + 11] = ATTR.longName;
    out[o + 12] = 0;
    out[o + 13] = checksum;
    for (let i = 0; i < LFN_CHARS_PER_SLOT; i++) {
      const unitIndex = (s - 1) * LFN_CHARS_PER_SLOT + i;
      const unit = unitIndex < name.length ? name[unitIndex]! : unitIndex === name.length ? 0x0000 : 0xffff;
      put16(out, o + LFN_OFFSETS[i]!, unit);
    }
  }
  return offset + slots * DIRENT_SIZE;
}

/** One long-name slot, decoded. */
export interface LongNameSlot {
  ordinal: number;
  last: boolean;
  checksum: number;
  units: number[];
}

export function decodeLongNameSlot(b: Uint8Array, offset: number): LongNameSlot {
  const units: number[] = [];
  for (const o of LFN_OFFSETS) units.push(le16(b, offset + o));
  return { ordinal: b[offset]! & 0x3f, last: (b[offset]! & LFN_LAST) !== 0, checksum: b[offset + 13]!, units };
}

/** A named directory entry: the 8.3 entry plus the long name that precedes it, if valid. */
export interface NamedEntry {
  short: ShortEntry;
  /** The long name as UTF-16 units, or null when there is none or it is broken. */
  longName: Uint16Array | null;
  /** Slot index of the 8.3 entry within the directory. */
  slot: number;
  /** Long-name slots that preceded it but did not form a valid name (bad checksum, sequence). */
  orphanSlots: number;
}

/**
 * Decodes a directory's bytes into named entries, stopping at the first 0x00 entry (end of
 * directory). Deleted entries are skipped; volume labels are returned (attr 0x08) for callers to
 * filter. A long name counts only with a consistent sequence and checksum (fsck.fat's rules).
 */
export function decodeDirectory(bytes: Uint8Array): NamedEntry[] {
  const out: NamedEntry[] = [];
  let pending: LongNameSlot[] = [];
  let orphans = 0;
  const count = Math.floor(bytes.length / DIRENT_SIZE);
  for (let i = 0; i < count; i++) {
    const o = i * DIRENT_SIZE;
    const first = bytes[o]!;
    if (first === 0x00) break;
    if (first === DELETED) {
      orphans += pending.length;
      pending = [];
      continue;
    }
    const attr = bytes[o + 11]!;
    if ((attr & 0x3f) === ATTR.longName) {
      const slot = decodeLongNameSlot(bytes, o);
      if (slot.last) {
        orphans += pending.length;
        pending = [slot];
      } else if (pending.length > 0 && slot.ordinal === pending[pending.length - 1]!.ordinal - 1 && slot.checksum === pending[0]!.checksum) {
        pending.push(slot);
      } else {
        orphans += pending.length + 1;
        pending = [];
      }
      continue;
    }
    const short = decodeShortEntry(bytes, o);
    let longName: Uint16Array | null = null;
    if (pending.length > 0) {
      const complete = pending[pending.length - 1]!.ordinal === 1 && pending[0]!.ordinal === pending.length;
      if (complete && pending[0]!.checksum === lfnChecksum(short.name)) {
        const units: number[] = [];
        for (let s = pending.length - 1; s >= 0; s--) units.push(...pending[s]!.units);
        const end = units.indexOf(0x0000);
        longName = Uint16Array.from(end < 0 ? units : units.slice(0, end));
      } else {
        orphans += pending.length;
      }
      pending = [];
    }
    out.push({ short, longName, slot: i, orphanSlots: orphans });
    orphans = 0;
  }
  return out;
}
