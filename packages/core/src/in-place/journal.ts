import { rightsCrc32 as crc32, type ClusterRun, type FatBits, type Geometry } from '@fsconv/fat';

/**
 * The on-device journal of an in-place conversion: everything the commit needs once the ext2
 * metadata is gone, so that `fsconv resume DEVICE` needs nothing but the device (docs/in-place.md).
 * It holds the geometry, the boot sector and FSInfo, the FAT12/16 root directory, and the FAT as a
 * list of cluster runs (the FATs are regenerated from it). It lives in clusters that are free both
 * in the ext2 (written while the ext2 is still valid) and in the final FAT (no commit step writes
 * there). A pointer to it (the marker) sits in bytes 512..1023, which ext2 never uses.
 */
export interface JournalContent {
  geometry: Geometry;
  bootSector: Uint8Array;
  /** FAT32 only (else empty). */
  fsInfo: Uint8Array;
  /** FAT12/16 only: the root directory region's bytes (else empty). */
  rootDirectory: Uint8Array;
  /** Every chain's runs and the bad clusters, sorted by start. */
  runs: ClusterRun[];
}

const JOURNAL_MAGIC = 'FSCONV-JOURNAL\0\0';
const MARKER_MAGIC = 'FSCONV-IN-PLACE\0';
export const JOURNAL_VERSION = 1;
/** `next` value marking a run of bad clusters. */
const BAD_NEXT = 0xffffffff;
/** Where the marker lives: sector 1 (bytes 512..1023), which ext2 never uses. */
export const MARKER_OFFSET = 512;
export const MARKER_SIZE = 512;

export class JournalError extends Error {
  override readonly name = 'JournalError';
}

class Writer {
  private readonly parts: Uint8Array[] = [];
  private length = 0;
  u8(v: number): void { this.raw(Uint8Array.of(v)); }
  u16(v: number): void { const b = new Uint8Array(2); new DataView(b.buffer).setUint16(0, v, true); this.raw(b); }
  u32(v: number): void { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, v >>> 0, true); this.raw(b); }
  u64(v: number): void { this.u32(v % 2 ** 32); this.u32(Math.floor(v / 2 ** 32)); }
  bytes(b: Uint8Array): void { this.u32(b.length); this.raw(b); }
  raw(b: Uint8Array): void { this.parts.push(b); this.length += b.length; }
  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let o = 0;
    for (const p of this.parts) { out.set(p, o); o += p.length; }
    return out;
  }
}

class Reader {
  private o = 0;
  private readonly v: DataView;
  constructor(private readonly b: Uint8Array) { this.v = new DataView(b.buffer, b.byteOffset, b.byteLength); }
  private need(n: number): void { if (this.o + n > this.b.length) throw new JournalError(`journal is truncated at byte ${this.o}`); }
  u8(): number { this.need(1); return this.b[this.o++]!; }
  u16(): number { this.need(2); const x = this.v.getUint16(this.o, true); this.o += 2; return x; }
  u32(): number { this.need(4); const x = this.v.getUint32(this.o, true); this.o += 4; return x; }
  u64(): number { const lo = this.u32(); return lo + this.u32() * 2 ** 32; }
  raw(n: number): Uint8Array { this.need(n); const x = this.b.slice(this.o, this.o + n); this.o += n; return x; }
  bytes(max: number): Uint8Array { const n = this.u32(); if (n > max) throw new JournalError(`journal field of ${n} bytes exceeds ${max}`); return this.raw(n); }
  get offset(): number { return this.o; }
}

const text = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

export function encodeJournal(j: JournalContent): Uint8Array {
  const w = new Writer();
  const g = j.geometry;
  w.raw(text(JOURNAL_MAGIC));
  w.u32(JOURNAL_VERSION);
  w.u8(g.fatBits); w.u16(g.bytesPerSector); w.u8(g.sectorsPerCluster); w.u32(g.reservedSectors); w.u32(g.fatSectors);
  w.u32(g.rootEntries); w.u32(g.rootDirSectors); w.u32(g.totalSectors); w.u32(g.dataStartSector); w.u32(g.clusterCount);
  w.bytes(j.bootSector);
  w.bytes(j.fsInfo);
  w.bytes(j.rootDirectory);
  w.u32(j.runs.length);
  // The runs in one piece (one run per file or more: a value at a time would allocate per value).
  const runBytes = new Uint8Array(j.runs.length * 12);
  const rv = new DataView(runBytes.buffer);
  j.runs.forEach((r, i) => {
    rv.setUint32(12 * i, r.start, true);
    rv.setUint32(12 * i + 4, r.length, true);
    rv.setUint32(12 * i + 8, r.bad ? BAD_NEXT : r.next, true);
  });
  w.raw(runBytes);
  const body = w.finish();
  const out = new Uint8Array(body.length + 4);
  out.set(body);
  new DataView(out.buffer).setUint32(body.length, crc32(body), true);
  return out;
}

