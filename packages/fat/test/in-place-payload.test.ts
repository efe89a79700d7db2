// The FAT exporter's in-place commit payload (packages/fat/src/in-place-exporter.ts): its layout and
// round trip on FAT12/16/32, every refusal of a damaged or impossible payload (the geometry checked
// against the filesystem and itself, every length against the geometry, every run), the bound it
// gives before a read, the commit it regenerates (the reserved region but sector 0, FSInfo and the
// backup boot sector on FAT32, both FATs, the FAT12/16 root; last the boot sector at 0), and the
// journals of earlier fsconv (versions 1 and 2), built here byte by byte as their encoder wrote them.
// The generic journal around the payload is tested in packages/core/test/journal.test.ts.
import { describe, expect, it } from 'vitest';
import { FsconvError, crc32, type CommitWrite, type SourceFingerprint } from '@fsconv/base';
import { encodeBootSector, encodeFsInfo, standardBootFields } from '../src/boot-sector.js';
import type { ClusterRun } from '../src/fat-table.js';
import type { Geometry } from '../src/geometry.js';
import { commitProgram, decodePayload, encodePayload, fatInPlaceExporter, payloadBytesFor, type FatPayload } from '../src/in-place-exporter.js';
import type { FatBits } from '../src/constants.js';

/** A geometry consistent in every field the decoder checks: the dependent fields computed from the others. */
function geometry(fatBits: FatBits, bytesPerSector: number, sectorsPerCluster: number, reservedSectors: number, fatSectors: number, rootEntries: number, totalSectors: number): Geometry {
  const rootDirSectors = Math.ceil((rootEntries * 32) / bytesPerSector);
  const dataStartSector = reservedSectors + 2 * fatSectors + rootDirSectors;
  return {
    fatBits, bytesPerSector, sectorsPerCluster, clusterSize: bytesPerSector * sectorsPerCluster, reservedSectors, numFats: 2, fatSectors,
    rootEntries, rootDirSectors, totalSectors, dataStartSector, clusterCount: Math.floor((totalSectors - dataStartSector) / sectorsPerCluster), unusedTailBytes: 0,
  };
}

// 8 MiB FAT12 with 2 KiB clusters, 32 MiB FAT16 with 1 KiB clusters, 32 MiB FAT32 with 1 KiB clusters, 64 MiB FAT32 with 4096-byte sectors.
const FAT12 = geometry(12, 512, 4, 4, 12, 512, 16384);
const FAT16 = geometry(16, 512, 2, 4, 128, 512, 65536);
const FAT32 = geometry(32, 512, 2, 32, 256, 0, 65536);
const FAT32_4K = geometry(32, 4096, 1, 32, 16, 0, 16384);
const fsBytesOf = (g: Geometry): number => g.totalSectors * g.bytesPerSector;

const RUNS: ClusterRun[] = [
  { start: 2, length: 10, next: 0 }, { start: 12, length: 1, next: 14 }, { start: 14, length: 2, next: 0 }, { start: 100, length: 3, next: 0, bad: true },
];

function bootSectorOf(g: Geometry): Uint8Array {
  return encodeBootSector({
    fatBits: g.fatBits, bytesPerSector: g.bytesPerSector, sectorsPerCluster: g.sectorsPerCluster, reservedSectors: g.reservedSectors, numFats: 2,
    rootEntries: g.rootEntries, totalSectors: g.totalSectors, fatSectors: g.fatSectors, ...standardBootFields(fsBytesOf(g)), hiddenSectors: 0,
    volumeId: 0x12345678, label: '', rootCluster: g.fatBits === 32 ? 2 : 0, fsInfoSector: g.fatBits === 32 ? 1 : 0, backupBootSector: g.fatBits === 32 ? 6 : 0,
  });
}

/** A boot sector for geometries encodeBootSector rightly refuses (the decoder must refuse them by their geometry alone). */
const PLAIN_BOOT = ((): Uint8Array => { const b = new Uint8Array(512).fill(0x3c); b[510] = 0x55; b[511] = 0xaa; return b; })();
/** The payload of an impossible geometry, as a damaged journal could hold it. */
const impossiblePayload = (g: Geometry): Uint8Array => encodePayload({ ...payloadOf(FAT16, []), geometry: g, bootSector: PLAIN_BOOT, rootDirectory: new Uint8Array(0), fsInfo: new Uint8Array(g.fatBits === 32 ? 512 : 0) });

function payloadOf(g: Geometry, runs: ClusterRun[] = RUNS): FatPayload {
  const root = new Uint8Array(g.rootDirSectors * g.bytesPerSector);
  root.fill(0x41, 0, 11); // one entry's name: the bytes come back exactly
  root.fill(0x42, root.length - 32); // and the last entry's
  return {
    geometry: g, bootSector: bootSectorOf(g), fsInfo: g.fatBits === 32 ? encodeFsInfo(100, 3) : new Uint8Array(0),
    rootDirectory: g.fatBits === 32 ? new Uint8Array(0) : root, runs,
  };
}

