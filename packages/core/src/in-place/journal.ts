import {
  FINGERPRINT_LIMIT, RecordReader, RecordWriter, crc32, decodeFingerprint as decodeFingerprintText, encodeFingerprint, FsconvError, type CommitProgram, type CommitWrite, type InPlaceExporter, type SourceFingerprint,
} from '@fsconv/base';

/**
 * The on-device journal of an in-place conversion: everything the commit needs once the source's
 * metadata is gone, so that `fsconv resume DEVICE` needs nothing but the device (docs/in-place.md).
 * A generic head names the exporter and holds the source's fingerprint as planned, where the
 * filesystem lies on its device and the partition table writes the commit makes outside it; the
 * exporter's payload holds the rest (for FAT: the geometry, the boot sector and FSInfo, the FAT12/16
 * root directory and the FAT as cluster runs), from which the exporter regenerates the commit.
 * It lives in units that are free both in the source (written while the source is still valid)
 * and in the target (no commit step writes there).
 *
 * The pointer to it, the marker, is written first over the sector holding the source's signature
 * (for ext2 bytes 1024..1535, its superblock's magic): that one sector write is the commit point,
 * and it turns the source into a device that no longer is one. A second copy goes into sector 0,
 * which the last write of the commit (the exporter's final write) replaces, so that the device
 * becomes the target and loses its marker at once.
 */
export interface JournalContent {
  /** 1 and 2: journals of earlier fsconv (the FAT exporter's own layout); 3: generic head + payload. */
  version: number;
  /** The exporter that wrote it ('vfat+rights'; for versions 1 and 2, the exporter that reads them). */
  exporter: string;
  /** What the source was when the conversion was planned (empty in version 1). */
  fingerprint: SourceFingerprint;
  /**
   * Where the converted filesystem starts on the device that holds it (a partition's offset on its
   * disk; 0 for a whole device), and the writes the commit makes outside it: the partition table
   * sectors that give the partition its new type (absolute offsets on that device).
   */
  sliceOffset: number;
  outsideWrites: OutsideWrite[];
  /** The exporter's payload. */
  payload: Uint8Array;
}

export type { SourceFingerprint };

/** A write outside the converted filesystem: whole sectors at an absolute offset of the device. */
export type OutsideWrite = CommitWrite;
/** At most this many outside writes (a GPT type change is four), each at most a sector. */
const OUTSIDE_WRITES_MAX = 8;
const OUTSIDE_WRITE_BYTES_MAX = 4096;

const JOURNAL_MAGIC = 'FSCONV-JOURNAL\0\0';
const MARKER_MAGIC = 'FSCONV-IN-PLACE\0';
export const JOURNAL_VERSION = 3;
/** The versions before the generic head (both the FAT exporter's layout): read, never written. */
export const LEGACY_JOURNAL_VERSIONS: readonly number[] = [1, 2];
/** The version of fsconv's first journal: its marker lay in bytes 512..1023, with no fingerprint. */
export const LEGACY_JOURNAL_VERSION = 1;
export const MARKER_SIZE = 512;
/** The commit point: the marker over the sector of the source's signature (ext2: its superblock's first half, magic at 1080). */
export const COMMIT_MARKER_OFFSET = 1024;
/** The marker's second copy, in the sector the final write (the FAT boot sector) replaces. */
export const FINAL_MARKER_OFFSET = 0;
/** Where version 1 kept its marker (sector 1, which ext2 never uses). */
export const LEGACY_MARKER_OFFSET = 512;
/** An exporter's name is short. */
const EXPORTER_NAME_LIMIT = 32;
/** Bytes before the payload at most: magic, version, name, fingerprint, slice offset, outside writes, payload length. */
const HEAD_LIMIT = 16 + 4 + 1 + EXPORTER_NAME_LIMIT + 4 + FINGERPRINT_LIMIT + 8 + 4 + OUTSIDE_WRITES_MAX * (12 + OUTSIDE_WRITE_BYTES_MAX) + 4;
/** Bytes enough to tell the version (and, for versions 1 and 2, the FAT geometry that bounds them). */
export const JOURNAL_PROBE_BYTES = 64;

export class JournalError extends FsconvError<'journal'> {
  override readonly name = 'JournalError';
  constructor(message: string) {
    super('journal', message);
  }
}

const text = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

const failJournal = (message: string): Error => new JournalError(message);
const decodeFingerprint = (bytes: Uint8Array): SourceFingerprint => decodeFingerprintText(bytes, failJournal);

