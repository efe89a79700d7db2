// The small codecs alone, on synthetic bytes: CRC-32, GUIDs, boot-sector sniffing, the overlay.
import { randomBytes } from 'node:crypto';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  classifySector0, encodeGuid, formatGuid, isGuid, overlaySource, PartitionTableError, readExact, volumeBootSectorKind,
} from '../src/index.js';
import { crc32 } from '@fsconv/base';
import { memorySource } from './helpers.js';

describe('crc32', () => {
  it('matches zlib on random data and on the empty input', () => {
    for (const n of [0, 1, 92, 511, 16384]) {
      const b = new Uint8Array(randomBytes(n));
      expect(crc32(b)).toBe(zlibCrc32(b) >>> 0);
    }
  });
});

describe('GUIDs', () => {
  it('are stored mixed-endian and printed upper case, as sfdisk prints them', () => {
    const bytes = Uint8Array.from([0xa2, 0xa0, 0xd0, 0xeb, 0xe5, 0xb9, 0x33, 0x44, 0x87, 0xc0, 0x68, 0xb6, 0xb7, 0x26, 0x99, 0xc7]);
    expect(formatGuid(bytes)).toBe('EBD0A0A2-B9E5-4433-87C0-68B6B72699C7');
    expect(encodeGuid('ebd0a0a2-b9e5-4433-87c0-68b6b72699c7')).toEqual(bytes);
    expect(isGuid('EBD0A0A2-B9E5-4433-87C0-68B6B72699C')).toBe(false);
    expect(() => encodeGuid('nope')).toThrow(PartitionTableError);
  });
});

describe('sector 0', () => {
  const fatBoot = (): Uint8Array => {
    const s = new Uint8Array(512);
    s.set([0xeb, 0x3c, 0x90, ...Buffer.from('mkfs.fat')]);
    s.set([0x00, 0x02, 0x04, 0x01, 0x00, 0x02, 0x00, 0x02, 0x00, 0x00, 0xf8], 11);
    s[510] = 0x55;
    s[511] = 0xaa;
    return s;
  };
  it('a FAT, NTFS or exFAT boot sector is not an MBR', () => {
    expect(volumeBootSectorKind(fatBoot())).toBe('FAT');
    expect(classifySector0(fatBoot())).toEqual({ kind: 'none', reason: 'sector 0 is a FAT boot sector' });
    const ntfs = new Uint8Array(512);
    ntfs.set([0xeb, 0x52, 0x90, ...Buffer.from('NTFS    ')]);
    ntfs[510] = 0x55;
    ntfs[511] = 0xaa;
    expect(classifySector0(ntfs).kind).toBe('none');
  });
  it('an empty MBR (signature, no entries) is an MBR with no partitions; a used entry at LBA 0 is not', () => {
    const s = new Uint8Array(512);
    s[510] = 0x55;
    s[511] = 0xaa;
    expect(classifySector0(s)).toMatchObject({ kind: 'mbr' });
    s[446 + 4] = 0x83;
    s[446 + 12] = 1;
    expect(classifySector0(s)).toEqual({ kind: 'none', reason: 'entry 1 starts at LBA 0' });
  });
});

describe('sources', () => {
  it('readExact refuses reads past the end; overlaySource shows writes over the source', () => {
    const src = memorySource(new Uint8Array(1024).fill(1));
    expect(() => readExact(src, 1000, 100, 'thing')).toThrow(/thing: 100 bytes at offset 1000 are past the end of the disk \(1024 bytes\)/);
    const o = overlaySource(src, [{ offset: 510, bytes: Uint8Array.from([7, 8, 9, 10]) }]);
    expect([...readExact(o, 508, 8, 'x')]).toEqual([1, 1, 7, 8, 9, 10, 1, 1]);
    expect([...readExact(o, 512, 2, 'x')]).toEqual([9, 10]);
  });
});
