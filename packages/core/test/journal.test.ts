// The in-place journal and marker, in process: encoding, every refusal of a damaged, truncated,
// forged or foreign journal (each length bounded by the geometry before it sizes a read), the
// states `inspectInterruption` tells apart (none, resumable, stale, damaged; the journal of the
// first fsconv too), and the commit crashed after each of its writes: every prefix is resumable,
// and the device is FAT and free of markers only after the last write.
import { describe, expect, it } from 'vitest';
import { MemoryStorage } from '@fsconv/device';
import { decodeBootSector, encodeBootSector, encodeFsInfo, type Geometry } from '@fsconv/fat';
import type { WriteTarget } from '../src/in-place/crash-device.js';
import { commitFromJournal, discardJournal, inspectInterruption, type SourceBesideJournal } from '../src/in-place/engine.js';
import {
  COMMIT_MARKER_OFFSET, FINAL_MARKER_OFFSET, LEGACY_MARKER_OFFSET, crc32, decodeJournal, decodeMarker, encodeJournal, encodeMarker,
  JournalError, type JournalContent, type JournalMarker, type SourceFingerprint,
} from '../src/in-place/journal.js';

/** A device in memory; `failAfter` makes the N-th write throw (a crash: nothing after it happens). */
class MemoryDevice extends MemoryStorage implements WriteTarget {
  writes = 0;
  failAfter = 0;
  override writeAt(data: Uint8Array, position: number): void {
    super.writeAt(data, position);
    this.writes++;
    if (this.failAfter > 0 && this.writes >= this.failAfter) throw new Crash();
  }
}
class Crash extends Error {}

const FS_BYTES = 32 << 20;
// FAT16, 1 KiB clusters, 512 root entries: consistent in every field the decoder checks.
const G: Geometry = {
  fatBits: 16, bytesPerSector: 512, sectorsPerCluster: 2, clusterSize: 1024, reservedSectors: 4, numFats: 2, fatSectors: 128,
  rootEntries: 512, rootDirSectors: 32, totalSectors: 65536, dataStartSector: 292, clusterCount: 32622, unusedTailBytes: 0,
};
const FINGERPRINT: SourceFingerprint = [['last written', '2026-12-01T10:00:00Z'], ['mount count', '3'], ['bitmaps (sha-256)', 'ab'.repeat(32)]];
const JOURNAL_AT = (G.dataStartSector + 30000) * 512;

function journalContent(): Omit<JournalContent, 'version'> {
  const boot = encodeBootSector({
    fatBits: 16, bytesPerSector: 512, sectorsPerCluster: 2, reservedSectors: 4, numFats: 2, rootEntries: 512, totalSectors: 65536,
    fatSectors: 128, media: 0xf8, sectorsPerTrack: 63, heads: 255, hiddenSectors: 0, volumeId: 0x12345678, label: '', oemName: 'FSCONV  ',
    rootCluster: 0, fsInfoSector: 0, backupBootSector: 0,
  });
  const root = new Uint8Array(G.rootDirSectors * 512);
  root.fill(0x41, 0, 11); // one entry's name: the bytes come back exactly
  return { geometry: G, bootSector: boot, fsInfo: new Uint8Array(0), rootDirectory: root, fingerprint: FINGERPRINT, sliceOffset: 0, outsideWrites: [],
    runs: [{ start: 2, length: 10, next: 0 }, { start: 12, length: 1, next: 14 }, { start: 14, length: 2, next: 0 }, { start: 100, length: 3, next: 0, bad: true }] };
}

/** A device after the staging and the journal: the ext2-like bytes, the journal, no marker yet. */
function stagedDevice(): { dev: MemoryDevice; journal: JournalContent; marker: JournalMarker } {
  const bytes = new Uint8Array(FS_BYTES);
  bytes.fill(0x5a, 1024, 2048); // a superblock stand-in
  const j = encodeJournal(journalContent());
  bytes.set(j, JOURNAL_AT);
  const marker: JournalMarker = { version: 2, journalOffset: JOURNAL_AT, journalLength: j.length, journalCrc: crc32(j), fsBytes: FS_BYTES };
  return { dev: new MemoryDevice(bytes), journal: decodeJournal(j, FS_BYTES), marker };
}

const absent = (): SourceBesideJournal => ({ kind: 'absent' });
const expectJournalError = (f: () => unknown, re: RegExp): void => {
  let err: unknown;
  try { f(); } catch (e) { err = e; }
  expect(err).toBeInstanceOf(JournalError);
  expect((err as Error).message).toMatch(re);
};
/** Re-seals a journal after an edit (so that only the edited field can be refused). */
const reseal = (j: Uint8Array): Uint8Array => { const out = j.slice(); new DataView(out.buffer).setUint32(out.length - 4, crc32(out.subarray(0, out.length - 4)), true); return out; };

