// GPT decoding and type changes against util-linux's sfdisk: both copies, their CRCs, damaged and
// hostile tables. CRCs that a test patches back in are computed with node:zlib, not with ours.
import { mkdtempSync, readFileSync, rmSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, runText } from '../../../test/support/run.js';
import {
  decodePartitionTable, MICROSOFT_BASIC_DATA_GUID, PartitionTableError, setPartitionType, type PartitionTable,
} from '../src/index.js';
import {
  applyWrites, expectSameAsSfdisk, expectSfdiskVerifyClean, expectUnchangedOutside, FileSource, patch, readAt,
  requireSfdisk, sfdisk, sfdiskImage, sfdiskJson, sfdiskPartType, sparseImage,
} from './helpers.js';

let dir: string;
beforeAll(() => {
  // No tool check here: a missing sfdisk fails every test (with the install command), not skips them.
  dir = mkdtempSync(join(tmpdir(), 'fsconv-partition-gpt-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const MiB = 1024 * 1024;
const LINUX = '0FC63DAF-8483-4772-8E79-3D69D8477DE4';
const GPT = `label: gpt
label-id: 11111111-2222-3333-4444-555555555555
start=2048, size=8192, type=${LINUX}, name="root fs", uuid=AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE
size=8192, type=L, name="Ünïcode ✓"
size=4096, type=U, name="abcdefghijklmnopqrstuvwxyz0123456789"
`;
const LAST = 32 * MiB / 512 - 1; // 65535
const gptImage = (name: string): string => sfdiskImage(join(dir, name), 32 * MiB, GPT);
const decode = (img: string): PartitionTable => decodePartitionTable(new FileSource(img))!;

function refusal(f: () => unknown): PartitionTableError {
  try {
    f();
  } catch (e) {
    if (e instanceof PartitionTableError) return e;
    throw e;
  }
  throw new Error('expected a PartitionTableError, got none');
}

const le32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const rd32 = (b: Uint8Array, o: number): number => new DataView(b.buffer, b.byteOffset).getUint32(o, true);
const rd64 = (b: Uint8Array, o: number): number => Number(new DataView(b.buffer, b.byteOffset).getBigUint64(o, true));

/** Recomputes one copy's entry-array CRC and header CRC in place (after a test patched its entries or fields). */
function fixCrcs(img: string, headerLba: number, ss = 512): void {
  const h = readAt(img, headerLba * ss, ss);
  const entries = readAt(img, rd64(h, 72) * ss, rd32(h, 80) * rd32(h, 84));
  h.set(le32(zlibCrc32(entries)), 88);
  h.set(le32(0), 16);
  h.set(le32(zlibCrc32(h.subarray(0, rd32(h, 12)))), 16);
  patch(img, headerLba * ss, h);
}

/** Patches entry `index` (+ offset within it) in both copies' arrays, then fixes both copies' CRCs. */
function patchEntryBoth(img: string, index: number, at: number, bytes: number[]): void {
  for (const lba of [1, LAST]) {
    const h = readAt(img, lba * 512, 512);
    patch(img, rd64(h, 72) * 512 + index * rd32(h, 84) + at, bytes);
    fixCrcs(img, lba);
  }
}

it('sfdisk is installed (Debian package fdisk)', () => {
  requireSfdisk();
});

describe('GPT decoding', () => {
  it('partitions, GUIDs, UTF-16 names and the usable range read as sfdisk reads them', () => {
    const img = gptImage('gpt.img');
    const t = decode(img);
    expectSameAsSfdisk(t, img);
    expect(t.warnings).toEqual([]);
    expect(t.partitions.map((p) => p.name)).toEqual(['root fs', 'Ünïcode ✓', 'abcdefghijklmnopqrstuvwxyz0123456789']);
    expect(t.gpt).toEqual({
      diskGuid: '11111111-2222-3333-4444-555555555555', firstUsableLba: 2048, lastUsableLba: LAST - 33,
      entryCount: 128, entrySize: 128, primaryHeaderLba: 1, primaryEntriesLba: 2,
      backupHeaderLba: LAST, backupEntriesLba: LAST - 32, decodedFrom: 'primary',
    });
  });

  it('a name with a surrogate pair (written here: sfdisk 2.38 drops such names on input, reads them fine)', () => {
    const img = gptImage('astral.img');
    patchEntryBoth(img, 1, 56, [...Buffer.from('a\u{1D11E}bé\0', 'utf16le')]);
    const t = decode(img);
    expect(t.partitions[1]!.name).toBe('a\u{1D11E}bé');
    expectSameAsSfdisk(t, img);
  });

  it('a short entry array with a hole numbers partitions by entry, as sfdisk does', () => {
    const img = sfdiskImage(join(dir, 'hole.img'), 32 * MiB, `label: gpt
table-length: 8
start=2048, size=2048, type=L
start=4096, size=2048, type=U
start=6144, size=2048, type=L
`);
    sfdisk(['--delete', img, '2']);
    const t = decode(img);
    expectSameAsSfdisk(t, img);
    expect(t.partitions.map((p) => p.number)).toEqual([1, 3]);
    expect(t.gpt?.entryCount).toBe(8);
    // The arrays are 1024 bytes: the CRC covers exactly those, and a type change keeps sfdisk happy.
    const writes = setPartitionType(new FileSource(img), t, 3, { gpt: MICROSOFT_BASIC_DATA_GUID });
    applyWrites(img, writes);
    expectSfdiskVerifyClean(img);
    expect(sfdiskPartType(img, 3)).toBe(MICROSOFT_BASIC_DATA_GUID);
  });

  it('4096-byte sectors (sfdisk on a loop device with 4 KiB logical sectors)', () => {
    const img = join(dir, '4k.img');
    sparseImage(img, 32 * MiB);
    const loop = runText('losetup', ['--find', '--show', '--sector-size', '4096', img]).trim();
    let json;
    try {
      sfdisk([loop], `label: gpt\nsize=1024, type=L, name="four k"\nsize=512, type=L\n`);
      json = sfdiskJson(loop);
      const t = decode(img);
      expect(t.sectorSize).toBe(4096);
      expect(t.diskId).toBe(json.id);
      expect(t.partitions.map((p) => [p.startLba, p.sectors, p.type.gpt, p.guid, p.name])).toEqual(
        json.partitions!.map((p) => [p.start, p.size, p.type, p.uuid, p.name]),
      );
      expect(t.partitions[0]!.startByte).toBe(json.partitions![0]!.start * 4096);
      const writes = setPartitionType(new FileSource(img), t, 2, { gpt: MICROSOFT_BASIC_DATA_GUID });
      expect(writes.map((w) => w.bytes.length)).toEqual([4096, 4096, 4096, 4096]);
      applyWrites(img, writes);
      // The loop device reads the file afresh (direct writes to the file, then a cache flush).
      run('blockdev', ['--flushbufs', loop]);
      expectSfdiskVerifyClean(loop);
      expect(sfdiskPartType(loop, 2)).toBe(MICROSOFT_BASIC_DATA_GUID);
    } finally {
      run('losetup', ['-d', loop]);
    }
  });
});

describe('GPT damaged copies', () => {
  it('a flipped byte in the primary header: decoded from the backup, with a warning', () => {
    const img = gptImage('bad-primary.img');
    const sound = decode(img);
    patch(img, 512 + 60, [readAt(img, 512 + 60, 1)[0]! ^ 0x01]);
    const t = decode(img);
    expect(t.partitions).toEqual(sound.partitions.map((p) => ({ ...p, entry: { ...p.entry, sector: p.entry.sector - 2 + LAST - 32 } })));
    expect(t.warnings).toEqual([`GPT: the primary header at LBA 1 has a bad CRC; decoded from the backup at LBA ${LAST}`]);
    expect(t.gpt?.decodedFrom).toBe('backup');
    expect(t.gpt?.damaged).toBe('primary');
    // No type change over a damaged table: repairing it is sfdisk's or gdisk's job.
    const e = refusal(() => setPartitionType(new FileSource(img), t, 1, { gpt: MICROSOFT_BASIC_DATA_GUID }));
    expect(e.code).toBe('unsupported');
    expect(e.message).toMatch(/the primary copy is damaged .* repair the table/);
  });

  it('a flipped byte in the primary entry array: decoded from the backup, with a warning', () => {
    const img = gptImage('bad-primary-entries.img');
    patch(img, 2 * 512 + 200, [0x5a]);
    const t = decode(img);
    expect(t.warnings).toEqual([
      `GPT: the primary entry array at LBA 2 (128 entries of 128 bytes) has a bad CRC; decoded from the backup at LBA ${LAST}`,
    ]);
    expectSameAsSfdisk({ ...t, warnings: [] }, img); // sfdisk too falls back to the backup
  });

  it('a flipped byte in the backup header: decoded from the primary, with a warning', () => {
    const img = gptImage('bad-backup.img');
    patch(img, LAST * 512 + 40, [0x77]);
    const t = decode(img);
    expect(t.warnings).toEqual([`GPT: the backup header at LBA ${LAST} has a bad CRC; decoded from the primary`]);
    expect(t.gpt?.damaged).toBe('backup');
    expectSameAsSfdisk(t, img);
  });

  it('both headers damaged: refused, naming both', () => {
    const img = gptImage('bad-both.img');
    patch(img, 512 + 60, [0x00, 0x00]);
    patch(img, LAST * 512 + 60, [0x00, 0x00]);
    const e = refusal(() => decode(img));
    expect(e.code).toBe('gpt-header');
    expect(e.message).toBe(
      `GPT: neither copy is usable: the primary header at LBA 1 has a bad CRC; the backup header at LBA ${LAST} has a bad CRC`,
    );
  });

  it('both copies sound but different: refused', () => {
    const img = gptImage('disagree.img');
    patch(img, (LAST - 32) * 512 + 56, [0x58, 0]); // the backup's name of partition 1: "Xoot fs"
    fixCrcs(img, LAST);
    const e = refusal(() => decode(img));
    expect(e.code).toBe('gpt-mismatch');
    expect(e.message).toBe(`GPT: the primary (LBA 1) and backup (LBA ${LAST}) tables disagree: the partition entries differ`);
  });

  it('a protective MBR with no GPT anywhere: refused', () => {
    const img = gptImage('no-gpt.img');
    patch(img, 512, [0, 0, 0, 0, 0, 0, 0, 0]);
    patch(img, LAST * 512, [0, 0, 0, 0, 0, 0, 0, 0]);
    const e = refusal(() => decode(img));
    expect(e.code).toBe('gpt-header');
    expect(e.message).toMatch(/no GPT header at LBA 1 nor at the last LBA/);
  });

  it('an image enlarged after partitioning: the backup is not at the end, said as warnings', () => {
    const img = gptImage('enlarged.img');
    truncateSync(img, 40 * MiB);
    const t = decode(img);
    expect(t.warnings).toEqual([
      `GPT: the backup header is at LBA ${LAST}, not at the last LBA ${40 * 2048 - 1} of the disk`,
      `GPT: the protective MBR entry covers LBA 1–${LAST} (512-byte sectors), not LBA 1–${40 * 2048 - 1}`,
    ]);
    expect(t.partitions).toHaveLength(3);
  });
});

describe('GPT hostile headers and entries', () => {
  it('a huge entry count is refused for that copy before anything is read or allocated', () => {
    const img = gptImage('huge-count.img');
    for (const lba of [1, LAST]) {
      patch(img, lba * 512 + 80, le32(0x7fffffff));
      const h = readAt(img, lba * 512, 512);
      h.set(le32(0), 16);
      patch(img, lba * 512 + 16, le32(zlibCrc32(h.subarray(0, 92))));
    }
    const src = new FileSource(img);
    const e = refusal(() => decodePartitionTable(src));
    expect(e.code).toBe('gpt-header');
    expect(e.message).toMatch(/the primary header at LBA 1 claims 2147483647 entries of 128 bytes .*; the backup header at LBA 65535 claims/);
    expect(src.reads).toBeLessThan(10);
  });

  it('an entry size that is not 128 × 2^n, a header that lies about its LBA', () => {
    const img = gptImage('entry-size.img');
    patch(img, 512 + 84, le32(96));
    fixCrcs(img, 1);
    let t = decode(img);
    expect(t.warnings[0]).toMatch(/the primary header at LBA 1 has an entry size of 96 bytes/);
    const img2 = gptImage('my-lba.img');
    patch(img2, LAST * 512 + 24, le32(5));
    fixCrcs(img2, LAST);
    t = decode(img2);
    expect(t.warnings[0]).toMatch(/the backup header at LBA 65535 says it is at LBA 5/);
  });

  it('a partition outside the usable range, backwards, or overlapping another: refused', () => {
    const outside = gptImage('outside.img');
    patchEntryBoth(outside, 2, 40, le32(LAST - 33 + 1)); // partition 3 ends one past the last usable LBA
    let e = refusal(() => decode(outside));
    expect(e.code).toBe('gpt-partition');
    expect(e.message).toBe(`GPT: partition 3 (LBA 18432–${LAST - 32}) is outside the usable range LBA 2048–${LAST - 33}`);

    const backwards = gptImage('backwards.img');
    patchEntryBoth(backwards, 0, 40, le32(100));
    e = refusal(() => decode(backwards));
    expect(e.message).toBe('GPT: partition 1 ends (LBA 100) before it starts (LBA 2048)');

    const overlap = gptImage('overlap.img');
    patchEntryBoth(overlap, 1, 32, le32(8000));
    e = refusal(() => decode(overlap));
    expect(e.message).toBe('GPT: partitions 1 (LBA 2048–10239) and 2 (LBA 8000–18431) overlap');
  });
});

describe('GPT setPartitionType', () => {
  for (const n of [1, 2, 3]) {
    it(`partition ${n} → Microsoft basic data: both arrays, both CRCs; sfdisk --verify clean; idempotent`, () => {
      const img = gptImage(`set-${n}.img`);
      const before = readFileSync(img);
      const t = decode(img);
      const writes = setPartitionType(new FileSource(img), t, n, { gpt: MICROSOFT_BASIC_DATA_GUID.toLowerCase() });
      const entrySector = Math.floor(((n - 1) * 128) / 512);
      expect(writes.map((w) => w.offset / 512)).toEqual([2 + entrySector, 1, LAST - 32 + entrySector, LAST]);
      applyWrites(img, writes);
      expectSfdiskVerifyClean(img);
      expect(sfdiskPartType(img, n)).toBe(MICROSOFT_BASIC_DATA_GUID);
      expectUnchangedOutside(before, img, writes);
      const after = decode(img);
      expect(after.warnings).toEqual([]);
      expectSameAsSfdisk(after, img);
      expect(after.partitions.map((p) => p.type.gpt)).toEqual(
        t.partitions.map((p) => (p.number === n ? MICROSOFT_BASIC_DATA_GUID : p.type.gpt)),
      );
      const once = readFileSync(img);
      applyWrites(img, writes);
      expect(Buffer.compare(readFileSync(img), once)).toBe(0);
      expect(setPartitionType(new FileSource(img), after, n, { gpt: MICROSOFT_BASIC_DATA_GUID })).toEqual([]);
    });
  }

  it('refuses a byte type, a malformed or zero GUID, a stale table', () => {
    const img = gptImage('refuse.img');
    const t = decode(img);
    const src = new FileSource(img);
    expect(refusal(() => setPartitionType(src, t, 1, { mbr: 0x0c })).code).toBe('bad-request');
    expect(refusal(() => setPartitionType(src, t, 1, { gpt: 'EBD0A0A2-B9E5-4433-87C0' })).code).toBe('bad-request');
    expect(refusal(() => setPartitionType(src, t, 1, { gpt: '00000000-0000-0000-0000-000000000000' })).message).toMatch(/zero GUID/);
    expect(refusal(() => setPartitionType(src, t, 4, { gpt: MICROSOFT_BASIC_DATA_GUID })).message).toBe('GPT: there is no partition 4');
    sfdisk(['--part-type', img, '1', 'U']);
    const e = refusal(() => setPartitionType(new FileSource(img), t, 1, { gpt: MICROSOFT_BASIC_DATA_GUID }));
    expect(e.code).toBe('changed');
  });
});
