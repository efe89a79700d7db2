// The FAT partition type choice: the documented table, and mkfs.fat --mbr's own choice on real images.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../../test/support/run.js';
import {
  CHS_REACH_SECTORS, fatMbrType, fatPartitionType, FAT_MBR_TYPES, MICROSOFT_BASIC_DATA_GUID, type FatBits,
} from '../src/index.js';
import { readAt, sparseImage } from './helpers.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'fsconv-partition-fat-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const MiB_SECTORS = 2048;

describe('fatMbrType', () => {
  it('follows the table in docs/partition-tables.md', () => {
    const rows: Array<[FatBits, number, number, number, number]> = [
      // fatBits, start, sectors, mkfs.fat convention, sd-card convention
      [12, 2048, 8 * MiB_SECTORS, 0x01, 0x01],
      [12, 2048, 65535, 0x01, 0x01],
      [12, 2048, 65536, 0x06, 0x06],
      [16, 2048, 16 * MiB_SECTORS, 0x04, 0x04],
      [16, 2048, 65535, 0x04, 0x04],
      [16, 2048, 65536, 0x06, 0x06],
      [16, 2048, 2048 * MiB_SECTORS, 0x06, 0x06],
      [16, CHS_REACH_SECTORS - 65536, 65536, 0x06, 0x06], // ends exactly at the reach: still CHS
      [16, CHS_REACH_SECTORS - 65535, 65536, 0x0e, 0x0e], // one sector beyond
      [12, 20_000_000, 8 * MiB_SECTORS, 0x0e, 0x0e],
      [32, 8192, 1024 * MiB_SECTORS, 0x0c, 0x0b],
      [32, 8192, CHS_REACH_SECTORS - 8192, 0x0c, 0x0b],
      [32, 8192, CHS_REACH_SECTORS - 8191, 0x0c, 0x0c],
      [32, 2048, 64 * 1024 * MiB_SECTORS, 0x0c, 0x0c],
    ];
    for (const [fatBits, startLba, sectors, mkfs, sd] of rows) {
      expect(fatMbrType({ fatBits, startLba, sectors }), `FAT${fatBits} ${startLba}+${sectors}`).toBe(mkfs);
      expect(fatMbrType({ fatBits, startLba, sectors }, 'sd-card'), `FAT${fatBits} ${startLba}+${sectors} (sd)`).toBe(sd);
      expect(FAT_MBR_TYPES.has(mkfs) && FAT_MBR_TYPES.has(sd)).toBe(true);
    }
    expect(CHS_REACH_SECTORS * 512).toBe(8_422_686_720);
    expect(() => fatMbrType({ fatBits: 16, startLba: 0, sectors: 0 })).toThrow(RangeError);
  });

  it('GPT: Microsoft basic data whatever the FAT', () => {
    expect(fatPartitionType('gpt', { fatBits: 12, startLba: 34, sectors: 100 })).toEqual({ gpt: MICROSOFT_BASIC_DATA_GUID });
    expect(fatPartitionType('mbr', { fatBits: 32, startLba: 2048, sectors: 2_000_000 })).toEqual({ mbr: 0x0c });
  });

  it('agrees with the type mkfs.fat --mbr=y writes (its partition starts at LBA 0)', () => {
    const cases: Array<[FatBits, number, string[]]> = [
      [12, 8, []],
      [16, 16, []],
      [16, 64, []],
      [12, 64, ['-s', '64']],
      [32, 600, []],
    ];
    for (const [bits, mib, extra] of cases) {
      const img = join(dir, `fat${bits}-${mib}.img`);
      sparseImage(img, mib * 1024 * 1024);
      run('mkfs.fat', ['--mbr=y', '-F', String(bits), ...extra, img]);
      const written = readAt(img, 446 + 4, 1)[0];
      expect(fatMbrType({ fatBits: bits, startLba: 0, sectors: mib * MiB_SECTORS }), `FAT${bits} ${mib} MiB`).toBe(written);
      rmSync(img);
    }
  });
});
