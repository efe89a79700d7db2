/**
 * FAT geometry: choose the FAT type and cluster size for a partition, or explain in words and
 * numbers why nothing fits. Pure functions, no I/O.
 *
 * Layout (fatgen103): [reserved sectors][FAT 1][FAT 2][FAT12/16 fixed root][data: clusters 2..N+1].
 * The whole partition is used: total sectors = ⌊partition bytes / bytes per sector⌋; the bytes
 * after the last whole cluster are reported as `unusedTailBytes`.
 */
import { MAX_CLUSTERS, MAX_DIR_SLOTS, MIN_CLUSTERS, type FatBits } from './constants.js';
import { mkfsFatChoice } from './mkfs-choice.js';

export interface SpaceDemand {
  /**
   * Clusters the content needs at a given cluster size: every file (each hard link a copy, holes as
   * zeros) rounded up, symlink targets, rights files, subdirectories (each ≥ 1 cluster). Supplied
   * by the caller. It must NOT include the root directory: the FAT32 root lives in clusters
   * (ceil(rootSlots·32 / clusterSize), at least 1) and `planGeometry` adds those itself, because
   * this function does not know the FAT type; the FAT12/16 root is the fixed region sized from
   * `rootSlots`.
   */
  clustersNeeded(clusterSize: number): number;
  /** Directory slots of the root directory (entries, LFN slots, volume label): sizes the FAT12/16 fixed root and the FAT32 root chain. */
  rootSlots: number;
  /** Largest single file in bytes (a file ≥ 4 GiB makes everything infeasible; name is for the message). */
  largestFile?: { bytes: number; path: string };
  /**
   * Directories that need more slots than a FAT directory holds (65536): nothing is feasible.
   * `entries`: its names, for saying whether 8.3 names only (one slot each) would fit.
   */
  oversizeDirectories?: ReadonlyArray<{ path: string; slots: number; entries: number }>;
}

export interface GeometryOptions {
  /** Forced FAT type. */
  fatBits?: FatBits;
  /** Forced cluster size in bytes (a power of two, 512..65536, a multiple of the sector size). */
  clusterSize?: number;
  /** Consider 64 KiB clusters when the cluster size is not forced (poorly supported elsewhere). */
  allow64k?: boolean;
  /** Default 512; a power of two 512..4096. */
  bytesPerSector?: number;
  /**
   * In-place conversion: the data area must start at a byte offset that is a multiple of this (the
   * ext2 block size), so the cluster grid falls on ext2 block boundaries. Achieved by growing the
   * reserved sector count. Default: no constraint.
   */
  alignDataTo?: number;
  /**
   * Lower bound on the reserved sector count (boot sector included), e.g. to make room for our own
   * journal. The count is never below 32 on FAT32 (as mkfs.fat) or 1 on FAT12/16.
   */
  minReservedSectors?: number;
  /**
   * `computeGeometry` only (planGeometry takes it from the demand): root directory slots. The
   * FAT12/16 root gets this many entries rounded up to whole sectors, at least one sector.
   * Default 0 (one sector). Ignored for FAT32, whose root lives in a cluster chain.
   */
  rootSlots?: number;
  /**
   * FAT12/16: at least this many fixed root entries, so that the root takes new files after the
   * conversion (rounded up to whole sectors; more when the root's slots need more).
   * `planGeometry` defaults to 512, as mkfs.fat; `computeGeometry` to 0 (the slots alone).
   */
  rootEntries?: number;
  /**
   * How `planGeometry` picks among feasible candidates: 'mkfs.fat' (new images): the FAT type and
   * cluster size mkfs.fat picks for the size, when it holds the content; 'most-free' (default):
   * the one leaving the most free space.
   */
  prefer?: 'mkfs.fat' | 'most-free';
}

/** Fixed root entries of FAT12/16 unless asked otherwise (mkfs.fat's default). */
export const DEFAULT_ROOT_ENTRIES = 512;

