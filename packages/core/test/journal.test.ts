// The in-place journal and marker as core sees them, with no format package: the generic head
// (exporter name, source fingerprint, slice offset, writes outside the filesystem) around an opaque
// payload, every refusal of a damaged, truncated, forged or foreign journal (each length bounded
// before it sizes a read), the states `inspectInterruption` tells apart (none, resumable, stale,
// damaged; the journals of earlier fsconv, read through the exporter registered as legacy), and the
// commit crashed after each of its writes: every prefix is resumable, and the markers are gone only
// after the last write. The exporter is a fake: its payload is a list of writes and a final sector.
// The FAT payload itself is tested in packages/fat/test/in-place-payload.test.ts.
import { describe, expect, it } from 'vitest';
import { FsconvError, type CommitProgram, type CommitWrite, type InPlaceExporter, type LegacyJournal, type SourceFingerprint } from '@fsconv/base';
import { MemoryStorage } from '@fsconv/device';
import { commitFromJournal, discardJournal, inspectInterruption, type Interruption, type SourceBesideJournal } from '../src/in-place/engine.js';
import {
  COMMIT_MARKER_OFFSET, FINAL_MARKER_OFFSET, JOURNAL_HEAD_READ, JOURNAL_VERSION, LEGACY_MARKER_OFFSET, MARKER_SIZE,
  crc32, decodeJournal, decodeMarker, encodeJournal, encodeMarker, fingerprintBytes, hasMarkerMagic, journalBytesFor, journalLimit,
  journalProgram, journalVersion, JournalError, type ExporterRegistry, type JournalContent, type JournalMarker,
} from '../src/in-place/journal.js';

// ---------------------------------------------------------------------------------------------
// Bytes, little-endian, as the journal lays them out (to build journals field by field).

class Bytes {
  private readonly out: number[] = [];
  u8(v: number): this { this.out.push(v & 0xff); return this; }
  u32(v: number): this { for (let i = 0; i < 4; i++) this.out.push((v >>> (8 * i)) & 0xff); return this; }
  u64(v: number): this { return this.u32(v % 2 ** 32).u32(Math.floor(v / 2 ** 32)); }
  raw(b: ArrayLike<number>): this { for (let i = 0; i < b.length; i++) this.out.push(b[i]!); return this; }
  /** u32 length + bytes. */
  bytes(b: ArrayLike<number>): this { return this.u32(b.length).raw(b); }
  done(): Uint8Array { return Uint8Array.from(this.out); }
}
const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const JOURNAL_MAGIC = ascii('FSCONV-JOURNAL\0\0');
/** `body` and its CRC-32. */
const seal = (body: Uint8Array): Uint8Array => { const out = new Uint8Array(body.length + 4); out.set(body); new DataView(out.buffer).setUint32(body.length, crc32(body), true); return out; };
/** A journal with its last 4 bytes (the CRC) recomputed after an edit, so that only the edit can be refused. */
const reseal = (j: Uint8Array): Uint8Array => seal(j.subarray(0, j.length - 4));
const u32At = (b: Uint8Array, o: number): number => new DataView(b.buffer, b.byteOffset).getUint32(o, true);
const fill = (n: number, v: number): Uint8Array => new Uint8Array(n).fill(v);

// ---------------------------------------------------------------------------------------------
// A fake exporter. Its payload: u32 count (at most 8), each write as u32 offset + u32 length (at
// most 4096) + bytes, then the final 512-byte sector (written at 0). It refuses, as FsconvErrors
// of its own, a write in sector 0 or past the filesystem, a short final sector, trailing bytes.

class TestFsError extends FsconvError<'testfs'> {
  constructor(message: string) { super('testfs', message); }
}
const TESTFS_MAX_WRITES = 8;
const TESTFS_MAX_WRITE = 4096;

class Cursor {
  constructor(private readonly b: Uint8Array, public o = 0) {}
  private need(n: number): void { if (this.o + n > this.b.length) throw new TestFsError(`the testfs payload is truncated at byte ${this.o}`); }
  u32(): number { this.need(4); const v = u32At(this.b, this.o); this.o += 4; return v; }
  u64(): number { const lo = this.u32(); return lo + this.u32() * 2 ** 32; }
  take(n: number): Uint8Array { this.need(n); const v = this.b.slice(this.o, this.o + n); this.o += n; return v; }
  get left(): number { return this.b.length - this.o; }
}

interface TestPayload { writes: CommitWrite[]; final: Uint8Array }

function encodeTestPayload(p: TestPayload): Uint8Array {
  const w = new Bytes().u32(p.writes.length);
  for (const x of p.writes) w.u32(x.offset).bytes(x.bytes);
  return w.raw(p.final).done();
}

const testPayloadLimit = (head: Uint8Array): number => {
  const n = new Cursor(head).u32();
  if (n > TESTFS_MAX_WRITES) throw new TestFsError(`the testfs payload lists ${n} writes, more than ${TESTFS_MAX_WRITES}`);
  return 4 + n * (8 + TESTFS_MAX_WRITE) + 512;
};

function decodeTestPayload(payload: Uint8Array, fsBytes: number): TestPayload {
  const c = new Cursor(payload);
  const n = c.u32();
  if (n > TESTFS_MAX_WRITES) throw new TestFsError(`the testfs payload lists ${n} writes, more than ${TESTFS_MAX_WRITES}`);
  const writes: CommitWrite[] = [];
  for (let i = 0; i < n; i++) {
    const offset = c.u32();
    const length = c.u32();
    if (length > TESTFS_MAX_WRITE || offset < 512 || offset + length > fsBytes) throw new TestFsError(`testfs write ${i} (${length} bytes at ${offset}) is outside the filesystem`);
    writes.push({ offset, bytes: c.take(length) });
  }
  const final = c.take(512);
  if (c.left !== 0) throw new TestFsError(`the testfs payload has ${c.left} trailing bytes`);
  return { writes, final };
}

function testCommitProgram(payload: Uint8Array, fsBytes: number): CommitProgram {
  const p = decodeTestPayload(payload, fsBytes);
  return { writes: () => p.writes, totalBytes: p.writes.reduce((n, w) => n + w.bytes.length, 0), final: { offset: 0, bytes: p.final } };
}

// Its legacy journals: magic, u32 version, then (version 2 only) u32-length-prefixed fingerprint
// text, u64 slice offset, u32 count of outside writes each u64 offset + u32-length-prefixed bytes;
// then the payload as above; then the CRC-32 (checked by core).
function legacyParts(bytes: Uint8Array): Omit<LegacyJournal, 'payload'> & { payloadAt: number } {
  const c = new Cursor(bytes, 16);
  const version = c.u32();
  if (version === 1) return { version, fingerprint: [], sliceOffset: 0, outsideWrites: [], payloadAt: c.o };
  const text = new TextDecoder().decode(c.take(c.u32()));
  const fingerprint = text.split('\n').filter((l) => l !== '').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const);
  const sliceOffset = c.u64();
  const outsideWrites: CommitWrite[] = [];
  for (let i = c.u32(); i > 0; i--) {
    const offset = c.u64();
    outsideWrites.push({ offset, bytes: c.take(c.u32()) });
  }
  return { version, fingerprint, sliceOffset, outsideWrites, payloadAt: c.o };
}

