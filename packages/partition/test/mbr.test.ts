// MBR decoding and type changes against util-linux's sfdisk: images are partitioned by sfdisk,
// our decoding is compared with `sfdisk --json`, and our writes must pass `sfdisk --verify`.
import { mkdtempSync, readFileSync, rmSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../../test/support/run.js';
import {
  decodePartitionTable, MAX_EBRS, noPartitionTableReason, PartitionTableError, setPartitionType,
} from '../src/index.js';
import {
  applyWrites, expectSameAsSfdisk, expectSfdiskVerifyClean, expectUnchangedOutside, FileSource, memorySource,
  patch, readAt, requireSfdisk, sfdisk, sfdiskImage, sfdiskPartType, sparseImage,
} from './helpers.js';

let dir: string;
beforeAll(() => {
  // No tool check here: a missing sfdisk fails every test (with the install command), not skips them.
  dir = mkdtempSync(join(tmpdir(), 'fsconv-partition-mbr-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const MiB = 1024 * 1024;
const DOS = `label: dos
label-id: 0x12345678
start=2048, size=8192, type=83, bootable
start=10240, size=30720, type=5
start=40960, size=4096, type=c
start=45056, size=8192, type=83
size=4096, type=83
size=8192, type=b, bootable
size=2048, type=82
`;
const dosImage = (name: string): string => sfdiskImage(join(dir, name), 32 * MiB, DOS);

function refusal(f: () => unknown): PartitionTableError {
  try {
    f();
  } catch (e) {
    if (e instanceof PartitionTableError) return e;
    throw e;
  }
  throw new Error('expected a PartitionTableError, got none');
}

it('sfdisk is installed (Debian package fdisk)', () => {
  requireSfdisk();
});

describe('MBR decoding', () => {
  it('primaries, an extended partition and three logical partitions read as sfdisk reads them', () => {
    const img = dosImage('dos.img');
    const t = decodePartitionTable(new FileSource(img))!;
    expect(t).not.toBeNull();
    expectSameAsSfdisk(t, img);
    expect(t.partitions.map((p) => p.number)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(t.partitions.find((p) => p.number === 2)?.extended).toBe(true);
    // Logical partitions' entries are in their EBRs, the first at the extended partition's start.
    const p5 = t.partitions.find((p) => p.number === 5)!;
    expect(p5.entry).toEqual({ sector: 10240, slot: 0 });
    expect(t.warnings).toEqual([]);
  });

  it('offsets beyond 4 GiB (a sparse 6 GiB disk, logical partitions past 4 GiB)', () => {
    const img = sfdiskImage(join(dir, 'big.img'), 6 * 1024 * MiB, `label: dos
start=2048, size=8388608, type=83
start=8390656, type=f
size=1048576, type=83
size=1048576, type=7
`);
    const t = decodePartitionTable(new FileSource(img))!;
    expectSameAsSfdisk(t, img);
    const p6 = t.partitions.find((p) => p.number === 6)!;
    expect(p6.startByte).toBeGreaterThan(2 ** 32);
    const writes = setPartitionType(new FileSource(img), t, 6, { mbr: 0x0c });
    expect(writes).toHaveLength(1);
    expect(writes[0]!.offset).toBe(p6.entry.sector * 512);
    expect(writes[0]!.offset).toBeGreaterThan(2 ** 32);
    applyWrites(img, writes);
    expectSfdiskVerifyClean(img);
    expect(sfdiskPartType(img, 6)).toBe('c');
    rmSync(img);
  });

  it('a FAT or ext2 volume at sector 0, or nothing, is no partition table (null)', () => {
    const fat16 = join(dir, 'fat16.img');
    sparseImage(fat16, 16 * MiB);
    run('mkfs.fat', ['-F', '16', fat16]);
    const fat32 = join(dir, 'fat32.img');
    sparseImage(fat32, 64 * MiB);
    run('mkfs.fat', ['-F', '32', fat32]);
    // mkfs.fat --mbr=y writes a partition table (one entry from LBA 0) into the FAT boot sector itself.
    const fakeMbr = join(dir, 'fat-mbr.img');
    sparseImage(fakeMbr, 16 * MiB);
    run('mkfs.fat', ['--mbr=y', fakeMbr]);
    expect(readAt(fakeMbr, 446 + 4, 1)[0]).not.toBe(0);
    const ext2 = join(dir, 'ext2.img');
    sparseImage(ext2, 16 * MiB);
    run('mke2fs', ['-q', '-F', '-t', 'ext2', ext2]);
    const zeros = join(dir, 'zeros.img');
    sparseImage(zeros, 1 * MiB);
    for (const [img, why] of [[fat16, /FAT boot sector/], [fat32, /FAT boot sector/], [fakeMbr, /FAT boot sector/], [ext2, /55 AA/], [zeros, /55 AA/]] as const) {
      expect(decodePartitionTable(new FileSource(img)), img).toBeNull();
      expect(noPartitionTableReason(new FileSource(img))).toMatch(why);
    }
    expect(decodePartitionTable(memorySource(new Uint8Array(100)))).toBeNull();
  });

  it('an MBR whose boot code starts with a jump (as GRUB\'s does) is still an MBR', () => {
    const img = dosImage('grub.img');
    patch(img, 0, [0xeb, 0x63, 0x90]);
    const t = decodePartitionTable(new FileSource(img))!;
    expect(t.scheme).toBe('mbr');
    expect(t.partitions).toHaveLength(7);
  });

  it('a sector 0 with a bad status byte is not an MBR', () => {
    const img = dosImage('status.img');
    patch(img, 446 + 16, [0x42]);
    expect(decodePartitionTable(new FileSource(img))).toBeNull();
    expect(noPartitionTableReason(new FileSource(img))).toMatch(/entry 2 has status byte 0x42/);
  });

  it('a GPT header at LBA 1 behind a non-protective MBR is ignored with a warning', () => {
    const img = dosImage('stale-gpt.img');
    patch(img, 512, [...Buffer.from('EFI PART')]);
    const t = decodePartitionTable(new FileSource(img))!;
    expect(t.scheme).toBe('mbr');
    expect(t.warnings.join('\n')).toMatch(/LBA 1 holds a GPT header, ignored/);
  });
});

describe('MBR refusals', () => {
  it('an EBR chain pointing at itself is refused after one read of it', () => {
    const img = dosImage('loop-self.img');
    // The first EBR (LBA 10240): its link (slot 2) now points at offset 0 of the extended partition, itself.
    patch(img, 10240 * 512 + 446 + 16 + 8, [0, 0, 0, 0]);
    const src = new FileSource(img);
    const e = refusal(() => decodePartitionTable(src));
    expect(e.code).toBe('ebr-chain');
    expect(e.message).toMatch(/^MBR: the EBR chain loops: EBR 2 is the EBR at LBA 10240 again$/);
    expect(src.reads).toBeLessThan(10);
  });

  it('an EBR chain pointing back to an earlier EBR is refused', () => {
    const img = dosImage('loop-back.img');
    const t = decodePartitionTable(new FileSource(img))!;
    const third = t.partitions.find((p) => p.number === 7)!.entry.sector;
    // The last EBR gets a link back to the second EBR.
    const second = t.partitions.find((p) => p.number === 6)!.entry.sector;
    const rel = second - 10240;
    patch(img, third * 512 + 446 + 16, [0, 0, 0, 0, 0x05, 0, 0, 0, rel & 0xff, (rel >> 8) & 0xff, (rel >> 16) & 0xff, 0, 1, 0, 0, 0]);
    const e = refusal(() => decodePartitionTable(new FileSource(img)));
    expect(e.code).toBe('ebr-chain');
    expect(e.message).toMatch(new RegExp(`loops: EBR 4 is the EBR at LBA ${second} again`));
  });

  it(`an EBR chain longer than ${MAX_EBRS} is refused, reading no more than that`, () => {
    const n = MAX_EBRS + 50;
    const sectors = 2 + 2 * n;
    const disk = new Uint8Array(sectors * 512);
    const entry = (sector: number, slot: number, type: number, start: number, size: number): void => {
      const o = sector * 512 + 446 + 16 * slot;
      disk[o + 4] = type;
      new DataView(disk.buffer).setUint32(o + 8, start, true);
      new DataView(disk.buffer).setUint32(o + 12, size, true);
    };
    const sign = (sector: number): void => {
      disk[sector * 512 + 510] = 0x55;
      disk[sector * 512 + 511] = 0xaa;
    };
    sign(0);
    entry(0, 0, 0x05, 2, sectors - 2);
    for (let i = 0; i < n; i++) {
      const ebr = 2 + 2 * i;
      sign(ebr);
      entry(ebr, 0, 0x83, 1, 1);
      if (i + 1 < n) entry(ebr, 1, 0x05, 2 * (i + 1), 2);
    }
    let reads = 0;
    const mem = memorySource(disk);
    const counted = { size: mem.size, readInto: (t: Uint8Array, p: number) => { reads++; mem.readInto(t, p); } };
    const e = refusal(() => decodePartitionTable(counted));
    expect(e.code).toBe('ebr-chain');
    expect(e.message).toMatch(new RegExp(`longer than ${MAX_EBRS} EBRs`));
    expect(reads).toBeLessThanOrEqual(MAX_EBRS + 2);
  });

  it('a partition past the end of the disk (a truncated image) is refused', () => {
    const img = dosImage('truncated.img');
    truncateSync(img, 16 * MiB);
    const e = refusal(() => decodePartitionTable(new FileSource(img)));
    expect(e.code).toBe('mbr-entry');
    expect(e.message).toBe('MBR: partition 2 (LBA 10240–40959) ends past the end of the disk (32768 sectors)');
  });

  it('overlapping primaries, a logical partition outside its extended partition, two extended partitions', () => {
    const overlap = dosImage('overlap.img');
    patch(overlap, 446 + 2 * 16 + 8, [0x00, 0x20, 0, 0]); // partition 3 now starts at LBA 8192, inside 1
    let e = refusal(() => decodePartitionTable(new FileSource(overlap)));
    expect(e.code).toBe('mbr-entry');
    expect(e.message).toBe('MBR: partition 1 (LBA 2048–10239) and partition 3 (LBA 8192–12287) overlap');

    const outside = dosImage('outside.img');
    patch(outside, 10240 * 512 + 446 + 12, [0x00, 0x00, 0x01, 0]); // logical 5 grows to 65536 sectors
    e = refusal(() => decodePartitionTable(new FileSource(outside)));
    expect(e.code).toBe('ebr-chain');
    expect(e.message).toMatch(/logical partition 5 .* is not inside extended partition 2/);

    const twoExt = dosImage('two-ext.img');
    patch(twoExt, 446 + 3 * 16 + 4, [0x0f]);
    e = refusal(() => decodePartitionTable(new FileSource(twoExt)));
    expect(e.code).toBe('unsupported');
    expect(e.message).toBe('MBR: partitions 2 and 4 are both extended partitions');
  });

  it('an EBR without 55 AA is refused', () => {
    const img = dosImage('ebr-sig.img');
    const t = decodePartitionTable(new FileSource(img))!;
    const ebr = t.partitions.find((p) => p.number === 6)!.entry.sector;
    patch(img, ebr * 512 + 510, [0, 0]);
    const e = refusal(() => decodePartitionTable(new FileSource(img)));
    expect(e.code).toBe('ebr-chain');
    expect(e.message).toBe(`MBR: the EBR at LBA ${ebr} (EBR 2 of partition 2) does not end in 55 AA`);
  });
});

describe('MBR setPartitionType', () => {
  for (const [n, type, sfdiskSays] of [[1, 0x0c, 'c'], [6, 0x0e, 'e'], [7, 0x06, '6']] as const) {
    it(`partition ${n} → 0x${type.toString(16)}: one sector, sfdisk --verify clean, nothing else changed, idempotent`, () => {
      const img = dosImage(`set-${n}.img`);
      const before = readFileSync(img);
      const t = decodePartitionTable(new FileSource(img))!;
      const writes = setPartitionType(new FileSource(img), t, n, { mbr: type });
      expect(writes).toHaveLength(1);
      expect(writes[0]!.bytes.length).toBe(512);
      expect(writes[0]!.offset).toBe(t.partitions.find((p) => p.number === n)!.entry.sector * 512);
      applyWrites(img, writes);
      expectSfdiskVerifyClean(img);
      expect(sfdiskPartType(img, n)).toBe(sfdiskSays);
      expectUnchangedOutside(before, img, writes);
      const once = readFileSync(img);
      applyWrites(img, writes);
      expect(Buffer.compare(readFileSync(img), once)).toBe(0);
      // The same request on the new table has nothing left to write.
      const t2 = decodePartitionTable(new FileSource(img))!;
      expectSameAsSfdisk(t2, img);
      expect(setPartitionType(new FileSource(img), t2, n, { mbr: type })).toEqual([]);
    });
  }

  it('refuses a stale table, the extended partition, a GUID, extended or empty types, a missing partition', () => {
    const img = dosImage('refuse.img');
    const t = decodePartitionTable(new FileSource(img))!;
    const src = new FileSource(img);
    expect(refusal(() => setPartitionType(src, t, 2, { mbr: 0x0c })).message).toMatch(/extended partition/);
    expect(refusal(() => setPartitionType(src, t, 1, { gpt: 'EBD0A0A2-B9E5-4433-87C0-68B6B72699C7' })).code).toBe('bad-request');
    expect(refusal(() => setPartitionType(src, t, 1, { mbr: 0x05 })).code).toBe('bad-request');
    expect(refusal(() => setPartitionType(src, t, 1, { mbr: 0 })).code).toBe('bad-request');
    expect(refusal(() => setPartitionType(src, t, 1, { mbr: 0xee })).code).toBe('bad-request');
    expect(refusal(() => setPartitionType(src, t, 9, { mbr: 0x0c })).message).toBe('MBR: there is no partition 9');
    sfdisk(['--part-type', img, '5', '7']);
    const e = refusal(() => setPartitionType(new FileSource(img), t, 5, { mbr: 0x0c }));
    expect(e.code).toBe('changed');
    expect(e.message).toMatch(/no longer holds partition 5/);
  });
});
