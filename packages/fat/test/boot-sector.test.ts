// Boot sector and FSInfo codecs, checked against what mkfs.fat writes and what minfo (mtools)
// and fsck.fat (dosfstools) read from the same images.
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  decodeBootSector,
  decodeFsInfo,
  encodeBootSector,
  encodeFsInfo,
  type BootSectorParams,
  type DecodedBootSector,
} from '../src/boot-sector.js';
import { FatError } from '../src/errors.js';
import { run, tryRun } from '../../../test/support/run.js';

const ENV = { LC_ALL: 'C.UTF-8', TZ: 'UTC' };

interface Made {
  name: string;
  args: string[];
  sizeKiB: number;
  image: string;
  /** The first 64 KiB of the image (all reserved sectors of these images). */
  head: Uint8Array;
}

const CASES: Array<{ name: string; args: string[]; sizeKiB: number }> = [
  { name: 'FAT12 1.44M floppy', args: ['-F', '12', '-n', 'FLOPPY', '-i', '12345678'], sizeKiB: 1440 },
  { name: 'FAT12 4M, 4 sectors/cluster', args: ['-F', '12', '-s', '4', '-S', '512', '-n', 'SMALL12', '-i', '0badf00d'], sizeKiB: 4096 },
  { name: 'FAT16 64M, 4 sectors/cluster', args: ['-F', '16', '-s', '4', '-S', '512', '-n', 'LABEL16', '-i', '12345678'], sizeKiB: 65536 },
  { name: 'FAT16 32M, 1024-byte sectors, no label', args: ['-F', '16', '-s', '2', '-S', '1024', '-i', 'cafe0001'], sizeKiB: 32768 },
  { name: 'FAT32 600M, 1 sector/cluster', args: ['-F', '32', '-s', '1', '-S', '512', '-n', 'LABEL32', '-i', '12345678'], sizeKiB: 614400 },
  { name: 'FAT32 600M, 4096-byte sectors, hidden 2048', args: ['-F', '32', '-s', '1', '-S', '4096', '-h', '2048', '-n', 'BIG SECTOR', '-i', 'deadbeef'], sizeKiB: 614400 },
  { name: 'FAT32 with fewer than 65525 clusters', args: ['-F', '32', '-s', '8', '-S', '512', '-n', 'FEW', '-i', '00000001'], sizeKiB: 40000 },
];

let dir: string;
const made: Made[] = [];

function readHead(image: string, length: number, position = 0): Uint8Array {
  const fd = openSync(image, 'r');
  try {
    const b = new Uint8Array(length);
    readSync(fd, b, 0, length, position);
    return b;
  } finally {
    closeSync(fd);
  }
}

function writeAt(image: string, bytes: Uint8Array, position: number): void {
  const fd = openSync(image, 'r+');
  try {
    writeSync(fd, bytes, 0, bytes.length, position);
  } finally {
    closeSync(fd);
  }
}

/** The "bootsector information" part of `minfo -i img ::`, as key → value. */
function minfo(image: string): Map<string, string> {
  const text = run('minfo', ['-i', image, '::'], { env: ENV }).stdout.toString('utf8');
  const out = new Map<string, string>();
  const start = text.indexOf('bootsector information');
  expect(start).toBeGreaterThan(0);
  for (const line of text.slice(start).split('\n')) {
    const m = /^([^:=]+?)\s*[:=]\s*(.*)$/.exec(line.trim());
    if (m && !out.has(m[1]!)) out.set(m[1]!, m[2]!);
  }
  return out;
}