class Bytes {
  private readonly out: number[] = [];
  u8(v: number): this { this.out.push(v & 0xff); return this; }
  u16(v: number): this { return this.u8(v).u8(v >>> 8); }
  u32(v: number): this { for (let i = 0; i < 4; i++) this.out.push((v >>> (8 * i)) & 0xff); return this; }
  u64(v: number): this { return this.u32(v % 2 ** 32).u32(Math.floor(v / 2 ** 32)); }
  raw(b: ArrayLike<number>): this { for (let i = 0; i < b.length; i++) this.out.push(b[i]!); return this; }
  bytes(b: ArrayLike<number>): this { return this.u32(b.length).raw(b); }
  geometry(g: Geometry): this {
    return this.u8(g.fatBits).u16(g.bytesPerSector).u8(g.sectorsPerCluster).u32(g.reservedSectors).u32(g.fatSectors).u32(g.rootEntries)
      .u32(g.rootDirSectors).u32(g.totalSectors).u32(g.dataStartSector).u32(g.clusterCount);
  }
  runs(runs: readonly ClusterRun[]): this {
    this.u32(runs.length);
    for (const r of runs) this.u32(r.start).u32(r.length).u32(r.bad ? 0xffffffff : r.next);
    return this;
  }
  done(): Uint8Array { return Uint8Array.from(this.out); }
}
const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const seal = (body: Uint8Array): Uint8Array => { const out = new Uint8Array(body.length + 4); out.set(body); new DataView(out.buffer).setUint32(body.length, crc32(body), true); return out; };
const reseal = (j: Uint8Array): Uint8Array => seal(j.subarray(0, j.length - 4));
const put32 = (b: Uint8Array, o: number, v: number): Uint8Array => { const c = b.slice(); new DataView(c.buffer).setUint32(o, v >>> 0, true); return c; };

/** The payload's bytes with geometry field `field` replaced (offsets as laid out: u8, u16, u8, then u32 × 7). */
const GEOMETRY_FIELD_AT = { fatBits: 0, bytesPerSector: 1, sectorsPerCluster: 3, reservedSectors: 4, fatSectors: 8, rootEntries: 12, rootDirSectors: 16, totalSectors: 20, dataStartSector: 24, clusterCount: 28 } as const;
function withField(bytes: Uint8Array, field: keyof typeof GEOMETRY_FIELD_AT, value: number, at = 0): Uint8Array {
  const c = bytes.slice();
  const o = at + GEOMETRY_FIELD_AT[field];
  const v = new DataView(c.buffer);
  if (field === 'fatBits' || field === 'sectorsPerCluster') v.setUint8(o, value);
  else if (field === 'bytesPerSector') v.setUint16(o, value, true);
  else v.setUint32(o, value, true);
  return c;
}

function payloadError(f: () => unknown): FsconvError {
  let err: unknown = null;
  try { f(); } catch (e) { err = e; }
  expect(err).toBeInstanceOf(FsconvError);
  expect((err as FsconvError).code).toBe('fat-payload');
  return err as FsconvError;
}
const expectRefused = (f: () => unknown, re: RegExp): void => { expect(payloadError(f).message).toMatch(re); };
const impossible = (why: string): RegExp => new RegExp(`^the in-place journal's geometry is impossible \\(${why.replace(/[()+]/g, '\\$&')}\\): damaged$`);

const EXPORTER = fatInPlaceExporter({ target: 'vfat+rights' });

