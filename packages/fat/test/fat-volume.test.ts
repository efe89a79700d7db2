// The FAT reader against images made and filled by real tools (mkfs.fat, mtools), never by our
// writer: the walk lists what `mdir -/ -b -a` lists, every file reads back as `mcopy` extracts
// it, free space matches fsck.fat, and corrupted copies are refused with a FatError (no hang).
import { closeSync, fstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, readdirSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryByteSource, type ByteSource } from '@fsconv/base';
import { FAT_EOC, type FatBits } from '../src/constants.js';
import { FatError } from '../src/errors.js';
import { FatVolume, type FatTreeEntry } from '../src/fat-volume.js';
import { run } from '../../../test/support/run.js';
import { prngBytes } from '../../../test/support/trees.js';

const ENV = { LC_ALL: 'C.UTF-8', TZ: 'UTC' };

/** A read-only ByteSource over a file, with optional byte patches laid over it (corrupted views). */
class FileSource implements ByteSource {
  readonly size: number;
  reads = 0;
  private readonly patches: Array<{ position: number; bytes: Uint8Array }> = [];
  constructor(private readonly fd: number) {
    this.size = fstatSync(fd).size;
  }
  patch(position: number, bytes: Uint8Array): this {
    this.patches.push({ position, bytes });
    return this;
  }
  readInto(target: Uint8Array, position: number): void {
    if (position < 0 || position + target.length > this.size) throw new Error(`read past the end at ${position}`);
    this.reads++;
    let done = 0;
    while (done < target.length) {
      const n = readSync(this.fd, target, done, target.length - done, position + done);
      if (n === 0) throw new Error(`short read at ${position + done}`);
      done += n;
    }
    for (const p of this.patches) {
      const from = Math.max(p.position, position);
      const to = Math.min(p.position + p.bytes.length, position + target.length);
      for (let i = from; i < to; i++) target[i - position] = p.bytes[i - p.position]!;
    }
  }
}

interface Image {
  name: string;
  path: string;
  tree: string;
  clusterSize: number;
  label: string;
  offset: number;
  fd: number;
}

let work: string;
const images = new Map<string, Image>();
const fds: number[] = [];

function openFile(path: string): number {
  const fd = openSync(path, 'r');
  fds.push(fd);
  return fd;
}

/** Writes the source tree for an image with `cs`-byte clusters; returns it. */
function makeTree(root: string, cs: number, many: boolean): void {
  const file = (rel: string, size: number): void => {
    const p = join(root, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, prngBytes(rel, size));
  };
  file('empty.txt', 0);
  file('one.bin', 1);
  file('cluster-minus-1.bin', cs - 1);
  file('cluster.bin', cs);
  file('cluster-plus-1.bin', cs + 1);
  file('c3.bin', 3 * cs + 7);
  file('big.bin', 40 * cs + 123);
  file('A Long File Name with spaces.txt', 100);
  file('naïve café ✓ résumé.txt', 10);
  file('日本語のファイル名.txt', 20);
  file('lower.txt', 3);
  file('MiXeD.Txt', 4);
  file('UPPER.TXT', 5);
  file('base.TXT', 6);
  file('.dotfile', 7);
  file('multi.dot.name.tar.gz', 8);
  file('x', 9);
  file(`${'n'.repeat(200)}.txt`, 11);
  mkdirSync(join(root, 'emptydir'));
  file('Dir With Long Name/inner file.txt', 12);
  file('Dir With Long Name/sub dir/x.txt', 13);
  let deep = 'deep';
  for (let i = 1; i <= 12; i++) deep += `/level${String(i).padStart(2, '0')}`;
  file(`${deep}/bottom.txt`, cs + 5);
  if (many) for (let i = 1; i <= 2000; i++) file(`many/${String(i).padStart(4, '0')} long file name.txt`, i % 7 === 0 ? 0 : 5);
}

