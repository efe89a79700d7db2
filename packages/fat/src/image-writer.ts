import { Device } from '@fsconv/device';
import { encodeBootSector, encodeFsInfo, standardBootFields } from './boot-sector.js';
import { DIRENT_SIZE, MAX_DIR_SLOTS } from './constants.js';
import { sortRuns, streamFat, type ClusterRun } from './fat-table.js';
import { parseTimeZone } from './fat-time.js';
import { planGeometry, type Geometry, type GeometryOptions, type GeometryPlan, type SpaceDemand } from './geometry.js';
import type { ConversionNotes, SourceNode, SourceTree } from '@fsconv/base';
import { encodeDirectory, storedSize, type DirectoryPlacement } from './directory-encode.js';
import { directoryBytes, layoutDirectory, noteDirectory, type FatTarget, type NamingOptions } from './directory-layout.js';

/** Cluster sizes the measure pass counts for (the geometry chooses among them). */
export const MEASURED_CLUSTER_SIZES = [512, 1024, 2048, 4096, 8192, 16384, 32768, 65536];

export interface FatBuildOptions extends GeometryOptions {
  target: FatTarget;
  /** Size of the FAT filesystem (the partition) in bytes. */
  sizeBytes: number;
  label?: string | null;
  volumeId?: number;
  codepage?: string;
  sourceCharset?: string;
  /** 'local', 'UTC' or ±HH:MM (see fat-time.ts). */
  tz?: string;
  /** Wrap the filesystem in a disk image with an MBR and one partition starting at 1 MiB. */
  partitionTable?: 'mbr';
  progress?: (phase: string, done: number, total: number) => void;
}

export interface FatMeasure {
  demand: SpaceDemand;
  /** Slots of each directory by its linkId (directories have one name each). */
  directorySlots: Map<number, number>;
  /** Bytes of each directory's rights file by its linkId (absent without one): later passes need no names. */
  rightsBytes: Map<number, number>;
  notes: ConversionNotes;
  files: number;
  directories: number;
  /** Bytes of file data written (every name: hard links are copies). */
  fileBytes: number;
  /** Names stored (files, directories, symlinks, placeholders). */
  entries: number;
  label: string | null;
  volumeId: number;
}

