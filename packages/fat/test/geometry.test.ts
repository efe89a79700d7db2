import { spawnSync } from 'node:child_process';
import { mkdtempSync, openSync, readSync, closeSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_CLUSTERS, MIN_CLUSTERS, type FatBits } from '../src/constants.js';
import {
  computeGeometry,
  planGeometry,
  type Candidate,
  type Geometry,
  type GeometryOptions,
  type SpaceDemand,
} from '../src/geometry.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const TiB = 1024 * GiB;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'fsconv-geometry-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function geo(r: Geometry | { error: string }): Geometry {
  if ('error' in r) throw new Error(r.error);
  return r;
}
function err(r: Geometry | { error: string }): string {
  if (!('error' in r)) throw new Error(`expected an error, got ${JSON.stringify(r)}`);
  return r.error;
}

/** Independent re-statement of the rules the layout must satisfy. */
function fatBytes(bits: FatBits, entries: number): number {
  return bits === 12 ? Math.ceil((entries * 3) / 2) : (entries * bits) / 8;
}
function checkLayout(g: Geometry, partitionBytes: number): void {
  const bps = g.bytesPerSector;
  expect(g.totalSectors).toBe(Math.floor(partitionBytes / bps));
  expect(g.dataStartSector).toBe(g.reservedSectors + 2 * g.fatSectors + g.rootDirSectors);
  // The cluster count is exactly the one the layout implies.
  expect(g.clusterCount).toBe(Math.floor((g.totalSectors - g.dataStartSector) / g.sectorsPerCluster));
  // The FAT covers clusterCount + 2 entries.
  expect(g.fatSectors * bps).toBeGreaterThanOrEqual(fatBytes(g.fatBits, g.clusterCount + 2));
  expect(g.clusterCount).toBeGreaterThanOrEqual(MIN_CLUSTERS[g.fatBits]);
  expect(g.clusterCount).toBeLessThanOrEqual(MAX_CLUSTERS[g.fatBits]);
  expect([4085, 4086]).not.toContain(g.clusterCount);
  expect(g.unusedTailBytes).toBe(partitionBytes - (g.dataStartSector + g.clusterCount * g.sectorsPerCluster) * bps);
  expect(g.unusedTailBytes).toBeGreaterThanOrEqual(0);
  expect(g.unusedTailBytes).toBeLessThan(g.clusterSize + bps);
  if (g.fatBits === 32) {
    expect(g.rootEntries).toBe(0);
    expect(g.rootDirSectors).toBe(0);
    expect(g.reservedSectors).toBeGreaterThanOrEqual(32);
  } else {
    expect(g.rootDirSectors).toBeGreaterThanOrEqual(1);
    expect(g.rootEntries).toBe((g.rootDirSectors * bps) / 32);
    expect(g.reservedSectors).toBeGreaterThanOrEqual(1);
  }
}
/** One FAT sector less would not cover the clusters it would leave (same reserved count). */
function isMinimalFat(g: Geometry): boolean {
  const f = g.fatSectors - 1;
  if (f < 1) return true;
  const clusters = Math.floor((g.totalSectors - (g.reservedSectors + 2 * f + g.rootDirSectors)) / g.sectorsPerCluster);
  return f * g.bytesPerSector < fatBytes(g.fatBits, clusters + 2);
}

interface BootFields {
  bps: number;
  spc: number;
  reserved: number;
  fats: number;
  rootEntries: number;
  totalSectors: number;
  fatSectors: number;
}
function readBoot(img: string): BootFields {
  const b = Buffer.alloc(512);
  const fd = openSync(img, 'r');
  try {
    readSync(fd, b, 0, 512, 0);
  } finally {
    closeSync(fd);
  }
  return {
    bps: b.readUInt16LE(0x0b),
    spc: b.readUInt8(0x0d),
    reserved: b.readUInt16LE(0x0e),
    fats: b.readUInt8(0x10),
    rootEntries: b.readUInt16LE(0x11),
    totalSectors: b.readUInt16LE(0x13) || b.readUInt32LE(0x20),
    fatSectors: b.readUInt16LE(0x16) || b.readUInt32LE(0x24),
  };
}

