import {
  encodeBootSector, encodeFsInfo, planGeometry, streamFat, type Candidate, type Geometry, type GeometryOptions,
} from '@fsconv/fat';
import { fatLabel, measureForFat, type FatMeasure } from '../build-fat-image.js';
import type { FatTarget, NamingOptions } from '../fat-layout.js';
import type { Ext2Source } from '../import-ext2.js';
import type { WriteTarget } from './crash-device.js';
import {
  crc32, decodeJournal, decodeMarker, encodeJournal, encodeMarker, JournalError, MARKER_OFFSET, MARKER_SIZE,
  type JournalContent,
} from './journal.js';
import { layOutInPlace, type InPlaceAccounting, type InPlaceLayoutInput, type StageSink } from './layout.js';

export interface InPlaceOptions extends GeometryOptions {
  target: FatTarget;
  label?: string | null;
  volumeId?: number;
  codepage?: string;
  sourceCharset?: string;
  tz?: string;
  progress?: (phase: string, done: number, total: number) => void;
}

export interface InPlacePlan {
  feasible: boolean;
  /** One paragraph: what was chosen and why, or why nothing fits. */
  summary: string;
  measure: FatMeasure;
  /** Every geometry considered, with why it was rejected. */
  candidates: Array<{ fatBits: number; clusterSize: number; feasible: boolean; reasons: string[] }>;
  geometry: Geometry | null;
  accounting: InPlaceAccounting | null;
  journalBytes: number;
  /** Bytes the FAT structures take at the front (boot, reserved, both FATs, FAT12/16 root). */
  frontBytes: number;
  fsBytes: number;
  naming: NamingOptions;
}

/** At least this many reserved sectors: sector 1 holds the journal marker, 2–3 the old ext2 superblock. */
const MIN_RESERVED = 4;

function namingOf(src: Ext2Source, opts: InPlaceOptions): NamingOptions {
  return {
    target: opts.target, codepage: opts.codepage ?? 'cp437', sourceCharset: opts.sourceCharset ?? 'utf-8',
    label: opts.label !== undefined ? fatLabel(opts.label) : fatLabel(src.label),
  };
}

/**
 * Decides whether and how the ext2 can become FAT on its own blocks: the FAT type and cluster size
 * (the cluster grid aligned to ext2 blocks; clusters of one block preferred, as they let every file
 * block stay), and where everything goes. Writes nothing: this is `fsconv check`.
 */