/** Numbers printed by `fsck.fat -n -v`. */
function fsckFacts(image: string): { clusters: number; dataStartByte: number; fatBytes: number; fatSectors: number; bits: number } {
  const text = run('fsck.fat', ['-n', '-v', image], { env: ENV }).stdout.toString('utf8');
  const num = (re: RegExp): number => {
    const m = re.exec(text);
    if (!m) throw new Error(`fsck.fat -v output lacks ${re}: ${text}`);
    return Number(m[1]);
  };
  return {
    clusters: num(/(\d+) data clusters/),
    dataStartByte: num(/Data area starts at byte (\d+)/),
    fatBytes: num(/(\d+) bytes per FAT/),
    fatSectors: num(/bytes per FAT \(= (\d+) sectors\)/),
    bits: num(/FATs, (\d+) bit entries/),
  };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'fat-boot-'));
  for (const c of CASES) {
    const image = join(dir, `${made.length}.img`);
    run('mkfs.fat', [...c.args, '-C', image, String(c.sizeKiB)], { env: ENV });
    made.push({ ...c, image, head: readHead(image, 65536) });
  }
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('decodeBootSector against mkfs.fat, minfo and fsck.fat', () => {
  it.each(CASES.map((c, i) => [c.name, i] as const))('%s: every BPB field', (_name, i) => {
    const m = made[i]!;
    const d = decodeBootSector(m.head);
    const info = minfo(m.image);
    const facts = fsckFacts(m.image);
    const int = (key: string): number => {
      const v = info.get(key);
      if (v === undefined) throw new Error(`minfo printed no '${key}'`);
      return Number.parseInt(v, v.startsWith('0x') ? 16 : 10);
    };
    expect(d.bytesPerSector).toBe(int('sector size'));
    expect(d.sectorsPerCluster).toBe(int('cluster size'));
    expect(d.reservedSectors).toBe(int('reserved (boot) sectors'));
    expect(d.numFats).toBe(int('fats'));
    expect(d.rootEntries).toBe(int('max available root directory slots'));
    expect(d.totalSectors).toBe(int('small size') || int('big size'));
    expect(d.media).toBe(int('media descriptor byte'));
    expect(d.sectorsPerTrack).toBe(int('sectors per track'));
    expect(d.heads).toBe(int('heads'));
    expect(d.hiddenSectors).toBe(int('hidden sectors'));
    expect(d.driveNumber).toBe(int('physical drive id'));
    expect(d.volumeId).toBe(Number.parseInt(info.get('serial number')!, 16));
    expect(info.get('disk label')).toBe(`"${(d.label === '' ? 'NO NAME' : d.label).padEnd(11)}"`);
    expect(info.get('disk type')).toBe(`"FAT${d.fatBits}   "`);
    expect(`"${d.oemName}"`).toBe(info.get('banner'));
    if (d.fatBits === 32) {
      expect(int('sectors per fat')).toBe(0);
      expect(d.fatSectors).toBe(int('Big fatlen'));
      expect(d.rootCluster).toBe(int('rootCluster'));
      expect(d.fsInfoSector).toBe(int('infoSector location'));
      expect(d.backupBootSector).toBe(int('backup boot sector'));
      expect(d.rootDirSectors).toBe(0);
    } else {
      expect(d.fatSectors).toBe(int('sectors per fat'));
      expect(d.rootDirSectors).toBe((d.rootEntries * 32) / d.bytesPerSector);
    }
    // fsck.fat's own arithmetic: type, cluster count, FAT size and data start.
    expect(d.fatBits).toBe(facts.bits);
    expect(d.clusterCount).toBe(facts.clusters);
    expect(d.fatSectors).toBe(facts.fatSectors);
    expect(d.fatSectors * d.bytesPerSector).toBe(facts.fatBytes);
    expect(d.dataStartSector * d.bytesPerSector).toBe(facts.dataStartByte);
    expect(d.activeFat).toBe(0);
  });

  it('reads the label as mkfs.fat -n gave it, and no label as the empty string', () => {
    expect(decodeBootSector(made[0]!.head).label).toBe('FLOPPY');
    expect(decodeBootSector(made[5]!.head).label).toBe('BIG SECTOR');
    expect(decodeBootSector(made[3]!.head).label).toBe('');
    expect(decodeBootSector(made[0]!.head).media).toBe(0xf0);
    expect(decodeBootSector(made[0]!.head).driveNumber).toBe(0);
  });

  it('takes the FAT type from the BPB layout for FAT32, even with fewer than 65525 clusters (as Linux)', () => {
    const d = decodeBootSector(made[6]!.head);
    expect(d.fatBits).toBe(32);
    expect(d.clusterCount).toBeLessThan(65525);
  });
});