/** Fills an image with mtools: the tree, then a fragmented file (holes left by deleted files). */
function fill(image: string, tree: string, cs: number): void {
  const top = readdirSync(tree).map((n) => join(tree, n));
  run('mcopy', ['-s', '-i', image, ...top, '::/'], { env: ENV });
  const fragSrc = join(work, `frag-${cs}`);
  mkdirSync(fragSrc, { recursive: true });
  const parts: string[] = [];
  for (let i = 0; i < 12; i++) {
    const p = join(fragSrc, `part${String(i).padStart(2, '0')}.bin`);
    writeFileSync(p, prngBytes(p, cs));
    parts.push(p);
  }
  run('mmd', ['-i', image, '::/frag'], { env: ENV });
  run('mcopy', ['-i', image, ...parts, '::/frag/'], { env: ENV });
  run('mdel', ['-i', image, ...[1, 3, 5, 7, 9].map((i) => `::/frag/part${String(i).padStart(2, '0')}.bin`)], { env: ENV });
  const fragmented = join(fragSrc, 'fragmented.bin');
  writeFileSync(fragmented, prngBytes('fragmented', 10 * cs + 1));
  run('mcopy', ['-i', image, fragmented, '::/frag/'], { env: ENV });
}

function makeImage(name: string, mkfsArgs: string[], sizeKiB: number, label: string, cs: number, many: boolean): void {
  const path = join(work, `${name}.img`);
  run('mkfs.fat', [...mkfsArgs, '-n', label, '-i', '1234abcd', '-C', path, String(sizeKiB)], { env: ENV });
  const tree = join(work, `${name}-tree`);
  makeTree(tree, cs, many);
  fill(path, tree, cs);
  images.set(name, { name, path, tree, clusterSize: cs, label, offset: 0, fd: openFile(path) });
}

/** A disk image: an MBR with one FAT16 partition at 1 MiB, filled through mtools' @@offset. */
function makeDisk(): void {
  const path = join(work, 'disk.img');
  const partSectors = 65536; // 32 MiB
  writeFileSync(path, new Uint8Array(0));
  run('truncate', ['-s', String((2048 + partSectors) * 512), path]);
  run('mkfs.fat', ['-F', '16', '-s', '8', '--offset', '2048', '-h', '2048', '-n', 'PARTITION', '-i', '1234abcd', path, String(partSectors / 2)], {
    env: ENV,
  });
  const mbr = new Uint8Array(512);
  const entry = 446;
  mbr[entry + 4] = 0x0e; // FAT16 (LBA)
  new DataView(mbr.buffer).setUint32(entry + 8, 2048, true);
  new DataView(mbr.buffer).setUint32(entry + 12, partSectors, true);
  mbr[510] = 0x55;
  mbr[511] = 0xaa;
  const fd = openSync(path, 'r+');
  writeSync(fd, mbr, 0, 512, 0);
  closeSync(fd);
  const tree = join(work, 'disk-tree');
  makeTree(tree, 4096, false);
  const top = readdirSync(tree).map((n) => join(tree, n));
  run('mcopy', ['-s', '-i', `${path}@@1M`, ...top, '::/'], { env: ENV });
  images.set('disk', { name: 'disk', path, tree, clusterSize: 4096, label: 'PARTITION', offset: 1 << 20, fd: openFile(path) });
}

const mtoolsImage = (img: Image): string => (img.offset === 0 ? img.path : `${img.path}@@${img.offset}`);

function volumeOf(img: Image, source: ByteSource = new FileSource(img.fd)): FatVolume {
  return FatVolume.open(source, { offset: img.offset });
}

function walkAll(vol: FatVolume): FatTreeEntry[] {
  const out: FatTreeEntry[] = [];
  vol.walk((e) => out.push(e));
  return out;
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'fat-volume-'));
  makeImage('fat12', ['-F', '12'], 1440, 'FLOPPY', 512, false);
  makeImage('fat16', ['-F', '16', '-s', '4', '-S', '512'], 65536, 'LABEL16', 2048, true);
  makeImage('fat32', ['-F', '32', '-s', '1', '-S', '512'], 614400, 'LABEL32', 512, true);
  makeImage('fat32-s8', ['-F', '32', '-s', '8', '-S', '512'], 614400, 'EIGHT', 4096, false);
  makeDisk();
});

afterAll(() => {
  for (const fd of fds) closeSync(fd);
  if (work) rmSync(work, { recursive: true, force: true });
});

const NAMES = ['fat12', 'fat16', 'fat32', 'fat32-s8', 'disk'];