export interface Geometry {
  fatBits: FatBits;
  bytesPerSector: number;
  sectorsPerCluster: number;
  clusterSize: number;
  reservedSectors: number;
  numFats: 2;
  /** Sectors of ONE FAT copy. */
  fatSectors: number;
  /** FAT12/16 fixed root entries (a whole number of sectors of entries); 0 on FAT32. */
  rootEntries: number;
  rootDirSectors: number;
  totalSectors: number;
  dataStartSector: number;
  clusterCount: number;
  /** Bytes after the last whole cluster that the filesystem cannot use. */
  unusedTailBytes: number;
}

export interface Candidate {
  fatBits: FatBits;
  clusterSize: number;
  /** Present when the layout itself is valid (even if the content does not fit). */
  geometry?: Geometry;
  feasible: boolean;
  /** Why rejected, in words and numbers; empty when feasible. */
  reasons: string[];
  /** Clusters the content needs here, FAT32 root cluster(s) included. */
  clustersNeeded?: number;
  /** Clusters the layout provides (all free before the content is written). */
  clustersAvailable?: number;
  /**
   * Space this choice costs beyond the content at the finest granularity: (partition bytes − bytes
   * left free after the content is written) − clustersNeeded(bytesPerSector)·bytesPerSector.
   * That is cluster rounding slack + reserved sectors + FATs + fixed root + alignment padding +
   * the unusable tail. The constant term makes it comparable across candidates.
   */
  wasteBytes?: number;
}

export interface GeometryPlan {
  chosen: Candidate | null;
  /** Every combination tried, in the order tried (cluster size ascending, then FAT12, 16, 32). */
  candidates: Candidate[];
  /** One paragraph: what was chosen and why, or why nothing fits and how much space is missing at best. */
  summary: string;
}

const NUM_FATS = 2;
/** FAT file sizes are 32-bit: at most 4 GiB − 1. */
export const FAT_MAX_FILE_BYTES = 0xffffffff;
/** The BPB total sector count (TotSec32) is 32-bit. */
const MAX_TOTAL_SECTORS = 0xffffffff;
const MAX_U16 = 0xffff;
const DIRENT_BYTES = 32;
const FAT_TYPES: readonly FatBits[] = [12, 16, 32];
const CLUSTER_SIZES = [512, 1024, 2048, 4096, 8192, 16384, 32768] as const;
const CLUSTER_64K = 65536;

/** Bytes of a FAT holding `entries` entries (entries 0 and 1 included). */
function fatBytes(bits: FatBits, entries: number): number {
  return bits === 12 ? Math.ceil((entries * 3) / 2) : entries * (bits / 8);
}