export function planInPlace(src: Ext2Source, opts: InPlaceOptions): InPlacePlan {
  const bs = src.volume.blockSize;
  const fsBytes = src.volume.blocksCount * bs;
  const measure = measureForFat(src, { ...opts, sizeBytes: fsBytes });
  const naming = namingOf(src, opts);
  const geoOpts: GeometryOptions = {
    ...opts, alignDataTo: bs, minReservedSectors: Math.max(MIN_RESERVED, opts.minReservedSectors ?? 0),
  };
  const gp = planGeometry(fsBytes, measure.demand, geoOpts);
  const candidates = gp.candidates.map((c) => ({ fatBits: c.fatBits, clusterSize: c.clusterSize, feasible: c.feasible, reasons: [...c.reasons] }));
  // Fewest bytes written first (ties: the geometry's own preference). Both FATs are written whole;
  // with clusters of one ext2 block (or less) every file block can stay, while with clusters of k
  // blocks a cluster stays only when its blocks start aligned, about 1 in k: so small clusters win
  // until the FAT outgrows the data (a sparse 1 TiB disk: 2 GiB of FAT at 4 KiB, 256 MiB at 32 KiB).
  const order: Candidate[] = [];
  if (gp.chosen) order.push(gp.chosen);
  for (const c of gp.candidates) if (c.feasible && c !== gp.chosen) order.push(c);
  const writeEstimate = (c: Candidate): number => {
    const g = c.geometry!;
    const fat = 2 * g.fatSectors * g.bytesPerSector;
    return fat + (c.clusterSize > bs ? measure.fileBytes * (1 - bs / c.clusterSize) : 0);
  };
  const estimates = new Map(order.map((c) => [c, writeEstimate(c)]));
  order.sort((a, b) => estimates.get(a)! - estimates.get(b)!);
  const base = { measure, candidates, fsBytes, naming };
  let best: { missing: number; summary: string } | null = null;
  for (const cand of order.slice(0, 6)) {
    const g = cand.geometry!;
    const frontBytes = g.dataStartSector * g.bytesPerSector;
    const result = layOutInPlace(layoutInput(src, g, naming, measure, opts), null);
    const entry = candidates.find((c) => c.fatBits === cand.fatBits && c.clusterSize === cand.clusterSize)!;
    const label = `FAT${g.fatBits} with ${g.clusterSize}-byte clusters`;
    if (result.refusal !== undefined) {
      entry.feasible = false;
      entry.reasons.push(`${label}: ${result.refusal}`);
      if (best === null) best = { missing: Infinity, summary: `${label}: ${result.refusal}` };
      continue;
    }
    const journalBytes = result.journalBytes;
    const acc = result.accounting;
    if (acc.missingClusters === 0) {
      return {
        ...base, feasible: true, geometry: g, accounting: acc, journalBytes, frontBytes,
        summary: `${label}: ${g.clusterCount} clusters; ${fmt(acc.bytesInPlace)} of file data stays in place, ` +
          `${fmt(acc.bytesMoved + acc.bytesDuplicated + acc.bytesHoles)} is written anew (moved, hard-link copies, holes), ` +
          `directories and rights files take ${fmt(acc.bytesDirectories + acc.bytesRightsFiles)}; ` +
          `${fmt(acc.spareClusters * g.clusterSize)} of staging room to spare` +
          (cand.clusterSize === bs ? ' (clusters of one ext2 block: no file block is misaligned).'
            : cand.clusterSize > bs ? ' (clusters larger than an ext2 block: a smaller FAT outweighs the data that moves).' : '.'),
      };
    }
    const missing = acc.missingClusters * g.clusterSize;
    const why = `${label}: the new content needs ${acc.newClusters + acc.journalClusters} clusters in space the ext2 has free outside the FAT's front region, ` +
      `but only ${acc.poolClusters} are there (${fmt(missing)} missing)`;
    entry.feasible = false;
    entry.reasons.push(why);
    if (best === null || missing < best.missing) best = { missing, summary: why };
  }
  const summary = best !== null
    ? `Not feasible in place. Closest: ${best.summary}.`
    : `Not feasible: ${gp.summary}`;
  return { ...base, feasible: false, geometry: null, accounting: null, journalBytes: 0, frontBytes: 0, summary };
}