describe.each(NAMES)('%s, as mtools sees it', (name) => {
  it('walks the same paths as mdir -/ -b -a, in depth-first order', () => {
    const img = images.get(name)!;
    const vol = volumeOf(img);
    const entries = walkAll(vol);
    const ours = entries.map((e) => e.path);
    const listed = run('mdir', ['-/', '-b', '-a', '-i', mtoolsImage(img), '::/'], { env: ENV })
      .stdout.toString('utf8')
      .split('\n')
      .filter((l) => l.startsWith('::/'))
      .map((l) => l.slice(2).replace(/\/$/, ''));
    expect([...ours].sort()).toEqual([...listed].sort());
    expect(new Set(ours).size).toBe(ours.length);
    // Depth first: a directory's subtree comes right after it.
    entries.forEach((e, i) => {
      if (!e.isDirectory) return;
      let j = i + 1;
      while (j < entries.length && entries[j]!.path.startsWith(`${e.path}/`)) j++;
      expect(entries.slice(j).some((x) => x.path.startsWith(`${e.path}/`))).toBe(false);
    });
    // Directories are those mdir marks with a trailing slash.
    const dirs = new Set(
      run('mdir', ['-/', '-b', '-a', '-i', mtoolsImage(img), '::/'], { env: ENV })
        .stdout.toString('utf8')
        .split('\n')
        .filter((l) => l.startsWith('::/') && l.endsWith('/'))
        .map((l) => l.slice(2, -1)),
    );
    expect(new Set(entries.filter((e) => e.isDirectory).map((e) => e.path))).toEqual(dirs);
  });

  it('reads every file as mcopy extracts it (and as it was copied in)', () => {
    const img = images.get(name)!;
    const vol = volumeOf(img);
    const out = join(work, `${name}-extracted`);
    mkdirSync(out);
    run('mcopy', ['-s', '-n', '-m', '-i', mtoolsImage(img), '::/', `${out}/`], { env: ENV });
    let files = 0;
    vol.walk((e) => {
      if (e.isDirectory) return;
      const data = vol.readFile(e.entry.short.cluster, e.entry.short.size, e.path);
      const extracted = readFileSync(join(out, e.path));
      expect(Buffer.from(data).equals(extracted), e.path).toBe(true);
      if (!e.path.startsWith('/frag/')) expect(Buffer.from(data).equals(readFileSync(join(img.tree, e.path))), e.path).toBe(true);
      const streamed = Buffer.concat([...vol.streamFile(e.entry.short.cluster, e.entry.short.size, e.path)]);
      expect(streamed.equals(extracted)).toBe(true);
      files++;
    });
    expect(files).toBeGreaterThan(20);
    rmSync(out, { recursive: true });
  });

  it('agrees with fsck.fat on the cluster count and free clusters, and finds the label', () => {
    const img = images.get(name)!;
    const vol = volumeOf(img);
    expect(vol.label).toBe(img.label);
    if (img.offset !== 0) return; // fsck.fat takes no offset: the partition's free space is checked against mdir below
    const text = run('fsck.fat', ['-n', img.path], { env: ENV }).stdout.toString('utf8');
    const m = /(\d+) files, (\d+)\/(\d+) clusters/.exec(text)!;
    expect(vol.clusterCount).toBe(Number(m[3]));
    expect(vol.freeClusters()).toBe(Number(m[3]) - Number(m[2]));
    if (vol.fatBits === 32) expect(vol.fsInfo()!.freeClusters).toBe(vol.freeClusters());
  });
});