function isPow2(n: number): boolean {
  return Number.isInteger(n) && n > 0 && 2 ** Math.round(Math.log2(n)) === n;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

function ceilDiv(a: number, b: number): number {
  return Math.ceil(a / b);
}

/** "3.9 MiB" style, for messages (the exact byte count is always given beside it). */
export function formatBytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} bytes` : `${v.toFixed(1)} ${units[u]}`;
}

function label(bits: FatBits, clusterSize: number): string {
  return `FAT${bits} with ${clusterSize}-byte clusters`;
}

interface Layout {
  /** The layout, when it can be built at all (the cluster count may still be out of range). */
  geometry?: Geometry;
  /** Everything that makes it invalid as a FAT of this type. */
  problems: string[];
}

/**
 * Solves the layout for one (type, cluster size). The FAT length F is the smallest number of
 * sectors that covers the clusters it leaves: clusters(F) = ⌊(T − dataStart(F)) / spc⌋ with
 * dataStart(F) = roundUp(minReserved + 2F + rootSectors, alignment), and F must hold clusters(F) + 2
 * entries. clusters(F) never grows with F, so "F covers clusters(F)" is monotone in F and a binary
 * search finds the least such F, which also gives the most clusters. Alignment padding goes to the
 * reserved sectors.
 */
function solveLayout(partitionBytes: number, fatBits: FatBits, clusterSize: number, options: GeometryOptions): Layout {
  const problems: string[] = [];
  const what = label(fatBits, clusterSize);
  const bps = options.bytesPerSector ?? 512;
  if (!Number.isFinite(partitionBytes) || partitionBytes < 0 || !Number.isInteger(partitionBytes)) {
    return { problems: [`${what}: partition size ${partitionBytes} is not a whole number of bytes`] };
  }
  if (!isPow2(bps) || bps < 512 || bps > 4096) {
    return { problems: [`${what}: sector size ${bps} is not a power of two from 512 to 4096 bytes`] };
  }
  if (!isPow2(clusterSize) || clusterSize < bps || clusterSize > CLUSTER_64K || clusterSize / bps > 128) {
    return {
      problems: [
        `${what}: the cluster size must be a power of two from the sector size (${bps} bytes) to 65536 bytes and at most 128 sectors`,
      ],
    };
  }
  const align = options.alignDataTo ?? 1;
  if (!Number.isInteger(align) || align < 1) {
    return { problems: [`${what}: alignment ${align} is not a positive whole number of bytes`] };
  }
  const spc = clusterSize / bps;
  const totalSectors = Math.floor(partitionBytes / bps);
  if (totalSectors > MAX_TOTAL_SECTORS) {
    problems.push(
      `${what}: ${totalSectors} sectors of ${bps} bytes, more than the ${MAX_TOTAL_SECTORS} a FAT${fatBits} boot sector can hold ` +
        `(partition of ${partitionBytes} bytes, ${formatBytes(partitionBytes)}; the limit is ${formatBytes(MAX_TOTAL_SECTORS * bps)})`,
    );
    return { problems };
  }

  // Root directory.
  const slots = Math.max(0, Math.ceil(options.rootSlots ?? 0));
  let rootEntries = 0;
  let rootDirSectors = 0;
  if (fatBits !== 32) {
    const perSector = bps / DIRENT_BYTES;
    rootDirSectors = Math.max(1, ceilDiv(Math.max(slots, Math.ceil(options.rootEntries ?? 0)), perSector));
    rootEntries = rootDirSectors * perSector;
    if (rootEntries > MAX_U16) {
      problems.push(
        `${what}: the root directory needs ${slots} slots, ${rootEntries} entries in whole ${bps}-byte sectors, ` +
          `more than the ${MAX_U16} a FAT${fatBits} boot sector can hold`,
      );
      return { problems };
    }
  } else if (slots > MAX_DIR_SLOTS) {
    problems.push(`${what}: the root directory needs ${slots} slots, more than the ${MAX_DIR_SLOTS} a FAT directory can hold`);
  }

  const floorReserved = fatBits === 32 ? 32 : 1;
  const minReserved = Math.max(floorReserved, Math.ceil(options.minReservedSectors ?? 0));
  // The data start must be a multiple of this many sectors for the byte offset to be a multiple of `align`.
  const alignSectors = align / gcd(align, bps);
  const dataStartFor = (f: number): number => ceilDiv(minReserved + NUM_FATS * f + rootDirSectors, alignSectors) * alignSectors;
  const clustersFor = (f: number): number => Math.max(0, Math.floor((totalSectors - dataStartFor(f)) / spc));
  const neededFor = (f: number): number => ceilDiv(fatBytes(fatBits, clustersFor(f) + 2), bps);

  let lo = 1;
  let hi = Math.max(1, neededFor(1));
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (mid >= neededFor(mid)) hi = mid;
    else lo = mid + 1;
  }
  const fatSectors = lo;
  const dataStartSector = dataStartFor(fatSectors);
  const reservedSectors = dataStartSector - NUM_FATS * fatSectors - rootDirSectors;
  const clusterCount = clustersFor(fatSectors);

  if (dataStartSector + spc > totalSectors) {
    problems.push(
      `${what}: the partition of ${partitionBytes} bytes (${totalSectors} sectors) is too small: ` +
        `${reservedSectors} reserved + ${NUM_FATS}×${fatSectors} FAT + ${rootDirSectors} root sectors leave no room for a single ${clusterSize}-byte cluster`,
    );
    return { problems };
  }
  if (reservedSectors > MAX_U16) {
    problems.push(
      `${what}: ${reservedSectors} reserved sectors needed (minimum ${minReserved}` +
        `${alignSectors > 1 ? `, data aligned to ${align} bytes` : ''}), more than the ${MAX_U16} a boot sector can hold`,
    );
  }
  if (fatBits !== 32 && fatSectors > MAX_U16) {
    problems.push(`${what}: ${fatSectors} sectors per FAT, more than the ${MAX_U16} a FAT${fatBits} boot sector can hold`);
  }
  const gapNote =
    clusterCount === 4085 || clusterCount === 4086
      ? ' (4085 and 4086 clusters are never used: Linux and Windows disagree on whether that is FAT12 or FAT16)'
      : '';
  if (clusterCount > MAX_CLUSTERS[fatBits]) {
    problems.push(`${what}: ${clusterCount} clusters, more than the ${MAX_CLUSTERS[fatBits]} FAT${fatBits} allows${gapNote}`);
  } else if (clusterCount < MIN_CLUSTERS[fatBits]) {
    problems.push(`${what}: ${clusterCount} clusters, fewer than the ${MIN_CLUSTERS[fatBits]} FAT${fatBits} needs${gapNote}`);
  }

  const geometry: Geometry = {
    fatBits,
    bytesPerSector: bps,
    sectorsPerCluster: spc,
    clusterSize,
    reservedSectors,
    numFats: NUM_FATS,
    fatSectors,
    rootEntries,
    rootDirSectors,
    totalSectors,
    dataStartSector,
    clusterCount,
    unusedTailBytes: partitionBytes - (dataStartSector + clusterCount * spc) * bps,
  };
  return { geometry, problems };
}

/**
 * The layout for one choice of FAT type and cluster size over the whole partition, or why it is
 * not a valid FAT of that type (cluster count outside the safe range, too many sectors, root or
 * reserved region too big, partition too small, bad parameters).
 */
export function computeGeometry(
  partitionBytes: number,
  fatBits: FatBits,
  clusterSize: number,
  options: GeometryOptions = {},
): Geometry | { error: string } {
  const { geometry, problems } = solveLayout(partitionBytes, fatBits, clusterSize, options);
  if (problems.length > 0 || !geometry) return { error: problems.join('; ') };
  return geometry;
}

/**
 * Tries every FAT type × cluster size (512 B … 32 KiB, 64 KiB only when forced or `allow64k`),
 * honouring forced values, and picks one.
 *
 * Choice rule (deterministic): among feasible candidates, the one that leaves the MOST free space
 * after the content is written, i.e. the least `wasteBytes` (cluster slack + reserved + FATs +
 * fixed root + alignment padding + unusable tail). Ties → the bigger cluster size (fewer clusters,
 * smaller FAT to walk), then the smaller FAT type (12 before 16 before 32: more widely readable).
 */
export function planGeometry(partitionBytes: number, demand: SpaceDemand, options: GeometryOptions = {}): GeometryPlan {
  const bps = options.bytesPerSector ?? 512;
  const types: readonly FatBits[] = options.fatBits !== undefined ? [options.fatBits] : FAT_TYPES;
  const sizes: readonly number[] =
    options.clusterSize !== undefined
      ? [options.clusterSize]
      : [...CLUSTER_SIZES, ...(options.allow64k ? [CLUSTER_64K] : [])].filter((cs) => cs >= bps);
  const layoutOptions: GeometryOptions = { ...options, rootSlots: demand.rootSlots, rootEntries: options.rootEntries ?? DEFAULT_ROOT_ENTRIES };

  const big = demand.largestFile && demand.largestFile.bytes > FAT_MAX_FILE_BYTES ? demand.largestFile : undefined;
  const reasonsForAll: string[] = [];
  if (big) reasonsForAll.push(`the file ${big.path} is ${big.bytes} bytes (${formatBytes(big.bytes)}); a FAT file holds at most ${FAT_MAX_FILE_BYTES} bytes (4 GiB − 1)`);
  for (const d of demand.oversizeDirectories ?? []) {
    // 8.3 names take one slot each, with '.' and '..' (and no rights file): would --to msdos fit?
    const msdos = d.entries + 2;
    reasonsForAll.push(`the directory ${d.path} needs ${d.slots} slots, more than the ${MAX_DIR_SLOTS} a FAT directory can hold ` +
      (msdos <= MAX_DIR_SLOTS ? `(with --to msdos, 8.3 names only, it would take ${msdos} and fit)` : `(its ${d.entries} names do not fit even as 8.3 names only, one slot each: split it)`));
  }
  const bigReason = reasonsForAll.length > 0 ? reasonsForAll.join('; ') : undefined;

  const neededCache = new Map<number, number>();
  const contentNeeded = (cs: number): number => {
    let n = neededCache.get(cs);
    if (n === undefined) {
      n = Math.ceil(demand.clustersNeeded(cs));
      neededCache.set(cs, n);
    }
    return n;
  };
  const floorBytes = isPow2(bps) ? contentNeeded(bps) * bps : 0;

  const candidates: Candidate[] = [];
  for (const cs of sizes) {
    for (const fatBits of types) {
      const what = label(fatBits, cs);
      const { geometry, problems } = solveLayout(partitionBytes, fatBits, cs, layoutOptions);
      const c: Candidate = { fatBits, clusterSize: cs, feasible: false, reasons: [...problems] };
      if (geometry && isPow2(cs)) {
        const content = contentNeeded(cs);
        const rootClusters = fatBits === 32 ? Math.max(1, ceilDiv(demand.rootSlots * DIRENT_BYTES, cs)) : 0;
        const need = content + rootClusters;
        const avail = geometry.clusterCount;
        c.clustersNeeded = need;
        c.clustersAvailable = avail;
        if (problems.length === 0) {
          c.geometry = geometry;
          c.wasteBytes = partitionBytes - Math.max(0, avail - need) * cs - floorBytes;
        }
        if (need > avail) {
          const missing = (need - avail) * cs;
          const split = rootClusters > 0 ? ` (${content} for the content + ${rootClusters} for the root directory)` : '';
          c.reasons.push(
            `${what}: needs ${need} clusters of ${cs} bytes${split} but ${avail} are free ` +
              `(${missing} bytes, ${formatBytes(missing)} missing)`,
          );
        }
      }
      if (bigReason) c.reasons.push(`${what}: ${bigReason}`);
      c.feasible = c.reasons.length === 0;
      candidates.push(c);
    }
  }

  const feasible = candidates.filter((c) => c.feasible);
  feasible.sort((a, b) => a.wasteBytes! - b.wasteBytes! || b.clusterSize - a.clusterSize || a.fatBits - b.fatBits);
  // mkfs.fat's choice first where asked for and it holds the content (its rule is for 512-byte sectors).
  let standard: string | undefined;
  if (options.prefer === 'mkfs.fat' && options.clusterSize === undefined && bps === 512) {
    const m = mkfsFatChoice(partitionBytes, { ...(options.fatBits !== undefined && { fatBits: options.fatBits }), ...(options.rootEntries !== undefined && { rootEntries: options.rootEntries }) });
    if (m !== null) {
      const i = feasible.findIndex((c) => c.fatBits === m.fatBits && c.clusterSize === m.clusterSize);
      const what = label(m.fatBits, m.clusterSize);
      if (i >= 0) {
        feasible.unshift(...feasible.splice(i, 1));
        standard = `it is what mkfs.fat chooses for this size`;
      } else {
        const c = candidates.find((x) => x.fatBits === m.fatBits && x.clusterSize === m.clusterSize);
        standard = `mkfs.fat would choose ${what}, which does not fit (${c?.reasons[0] ?? 'no valid layout'}); of the others, it leaves the most free space`;
      }
    }
  }
  const chosen = feasible[0] ?? null;
  return { chosen, candidates, summary: summarize(partitionBytes, chosen, feasible, candidates, options, bigReason, standard) };
}

function describeForced(options: GeometryOptions): string {
  const parts: string[] = [];
  if (options.fatBits !== undefined) parts.push(`FAT${options.fatBits} forced`);
  if (options.clusterSize !== undefined) parts.push(`${options.clusterSize}-byte clusters forced`);
  if (options.alignDataTo !== undefined) parts.push(`data aligned to ${options.alignDataTo} bytes`);
  if (options.minReservedSectors !== undefined) parts.push(`at least ${options.minReservedSectors} reserved sectors`);
  return parts.length ? ` (${parts.join(', ')})` : '';
}

function summarize(
  partitionBytes: number,
  chosen: Candidate | null,
  feasible: Candidate[],
  candidates: Candidate[],
  options: GeometryOptions,
  bigReason: string | undefined,
  standard?: string,
): string {
  const part = `partition of ${partitionBytes} bytes (${formatBytes(partitionBytes)})${describeForced(options)}`;
  if (chosen) {
    const g = chosen.geometry!;
    const free = (chosen.clustersAvailable! - chosen.clustersNeeded!) * chosen.clusterSize;
    let why = standard ?? `it leaves the most free space of the ${feasible.length} feasible choice${feasible.length === 1 ? '' : 's'}`;
    const next = feasible[1];
    if (next && standard === undefined) {
      why +=
        `; the runner-up, ${label(next.fatBits, next.clusterSize)}, would leave ` +
        `${next.wasteBytes! - chosen.wasteBytes!} bytes (${formatBytes(next.wasteBytes! - chosen.wasteBytes!)}) less`;
    }
    return (
      `Chose ${label(chosen.fatBits, chosen.clusterSize)} for the ${part}: ${g.clusterCount} clusters, ` +
      `${chosen.clustersNeeded} needed, ${chosen.clustersAvailable! - chosen.clustersNeeded!} left free ` +
      `(${free} bytes, ${formatBytes(free)}); ${g.reservedSectors} reserved sector${g.reservedSectors === 1 ? '' : 's'}, 2 FATs of ${g.fatSectors} sector${g.fatSectors === 1 ? '' : 's'} each, ` +
      `${g.fatBits === 32 ? 'root directory in clusters' : `${g.rootEntries} root entries`}, data from sector ${g.dataStartSector}. ` +
      `Chosen because ${why}.`
    );
  }
  const parts: string[] = [`No FAT layout fits the ${part} among ${candidates.length} combinations tried.`];
  if (bigReason) parts.push(`Nothing can: ${bigReason}.`);
  // Best shortfall: only candidates whose layout is valid, so that space is all they lack.
  let best: Candidate | undefined;
  for (const c of candidates) {
    if (!c.geometry || c.clustersNeeded === undefined || c.clustersAvailable === undefined) continue;
    if (c.clustersNeeded <= c.clustersAvailable) continue;
    const m = (c.clustersNeeded - c.clustersAvailable) * c.clusterSize;
    const bm = best ? (best.clustersNeeded! - best.clustersAvailable!) * best.clusterSize : Infinity;
    if (m < bm) best = c;
  }
  if (best) {
    const m = (best.clustersNeeded! - best.clustersAvailable!) * best.clusterSize;
    parts.push(
      `At best ${m} bytes (${formatBytes(m)}) are missing: ${label(best.fatBits, best.clusterSize)} needs ` +
        `${best.clustersNeeded} clusters but has ${best.clustersAvailable}.`,
    );
  } else if (!candidates.some((c) => c.geometry)) {
    const first = candidates[0]?.reasons[0];
    parts.push(`No combination even gives a valid FAT layout for this size${first ? `, e.g. ${first}` : ''}.`);
  }
  return parts.join(' ');
}
