import { rightsCrc32 as crc32, type ClusterRun, type FatBits, type Geometry } from '@fsconv/fat';

/**
 * The on-device journal of an in-place conversion: everything the commit needs once the ext2
 * metadata is gone, so that `fsconv resume DEVICE` needs nothing but the device (docs/in-place.md).
 * It holds the geometry, the boot sector and FSInfo, the FAT12/16 root directory, the source's
 * fingerprint as planned, and the FAT as a list of cluster runs (the FATs are regenerated from it).
 * It lives in clusters that are free both in the ext2 (written while the ext2 is still valid) and
 * in the final FAT (no commit step writes there).
 *
 * The pointer to it, the marker, is written first over the sector holding the ext2 superblock's
 * magic (bytes 1024..1535): that one sector write is the commit point, and it turns the ext2 into
 * a device that no longer is one. A second copy goes into sector 0, which the last write of the
 * commit (the boot sector) replaces, so that the device becomes FAT and loses its marker at once.
 */
export interface JournalContent {
  /** 1 for journals of fsconv before the commit point moved (no fingerprint), else 2. */
  version: number;
  geometry: Geometry;
  bootSector: Uint8Array;
  /** FAT32 only (else empty). */
  fsInfo: Uint8Array;
  /** FAT12/16 only: the root directory region's bytes (else empty). */
  rootDirectory: Uint8Array;
  /** What the source was when the conversion was planned (empty in version 1). */
  fingerprint: SourceFingerprint;
  /**
   * Where the converted filesystem starts on the device that holds it (a partition's offset on its
   * disk; 0 for a whole device), and the writes the commit makes outside it: the partition table
   * sectors that give the partition its FAT type (absolute offsets on that device).
   */
  sliceOffset: number;
  outsideWrites: OutsideWrite[];
  /** Every chain's runs and the bad clusters, sorted by start. */
  runs: ClusterRun[];
}

/**
 * Named values that change whenever the source filesystem is changed (for ext2: write and mount
 * times and counts, free counts, a digest of the bitmaps). Compared on resume when a readable
 * source is found beside the journal: any difference means the journal is stale.
 */
export type SourceFingerprint = ReadonlyArray<readonly [name: string, value: string]>;

/** A write outside the converted filesystem: whole sectors at an absolute offset of the device. */
export interface OutsideWrite {
  offset: number;
  bytes: Uint8Array;
}
/** At most this many outside writes (a GPT type change is four), each at most a sector. */
const OUTSIDE_WRITES_MAX = 8;
const OUTSIDE_WRITE_BYTES_MAX = 4096;

const JOURNAL_MAGIC = 'FSCONV-JOURNAL\0\0';
const MARKER_MAGIC = 'FSCONV-IN-PLACE\0';
export const JOURNAL_VERSION = 2;
/** The version of fsconv's first journal: its marker lay in bytes 512..1023, with no fingerprint. */
export const LEGACY_JOURNAL_VERSION = 1;
/** `next` value marking a run of bad clusters. */
const BAD_NEXT = 0xffffffff;
export const MARKER_SIZE = 512;
/** The commit point: the marker over the ext2 superblock's first half (its magic is at 1080). */
export const COMMIT_MARKER_OFFSET = 1024;
/** The marker's second copy, in the sector the final write (the boot sector) replaces. */
export const FINAL_MARKER_OFFSET = 0;
/** Where version 1 kept its marker (sector 1, which ext2 never uses). */
export const LEGACY_MARKER_OFFSET = 512;
/** The fingerprint's text is small; a larger one is damage. */
const FINGERPRINT_LIMIT = 4096;
/** The fixed head of a journal: magic, version and the geometry. */
const HEAD_BYTES = 16 + 4 + 1 + 2 + 1 + 4 * 7;

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
  private need(n: number): void { if (this.o + n > this.b.length) throw new JournalError(`the in-place journal is truncated at byte ${this.o}`); }
  u8(): number { this.need(1); return this.b[this.o++]!; }
  u16(): number { this.need(2); const x = this.v.getUint16(this.o, true); this.o += 2; return x; }
  u32(): number { this.need(4); const x = this.v.getUint32(this.o, true); this.o += 4; return x; }
  u64(): number { const lo = this.u32(); return lo + this.u32() * 2 ** 32; }
  raw(n: number): Uint8Array { this.need(n); const x = this.b.slice(this.o, this.o + n); this.o += n; return x; }
  bytes(max: number, what: string): Uint8Array {
    const n = this.u32();
    if (n > max) throw new JournalError(`the in-place journal's ${what} is ${n} bytes, more than the ${max} its geometry allows`);
    return this.raw(n);
  }
  get offset(): number { return this.o; }
}