describe('details', () => {
  it('opens the partition inside a disk image at its offset, and refuses the MBR as a volume', () => {
    const img = images.get('disk')!;
    const vol = volumeOf(img);
    expect(vol.fatBits).toBe(16);
    expect(vol.label).toBe('PARTITION');
    expect(vol.boot.hiddenSectors).toBe(2048);
    expect(vol.clusterSize).toBe(4096);
    const free = run('mdir', ['-i', `${img.path}@@1M`, '::/'], { env: ENV }).stdout.toString('utf8');
    const bytesFree = Number(/([\d ]+) bytes free/.exec(free)![1]!.replace(/ /g, ''));
    expect(vol.freeClusters() * vol.clusterSize).toBe(bytesFree);
    expect(() => FatVolume.open(new FileSource(img.fd))).toThrowError(/boot sector: jump instruction starts with 0x00/);
  });

  it('names: long names, NT case bits on 8.3 names, short aliases, the OEM code page', () => {
    const vol = volumeOf(images.get('fat16')!);
    const byPath = new Map(walkAll(vol).map((e) => [e.path, e]));
    const lower = byPath.get('/lower.txt')!;
    expect(lower.entry.longName).toBeNull();
    expect(lower.shortName).toBe('LOWER.TXT');
    expect(lower.entry.short.ntCase).toBe(0x18);
    const base = byPath.get('/base.TXT')!;
    expect(base.entry.longName).toBeNull();
    expect(base.entry.short.ntCase).toBe(0x08);
    expect(byPath.get('/UPPER.TXT')!.entry.longName).toBeNull();
    expect(byPath.get('/MiXeD.Txt')!.entry.longName).not.toBeNull();
    expect(byPath.get('/A Long File Name with spaces.txt')!.shortName).toMatch(/^ALONGF~\d\.TXT$/);
    expect(byPath.get('/日本語のファイル名.txt')!.name).toBe('日本語のファイル名.txt');
    expect(byPath.get(`/${'n'.repeat(200)}.txt`)).toBeDefined();
    expect(byPath.get('/Dir With Long Name/sub dir/x.txt')!.parentCluster).toBe(byPath.get('/Dir With Long Name/sub dir')!.entry.short.cluster);
    expect(byPath.get('/Dir With Long Name')!.parentCluster).toBe('root');
    // mtools writes non-ASCII short-name bytes in code page 850 (its default): 'ï' → 'Ï' (0xD8).
    const naive = '/naïve café ✓ résumé.txt';
    expect(byPath.get(naive)!.shortName).toMatch(/^NA╪VEC~\d\.TXT$/);
    const cp850 = FatVolume.open(new FileSource(images.get('fat16')!.fd), { codepage: 'cp850' });
    const e850 = walkAll(cp850).find((e) => e.path === naive)!;
    expect(e850.shortName).toMatch(/^NAÏVEC~\d\.TXT$/);
    expect(() => FatVolume.open(new FileSource(images.get('fat16')!.fd), { codepage: 'no-such-page' })).toThrowError(FatError);
  });

  it('directories span many clusters; the fragmented file has several runs', () => {
    for (const name of ['fat12', 'fat16', 'fat32']) {
      const vol = volumeOf(images.get(name)!);
      const byPath = new Map(walkAll(vol).map((e) => [e.path, e]));
      const frag = byPath.get('/frag/fragmented.bin')!;
      const runs = vol.chain(frag.entry.short.cluster, frag.path);
      expect(runs.reduce((n, r) => n + r.length, 0)).toBe(11);
      if (vol.fatBits !== 32) expect(runs.length).toBeGreaterThan(1);
      const many = byPath.get('/many');
      if (many !== undefined) {
        const dirRuns = vol.chain(many.entry.short.cluster, many.path);
        const clusters = dirRuns.reduce((n, r) => n + r.length, 0);
        expect(clusters * vol.clusterSize).toBeGreaterThan(2000 * 64);
        expect(vol.readDirectory(many.entry.short.cluster, '/many').filter((e) => e.longName !== null)).toHaveLength(2000);
      }
    }
  });

  it('a FAT32 with millions of clusters: the FAT is read in blocks, free space counted from it', () => {
    const path = join(work, 'huge32.img');
    run('mkfs.fat', ['-F', '32', '-s', '1', '-n', 'HUGE', '-C', path, String(2200 * 1024)], { env: ENV });
    const fd = openFile(path);
    const source = new FileSource(fd);
    const vol = FatVolume.open(source);
    expect(vol.clusterCount).toBeGreaterThan(4_000_000);
    const readsBefore = source.reads;
    const text = run('fsck.fat', ['-n', path], { env: ENV }).stdout.toString('utf8');
    const m = /(\d+) files, (\d+)\/(\d+) clusters/.exec(text)!;
    expect(vol.freeClusters()).toBe(Number(m[3]) - Number(m[2]));
    // 64 KiB blocks: about FAT bytes / 64 KiB reads, not one per entry.
    expect(source.reads - readsBefore).toBeLessThanOrEqual(Math.ceil((vol.boot.fatSectors * 512) / 65536) + 1);
    expect(walkAll(vol)).toEqual([]);
    expect(vol.label).toBe('HUGE');
    rmSync(path);
  });
});