export function decodeJournal(bytes: Uint8Array): JournalContent {
  if (bytes.length < 20) throw new JournalError('journal is truncated');
  const body = bytes.subarray(0, bytes.length - 4);
  const want = new DataView(bytes.buffer, bytes.byteOffset + bytes.length - 4, 4).getUint32(0, true);
  if (crc32(body) !== want) throw new JournalError('journal checksum mismatch (the journal is damaged)');
  const r = new Reader(body);
  if (!sameBytes(r.raw(16), text(JOURNAL_MAGIC))) throw new JournalError('not an fsconv journal');
  const version = r.u32();
  if (version !== JOURNAL_VERSION) throw new JournalError(`journal version ${version} is not supported (this fsconv writes ${JOURNAL_VERSION})`);
  const fatBits = r.u8() as FatBits;
  const bytesPerSector = r.u16();
  const sectorsPerCluster = r.u8();
  const geometry: Geometry = {
    fatBits, bytesPerSector, sectorsPerCluster, clusterSize: bytesPerSector * sectorsPerCluster,
    reservedSectors: r.u32(), numFats: 2, fatSectors: r.u32(), rootEntries: r.u32(), rootDirSectors: r.u32(),
    totalSectors: r.u32(), dataStartSector: r.u32(), clusterCount: r.u32(), unusedTailBytes: 0,
  };
  const bootSector = r.bytes(4096);
  const fsInfo = r.bytes(4096);
  const rootDirectory = r.bytes(65536 * 32);
  const count = r.u32();
  if (count * 12 > body.length) throw new JournalError(`journal lists ${count} runs but is only ${body.length} bytes`);
  const runs: ClusterRun[] = [];
  for (let i = 0; i < count; i++) {
    const start = r.u32();
    const length = r.u32();
    const next = r.u32();
    runs.push(next === BAD_NEXT ? { start, length, next: 0, bad: true } : { start, length, next });
  }
  if (r.offset !== body.length) throw new JournalError('journal has trailing bytes');
  return { geometry, bootSector, fsInfo, rootDirectory, runs };
}

/** The pointer to the journal, in bytes 512..1023. */
export interface JournalMarker {
  journalOffset: number;
  journalLength: number;
  journalCrc: number;
  /** Size of the filesystem being converted, in bytes (a sanity check on resume). */
  fsBytes: number;
}

export function encodeMarker(m: JournalMarker): Uint8Array {
  const w = new Writer();
  w.raw(text(MARKER_MAGIC));
  w.u32(JOURNAL_VERSION);
  w.u64(m.journalOffset);
  w.u32(m.journalLength);
  w.u32(m.journalCrc);
  w.u64(m.fsBytes);
  const head = w.finish();
  const out = new Uint8Array(MARKER_SIZE);
  out.set(head);
  new DataView(out.buffer).setUint32(head.length, crc32(head), true);
  return out;
}

/** The marker in a sector, or null when the sector holds none (a valid one: magic and checksum). */
export function decodeMarker(sector: Uint8Array): JournalMarker | null {
  if (sector.length < 64 || !sameBytes(sector.subarray(0, 16), text(MARKER_MAGIC))) return null;
  const r = new Reader(sector.subarray(0, 44));
  r.raw(16);
  const version = r.u32();
  const journalOffset = r.u64();
  const journalLength = r.u32();
  const journalCrc = r.u32();
  const fsBytes = r.u64();
  const crc = new DataView(sector.buffer, sector.byteOffset + 44, 4).getUint32(0, true);
  if (crc !== crc32(sector.subarray(0, 44))) throw new JournalError('the in-place conversion marker is damaged (checksum mismatch)');
  if (version !== JOURNAL_VERSION) throw new JournalError(`in-place journal version ${version} is not supported`);
  return { journalOffset, journalLength, journalCrc, fsBytes };
}

export { crc32 };
