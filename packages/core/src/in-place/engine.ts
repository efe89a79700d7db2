import {
  encodeBootSector, encodeFsInfo, mkfsFatChoice, planGeometry, standardBootFields, streamFat, type Candidate, type Geometry, type GeometryOptions,
} from '@fsconv/fat';
import { fatLabel, measureForFat, type FatMeasure } from '../build-fat-image.js';
import type { FatTarget, NamingOptions } from '../fat-layout.js';
import { ext2Fingerprint, type Ext2Source } from '../import-ext2.js';
import type { WriteTarget } from './crash-device.js';
import {
  COMMIT_MARKER_OFFSET, FINAL_MARKER_OFFSET, LEGACY_JOURNAL_VERSION, LEGACY_MARKER_OFFSET, MARKER_SIZE,
  crc32, decodeJournal, decodeJournalHead, decodeMarker, encodeJournal, encodeMarker, fingerprintBytes, hasMarkerMagic,
  journalBytesFor, JournalError, type JournalContent, type JournalMarker, type OutsideWrite, type SourceFingerprint,
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
  /**
   * The filesystem lies in a partition: its start (bytes on the disk; the boot sector's hidden
   * sectors are that in sectors) and room in the journal for the partition table writes the commit
   * makes (given to convertInPlace once the FAT type is known).
   */
  container?: { sliceOffset: number; hiddenSectors: number; outsideWritesReserve: number };
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
  /** The source as planned: recorded in the journal, compared before any replay. */
  fingerprint: SourceFingerprint;
  /** What the user gets afterwards: free clusters, and free entries of the FAT12/16 fixed root (null on FAT32). */
  freeClustersAfter: number;
  rootEntriesFree: number | null;
}

/**
 * At least this many reserved sectors: bytes 0..2047 (sector 0 and the old ext2 superblock, where
 * the marker's two copies go) must lie in the reserved region, which the commit rewrites whole.
 */
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
  const fingerprint = ext2Fingerprint(src.volume);
  const geoOpts: GeometryOptions = {
    ...opts, alignDataTo: bs, minReservedSectors: Math.max(MIN_RESERVED, opts.minReservedSectors ?? 0),
  };
  const gp = planGeometry(fsBytes, measure.demand, geoOpts);
  const candidates = gp.candidates.map((c) => ({ fatBits: c.fatBits, clusterSize: c.clusterSize, feasible: c.feasible, reasons: [...c.reasons] }));
  // Cheapest first (ties: the geometry's own preference). The cost is the bytes written plus the
  // capacity the user would lose against what mkfs.fat gives a volume of this size.
  // - Bytes written: both FATs are written whole; with clusters of one ext2 block (or less) every
  //   file block can stay, while with clusters of k blocks a cluster stays only when its blocks start
  //   aligned, about 1 in k: so small clusters win until the FAT outgrows the data (a sparse 1 TiB
  //   disk: 2 GiB of FAT at 4 KiB, 256 MiB at 32 KiB).
  // - Capacity: a geometry with fewer clusters than mkfs.fat's choice costs the clusters it lacks, at
  //   that choice's cluster size, so it wins only where the writes it saves are worth more (a 16 MiB
  //   volume of 4 KiB blocks gets FAT16 with 2 KiB clusters, not FAT12 with 16 KiB and a thousand
  //   clusters for everything the user adds later).
  const order: Candidate[] = [];
  if (gp.chosen) order.push(gp.chosen);
  for (const c of gp.candidates) if (c.feasible && c !== gp.chosen) order.push(c);
  const standard = opts.clusterSize === undefined
    ? mkfsFatChoice(fsBytes, { ...(opts.fatBits !== undefined && { fatBits: opts.fatBits }), ...(opts.rootEntries !== undefined && { rootEntries: opts.rootEntries }) })
    : null;
  const standardCandidate = standard === null ? undefined
    : gp.candidates.find((c) => c.fatBits === standard.fatBits && c.clusterSize === standard.clusterSize && c.geometry !== undefined);
  const costOf = (c: Candidate): number => {
    const g = c.geometry!;
    const fat = 2 * g.fatSectors * g.bytesPerSector;
    const misaligned = c.clusterSize > bs ? measure.fileBytes * (1 - bs / c.clusterSize) : 0;
    const lost = standardCandidate ? Math.max(0, standardCandidate.geometry!.clusterCount - g.clusterCount) * standardCandidate.clusterSize : 0;
    return fat + misaligned + lost;
  };
  const costs = new Map(order.map((c) => [c, costOf(c)]));
  order.sort((a, b) => costs.get(a)! - costs.get(b)!);
  const standardNote = (c: Candidate): string => {
    if (standard === null) return '';
    const std = `FAT${standard.fatBits} with ${standard.clusterSize}-byte clusters`;
    if (c.fatBits === standard.fatBits && c.clusterSize === standard.clusterSize) return ` This is also what mkfs.fat gives a volume of this size.`;
    const more = standardCandidate ? c.geometry!.clusterCount - standardCandidate.geometry!.clusterCount : 0;
    return ` (mkfs.fat would give this size ${std}${standardCandidate ? `; this choice has ${Math.abs(more)} clusters ${more >= 0 ? 'more' : 'fewer'} and rewrites less of the device` : ''}.)`;
  };
  const base = { measure, candidates, fsBytes, naming, fingerprint };
  let best: { missing: number; summary: string } | null = null;
  for (const cand of order.slice(0, 6)) {
    const g = cand.geometry!;
    const frontBytes = g.dataStartSector * g.bytesPerSector;
    const result = layOutInPlace(layoutInput(src, g, naming, measure, fingerprint, opts), null);
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
        freeClustersAfter: g.clusterCount - result.clustersUsed - acc.badClusters,
        rootEntriesFree: g.fatBits === 32 ? null : g.rootEntries - measure.demand.rootSlots,
        summary: `${label}: ${g.clusterCount} clusters; ${fmt(acc.bytesInPlace)} of file data stays in place, ` +
          `${fmt(acc.bytesMoved + acc.bytesDuplicated + acc.bytesHoles)} is written anew (moved, hard-link copies, holes), ` +
          `directories and rights files take ${fmt(acc.bytesDirectories + acc.bytesRightsFiles)}; ` +
          `${fmt(acc.spareClusters * g.clusterSize)} of staging room to spare` +
          (cand.clusterSize === bs ? ' (clusters of one ext2 block: no file block is misaligned).'
            : cand.clusterSize > bs ? ' (clusters larger than an ext2 block: a smaller FAT outweighs the data that moves).' : '.') +
          standardNote(cand),
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
  return { ...base, feasible: false, geometry: null, accounting: null, journalBytes: 0, frontBytes: 0, freeClustersAfter: 0, rootEntriesFree: null, summary };
}