describe('journal codec', () => {
  it('round-trips every field', () => {
    // In a partition at 1 MiB of its disk, with a table write before it (the MBR sector).
    const c = { ...journalContent(), sliceOffset: 1 << 20, outsideWrites: [{ offset: 0, bytes: new Uint8Array(512).fill(7) }] };
    const d = decodeJournal(encodeJournal(c), FS_BYTES);
    expect(d.sliceOffset).toBe(1 << 20);
    expect(d.outsideWrites).toEqual(c.outsideWrites);
    expect(d.version).toBe(2);
    expect(d.geometry).toEqual(G);
    expect(d.bootSector).toEqual(c.bootSector);
    expect(d.rootDirectory).toEqual(c.rootDirectory);
    expect(d.fingerprint).toEqual(FINGERPRINT);
    expect(d.runs).toEqual(c.runs);
  });

  it('refuses damage, another version, truncation and trailing bytes', () => {
    const j = encodeJournal(journalContent());
    const flipped = j.slice(); flipped[200]! ^= 1;
    expectJournalError(() => decodeJournal(flipped, FS_BYTES), /checksum/);
    const v7 = j.slice(); new DataView(v7.buffer).setUint32(16, 7, true);
    expectJournalError(() => decodeJournal(reseal(v7), FS_BYTES), /version 7 is not supported/);
    expectJournalError(() => decodeJournal(j.subarray(0, 40), FS_BYTES), /truncated/);
    expectJournalError(() => decodeJournal(reseal(j.subarray(0, j.length - 20)), FS_BYTES), /truncated|runs/);
    const longer = new Uint8Array(j.length + 8); longer.set(j.subarray(0, j.length - 4));
    expectJournalError(() => decodeJournal(reseal(longer), FS_BYTES), /trailing/);
    const foreign = j.slice(); foreign[0] = 0x58;
    expectJournalError(() => decodeJournal(reseal(foreign), FS_BYTES), /not an fsconv journal/);
  });

  it('refuses an outside write that would land inside the filesystem, and a commit that needs the whole disk without it', () => {
    const inside = { ...journalContent(), sliceOffset: 1 << 20, outsideWrites: [{ offset: (1 << 20) + 4096, bytes: new Uint8Array(512) }] };
    expectJournalError(() => decodeJournal(encodeJournal(inside), FS_BYTES), /outside the filesystem .* is impossible/);
    const { dev, marker } = stagedDevice();
    const j = decodeJournal(encodeJournal({ ...journalContent(), sliceOffset: 1 << 20, outsideWrites: [{ offset: 0, bytes: new Uint8Array(512) }] }), FS_BYTES);
    expectJournalError(() => commitFromJournal(dev, j, marker), /resume it where the table can be written/);
  });

  it('refuses a geometry that does not fit the filesystem or itself, and impossible runs', () => {
    const j = encodeJournal(journalContent());
    expectJournalError(() => decodeJournal(j, FS_BYTES / 2), /geometry is impossible.*sectors on a/);
    const badCount = j.slice(); new DataView(badCount.buffer).setUint32(48, G.clusterCount + 1, true);
    expectJournalError(() => decodeJournal(reseal(badCount), FS_BYTES), /cluster count/);
    for (const runs of [
      [{ start: 5, length: 3, next: 0 }, { start: 6, length: 1, next: 0 }], // overlapping
      [{ start: 1, length: 1, next: 0 }], // below cluster 2
      [{ start: 2, length: 1, next: G.clusterCount + 2 }], // a chain past the end
      [{ start: G.clusterCount, length: 5, next: 0 }], // past the last cluster
    ]) {
      expectJournalError(() => decodeJournal(encodeJournal({ ...journalContent(), runs }), FS_BYTES), /run 0|run 1/);
    }
  });

  it('keeps the marker sector free of the ext2 magic and refuses a damaged marker', () => {
    const m = encodeMarker({ journalOffset: JOURNAL_AT, journalLength: 1000, journalCrc: 1, fsBytes: FS_BYTES });
    expect(m.length).toBe(512);
    expect(m[0x38]! | (m[0x39]! << 8)).not.toBe(0xef53);
    expect(decodeMarker(m)).toMatchObject({ version: 2, journalOffset: JOURNAL_AT, journalLength: 1000 });
    expect(decodeMarker(new Uint8Array(512))).toBeNull();
    const bad = m.slice(); bad[20]! ^= 1;
    expectJournalError(() => decodeMarker(bad), /marker is damaged/);
  });
});