describe('encodeBootSector reproduces mkfs.fat', () => {
  it.each(CASES.map((c, i) => [c.name, i] as const))('%s: encode(decode(x)) gives the same BPB bytes', (_name, i) => {
    const original = made[i]!.head.subarray(0, 512);
    const d = decodeBootSector(original);
    const encoded = encodeBootSector(d);
    expect(encoded.length).toBe(512);
    // Jump, OEM name, BPB and extended BPB: everything before the boot code.
    const end = d.fatBits === 32 ? 0x5a : 0x3e;
    expect(Buffer.from(encoded.subarray(0, end)).toString('hex')).toBe(Buffer.from(original.subarray(0, end)).toString('hex'));
    expect([encoded[510], encoded[511]]).toEqual([0x55, 0xaa]);
    // Without the optional drive number, it follows the media byte as mkfs.fat does.
    const { driveNumber: _drive, ...withoutDrive } = d;
    expect(encodeBootSector(withoutDrive).subarray(0, end)).toEqual(encoded.subarray(0, end));
    // And decoding our sector gives the same fields.
    expect(decodeBootSector(encoded)).toEqual(d);
  });

  it('FSInfo: encode(decode(x)) equals mkfs.fat\'s sector, and mtools reads the same counts', () => {
    for (const m of made.filter((x) => decodeBootSector(x.head).fatBits === 32)) {
      const d = decodeBootSector(m.head);
      const sector = m.head.subarray(d.fsInfoSector * d.bytesPerSector, d.fsInfoSector * d.bytesPerSector + 512);
      const fsInfo = decodeFsInfo(sector);
      const info = minfo(m.image);
      expect(fsInfo.freeClusters).toBe(Number(info.get('free clusters')));
      expect(fsInfo.nextFree).toBe(Number(info.get('last allocated cluster')));
      expect(fsInfo.freeClusters).toBe(d.clusterCount - 1); // only the root directory's cluster is used
      expect(encodeFsInfo(fsInfo.freeClusters, fsInfo.nextFree)).toEqual(sector);
    }
  });

  it('an image whose boot sectors are ours is clean for fsck.fat and readable by mtools', () => {
    for (const i of [0, 2, 4]) {
      const m = made[i]!;
      const copy = join(dir, `ours-${i}.img`);
      run('cp', ['--sparse=always', m.image, copy]);
      const d = decodeBootSector(m.head);
      const ours = encodeBootSector(d);
      writeAt(copy, ours, 0);
      if (d.fatBits === 32) {
        writeAt(copy, ours, d.backupBootSector * d.bytesPerSector);
        writeAt(copy, encodeFsInfo(d.clusterCount - 1, 2), d.fsInfoSector * d.bytesPerSector);
        writeAt(copy, encodeFsInfo(d.clusterCount - 1, 2), (d.backupBootSector + 1) * d.bytesPerSector);
      }
      const r = tryRun('fsck.fat', ['-n', '-V', copy], { env: ENV });
      const lines = r.stdout.toString('utf8').trim().split('\n');
      expect(r.status, r.stdout.toString('utf8')).toBe(0);
      expect(lines.filter((l) => !/^fsck\.fat |^Starting (check\/repair|verification) pass\.$|: \d+ files, \d+\/\d+ clusters$/.test(l))).toEqual([]);
      const info = minfo(copy);
      expect(info.get('disk label')).toBe(`"${(d.label === '' ? 'NO NAME' : d.label).padEnd(11)}"`);
      rmSync(copy);
    }
  });

  it('an encoded FAT32 sector decodes to the same parameters, and the label "" is written as NO NAME', () => {
    const p: BootSectorParams = {
      fatBits: 32, bytesPerSector: 512, sectorsPerCluster: 8, reservedSectors: 32, numFats: 2, rootEntries: 0,
      totalSectors: 4_000_000, fatSectors: 3900, media: 0xf8, sectorsPerTrack: 63, heads: 255, hiddenSectors: 2048,
      volumeId: 0xfedcba98, label: '', oemName: 'FSCONV  ', rootCluster: 7, fsInfoSector: 1, backupBootSector: 6,
    };
    const b = encodeBootSector(p);
    expect(Buffer.from(b.subarray(0x47, 0x52)).toString('latin1')).toBe('NO NAME    ');
    expect(Buffer.from(b.subarray(0x52, 0x5a)).toString('latin1')).toBe('FAT32   ');
    expect(b[0x13]).toBe(0);
    const d: Partial<DecodedBootSector> = decodeBootSector(b);
    expect(d).toMatchObject({ ...p, driveNumber: 0x80 });
  });

  it('refuses parameters that give another FAT type than asked, and labels the code page cannot hold', () => {
    const p: BootSectorParams = {
      fatBits: 16, bytesPerSector: 512, sectorsPerCluster: 4, reservedSectors: 1, numFats: 2, rootEntries: 512,
      totalSectors: 8192, fatSectors: 8, media: 0xf8, sectorsPerTrack: 32, heads: 8, hiddenSectors: 0,
      volumeId: 1, label: 'X', oemName: 'FSCONV', rootCluster: 0, fsInfoSector: 0, backupBootSector: 0,
    };
    expect(() => encodeBootSector(p)).toThrowError(/FAT12 by Linux's rule, not FAT16/);
    expect(encodeBootSector({ ...p, fatBits: 12 })[0x36]).toBe('F'.charCodeAt(0));
    expect(() => encodeBootSector({ ...p, fatBits: 12, label: 'ABCDEFGHIJKL' })).toThrowError(/volume label is 12 bytes/);
    expect(() => encodeBootSector({ ...p, fatBits: 12, label: 'ŁÓDŹ' })).toThrowError(FatError);
    expect(decodeBootSector(encodeBootSector({ ...p, fatBits: 12, label: 'ÉTÉ' })).label).toBe('ÉTÉ');
    expect(decodeBootSector(encodeBootSector({ ...p, fatBits: 12, label: 'ŁÓDŹ' }, { codepage: 'cp852' }), { codepage: 'cp852' }).label).toBe('ŁÓDŹ');
    expect(() => encodeBootSector({ ...p, fatBits: 12, sectorsPerCluster: 3 })).toThrowError(FatError);
  });
});

describe('decodeBootSector refuses what Linux or fsck.fat refuse', () => {
  const put16 = (b: Uint8Array, o: number, v: number): void => {
    b[o] = v & 0xff;
    b[o + 1] = v >> 8;
  };
  const put32 = (b: Uint8Array, o: number, v: number): void => {
    put16(b, o, v & 0xffff);
    put16(b, o + 2, v >>> 16);
  };
  const cases: Array<[string, number, (b: Uint8Array) => void, RegExp]> = [
    ['no 0x55AA', 2, (b) => (b[511] = 0), /boot sector: signature at offset 510 is 0x55 0x00/],
    ['no jump', 2, (b) => (b[0] = 0), /jump instruction/],
    ['bytes per sector 0', 2, (b) => put16(b, 0x0b, 0), /bytes per sector \(offset 0x0b\) is 0/],
    ['bytes per sector 1000', 2, (b) => put16(b, 0x0b, 1000), /bytes per sector \(offset 0x0b\) is 1000, not a power of two/],
    ['bytes per sector 8192', 2, (b) => put16(b, 0x0b, 8192), /is 8192/],
    ['sectors per cluster 0', 2, (b) => (b[0x0d] = 0), /sectors per cluster \(offset 0x0d\) is 0/],
    ['sectors per cluster 3', 2, (b) => (b[0x0d] = 3), /sectors per cluster \(offset 0x0d\) is 3/],
    ['reserved 0', 2, (b) => put16(b, 0x0e, 0), /reserved sector count \(offset 0x0e\) is 0/],
    ['no FATs', 2, (b) => (b[0x10] = 0), /number of FATs \(offset 0x10\) is 0/],
    ['three FATs', 2, (b) => (b[0x10] = 3), /3 FATs/],
    ['media 0x12', 2, (b) => (b[0x15] = 0x12), /media byte \(offset 0x15\) is 0x12/],
    ['root entries 17', 2, (b) => put16(b, 0x11, 17), /root directory entry count 17/],
    ['root entries 0 on FAT16', 2, (b) => put16(b, 0x11, 0), /root directory has 0 entries/],
    ['total sectors 0', 2, (b) => { put16(b, 0x13, 0); put32(b, 0x20, 0); }, /total sector count is 0/],
    ['FAT length 0', 2, (b) => { put16(b, 0x16, 0); put32(b, 0x24, 0); }, /FAT length is 0/],
    ['FAT too small', 2, (b) => put16(b, 0x16, 2), /a FAT of 2 sectors holds 512 entries, fewer than/],
    ['data past the end', 2, (b) => put16(b, 0x16, 0xffff), /data area starts at sector \d+, at or past the end/],
    ['FAT32 version 1.0', 4, (b) => put16(b, 0x2a, 0x100), /FAT32 version 1\.0/],
    ['FAT32 root cluster 0', 4, (b) => put32(b, 0x2c, 0), /root directory cluster 0 \(offset 0x2c\) is outside the data area/],
    ['FAT32 root cluster too big', 4, (b) => put32(b, 0x2c, 0x0ffffff0), /root directory cluster 268435440/],
    ['FAT32 root entries', 4, (b) => put16(b, 0x11, 512), /FAT32 boot sector has 512 root directory entries/],
    ['FAT32 FSInfo outside reserved', 4, (b) => put16(b, 0x30, 40), /FSInfo sector 40/],
    ['FAT32 active FAT 3', 4, (b) => put16(b, 0x28, 0x83), /active FAT 3/],
    ['FAT16 too many clusters', 2, (b) => { b[0x0d] = 1; put16(b, 0x13, 0); put32(b, 0x20, 200_000); put16(b, 0x16, 800); }, /more than a FAT16 can have \(65524\)/],
  ];
  it.each(cases)('%s', (_name, index, mutate, message) => {
    const b = made[index]!.head.slice(0, 512);
    mutate(b);
    let error: unknown;
    try {
      decodeBootSector(b);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(FatError);
    expect((error as FatError).message).toMatch(message);
    expect((error as FatError).message).not.toContain('\n');
  });

  it('refuses a short buffer and a bad FSInfo sector', () => {
    expect(() => decodeBootSector(new Uint8Array(100))).toThrowError(/only 100 bytes/);
    const fsInfo = encodeFsInfo(5, 6);
    fsInfo[484] = 0;
    expect(() => decodeFsInfo(fsInfo)).toThrowError(/FSInfo sector: signature at offset 484 is 0x61417200, not 0x61417272/);
    expect(decodeFsInfo(encodeFsInfo(0xffffffff, 0xffffffff))).toEqual({ freeClusters: 0xffffffff, nextFree: 0xffffffff });
  });
});