function testExporter(opts: { name?: string; legacy?: boolean; commitProgram?: InPlaceExporter['commitProgram'] } = {}): InPlaceExporter {
  const unused = (): never => { throw new Error('not used by these tests'); };
  const e: InPlaceExporter = {
    name: opts.name ?? 'testfs',
    words: { unit: 'unit', front: 'the front', ownFiles: 'own files' },
    measure: unused,
    verify: unused,
    payloadHeadBytes: 4,
    payloadLimit: (head) => testPayloadLimit(head),
    commitProgram: opts.commitProgram ?? testCommitProgram,
  };
  if (opts.legacy !== false) {
    e.decodeLegacyJournal = (bytes) => {
      const { payloadAt, ...rest } = legacyParts(bytes);
      return { ...rest, payload: bytes.slice(payloadAt, bytes.length - 4) };
    };
    e.legacyJournalLimit = (head) => {
      const { payloadAt } = legacyParts(head);
      return payloadAt + testPayloadLimit(head.subarray(payloadAt)) + 4;
    };
  }
  return e;
}

const registryOf = (...exporters: InPlaceExporter[]): ExporterRegistry => ({
  byName: (name) => exporters.find((e) => e.name === name),
  legacy: exporters.find((e) => e.decodeLegacyJournal !== undefined),
});
const TESTFS = testExporter();
const EXPORTERS = registryOf(TESTFS);
const NO_LEGACY = registryOf(testExporter({ legacy: false }));

// ---------------------------------------------------------------------------------------------
// The device: 256 KiB of "source" (a pattern, the superblock stand-in at 1024..2047), the journal
// at 128 KiB, no marker yet. The payload's writes zero bytes 512..2047 (as FAT's reserved region
// does: every marker place but sector 0), and write three more places; the final sector replaces sector 0.

/** A crash: the write happened, nothing after it does. */
class Crash extends Error {}
interface WriteCounter { writes: number; failAfter: number }

/** A device in memory that records its reads' sizes and counts its writes (shared with a sibling); the `failAfter`-th write crashes. */
class MemoryDevice extends MemoryStorage {
  readonly reads: number[] = [];
  constructor(bytes: Uint8Array, readonly counter: WriteCounter = { writes: 0, failAfter: 0 }) { super(bytes); }
  override readInto(target: Uint8Array, position: number): void {
    this.reads.push(target.length);
    super.readInto(target, position);
  }
  override writeAt(data: Uint8Array, position: number): void {
    super.writeAt(data, position);
    this.counter.writes++;
    if (this.counter.failAfter > 0 && this.counter.writes >= this.counter.failAfter) throw new Crash();
  }
}

const FS_BYTES = 256 << 10;
const JOURNAL_AT = 128 << 10;
const FINGERPRINT: SourceFingerprint = [['last written', '2026-12-01T10:00:00Z'], ['mount count', '3'], ['bitmaps (sha-256)', 'ab'.repeat(32)]];
const FINAL = ((): Uint8Array => { const s = new Uint8Array(512); s.set(ascii('TESTFS'), 3); s[510] = 0x55; s[511] = 0xaa; return s; })();
const PAYLOAD: TestPayload = {
  writes: [
    { offset: 512, bytes: new Uint8Array(1536) },
    { offset: 4096, bytes: fill(4096, 0x11) },
    { offset: 40000, bytes: fill(100, 0x22) },
    { offset: FS_BYTES - 512, bytes: fill(512, 0x33) },
  ],
  final: FINAL,
};
const PAYLOAD_WRITE_BYTES = 1536 + 4096 + 100 + 512;
/** In a partition at 1 MiB of its disk: two table sectors at the front of the disk. */
const SLICE_OFFSET = 1 << 20;
const TABLE_WRITES: CommitWrite[] = [{ offset: 0, bytes: fill(512, 0x44) }, { offset: 512, bytes: fill(512, 0x45) }];

function content(over: Partial<Omit<JournalContent, 'version'>> = {}): Omit<JournalContent, 'version'> {
  return { exporter: 'testfs', fingerprint: FINGERPRINT, sliceOffset: 0, outsideWrites: [], payload: encodeTestPayload(PAYLOAD), ...over };
}

function sourceBytes(): Uint8Array {
  const b = new Uint8Array(FS_BYTES);
  for (let i = 0; i < b.length; i++) b[i] = (i * 31 + 7) & 0xff;
  b.fill(0x5a, 1024, 2048); // the superblock stand-in
  return b;
}

interface Staged { dev: MemoryDevice; table: MemoryDevice; journal: JournalContent; marker: JournalMarker; bytes: Uint8Array }

/** A device after the staging and the journal (`bytes` at JOURNAL_AT): no marker yet; a 4 KiB disk front for the table writes. */
function staged(journalBytes: Uint8Array = encodeJournal(content()), markerVersion = JOURNAL_VERSION): Staged {
  const b = sourceBytes();
  b.set(journalBytes, JOURNAL_AT);
  const counter = { writes: 0, failAfter: 0 };
  const dev = new MemoryDevice(b, counter);
  const table = new MemoryDevice(fill(4096, 0xee), counter);
  const marker: JournalMarker = { version: markerVersion, journalOffset: JOURNAL_AT, journalLength: journalBytes.length, journalCrc: crc32(journalBytes), fsBytes: FS_BYTES };
  return { dev, table, journal: decodeJournal(journalBytes, FS_BYTES, EXPORTERS), marker, bytes: journalBytes };
}

/** Puts a marker on the device as the commit's first write would (or at another place). */
const putMarker = (dev: MemoryDevice, m: JournalMarker, at = COMMIT_MARKER_OFFSET): void => { dev.bytes.set(encodeMarker(m), at); };

const absent = (): SourceBesideJournal => ({ kind: 'absent' });
const readable = (fingerprint: SourceFingerprint) => (): SourceBesideJournal => ({ kind: 'readable', fingerprint });

function journalError(f: () => unknown): JournalError {
  let err: unknown = null;
  try { f(); } catch (e) { err = e; }
  expect(err).toBeInstanceOf(JournalError);
  return err as JournalError;
}
const expectJournalError = (f: () => unknown, re: RegExp): void => { expect(journalError(f).message).toMatch(re); };
const expectDamaged = (it: Interruption, re: RegExp): void => {
  expect(it.state).toBe('damaged');
  if (it.state === 'damaged') expect(it.why).toMatch(re);
};