describe('the FAT payload codec', () => {
  it('lays out the geometry, boot sector, FSInfo, root and runs as documented', () => {
    const p = payloadOf(FAT16);
    const byHand = new Bytes().geometry(FAT16).bytes(p.bootSector).bytes(p.fsInfo).bytes(p.rootDirectory).runs(RUNS).done();
    expect(Buffer.from(encodePayload(p)).equals(Buffer.from(byHand))).toBe(true);
    // The geometry's first bytes, spelled out: FAT16, 512-byte sectors, 2 sectors per cluster, 4 reserved sectors.
    expect([...encodePayload(p).subarray(0, 8)]).toEqual([16, 0x00, 0x02, 2, 4, 0, 0, 0]);
  });

  for (const [label, g] of [['FAT12', FAT12], ['FAT16', FAT16], ['FAT32', FAT32], ['FAT32 with 4096-byte sectors', FAT32_4K]] as const) {
    it(`round-trips every field on ${label}, in the bytes payloadBytesFor reserves`, () => {
      const p = payloadOf(g);
      const bytes = encodePayload(p);
      expect(decodePayload(bytes, fsBytesOf(g))).toEqual(p);
      expect(bytes.length).toBe(payloadBytesFor(g, RUNS.length, p.rootDirectory.length));
      expect(encodePayload(payloadOf(g, [])).length).toBe(payloadBytesFor(g, 0, p.rootDirectory.length));
      // A bad run comes back as bad, with no chain; a run ending at the last cluster is fine.
      const last: ClusterRun = { start: g.clusterCount + 1, length: 1, next: 0 };
      expect(decodePayload(encodePayload(payloadOf(g, [...RUNS, last])), fsBytesOf(g)).runs.at(-1)).toEqual(last);
      expect(decodePayload(bytes, fsBytesOf(g)).runs[3]).toEqual({ start: 100, length: 3, next: 0, bad: true });
      // The exporter checks it the same way.
      expect(EXPORTER.commitProgram(bytes, fsBytesOf(g)).totalBytes).toBe(commitProgram(p).totalBytes);
    });
  }

  it('bounds a payload by its geometry alone (its first payloadHeadBytes)', () => {
    expect(EXPORTER.payloadHeadBytes).toBe(32);
    for (const g of [FAT12, FAT16, FAT32, FAT32_4K]) {
      const head = encodePayload(payloadOf(g)).subarray(0, 32);
      const limit = 32 + (4 + g.bytesPerSector) * 2 + (4 + g.rootDirSectors * g.bytesPerSector) + 4 + 12 * g.clusterCount;
      expect(EXPORTER.payloadLimit(head, fsBytesOf(g))).toBe(limit);
    }
    expect(EXPORTER.payloadLimit(encodePayload(payloadOf(FAT16)).subarray(0, 32), fsBytesOf(FAT16))).toBe(32 + 516 * 2 + 4 + 16384 + 4 + 12 * 32622);
    expectRefused(() => EXPORTER.payloadLimit(new Uint8Array(31), fsBytesOf(FAT16)), /^the in-place journal is truncated$/);
    expectRefused(() => EXPORTER.payloadLimit(withField(encodePayload(payloadOf(FAT16)), 'fatBits', 8).subarray(0, 32), fsBytesOf(FAT16)), impossible('FAT8'));
  });
});