describe('inspectInterruption', () => {
  it('finds nothing on a device without a marker, without asking about the source', () => {
    const { dev } = stagedDevice();
    expect(inspectInterruption(dev, () => { throw new Error('asked'); })).toEqual({ state: 'none' });
  });

  it('bounds the journal length by the geometry before it reads: forged lengths are refused at once', () => {
    // 4 MiB fits the device but not the geometry (32622 clusters: at most about 400 KiB of runs).
    for (const journalLength of [0x7ffff000, 0xfffff000, 64, 4 << 20]) {
      const { dev, marker } = stagedDevice();
      const forged = encodeMarker({ ...marker, journalLength });
      dev.bytes.set(forged, COMMIT_MARKER_OFFSET);
      const started = Date.now();
      const it = inspectInterruption(dev, absent);
      expect(Date.now() - started).toBeLessThan(2000);
      expect(it.state).toBe('damaged');
      if (it.state === 'damaged') expect(it.why).toMatch(journalLength === 64 ? /does not match its marker/ : journalLength === 4 << 20 ? /more than its geometry allows/ : /outside the filesystem/);
    }
    const { dev, marker } = stagedDevice();
    dev.bytes.set(encodeMarker({ ...marker, fsBytes: FS_BYTES * 2 }), COMMIT_MARKER_OFFSET);
    expect(inspectInterruption(dev, absent)).toMatchObject({ state: 'damaged', why: expect.stringMatching(/on a \d+-byte device/) });
  });

  it('tells a fresh journal from a stale one by the fingerprint, and says what changed', () => {
    const { dev, marker } = stagedDevice();
    dev.bytes.set(encodeMarker(marker), FINAL_MARKER_OFFSET); // a copy in sector 0, the superblock restored by hand
    expect(inspectInterruption(dev, () => ({ kind: 'readable', fingerprint: FINGERPRINT }))).toMatchObject({ state: 'resumable' });
    const changed: SourceFingerprint = FINGERPRINT.map(([k, v]) => [k, k === 'mount count' ? '4' : v]);
    const stale = inspectInterruption(dev, () => ({ kind: 'readable', fingerprint: changed }));
    expect(stale).toMatchObject({ state: 'stale', markerOffsets: [FINAL_MARKER_OFFSET] });
    if (stale.state === 'stale') expect(stale.why).toMatch(/mount count 4 \(planned: 3\)/);
    expect(inspectInterruption(dev, () => ({ kind: 'unreadable', why: 'bad group descriptors' }))).toMatchObject({ state: 'stale', why: expect.stringMatching(/cannot be read/) });
    // Dropping it touches only the marker copies beside the source.
    expect(discardJournal(dev, [FINAL_MARKER_OFFSET])).toBe(1);
    expect(inspectInterruption(dev, absent)).toEqual({ state: 'none' });
    expect(() => discardJournal(dev, [COMMIT_MARKER_OFFSET])).toThrow(/never discarded/);
  });

  it('says whether the commit had begun overwriting when the journal is damaged', () => {
    const { dev, marker } = stagedDevice();
    dev.bytes.set(encodeMarker(marker), COMMIT_MARKER_OFFSET);
    dev.bytes[JOURNAL_AT + 100]! ^= 0xff;
    expect(inspectInterruption(dev, absent)).toMatchObject({ state: 'damaged', commitStarted: false, sourceReadable: false, markerOffsets: [1024] });
    dev.bytes.set(encodeMarker(marker), FINAL_MARKER_OFFSET);
    expect(inspectInterruption(dev, absent)).toMatchObject({ state: 'damaged', commitStarted: true, markerOffsets: [1024, 0] });
    const broken = encodeMarker(marker); broken[30]! ^= 1;
    dev.bytes.set(broken, COMMIT_MARKER_OFFSET);
    dev.bytes.set(broken, FINAL_MARKER_OFFSET);
    expect(inspectInterruption(dev, absent)).toMatchObject({ state: 'damaged', why: expect.stringMatching(/marker is damaged/) });
  });

  it('reads the first fsconv\'s journal (format 1, marker at 512): replayed over a gone ext2, stale beside one', () => {
    const { dev } = stagedDevice();
    const v2 = encodeJournal(journalContent());
    // Format 1 is format 2 without the fingerprint and the partition fields (slice offset u64, no writes u32).
    const view = new DataView(v2.buffer);
    let o = 52;
    for (let i = 0; i < 3; i++) o += 4 + view.getUint32(o, true);
    const dropped = 4 + view.getUint32(o, true) + 12;
    const body = new Uint8Array(v2.length - 4 - dropped);
    body.set(v2.subarray(0, o));
    body.set(v2.subarray(o + dropped, v2.length - 4), o);
    new DataView(body.buffer).setUint32(16, 1, true);
    const v1 = new Uint8Array(body.length + 4); v1.set(body); new DataView(v1.buffer).setUint32(body.length, crc32(body), true);
    dev.bytes.set(v1, JOURNAL_AT);
    const marker = encodeMarker({ journalOffset: JOURNAL_AT, journalLength: v1.length, journalCrc: crc32(v1), fsBytes: FS_BYTES });
    new DataView(marker.buffer).setUint32(16, 1, true);
    new DataView(marker.buffer).setUint32(44, crc32(marker.subarray(0, 44)), true);
    dev.bytes.set(marker, LEGACY_MARKER_OFFSET);
    const it = inspectInterruption(dev, absent);
    expect(it).toMatchObject({ state: 'resumable', journal: { version: 1, fingerprint: [] } });
    expect(inspectInterruption(dev, () => ({ kind: 'readable', fingerprint: FINGERPRINT }))).toMatchObject({ state: 'stale', why: expect.stringMatching(/earlier fsconv/) });
    // A version-1 marker where only version 2 puts one is damage.
    dev.bytes.set(marker, COMMIT_MARKER_OFFSET);
    dev.bytes.fill(0, LEGACY_MARKER_OFFSET, LEGACY_MARKER_OFFSET + 512);
    expect(inspectInterruption(dev, absent)).toMatchObject({ state: 'damaged', why: expect.stringMatching(/version 1 marker at byte 1024/) });
  });
});