const fmt = (n: number): string => (n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 / 1024).toFixed(1)} MiB`);

function layoutInput(src: Ext2Source, g: Geometry, naming: NamingOptions, measure: FatMeasure, fingerprint: SourceFingerprint, opts: InPlaceOptions): InPlaceLayoutInput {
  const fpBytes = fingerprintBytes(fingerprint);
  const reserve = opts.container?.outsideWritesReserve ?? 0;
  return {
    src, g, naming, directorySlots: measure.directorySlots, rightsBytes: measure.rightsBytes, tz: opts.tz ?? 'local',
    // The journal is encoded with these same sizes later (and the partition table writes, at most `reserve`).
    journalSize: (runs, rootBytes) => journalBytesFor(g, runs, rootBytes, fpBytes) + reserve,
  };
}

export interface InPlaceResult {
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
 * The conversion. Until the marker is written, only blocks the ext2 marks free are written: a
 * crash leaves the ext2 as it was, with no marker. The marker, one sector written over the ext2
 * superblock's magic, is the commit point: from it on the device is no ext2, and
 * `commitFromJournal` finishes the job from the device alone.
 */
export function convertInPlace(dev: WriteTarget, src: Ext2Source, plan: InPlacePlan, opts: InPlaceOptions, outside?: { device: WriteTarget; writes: OutsideWrite[] }): InPlaceResult {
  if (!plan.feasible || plan.geometry === null || plan.accounting === null) throw new Error('convertInPlace needs a feasible plan');
  const g = plan.geometry;
  const counters = { bytes: 0 };
  const total = plan.accounting.newClusters * g.clusterSize;
  let done = 0;
  const input = layoutInput(src, g, plan.naming, plan.measure, plan.fingerprint, opts);
  // 1. Stage: every new cluster's final content, into ext2-free blocks.
  const staged = layOutInPlace(input, stageSink(dev, counters, (n) => opts.progress?.('stage', (done += n), total)));
  if (staged.journalCluster !== plan.accounting.journalFirstCluster || staged.journalBytes !== plan.journalBytes ||
    staged.accounting.missingClusters !== 0) {
    throw new Error('the staging pass did not reproduce the plan (internal)');
  }
  // 2. The journal (durable before the commit point).
  const free = g.clusterCount - staged.clustersUsed - staged.accounting.badClusters;
  const boot = encodeBootSector({
    fatBits: g.fatBits, bytesPerSector: g.bytesPerSector, sectorsPerCluster: g.sectorsPerCluster,
    reservedSectors: g.reservedSectors, numFats: 2, rootEntries: g.rootEntries, totalSectors: g.totalSectors,
    fatSectors: g.fatSectors, ...standardBootFields(g.totalSectors * g.bytesPerSector), hiddenSectors: opts.container?.hiddenSectors ?? 0,
    volumeId: plan.measure.volumeId, label: plan.naming.label ?? '',
    rootCluster: g.fatBits === 32 ? staged.rootCluster : 0, fsInfoSector: g.fatBits === 32 ? 1 : 0,
    backupBootSector: g.fatBits === 32 ? 6 : 0,
  });
  const journal: JournalContent = {
    version: 2, geometry: g, bootSector: boot,
    fsInfo: g.fatBits === 32 ? encodeFsInfo(free, firstFreeCluster(staged.runs, g.clusterCount)) : new Uint8Array(0),
    rootDirectory: staged.rootDirectory, fingerprint: plan.fingerprint, runs: staged.runs,
    sliceOffset: opts.container?.sliceOffset ?? 0, outsideWrites: outside?.writes ?? [],
  };
  const bytes = encodeJournal(journal);
  if (bytes.length > plan.journalBytes) throw new Error(`journal of ${bytes.length} bytes exceeds the ${plan.journalBytes} planned (internal)`);
  const journalOffset = g.dataStartSector * g.bytesPerSector + (staged.journalCluster - 2) * g.clusterSize;
  dev.flush();
  dev.writeAt(bytes, journalOffset);
  dev.flush();
  // 3. Commit: its first write, the marker over the superblock's magic, is the commit point.
  const marker: JournalMarker = { version: 2, journalOffset, journalLength: bytes.length, journalCrc: crc32(bytes), fsBytes: plan.fsBytes };
  commitFromJournal(dev, journal, marker, opts.progress, outside?.device);
  return { bytesWritten: counters.bytes + bytes.length, clustersUsed: staged.clustersUsed, resumed: false };
}

function firstFreeCluster(runs: JournalContent['runs'], clusterCount: number): number {
  let c = 2;
  for (const r of runs) {
    if (r.start > c) break;
    c = Math.max(c, r.start + r.length);
  }
  return c <= clusterCount + 1 ? c : 0xffffffff;
}


/** What the source looks like beside a marker (the caller knows the format; core does not look). */
export type SourceBesideJournal =
  /** No sign of the source filesystem (its signature is gone): the journal is the only truth. */
  | { kind: 'absent' }
  /** The source's signature is there but the filesystem cannot be read. */
  | { kind: 'unreadable'; why: string }
  | { kind: 'readable'; fingerprint: SourceFingerprint };

/** What a device holds of an in-place conversion, read before anything else is trusted. */
export type Interruption =
  | { state: 'none' }
  /** After the commit point: `commitFromJournal` finishes it. */
  | { state: 'resumable'; journal: JournalContent; marker: JournalMarker }
  /** A journal that must not be replayed: the source on the device changed since it was planned. */
  | { state: 'stale'; why: string; markerOffsets: number[] }
  /** A marker whose journal cannot be read. */
  | { state: 'damaged'; why: string; markerOffsets: number[]; commitStarted: boolean; sourceReadable: boolean; fsBytes: number | null };

const MARKER_PLACES = [
  { offset: COMMIT_MARKER_OFFSET, version: 2 },
  { offset: FINAL_MARKER_OFFSET, version: 2 },
  { offset: LEGACY_MARKER_OFFSET, version: LEGACY_JOURNAL_VERSION },
] as const;

/**
 * Looks for the marker of an interrupted conversion (in any of its places, valid or damaged),
 * reads and checks its journal with every length bounded by what a plan could produce, and
 * compares the source as planned with the source found beside it (`source` is asked only when a
 * marker is there). Reads only.
 */
export function inspectInterruption(dev: WriteTarget, source: () => SourceBesideJournal): Interruption {
  if (dev.size < 2048) return { state: 'none' };
  const head = new Uint8Array(2048);
  dev.readInto(head, 0);
  const found: Array<{ offset: number; marker: JournalMarker | null; error: string | null }> = [];
  for (const place of MARKER_PLACES) {
    const sector = head.subarray(place.offset, place.offset + MARKER_SIZE);
    if (!hasMarkerMagic(sector)) continue;
    try {
      const m = decodeMarker(sector)!;
      found.push(m.version === place.version ? { offset: place.offset, marker: m, error: null }
        : { offset: place.offset, marker: null, error: `a version ${m.version} marker at byte ${place.offset}, where only version ${place.version} puts one` });
    } catch (e) {
      if (!(e instanceof JournalError)) throw e;
      found.push({ offset: place.offset, marker: null, error: e.message });
    }
  }
  if (found.length === 0) return { state: 'none' };
  const markerOffsets = found.map((f) => f.offset);
  // The copy at 1024 is written first by every commit, so it is the newest where both are valid.
  const chosen = found.find((f) => f.marker !== null);
  // The commit writes over the ext2's metadata only once the copy in sector 0 is durable.
  const commitStarted = found.some((f) => f.offset !== COMMIT_MARKER_OFFSET);
  const src = source();
  const damaged = (why: string, fsBytes: number | null): Interruption => ({
    state: 'damaged', why, markerOffsets, commitStarted, sourceReadable: src.kind === 'readable', fsBytes,
  });
  if (chosen === undefined) return damaged(found[0]!.error!, null);
  const marker = chosen.marker!;
  let journal: JournalContent;
  try {
    journal = readJournal(dev, marker);
  } catch (e) {
    if (!(e instanceof JournalError)) throw e;
    return damaged(e.message, marker.fsBytes);
  }
  if (src.kind === 'absent') return { state: 'resumable', journal, marker };
  if (journal.version === LEGACY_JOURNAL_VERSION) {
    return { state: 'stale', markerOffsets, why: 'it was written by an earlier fsconv (journal format 1, without a fingerprint of the source) and the source filesystem is still there, so whether it changed since cannot be told' };
  }
  if (src.kind === 'unreadable') return { state: 'stale', markerOffsets, why: `the source filesystem was written again after the commit point, and it cannot be read (${src.why})` };
  const planned = new Map(journal.fingerprint);
  const changed: string[] = [];
  for (const [name, now] of src.fingerprint) {
    const then = planned.get(name);
    if (then !== now) changed.push(`${name} ${now} (planned: ${then ?? 'not recorded'})`);
  }
  if (changed.length > 0) return { state: 'stale', markerOffsets, why: `the source filesystem changed after the conversion was planned: ${changed.join(', ')}` };
  return { state: 'resumable', journal, marker };
}

/** Reads the journal a marker points to: every length checked against the device and the geometry before it sizes a read. */
function readJournal(dev: WriteTarget, m: JournalMarker): JournalContent {
  if (m.fsBytes < 2048 || m.fsBytes > dev.size) throw new JournalError(`the in-place conversion marker gives a ${m.fsBytes}-byte filesystem on a ${dev.size}-byte device (damaged)`);
  if (m.journalOffset < 2048 || m.journalLength < 64 || m.journalOffset + m.journalLength > m.fsBytes) {
    throw new JournalError(`the in-place conversion marker points at ${m.journalLength} bytes at byte ${m.journalOffset}, outside the filesystem (damaged)`);
  }
  const head = new Uint8Array(64);
  dev.readInto(head, m.journalOffset);
  const { maxBytes } = decodeJournalHead(head, m.fsBytes);
  if (m.journalLength > maxBytes) throw new JournalError(`the in-place conversion marker gives a ${m.journalLength}-byte journal, more than its geometry allows (${maxBytes}): damaged`);
  const bytes = new Uint8Array(m.journalLength);
  dev.readInto(bytes, m.journalOffset);
  if (crc32(bytes) !== m.journalCrc) throw new JournalError('the in-place journal does not match its marker (damaged)');
  return decodeJournal(bytes, m.fsBytes);
}

/**
 * Writes everything that overwrites the ext2, from the journal alone. Each step writes fixed bytes
 * to fixed places and reads nothing, so running it again after a crash anywhere in it gives the
 * same result. The marker is on the device from the first write to the last one, which is the
 * boot sector replacing its last copy: no state is both FAT and still to be replayed.
 */
export function commitFromJournal(dev: WriteTarget, j: JournalContent, marker: JournalMarker, progress?: InPlaceOptions['progress'], outsideDevice?: WriteTarget): void {
  const g = j.geometry;
  if (j.outsideWrites.length > 0 && outsideDevice === undefined) {
    throw new JournalError('this conversion also gives its partition the FAT type in the partition table: resume it where the table can be written: on the disk (with --partition N) or on the partition device');
  }
  const sector = g.bytesPerSector;
  const markerBytes = encodeMarker(marker);
  // a. The commit point: one sector over the ext2 superblock's magic; from here on it is no ext2.
  //    (A resumed commit writes it again: harmless, and it keeps the sequence one and the same.)
  dev.writeAt(markerBytes, COMMIT_MARKER_OFFSET);
  dev.flush();
  // b. The marker's second copy into sector 0, which only the very last write replaces.
  dev.writeAt(markerBytes, FINAL_MARKER_OFFSET);
  dev.flush();
  // c. The reserved region but sector 0: zeros (the rest of the old superblock and the first
  //    marker copy with them), and on FAT32 the FSInfo sector and the backup boot sector.
  const content = new Map<number, Uint8Array>(g.fatBits === 32 ? [[1, j.fsInfo], [6, j.bootSector], [7, j.fsInfo]] : []);
  const zeros = new Uint8Array(64 * sector);
  for (let s = 1; s < g.reservedSectors; ) {
    const own = content.get(s);
    if (own !== undefined) {
      dev.writeAt(padToSector(own, sector), s * sector);
      s++;
      continue;
    }
    let e = s;
    while (e < g.reservedSectors && !content.has(e) && e - s < 64) e++;
    dev.writeAt(zeros.subarray(0, (e - s) * sector), s * sector);
    s = e;
  }
  // d. Both FATs, regenerated from the runs.
  const fatBytes = g.fatSectors * sector;
  for (let copy = 0; copy < 2; copy++) {
    let pos = (g.reservedSectors + copy * g.fatSectors) * sector;
    for (const chunk of streamFat(g.fatBits, fatBytes, j.runs)) {
      dev.writeAt(chunk, pos);
      pos += chunk.length;
      progress?.('commit', copy * fatBytes + (pos - (g.reservedSectors + copy * g.fatSectors) * sector), 2 * fatBytes);
    }
  }
  // e. The FAT12/16 root directory.
  if (g.fatBits !== 32) dev.writeAt(j.rootDirectory, (g.reservedSectors + 2 * g.fatSectors) * sector);
  dev.flush();
  // The partition table: the partition's type follows its filesystem (fixed bytes, from the
  // journal: a crash between two of them is replayed like any other commit write).
  // Each flushed on its own: a power loss keeps any subset of the writes since a flush, and a
  // GPT's header and entry-array sector kept one without the other make that copy unreadable; one
  // write in flux at a time leaves at least one sound copy, from which resume finds the partition.
  if (j.outsideWrites.length > 0) {
    for (const o of j.outsideWrites) {
      outsideDevice!.writeAt(o.bytes, o.offset);
      outsideDevice!.flush();
    }
  }
  // f. Last, the boot sector over the marker's last copy: the device becomes FAT in one write.
  dev.writeAt(padToSector(j.bootSector, sector), 0);
  dev.flush();
}

function padToSector(bytes: Uint8Array, sector: number): Uint8Array {
  if (bytes.length === sector) return bytes;
  const out = new Uint8Array(sector);
  out.set(bytes.subarray(0, sector));
  return out;
}

/**
 * Drops a stale or damaged journal beside a readable source: zeroes the marker copies, which lie
 * only where the source keeps nothing (the ext2 boot block, bytes 0..1023; a marker at 1024 would
 * mean the source is gone, and is never dropped).
 */
export function discardJournal(dev: WriteTarget, markerOffsets: readonly number[]): number {
  let n = 0;
  for (const offset of markerOffsets) {
    if (offset === COMMIT_MARKER_OFFSET) throw new Error('the marker over the superblock is never discarded (internal)');
    dev.writeAt(new Uint8Array(MARKER_SIZE), offset);
    n++;
  }
  dev.flush();
  return n;
}
