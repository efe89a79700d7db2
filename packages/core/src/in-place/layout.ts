import { Bitmap } from '@fsconv/ext2fs-reader';
import { DIRENT_SIZE, parseTimeZone, type ClusterRun, type Geometry } from '@fsconv/fat';
import { encodeDirectory, storedSize, type DirectoryPlacement } from '../fat-directory.js';
import { directoryBytes, isSpecial, layoutDirectory, type NamingOptions } from '../fat-layout.js';
import type { Ext2Source } from '../import-ext2.js';
import type { SourceNode } from '../model.js';

/** Where new content goes while the ext2 is still valid. Writes only into ext2-free blocks. */
export interface StageSink {
  /** Copy `length` bytes from byte `from` of the device (ext2 data, intact) to byte `to`. */
  copy(from: number, to: number, length: number): void;
  write(data: Uint8Array, to: number): void;
  zero(to: number, length: number): void;
}

/** The clusters new content may use: every block under them free in the ext2; handed out lowest first. */
class ClusterPool {
  private readonly free: Bitmap;
  private cursor = 2;
  available: number;
  constructor(readonly clusterCount: number, isFree: (cluster: number) => boolean) {
    this.free = new Bitmap(clusterCount + 2);
    let n = 0;
    for (let c = 2; c < clusterCount + 2; c++) {
      if (isFree(c)) {
        this.free.set(c);
        n++;
      }
    }
    this.available = n;
  }
  isFree(c: number): boolean {
    return this.free.get(c);
  }
  /** `n` clusters, lowest first, as runs; null when the pool cannot give them (nothing taken then). */
  take(n: number): Array<[number, number]> | null {
    if (n > this.available) return null;
    const out: Array<[number, number]> = [];
    let left = n;
    while (left > 0) {
      while (!this.free.get(this.cursor)) this.cursor++;
      const start = this.cursor;
      let len = 0;
      while (left > 0 && this.cursor < this.clusterCount + 2 && this.free.get(this.cursor)) {
        this.clear(this.cursor);
        this.cursor++;
        len++;
        left--;
      }
      out.push([start, len]);
    }
    return out;
  }
  /** The highest run of `n` consecutive free clusters (for the journal), taken; null if none. */
  takeHighestRun(n: number): number | null {
    let runEnd = -1;
    let len = 0;
    for (let c = this.clusterCount + 1; c >= 2; c--) {
      if (this.free.get(c)) {
        if (len === 0) runEnd = c;
        len++;
        if (len === n) {
          for (let k = c; k <= runEnd; k++) this.clear(k);
          return c;
        }
      } else {
        len = 0;
      }
    }
    return null;
  }
  private clear(c: number): void {
    this.free.bytes[c >>> 3]! &= ~(1 << (c & 7));
    this.available--;
  }
}

/** What the in-place layout adds up to (the check's accounting). */
export interface InPlaceAccounting {
  /** Clusters free in the ext2 outside the FAT's front region: where new content can go. */
  poolClusters: number;
  /** New clusters needed (all content that cannot stay), and how many the pool could not give. */
  newClusters: number;
  missingClusters: number;
  /** Bytes of file data that stay where they are, and that are copied (front region, misaligned). */
  bytesInPlace: number;
  bytesMoved: number;
  /** Hard links beyond the first name, copied whole. */
  bytesDuplicated: number;
  /** Holes written as zeros. */
  bytesHoles: number;
  bytesDirectories: number;
  bytesRightsFiles: number;
  bytesSymlinks: number;
  /** The journal (in free clusters at the end; left there afterwards as free space). */
  journalClusters: number;
  journalFirstCluster: number;
  /** Pool clusters left after everything: room for more. */
  spareClusters: number;
  /** Bad blocks (clusters marked bad). */
  badClusters: number;
}

export interface InPlaceLayoutResult {
  accounting: InPlaceAccounting;
  runs: ClusterRun[];
  /** FAT12/16 root directory bytes (into the journal); empty on FAT32. */
  rootDirectory: Uint8Array;
  rootCluster: number;
  clustersUsed: number;
  /** First cluster of the journal (valid when feasible), and its size in bytes. */
  journalCluster: number;
  journalBytes: number;
  /** Why this geometry cannot work at all (e.g. a bad block under its front region), if so. */
  refusal?: string;
}

export interface InPlaceLayoutInput {
  src: Ext2Source;
  g: Geometry;
  naming: NamingOptions;
  /** From the measure pass: each directory's slots and rights file size, so planning names nothing. */
  directorySlots: Map<number, number>;
  rightsBytes: Map<number, number>;
  tz: string;
  /** Bytes the journal takes for a layout with `runs` FAT runs and a FAT12/16 root of `rootBytes`. */
  journalSize: (runs: number, rootBytes: number) => number;
}

