import { describe, expect, it } from 'vitest';
import { crc16, crc32c, crc32cRaw, hasDirectoryTail } from '../src/checksums.js';

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('checksum primitives', () => {
  it('crc32c and crc16 give the published check values', () => {
    // The catalogue check values for "123456789": CRC-32C 0xe3069283, CRC-16/ARC 0xbb3d (from 0), CRC-16/MODBUS 0x4b37 (from ~0).
    expect(crc32c(ascii('123456789'))).toBe(0xe3069283);
    expect(crc16(0, ascii('123456789'))).toBe(0xbb3d);
    expect(crc16(0xffff, ascii('123456789'))).toBe(0x4b37);
  });
  it('crc32cRaw chains over pieces as over the whole, for every length around the 8-byte stride', () => {
    const data = Uint8Array.from({ length: 97 }, (_, i) => (i * 131 + 7) & 255);
    for (let cut = 0; cut <= data.length; cut++) {
      expect(crc32cRaw(crc32cRaw(0x12345678, data, 0, cut), data, cut)).toBe(crc32cRaw(0x12345678, data));
    }
  });
  it('a leaf tail counts only where the records chain to it', () => {
    const b = new Uint8Array(1024);
    const dv = new DataView(b.buffer);
    dv.setUint16(4, 1012, true); // one record up to the tail
    dv.setUint16(1012 + 4, 12, true);
    b[1012 + 7] = 0xde;
    expect(hasDirectoryTail(b, (o) => dv.getUint16(o + 4, true))).toBe(true);
    dv.setUint16(4, 1024, true); // the record covers the tail: an htree node keeping a stale tail
    expect(hasDirectoryTail(b, (o) => dv.getUint16(o + 4, true))).toBe(false);
  });
});