let imgSeq = 0;
/** mkfs.fat with alignment off (-a) so that reserved sectors and root entries are used exactly. */
function mkfs(kb: number, g: Pick<Geometry, 'fatBits' | 'sectorsPerCluster' | 'reservedSectors' | 'rootEntries' | 'bytesPerSector'>): string {
  const img = join(dir, `img${imgSeq++}`);
  const args = ['-C', img, String(kb), '-F', String(g.fatBits), '-s', String(g.sectorsPerCluster), '-S', String(g.bytesPerSector)];
  args.push('-R', String(g.reservedSectors), '-f', '2', '-a', '--invariant');
  if (g.fatBits !== 32) args.push('-r', String(g.rootEntries));
  const r = spawnSync('mkfs.fat', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mkfs.fat ${args.join(' ')} failed: ${r.stderr}`);
  return img;
}
function fsckClean(img: string): { clean: boolean; output: string } {
  const r = spawnSync('fsck.fat', ['-n', '-V', img], { encoding: 'utf8' });
  const output = `${r.stdout}${r.stderr}`;
  const extra = output
    .split('\n')
    .filter((l) => l.trim() !== '')
    .filter((l) => !/^fsck\.fat \d/.test(l))
    .filter((l) => l !== 'Starting check/repair pass.' && l !== 'Starting verification pass.')
    .filter((l) => !/^\S+: \d+ files?, \d+\/\d+ clusters$/.test(l));
  return { clean: r.status === 0 && extra.length === 0, output };
}

/** A deterministic PRNG for the size sweep. */
function lcg(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
}

describe('computeGeometry against mkfs.fat', () => {
  it('matches mkfs.fat (fat length, cluster count, layout) over a range of sizes', () => {
    const cases: { kb: number; bits: FatBits; spc: number; reserved: number; slots: number; bps?: number }[] = [];
    for (const kb of [200, 1000, 1440, 2000, 4000, 8000]) for (const spc of [1, 2, 4]) cases.push({ kb, bits: 12, spc, reserved: 1, slots: 224 });
    for (const kb of [3000, 10000, 33000, 130000, 250000]) for (const spc of [1, 2, 8, 16]) cases.push({ kb, bits: 16, spc, reserved: 1, slots: 512 });
    for (const kb of [40000, 130000, 300000, 600000]) for (const spc of [1, 2, 8]) cases.push({ kb, bits: 32, spc, reserved: 32, slots: 0 });
    const rnd = lcg(7);
    for (let i = 0; i < 45; i++) {
      const bits = ([12, 16, 32] as const)[i % 3]!;
      const spc = [1, 2, 4, 8, 16, 32, 64][Math.floor(rnd() * 7)]!;
      const kb =
        bits === 12 ? 64 + Math.floor(rnd() * 20000) : bits === 16 ? 2000 + Math.floor(rnd() * 2_000_000) : 33000 + Math.floor(rnd() * 1_500_000);
      const reserved = bits === 32 ? 32 + Math.floor(rnd() * 10) : 1 + Math.floor(rnd() * 6);
      cases.push({ kb, bits, spc, reserved, slots: Math.floor(rnd() * 700) });
    }
    // 4096-byte sectors.
    cases.push({ kb: 300000, bits: 32, spc: 1, reserved: 32, slots: 0, bps: 4096 });
    cases.push({ kb: 100000, bits: 16, spc: 1, reserved: 1, slots: 100, bps: 4096 });

    let compared = 0;
    let mkfsMinimal = 0;
    for (const c of cases) {
      const bps = c.bps ?? 512;
      const r = computeGeometry(c.kb * KiB, c.bits, c.spc * bps, { minReservedSectors: c.reserved, rootSlots: c.slots, bytesPerSector: bps });
      if ('error' in r) {
        // Only out-of-range cluster counts are expected to be refused here.
        expect(r.error).toMatch(/clusters, (more|fewer) than the \d+ FAT(12|16|32)/);
        continue;
      }
      checkLayout(r, c.kb * KiB);
      expect(isMinimalFat(r)).toBe(true);
      expect(r.reservedSectors).toBe(c.reserved);
      const img = mkfs(c.kb, r);
      const b = readBoot(img);
      rmSync(img);
      expect(b.bps).toBe(bps);
      expect(b.spc).toBe(c.spc);
      expect(b.fats).toBe(2);
      expect(b.reserved).toBe(r.reservedSectors);
      expect(b.rootEntries).toBe(r.rootEntries);
      expect(b.totalSectors).toBe(r.totalSectors);
      const rootSecs = Math.ceil((b.rootEntries * 32) / bps);
      const mkfsClusters = Math.floor((b.totalSectors - b.reserved - 2 * b.fatSectors - rootSecs) / b.spc);
      const mkfsGeo = { ...r, fatSectors: b.fatSectors, clusterCount: mkfsClusters };
      // Ours is the least FAT length that covers its clusters, so never longer than mkfs.fat's.
      expect(r.fatSectors).toBeLessThanOrEqual(b.fatSectors);
      if (isMinimalFat(mkfsGeo)) {
        mkfsMinimal++;
        expect(r.fatSectors).toBe(b.fatSectors);
        expect(r.clusterCount).toBe(mkfsClusters);
      }
      compared++;
    }
    expect(compared).toBeGreaterThanOrEqual(60);
    expect(mkfsMinimal).toBe(compared); // mkfs.fat 4.2 with -a picked the minimal FAT length every time
  });
});

describe('alignment', () => {
  it('puts the data area on a multiple of alignDataTo by growing the reserved sectors only as needed', () => {
    for (const align of [1024, 2048, 4096, 65536]) {
      for (const [bits, size, cs] of [
        [12, 3 * MiB + 512 * 7, 1024],
        [16, 100 * MiB + 512 * 3, 2048],
        [16, 30 * MiB + 512, 512],
        [32, 600 * MiB + 512 * 5, 4096],
        [32, 2 * GiB + 512 * 9, 8192],
      ] as const) {
        for (const minReservedSectors of [undefined, 7, 100]) {
          for (const rootSlots of [0, 17, 512]) {
            const opts: GeometryOptions = { alignDataTo: align, rootSlots };
            if (minReservedSectors !== undefined) opts.minReservedSectors = minReservedSectors;
            const g = geo(computeGeometry(size, bits, cs, opts));
            checkLayout(g, size);
            expect((g.dataStartSector * 512) % align).toBe(0);
            const floor = Math.max(bits === 32 ? 32 : 1, minReservedSectors ?? 0);
            expect(g.reservedSectors).toBeGreaterThanOrEqual(floor);
            expect(g.reservedSectors - floor).toBeLessThan(align / 512);
            expect(isMinimalFat(g)).toBe(true);
          }
        }
      }
    }
  });

  it('alignment smaller than a sector is free; without it FAT32 has 32 reserved sectors and FAT12/16 one', () => {
    const a = geo(computeGeometry(300 * MiB, 32, 4096, { bytesPerSector: 4096, alignDataTo: 1024 }));
    expect(a.reservedSectors).toBe(32);
    expect(geo(computeGeometry(300 * MiB, 32, 4096)).reservedSectors).toBe(32);
    expect(geo(computeGeometry(20 * MiB, 16, 512)).reservedSectors).toBe(1);
    expect(geo(computeGeometry(1 * MiB, 12, 512)).reservedSectors).toBe(1);
  });

  it('planGeometry passes the alignment through to every candidate', () => {
    const plan = planGeometry(300 * MiB, { clustersNeeded: (cs) => Math.ceil((50 * MiB) / cs), rootSlots: 40 }, { alignDataTo: 4096 });
    expect(plan.chosen).not.toBeNull();
    for (const c of plan.candidates) if (c.geometry) expect((c.geometry.dataStartSector * 512) % 4096).toBe(0);
  });
});

describe('root directory and tail', () => {
  it('sizes the FAT12/16 root from rootSlots in whole sectors, at least one', () => {
    expect(geo(computeGeometry(10 * MiB, 16, 2048, { rootSlots: 0 })).rootEntries).toBe(16);
    expect(geo(computeGeometry(10 * MiB, 16, 2048, { rootSlots: 16 })).rootEntries).toBe(16);
    expect(geo(computeGeometry(10 * MiB, 16, 2048, { rootSlots: 17 })).rootEntries).toBe(32);
    expect(geo(computeGeometry(20 * MiB, 16, 4096, { rootSlots: 17, bytesPerSector: 4096 })).rootEntries).toBe(128);
    expect(geo(computeGeometry(200 * MiB, 32, 2048, { rootSlots: 5000 })).rootEntries).toBe(0);
  });

  it('reports the bytes after the last whole cluster', () => {
    const g = geo(computeGeometry(10 * MiB + 700, 16, 2048));
    checkLayout(g, 10 * MiB + 700);
    expect(g.unusedTailBytes % 512).toBe(700 % 512);
  });
});

describe('rejections are explained in words and numbers', () => {
  it('too many clusters for the type', () => {
    const e = err(computeGeometry(64 * MiB, 12, 512));
    expect(e).toMatch(/^FAT12 with 512-byte clusters: \d+ clusters, more than the 4084 FAT12 allows/);
    expect(err(computeGeometry(1 * GiB, 16, 512))).toMatch(/FAT16 with 512-byte clusters: \d{6,} clusters, more than the 65524 FAT16 allows/);
  });

  it('too few clusters for the type', () => {
    expect(err(computeGeometry(16 * MiB, 32, 4096))).toMatch(/FAT32 with 4096-byte clusters: \d+ clusters, fewer than the 65525 FAT32 needs/);
    expect(err(computeGeometry(4 * MiB, 16, 4096))).toMatch(/FAT16 with 4096-byte clusters: \d+ clusters, fewer than the 4087 FAT16 needs/);
  });

  it('FAT32 total sectors over 2^32 − 1', () => {
    const e = err(computeGeometry(3 * TiB, 32, 32768));
    expect(e).toMatch(/FAT32 with 32768-byte clusters: 6442450944 sectors of 512 bytes, more than the 4294967295/);
    // Bigger sectors make it possible.
    checkLayout(geo(computeGeometry(3 * TiB, 32, 32768, { bytesPerSector: 4096 })), 3 * TiB);
  });

  it('root directory over 65535 entries', () => {
    const e = err(computeGeometry(100 * MiB, 16, 4096, { rootSlots: 65530 }));
    expect(e).toMatch(/root directory needs 65530 slots, 65536 entries .*more than the 65535/);
    const plan = planGeometry(100 * MiB, { clustersNeeded: () => 10, rootSlots: 65530 });
    for (const c of plan.candidates.filter((c) => c.fatBits !== 32)) {
      expect(c.feasible).toBe(false);
      expect(c.reasons.join(' ')).toMatch(/65535/);
    }
    expect(plan.chosen?.fatBits).toBe(32);
  });

  it('reserved sectors over 65535', () => {
    expect(err(computeGeometry(1 * GiB, 32, 4096, { minReservedSectors: 70000 }))).toMatch(/70000 reserved sectors needed.*more than the 65535/);
  });

  it('partition too small for any cluster', () => {
    expect(err(computeGeometry(4096, 12, 4096))).toMatch(/partition of 4096 bytes \(8 sectors\) is too small/);
    const plan = planGeometry(2048, { clustersNeeded: () => 1, rootSlots: 1 });
    expect(plan.chosen).toBeNull();
    expect(plan.summary).toMatch(/No combination even gives a valid FAT layout/);
  });

  it('bad parameters', () => {
    expect(err(computeGeometry(10 * MiB, 16, 3000))).toMatch(/cluster size must be a power of two/);
    expect(err(computeGeometry(10 * MiB, 16, 1024, { bytesPerSector: 2048 }))).toMatch(/cluster size must be a power of two from the sector size \(2048 bytes\)/);
    expect(err(computeGeometry(10 * MiB, 16, 4096, { bytesPerSector: 1000 }))).toMatch(/sector size 1000/);
  });

  it('not enough clusters for the content, with the shortfall', () => {
    const need = 5000;
    const plan = planGeometry(16 * MiB, { clustersNeeded: (cs) => Math.ceil((need * 4096) / cs), rootSlots: 10 }, { fatBits: 16, clusterSize: 4096 });
    expect(plan.chosen).toBeNull();
    const c = plan.candidates[0]!;
    const missing = (c.clustersNeeded! - c.clustersAvailable!) * 4096;
    expect(c.reasons).toEqual([
      `FAT16 with 4096-byte clusters: needs 5000 clusters of 4096 bytes but ${c.clustersAvailable} are free (${missing} bytes, ${(missing / MiB).toFixed(1)} MiB missing)`,
    ]);
  });

  it('counts the FAT32 root directory cluster(s)', () => {
    const plan = planGeometry(300 * MiB, { clustersNeeded: () => 100, rootSlots: 300 }, { fatBits: 32, clusterSize: 2048 });
    // 300 slots × 32 bytes = 9600 bytes → 5 clusters of 2048.
    expect(plan.chosen?.clustersNeeded).toBe(105);
    const full = planGeometry(300 * MiB, { clustersNeeded: () => 153000, rootSlots: 300 }, { fatBits: 32, clusterSize: 2048 });
    expect(full.candidates[0]!.reasons.join(' ')).toMatch(/needs 153005 clusters of 2048 bytes \(153000 for the content \+ 5 for the root directory\) but \d+ are free/);
  });
});

describe('the 4085/4086 gap', () => {
  it('never produces 4085 or 4086 clusters and says why when a size lands there', () => {
    let saw12 = false;
    let saw16 = false;
    for (let sectors = 4080; sectors <= 4200; sectors++) {
      for (const bits of [12, 16] as const) {
        const r = computeGeometry(sectors * 512, bits, 512);
        if ('error' in r) {
          const m = /: (\d+) clusters, (more|fewer) than/.exec(r.error);
          expect(m).not.toBeNull();
          const n = Number(m![1]);
          if (n === 4085 || n === 4086) {
            expect(r.error).toMatch(/4085 and 4086 clusters are never used/);
            if (bits === 12) saw12 = true;
            else saw16 = true;
          }
        } else {
          checkLayout(r, sectors * 512);
        }
      }
      const plan = planGeometry(sectors * 512, { clustersNeeded: () => 1, rootSlots: 1 }, { clusterSize: 512 });
      if (plan.chosen) expect([4085, 4086]).not.toContain(plan.chosen.geometry!.clusterCount);
    }
    expect(saw12).toBe(true);
    expect(saw16).toBe(true);
  });
});

describe('files of 4 GiB or more', () => {
  it('make everything infeasible and are named', () => {
    const demand: SpaceDemand = {
      clustersNeeded: (cs) => Math.ceil((4 * GiB) / cs),
      rootSlots: 3,
      largestFile: { bytes: 4 * GiB, path: '/srv/big image.iso' },
    };
    const plan = planGeometry(64 * GiB, demand);
    expect(plan.chosen).toBeNull();
    for (const c of plan.candidates) {
      expect(c.feasible).toBe(false);
      expect(c.reasons.join(' ')).toMatch(/the file \/srv\/big image\.iso is 4294967296 bytes \(4\.0 GiB\); a FAT file holds at most 4294967295 bytes/);
    }
    expect(plan.summary).toMatch(/\/srv\/big image\.iso is 4294967296 bytes/);
  });

  it('4 GiB − 1 is fine', () => {
    const plan = planGeometry(64 * GiB, {
      clustersNeeded: (cs) => Math.ceil((4 * GiB - 1) / cs),
      rootSlots: 3,
      largestFile: { bytes: 4 * GiB - 1, path: '/a' },
    });
    expect(plan.chosen).not.toBeNull();
  });
});

describe('forced options and candidate set', () => {
  const demand: SpaceDemand = { clustersNeeded: (cs) => 1000 * Math.ceil(3000 / cs), rootSlots: 20 };

  it('tries 12/16/32 × 512 B … 32 KiB by default, 64 KiB only when allowed or forced', () => {
    const plan = planGeometry(1 * GiB, demand);
    expect(plan.candidates.map((c) => `${c.fatBits}/${c.clusterSize}`)).toEqual(
      [512, 1024, 2048, 4096, 8192, 16384, 32768].flatMap((cs) => [12, 16, 32].map((b) => `${b}/${cs}`)),
    );
    expect(planGeometry(1 * GiB, demand, { allow64k: true }).candidates.some((c) => c.clusterSize === 65536)).toBe(true);
    const forced = planGeometry(2 * GiB, demand, { clusterSize: 65536 });
    expect(forced.candidates.map((c) => c.clusterSize)).toEqual([65536, 65536, 65536]);
    expect(forced.chosen?.clusterSize).toBe(65536);
    expect(forced.summary).toMatch(/65536-byte clusters forced/);
  });

  it('honours a forced type and cluster size', () => {
    const t = planGeometry(1 * GiB, demand, { fatBits: 32 });
    expect(new Set(t.candidates.map((c) => c.fatBits))).toEqual(new Set([32]));
    expect(t.chosen?.fatBits).toBe(32);
    const both = planGeometry(1 * GiB, demand, { fatBits: 16, clusterSize: 16384 });
    expect(both.candidates).toHaveLength(1);
    expect(both.chosen?.geometry?.fatBits).toBe(16);
    expect(both.chosen?.geometry?.clusterSize).toBe(16384);
    const bad = planGeometry(1 * GiB, demand, { fatBits: 12, clusterSize: 512 });
    expect(bad.chosen).toBeNull();
    expect(bad.summary).toMatch(/FAT12 forced, 512-byte clusters forced/);
    expect(bad.candidates[0]!.reasons[0]).toMatch(/more than the 4084 FAT12 allows/);
  });

  it('skips cluster sizes below the sector size unless forced', () => {
    const plan = planGeometry(1 * GiB, demand, { bytesPerSector: 4096 });
    expect(Math.min(...plan.candidates.map((c) => c.clusterSize))).toBe(4096);
    expect(plan.chosen?.geometry?.bytesPerSector).toBe(4096);
  });
});

describe('preference rule', () => {
  function lexBetter(a: Candidate, b: Candidate): boolean {
    return a.wasteBytes! < b.wasteBytes! || (a.wasteBytes === b.wasteBytes && (a.clusterSize > b.clusterSize || (a.clusterSize === b.clusterSize && a.fatBits < b.fatBits)));
  }

  it('chooses the least waste (most free space), ties to bigger clusters then the smaller type', () => {
    const demands: SpaceDemand[] = [
      { clustersNeeded: (cs) => 20000 * Math.ceil(300 / cs), rootSlots: 100 }, // many tiny files
      { clustersNeeded: (cs) => 10 * Math.ceil((20 * MiB) / cs), rootSlots: 12 }, // few big files
      { clustersNeeded: () => 0, rootSlots: 0 },
    ];
    for (const size of [1 * MiB + 512, 30 * MiB, 700 * MiB, 40 * GiB]) {
      for (const d of demands) {
        const plan = planGeometry(size, d);
        const feasible = plan.candidates.filter((c) => c.feasible);
        if (!plan.chosen) {
          expect(feasible).toHaveLength(0);
          continue;
        }
        for (const c of feasible) if (c !== plan.chosen) expect(lexBetter(c, plan.chosen)).toBe(false);
        const g = plan.chosen.geometry!;
        checkLayout(g, size);
        // wasteBytes = partition − free space left − content at sector granularity.
        const free = (g.clusterCount - plan.chosen.clustersNeeded!) * g.clusterSize;
        expect(plan.chosen.wasteBytes).toBe(size - free - d.clustersNeeded(512) * 512);
        expect(plan.summary).toMatch(new RegExp(`^Chose FAT${g.fatBits} with ${g.clusterSize}-byte clusters`));
        // Deterministic.
        expect(planGeometry(size, d)).toEqual(plan);
      }
    }
  });

  it('many tiny files on 64 MiB: small clusters win over FAT32 512 with its bigger FAT', () => {
    const plan = planGeometry(64 * MiB, { clustersNeeded: (cs) => 1000 * Math.ceil(100 / cs), rootSlots: 10 });
    expect(plan.chosen?.fatBits).toBe(16);
    expect(plan.chosen?.clusterSize).toBe(1024);
  });

  it('summary gives the smallest shortfall when nothing fits', () => {
    const demand: SpaceDemand = { clustersNeeded: (cs) => Math.ceil((120 * MiB) / cs) + 50, rootSlots: 30 };
    const plan = planGeometry(100 * MiB, demand);
    expect(plan.chosen).toBeNull();
    const shortfalls = plan.candidates
      .filter((c) => c.geometry)
      .map((c) => (c.clustersNeeded! - c.clustersAvailable!) * c.clusterSize);
    const best = Math.min(...shortfalls);
    expect(best).toBeGreaterThan(0);
    expect(plan.summary).toMatch(new RegExp(`At best ${best} bytes \\(\\d+\\.\\d MiB\\) are missing: FAT\\d+ with \\d+-byte clusters needs \\d+ clusters but has \\d+\\.`));
    for (const c of plan.candidates) expect(c.reasons.length).toBeGreaterThan(0);
  });
});

describe('fsck.fat accepts the chosen geometry', () => {
  it('mkfs.fat with exactly the chosen layout gives a clean fsck.fat -n', () => {
    const cases: { kb: number; demand: SpaceDemand; options?: GeometryOptions }[] = [
      { kb: 1440, demand: { clustersNeeded: (cs) => Math.ceil((500 * KiB) / cs), rootSlots: 40 } },
      { kb: 30000, demand: { clustersNeeded: (cs) => 300 * Math.ceil(5000 / cs), rootSlots: 200 }, options: { alignDataTo: 4096 } },
      { kb: 200000, demand: { clustersNeeded: (cs) => Math.ceil((100 * MiB) / cs), rootSlots: 600 }, options: { alignDataTo: 1024 } },
      { kb: 700000, demand: { clustersNeeded: (cs) => 5000 * Math.ceil(20000 / cs), rootSlots: 9 }, options: { alignDataTo: 4096, minReservedSectors: 40 } },
      { kb: 100000, demand: { clustersNeeded: () => 10, rootSlots: 9 }, options: { fatBits: 32, alignDataTo: 65536 } },
      { kb: 30000, demand: { clustersNeeded: () => 10, rootSlots: 9 }, options: { fatBits: 16, clusterSize: 512 } },
    ];
    for (const c of cases) {
      const plan = planGeometry(c.kb * KiB, c.demand, c.options);
      const g = plan.chosen?.geometry;
      expect(g, plan.summary).toBeDefined();
      const img = mkfs(c.kb, g!);
      const b = readBoot(img);
      expect([b.reserved, b.fatSectors, b.rootEntries, b.totalSectors, b.spc]).toEqual([
        g!.reservedSectors,
        g!.fatSectors,
        g!.rootEntries,
        g!.totalSectors,
        g!.sectorsPerCluster,
      ]);
      const f = fsckClean(img);
      expect(f.clean, f.output).toBe(true);
      expect(f.output).toContain(`/${g!.clusterCount} clusters`);
      rmSync(img);
    }
  });
});