/** The journal's bytes: the generic head, the exporter's payload, a CRC-32 of everything before it. */
export function encodeJournal(j: Omit<JournalContent, 'version'>): Uint8Array {
  const name = utf8.encode(j.exporter);
  if (name.length === 0 || name.length > EXPORTER_NAME_LIMIT) throw new Error(`exporter name '${j.exporter}' cannot be recorded (internal)`);
  const w = new RecordWriter();
  w.raw(text(JOURNAL_MAGIC));
  w.u32(JOURNAL_VERSION);
  w.u8(name.length);
  w.raw(name);
  w.bytes(encodeFingerprint(j.fingerprint));
  w.u64(j.sliceOffset);
  w.u32(j.outsideWrites.length);
  for (const o of j.outsideWrites) {
    w.u64(o.offset);
    w.bytes(o.bytes);
  }
  w.bytes(j.payload);
  const body = w.finish();
  const out = new Uint8Array(body.length + 4);
  out.set(body);
  new DataView(out.buffer).setUint32(body.length, crc32(body), true);
  return out;
}

/** Bytes of a journal around a payload of `payloadBytes` (what encodeJournal produces). */
export function journalBytesFor(exporter: string, fingerprintBytes: number, payloadBytes: number, outsideWrites: readonly OutsideWrite[] = []): number {
  const outside = 8 + 4 + outsideWrites.reduce((n, o) => n + 8 + 4 + o.bytes.length, 0);
  return 16 + 4 + 1 + utf8.encode(exporter).length + (4 + fingerprintBytes) + outside + (4 + payloadBytes) + 4;
}

/** The fingerprint's encoded size (the layout reserves room for it). */
export const fingerprintBytes = (f: SourceFingerprint): number => encodeFingerprint(f).length;

/** The version of the journal whose first bytes are `probe` (at least JOURNAL_PROBE_BYTES). */
export function journalVersion(probe: Uint8Array): number {
  if (probe.length < 20) throw new JournalError('the in-place journal is truncated');
  if (!sameBytes(probe.subarray(0, 16), text(JOURNAL_MAGIC))) throw new JournalError('the marker points at something that is not an fsconv journal (damaged)');
  const version = new DataView(probe.buffer, probe.byteOffset + 16, 4).getUint32(0, true);
  if (version !== JOURNAL_VERSION && !LEGACY_JOURNAL_VERSIONS.includes(version)) {
    throw new JournalError(`in-place journal version ${version} is not supported (this fsconv reads ${[...LEGACY_JOURNAL_VERSIONS, JOURNAL_VERSION].join(', ')})`);
  }
  return version;
}

/** Where the exporters are found: by the name a journal records, and the one that reads versions 1 and 2. */
export interface ExporterRegistry {
  byName(name: string): InPlaceExporter | undefined;
  readonly legacy: InPlaceExporter | undefined;
}

/**
 * The largest journal of this version and head: every length read later is bounded by it, so a
 * damaged or forged journal cannot make us allocate more than a real plan could. For version 3
 * `head` is the journal up to its payload's first `payloadHeadBytes` (or all of it when shorter).
 */
export function journalLimit(head: Uint8Array, fsBytes: number, exporters: ExporterRegistry): number {
  const version = journalVersion(head);
  if (version !== JOURNAL_VERSION) {
    const legacy = exporters.legacy;
    if (legacy?.legacyJournalLimit === undefined) throw new JournalError(`in-place journal version ${version} is not supported here`);
    try {
      return legacy.legacyJournalLimit(head, fsBytes);
    } catch (e) {
      if (e instanceof FsconvError && !(e instanceof JournalError)) throw new JournalError(e.message);
      throw e;
    }
  }
  const r = new RecordReader(head, failJournal);
  r.raw(20);
  const name = readName(r);
  const exporter = exporters.byName(name);
  if (exporter === undefined) throw new JournalError(`the in-place journal was written for '${name}', which this fsconv cannot finish`);
  r.bytes(FINGERPRINT_LIMIT, 'source fingerprint');
  r.u64();
  const n = r.u32();
  if (n > OUTSIDE_WRITES_MAX) throw new JournalError(`the in-place journal lists ${n} writes outside the filesystem, more than the ${OUTSIDE_WRITES_MAX} a conversion makes (damaged)`);
  for (let i = 0; i < n; i++) {
    r.u64();
    r.bytes(OUTSIDE_WRITE_BYTES_MAX, 'write outside the filesystem');
  }
  const payloadAt = r.offset + 4;
  r.u32();
  const payloadHead = head.subarray(payloadAt, payloadAt + Math.min(4096, exporter.payloadHeadBytes));
  try {
    return payloadAt + exporter.payloadLimit(payloadHead, fsBytes) + 4;
  } catch (e) {
    if (e instanceof FsconvError && !(e instanceof JournalError)) throw new JournalError(e.message);
    throw e;
  }
}

/** How many bytes of a journal `journalLimit` needs to see at most (the largest head, and a payload head of up to 4 KiB). */
export const JOURNAL_HEAD_READ = HEAD_LIMIT + 4096;