/** The offsets of the head's fields in a journal encoded by `content()` with `name` and no outside writes. */
const headOffsets = (nameLength: number, fpLength: number) => {
  const fingerprintAt = 21 + nameLength;
  const sliceAt = fingerprintAt + 4 + fpLength;
  const outsideCountAt = sliceAt + 8;
  const payloadLengthAt = outsideCountAt + 4;
  return { fingerprintAt, sliceAt, outsideCountAt, payloadLengthAt, payloadAt: payloadLengthAt + 4 };
};

// ---------------------------------------------------------------------------------------------

describe('journal codec', () => {
  it('lays out the head as documented and round-trips every field', () => {
    const outsideWrites = [{ offset: 0, bytes: fill(512, 7) }, { offset: 2 ** 40 + 4096, bytes: fill(1024, 9) }];
    const c = content({ sliceOffset: 2 ** 33 + 512, outsideWrites });
    const j = encodeJournal(c);
    // Magic, version 3, u8 name length + name, u32 + fingerprint text, u64 slice offset, u32 count + (u64 offset, u32 + bytes)…, u32 + payload, CRC-32.
    const fpText = new TextEncoder().encode(FINGERPRINT.map(([k, v]) => `${k}=${v}\n`).join(''));
    const byHand = new Bytes().raw(JOURNAL_MAGIC).u32(3).u8(6).raw(ascii('testfs')).bytes(fpText).u64(2 ** 33 + 512).u32(2)
      .u64(0).bytes(fill(512, 7)).u64(2 ** 40 + 4096).bytes(fill(1024, 9)).bytes(c.payload).done();
    expect(Buffer.from(j).equals(Buffer.from(seal(byHand)))).toBe(true);
    expect(JOURNAL_VERSION).toBe(3);
    expect(journalVersion(j)).toBe(3);
    const d = decodeJournal(j, FS_BYTES, EXPORTERS);
    expect(d).toEqual({ version: 3, exporter: 'testfs', fingerprint: FINGERPRINT, sliceOffset: 2 ** 33 + 512, outsideWrites, payload: c.payload });
    // The sizes the layout reserves are the sizes encoded.
    expect(fingerprintBytes(FINGERPRINT)).toBe(fpText.length);
    expect(journalBytesFor('testfs', fingerprintBytes(FINGERPRINT), c.payload.length, outsideWrites)).toBe(j.length);
    expect(journalBytesFor('testfs', fingerprintBytes([]), 0)).toBe(encodeJournal(content({ fingerprint: [], payload: new Uint8Array(0) })).length);
    // A value holding '=' is kept whole; an empty fingerprint too.
    const odd: SourceFingerprint = [['label', 'a=b c'], ['empty', '']];
    expect(decodeJournal(encodeJournal(content({ fingerprint: odd })), FS_BYTES, EXPORTERS).fingerprint).toEqual(odd);
    expect(decodeJournal(encodeJournal(content({ fingerprint: [] })), FS_BYTES, EXPORTERS).fingerprint).toEqual([]);
  });

  it('refuses to encode what it could not decode (internal errors, not journal errors)', () => {
    for (const exporter of ['', 'x'.repeat(33)]) {
      expect(() => encodeJournal(content({ exporter }))).toThrow(/^exporter name '.*' cannot be recorded \(internal\)$/);
      expect(() => encodeJournal(content({ exporter }))).not.toThrow(JournalError);
    }
    expect(encodeJournal(content({ exporter: 'x'.repeat(32) })).length).toBe(encodeJournal(content()).length + 26);
    expect(() => encodeJournal(content({ fingerprint: [['a=b', '1']] }))).toThrow(/fingerprint field 'a=b' cannot be encoded \(internal\)/);
    expect(() => encodeJournal(content({ fingerprint: [['a', '1\n2']] }))).toThrow(/fingerprint field 'a' cannot be encoded/);
    expect(() => encodeJournal(content({ fingerprint: [['a', 'x'.repeat(4095)]] }))).toThrow(/the source fingerprint takes 4098 bytes \(internal\)/);
  });

  it('refuses damage, a foreign magic, another version, truncation and trailing bytes', () => {
    const j = encodeJournal(content());
    const { payloadAt, payloadLengthAt } = headOffsets(6, fingerprintBytes(FINGERPRINT));
    const flipped = j.slice(); flipped[payloadAt + 10]! ^= 1;
    expectJournalError(() => decodeJournal(flipped, FS_BYTES, EXPORTERS), /^the in-place journal's checksum does not match \(the journal is damaged\)$/);
    const crcFlipped = j.slice(); crcFlipped[j.length - 1]! ^= 0x80;
    expectJournalError(() => decodeJournal(crcFlipped, FS_BYTES, EXPORTERS), /checksum does not match/);
    const foreign = j.slice(); foreign[0] = 0x58;
    expectJournalError(() => decodeJournal(reseal(foreign), FS_BYTES, EXPORTERS), /^the marker points at something that is not an fsconv journal \(damaged\)$/);
    for (const version of [0, 4, 7]) {
      const other = j.slice(); new DataView(other.buffer).setUint32(16, version, true);
      expectJournalError(() => decodeJournal(reseal(other), FS_BYTES, EXPORTERS), new RegExp(`^in-place journal version ${version} is not supported \\(this fsconv reads 1, 2, 3\\)$`));
      expectJournalError(() => journalVersion(other), new RegExp(`version ${version} is not supported`));
    }
    // Too short to hold a version, or a CRC; cut inside the head; cut inside the payload.
    expectJournalError(() => decodeJournal(j.subarray(0, 19), FS_BYTES, EXPORTERS), /^the in-place journal is truncated$/);
    expectJournalError(() => journalVersion(j.subarray(0, 19)), /^the in-place journal is truncated$/);
    expectJournalError(() => decodeJournal(j.subarray(0, 23), FS_BYTES, EXPORTERS), /^the in-place journal is truncated$/);
    expectJournalError(() => decodeJournal(seal(j.subarray(0, 24)), FS_BYTES, EXPORTERS), /^the in-place journal is truncated at byte 21$/);
    expectJournalError(() => decodeJournal(seal(j.subarray(0, payloadLengthAt + 2)), FS_BYTES, EXPORTERS), new RegExp(`^the in-place journal is truncated at byte ${payloadLengthAt}$`));
    expectJournalError(() => decodeJournal(reseal(j.subarray(0, j.length - 20)), FS_BYTES, EXPORTERS), new RegExp(`^the in-place journal is truncated at byte ${payloadAt}$`));
    // Bytes after the payload (its length says where it ends).
    const longer = new Uint8Array(j.length + 3); longer.set(j.subarray(0, j.length - 4));
    expectJournalError(() => decodeJournal(reseal(longer), FS_BYTES, EXPORTERS), /^the in-place journal has trailing bytes \(damaged\)$/);
  });

  it('refuses an exporter name that is empty, overlong, not text, or unknown here', () => {
    const j = encodeJournal(content());
    const after = j.subarray(27, j.length - 4); // the fingerprint on
    const named = (length: number, name: ArrayLike<number>): Uint8Array => seal(new Bytes().raw(JOURNAL_MAGIC).u32(3).u8(length).raw(name).raw(after).done());
    expect(decodeJournal(named(6, ascii('testfs')), FS_BYTES, EXPORTERS).exporter).toBe('testfs');
    expectJournalError(() => decodeJournal(named(0, []), FS_BYTES, EXPORTERS), /^the in-place journal's exporter name is 0 bytes \(damaged\)$/);
    expectJournalError(() => decodeJournal(named(33, ascii('y'.repeat(33))), FS_BYTES, EXPORTERS), /^the in-place journal's exporter name is 33 bytes \(damaged\)$/);
    expectJournalError(() => journalLimit(named(255, ascii('y'.repeat(255))), FS_BYTES, EXPORTERS), /exporter name is 255 bytes/);
    expectJournalError(() => decodeJournal(named(2, [0xc3, 0x28]), FS_BYTES, EXPORTERS), /^the in-place journal's exporter name is not text \(damaged\)$/);
    // A name of another exporter decodes (the head is sound), but nothing here can bound or finish it.
    const zfs = encodeJournal(content({ exporter: 'zfs' }));
    expect(decodeJournal(zfs, FS_BYTES, EXPORTERS).exporter).toBe('zfs');
    const foreign = /^the in-place journal was written for 'zfs', which this fsconv cannot finish$/;
    expectJournalError(() => journalLimit(zfs, FS_BYTES, EXPORTERS), foreign);
    expectJournalError(() => journalProgram(decodeJournal(zfs, FS_BYTES, EXPORTERS), FS_BYTES, EXPORTERS), foreign);
    const s = staged(zfs);
    putMarker(s.dev, s.marker);
    expectDamaged(inspectInterruption(s.dev, absent, EXPORTERS), foreign);
  });

  it('refuses a fingerprint that is too long, not text, or not name=value lines', () => {
    const withFingerprint = (fp: ArrayLike<number>): Uint8Array =>
      seal(new Bytes().raw(JOURNAL_MAGIC).u32(3).u8(6).raw(ascii('testfs')).bytes(fp).u64(0).u32(0).bytes(encodeTestPayload(PAYLOAD)).done());
    expect(decodeJournal(withFingerprint(ascii('a=1\nb=2\n')), FS_BYTES, EXPORTERS).fingerprint).toEqual([['a', '1'], ['b', '2']]);
    expectJournalError(() => decodeJournal(withFingerprint(fill(4097, 0x61)), FS_BYTES, EXPORTERS),
      /^the in-place journal's source fingerprint is 4097 bytes, more than the 4096 its geometry allows$/);
    expectJournalError(() => journalLimit(withFingerprint(fill(4097, 0x61)), FS_BYTES, EXPORTERS), /source fingerprint is 4097 bytes/);
    expectJournalError(() => decodeJournal(withFingerprint([0x61, 0x3d, 0xff, 0x0a]), FS_BYTES, EXPORTERS), /^the in-place journal's source fingerprint is not text \(damaged\)$/);
    for (const bad of ['no value\n', '=1\n', 'a=1\nb\n']) {
      expectJournalError(() => decodeJournal(withFingerprint(ascii(bad)), FS_BYTES, EXPORTERS), /^the in-place journal's source fingerprint is malformed \(damaged\)$/);
    }
  });

  it('refuses outside writes inside the filesystem, of partial sectors, too many or too large', () => {
    const at = (offset: number, bytes: number): Omit<JournalContent, 'version'> => content({ sliceOffset: SLICE_OFFSET, outsideWrites: [{ offset, bytes: new Uint8Array(bytes) }] });
    const decode = (c: Omit<JournalContent, 'version'>): JournalContent => decodeJournal(encodeJournal(c), FS_BYTES, EXPORTERS);
    // Right before the filesystem, right after it: fine.
    expect(decode(at(SLICE_OFFSET - 512, 512)).outsideWrites).toHaveLength(1);
    expect(decode(at(SLICE_OFFSET + FS_BYTES, 4096)).outsideWrites[0]!.offset).toBe(SLICE_OFFSET + FS_BYTES);
    for (const [offset, length] of [[SLICE_OFFSET + 4096, 512], [SLICE_OFFSET - 512, 1024], [SLICE_OFFSET + FS_BYTES - 512, 1024], [SLICE_OFFSET + FS_BYTES - 1, 512], [SLICE_OFFSET - 511, 512], [SLICE_OFFSET, 512]] as const) {
      expectJournalError(() => decode(at(offset, length)), new RegExp(`^the in-place journal's write 0 outside the filesystem \\(${length} bytes at ${offset}\\) is impossible \\(damaged\\)$`));
    }
    expectJournalError(() => decode(at(0, 100)), /write 0 outside the filesystem \(100 bytes at 0\) is impossible/);
    const second = content({ sliceOffset: SLICE_OFFSET, outsideWrites: [{ offset: 0, bytes: new Uint8Array(512) }, { offset: SLICE_OFFSET + 512, bytes: new Uint8Array(512) }] });
    expectJournalError(() => decode(second), /write 1 outside the filesystem \(512 bytes at 1049088\)/);
    // On a whole device (slice offset 0) nothing below the filesystem's end is outside it.
    expectJournalError(() => decode(content({ outsideWrites: [{ offset: 0, bytes: new Uint8Array(512) }] })), /write 0 outside the filesystem \(512 bytes at 0\) is impossible/);
    const nine = content({ sliceOffset: SLICE_OFFSET, outsideWrites: Array.from({ length: 9 }, (_, i) => ({ offset: 512 * i, bytes: new Uint8Array(512) })) });
    const tooMany = /^the in-place journal lists 9 writes outside the filesystem, more than the 8 a conversion makes \(damaged\)$/;
    expectJournalError(() => decode(nine), tooMany);
    expectJournalError(() => journalLimit(encodeJournal(nine), FS_BYTES, EXPORTERS), tooMany);
    expectJournalError(() => decode(at(0, 4608)), /^the in-place journal's write outside the filesystem is 4608 bytes, more than the 4096 its geometry allows$/);
  });

  it('keeps the marker sector free of the ext2 magic, round-trips it and refuses a damaged one', () => {
    const m: JournalMarker = { version: 3, journalOffset: 2 ** 40 + 8192, journalLength: 1000, journalCrc: 0xdeadbeef, fsBytes: 2 ** 41 };
    const s = encodeMarker(m);
    expect(s.length).toBe(MARKER_SIZE);
    expect(Buffer.from(s.subarray(0, 16)).toString('latin1')).toBe('FSCONV-IN-PLACE\0');
    expect(u32At(s, 16)).toBe(3);
    expect(u32At(s, 44)).toBe(crc32(s.subarray(0, 44)));
    expect(s.subarray(48).every((b) => b === 0)).toBe(true); // bytes 56..57 (the ext2 magic at 1080) among them
    expect(decodeMarker(s)).toEqual(m);
    expect(hasMarkerMagic(s)).toBe(true);
    expect(decodeMarker(encodeMarker({ ...m, version: 1 }))!.version).toBe(1);
    expect(decodeMarker(new Uint8Array(512))).toBeNull();
    expect(decodeMarker(s.subarray(0, 47))).toBeNull();
    const bad = s.slice(); bad[20]! ^= 1;
    expectJournalError(() => decodeMarker(bad), /^the in-place conversion marker is damaged \(checksum mismatch\)$/);
    const v9 = s.slice(); new DataView(v9.buffer).setUint32(16, 9, true); new DataView(v9.buffer).setUint32(44, crc32(v9.subarray(0, 44)), true);
    expectJournalError(() => decodeMarker(v9), /^in-place journal version 9 is not supported$/);
  });
});

describe('journalLimit and journalProgram', () => {
  it('bounds a journal by its head and the exporter\'s payload head, and wraps the exporter\'s refusals as journal errors', () => {
    const j = encodeJournal(content());
    const fp = fingerprintBytes(FINGERPRINT);
    const limit = journalBytesFor('testfs', fp, 4 + 4 * (8 + 4096) + 512);
    expect(journalLimit(j, FS_BYTES, EXPORTERS)).toBe(limit);
    // The payload's head alone is enough (4 bytes here).
    const { payloadAt } = headOffsets(6, fp);
    expect(journalLimit(j.subarray(0, payloadAt + 4), FS_BYTES, EXPORTERS)).toBe(limit);
    expectJournalError(() => journalLimit(j.subarray(0, 30), FS_BYTES, EXPORTERS), /^the in-place journal is truncated at byte 27$/);
    // The exporter's refusal (an FsconvError of its own) comes out as a JournalError with its words.
    const nine = encodeJournal(content({ payload: new Bytes().u32(9).done() }));
    const e = journalError(() => journalLimit(nine, FS_BYTES, EXPORTERS));
    expect(e.message).toBe('the testfs payload lists 9 writes, more than 8');
    expect(e.code).toBe('journal');
    expectJournalError(() => journalLimit(j.subarray(0, payloadAt + 2), FS_BYTES, EXPORTERS), new RegExp(`^the testfs payload is truncated at byte 0$`));
  });

  it('gives the exporter\'s commit, and refuses a payload the exporter refuses', () => {
    const journal = decodeJournal(encodeJournal(content()), FS_BYTES, EXPORTERS);
    const p = journalProgram(journal, FS_BYTES, EXPORTERS);
    expect([...p.writes()]).toEqual(PAYLOAD.writes);
    expect(p.totalBytes).toBe(PAYLOAD_WRITE_BYTES);
    expect(p.final).toEqual({ offset: 0, bytes: FINAL });
    // The same payload on a smaller filesystem: its last write lies past the end.
    expectJournalError(() => journalProgram(journal, FS_BYTES - 512, EXPORTERS), /^testfs write 3 \(512 bytes at 261632\) is outside the filesystem$/);
    const trailing = { ...journal, payload: Uint8Array.from([...journal.payload, 1, 2]) };
    expectJournalError(() => journalProgram(trailing, FS_BYTES, EXPORTERS), /^the testfs payload has 2 trailing bytes$/);
    // Anything but an FsconvError from the exporter is a bug, and is not dressed up as damage.
    const buggy = registryOf(testExporter({ commitProgram: () => { throw new TypeError('oops'); } }));
    expect(() => journalProgram(journal, FS_BYTES, buggy)).toThrow(TypeError);
  });
});

describe('inspectInterruption', () => {
  it('finds nothing on a device without a marker, or too small for one, without asking about the source', () => {
    const { dev } = staged();
    const never = (): SourceBesideJournal => { throw new Error('asked'); };
    expect(inspectInterruption(dev, never, EXPORTERS)).toEqual({ state: 'none' });
    expect(inspectInterruption(new MemoryDevice(new Uint8Array(2047)), never, EXPORTERS)).toEqual({ state: 'none' });
  });

  it('finds a sound journal resumable over a gone source, from either marker copy', () => {
    const s = staged();
    putMarker(s.dev, s.marker);
    const it1 = inspectInterruption(s.dev, absent, EXPORTERS);
    expect(it1).toEqual({ state: 'resumable', journal: s.journal, marker: s.marker });
    const t = staged();
    putMarker(t.dev, t.marker, FINAL_MARKER_OFFSET);
    expect(inspectInterruption(t.dev, absent, EXPORTERS)).toMatchObject({ state: 'resumable', marker: t.marker });
  });

  it('refuses a marker pointing outside the device or the filesystem after reading only the marker sectors', () => {
    const cases: Array<[Partial<JournalMarker>, RegExp]> = [
      [{ fsBytes: FS_BYTES * 2 }, new RegExp(`^the in-place conversion marker gives a ${FS_BYTES * 2}-byte filesystem on a ${FS_BYTES}-byte device \\(damaged\\)$`)],
      [{ fsBytes: 1024 }, /gives a 1024-byte filesystem on a/],
      [{ journalLength: 0x7ffff000 }, new RegExp(`^the in-place conversion marker points at ${0x7ffff000} bytes at byte ${JOURNAL_AT}, outside the filesystem \\(damaged\\)$`)],
      [{ journalLength: 0xfffff000 }, /points at 4294963200 bytes at byte/],
      [{ journalOffset: FS_BYTES - 100 }, /points at \d+ bytes at byte 262044, outside the filesystem/],
      [{ journalOffset: 1024 }, /points at \d+ bytes at byte 1024, outside the filesystem/],
      [{ journalOffset: 2 ** 50 }, /outside the filesystem/],
      [{ journalLength: 63 }, /points at 63 bytes at byte/],
    ];
    for (const [forged, why] of cases) {
      const s = staged();
      putMarker(s.dev, { ...s.marker, ...forged });
      const it = inspectInterruption(s.dev, absent, EXPORTERS);
      expectDamaged(it, why);
      expect(s.dev.reads).toEqual([2048]);
    }
  });

  it('bounds the journal length by journalLimit before the big read: a forged length is refused after reading the head', () => {
    const s = staged();
    const limit = journalLimit(s.bytes, FS_BYTES, EXPORTERS);
    expect(limit).toBeGreaterThan(s.bytes.length);
    expect(limit).toBeLessThan(100 << 10);
    // Lengths that fit the filesystem but not what the head allows.
    for (const journalLength of [limit + 1, 100 << 10, FS_BYTES - JOURNAL_AT]) {
      const t = staged();
      putMarker(t.dev, { ...t.marker, journalLength });
      expectDamaged(inspectInterruption(t.dev, absent, EXPORTERS),
        new RegExp(`^the in-place conversion marker gives a ${journalLength}-byte journal, more than its geometry allows \\(${limit}\\): damaged$`));
      expect(t.dev.reads).toEqual([2048, Math.min(journalLength, JOURNAL_HEAD_READ)]);
      expect(JOURNAL_HEAD_READ).toBeLessThan(100 << 10);
    }
    // Exactly the limit is read whole, then found not to be the journal the marker sealed.
    const u = staged();
    putMarker(u.dev, { ...u.marker, journalLength: limit });
    expectDamaged(inspectInterruption(u.dev, absent, EXPORTERS), /^the in-place journal does not match its marker \(damaged\)$/);
    expect(u.dev.reads).toEqual([2048, limit, limit]);
    // Shorter than the journal's head: found truncated in the head.
    const v = staged();
    putMarker(v.dev, { ...v.marker, journalLength: 64 });
    expectDamaged(inspectInterruption(v.dev, absent, EXPORTERS), /^the in-place journal is truncated at byte 31$/);
    expect(v.dev.reads).toEqual([2048, 64]);
  });

  it('tells a fresh journal from a stale one by the fingerprint, and says what changed', () => {
    const { dev, marker, journal } = staged();
    putMarker(dev, marker, FINAL_MARKER_OFFSET); // a copy in sector 0, the superblock restored by hand
    expect(inspectInterruption(dev, readable(FINGERPRINT), EXPORTERS)).toEqual({ state: 'resumable', journal, marker });
    const changed: SourceFingerprint = FINGERPRINT.map(([k, v]) => [k, k === 'mount count' ? '4' : v]);
    expect(inspectInterruption(dev, readable(changed), EXPORTERS)).toEqual({
      state: 'stale', markerOffsets: [FINAL_MARKER_OFFSET], why: 'the source filesystem changed after the conversion was planned: mount count 4 (planned: 3)',
    });
    const two: SourceFingerprint = [...changed.map(([k, v]): [string, string] => [k, k === 'last written' ? '2026-12-02T08:00:00Z' : v]), ['new field', 'x']];
    const stale2 = inspectInterruption(dev, readable(two), EXPORTERS);
    expect(stale2.state === 'stale' && stale2.why).toBe(
      'the source filesystem changed after the conversion was planned: last written 2026-12-02T08:00:00Z (planned: 2026-12-01T10:00:00Z), mount count 4 (planned: 3), new field x (planned: not recorded)');
    expect(inspectInterruption(dev, () => ({ kind: 'unreadable', why: 'bad group descriptors' }), EXPORTERS)).toEqual({
      state: 'stale', markerOffsets: [0], why: 'the source filesystem was written again after the commit point, and it cannot be read (bad group descriptors)',
    });
    // Dropping it touches only the marker copies beside the source.
    const before = dev.bytes.slice();
    expect(discardJournal(dev, [FINAL_MARKER_OFFSET])).toBe(1);
    expect(dev.bytes.subarray(0, 512).every((b) => b === 0)).toBe(true);
    expect(Buffer.from(dev.bytes.subarray(512)).equals(Buffer.from(before.subarray(512)))).toBe(true);
    expect(inspectInterruption(dev, absent, EXPORTERS)).toEqual({ state: 'none' });
    expect(() => discardJournal(dev, [COMMIT_MARKER_OFFSET])).toThrow(/^the marker over the superblock is never discarded \(internal\)$/);
  });

  it('says whether the commit had begun overwriting when the journal is damaged', () => {
    const { dev, marker } = staged();
    putMarker(dev, marker);
    dev.bytes[JOURNAL_AT + 40]! ^= 0xff;
    expect(inspectInterruption(dev, absent, EXPORTERS)).toEqual({
      state: 'damaged', why: 'the in-place journal does not match its marker (damaged)', markerOffsets: [1024], commitStarted: false, sourceReadable: false, fsBytes: FS_BYTES,
    });
    putMarker(dev, marker, FINAL_MARKER_OFFSET);
    expect(inspectInterruption(dev, absent, EXPORTERS)).toMatchObject({ state: 'damaged', commitStarted: true, markerOffsets: [1024, 0] });
    expect(inspectInterruption(dev, readable(FINGERPRINT), EXPORTERS)).toMatchObject({ state: 'damaged', commitStarted: true, sourceReadable: true });
    // Only the copy in sector 0 (the one at 1024 overwritten by the commit): begun.
    dev.bytes.fill(0, 1024, 1536);
    expect(inspectInterruption(dev, absent, EXPORTERS)).toMatchObject({ state: 'damaged', commitStarted: true, markerOffsets: [0] });
    // Both copies damaged: nothing to follow, no size known.
    const broken = encodeMarker(marker); broken[30]! ^= 1;
    dev.bytes.set(broken, COMMIT_MARKER_OFFSET);
    dev.bytes.set(broken, FINAL_MARKER_OFFSET);
    expect(inspectInterruption(dev, absent, EXPORTERS)).toEqual({
      state: 'damaged', why: 'the in-place conversion marker is damaged (checksum mismatch)', markerOffsets: [1024, 0], commitStarted: true, sourceReadable: false, fsBytes: null,
    });
    // One damaged copy beside a sound one: the sound one is followed.
    const t = staged();
    t.dev.bytes.set(broken, COMMIT_MARKER_OFFSET);
    putMarker(t.dev, t.marker, FINAL_MARKER_OFFSET);
    expect(inspectInterruption(t.dev, absent, EXPORTERS)).toMatchObject({ state: 'resumable', marker: t.marker });
  });

  it('reports a payload the exporter refuses as damage, and a bug in the exporter as a bug', () => {
    // A write past the end of the filesystem: the head is sound, the exporter refuses the payload.
    const bad = encodeJournal(content({ payload: encodeTestPayload({ writes: [{ offset: FS_BYTES - 100, bytes: new Uint8Array(512) }], final: FINAL }) }));
    const s = staged(bad);
    putMarker(s.dev, s.marker);
    putMarker(s.dev, s.marker, FINAL_MARKER_OFFSET);
    expect(inspectInterruption(s.dev, readable(FINGERPRINT), EXPORTERS)).toEqual({
      state: 'damaged', why: `testfs write 0 (512 bytes at ${FS_BYTES - 100}) is outside the filesystem`, markerOffsets: [1024, 0],
      commitStarted: true, sourceReadable: true, fsBytes: FS_BYTES,
    });
    // …and the commit refuses it before its first write.
    expectJournalError(() => commitFromJournal(s.dev, s.journal, s.marker, EXPORTERS), /^testfs write 0 \(512 bytes at 262044\) is outside the filesystem$/);
    expect(s.dev.counter.writes).toBe(0);
    const t = staged();
    putMarker(t.dev, t.marker);
    expect(() => inspectInterruption(t.dev, absent, registryOf(testExporter({ commitProgram: () => { throw new RangeError('bug'); } })))).toThrow(RangeError);
  });

  it('accepts each marker version only in its own places', () => {
    const s = staged();
    putMarker(s.dev, { ...s.marker, version: 1 }, COMMIT_MARKER_OFFSET);
    expectDamaged(inspectInterruption(s.dev, absent, EXPORTERS), /^a version 1 marker at byte 1024, where only version 2 or 3 puts one$/);
    const t = staged();
    putMarker(t.dev, t.marker, LEGACY_MARKER_OFFSET);
    expect(inspectInterruption(t.dev, absent, EXPORTERS)).toMatchObject({ state: 'damaged', why: 'a version 3 marker at byte 512, where only version 1 puts one', markerOffsets: [512], fsBytes: null });
    // Version 2 (the previous fsconv's) still at 1024 and 0.
    const u = staged();
    putMarker(u.dev, { ...u.marker, version: 2 }, FINAL_MARKER_OFFSET);
    expect(inspectInterruption(u.dev, absent, EXPORTERS)).toMatchObject({ state: 'resumable', marker: { version: 2 } });
  });
});

describe('the journals of earlier fsconv, through the legacy exporter', () => {
  /** A version-1 journal of the fake's legacy layout: magic, version, payload, CRC. */
  const v1Journal = (): Uint8Array => seal(new Bytes().raw(JOURNAL_MAGIC).u32(1).raw(encodeTestPayload(PAYLOAD)).done());
  const v2Journal = (sliceOffset: number, outside: CommitWrite[]): Uint8Array => {
    const w = new Bytes().raw(JOURNAL_MAGIC).u32(2).bytes(ascii(FINGERPRINT.map(([k, v]) => `${k}=${v}\n`).join(''))).u64(sliceOffset).u32(outside.length);
    for (const o of outside) w.u64(o.offset).bytes(o.bytes);
    return seal(w.raw(encodeTestPayload(PAYLOAD)).done());
  };
  /** The first fsconv's: a version-1 marker in bytes 512..1023 (sealed as any marker). */
  const v1Device = (): Staged => { const s = staged(v1Journal(), 1); putMarker(s.dev, s.marker, LEGACY_MARKER_OFFSET); return s; };

  it('decodes versions 1 and 2 through the exporter registered as legacy, and refuses them without one', () => {
    const d1 = decodeJournal(v1Journal(), FS_BYTES, EXPORTERS);
    expect(d1).toEqual({ version: 1, exporter: 'testfs', fingerprint: [], sliceOffset: 0, outsideWrites: [], payload: encodeTestPayload(PAYLOAD) });
    expect(journalLimit(v1Journal(), FS_BYTES, EXPORTERS)).toBe(20 + 4 + 4 * (8 + 4096) + 512 + 4);
    const d2 = decodeJournal(v2Journal(SLICE_OFFSET, TABLE_WRITES), FS_BYTES, EXPORTERS);
    expect(d2).toEqual({ version: 2, exporter: 'testfs', fingerprint: FINGERPRINT, sliceOffset: SLICE_OFFSET, outsideWrites: TABLE_WRITES, payload: encodeTestPayload(PAYLOAD) });
    for (const j of [v1Journal(), v2Journal(0, [])]) {
      const version = u32At(j, 16);
      expectJournalError(() => decodeJournal(j, FS_BYTES, NO_LEGACY), new RegExp(`^in-place journal version ${version} is not supported here$`));
      expectJournalError(() => journalLimit(j, FS_BYTES, NO_LEGACY), new RegExp(`^in-place journal version ${version} is not supported here$`));
    }
    // Core still checks the CRC and what lies outside the filesystem; the exporter's refusals become journal errors.
    const flipped = v1Journal(); flipped[30]! ^= 1;
    expectJournalError(() => decodeJournal(flipped, FS_BYTES, EXPORTERS), /checksum does not match/);
    expectJournalError(() => decodeJournal(v2Journal(SLICE_OFFSET, [{ offset: SLICE_OFFSET, bytes: new Uint8Array(512) }]), FS_BYTES, EXPORTERS),
      /^the in-place journal's write 0 outside the filesystem \(512 bytes at 1048576\) is impossible \(damaged\)$/);
    const short = seal(new Bytes().raw(JOURNAL_MAGIC).u32(2).u32(100).done());
    const e = journalError(() => decodeJournal(short, FS_BYTES, EXPORTERS));
    expect(e.message).toBe('the testfs payload is truncated at byte 24');
    expectJournalError(() => journalLimit(short, FS_BYTES, EXPORTERS), /^the testfs payload is truncated at byte 24$/);
  });

  it('replays the first fsconv\'s journal (marker at 512) over a gone source, and finds it stale beside one', () => {
    const s = v1Device();
    const it = inspectInterruption(s.dev, absent, EXPORTERS);
    expect(it).toEqual({ state: 'resumable', journal: { version: 1, exporter: 'testfs', fingerprint: [], sliceOffset: 0, outsideWrites: [], payload: encodeTestPayload(PAYLOAD) }, marker: s.marker });
    expect(inspectInterruption(s.dev, readable(FINGERPRINT), EXPORTERS)).toEqual({
      state: 'stale', markerOffsets: [512],
      why: 'it was written by an earlier fsconv (journal format 1, without a fingerprint of the source) and the source filesystem is still there, so whether it changed since cannot be told',
    });
    expect(inspectInterruption(s.dev, () => ({ kind: 'unreadable', why: 'x' }), EXPORTERS)).toMatchObject({ state: 'stale', why: expect.stringMatching(/^it was written by an earlier fsconv/) });
    expectDamaged(inspectInterruption(s.dev, absent, NO_LEGACY), /^in-place journal version 1 is not supported here$/);
    // The replay ends as a version-3 commit would: the final sector, no marker anywhere.
    if (it.state !== 'resumable') throw new Error('unreachable');
    commitFromJournal(s.dev, it.journal, it.marker, EXPORTERS);
    expect(s.dev.bytes.subarray(0, 512)).toEqual(FINAL);
    expect(inspectInterruption(s.dev, absent, EXPORTERS)).toEqual({ state: 'none' });
    // A version-2 journal (the previous fsconv's, with a fingerprint) beside its unchanged source: resumable.
    const t = staged(v2Journal(0, []), 2);
    putMarker(t.dev, t.marker);
    putMarker(t.dev, t.marker, FINAL_MARKER_OFFSET);
    expect(inspectInterruption(t.dev, readable(FINGERPRINT), EXPORTERS)).toMatchObject({ state: 'resumable', journal: { version: 2, fingerprint: FINGERPRINT } });
  });
});

describe('the commit', () => {
  it('writes the markers, the exporter\'s writes, the table, then the final sector; reports progress in the exporter\'s bytes', () => {
    const j = encodeJournal(content({ sliceOffset: SLICE_OFFSET, outsideWrites: TABLE_WRITES }));
    const s = staged(j);
    const order: Array<[string, number, number]> = [];
    const log = (name: string, d: MemoryDevice): void => {
      const write = d.writeAt.bind(d);
      d.writeAt = (data, position) => { order.push([name, position, data.length]); write(data, position); };
    };
    log('fs', s.dev);
    log('table', s.table);
    const progress: Array<[string, number, number]> = [];
    commitFromJournal(s.dev, s.journal, s.marker, EXPORTERS, (p, d, t) => progress.push([p, d, t]), s.table);
    expect(order).toEqual([
      ['fs', 1024, 512], ['fs', 0, 512],
      ...PAYLOAD.writes.map((w) => ['fs', w.offset, w.bytes.length]),
      ['table', 0, 512], ['table', 512, 512],
      ['fs', 0, 512],
    ]);
    expect(progress.at(-1)).toEqual(['commit', PAYLOAD_WRITE_BYTES, PAYLOAD_WRITE_BYTES]);
    expect(progress).toHaveLength(PAYLOAD.writes.length);
    expect(s.table.bytes.subarray(0, 1024)).toEqual(Uint8Array.from([...TABLE_WRITES[0]!.bytes, ...TABLE_WRITES[1]!.bytes]));
    expect(s.table.bytes.subarray(1024).every((b) => b === 0xee)).toBe(true);
    expect(s.dev.bytes.subarray(0, 512)).toEqual(FINAL);
    expect(s.dev.bytes.subarray(512, 2048).every((b) => b === 0)).toBe(true);
  });

  it('refuses a commit that writes the partition table without the table\'s device, before writing anything', () => {
    const s = staged(encodeJournal(content({ sliceOffset: SLICE_OFFSET, outsideWrites: TABLE_WRITES })));
    expectJournalError(() => commitFromJournal(s.dev, s.journal, s.marker, EXPORTERS),
      /^this conversion also gives its partition the new type in the partition table: resume it where the table can be written: on the disk \(with --partition N\) or on the partition device$/);
    expect(s.dev.counter.writes).toBe(0);
  });

  it('refuses an exporter whose final write does not replace the marker\'s last copy (an internal error)', () => {
    const s = staged();
    const wrong = registryOf(testExporter({ commitProgram: (p, f) => ({ ...testCommitProgram(p, f), final: { offset: 512, bytes: FINAL } }) }));
    expect(() => commitFromJournal(s.dev, s.journal, s.marker, wrong)).toThrow(/^the exporter's final write \(512 bytes at 512\) does not replace the marker's last copy \(internal\)$/);
    const short = registryOf(testExporter({ commitProgram: (p, f) => ({ ...testCommitProgram(p, f), final: { offset: 0, bytes: new Uint8Array(100) } }) }));
    expect(() => commitFromJournal(s.dev, s.journal, s.marker, short)).toThrow(/final write \(100 bytes at 0\)/);
    expect(s.dev.counter.writes).toBe(0);
  });
});

describe('the commit, crashed after each of its writes', () => {
  /** Crashes a fresh `setup()` after each write in turn, resumes it from what inspectInterruption finds, and compares with the uninterrupted run. */
  function crashAfterEachWrite(setup: () => Staged, withTable: boolean): number {
    const reference = setup();
    commitFromJournal(reference.dev, reference.journal, reference.marker, EXPORTERS, undefined, withTable ? reference.table : undefined);
    const total = reference.dev.counter.writes;
    expect(inspectInterruption(reference.dev, absent, EXPORTERS)).toEqual({ state: 'none' });
    expect(reference.dev.bytes.subarray(0, 512)).toEqual(FINAL);
    for (let n = 1; n <= total; n++) {
      const s = setup();
      s.dev.counter.failAfter = n;
      expect(() => commitFromJournal(s.dev, s.journal, s.marker, EXPORTERS, undefined, withTable ? s.table : undefined)).toThrow(Crash);
      expect(s.dev.counter.writes).toBe(n);
      const head = s.dev.bytes.subarray(0, 2048);
      const markers = [0, 512, 1024].filter((o) => hasMarkerMagic(head.subarray(o, o + 512)));
      const it = inspectInterruption(s.dev, absent, EXPORTERS);
      if (n < total) {
        expect(markers.length, `a marker after write ${n} of ${total}`).toBeGreaterThan(0);
        // From the second write on, the copy in sector 0 is there (only the last write replaces it).
        if (n >= 2) expect(markers, `after write ${n}`).toContain(0);
        expect(Buffer.from(s.dev.bytes.subarray(0, 512)).equals(Buffer.from(FINAL)), `after write ${n}`).toBe(false);
        expect(it.state, `after write ${n} of ${total}${it.state === 'damaged' ? `: ${it.why}` : ''}`).toBe('resumable');
        s.dev.counter.failAfter = 0;
        if (it.state === 'resumable') commitFromJournal(s.dev, it.journal, it.marker, EXPORTERS, undefined, withTable ? s.table : undefined);
        expect(inspectInterruption(s.dev, absent, EXPORTERS)).toEqual({ state: 'none' });
      } else {
        expect(markers).toEqual([]);
        expect(it).toEqual({ state: 'none' });
      }
      expect(Buffer.from(s.dev.bytes).equals(Buffer.from(reference.dev.bytes)), `after a crash at write ${n} and the replay`).toBe(true);
      expect(Buffer.from(s.table.bytes).equals(Buffer.from(reference.table.bytes)), `the table after a crash at write ${n}`).toBe(true);
    }
    return total;
  }

  it('is resumable at every write until the last, which drops every marker; replays end identical', () => {
    const total = crashAfterEachWrite(() => staged(), false);
    expect(total).toBe(2 + PAYLOAD.writes.length + 1);
  });

  it('in a partition: the table writes, on the disk, are replayed too', () => {
    const total = crashAfterEachWrite(() => staged(encodeJournal(content({ sliceOffset: SLICE_OFFSET, outsideWrites: TABLE_WRITES }))), true);
    expect(total).toBe(2 + PAYLOAD.writes.length + TABLE_WRITES.length + 1);
  });

  it('resuming the first fsconv\'s journal (marker at 512) is resumable at every write too', () => {
    const total = crashAfterEachWrite(() => { const s = staged(seal(new Bytes().raw(JOURNAL_MAGIC).u32(1).raw(encodeTestPayload(PAYLOAD)).done()), 1); putMarker(s.dev, s.marker, LEGACY_MARKER_OFFSET); return s; }, false);
    expect(total).toBe(2 + PAYLOAD.writes.length + 1);
  });
});