describe('decodePayload refuses', () => {
  const FS16 = fsBytesOf(FAT16);
  const good = (): Uint8Array => encodePayload(payloadOf(FAT16));

  it('a geometry of impossible FAT bits, sector size or cluster size', () => {
    for (const bits of [0, 8, 24, 64]) expectRefused(() => decodePayload(withField(good(), 'fatBits', bits), FS16), impossible(`FAT${bits}`));
    for (const size of [0, 256, 1000, 1536, 8192]) expectRefused(() => decodePayload(withField(good(), 'bytesPerSector', size), FS16), impossible(`${size}-byte sectors`));
    for (const n of [0, 3, 255]) expectRefused(() => decodePayload(withField(good(), 'sectorsPerCluster', n), FS16), impossible(`${n} sectors per cluster`));
  });

  it('more sectors than the filesystem being converted holds', () => {
    expectRefused(() => decodePayload(good(), FS16 - 1), impossible(`65536 sectors on a ${FS16 - 1}-byte filesystem`));
    expectRefused(() => decodePayload(good(), FS16 / 2), impossible(`65536 sectors on a ${FS16 / 2}-byte filesystem`));
    // Smaller than the filesystem is fine (its tail lies unused).
    expect(decodePayload(good(), FS16 * 2).geometry).toEqual(FAT16);
  });

  it('fewer than 4 reserved sectors (the marker copies must lie in the reserved region), or no FAT', () => {
    for (const n of [0, 1, 3]) expectRefused(() => decodePayload(withField(good(), 'reservedSectors', n), FS16), impossible(`${n} reserved sectors and 128 FAT sectors`));
    expectRefused(() => decodePayload(withField(good(), 'fatSectors', 0), FS16), impossible('4 reserved sectors and 0 FAT sectors'));
    // 4 is enough (as FAT16 here has).
    expect(decodePayload(good(), FS16).geometry.reservedSectors).toBe(4);
  });

  it('a root size that does not match its entries, or a root where the FAT type has none', () => {
    expectRefused(() => decodePayload(withField(good(), 'rootDirSectors', 31), FS16), impossible('root directory size'));
    expectRefused(() => decodePayload(withField(good(), 'rootEntries', 513), FS16), impossible('root directory size'));
    // FAT12/16 need a fixed root, FAT32 must not have one.
    const noRoot = impossiblePayload(geometry(16, 512, 2, 4, 128, 0, 65536));
    expectRefused(() => decodePayload(noRoot, FS16), impossible('root directory size'));
    const fat32Root = encodePayload({ ...payloadOf(FAT32), geometry: geometry(32, 512, 2, 32, 256, 16, 65536) });
    expectRefused(() => decodePayload(fat32Root, FS16), impossible('root directory size'));
  });

  it('a data area that does not start after the FATs and root, or starts past the end', () => {
    expectRefused(() => decodePayload(withField(good(), 'dataStartSector', 293), FS16), impossible('data area start'));
    expectRefused(() => decodePayload(withField(good(), 'dataStartSector', 291), FS16), impossible('data area start'));
    const huge = geometry(16, 512, 2, 4, 32766, 512, 65536); // its FATs alone are larger than the volume
    expect(huge.dataStartSector).toBe(65568);
    expectRefused(() => decodePayload(impossiblePayload(huge), FS16), impossible('data area start'));
  });

  it('a cluster count that does not follow from the sectors, or no cluster at all', () => {
    for (const n of [FAT16.clusterCount + 1, FAT16.clusterCount - 1, 0]) expectRefused(() => decodePayload(withField(good(), 'clusterCount', n), FS16), impossible('cluster count'));
    const none = geometry(16, 512, 2, 5, 32749, 512, 65536); // one sector of data: no whole cluster
    expect([none.dataStartSector, none.clusterCount]).toEqual([65535, 0]);
    expectRefused(() => decodePayload(impossiblePayload(none), FS16), impossible('cluster count'));
  });

  it('a FAT too small for its clusters', () => {
    const small16 = geometry(16, 512, 2, 4, 127, 512, 65536);
    expect(Math.ceil((small16.clusterCount + 2) * 2)).toBeGreaterThan(127 * 512);
    expectRefused(() => decodePayload(impossiblePayload(small16), FS16), impossible('FAT too small for its clusters'));
    const small12 = geometry(12, 512, 4, 4, 11, 512, 16384);
    expectRefused(() => decodePayload(impossiblePayload(small12), fsBytesOf(FAT12)), impossible('FAT too small for its clusters'));
    const small32 = geometry(32, 512, 2, 32, 250, 0, 65536);
    expectRefused(() => decodePayload(impossiblePayload(small32), FS16), impossible('FAT too small for its clusters'));
    // One sector more and FAT12 fits.
    expect(decodePayload(encodePayload(payloadOf(FAT12, [])), fsBytesOf(FAT12)).geometry.fatSectors).toBe(12);
  });

  it('sector lengths its geometry does not allow', () => {
    const p = payloadOf(FAT16);
    const enc = (over: Partial<FatPayload>): Uint8Array => encodePayload({ ...p, ...over });
    expectRefused(() => decodePayload(enc({ bootSector: new Uint8Array(1024) }), FS16), /^the in-place journal's boot sector is 1024 bytes, more than the 512 its geometry allows$/);
    expectRefused(() => decodePayload(enc({ bootSector: new Uint8Array(100) }), FS16), /^the in-place journal's boot sector is 100 bytes \(damaged\)$/);
    expectRefused(() => decodePayload(enc({ fsInfo: new Uint8Array(513) }), FS16), /^the in-place journal's FSInfo sector is 513 bytes, more than the 512 its geometry allows$/);
    expectRefused(() => decodePayload(enc({ rootDirectory: new Uint8Array(16384 + 32) }), FS16), /^the in-place journal's root directory is 16416 bytes, more than the 16384 its geometry allows$/);
    const q = payloadOf(FAT32);
    expectRefused(() => decodePayload(encodePayload({ ...q, fsInfo: new Uint8Array(0) }), FS16), /^the in-place journal's FSInfo sector is 0 bytes \(damaged\)$/);
    expectRefused(() => decodePayload(encodePayload({ ...q, rootDirectory: new Uint8Array(32) }), FS16), /^the in-place journal's root directory is 32 bytes, more than the 0 its geometry allows$/);
  });

  it('more runs than it holds or than there are clusters', () => {
    const bytes = good();
    const countAt = bytes.length - 4 - 12 * RUNS.length;
    expect(new DataView(bytes.buffer).getUint32(countAt, true)).toBe(4);
    expectRefused(() => decodePayload(put32(bytes, countAt, 5), FS16), /^the in-place journal lists 5 runs, more than it holds or its 32622 clusters allow \(damaged\)$/);
    expectRefused(() => decodePayload(put32(bytes, countAt, 0xffffffff), FS16), /lists 4294967295 runs/);
    // Cut at the end: the runs no longer all fit.
    expectRefused(() => decodePayload(bytes.subarray(0, bytes.length - 5), FS16), /^the in-place journal lists 4 runs, more than it holds/);
    // One run per cluster at most: FAT12's 4081 clusters take 4081 runs, not 4082.
    const one = (n: number): ClusterRun[] => Array.from({ length: n }, (_, i) => ({ start: 2 + i, length: 1, next: 0 }));
    expect(decodePayload(encodePayload(payloadOf(FAT12, one(4081))), fsBytesOf(FAT12)).runs).toHaveLength(4081);
    expectRefused(() => decodePayload(encodePayload(payloadOf(FAT12, one(4082))), fsBytesOf(FAT12)), /^the in-place journal lists 4082 runs, more than it holds or its 4081 clusters allow \(damaged\)$/);
  });

  it('runs that overlap, are out of order, out of range, empty, or chain to no cluster', () => {
    const end = FAT16.clusterCount + 2;
    const cases: Array<[ClusterRun[], string]> = [
      [[{ start: 5, length: 3, next: 0 }, { start: 6, length: 1, next: 0 }], 'run 1 (clusters 6+1 → 0)'], // overlapping
      [[{ start: 5, length: 3, next: 0 }, { start: 7, length: 1, next: 0 }], 'run 1 (clusters 7+1 → 0)'], // overlapping by one
      [[{ start: 10, length: 1, next: 0 }, { start: 5, length: 1, next: 0 }], 'run 1 (clusters 5+1 → 0)'], // out of order
      [[{ start: 1, length: 1, next: 0 }], 'run 0 (clusters 1+1 → 0)'], // below cluster 2
      [[{ start: 0, length: 3, next: 0 }], 'run 0 (clusters 0+3 → 0)'],
      [[{ start: 2, length: 0, next: 0 }], 'run 0 (clusters 2+0 → 0)'], // empty
      [[{ start: FAT16.clusterCount, length: 5, next: 0 }], `run 0 (clusters ${FAT16.clusterCount}+5 → 0)`], // past the last cluster
      [[{ start: end, length: 1, next: 0 }], `run 0 (clusters ${end}+1 → 0)`],
      [[{ start: 2, length: 1, next: end }], `run 0 (clusters 2+1 → ${end})`], // a chain past the end
      [[{ start: 2, length: 1, next: 1 }], 'run 0 (clusters 2+1 → 1)'], // a chain to a reserved entry
      [[{ start: 2, length: 1, next: 0xfffffffe }], 'run 0 (clusters 2+1 → 4294967294)'],
      [[{ start: 2, length: 1, next: 0 }, { start: 3, length: 1, next: 0 }, { start: 3, length: 2, next: 0 }], 'run 2 (clusters 3+2 → 0)'],
    ];
    for (const [runs, what] of cases) {
      expectRefused(() => decodePayload(encodePayload(payloadOf(FAT16, runs)), FS16), new RegExp(`^the in-place journal's ${what.replace(/[()+]/g, '\\$&')} is impossible \\(damaged\\)$`));
    }
    // Adjacent runs, a chain to the last cluster: fine.
    const fine: ClusterRun[] = [{ start: 2, length: 3, next: end - 1 }, { start: 5, length: 1, next: 0 }, { start: end - 1, length: 1, next: 0 }];
    expect(decodePayload(encodePayload(payloadOf(FAT16, fine)), FS16).runs).toEqual(fine);
  });

  it('trailing bytes, a payload longer than its geometry allows, and truncation', () => {
    const bytes = good();
    for (const extra of [1, 3, 12]) {
      const longer = new Uint8Array(bytes.length + extra); longer.set(bytes);
      expectRefused(() => decodePayload(longer, FS16), /^the in-place journal's payload has trailing bytes \(damaged\)$/);
    }
    const limit = EXPORTER.payloadLimit(bytes.subarray(0, 32), FS16);
    const huge = new Uint8Array(limit + 1); huge.set(bytes);
    expectRefused(() => decodePayload(huge, FS16), new RegExp(`^the in-place journal's payload is ${limit + 1} bytes, more than its geometry allows \\(damaged\\)$`));
    expectRefused(() => decodePayload(bytes.subarray(0, 31), FS16), /^the in-place journal is truncated$/);
    expectRefused(() => decodePayload(bytes.subarray(0, 34), FS16), /^the in-place journal is truncated at byte 32$/);
    expectRefused(() => decodePayload(bytes.subarray(0, 300), FS16), /^the in-place journal is truncated at byte 36$/);
    expectRefused(() => decodePayload(bytes.subarray(0, 32 + 516 + 4 + 4 + 100), FS16), /^the in-place journal is truncated at byte 556$/);
    expectRefused(() => decodePayload(bytes.subarray(0, bytes.length - 12 * 4 - 2), FS16), new RegExp(`^the in-place journal is truncated at byte ${bytes.length - 12 * 4 - 4}$`));
    // Through the exporter: the same refusals (the journal turns them into damage).
    expectRefused(() => EXPORTER.commitProgram(bytes.subarray(0, 300), FS16), /truncated at byte 36/);
  });
});

/** Applies a commit's writes (not the final) to a copy of `front` and checks none overlaps another or lies outside the front region. */
function applyWrites(writes: Iterable<CommitWrite>, front: Uint8Array): { bytes: Uint8Array; list: CommitWrite[] } {
  const bytes = front.slice();
  const list = [...writes];
  for (const w of list) bytes.set(w.bytes, w.offset);
  return { bytes, list };
}

describe('the commit program', () => {
  for (const g of [FAT12, FAT16, FAT32, FAT32_4K]) {
    it(`FAT${g.fatBits} with ${g.bytesPerSector}-byte sectors: rewrites the front region whole, in order, and the boot sector last`, () => {
      const p = payloadOf(g);
      const program = commitProgram(p);
      const s = g.bytesPerSector;
      const frontBytes = g.dataStartSector * s;
      const { bytes, list } = applyWrites(program.writes(), new Uint8Array(frontBytes).fill(0xa5));
      // The writes tile bytes s..frontBytes exactly, in increasing order: nothing in sector 0, nothing in the data area.
      let at = s;
      for (const w of list) {
        expect(w.offset).toBe(at);
        at += w.bytes.length;
      }
      expect(at).toBe(frontBytes);
      expect(program.totalBytes).toBe(list.reduce((n, w) => n + w.bytes.length, 0));
      expect(program.totalBytes).toBe((g.reservedSectors - 1) * s + 2 * g.fatSectors * s + g.rootDirSectors * s);
      // A fresh pass each time.
      expect([...program.writes()].map((w) => [w.offset, w.bytes.length])).toEqual(list.map((w) => [w.offset, w.bytes.length]));
      // Sector 0 is left to the final write: the boot sector, padded to a sector.
      expect(bytes.subarray(0, s).every((b) => b === 0xa5)).toBe(true);
      expect(program.final.offset).toBe(0);
      expect(program.final.bytes.length).toBe(s);
      expect(program.final.bytes.subarray(0, 512)).toEqual(p.bootSector);
      expect(program.final.bytes.subarray(512).every((b) => b === 0)).toBe(true);
      // The reserved region: zeros, but on FAT32 FSInfo at sectors 1 and 7 and the backup boot sector at 6.
      const sector = (n: number): Uint8Array => bytes.subarray(n * s, (n + 1) * s);
      const own = new Map<number, Uint8Array>(g.fatBits === 32 ? [[1, p.fsInfo], [6, p.bootSector], [7, p.fsInfo]] : []);
      for (let n = 1; n < g.reservedSectors; n++) {
        const want = own.get(n);
        if (want === undefined) expect(sector(n).every((b) => b === 0), `sector ${n} zero`).toBe(true);
        else {
          expect(sector(n).subarray(0, 512)).toEqual(want);
          expect(sector(n).subarray(512).every((b) => b === 0)).toBe(true);
        }
      }
      // Both FATs, identical: media entry, end-of-chain entry 1, the chains, bad clusters, the rest free.
      const fatBytes = g.fatSectors * s;
      const fat1 = bytes.subarray(g.reservedSectors * s, g.reservedSectors * s + fatBytes);
      const fat2 = bytes.subarray(g.reservedSectors * s + fatBytes, g.reservedSectors * s + 2 * fatBytes);
      expect(Buffer.from(fat1).equals(Buffer.from(fat2))).toBe(true);
      const entry = (n: number): number => {
        if (g.fatBits === 16) return fat1[2 * n]! | (fat1[2 * n + 1]! << 8);
        if (g.fatBits === 32) return new DataView(fat1.buffer, fat1.byteOffset).getUint32(4 * n, true);
        const o = Math.floor((n * 3) / 2);
        const v = fat1[o]! | (fat1[o + 1]! << 8);
        return n % 2 === 0 ? v & 0xfff : v >> 4;
      };
      const eoc = { 12: 0xfff, 16: 0xffff, 32: 0x0fffffff }[g.fatBits];
      const bad = { 12: 0xff7, 16: 0xfff7, 32: 0x0ffffff7 }[g.fatBits];
      const media = { 12: 0xff8, 16: 0xfff8, 32: 0x0ffffff8 }[g.fatBits];
      expect([entry(0), entry(1)]).toEqual([media, eoc]);
      expect(Array.from({ length: 15 }, (_, i) => entry(2 + i))).toEqual([3, 4, 5, 6, 7, 8, 9, 10, 11, eoc, 14, 0, 15, eoc, 0]);
      expect([entry(99), entry(100), entry(101), entry(102), entry(103)]).toEqual([0, bad, bad, bad, 0]);
      expect(entry(g.clusterCount + 1)).toBe(0);
      // FAT12/16: the root region, exactly.
      if (g.fatBits !== 32) expect(bytes.subarray((g.reservedSectors + 2 * g.fatSectors) * s, frontBytes)).toEqual(p.rootDirectory);
    });
  }

  it('FAT32 writes FSInfo at sectors 1 and 7 and the backup boot sector at 6, and zeros in whole runs of at most 64 sectors', () => {
    const p = payloadOf(FAT32);
    const reserved = [...commitProgram(p).writes()].filter((w) => w.offset < FAT32.reservedSectors * 512);
    expect(reserved.map((w) => [w.offset / 512, w.bytes.length / 512])).toEqual([[1, 1], [2, 4], [6, 1], [7, 1], [8, 24]]);
    expect(reserved[0]!.bytes).toEqual(p.fsInfo);
    expect(reserved[2]!.bytes).toEqual(p.bootSector);
    expect(reserved[3]!.bytes).toEqual(p.fsInfo);
    expect(reserved[1]!.bytes.every((b) => b === 0) && reserved[4]!.bytes.every((b) => b === 0)).toBe(true);
    // A large reserved region (aligned to 4 KiB blocks, say) in pieces of 64 sectors.
    const big = geometry(16, 512, 2, 200, 128, 512, 65536);
    const bigReserved = [...commitProgram(payloadOf(big)).writes()].filter((w) => w.offset < 200 * 512);
    expect(bigReserved.map((w) => [w.offset / 512, w.bytes.length / 512])).toEqual([[1, 64], [65, 64], [129, 64], [193, 7]]);
    // FAT12/16: one write for sectors 1..3.
    expect([...commitProgram(payloadOf(FAT16)).writes()][0]).toEqual({ offset: 512, bytes: new Uint8Array(3 * 512) });
  });
});

describe('journals of earlier fsconv (versions 1 and 2)', () => {
  const FINGERPRINT: SourceFingerprint = [['last written', '2026-12-01T10:00:00Z'], ['mount count', '3'], ['bitmaps (sha-256)', 'ab'.repeat(32)]];
  const FP_TEXT = FINGERPRINT.map(([k, v]) => `${k}=${v}\n`).join('');
  interface Legacy { fingerprint?: ArrayLike<number>; sliceOffset?: number; outside?: CommitWrite[]; outsideCount?: number; runs?: ClusterRun[]; tail?: number[] }

  /** A journal as fsconv's encoder of formats 1 and 2 wrote it: magic, version, geometry, boot, FSInfo, root, (2: fingerprint, slice offset, outside writes), runs, CRC-32. */
  function legacyJournal(version: number, p: FatPayload, o: Legacy = {}): Uint8Array {
    const w = new Bytes().raw(ascii('FSCONV-JOURNAL\0\0')).u32(version).geometry(p.geometry).bytes(p.bootSector).bytes(p.fsInfo).bytes(p.rootDirectory);
    if (version !== 1) {
      w.bytes(o.fingerprint ?? ascii(FP_TEXT)).u64(o.sliceOffset ?? 0);
      const outside = o.outside ?? [];
      w.u32(o.outsideCount ?? outside.length);
      for (const x of outside) w.u64(x.offset).bytes(x.bytes);
    }
    return seal(w.runs(o.runs ?? p.runs).raw(o.tail ?? []).done());
  }
  const decode = EXPORTER.decodeLegacyJournal!;
  const limitOf = EXPORTER.legacyJournalLimit!;
  const FS16 = fsBytesOf(FAT16);

  it('decodes version 1 (no fingerprint, no partition fields) into the current payload', () => {
    for (const g of [FAT12, FAT16, FAT32]) {
      const p = payloadOf(g);
      const l = decode(legacyJournal(1, p), fsBytesOf(g));
      expect(l).toEqual({ version: 1, fingerprint: [], sliceOffset: 0, outsideWrites: [], payload: encodePayload(p) });
      expect(decodePayload(l.payload, fsBytesOf(g))).toEqual(p);
    }
  });

  it('decodes version 2: the fingerprint, the slice offset and the table writes, beside the same payload', () => {
    const p = payloadOf(FAT16);
    const outside = [{ offset: 0, bytes: new Uint8Array(512).fill(7) }, { offset: 2 ** 34 + 512, bytes: new Uint8Array(1024).fill(8) }];
    const l = decode(legacyJournal(2, p, { sliceOffset: 2 ** 33, outside }), FS16);
    expect(l).toEqual({ version: 2, fingerprint: FINGERPRINT, sliceOffset: 2 ** 33, outsideWrites: outside, payload: encodePayload(p) });
    // Its commit is the one the payload gives directly.
    const a = [...commitProgram(decodePayload(l.payload, FS16)).writes()];
    const b = [...commitProgram(p).writes()];
    expect(a).toEqual(b);
    const fp = decode(legacyJournal(2, p, { fingerprint: ascii('a=b=c\n\nk=\n') }), FS16).fingerprint;
    expect(fp).toEqual([['a', 'b=c'], ['k', '']]);
  });

  it('bounds a legacy journal by its geometry before it is read whole', () => {
    const p = payloadOf(FAT16);
    const j = legacyJournal(2, p);
    const payloadLimit = 32 + 516 * 2 + 4 + 16384 + 4 + 12 * FAT16.clusterCount;
    const limit = 20 + payloadLimit + (4 + 4096) + 12 + 8 * (12 + 4096) + 4;
    expect(limitOf(j.subarray(0, 64), FS16)).toBe(limit);
    expect(limitOf(legacyJournal(1, p).subarray(0, 52), FS16)).toBe(limit);
    expectRefused(() => limitOf(j.subarray(0, 51), FS16), /^the in-place journal is truncated$/);
    expectRefused(() => limitOf(withField(j, 'fatBits', 8, 20), FS16), impossible('FAT8'));
    expectRefused(() => limitOf(j, FS16 - 512), impossible(`65536 sectors on a ${FS16 - 512}-byte filesystem`));
    // A journal longer than that is refused as a whole too.
    const huge = new Uint8Array(limit + 1); huge.set(j.subarray(0, j.length - 4));
    expectRefused(() => decode(reseal(huge), FS16), new RegExp(`^the in-place journal is ${limit + 1} bytes, more than its geometry allows \\(damaged\\)$`));
  });

  it('refuses damage: checksum, geometry, lengths, fingerprint, outside writes, runs, trailing bytes, truncation', () => {
    const p = payloadOf(FAT16);
    const j = legacyJournal(2, p);
    const flipped = j.slice(); flipped[100]! ^= 1;
    expectRefused(() => decode(flipped, FS16), /^the in-place journal's checksum does not match \(the journal is damaged\)$/);
    expectRefused(() => decode(reseal(withField(j, 'clusterCount', FAT16.clusterCount + 1, 20)), FS16), impossible('cluster count'));
    expectRefused(() => decode(reseal(withField(j, 'reservedSectors', 3, 20)), FS16), impossible('3 reserved sectors and 128 FAT sectors'));
    expectRefused(() => decode(legacyJournal(2, { ...p, bootSector: new Uint8Array(600) }), FS16), /boot sector is 600 bytes, more than the 512 its geometry allows/);
    expectRefused(() => decode(legacyJournal(2, p, { fingerprint: new Uint8Array(4097).fill(0x61) }), FS16), /^the in-place journal's source fingerprint is 4097 bytes, more than the 4096 its geometry allows$/);
    expectRefused(() => decode(legacyJournal(2, p, { fingerprint: [0x61, 0x3d, 0xff] }), FS16), /^the in-place journal's source fingerprint is not text \(damaged\)$/);
    expectRefused(() => decode(legacyJournal(2, p, { fingerprint: ascii('no value\n') }), FS16), /^the in-place journal's source fingerprint is malformed \(damaged\)$/);
    expectRefused(() => decode(legacyJournal(2, p, { outsideCount: 9, outside: [] }), FS16), /^the in-place journal lists 9 writes outside the filesystem, more than the 8 a conversion makes \(damaged\)$/);
    expectRefused(() => decode(legacyJournal(2, p, { outside: [{ offset: 0, bytes: new Uint8Array(4608) }] }), FS16), /write outside the filesystem is 4608 bytes, more than the 4096/);
    expectRefused(() => decode(legacyJournal(2, p, { runs: [{ start: 5, length: 3, next: 0 }, { start: 6, length: 1, next: 0 }] }), FS16), /^the in-place journal's run 1 \(clusters 6\+1 → 0\) is impossible \(damaged\)$/);
    expectRefused(() => decode(legacyJournal(1, p, { runs: [{ start: 2, length: 1, next: FAT16.clusterCount + 2 }] }), FS16), /run 0 \(clusters 2\+1 → 32624\) is impossible/);
    expectRefused(() => decode(legacyJournal(2, p, { tail: [1, 2, 3] }), FS16), /^the in-place journal has trailing bytes \(damaged\)$/);
    expectRefused(() => decode(legacyJournal(1, p, { tail: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] }), FS16), /^the in-place journal has trailing bytes \(damaged\)$/);
    // A version-2 journal read as version 1 (its fingerprint taken for runs), and cut short.
    const as1 = j.slice(); new DataView(as1.buffer).setUint32(16, 1, true);
    expectRefused(() => decode(reseal(as1), FS16), /runs, more than it holds|run 0/);
    expectRefused(() => decode(reseal(j.subarray(0, 200)), FS16), /^the in-place journal is truncated at byte 56$/);
    expectRefused(() => decode(seal(j.subarray(0, 40)), FS16), /^the in-place journal is truncated$/);
  });
});