/** Mixes a value into a 32-bit FNV-1a hash (a deterministic volume ID for sources without one). */
function fnv(h: number, s: string): number {
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** A FAT volume label from a source name: uppercase, legal characters only, ≤ 11 bytes, or null. */
export function fatLabel(name: string | null | undefined): string | null {
  if (name === null || name === undefined) return null;
  const cleaned = name.toUpperCase().replace(/[^A-Z0-9 !#$%&'()\-@^_`{}~]/g, '_').slice(0, 11).replace(/ +$/, '');
  return cleaned === '' ? null : cleaned;
}

/**
 * Pass 1: walk the whole source, name every directory's entries exactly as the write will, and
 * count what the content needs at every cluster size. Nothing is written.
 */
export function measureForFat(tree: SourceTree, opts: FatBuildOptions): FatMeasure {
  const naming = namingOptions(tree, opts);
  const perSize = MEASURED_CLUSTER_SIZES.map(() => 0);
  const add = (bytes: number, atLeastOne: boolean): void => {
    for (let i = 0; i < perSize.length; i++) {
      const cs = MEASURED_CLUSTER_SIZES[i]!;
      perSize[i]! += Math.max(atLeastOne ? 1 : 0, Math.ceil(bytes / cs));
    }
  };
  const notes: ConversionNotes = { renames: [], duplicates: [], losses: [] };
  const directorySlots = new Map<number, number>();
  const rightsBytes = new Map<number, number>();
  const firstNameOf = new Map<number, string>();
  let largest: { bytes: number; path: string } | undefined;
  let files = 0;
  let directories = 0;
  let fileBytes = 0;
  let entries = 0;
  let rootSlots = 0;
  const oversizeDirectories: Array<{ path: string; slots: number; entries: number }> = [];
  let id = 0x811c9dc5;
  // Only a source without a volume ID of its own (a directory) gets one hashed from its entries.
  const hashForId = opts.volumeId === undefined && (tree.volumeId === null || tree.volumeId === undefined);

  const root = tree.root();
  const stack: SourceNode[] = [root];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    const isRoot = dir === root;
    const layout = layoutDirectory(tree, dir, isRoot, naming);
    noteDirectory(layout, opts.target, notes, isRoot ? dir : undefined);
    directorySlots.set(dir.linkId, layout.slots);
    if (layout.slots > MAX_DIR_SLOTS) oversizeDirectories.push({ path: dir.path, slots: layout.slots, entries: layout.children.length });
    if (isRoot) rootSlots = layout.slots;
    else add(directoryBytes(layout.slots), true);
    if (layout.rights) {
      add(layout.rights.length, false);
      rightsBytes.set(dir.linkId, layout.rights.length);
    }
    directories++;
    const subdirs: SourceNode[] = [];
    for (const { node } of layout.children) {
      entries++;
      if (hashForId) id = fnv(id, `${node.path}\0${node.size}\0${node.mtime.sec}`);
      if (node.type === 'dir') {
        subdirs.push(node);
        continue;
      }
      add(node.size, false);
      if (node.type === 'file') {
        files++;
        fileBytes += node.size;
        if (largest === undefined || node.size > largest.bytes) largest = { bytes: node.size, path: node.path };
        if (node.nlink > 1) {
          const first = firstNameOf.get(node.linkId);
          if (first === undefined) firstNameOf.set(node.linkId, node.path);
          else notes.duplicates.push({ path: node.path, of: first });
        }
      }
    }
    for (let i = subdirs.length - 1; i >= 0; i--) stack.push(subdirs[i]!);
    opts.progress?.('measure', directories, directories + stack.length);
  }
  const demand: SpaceDemand = {
    clustersNeeded(clusterSize: number): number {
      const i = MEASURED_CLUSTER_SIZES.indexOf(clusterSize);
      if (i < 0) throw new Error(`no measure for cluster size ${clusterSize}`);
      return perSize[i]!;
    },
    rootSlots,
    ...(largest !== undefined && { largestFile: largest }),
    ...(oversizeDirectories.length > 0 && { oversizeDirectories }),
  };
  return {
    demand, directorySlots, rightsBytes, notes, files, directories, fileBytes, entries,
    label: naming.label, volumeId: opts.volumeId ?? tree.volumeId ?? id,
  };
}

/** How a source's names and label become FAT's (the new-image writer and the in-place exporter alike). */
export function namingOptions(tree: SourceTree, opts: Pick<FatBuildOptions, 'target' | 'codepage' | 'sourceCharset' | 'label'>): NamingOptions {
  return {
    target: opts.target,
    codepage: opts.codepage ?? 'cp437',
    sourceCharset: opts.sourceCharset ?? 'utf-8',
    label: opts.label !== undefined ? fatLabel(opts.label) : fatLabel(tree.label),
  };
}

/**
 * Chooses the geometry for a measured source (the dry run stops here): what mkfs.fat would choose
 * for the size where it holds the content, so that a new image looks like any other to its users.
 */
export function planFat(measure: FatMeasure, opts: FatBuildOptions): GeometryPlan {
  return planGeometry(opts.sizeBytes, measure.demand, { prefer: 'mkfs.fat', ...opts });
}

export interface FatBuildResult {
  geometry: Geometry;
  clustersUsed: number;
  bytesWritten: number;
  imageBytes: number;
  partitionOffset: number;
}

/** The partition starts at 1 MiB in disk images, as partitioning tools place it. */
export const PARTITION_OFFSET = 1 << 20;

/**
 * Pass 2: writes a new FAT image (optionally inside an MBR disk image) to `output`: a path where
 * a new image file is created (refused when something is there), or a function that opens the
 * device to write for the image's size (the CLI's temporary file, which reads as zeros where the
 * image writes nothing, or a block device whose system area it has cleared). The device is flushed
 * and closed here, also on failure. Clusters are handed out in depth-first order, each file and
 * directory in one run, so the FAT is streamed from the run list. The output is a pure function of
 * the source and the options.
 */
export function writeFatImage(
  tree: SourceTree, measure: FatMeasure, g: Geometry, output: string | ((imageBytes: number) => Device), opts: FatBuildOptions,
): FatBuildResult {
  const naming = namingOptions(tree, opts);
  const tzOffset = parseTimeZone(opts.tz ?? 'local');
  const partOffset = opts.partitionTable === 'mbr' ? PARTITION_OFFSET : 0;
  const fsBytes = g.totalSectors * g.bytesPerSector;
  const imageBytes = partOffset + fsBytes;
  const dev = typeof output === 'string' ? Device.create(output, imageBytes) : output(imageBytes);
  let bytesWritten = 0;
  const write = (data: Uint8Array, fsPosition: number): void => {
    dev.writeAt(data, partOffset + fsPosition);
    bytesWritten += data.length;
  };
  try {
    const cs = g.clusterSize;
    const clusterPos = (c: number): number => (g.dataStartSector + (c - 2) * g.sectorsPerCluster) * g.bytesPerSector;
    const runs: ClusterRun[] = [];
    let nextCluster = 2;
    const allocate = (bytes: number, atLeastOne: boolean): number => {
      const n = Math.max(atLeastOne ? 1 : 0, Math.ceil(bytes / cs));
      if (n === 0) return 0;
      if (nextCluster + n > g.clusterCount + 2) throw new Error(`out of clusters (internal: the measure said it fits)`);
      const start = nextCluster;
      nextCluster += n;
      runs.push({ start, length: n, next: 0 });
      return start;
    };
    const writeData = (node: SourceNode, start: number): void => {
      const chunk = new Uint8Array(Math.min(node.size, 1 << 20));
      for (let off = 0; off < node.size; off += chunk.length) {
        const part = chunk.subarray(0, Math.min(chunk.length, node.size - off));
        tree.readFile(node, off, part);
        write(part, clusterPos(start) + off);
      }
    };

    const root = tree.root();
    const rootIsCluster = g.fatBits === 32;
    const rootSlots = measure.directorySlots.get(root.linkId)!;
    const rootStart = rootIsCluster ? allocate(directoryBytes(rootSlots), true) : 0;
    const stack: Array<{ node: SourceNode; start: number; parentStart: number; parent: SourceNode | null }> = [
      { node: root, start: rootStart, parentStart: 0, parent: null },
    ];
    let dirsDone = 0;
    while (stack.length > 0) {
      const { node: dir, start, parentStart, parent } = stack.pop()!;
      const isRoot = parent === null;
      const layout = layoutDirectory(tree, dir, isRoot, naming);
      const bytes = isRoot && !rootIsCluster ? g.rootEntries * DIRENT_SIZE : Math.max(1, Math.ceil(directoryBytes(layout.slots) / cs)) * cs;
      const place: DirectoryPlacement = { self: start, parent: parent === root ? 0 : parentStart, rights: 0, children: [] };
      if (layout.rights) place.rights = allocate(layout.rights.length, false);
      const subdirs: Array<{ node: SourceNode; start: number; parentStart: number; parent: SourceNode }> = [];
      for (const { node } of layout.children) {
        let first = 0;
        if (node.type === 'dir') {
          first = allocate(directoryBytes(measure.directorySlots.get(node.linkId)!), true);
          subdirs.push({ node, start: first, parentStart: start, parent: dir });
        } else if (node.type === 'file' || node.type === 'symlink') {
          first = allocate(node.size, false);
          if (first !== 0) writeData(node, first);
        }
        place.children.push({ cluster: first, size: storedSize(node) });
      }
      // The rights file last: its records hold where each child was put.
      if (layout.rights && place.rights !== 0) write(layout.rights.encode(place.children, tzOffset), clusterPos(place.rights));
      const buf = encodeDirectory(layout, place, { dir, parentNode: parent, isRoot, label: naming.label, tzOffset }, bytes);
      write(buf, isRoot && !rootIsCluster ? (g.reservedSectors + 2 * g.fatSectors) * g.bytesPerSector : clusterPos(start));
      for (let i = subdirs.length - 1; i >= 0; i--) stack.push(subdirs[i]!);
      opts.progress?.('write', ++dirsDone, measure.directories);
    }

    // The FATs, streamed from the runs (both copies identical).
    sortRuns(runs);
    const fatBytes = g.fatSectors * g.bytesPerSector;
    for (let copy = 0; copy < 2; copy++) {
      let pos = (g.reservedSectors + copy * g.fatSectors) * g.bytesPerSector;
      for (const chunk of streamFat(g.fatBits, fatBytes, runs)) {
        write(chunk, pos);
        pos += chunk.length;
      }
    }
    const clustersUsed = nextCluster - 2;

    // The boot region last: until it is written the image is not a FAT volume.
    const boot = encodeBootSector({
      fatBits: g.fatBits, bytesPerSector: g.bytesPerSector, sectorsPerCluster: g.sectorsPerCluster,
      reservedSectors: g.reservedSectors, numFats: 2, rootEntries: g.rootEntries, totalSectors: g.totalSectors,
      fatSectors: g.fatSectors, ...standardBootFields(g.totalSectors * g.bytesPerSector), hiddenSectors: partOffset / 512,
      volumeId: measure.volumeId, label: naming.label ?? '',
      rootCluster: rootIsCluster ? rootStart : 0, fsInfoSector: rootIsCluster ? 1 : 0, backupBootSector: rootIsCluster ? 6 : 0,
    });
    write(boot, 0);
    if (rootIsCluster) {
      const info = encodeFsInfo(g.clusterCount - clustersUsed, nextCluster <= g.clusterCount + 1 ? nextCluster : 0xffffffff);
      write(info, g.bytesPerSector);
      write(boot, 6 * g.bytesPerSector);
      write(info, 7 * g.bytesPerSector);
    }
    if (partOffset > 0) {
      dev.writeAt(encodeMbr(g, partOffset, fsBytes), 0);
      bytesWritten += 512;
    }
    dev.flush();
    return { geometry: g, clustersUsed, bytesWritten, imageBytes, partitionOffset: partOffset };
  } finally {
    dev.close();
  }
}

/** MBR partition type for a FAT type and size (LBA types: 0x0E FAT16, 0x0C FAT32). */
export function mbrPartitionType(fatBits: 12 | 16 | 32, sectors: number): number {
  if (fatBits === 12) return 0x01;
  if (fatBits === 16) return sectors < 65536 ? 0x04 : 0x0e;
  return 0x0c;
}

/** A master boot record with one partition (no boot code; CHS fields saying "use LBA"). */
export function encodeMbr(g: Geometry, partOffset: number, fsBytes: number): Uint8Array {
  const mbr = new Uint8Array(512);
  const e = 446;
  const startLba = partOffset / 512;
  const sectors = fsBytes / 512;
  mbr[e] = 0x00;
  mbr.set([0xfe, 0xff, 0xff], e + 1);
  mbr[e + 4] = mbrPartitionType(g.fatBits, g.totalSectors);
  mbr.set([0xfe, 0xff, 0xff], e + 5);
  const v = new DataView(mbr.buffer);
  v.setUint32(e + 8, startLba, true);
  v.setUint32(e + 12, sectors, true);
  mbr[510] = 0x55;
  mbr[511] = 0xaa;
  return mbr;
}