const fmt = (n: number): string => (n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 / 1024).toFixed(1)} MiB`);

/** Bytes of the journal for a layout (it is encoded with the same sizes later). */
function journalSize(g: Geometry, runs: number, rootBytes: number): number {
  return 16 + 4 + 32 + (4 + 512) + (4 + (g.fatBits === 32 ? 512 : 0)) + (4 + rootBytes) + 4 + runs * 12 + 4;
}

function layoutInput(src: Ext2Source, g: Geometry, naming: NamingOptions, measure: FatMeasure, opts: InPlaceOptions): InPlaceLayoutInput {
  return {
    src, g, naming, directorySlots: measure.directorySlots, rightsBytes: measure.rightsBytes, tz: opts.tz ?? 'local',
    journalSize: (runs, rootBytes) => journalSize(g, runs, rootBytes),
  };
}

export interface InPlaceResult {
  deviceWrites: number;
  bytesWritten: number;
  clustersUsed: number;
  resumed: boolean;
}

/** Staging writes go through here: copies read the ext2's intact blocks, in big pieces. */
function stageSink(dev: WriteTarget, counters: { bytes: number }, onBytes: (n: number) => void): StageSink {
  const buf = new Uint8Array(1 << 20);
  let sinceFlush = 0;
  const wrote = (n: number): void => {
    counters.bytes += n;
    sinceFlush += n;
    onBytes(n);
    // Flush now and then: a power cut loses at most this much staging work (never anything the ext2 needs).
    if (sinceFlush >= 64 << 20) {
      dev.flush();
      sinceFlush = 0;
    }
  };
  return {
    copy(from, to, length) {
      for (let o = 0; o < length; o += buf.length) {
        const part = buf.subarray(0, Math.min(buf.length, length - o));
        dev.readInto(part, from + o);
        dev.writeAt(part, to + o);
        wrote(part.length);
      }
    },
    write(data, to) {
      dev.writeAt(data, to);
      wrote(data.length);
    },
    zero(to, length) {
      const zeros = new Uint8Array(Math.min(length, 1 << 20));
      for (let o = 0; o < length; o += zeros.length) {
        const part = zeros.subarray(0, Math.min(zeros.length, length - o));
        dev.writeAt(part, to + o);
        wrote(part.length);
      }
    },
  };
}

/**
 * The conversion. Until the marker is written, only blocks the ext2 marks free are written (and
 * nothing in bytes 0..1023 but the marker itself): a crash leaves the ext2 as it was. The marker
 * is the commit point; from it on, `commitFromJournal` finishes the job from the device alone.
 */
export function convertInPlace(dev: WriteTarget, src: Ext2Source, plan: InPlacePlan, opts: InPlaceOptions): InPlaceResult {
  if (!plan.feasible || plan.geometry === null || plan.accounting === null) throw new Error('convertInPlace needs a feasible plan');
  const g = plan.geometry;
  const counters = { bytes: 0 };
  const total = plan.accounting.newClusters * g.clusterSize;
  let done = 0;
  const input = layoutInput(src, g, plan.naming, plan.measure, opts);
  // 1. Stage: every new cluster's final content, into ext2-free blocks.
  const staged = layOutInPlace(input, stageSink(dev, counters, (n) => opts.progress?.('stage', (done += n), total)));
  if (staged.journalCluster !== plan.accounting.journalFirstCluster || staged.journalBytes !== plan.journalBytes ||
    staged.accounting.missingClusters !== 0) {
    throw new Error('the staging pass did not reproduce the plan (internal)');
  }
  // 2. The journal, then the marker (each durable before the next step).
  const free = g.clusterCount - staged.clustersUsed - staged.accounting.badClusters;
  const boot = encodeBootSector({
    fatBits: g.fatBits, bytesPerSector: g.bytesPerSector, sectorsPerCluster: g.sectorsPerCluster,
    reservedSectors: g.reservedSectors, numFats: 2, rootEntries: g.rootEntries, totalSectors: g.totalSectors,
    fatSectors: g.fatSectors, media: 0xf8, sectorsPerTrack: 63, heads: 255, hiddenSectors: 0,
    volumeId: plan.measure.volumeId, label: plan.naming.label ?? '', oemName: 'FSCONV  ',
    rootCluster: g.fatBits === 32 ? staged.rootCluster : 0, fsInfoSector: g.fatBits === 32 ? 1 : 0,
    backupBootSector: g.fatBits === 32 ? 6 : 0,
  });
  const journal: JournalContent = {
    geometry: g, bootSector: boot,
    fsInfo: g.fatBits === 32 ? encodeFsInfo(free, firstFreeCluster(staged.runs, g.clusterCount)) : new Uint8Array(0),
    rootDirectory: staged.rootDirectory, runs: staged.runs,
  };
  const bytes = encodeJournal(journal);
  if (bytes.length > plan.journalBytes) throw new Error(`journal of ${bytes.length} bytes exceeds the ${plan.journalBytes} planned (internal)`);
  const journalOffset = g.dataStartSector * g.bytesPerSector + (staged.journalCluster - 2) * g.clusterSize;
  dev.flush();
  dev.writeAt(bytes, journalOffset);
  dev.flush();
  dev.writeAt(encodeMarker({ journalOffset, journalLength: bytes.length, journalCrc: crc32(bytes), fsBytes: plan.fsBytes }), MARKER_OFFSET);
  dev.flush();
  // 3. Commit.
  commitFromJournal(dev, journal, opts.progress);
  return { deviceWrites: dev.writes, bytesWritten: counters.bytes + bytes.length, clustersUsed: staged.clustersUsed, resumed: false };
}

function firstFreeCluster(runs: JournalContent['runs'], clusterCount: number): number {
  let c = 2;
  for (const r of runs) {
    if (r.start > c) break;
    c = Math.max(c, r.start + r.length);
  }
  return c <= clusterCount + 1 ? c : 0xffffffff;
}

/** The journal the marker points to, or null when the device holds no conversion in progress. */
export function readJournal(dev: WriteTarget): JournalContent | null {
  if (dev.size < MARKER_OFFSET + MARKER_SIZE) return null;
  const sector = new Uint8Array(MARKER_SIZE);
  dev.readInto(sector, MARKER_OFFSET);
  const marker = decodeMarker(sector);
  if (marker === null) return null;
  if (marker.journalOffset + marker.journalLength > dev.size || marker.fsBytes > dev.size) {
    throw new JournalError('the in-place conversion marker points outside the device');
  }
  const bytes = new Uint8Array(marker.journalLength);
  dev.readInto(bytes, marker.journalOffset);
  if (crc32(bytes) !== marker.journalCrc) throw new JournalError('the in-place journal does not match its marker (damaged)');
  return decodeJournal(bytes);
}

/**
 * Writes everything that overwrites the ext2, from the journal alone. Each step writes fixed bytes
 * to fixed places and reads nothing it or a later step writes, so running it again after a crash
 * anywhere in it gives the same result.
 */
export function commitFromJournal(dev: WriteTarget, j: JournalContent, progress?: InPlaceOptions['progress']): void {
  const g = j.geometry;
  const sector = g.bytesPerSector;
  // a. The first destructive write: the ext2 superblock goes, so a half-converted device never looks like ext2.
  dev.writeAt(new Uint8Array(1024), 1024);
  dev.flush();
  // b. The rest of the reserved region, zeroed (sector 0 and the marker's sector 1 come last).
  const keep = new Set(g.fatBits === 32 ? [0, 1, 6, 7] : [0, 1]);
  const zeros = new Uint8Array(64 * sector);
  for (let s = 2; s < g.reservedSectors; ) {
    if (keep.has(s)) {
      s++;
      continue;
    }
    let e = s;
    while (e < g.reservedSectors && !keep.has(e) && e - s < 64) e++;
    if (!(s * sector < 2048 && e * sector <= 2048)) dev.writeAt(zeros.subarray(0, (e - s) * sector), s * sector);
    s = e;
  }
  // c. Both FATs, regenerated from the runs.
  const fatBytes = g.fatSectors * sector;
  for (let copy = 0; copy < 2; copy++) {
    let pos = (g.reservedSectors + copy * g.fatSectors) * sector;
    for (const chunk of streamFat(g.fatBits, fatBytes, j.runs)) {
      dev.writeAt(chunk, pos);
      pos += chunk.length;
      progress?.('commit', copy * fatBytes + (pos - (g.reservedSectors + copy * g.fatSectors) * sector), 2 * fatBytes);
    }
  }
  // d. The FAT12/16 root directory.
  if (g.fatBits !== 32) dev.writeAt(j.rootDirectory, (g.reservedSectors + 2 * g.fatSectors) * sector);
  // e. The boot sector and, on FAT32, the backups.
  if (g.fatBits === 32) {
    dev.writeAt(j.bootSector, 6 * sector);
    dev.writeAt(j.fsInfo, 7 * sector);
  }
  dev.writeAt(j.bootSector, 0);
  dev.flush();
  // f. Last, the marker's sector becomes what FAT keeps there: FSInfo on FAT32, zeros otherwise.
  dev.writeAt(g.fatBits === 32 ? j.fsInfo : new Uint8Array(sector), sector);
  dev.flush();
}