// ---------------------------------------------------------------- corruption

/** FAT entry writer for all FATs of an in-memory image. */
function setFat(bytes: Uint8Array, vol: FatVolume, cluster: number, value: number): void {
  const b = vol.boot;
  for (let f = 0; f < b.numFats; f++) {
    const fat = (b.reservedSectors + f * b.fatSectors) * b.bytesPerSector;
    const bits: FatBits = vol.fatBits;
    if (bits === 12) {
      const o = fat + cluster + (cluster >> 1);
      const v = bytes[o]! | (bytes[o + 1]! << 8);
      const nv = (cluster & 1) === 1 ? (v & 0x000f) | (value << 4) : (v & 0xf000) | value;
      bytes[o] = nv & 0xff;
      bytes[o + 1] = (nv >> 8) & 0xff;
    } else if (bits === 16) {
      new DataView(bytes.buffer, bytes.byteOffset).setUint16(fat + cluster * 2, value, true);
    } else {
      new DataView(bytes.buffer, bytes.byteOffset).setUint32(fat + cluster * 4, value, true);
    }
  }
}

/** Byte offset (in the volume) of directory slot `slot` of the directory at `dirCluster`. */
function slotOffset(vol: FatVolume, dirCluster: number | 'root', slot: number): number {
  const b = vol.boot;
  if (dirCluster === 'root' && vol.fatBits !== 32) return (b.reservedSectors + b.numFats * b.fatSectors) * b.bytesPerSector + slot * 32;
  const runs = vol.chain(dirCluster === 'root' ? b.rootCluster : dirCluster, 'test');
  let pos = slot * 32;
  for (const r of runs) {
    const len = r.length * vol.clusterSize;
    if (pos < len) return b.dataStartSector * b.bytesPerSector + (r.start - 2) * vol.clusterSize + pos;
    pos -= len;
  }
  throw new Error('slot past the directory');
}

function expectFatError(fn: () => unknown, message: RegExp): FatError {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(error, 'expected a FatError').toBeInstanceOf(FatError);
  expect((error as FatError).message).toMatch(message);
  expect((error as FatError).message).not.toContain('\n');
  return error as FatError;
}

