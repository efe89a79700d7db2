// The shared primitives: CRC-32 (the check value of the standard, and against zlib), the error
// base class's one-line messages with their location, byte sources refusing reads past the end,
// bitmaps, file types by mode, path helpers.
import { crc32 as zlibCrc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  Bitmap, FsconvError, allBitsSet, countSetBits, setBitRange, MemoryByteSource, SourceRangeError, crc32, decodeName, fileTypeOfMode, joinPath, nameKey, put32, readBytes, u16, u32, u64,
} from '../src/index.js';

describe('crc32', () => {
  it('gives the standard check value and equals zlib on any range', () => {
    expect(crc32(new TextEncoder().encode('123456789')).toString(16)).toBe('cbf43926');
    const b = Uint8Array.from({ length: 1000 }, (_, i) => (i * 31 + 7) & 0xff);
    expect(crc32(b, 13, 977)).toBe(zlibCrc32(b.subarray(13, 977)));
    expect(crc32(new Uint8Array(0))).toBe(0);
  });
});

describe('FsconvError', () => {
  it('names the location in a fixed order, on one line', () => {
    const e = new FsconvError('corrupt', 'bad entry\nsecond line', { group: 3, inode: 12, path: '/a/b', entry: 4, block: 99, cluster: 7, offset: 1024 });
    expect(e.message).toBe('group 3, inode 12 (/a/b), entry 4, block 99, cluster 7, byte 1024: bad entry second line');
    expect(new FsconvError('x', 'plain').message).toBe('plain');
    expect(new FsconvError('x', 'p', { path: '/d' }).message).toBe('/d: p');
    expect(e.code).toBe('corrupt');
    expect(e.where.block).toBe(99);
  });
});

describe('byte sources', () => {
  it('refuse reads past the end with a SourceRangeError (code io)', () => {
    const s = new MemoryByteSource(Uint8Array.of(1, 2, 3, 4));
    expect(readBytes(s, 1, 2)).toEqual(Uint8Array.of(2, 3));
    expect(() => readBytes(s, 3, 2)).toThrow(SourceRangeError);
    expect(() => readBytes(s, -1, 1)).toThrow(/past the end of the device \(4 bytes\)/);
    expect(() => s.readInto(new Uint8Array(5), 0)).toThrow(/read of 5 bytes at offset 0 is past the end/);
    try {
      readBytes(s, 0, 9);
    } catch (e) {
      expect((e as FsconvError).code).toBe('io');
    }
  });
});

describe('little-endian fields, bitmaps, file types, names', () => {
  it('read and write what they say', () => {
    const b = new Uint8Array(12);
    put32(b, 0, 0xdeadbeef);
    expect(u32(b, 0)).toBe(0xdeadbeef);
    expect(u16(b, 2)).toBe(0xdead);
    put32(b, 4, 5);
    put32(b, 8, 1);
    expect(u64(b, 4)).toBe(5 + 2 ** 32);
    put32(b, 8, 0x200000);
    expect(u64(b, 4)).toBe(Infinity);
    expect(u32(b, 10)).toBe(0x20); // short reads give zeros beyond the end
    const m = new Bitmap(20);
    expect(m.testAndSet(17)).toBe(false);
    expect(m.testAndSet(17)).toBe(true);
    m.clear(17);
    expect(m.get(17)).toBe(false);
    expect(m.bytes.length).toBe(3);
    expect(fileTypeOfMode(0o100644)).toBe('file');
    expect(fileTypeOfMode(0o120777)).toBe('symlink');
    expect(fileTypeOfMode(0o020666)).toBe('char');
    expect(fileTypeOfMode(0o170000)).toBeUndefined();
    expect(joinPath('/', 'a')).toBe('/a');
    expect(joinPath('/a', 'b')).toBe('/a/b');
    expect(decodeName(Uint8Array.of(0x63, 0x61, 0x66, 0xe9))).toBe('caf\ufffd');
    expect(nameKey(Uint8Array.of(0xe9, 0x41))).toBe('\u00e9A');
  });
});

describe('bitmaps past 2^32 bits and bit ranges', () => {
  it('keeps bits above 2^32 apart from the low ones (a 17 TiB ext4 has 4.5 billion blocks)', () => {
    // 2^32 + 64 bits: 512 MiB of zeros the kernel maps lazily; only two pages are touched.
    const m = new Bitmap(2 ** 32 + 64);
    expect(m.testAndSet(2 ** 32 + 5)).toBe(false);
    expect(m.get(5), 'bit 5 is not bit 2^32 + 5').toBe(false);
    expect(m.testAndSet(5)).toBe(false);
    expect(m.testAndSet(2 ** 32 + 5)).toBe(true);
    m.clear(2 ** 32 + 5);
    expect(m.get(2 ** 32 + 5)).toBe(false);
    expect(m.get(5)).toBe(true);
    expect(m.bytes.length).toBe(2 ** 29 + 8);
  });

  it('sets, tests and counts ranges as bit-by-bit loops would', () => {
    for (const [from, to] of [[0, 0], [3, 5], [7, 9], [8, 16], [13, 4000], [0, 8 * 600], [4091, 4800]] as const) {
      const a = new Uint8Array(600);
      setBitRange(a, from, to);
      const b = new Uint8Array(600);
      for (let i = from; i < to; i++) b[i >>> 3]! |= 1 << (i & 7);
      expect(a, `${from}..${to}`).toEqual(b);
      expect(allBitsSet(a, from, to)).toBe(true);
      if (to > from) {
        a[(to - 1) >>> 3]! &= ~(1 << ((to - 1) & 7));
        expect(allBitsSet(a, from, to), `${from}..${to} with its last bit clear`).toBe(false);
        expect(allBitsSet(a, from, to - 1)).toBe(true);
      }
    }
    const bits = Uint8Array.from({ length: 1031 }, (_, i) => (i * 37 + 11) & 0xff);
    let naive = 0;
    for (const v of bits) for (let k = 0; k < 8; k++) naive += (v >>> k) & 1;
    expect(countSetBits(bits, bits.length)).toBe(naive);
    expect(countSetBits(bits.subarray(1), bits.length - 1), 'unaligned').toBe(naive - countSetBits(bits, 1));
  });
});
