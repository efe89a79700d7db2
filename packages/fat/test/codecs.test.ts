import { describe, expect, it } from 'vitest';
import { ATTR, DIRENT_SIZE } from '../src/constants.js';
import { decodeDirectory, encodeLongNameSlots, encodeShortEntry, lfnChecksum, lfnSlotCount, type ShortEntry } from '../src/dirent.js';
import { fatToUnix, parseTimeZone, unixToFat } from '../src/fat-time.js';
import { sortRuns, streamFat, type ClusterRun } from '../src/fat-table.js';

const concat = (chunks: Iterable<Uint8Array>): Uint8Array => {
  const parts = [...chunks];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};

/** FAT12 entry n, read the way fsck/Linux read it. */
const fat12 = (fat: Uint8Array, n: number): number => {
  const o = Math.floor((n * 3) / 2);
  const v = fat[o]! | (fat[o + 1]! << 8);
  return n % 2 === 0 ? v & 0xfff : v >> 4;
};

describe('FAT table stream', () => {
  const runs: ClusterRun[] = [
    { start: 2, length: 3, next: 0 },
    { start: 5, length: 1, next: 9 },
    { start: 9, length: 2, next: 0 },
    { start: 20, length: 1, next: 0, bad: true },
  ];
  it('packs FAT12 entries in 3-byte pairs, across chunk boundaries', () => {
    for (const chunk of [3, 6, 9, 512, 1 << 20]) {
      const fat = concat(streamFat(12, 1024, runs, chunk));
      expect(fat.length).toBe(1024);
      expect([0, 1, 2, 3, 4, 5, 6, 9, 10, 11, 20].map((n) => fat12(fat, n))).toEqual(
        [0xff8, 0xfff, 3, 4, 0xfff, 9, 0, 10, 0xfff, 0, 0xff7]);
    }
  });
  it('writes FAT32 chains with media, end-of-chain and free entries', () => {
    const fat = concat(streamFat(32, 512, runs, 64));
    const v = new DataView(fat.buffer);
    const e = (n: number) => v.getUint32(n * 4, true);
    expect([e(0), e(1), e(2), e(4), e(5), e(9), e(10), e(20), e(21)]).toEqual(
      [0x0ffffff8, 0x0fffffff, 3, 0x0fffffff, 9, 10, 0x0fffffff, 0x0ffffff7, 0]);
  });
  it('refuses a cluster given twice', () => {
    expect(() => sortRuns([{ start: 5, length: 3, next: 0 }, { start: 7, length: 1, next: 0 }])).toThrow(/allocated twice/);
  });
});

describe('directory entries', () => {
  it('round-trips a long name through slots, with the checksum of its short name', () => {
    const units = Uint16Array.from([...'A long file name, with '].map((c) => c.charCodeAt(0)).concat([0xd83d, 0xde00], [...' emoji.txt'].map((c) => c.charCodeAt(0))));
    const short = new TextEncoder().encode('ALONGF~1TXT');
    const buf = new Uint8Array((lfnSlotCount(units.length) + 2) * DIRENT_SIZE);
    const o = encodeLongNameSlots(units, lfnChecksum(short), buf, 0);
    const entry: ShortEntry = { name: short, attr: ATTR.archive, ntCase: 0, createCentis: 0, createTime: 0, createDate: 33, accessDate: 33, cluster: 0x12345, writeTime: 0, writeDate: 33, size: 42 };
    encodeShortEntry(entry, buf, o);
    const [d] = decodeDirectory(buf);
    expect(Array.from(d!.longName!)).toEqual(Array.from(units));
    expect(d!.short.cluster).toBe(0x12345);
    expect(d!.short.size).toBe(42);
    expect(d!.orphanSlots).toBe(0);
  });
  it('drops a long name whose checksum does not match its short entry', () => {
    const buf = new Uint8Array(4 * DIRENT_SIZE);
    const o = encodeLongNameSlots(Uint16Array.from([0x61, 0x62]), 0x12, buf, 0);
    encodeShortEntry({ name: new TextEncoder().encode('AB         '), attr: 0x20, ntCase: 0, createCentis: 0, createTime: 0, createDate: 33, accessDate: 33, cluster: 0, writeTime: 0, writeDate: 33, size: 0 }, buf, o);
    const [d] = decodeDirectory(buf);
    expect(d!.longName).toBeNull();
    expect(d!.orphanSlots).toBe(1);
  });
  it('stores a leading 0xE5 as 0x05 and reads it back', () => {
    const buf = new Uint8Array(DIRENT_SIZE * 2);
    const name = new Uint8Array(11).fill(0x20);
    name[0] = 0xe5;
    encodeShortEntry({ name, attr: 0x20, ntCase: 0, createCentis: 0, createTime: 0, createDate: 33, accessDate: 33, cluster: 0, writeTime: 0, writeDate: 33, size: 0 }, buf, 0);
    expect(buf[0]).toBe(0x05);
    expect(decodeDirectory(buf)[0]!.short.name[0]).toBe(0xe5);
  });
});

describe('FAT times', () => {
  const utc = parseTimeZone('UTC');
  it('encodes 2-second resolution with centiseconds in the creation time', () => {
    const t = Date.UTC(2024, 0, 2, 3, 4, 5) / 1000;
    const f = unixToFat(t, 500_000_000, utc(t));
    expect(f.date).toBe(((2024 - 1980) << 9) | (1 << 5) | 2);
    expect(f.time).toBe((3 << 11) | (4 << 5) | 2);
    expect(f.centis).toBe(150);
    expect(fatToUnix(f.date, f.time, 0, f.centis)).toBe(t);
  });
  it('clamps like Linux: before 1980 and after 2107', () => {
    expect(fatToUnix(unixToFat(-86400, 0, 0).date, unixToFat(-86400, 0, 0).time, 0)).toBe(Date.UTC(1980, 0, 1) / 1000);
    const late = unixToFat(2 ** 33, 0, 0);
    expect(fatToUnix(late.date, late.time, 0)).toBe(Date.UTC(2107, 11, 31, 23, 59, 58) / 1000);
  });
  it('applies fixed offsets', () => {
    expect(parseTimeZone('+02:00')(0)).toBe(7200);
    expect(parseTimeZone('-0530')(0)).toBe(-19800);
    expect(() => parseTimeZone('Mars/Olympus')).toThrow(/unknown time zone/);
  });
});