const text = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

function encodeFingerprint(f: SourceFingerprint): Uint8Array {
  for (const [k, v] of f) if (/[=\n]/.test(k) || /\n/.test(v)) throw new Error(`fingerprint field '${k}' cannot be encoded (internal)`);
  const bytes = utf8.encode(f.map(([k, v]) => `${k}=${v}\n`).join(''));
  if (bytes.length > FINGERPRINT_LIMIT) throw new Error(`the source fingerprint takes ${bytes.length} bytes (internal)`);
  return bytes;
}

function decodeFingerprint(bytes: Uint8Array): SourceFingerprint {
  let s: string;
  try {
    s = fromUtf8.decode(bytes);
  } catch {
    throw new JournalError('the in-place journal\'s source fingerprint is not text (damaged)');
  }
  const out: Array<[string, string]> = [];
  for (const line of s.split('\n')) {
    if (line === '') continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new JournalError('the in-place journal\'s source fingerprint is malformed (damaged)');
    out.push([line.slice(0, eq), line.slice(eq + 1)]);
  }
  return out;
}

export function encodeJournal(j: Omit<JournalContent, 'version'>): Uint8Array {
  const w = new Writer();
  const g = j.geometry;
  w.raw(text(JOURNAL_MAGIC));
  w.u32(JOURNAL_VERSION);
  w.u8(g.fatBits); w.u16(g.bytesPerSector); w.u8(g.sectorsPerCluster); w.u32(g.reservedSectors); w.u32(g.fatSectors);
  w.u32(g.rootEntries); w.u32(g.rootDirSectors); w.u32(g.totalSectors); w.u32(g.dataStartSector); w.u32(g.clusterCount);
  w.bytes(j.bootSector);
  w.bytes(j.fsInfo);
  w.bytes(j.rootDirectory);
  w.bytes(encodeFingerprint(j.fingerprint));
  w.u64(j.sliceOffset);
  w.u32(j.outsideWrites.length);
  for (const o of j.outsideWrites) {
    w.u64(o.offset);
    w.bytes(o.bytes);
  }
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

/** Bytes of a journal for this geometry and number of runs (what encodeJournal produces). */
export function journalBytesFor(g: Geometry, runs: number, rootBytes: number, fingerprintBytes: number, outsideWrites: readonly OutsideWrite[] = []): number {
  const outside = 8 + 4 + outsideWrites.reduce((n, o) => n + 8 + 4 + o.bytes.length, 0);
  return HEAD_BYTES + (4 + 512) + (4 + (g.fatBits === 32 ? 512 : 0)) + (4 + rootBytes) + (4 + fingerprintBytes) + outside + 4 + runs * 12 + 4;
}

/** The fingerprint's encoded size (the layout reserves room for it). */
export const fingerprintBytes = (f: SourceFingerprint): number => encodeFingerprint(f).length;

const isPowerOfTwo = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;

/**
 * The geometry at the head of a journal, checked against the size of the filesystem being
 * converted, and the largest journal such a geometry can have: every length read later is bounded
 * by it, so a damaged or forged journal cannot make us allocate more than a real plan could.
 */
export function decodeJournalHead(head: Uint8Array, fsBytes: number): { version: number; geometry: Geometry; maxBytes: number } {
  if (head.length < HEAD_BYTES) throw new JournalError('the in-place journal is truncated');
  const r = new Reader(head.subarray(0, HEAD_BYTES));
  if (!sameBytes(r.raw(16), text(JOURNAL_MAGIC))) throw new JournalError('the marker points at something that is not an fsconv journal (damaged)');
  const version = r.u32();
  if (version !== JOURNAL_VERSION && version !== LEGACY_JOURNAL_VERSION) {
    throw new JournalError(`in-place journal version ${version} is not supported (this fsconv reads ${LEGACY_JOURNAL_VERSION} and ${JOURNAL_VERSION})`);
  }
  const fatBits = r.u8();
  const bytesPerSector = r.u16();
  const sectorsPerCluster = r.u8();
  const geometry: Geometry = {
    fatBits: fatBits as FatBits, bytesPerSector, sectorsPerCluster, clusterSize: bytesPerSector * sectorsPerCluster,
    reservedSectors: r.u32(), numFats: 2, fatSectors: r.u32(), rootEntries: r.u32(), rootDirSectors: r.u32(),
    totalSectors: r.u32(), dataStartSector: r.u32(), clusterCount: r.u32(), unusedTailBytes: 0,
  };
  const g = geometry;
  const bad = (why: string): never => { throw new JournalError(`the in-place journal's geometry is impossible (${why}): damaged`); };
  if (fatBits !== 12 && fatBits !== 16 && fatBits !== 32) bad(`FAT${fatBits}`);
  if (!isPowerOfTwo(bytesPerSector) || bytesPerSector < 512 || bytesPerSector > 4096) bad(`${bytesPerSector}-byte sectors`);
  if (!isPowerOfTwo(sectorsPerCluster) || sectorsPerCluster > 128) bad(`${sectorsPerCluster} sectors per cluster`);
  if (g.totalSectors * bytesPerSector > fsBytes) bad(`${g.totalSectors} sectors on a ${fsBytes}-byte filesystem`);
  if (g.reservedSectors < 1 || g.fatSectors < 1) bad('no reserved or FAT sectors');
  if (g.rootDirSectors !== Math.ceil((g.rootEntries * 32) / bytesPerSector) || (fatBits === 32) !== (g.rootEntries === 0)) bad('root directory size');
  if (g.dataStartSector !== g.reservedSectors + 2 * g.fatSectors + g.rootDirSectors || g.dataStartSector >= g.totalSectors) bad('data area start');
  if (g.clusterCount !== Math.floor((g.totalSectors - g.dataStartSector) / sectorsPerCluster) || g.clusterCount < 1) bad('cluster count');
  if (Math.ceil(((g.clusterCount + 2) * fatBits) / 8) > g.fatSectors * bytesPerSector) bad('FAT too small for its clusters');
  // At most one run per cluster, the largest sectors for boot and FSInfo, the whole root region.
  const maxBytes = HEAD_BYTES + (4 + bytesPerSector) * 2 + (4 + g.rootDirSectors * bytesPerSector) + (4 + FINGERPRINT_LIMIT) +
    12 + OUTSIDE_WRITES_MAX * (12 + OUTSIDE_WRITE_BYTES_MAX) + 4 + 12 * g.clusterCount + 4;
  return { version, geometry, maxBytes };
}

/** Decodes and checks a whole journal (its CRC, every length against its geometry, every run). */
export function decodeJournal(bytes: Uint8Array, fsBytes: number): JournalContent {
  const { version, geometry: g, maxBytes } = decodeJournalHead(bytes, fsBytes);
  if (bytes.length > maxBytes) throw new JournalError(`the in-place journal is ${bytes.length} bytes, more than its geometry allows (damaged)`);
  const body = bytes.subarray(0, bytes.length - 4);
  const want = new DataView(bytes.buffer, bytes.byteOffset + bytes.length - 4, 4).getUint32(0, true);
  if (crc32(body) !== want) throw new JournalError('the in-place journal\'s checksum does not match (the journal is damaged)');
  const r = new Reader(body);
  r.raw(HEAD_BYTES);
  const bootSector = r.bytes(g.bytesPerSector, 'boot sector');
  const fsInfo = r.bytes(g.bytesPerSector, 'FSInfo sector');
  const rootDirectory = r.bytes(g.rootDirSectors * g.bytesPerSector, 'root directory');
  const fingerprint = version === LEGACY_JOURNAL_VERSION ? [] : decodeFingerprint(r.bytes(FINGERPRINT_LIMIT, 'source fingerprint'));
  let sliceOffset = 0;
  const outsideWrites: OutsideWrite[] = [];
  if (version !== LEGACY_JOURNAL_VERSION) {
    sliceOffset = r.u64();
    const n = r.u32();
    if (n > OUTSIDE_WRITES_MAX) throw new JournalError(`the in-place journal lists ${n} writes outside the filesystem, more than the ${OUTSIDE_WRITES_MAX} a conversion makes (damaged)`);
    for (let i = 0; i < n; i++) {
      const offset = r.u64();
      const bytes = r.bytes(OUTSIDE_WRITE_BYTES_MAX, 'write outside the filesystem');
      const inside = offset + bytes.length > sliceOffset && offset < sliceOffset + fsBytes;
      if (inside || bytes.length % 512 !== 0) throw new JournalError(`the in-place journal's write ${i} outside the filesystem (${bytes.length} bytes at ${offset}) is impossible (damaged)`);
      outsideWrites.push({ offset, bytes });
    }
  }
  const count = r.u32();
  if (count > g.clusterCount || HEAD_BYTES + count * 12 > body.length) throw new JournalError(`the in-place journal lists ${count} runs, more than it holds or its ${g.clusterCount} clusters allow (damaged)`);
  const runs: ClusterRun[] = [];
  const end = g.clusterCount + 2;
  let after = 2;
  for (let i = 0; i < count; i++) {
    const start = r.u32();
    const length = r.u32();
    const next = r.u32();
    if (start < after || length < 1 || start + length > end || (next !== BAD_NEXT && next !== 0 && (next < 2 || next >= end))) {
      throw new JournalError(`the in-place journal's run ${i} (clusters ${start}+${length} → ${next}) is impossible (damaged)`);
    }
    after = start + length;
    runs.push(next === BAD_NEXT ? { start, length, next: 0, bad: true } : { start, length, next });
  }
  if (r.offset !== body.length) throw new JournalError('the in-place journal has trailing bytes (damaged)');
  return { version, geometry: g, bootSector, fsInfo, rootDirectory, fingerprint, sliceOffset, outsideWrites, runs };
}

/** The pointer to the journal. */
export interface JournalMarker {
  version: number;
  journalOffset: number;
  journalLength: number;
  journalCrc: number;
  /** Size of the filesystem being converted, in bytes (bounds everything the journal says). */
  fsBytes: number;
}

/**
 * The marker sector. Only its first 48 bytes are used; the rest, bytes 56..57 among them (where
 * the ext2 superblock keeps its magic when the marker lies at 1024), stays zero.
 */
export function encodeMarker(m: Omit<JournalMarker, 'version'>): Uint8Array {
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

/** Whether a sector starts with the marker's magic (valid or not). */
export const hasMarkerMagic = (sector: Uint8Array): boolean => sector.length >= 16 && sameBytes(sector.subarray(0, 16), text(MARKER_MAGIC));

/** The marker in a sector; null when the sector holds none; a JournalError when it holds a damaged one. */
export function decodeMarker(sector: Uint8Array): JournalMarker | null {
  if (sector.length < 48 || !hasMarkerMagic(sector)) return null;
  const r = new Reader(sector.subarray(0, 44));
  r.raw(16);
  const version = r.u32();
  const journalOffset = r.u64();
  const journalLength = r.u32();
  const journalCrc = r.u32();
  const fsBytes = r.u64();
  const crc = new DataView(sector.buffer, sector.byteOffset + 44, 4).getUint32(0, true);
  if (crc !== crc32(sector.subarray(0, 44))) throw new JournalError('the in-place conversion marker is damaged (checksum mismatch)');
  if (version !== JOURNAL_VERSION && version !== LEGACY_JOURNAL_VERSION) throw new JournalError(`in-place journal version ${version} is not supported`);
  return { version, journalOffset, journalLength, journalCrc, fsBytes };
}

export { crc32 };