/**
 * Decides where everything of the FAT goes on the ext2's own blocks, and with a sink writes the new
 * content (staging). Files keep every cluster whose blocks are where FAT will look for them (aligned,
 * contiguous, outside the front region, not already taken); the rest, and everything new
 * (directories, rights files, symlink targets, hard-link copies, zeros for holes), goes to clusters
 * whose blocks ext2 marks free. Deterministic: the same input always gives the same layout, so the
 * plan (sink null) and the staging pass agree.
 */
export function layOutInPlace(input: InPlaceLayoutInput, sink: StageSink | null): InPlaceLayoutResult {
  const { src, g, naming } = input;
  const vol = src.volume;
  const bs = vol.blockSize;
  const cs = g.clusterSize;
  const dataStart = g.dataStartSector * g.bytesPerSector;
  const clusterPos = (c: number): number => dataStart + (c - 2) * cs;
  const clusterOfByte = (x: number): number => 2 + Math.floor((x - dataStart) / cs);
  const lastCluster = g.clusterCount + 1;
  const tzOffset = parseTimeZone(input.tz);

  // Blocks the ext2 uses (its bitmaps agree with every claim: checkFilesystem verified that).
  const used = ext2UsedBlocks(src);
  const blockUsed = (b: number): boolean => b < vol.firstDataBlock || b >= vol.blocksCount || used.get(b);
  const clusterBlocksFree = (c: number): boolean => {
    const start = clusterPos(c);
    if (cs >= bs) {
      for (let b = start / bs; b < (start + cs) / bs; b++) if (blockUsed(b)) return false;
      return true;
    }
    return !blockUsed(Math.floor(start / bs));
  };
  const pool = new ClusterPool(g.clusterCount, clusterBlocksFree);
  const acc: InPlaceAccounting = {
    poolClusters: pool.available, newClusters: 0, missingClusters: 0, bytesInPlace: 0, bytesMoved: 0, bytesDuplicated: 0,
    bytesHoles: 0, bytesDirectories: 0, bytesRightsFiles: 0, bytesSymlinks: 0, journalClusters: 0, journalFirstCluster: 0,
    spareClusters: 0, badClusters: 0,
  };

  // Clusters that stay with a file (or are bad) may be claimed once.
  const claimed = new Bitmap(g.clusterCount + 2);
  const runs: ClusterRun[] = [];
  const badInFront = src.summary.badBlocks.find((b) => b * bs < dataStart);
  if (badInFront !== undefined) {
    // The boot sector, FATs and root must be readable: another geometry (a smaller front) may avoid it.
    return {
      accounting: acc, runs: [], rootDirectory: new Uint8Array(0), rootCluster: 0, clustersUsed: 0, journalCluster: 0, journalBytes: 0,
      refusal: `bad block ${badInFront} lies in its front region (boot sector, FATs, root: bytes 0..${dataStart - 1})`,
    };
  }
  for (const bad of src.summary.badBlocks) {
    const byte = bad * bs;
    const first = clusterOfByte(byte);
    const count = Math.max(1, bs / cs);
    for (let c = first; c < first + count && c <= lastCluster; c++) {
      if (!claimed.testAndSet(c)) {
        runs.push({ start: c, length: 1, next: 0, bad: true });
        acc.badClusters++;
      }
    }
  }

  /**
   * A chain under construction: its segments in order. Every chain is complete before the next
   * one starts (a file's clusters are placed in one go), so it becomes FAT runs then: one small
   * object per run, nothing kept per file beyond that (hundreds of thousands of files).
   */
  let open: Array<[number, number]> | null = null;
  const closeChain = (): void => {
    const segs = open;
    if (segs === null) return;
    segs.forEach(([s, l], i) => runs.push({ start: s, length: l, next: segs[i + 1]?.[0] ?? 0 }));
    open = null;
  };
  const newChain = (): Array<[number, number]> => {
    closeChain();
    const segs: Array<[number, number]> = [];
    open = segs;
    return segs;
  };
  const addSeg = (segs: Array<[number, number]>, start: number, len: number): void => {
    const last = segs[segs.length - 1];
    if (last !== undefined && last[0] + last[1] === start) last[1] += len;
    else segs.push([start, len]);
  };
  /** New clusters from the pool (counted as missing when it runs dry: the plan is then infeasible). */
  const takeNew = (segs: Array<[number, number]>, n: number): Array<[number, number]> => {
    acc.newClusters += n;
    const got = pool.take(n);
    if (got === null) {
      acc.missingClusters += n;
      return [];
    }
    for (const [s, l] of got) addSeg(segs, s, l);
    return got;
  };
  /** Writes `data` across a list of cluster runs (in order). */
  const writeAcross = (pieces: Array<[number, number]>, data: Uint8Array): void => {
    if (sink === null) return;
    let o = 0;
    for (const [s, l] of pieces) {
      if (o >= data.length) break;
      const part = data.subarray(o, Math.min(data.length, o + l * cs));
      sink.write(part, clusterPos(s));
      o += l * cs;
    }
  };
  const firstOf = (segs: Array<[number, number]>): number => segs[0]?.[0] ?? 0;

  /** A regular file: clusters that can stay, stay; the rest are copied (or zero-filled for holes). */
  const placeFile = (node: SourceNode, mayStay: boolean): number => {
    const size = node.size;
    const n = Math.ceil(size / cs);
    if (n === 0) return 0;
    const segs = newChain();
    const blocks = Math.ceil(size / bs);
    // logical block → physical block (0 = hole), from the file's extents (no object per block).
    const extents = src.extents(node);
    let ei = 0;
    const physOf = (l: number): number => {
      if (extents.length === 0) return 0;
      if (ei >= extents.length) ei = extents.length - 1;
      while (ei > 0 && extents[ei]!.logical > l) ei--;
      while (ei < extents.length - 1 && extents[ei]!.logical + extents[ei]!.length <= l) ei++;
      const e = extents[ei]!;
      return l >= e.logical && l < e.logical + e.length ? e.physical + (l - e.logical) : 0;
    };
    const stayCluster = (j: number): number => {
      if (!mayStay) return 0;
      if (cs >= bs) {
        const k = cs / bs;
        const l0 = j * k;
        const need = Math.min(k, blocks - l0);
        const p0 = physOf(l0);
        if (p0 === 0 || p0 * bs < dataStart || (p0 * bs - dataStart) % cs !== 0) return 0;
        for (let i = 1; i < need; i++) if (physOf(l0 + i) !== p0 + i) return 0;
        const c = clusterOfByte(p0 * bs);
        return c <= lastCluster && !claimed.get(c) ? c : 0;
      }
      const m = bs / cs;
      const p = physOf(Math.floor(j / m));
      if (p === 0 || p * bs < dataStart) return 0;
      const c = clusterOfByte(p * bs) + (j % m);
      return c <= lastCluster && !claimed.get(c) ? c : 0;
    };
    /** Copies (or zero-fills) the file's bytes of cluster index j into new cluster c. */
    const fill = (j: number, c: number): void => {
      const from = j * cs;
      const to = Math.min(size, from + cs);
      let hole = 0;
      let data = 0;
      for (let x = from; x < to; ) {
        const l = Math.floor(x / bs);
        const end = Math.min(to, (l + 1) * bs);
        const p = physOf(l);
        if (p === 0) {
          hole += end - x;
          sink?.zero(clusterPos(c) + (x - from), end - x);
        } else {
          data += end - x;
          sink?.copy(p * bs + (x - l * bs), clusterPos(c) + (x - from), end - x);
        }
        x = end;
      }
      acc.bytesHoles += hole;
      if (mayStay) acc.bytesMoved += data;
      else acc.bytesDuplicated += data;
    };
    for (let j = 0; j < n; ) {
      const c = stayCluster(j);
      if (c !== 0) {
        claimed.set(c);
        addSeg(segs, c, 1);
        acc.bytesInPlace += Math.min(cs, size - j * cs);
        j++;
        continue;
      }
      // A stretch of clusters that cannot stay: new clusters for all of them at once.
      let k = j + 1;
      while (k < n && stayCluster(k) === 0) k++;
      const got = takeNew(segs, k - j);
      let idx = j;
      for (const [s, l] of got) for (let i = 0; i < l; i++) fill(idx++, s + i);
      j = k;
    }
    return firstOf(segs);
  };

  const root = src.root();
  const rootIsCluster = g.fatBits === 32;
  const rootSlots = input.directorySlots.get(root.linkId)!;
  const dirClusters = (slots: number): number => Math.max(1, Math.ceil(directoryBytes(slots) / cs));
  const rootSegs = rootIsCluster ? newChain() : null;
  if (rootSegs) takeNew(rootSegs, dirClusters(rootSlots));
  let rootDirectory: Uint8Array = new Uint8Array(0);
  const seenLinks = new Set<number>();

  const withRights = naming.target === 'vfat+rights';
  const rootBytes = rootIsCluster ? 0 : g.rootEntries * DIRENT_SIZE;
  interface Pending { node: SourceNode; segs: Array<[number, number]> | null; parentFirst: number; parent: SourceNode | null }
  const stack: Pending[] = [{ node: root, segs: rootSegs, parentFirst: 0, parent: null }];
  while (stack.length > 0) {
    const { node: dir, segs: dirSegs, parentFirst, parent } = stack.pop()!;
    const isRoot = parent === null;
    // Only staging needs the names and rights bytes; planning takes their sizes from the measure.
    const layout = sink !== null ? layoutDirectory(src, dir, isRoot, naming) : null;
    const children = layout !== null ? layout.children.map((c) => c.node) : storedChildren(src, dir, withRights);
    const rightsLength = layout !== null ? (layout.rights?.length ?? -1) : (input.rightsBytes.get(dir.linkId) ?? -1);
    const slots = layout !== null ? layout.slots : input.directorySlots.get(dir.linkId)!;
    const self = dirSegs ? firstOf(dirSegs) : 0;
    const place: DirectoryPlacement = { self, parent: parent === root ? 0 : parentFirst, rights: 0, children: [] };
    let rightsClusters: Array<[number, number]> | null = null;
    if (rightsLength >= 0) {
      const segs = newChain();
      rightsClusters = takeNew(segs, Math.ceil(rightsLength / cs));
      acc.bytesRightsFiles += rightsLength;
      place.rights = firstOf(segs);
    }
    const subdirs: Pending[] = [];
    for (const node of children) {
      let first = 0;
      if (node.type === 'dir') {
        const segs = newChain();
        takeNew(segs, dirClusters(input.directorySlots.get(node.linkId)!));
        first = firstOf(segs);
        subdirs.push({ node, segs, parentFirst: self, parent: dir });
      } else if (node.type === 'file') {
        const firstName = !seenLinks.has(node.linkId);
        if (node.nlink > 1) seenLinks.add(node.linkId);
        first = placeFile(node, firstName);
      } else if (node.type === 'symlink' && node.size > 0) {
        const segs = newChain();
        const got = takeNew(segs, Math.ceil(node.size / cs));
        writeAcross(got, node.target!);
        acc.bytesSymlinks += node.size;
        first = firstOf(segs);
      }
      place.children.push({ cluster: first, size: storedSize(node) });
    }
    const bytes = isRoot && !rootIsCluster ? rootBytes : dirClusters(slots) * cs;
    acc.bytesDirectories += isRoot && !rootIsCluster ? 0 : bytes;
    // The rights file once its children are placed: its records hold where each one was put.
    if (layout?.rights && rightsClusters !== null) writeAcross(rightsClusters, layout.rights.encode(place.children, tzOffset));
    if (layout !== null) {
      const buf = encodeDirectory(layout, place, { dir, parentNode: parent, isRoot, label: naming.label, tzOffset }, bytes);
      if (isRoot && !rootIsCluster) rootDirectory = buf;
      else writeAcross(dirSegs!, buf);
    }
    for (let i = subdirs.length - 1; i >= 0; i--) stack.push(subdirs[i]!);
  }

  // Every chain as FAT runs (the last run of a chain ends it), in cluster order.
  closeChain();
  runs.sort((a, b) => a.start - b.start);
  const clustersUsed = runs.reduce((n, r) => n + (r.bad ? 0 : r.length), 0);

  // The journal: the highest run of free clusters left, so nothing the commit writes lands on it.
  // It is not in the runs: afterwards its clusters are free space.
  const journalBytes = input.journalSize(runs.length, rootBytes);
  const journalClusters = Math.ceil(journalBytes / cs);
  let journalCluster = 0;
  if (acc.missingClusters === 0) {
    const c = pool.takeHighestRun(journalClusters);
    if (c === null) acc.missingClusters += journalClusters;
    else journalCluster = c;
  } else {
    acc.missingClusters += journalClusters;
  }
  acc.journalClusters = journalClusters;
  acc.journalFirstCluster = journalCluster;
  acc.spareClusters = pool.available;
  return {
    accounting: acc, runs, rootDirectory, rootCluster: rootSegs ? firstOf(rootSegs) : 0, clustersUsed, journalCluster, journalBytes,
  };
}

/** The children a directory stores on FAT, in layout order (what `layoutDirectory` places, unnamed). */
function storedChildren(src: Ext2Source, dir: SourceNode, withRights: boolean): SourceNode[] {
  const all = src.children(dir);
  if (withRights) return all;
  return all.filter((n) => !isSpecial(n));
}

/** The ext2's block bitmaps as one bitmap over all blocks. */
function ext2UsedBlocks(src: Ext2Source): Bitmap {
  const vol = src.volume;
  const { sb, layout, groups } = vol;
  const out = new Bitmap(sb.blocksCount);
  for (let g = 0; g < sb.groupCount; g++) {
    const bitmap = vol.readBlocks(groups.blockBitmap[g]!, 1);
    const start = layout.groupStart(g);
    const n = layout.groupEnd(g) - start;
    for (let i = 0; i < n; i++) if ((bitmap[i >>> 3]! >>> (i & 7)) & 1) out.set(start + i);
  }
  return out;
}
