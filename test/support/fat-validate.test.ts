// Tests of the FAT validators (fat-validate.ts) and the FAT trap tree (fat-trees.ts), on images
// made by real tools (mkfs.fat + mcopy, and js-fatfs for names outside the BMP), never by fsconv.
// Good images must pass every validator; each known trap (fat-facts "Traps found by testing")
// must make the validator meant for it fail.
import { createHash } from 'node:crypto';
import {
  closeSync, copyFileSync, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync,
  rmSync, statSync, utimesSync, writeFileSync, writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as FatFs from 'js-fatfs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFatTrapTree, type FatTrapFacts } from './fat-trees.js';
import {
  blkidVfat, caseInsensitiveDuplicates, compareExtractedWithSource, fsckFatStrict, jsFatfsList, mtoolsExtract,
  mtoolsList, mtoolsListEntries, partitionExtent, validateFatStructure, wipefsOnlyVfat, wipefsSignatures,
} from './fat-validate.js';
import { decodeName } from './ls-entry.js';
import { requireTool, run, tryRun } from './run.js';
import { prngBytes } from './trees.js';

let work: string;
const MiB = 1024 * 1024;
const MTOOLS_ENV = { LC_ALL: 'C.UTF-8', TZ: 'UTC', MTOOLS_SKIP_CHECK: undefined };

// ---------------------------------------------------------------------------------------------
// Helpers

interface SmallTree {
  dir: string;
  /** '/'-rooted path → content, files only. */
  files: Map<string, Buffer>;
  /** Every '/'-rooted path (files and directories). */
  paths: string[];
  mtimes: Map<string, number>;
}

/** A small tree with long names (BMP only: mtools cannot store more), nested dirs and sizes around sector/cluster edges. */
function buildSmallFatTree(dir: string): SmallTree {
  const files = new Map<string, Buffer>();
  const paths: string[] = [];
  const mtimes = new Map<string, number>();
  let n = 0;
  const add = (rel: string, isDir: boolean, size = 0): void => {
    const abs = join(dir, rel);
    if (isDir) mkdirSync(abs);
    else {
      const content = prngBytes(`small-fat/${rel}`, size);
      writeFileSync(abs, content);
      files.set(`/${rel}`, content);
    }
    paths.push(`/${rel}`);
    mtimes.set(`/${rel}`, 1_100_000_000 + 3600 * n++ * 2); // even seconds, 2004-2005, UTC
  };
  mkdirSync(dir);
  add('Long File Name.txt', false, 1000);
  add('empty', false, 0);
  add('short.txt', false, 3);
  add('ünïcødé long name.txt', false, 10);
  add('Ελληνικά αρχεία.txt', false, 20);
  add('日本語のファイル名.txt', false, 30);
  add('sizes', true);
  for (const s of [1, 511, 512, 513, 2048, 4097, 100_000]) add(`sizes/size ${String(s).padStart(7, '0')}.bin`, false, s);
  add('many', true);
  for (let i = 0; i < 40; i++) add(`many/file number ${String(i).padStart(2, '0')} with a long name.dat`, false, 16 + i);
  add('deep', true);
  add('deep/level one', true);
  add('deep/level one/level two', true);
  add('deep/level one/level two/level three', true);
  add('deep/level one/level two/level three/leaf file.txt', false, 77);
  add('MixedCase Dir', true);
  add('MixedCase Dir/Inner.TXT', false, 5);
  for (const p of [...paths].reverse()) {
    const t = mtimes.get(p)!;
    utimesSync(join(dir, p), t, t);
  }
  return { dir, files, paths, mtimes };
}

function mkfsImage(path: string, fatBits: 12 | 16 | 32, sizeMiB: number, extra: string[] = []): void {
  rmSync(path, { force: true });
  run('mkfs.fat', ['-C', '-F', String(fatBits), '-i', '12345678', ...extra, path, String(sizeMiB * 1024)]);
}

/** mcopy every top-level entry of srcDir into the volume's root (times kept). */
function fillImage(img: string, srcDir: string, offset = 0): void {
  const names = readdirSync(srcDir).sort().map((n) => join(srcDir, n));
  run('mcopy', ['-s', '-m', '-i', offset === 0 ? img : `${img}@@${offset}`, ...names, '::/'], { env: MTOOLS_ENV });
}

function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

function patchBytes(img: string, pos: number, bytes: Uint8Array): void {
  const fd = openSync(img, 'r+');
  try {
    writeSync(fd, bytes, 0, bytes.length, pos);
  } finally {
    closeSync(fd);
  }
}

/** An MBR with one primary partition (512-byte LBAs) and a disk signature. */
function writeMbr(img: string, startLba: number, sectors: number, type: number): void {
  const mbr = Buffer.alloc(512);
  mbr.writeUInt32LE(0x46415431, 440); // disk signature
  const e = 446;
  mbr[e] = 0x00; // not bootable
  mbr.fill(0xfe, e + 1, e + 4); // CHS: use LBA
  mbr[e + 4] = type;
  mbr.fill(0xff, e + 5, e + 8);
  mbr.writeUInt32LE(startLba, e + 8);
  mbr.writeUInt32LE(sectors, e + 12);
  mbr[510] = 0x55;
  mbr[511] = 0xaa;
  patchBytes(img, 0, mbr);
}

/** Offset of the first byte of the FAT12/16 fixed root directory. */
function rootDirOffset(img: string): number {
  const bs = Buffer.alloc(512);
  const fd = openSync(img, 'r');
  readSync(fd, bs, 0, 512, 0);
  closeSync(fd);
  const bps = bs.readUInt16LE(11);
  return (bs.readUInt16LE(14) + bs[16]! * bs.readUInt16LE(22)) * bps;
}

const LFN_CHAR_OFFSETS = [1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30];

/** Finds the LFN slot of the FAT12/16 root directory holding `text` and returns its offset and the char index. */
function findLfnText(img: string, text: string): { slot: number; charIndex: number } {
  const root = rootDirOffset(img);
  const buf = readFileSync(img).subarray(root, root + 512 * 32);
  for (let i = 0; i + 32 <= buf.length; i += 32) {
    if (buf[i] === 0) break;
    if (buf[i + 11] !== 0x0f) continue;
    const chars = LFN_CHAR_OFFSETS.map((o) => String.fromCharCode(buf.readUInt16LE(i + o))).join('');
    const k = chars.indexOf(text);
    if (k >= 0) return { slot: root + i, charIndex: k };
  }
  throw new Error(`no LFN slot holds ${JSON.stringify(text)}`);
}

/** Writes files with js-fatfs itself into an existing FAT image (for names mtools cannot write). */
async function writeWithJsFatfs(img: string, dirs: string[], files: Map<string, Buffer>): Promise<void> {
  const image = readFileSync(img);
  const ss = image.readUInt16LE(11);
  const ff = await FatFs.create({
    codepage: 850,
    diskio: {
      initialize: () => 0,
      status: () => 0,
      read(f, _p, buff, sector, count) {
        f.HEAPU8.set(image.subarray(sector * ss, (sector + count) * ss), buff);
        return FatFs.RES_OK;
      },
      write(f, _p, buff, sector, count) {
        image.set(f.HEAPU8.subarray(buff, buff + count * ss), sector * ss);
        return FatFs.RES_OK;
      },
      ioctl(f, _p, cmd, buff) {
        if (cmd === FatFs.CTRL_SYNC) return FatFs.RES_OK;
        if (cmd === FatFs.GET_SECTOR_COUNT) { f.setValue(buff, image.length / ss, 'i32'); return FatFs.RES_OK; }
        if (cmd === FatFs.GET_SECTOR_SIZE) { f.setValue(buff, ss, 'i16'); return FatFs.RES_OK; }
        if (cmd === FatFs.GET_BLOCK_SIZE) { f.setValue(buff, 1, 'i32'); return FatFs.RES_OK; }
        return FatFs.RES_PARERR;
      },
    },
  });
  const ok = (what: string, r: number): void => {
    if (r !== FatFs.FR_OK) throw new Error(`js-fatfs ${what}: ${r}`);
  };
  const fs = ff.malloc(FatFs.sizeof_FATFS);
  const fil = ff.malloc(FatFs.sizeof_FIL);
  const bw = ff.malloc(4);
  ok('mount', ff.f_mount(fs, '', 1));
  for (const d of dirs) ok(`mkdir ${d}`, ff.f_mkdir(d));
  for (const [p, data] of files) {
    ok(`open ${p}`, ff.f_open(fil, p, FatFs.FA_WRITE | FatFs.FA_CREATE_NEW));
    const buf = ff.malloc(Math.max(1, data.length));
    ff.HEAPU8.set(data, buf);
    ok(`write ${p}`, ff.f_write(fil, buf, data.length, bw));
    ff.free(buf);
    ok(`close ${p}`, ff.f_close(fil));
  }
  ok('unmount', ff.f_unmount(''));
  writeFileSync(img, image);
}

/** FAT date/time words (UTC by our convention) → seconds since the epoch. */
function fatTimeToUnix(fdate: number, ftime: number): number {
  return Date.UTC(1980 + (fdate >> 9), ((fdate >> 5) & 15) - 1, fdate & 31, ftime >> 11, (ftime >> 5) & 63, (ftime & 31) * 2) / 1000;
}

function sortedPairs(pairs: Array<[string, string]>): string[] {
  return pairs.map(([a, b]) => JSON.stringify([a, b].sort())).sort();
}

// ---------------------------------------------------------------------------------------------

let small: SmallTree;

beforeAll(() => {
  for (const tool of ['mkfs.fat', 'fsck.fat', 'mcopy', 'mdir', 'blkid', 'wipefs', 'mke2fs']) requireTool(tool);
  work = mkdtempSync(join(tmpdir(), 'fsconv-fat-validate-'));
  small = buildSmallFatTree(join(work, 'small'));
});

afterAll(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

const GOOD: Array<{ bits: 12 | 16 | 32; sizeMiB: number; extra: string[] }> = [
  { bits: 12, sizeMiB: 4, extra: [] },
  { bits: 16, sizeMiB: 32, extra: ['-n', 'SIXTEEN'] },
  { bits: 32, sizeMiB: 40, extra: ['-n', 'THIRTYTWO'] },
];

const made = new Map<string, string>();

/** The good image of a FAT type (mkfs.fat + mcopy of the small tree), made once. Never modify it: copy. */
function goodImage(bits: 12 | 16 | 32): string {
  const key = `good${bits}`;
  let img = made.get(key);
  if (img === undefined) {
    const g = GOOD.find((x) => x.bits === bits)!;
    img = join(work, `${key}.img`);
    mkfsImage(img, bits, g.sizeMiB, g.extra);
    fillImage(img, small.dir);
    made.set(key, img);
  }
  return img;
}

/** A fresh 8 MiB ext2 image, made once. */
function ext2Image(): string {
  let img = made.get('ext2');
  if (img === undefined) {
    img = join(work, 'ext2.img');
    writeFileSync(img, Buffer.alloc(0));
    run('truncate', ['-s', '8M', img]);
    run('mke2fs', ['-q', '-F', '-t', 'ext2', img]);
    made.set('ext2', img);
  }
  return img;
}

describe.each(GOOD)('a good FAT$bits image (mkfs.fat + mcopy)', ({ bits, extra }) => {
  let img: string;

  beforeAll(() => {
    img = goodImage(bits);
  });

  it('passes fsck.fat strictly, blkid and wipefs', () => {
    const v = validateFatStructure(img);
    expect(v.fsck.files).toBeGreaterThanOrEqual(small.paths.length);
    expect(v.fsck.usedClusters).toBeGreaterThan(0);
    expect(v.fsck.totalClusters).toBeGreaterThan(v.fsck.usedClusters);
    expect(v.blkid['TYPE']).toBe('vfat');
    expect(v.blkid['VERSION']).toBe(`FAT${bits}`);
    expect(v.blkid['UUID']).toBe('1234-5678');
    if (bits !== 12) expect(v.blkid['LABEL']).toBe(extra[1]);
    expect(v.wipefs.length).toBeGreaterThan(0);
    expect(new Set(v.wipefs.map((s) => s.type))).toEqual(new Set(['vfat']));
  });

  it('extracts with mtools to the same bytes, names and times', () => {
    const dest = join(work, `extract${bits}`);
    const extracted = mtoolsExtract(img, dest);
    expect(extracted.map((p) => `/${p}`).sort()).toEqual([...small.paths].sort());
    const cmp = compareExtractedWithSource(dest, small.files);
    expect(cmp).toEqual({ ok: true, missing: [], different: [], extra: [] });
    // Also by digest.
    const bySha = new Map([...small.files].map(([p, c]) => [p, sha256(c)]));
    expect(compareExtractedWithSource(dest, bySha).ok).toBe(true);
    for (const f of small.files.keys()) expect(statSync(join(dest, f)).mtimeMs / 1000).toBe(small.mtimes.get(f));
  });

  it('lists the same paths with mdir and js-fatfs, with the right sizes, contents and times', async () => {
    const m = mtoolsListEntries(img);
    const j = await jsFatfsList(img, 0, { sha256: true });
    expect(j.map((e) => e.path).sort()).toEqual(m.map((e) => e.path).sort());
    expect(mtoolsList(img).sort()).toEqual([...small.paths].sort());
    const mDirs = new Set(m.filter((e) => e.isDir).map((e) => e.path));
    for (const e of j) {
      expect(e.isDir, e.path).toBe(mDirs.has(e.path));
      if (e.isDir) continue;
      const content = small.files.get(e.path)!;
      expect(e.size, e.path).toBe(content.length);
      expect(e.sha256, e.path).toBe(sha256(content));
      expect(fatTimeToUnix(e.fdate, e.ftime), e.path).toBe(small.mtimes.get(e.path));
    }
    expect(caseInsensitiveDuplicates(m.map((e) => e.path))).toEqual([]);
    expect(caseInsensitiveDuplicates(j.map((e) => e.path))).toEqual([]);
  });
});

describe('negative cases', () => {
  it('a leftover ext2 superblock: blkid is ambivalent and wipefs lists ext2, while fsck.fat is happy', () => {
    const ext2 = ext2Image();
    const sb = Buffer.alloc(1024);
    const fd = openSync(ext2, 'r');
    readSync(fd, sb, 0, 1024, 1024);
    closeSync(fd);
    expect(sb.readUInt16LE(56)).toBe(0xef53);
    // FAT32: bytes 1024-2047 are reserved sectors 2-3, unused, so fsck.fat sees nothing wrong.
    const img = join(work, 'stale-ext2.img');
    copyFileSync(goodImage(32), img);
    patchBytes(img, 1024, sb);
    expect(fsckFatStrict(img).files).toBeGreaterThan(0);
    expect(() => blkidVfat(img)).toThrow(/exit status 8 \(ambivalent/);
    expect(() => wipefsOnlyVfat(img)).toThrow(/ext2@0x438/);
    expect(wipefsSignatures(img).map((s) => s.type).sort()).toEqual(['ext2', 'vfat', 'vfat', 'vfat']);

    // The bare magic 0xEF53 at byte 1080 is enough for wipefs.
    const magic = join(work, 'stale-magic.img');
    copyFileSync(goodImage(32), magic);
    patchBytes(magic, 1080, Buffer.from([0x53, 0xef]));
    expect(() => wipefsOnlyVfat(magic)).toThrow(/ext2/);
  });

  it('a broken LFN checksum: fsck.fat exits 0 but fsckFatStrict throws', () => {
    const img = join(work, 'bad-lfn.img');
    copyFileSync(goodImage(16), img);
    const { slot } = findLfnText(img, 'Long File Na');
    const b = readFileSync(img);
    patchBytes(img, slot + 13, Buffer.from([b[slot + 13]! ^ 0x5a]));
    const r = tryRun('fsck.fat', ['-n', '-V', img]);
    expect(r.status).toBe(0); // trap 1
    expect(() => fsckFatStrict(img)).toThrow(/Checksum in long filename part wrong|Wrong checksum for long file name/);
  });

  it('a FAT32 FSInfo free count of 0xFFFFFFFF: fsck.fat exits 0 but fsckFatStrict throws', () => {
    const img = join(work, 'fsinfo.img');
    copyFileSync(goodImage(32), img);
    const b = readFileSync(img);
    const fsinfo = b.readUInt16LE(48) * b.readUInt16LE(11);
    expect(b.readUInt32LE(fsinfo)).toBe(0x41615252);
    patchBytes(img, fsinfo + 488, Buffer.from([0xff, 0xff, 0xff, 0xff]));
    expect(tryRun('fsck.fat', ['-n', '-V', img]).status).toBe(0);
    expect(() => fsckFatStrict(img)).toThrow(/Free cluster summary/);
    // Nothing else notices.
    expect(blkidVfat(img)['VERSION']).toBe('FAT32');
    wipefsOnlyVfat(img);
  });

  it('zero sectors per track: fsck.fat is happy, mtools refuses even with MTOOLS_SKIP_CHECK in the environment', () => {
    const img = join(work, 'zero-spt.img');
    copyFileSync(goodImage(12), img);
    patchBytes(img, 24, Buffer.from([0, 0])); // BPB_SecPerTrk
    fsckFatStrict(img);
    const saved = process.env['MTOOLS_SKIP_CHECK'];
    process.env['MTOOLS_SKIP_CHECK'] = '1';
    try {
      expect(() => mtoolsList(img)).toThrow(/zero number of heads or sectors/);
      expect(() => mtoolsExtract(img, join(work, 'zero-spt-out'))).toThrow(/zero number of heads or sectors/);
    } finally {
      if (saved === undefined) delete process.env['MTOOLS_SKIP_CHECK'];
      else process.env['MTOOLS_SKIP_CHECK'] = saved;
    }
  });

  it('long names differing only in case: only caseInsensitiveDuplicates notices', async () => {
    const src = join(work, 'case-src');
    mkdirSync(src);
    writeFileSync(join(src, 'Long Name A.txt'), 'first\n');
    writeFileSync(join(src, 'Long Name B.txt'), 'second\n');
    const img = join(work, 'case.img');
    mkfsImage(img, 16, 32);
    fillImage(img, src);
    // Rename "B" to "a" in the long name only: the LFN checksum covers the short name, so it stays valid.
    const { slot, charIndex } = findLfnText(img, 'Long Name B');
    patchBytes(img, slot + LFN_CHAR_OFFSETS[charIndex + 'Long Name '.length]!, Buffer.from([0x61, 0x00]));
    fsckFatStrict(img); // trap 2: fsck compares short names only
    const m = mtoolsList(img);
    expect(m.sort()).toEqual(['/Long Name A.txt', '/Long Name a.txt']);
    const j = await jsFatfsList(img);
    expect(j.map((e) => e.path).sort()).toEqual(m);
    expect(sortedPairs(caseInsensitiveDuplicates(m))).toEqual(sortedPairs([['/Long Name A.txt', '/Long Name a.txt']]));
    expect(mtoolsExtract(img, join(work, 'case-out')).sort()).toEqual(['Long Name A.txt', 'Long Name a.txt']);
  });

  it('caseInsensitiveDuplicates: same directory only, every pair, non-ASCII folding', () => {
    const pairs = caseInsensitiveDuplicates([
      '/README', '/readme', '/ReadMe', '/sub/README', '/Sub/readme.txt', '/SUB/README.TXT', '/École', '/éCOLE',
      '/x/😀', '/X/😀', '/straße', '/STRASSE', '/same', '/same',
    ]);
    expect(sortedPairs(pairs)).toEqual(sortedPairs([
      ['/README', '/readme'], ['/README', '/ReadMe'], ['/readme', '/ReadMe'],
      ['/Sub/readme.txt', '/SUB/README.TXT'], ['/École', '/éCOLE'], ['/x/😀', '/X/😀'], ['/same', '/same'],
    ]));
    expect(caseInsensitiveDuplicates(['/a', '/b', '/a/a', '/b/A'])).toEqual([]);
  });

  it('compareExtractedWithSource reports missing, different and extra files', () => {
    const dir = join(work, 'cmp');
    mkdirSync(join(dir, 'd'), { recursive: true });
    writeFileSync(join(dir, 'same'), 'same');
    writeFileSync(join(dir, 'd', 'changed'), 'new');
    writeFileSync(join(dir, 'surprise'), 'x');
    const r = compareExtractedWithSource(dir, new Map<string, Uint8Array | string>([
      ['/same', sha256(Buffer.from('same'))], ['/d/changed', Buffer.from('old')], ['/gone', Buffer.from('')],
    ]));
    expect(r.ok).toBe(false);
    expect(r.missing).toEqual(['/gone']);
    expect(r.different.map((d) => d.path)).toEqual(['/d/changed']);
    expect(r.extra).toEqual(['/surprise']);
  });

  it('rejects an ext2 image outright', async () => {
    const ext2 = ext2Image();
    expect(() => fsckFatStrict(ext2)).toThrow(/fsck\.fat/);
    expect(() => blkidVfat(ext2)).toThrow(/TYPE=ext2/);
    expect(() => wipefsOnlyVfat(ext2)).toThrow(/ext2/);
    expect(() => mtoolsList(ext2)).toThrow();
    await expect(jsFatfsList(ext2)).rejects.toThrow(/js-fatfs|bytes per sector/);
  });
});

describe('names outside the BMP (written by js-fatfs: mtools cannot)', () => {
  it('js-fatfs reads surrogate pairs back; mtools does not (trap 3)', async () => {
    const img = join(work, 'astral.img');
    mkfsImage(img, 16, 32);
    const files = new Map([
      ['/😀 smile.txt', Buffer.from('smile\n')],
      ['/𝄞 clef/🎵 note', Buffer.from('note\n')],
    ]);
    await writeWithJsFatfs(img, ['/𝄞 clef'], files);
    validateFatStructure(img);
    const j = await jsFatfsList(img, 0, { sha256: true });
    expect(j.map((e) => e.path).sort()).toEqual(['/𝄞 clef', '/𝄞 clef/🎵 note', '/😀 smile.txt'].sort());
    for (const e of j) if (!e.isDir) expect(e.sha256).toBe(sha256(files.get(e.path)!));
    const m = mtoolsList(img);
    // mtools 4.0.32 shows each surrogate as '_'.
    expect(m.sort()).toEqual(['/__ clef', '/__ clef/__ note', '/__ smile.txt']);
  });
});

describe('a disk image with an MBR and the FAT partition at 1 MiB', () => {
  let disk: string;
  const start = 2048;
  const sectors = 23 * 2048; // 23 MiB partition in a 32 MiB file: the MBR length matters

  beforeAll(() => {
    disk = join(work, 'disk.img');
    writeFileSync(disk, Buffer.alloc(0));
    run('truncate', ['-s', '32M', disk]);
    run('mkfs.fat', ['-F', '16', '--offset', String(start), '-h', String(start), '-i', 'cafe0001', disk, String((sectors * 512) / 1024)]);
    writeMbr(disk, start, sectors, 0x06);
    fillImage(disk, small.dir, start * 512);
  });

  it('finds the partition extent from the MBR', () => {
    expect(partitionExtent(disk, MiB)).toEqual({ offset: MiB, length: sectors * 512 });
    expect(partitionExtent(disk, 0)).toEqual({ offset: 0, length: 32 * MiB });
    expect(partitionExtent(disk, 2 * MiB)).toEqual({ offset: 2 * MiB, length: 30 * MiB }); // no entry there
  });

  it('every validator passes at the offset', async () => {
    const v = validateFatStructure(disk, MiB);
    expect(v.blkid['VERSION']).toBe('FAT16');
    expect(v.blkid['UUID']).toBe('CAFE-0001');
    const dest = join(work, 'disk-out');
    expect(mtoolsExtract(disk, dest, MiB).map((p) => `/${p}`).sort()).toEqual([...small.paths].sort());
    expect(compareExtractedWithSource(dest, small.files).ok).toBe(true);
    const m = mtoolsList(disk, MiB);
    const j = await jsFatfsList(disk, MiB, { sha256: true });
    expect(j.map((e) => e.path).sort()).toEqual([...m].sort());
    for (const e of j) if (!e.isDir) expect(e.sha256).toBe(sha256(small.files.get(e.path)!));
  });

  it('the whole disk is not a FAT volume', () => {
    expect(() => blkidVfat(disk)).toThrow();
    expect(() => wipefsOnlyVfat(disk)).toThrow(/dos/);
    expect(() => fsckFatStrict(disk)).toThrow();
  });
});

describe('the FAT trap tree', () => {
  let facts: FatTrapFacts;

  beforeAll(() => {
    facts = buildFatTrapTree(join(work, 'traps')).facts;
  });

  it('builds with the expected entries', () => {
    // Walk the host tree by bytes.
    const found: Buffer[] = [];
    const walk = (abs: Buffer, rel: Buffer | undefined): void => {
      for (const name of readdirSync(abs, { encoding: 'buffer' })) {
        const childRel = rel === undefined ? name : Buffer.concat([rel, Buffer.from('/'), name]);
        const childAbs = Buffer.concat([abs, Buffer.from('/'), name]);
        found.push(childRel);
        if (lstatSync(childAbs).isDirectory()) walk(childAbs, childRel);
      }
    };
    walk(Buffer.from(facts.root), undefined);
    expect(found.map((b) => b.toString('hex')).sort()).toEqual(facts.entries.map((e) => e.rawPath.toString('hex')).sort());
    expect(facts.entries).toHaveLength(TRAP_ENTRY_COUNT);
    expect(facts.fileCount + facts.dirCount).toBe(facts.entries.length);
    expect(facts.byTrap.prefix).toHaveLength(300);

    // Contents: as recorded, and pairwise distinct.
    const digests = new Set<string>();
    for (const e of facts.entries) {
      if (e.type !== 'file') continue;
      const got = readFileSync(Buffer.concat([Buffer.from(facts.root + '/'), e.rawPath]));
      expect(got.equals(e.content!), e.path).toBe(true);
      digests.add(e.sha256!);
      expect(Math.round(lstatSync(Buffer.concat([Buffer.from(facts.root + '/'), e.rawPath])).mtimeMs / 1000)).toBe(e.mtime);
    }
    expect(digests.size).toBe(facts.fileCount);
  });

  it('holds every trap named in the brief', () => {
    const names = new Set(facts.entries.map((e) => e.path.slice(e.path.lastIndexOf('/') + 1)));
    for (const n of [
      'README', 'readme', 'ReadMe', 'a.TXT', 'A.txt', 'q"uote', 'star*', 'co:lon', 'lt<', 'gt>', 'what?', 'back\\slash',
      'pi|pe', 'ctl\x01', '\x1fctl', 'name.', 'name..', 'name ', 'a. .', 'CON', 'con.txt', 'Nul', 'COM1.log', 'lpt9',
      'aux.tar.gz', '$#%right.$#@', '$#%RIGHT.$#@', '...', 'readme.txt', 'README.TXT', 'ReadMe.Txt', '.profile',
      'archive.tar.gz', 'a+b,c;d=e[f]', '😀 emoji.txt', '𝄞', 'caf\uFFFD', '\uFFFD\uFFFD', ' lead space', '.hidden',
      'a very long common prefix 000.txt', 'a very long common prefix 299.txt',
    ]) {
      expect(names.has(n), JSON.stringify(n)).toBe(true);
    }
    expect(facts.rawNames.map((r) => r.raw.toString('latin1'))).toEqual(expect.arrayContaining(['caf\xe9', '\xff\xfe']));
    const long = facts.longNames;
    expect(Math.max(...long.map((l) => l.bytes))).toBe(255);
    expect(long.every((l) => l.bytes <= 255)).toBe(true);
    expect(long.some((l) => l.bytes === 255 && l.utf16Units === 255)).toBe(true);
    // The longest name with a multibyte character: 254 UTF-16 units in 255 bytes.
    expect(Math.max(...long.filter((l) => /[^\x00-\x7f]/.test(l.path.slice(6))).map((l) => l.utf16Units))).toBe(254);
    expect(facts.deepest.split('/').length).toBeGreaterThanOrEqual(8);
    expect(facts.decodedCollisions).toContain('/latin1/caf\uFFFD');
    for (const e of facts.entries) expect(decodeName(e.rawPath)).toBe(e.path.slice(1));
  });

  it('caseInsensitiveDuplicates finds exactly the intended collisions', () => {
    const expected: Array<[string, string]> = [];
    for (const g of [...facts.caseGroups, ...facts.decodedCollisions.map((p) => facts.paths.filter((q) => q === p))]) {
      for (let a = 0; a < g.length; a++) for (let b = a + 1; b < g.length; b++) expected.push([g[a]!, g[b]!]);
    }
    expect(sortedPairs(caseInsensitiveDuplicates(facts.paths))).toEqual(sortedPairs(expected));
  });
});

/** Entries buildFatTrapTree creates (update deliberately when adding traps). */
const TRAP_ENTRY_COUNT = 476;