describe('corrupted copies are refused with a FatError', () => {
  let pristine: Uint8Array;
  let vol0: FatVolume;
  let byPath: Map<string, FatTreeEntry>;
  beforeAll(() => {
    pristine = new Uint8Array(readFileSync(images.get('fat12')!.path));
    vol0 = FatVolume.open(new MemoryByteSource(pristine));
    byPath = new Map(walkAll(vol0).map((e) => [e.path, e]));
  });
  const copy = (): Uint8Array => pristine.slice();
  const open = (bytes: Uint8Array): FatVolume => FatVolume.open(new MemoryByteSource(bytes));
  const readAll = (vol: FatVolume): void => {
    vol.walk((e) => {
      if (!e.isDirectory) vol.readFile(e.entry.short.cluster, e.entry.short.size, e.path);
    });
  };
  const clustersOf = (path: string): number[] => {
    const e = byPath.get(path)!;
    return vol0.chain(e.entry.short.cluster, path).flatMap((r) => Array.from({ length: r.length }, (_, i) => r.start + i));
  };

  it('a FAT loop', () => {
    const c = clustersOf('/c3.bin');
    expect(c).toHaveLength(4);
    const bytes = copy();
    setFat(bytes, vol0, c[3]!, c[1]!);
    expectFatError(() => readAll(open(bytes)), new RegExp(`^/c3\\.bin: cluster chain loops at cluster ${c[1]} \\(cluster ${c[3]} points back to it\\)$`));
    const self = copy();
    setFat(self, vol0, c[0]!, c[0]!);
    expectFatError(() => readAll(open(self)), new RegExp(`/c3\\.bin: cluster chain loops at cluster ${c[0]} \\(cluster ${c[0]} points back to it\\)$`));
  });

  it('a long loop in a big FAT32 file is found quickly', () => {
    const img = images.get('fat32')!;
    const vol = volumeOf(img);
    const e = walkAll(vol).find((x) => x.path === '/big.bin')!;
    const runs = vol.chain(e.entry.short.cluster, e.path);
    const last = runs[runs.length - 1]!;
    const lastCluster = last.start + last.length - 1;
    const b = vol.boot;
    const patch = new Uint8Array(4);
    new DataView(patch.buffer).setUint32(0, e.entry.short.cluster + 3, true);
    const source = new FileSource(img.fd).patch((b.reservedSectors + b.activeFat * b.fatSectors) * 512 + lastCluster * 4, patch);
    const t = Date.now();
    expectFatError(() => volumeOf(img, source).chain(e.entry.short.cluster, e.path), new RegExp(`^/big\\.bin: cluster chain loops at cluster ${e.entry.short.cluster + 3} \\(cluster ${lastCluster} points back to it\\)$`));
    expect(Date.now() - t).toBeLessThan(2000);
  });

  it('a cluster number past the end, a reserved value, a free or bad cluster in a chain', () => {
    const c = clustersOf('/big.bin');
    const cases: Array<[number, RegExp]> = [
      [vol0.clusterCount + 10, new RegExp(`^/big\\.bin: cluster ${c[1]} points to ${vol0.clusterCount + 10}, outside the data area \\(2\\.\\.${vol0.clusterCount + 1}\\)$`)],
      [0xff0, /points to 4080, outside the data area/],
      [1, /points to 1, outside the data area/],
      [0, new RegExp(`cluster chain runs into free cluster ${c[1]}`)],
      [0xff7, new RegExp(`cluster chain runs into bad cluster ${c[1]}`)],
    ];
    for (const [value, message] of cases) {
      const bytes = copy();
      setFat(bytes, vol0, c[1]!, value);
      expectFatError(() => readAll(open(bytes)), message);
    }
  });

  it('a chain shorter than the file size, a size past the volume, a start cluster past the end', () => {
    const c = clustersOf('/c3.bin');
    const e = byPath.get('/c3.bin')!;
    const short = copy();
    setFat(short, vol0, c[1]!, FAT_EOC[12]);
    expectFatError(() => readAll(open(short)), /^\/c3\.bin: cluster chain holds 2 clusters \(1024 bytes\), fewer than the 4 a size of 1543 bytes needs$/);

    const at = slotOffset(vol0, e.parentCluster, e.entry.slot);
    const huge = copy();
    new DataView(huge.buffer).setUint32(at + 28, 0xffffffff, true);
    expectFatError(() => readAll(open(huge)), /^\/c3\.bin: file size 4294967295 needs \d+ clusters, more than the volume has \(2847\)$/);

    const past = copy();
    new DataView(past.buffer).setUint16(at + 26, 0xfff, true);
    expectFatError(() => readAll(open(past)), /^\/c3\.bin: first cluster 4095 is outside the data area \(2\.\.2848\)$/);

    const none = copy();
    new DataView(none.buffer).setUint16(at + 26, 0, true);
    expectFatError(() => readAll(open(none)), /^\/c3\.bin: file of 1543 bytes has no clusters/);
  });

  it('directory cycles, a subdirectory without a cluster, a looping directory chain', () => {
    const l1 = byPath.get('/deep/level01')!;
    const l2 = byPath.get('/deep/level01/level02')!;
    const cycle = copy();
    new DataView(cycle.buffer).setUint16(slotOffset(vol0, l2.parentCluster, l2.entry.slot) + 26, l1.entry.short.cluster, true);
    expectFatError(() => walkAll(open(cycle)), new RegExp(`^/deep/level01/level02: directory cycle: its cluster ${l1.entry.short.cluster} is already the directory /deep/level01$`));

    const zero = copy();
    new DataView(zero.buffer).setUint16(slotOffset(vol0, l2.parentCluster, l2.entry.slot) + 26, 0, true);
    expectFatError(() => walkAll(open(zero)), /^\/deep\/level01\/level02: subdirectory has no cluster/);

    const loop = copy();
    const many = byPath.get('/frag')!; // any directory
    setFat(loop, vol0, many.entry.short.cluster, many.entry.short.cluster);
    expectFatError(() => walkAll(open(loop)), new RegExp(`^/frag: cluster chain loops at cluster ${many.entry.short.cluster} `));
  });

  it('a FAT32 root directory chain that loops, and one that runs into a free cluster', () => {
    const img = images.get('fat32')!;
    const vol = volumeOf(img);
    const b = vol.boot;
    const fatAt = (b.reservedSectors + b.activeFat * b.fatSectors) * b.bytesPerSector + b.rootCluster * 4;
    const value = (v: number): Uint8Array => {
      const p = new Uint8Array(4);
      new DataView(p.buffer).setUint32(0, v, true);
      return p;
    };
    const looping = volumeOf(img, new FileSource(img.fd).patch(fatAt, value(b.rootCluster)));
    expectFatError(() => walkAll(looping), new RegExp(`^/: cluster chain loops at cluster ${b.rootCluster} `));
    const free = volumeOf(img, new FileSource(img.fd).patch(fatAt, value(0)));
    expectFatError(() => free.label, new RegExp(`^/: cluster chain runs into free cluster ${b.rootCluster}$`));
  });

  it('a name with a slash in it', () => {
    const e = byPath.get('/A Long File Name with spaces.txt')!;
    const bytes = copy();
    // The long name's first slot sits right before the 8.3 entry; its first unit is at offset 1.
    const lfn = slotOffset(vol0, 'root', e.entry.slot - 1);
    expect(bytes[lfn + 11]).toBe(0x0f);
    bytes[lfn + 1] = '/'.charCodeAt(0);
    expectFatError(() => walkAll(open(bytes)), /^\/, entry \d+: name ".*\/.*" can't be a file name$/);
  });

  it('bad boot sectors, a source shorter than the volume, an offset past the end', () => {
    const bad = copy();
    bad[0x0b] = 0;
    bad[0x0c] = 0;
    expectFatError(() => open(bad), /^boot sector: bytes per sector \(offset 0x0b\) is 0/);
    const spc = copy();
    spc[0x0d] = 6;
    expectFatError(() => open(spc), /sectors per cluster \(offset 0x0d\) is 6/);
    const err = expectFatError(() => open(pristine.slice(0, pristine.length / 2)), /the filesystem ends at byte 1474560 but the source holds only 737280 bytes/);
    expect(err.code).toBe('io');
    expectFatError(() => FatVolume.open(new MemoryByteSource(pristine), { offset: pristine.length }), /too few for a boot sector/);
    expectFatError(() => FatVolume.open(new MemoryByteSource(new Uint8Array(4096))), /signature at offset 510/);
  });

  it('random damage to the FAT and directories: FatError or success, never another error or a hang', () => {
    let seed = 0x1234567;
    const rand = (n: number): number => {
      seed ^= seed << 13;
      seed >>>= 0;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      seed >>>= 0;
      return seed % n;
    };
    const b = vol0.boot;
    const fatBytes = b.fatSectors * b.bytesPerSector;
    const fatStart = b.reservedSectors * b.bytesPerSector;
    const rootStart = fatStart + b.numFats * fatBytes;
    const dataStart = b.dataStartSector * b.bytesPerSector;
    const dirBytes = [...byPath.values()].filter((e) => e.isDirectory).flatMap((e) => vol0.chain(e.entry.short.cluster, e.path));
    let refused = 0;
    for (let i = 0; i < 300; i++) {
      const bytes = copy();
      for (let k = 1 + rand(6); k > 0; k--) {
        const area = rand(3);
        let at: number;
        if (area === 0) at = fatStart + rand(Math.min(fatBytes, 1200));
        else if (area === 1) at = rootStart + rand(b.rootDirSectors * b.bytesPerSector);
        else {
          const r = dirBytes[rand(dirBytes.length)]!;
          at = dataStart + (r.start - 2) * vol0.clusterSize + rand(r.length * vol0.clusterSize);
        }
        bytes[at] = rand(256);
      }
      try {
        const vol = open(bytes);
        readAll(vol);
        vol.freeClusters();
      } catch (e) {
        if (!(e instanceof FatError)) throw e;
        expect(e.message).not.toContain('\n');
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(20);
  });
});