function readName(r: RecordReader): string {
  const n = r.u8();
  if (n === 0 || n > EXPORTER_NAME_LIMIT) throw new JournalError(`the in-place journal's exporter name is ${n} bytes (damaged)`);
  const name = r.raw(n);
  try {
    return fromUtf8.decode(name);
  } catch {
    throw new JournalError('the in-place journal\'s exporter name is not text (damaged)');
  }
}

/** Decodes and checks a whole journal (its CRC, every length, every outside write); versions 1 and 2 through the exporter that wrote them. */
export function decodeJournal(bytes: Uint8Array, fsBytes: number, exporters: ExporterRegistry): JournalContent {
  const version = journalVersion(bytes);
  if (bytes.length < 24) throw new JournalError('the in-place journal is truncated');
  const body = bytes.subarray(0, bytes.length - 4);
  const want = new DataView(bytes.buffer, bytes.byteOffset + bytes.length - 4, 4).getUint32(0, true);
  if (crc32(body) !== want) throw new JournalError('the in-place journal\'s checksum does not match (the journal is damaged)');
  if (version !== JOURNAL_VERSION) {
    const legacy = exporters.legacy;
    if (legacy?.decodeLegacyJournal === undefined) throw new JournalError(`in-place journal version ${version} is not supported here`);
    let l: ReturnType<NonNullable<InPlaceExporter['decodeLegacyJournal']>>;
    try {
      l = legacy.decodeLegacyJournal(bytes, fsBytes);
    } catch (e) {
      if (e instanceof FsconvError && !(e instanceof JournalError)) throw new JournalError(e.message);
      throw e;
    }
    checkOutsideWrites(l.outsideWrites, l.sliceOffset, fsBytes);
    return { version, exporter: legacy.name, fingerprint: l.fingerprint, sliceOffset: l.sliceOffset, outsideWrites: l.outsideWrites, payload: l.payload };
  }
  const r = new RecordReader(body, failJournal);
  r.raw(20);
  const exporter = readName(r);
  const fingerprint = decodeFingerprint(r.bytes(FINGERPRINT_LIMIT, 'source fingerprint'));
  const sliceOffset = r.u64();
  const n = r.u32();
  if (n > OUTSIDE_WRITES_MAX) throw new JournalError(`the in-place journal lists ${n} writes outside the filesystem, more than the ${OUTSIDE_WRITES_MAX} a conversion makes (damaged)`);
  const outsideWrites: OutsideWrite[] = [];
  for (let i = 0; i < n; i++) {
    const offset = r.u64();
    outsideWrites.push({ offset, bytes: r.bytes(OUTSIDE_WRITE_BYTES_MAX, 'write outside the filesystem') });
  }
  checkOutsideWrites(outsideWrites, sliceOffset, fsBytes);
  const payload = r.bytes(body.length, 'payload');
  if (r.offset !== body.length) throw new JournalError('the in-place journal has trailing bytes (damaged)');
  return { version, exporter, fingerprint, sliceOffset, outsideWrites, payload };
}

function checkOutsideWrites(writes: readonly OutsideWrite[], sliceOffset: number, fsBytes: number): void {
  writes.forEach(({ offset, bytes }, i) => {
    const inside = offset + bytes.length > sliceOffset && offset < sliceOffset + fsBytes;
    if (inside || bytes.length % 512 !== 0) throw new JournalError(`the in-place journal's write ${i} outside the filesystem (${bytes.length} bytes at ${offset}) is impossible (damaged)`);
  });
}

/** The commit a journal describes, its payload checked by its exporter (a payload it refuses is damage). */
export function journalProgram(j: JournalContent, fsBytes: number, exporters: ExporterRegistry): CommitProgram {
  const exporter = exporters.byName(j.exporter);
  if (exporter === undefined) throw new JournalError(`the in-place journal was written for '${j.exporter}', which this fsconv cannot finish`);
  try {
    return exporter.commitProgram(j.payload, fsBytes);
  } catch (e) {
    if (e instanceof FsconvError && !(e instanceof JournalError)) throw new JournalError(e.message);
    throw e;
  }
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
export function encodeMarker(m: JournalMarker): Uint8Array {
  const w = new RecordWriter();
  w.raw(text(MARKER_MAGIC));
  w.u32(m.version);
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
  const r = new RecordReader(sector.subarray(0, 44), failJournal);
  r.raw(16);
  const version = r.u32();
  const journalOffset = r.u64();
  const journalLength = r.u32();
  const journalCrc = r.u32();
  const fsBytes = r.u64();
  const crc = new DataView(sector.buffer, sector.byteOffset + 44, 4).getUint32(0, true);
  if (crc !== crc32(sector.subarray(0, 44))) throw new JournalError('the in-place conversion marker is damaged (checksum mismatch)');
  if (version !== JOURNAL_VERSION && !LEGACY_JOURNAL_VERSIONS.includes(version)) throw new JournalError(`in-place journal version ${version} is not supported`);
  return { version, journalOffset, journalLength, journalCrc, fsBytes };
}

export { crc32 };