describe('the commit, crashed after each of its writes', () => {
  it('is resumable at every write until the last, which makes the device FAT and drops every marker; replays end identical', () => {
    const reference = stagedDevice();
    commitFromJournal(reference.dev, reference.journal, reference.marker);
    const total = reference.dev.writes;
    expect(total).toBeGreaterThan(4);
    expect(inspectInterruption(reference.dev, absent)).toEqual({ state: 'none' });
    expect(decodeBootSector(reference.dev.bytes.subarray(0, 512)).fatBits).toBe(16);
    for (let n = 1; n <= total; n++) {
      const { dev, journal, marker } = stagedDevice();
      dev.failAfter = n;
      expect(() => commitFromJournal(dev, journal, marker)).toThrow(Crash);
      const it = inspectInterruption(dev, absent);
      if (n < total) {
        expect(it.state, `after write ${n} of ${total}`).toBe('resumable');
        // Sector 0 is no FAT boot sector before the last write: no reader can take it for FAT.
        expect(dev.bytes[510] === 0x55 && dev.bytes[511] === 0xaa, `after write ${n}`).toBe(false);
        dev.failAfter = 0;
        if (it.state === 'resumable') commitFromJournal(dev, it.journal, it.marker);
      } else {
        expect(it.state).toBe('none');
      }
      expect(Buffer.from(dev.bytes).equals(Buffer.from(reference.dev.bytes)), `after a crash at write ${n} and the replay`).toBe(true);
    }
  });

  it('writes FSInfo and the backup boot sector on FAT32 before the boot sector', () => {
    const g: Geometry = { ...G, fatBits: 32, reservedSectors: 32, fatSectors: 256, rootEntries: 0, rootDirSectors: 0, dataStartSector: 544, clusterCount: 32496 };
    const { dev } = stagedDevice();
    const content = { ...journalContent(), geometry: g, fsInfo: encodeFsInfo(100, 3), rootDirectory: new Uint8Array(0) };
    const j = encodeJournal(content);
    const journal = decodeJournal(j, FS_BYTES);
    const marker: JournalMarker = { version: 2, journalOffset: JOURNAL_AT, journalLength: j.length, journalCrc: crc32(j), fsBytes: FS_BYTES };
    commitFromJournal(dev, journal, marker);
    expect(dev.bytes.subarray(512, 1024)).toEqual(content.fsInfo);
    expect(dev.bytes.subarray(7 * 512, 8 * 512)).toEqual(content.fsInfo);
    expect(dev.bytes.subarray(6 * 512, 7 * 512)).toEqual(content.bootSector);
    expect(dev.bytes.subarray(1024, 2048).every((b) => b === 0)).toBe(true);
  });
});
