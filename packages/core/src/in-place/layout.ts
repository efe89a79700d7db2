import { Bitmap, type DirectoryPlacement, type InPlaceSource, type SourceNode, type TargetGeometry, type UnitRun } from '@fsconv/base';

/** Where new content goes while the source is still valid. Writes only into blocks the source does not use. */
export interface StageSink {
  /** Copy `length` bytes from byte `from` of the device (the source's data, intact) to byte `to`. */
  copy(from: number, to: number, length: number): void;
  write(data: Uint8Array, to: number): void;
  zero(to: number, length: number): void;
}

/** The units new content may use: every block under them free in the source; handed out lowest first. */
class UnitPool {
  private readonly free: Bitmap;
  private cursor: number;
  available: number;
  private readonly end: number;
  constructor(private readonly first: number, unitCount: number, isFree: (unit: number) => boolean) {
    this.end = first + unitCount;
    this.free = new Bitmap(this.end);
    this.cursor = first;
    let n = 0;
    for (let c = first; c < this.end; c++) {
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
  /** `n` units, lowest first, as runs; null when the pool cannot give them (nothing taken then). */
  take(n: number): Array<[number, number]> | null {
    if (n > this.available) return null;
    const out: Array<[number, number]> = [];
    let left = n;
    while (left > 0) {
      while (!this.free.get(this.cursor)) this.cursor++;
      const start = this.cursor;
      let len = 0;
      while (left > 0 && this.cursor < this.end && this.free.get(this.cursor)) {
        this.clear(this.cursor);
        this.cursor++;
        len++;
        left--;
      }
      out.push([start, len]);
    }
    return out;
  }
  /** The highest run of `n` consecutive free units (for the journal), taken; null if none. */
  takeHighestRun(n: number): number | null {
    let runEnd = -1;
    let len = 0;
    for (let c = this.end - 1; c >= this.first; c--) {
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
    this.free.clear(c);
    this.available--;
  }
}

/** What the in-place layout adds up to (the check's accounting). Units are the target's allocation units. */
export interface InPlaceAccounting {
  /** Units free in the source outside the target's front region: where new content can go. */
  poolUnits: number;
  /** New units needed (all content that cannot stay), and how many the pool could not give. */
  newUnits: number;
  missingUnits: number;
  /** Bytes of file data that stay where they are, and that are copied (front region, misaligned). */
  bytesInPlace: number;
  bytesMoved: number;
  /** Hard links beyond the first name, copied whole. */
  bytesDuplicated: number;
  /** Holes written as zeros. */
  bytesHoles: number;
  bytesDirectories: number;
  /** The exporter's own files (rights files). */
  bytesOwnFiles: number;
  /** Content the exporter chose to store as bytes (such as symlink targets). */
  bytesStoredAsBytes: number;
  /** The journal (in free units at the end; left there afterwards as free space). */
  journalUnits: number;
  journalFirstUnit: number;
  /** Pool units left after everything: room for more. */
  spareUnits: number;
  /** Units under the source's bad blocks (marked bad). */
  badUnits: number;
}

export interface InPlaceLayoutResult {
  accounting: InPlaceAccounting;
  runs: UnitRun[];
  /** The root directory's bytes when it lies in the fixed region (into the journal); null otherwise. */
  rootDirectory: Uint8Array | null;
  rootUnit: number;
  unitsUsed: number;
  /** First unit of the journal (valid when feasible), and its size in bytes. */
  journalUnit: number;
  journalBytes: number;
  /** Why this geometry cannot work at all (e.g. a bad block under its front region), if so. */
  refusal?: string;
}

export interface InPlaceLayoutInput {
  src: InPlaceSource;
  g: TargetGeometry;
  /** Bytes the journal takes for a layout with `runs` runs. */
  journalSize: (runs: number) => number;
}

/**
 * Decides where everything of the target goes on the source's own blocks, and with a sink writes
 * the new content (staging). Files keep every unit whose blocks are where the target will look for
 * them (aligned, contiguous, outside the front region, not already taken); the rest, and everything
 * new (directories, the exporter's own files, bytes it stores, hard-link copies, zeros for holes),
 * goes to units whose blocks the source marks free. Deterministic: the same input always gives the
 * same layout, so the plan (sink null) and the staging pass agree.
 */
export function layOutInPlace(input: InPlaceLayoutInput, sink: StageSink | null): InPlaceLayoutResult {
  const { src, g } = input;
  const bs = src.blockSize;
  const { unitBytes: cs, dataStart, firstUnit, unitCount } = g.grid;
  const unitPos = (c: number): number => dataStart + (c - firstUnit) * cs;
  const unitOfByte = (x: number): number => firstUnit + Math.floor((x - dataStart) / cs);
  const lastUnit = firstUnit + unitCount - 1;

  const used = src.usedBlocks();
  // A bad block is never written, whether or not the source marks it used.
  const badBlocks = new Set(src.badBlocks);
  const blockUsed = (b: number): boolean => b >= src.blockCount || used.get(b) || badBlocks.has(b);
  /** Whether every block the unit touches is free (a grid off the block boundaries touches one more). */
  const unitBlocksFree = (c: number): boolean => {
    const start = unitPos(c);
    for (let b = Math.floor(start / bs); b * bs < start + cs; b++) if (blockUsed(b)) return false;
    return true;
  };
  const pool = new UnitPool(firstUnit, unitCount, unitBlocksFree);
  const acc: InPlaceAccounting = {
    poolUnits: pool.available, newUnits: 0, missingUnits: 0, bytesInPlace: 0, bytesMoved: 0, bytesDuplicated: 0,
    bytesHoles: 0, bytesDirectories: 0, bytesOwnFiles: 0, bytesStoredAsBytes: 0, journalUnits: 0, journalFirstUnit: 0,
    spareUnits: 0, badUnits: 0,
  };

  // Units that stay with a file (or are bad) may be claimed once.
  const claimed = new Bitmap(lastUnit + 1);
  const runs: UnitRun[] = [];
  const badInFront = src.badBlocks.find((b) => b * bs < g.frontBytes);
  if (badInFront !== undefined) {
    // The target's fixed region must be writable and readable: another geometry (a smaller front) may avoid it.
    return {
      accounting: acc, runs: [], rootDirectory: null, rootUnit: 0, unitsUsed: 0, journalUnit: 0, journalBytes: 0,
      refusal: `bad block ${badInFront} lies in its front region (bytes 0..${g.frontBytes - 1})`,
    };
  }
  for (const bad of src.badBlocks) {
    // Every unit the block touches.
    const last = unitOfByte((bad + 1) * bs - 1);
    for (let c = Math.max(firstUnit, unitOfByte(bad * bs)); c <= last && c <= lastUnit; c++) {
      if (!claimed.testAndSet(c)) {
        runs.push({ start: c, length: 1, next: 0, bad: true });
        acc.badUnits++;
      }
    }
  }

  /**
   * A chain under construction: its segments in order. Every chain is complete before the next
   * one starts (a file's units are placed in one go), so it becomes runs then: one small object
   * per run, nothing kept per file beyond that (hundreds of thousands of files).
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
  /** New units from the pool (counted as missing when it runs dry: the plan is then infeasible). */
  const takeNew = (segs: Array<[number, number]>, n: number): Array<[number, number]> => {
    acc.newUnits += n;
    const got = pool.take(n);
    if (got === null) {
      // What the pool still holds goes to this content too: what is missing is the shortfall.
      acc.missingUnits += n - pool.available;
      pool.take(pool.available);
      return [];
    }
    for (const [s, l] of got) addSeg(segs, s, l);
    return got;
  };
  /** A new chain of `bytes` (at least one unit when asked), written with `data` when staging. */
  const newContent = (bytes: number, atLeastOne: boolean): Array<[number, number]> => {
    const segs = newChain();
    takeNew(segs, Math.max(atLeastOne ? 1 : 0, Math.ceil(bytes / cs)));
    return segs;
  };
  /** Writes `data` across a list of unit runs (in order). */
  const writeAcross = (pieces: Array<[number, number]>, data: Uint8Array): void => {
    if (sink === null) return;
    let o = 0;
    for (const [s, l] of pieces) {
      if (o >= data.length) break;
      const part = data.subarray(o, Math.min(data.length, o + l * cs));
      sink.write(part, unitPos(s));
      o += l * cs;
    }
  };
  const firstOf = (segs: Array<[number, number]>): number => segs[0]?.[0] ?? 0;

  /** A regular file: units that can stay, stay; the rest are copied (or zero-filled for holes). */
  const placeFile = (node: SourceNode, mayStay: boolean): number => {
    const size = node.size;
    const n = Math.ceil(size / cs);
    if (n === 0) return 0;
    const segs = newChain();
    const inline = src.inlineData?.(node) ?? null;
    if (inline !== null) {
      // Bytes kept in the source's metadata: new units, those bytes, zeros past them up to the size.
      let j = 0;
      for (const [s, l] of takeNew(segs, n)) {
        for (let i = 0; i < l; i++, j++) {
          const from = j * cs;
          const to = Math.min(size, from + cs);
          const have = Math.max(0, Math.min(to, inline.length) - from);
          if (have > 0) sink?.write(inline.subarray(from, from + have), unitPos(s + i));
          if (to - from > have) sink?.zero(unitPos(s + i) + have, to - from - have);
          acc.bytesHoles += to - from - have;
          if (mayStay) acc.bytesMoved += have;
          else acc.bytesDuplicated += have;
        }
      }
      return firstOf(segs);
    }
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
    const stayUnit = (j: number): number => {
      if (!mayStay) return 0;
      if (cs >= bs) {
        const k = cs / bs;
        const l0 = j * k;
        const need = Math.min(k, blocks - l0);
        const p0 = physOf(l0);
        if (p0 === 0 || p0 * bs < dataStart || (p0 * bs - dataStart) % cs !== 0) return 0;
        for (let i = 1; i < need; i++) if (physOf(l0 + i) !== p0 + i) return 0;
        const c = unitOfByte(p0 * bs);
        return c <= lastUnit && !claimed.get(c) ? c : 0;
      }
      const m = bs / cs;
      const p = physOf(Math.floor(j / m));
      if (p === 0 || p * bs < dataStart || (p * bs - dataStart) % cs !== 0) return 0;
      const c = unitOfByte(p * bs) + (j % m);
      return c <= lastUnit && !claimed.get(c) ? c : 0;
    };
    /** Copies (or zero-fills) the file's bytes of unit index j into new unit c. */
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
          sink?.zero(unitPos(c) + (x - from), end - x);
        } else {
          data += end - x;
          sink?.copy(p * bs + (x - l * bs), unitPos(c) + (x - from), end - x);
        }
        x = end;
      }
      acc.bytesHoles += hole;
      if (mayStay) acc.bytesMoved += data;
      else acc.bytesDuplicated += data;
    };
    for (let j = 0; j < n; ) {
      const c = stayUnit(j);
      if (c !== 0) {
        claimed.set(c);
        addSeg(segs, c, 1);
        acc.bytesInPlace += Math.min(cs, size - j * cs);
        j++;
        continue;
      }
      // A stretch of units that cannot stay: new units for all of them at once.
      let k = j + 1;
      while (k < n && stayUnit(k) === 0) k++;
      const got = takeNew(segs, k - j);
      let idx = j;
      for (const [s, l] of got) for (let i = 0; i < l; i++) fill(idx++, s + i);
      j = k;
    }
    return firstOf(segs);
  };

  const root = src.root();
  const encode = sink !== null;
  const rootLayout = g.directory(root, true, encode);
  const rootSegs = g.rootInUnits ? newContent(rootLayout.bytes, true) : null;
  let rootDirectory: Uint8Array | null = null;
  const seenLinks = new Set<number>();

  interface Pending { node: SourceNode; segs: Array<[number, number]> | null; parentFirst: number; parent: SourceNode | null }
  const stack: Pending[] = [{ node: root, segs: rootSegs, parentFirst: 0, parent: null }];
  while (stack.length > 0) {
    const { node: dir, segs: dirSegs, parentFirst, parent } = stack.pop()!;
    const isRoot = parent === null;
    // Only staging needs the names and the exporter's bytes; planning takes sizes from its measure.
    const layout = isRoot ? rootLayout : g.directory(dir, false, encode);
    const self = dirSegs ? firstOf(dirSegs) : 0;
    const place: DirectoryPlacement = { self, parent: parentFirst, parentIsRoot: parent === root, parentNode: parent, children: [], ownFiles: [] };
    const ownSegs = layout.ownFiles.map((length) => {
      const segs = newContent(length, false);
      acc.bytesOwnFiles += length;
      place.ownFiles.push(firstOf(segs));
      return segs;
    });
    const subdirs: Pending[] = [];
    for (const { node, content } of layout.children) {
      let first = 0;
      switch (content.kind) {
        case 'directory': {
          const segs = newContent(content.bytes, true);
          first = firstOf(segs);
          subdirs.push({ node, segs, parentFirst: self, parent: dir });
          break;
        }
        case 'file': {
          const firstName = !seenLinks.has(node.linkId);
          if (node.nlink > 1) seenLinks.add(node.linkId);
          first = placeFile(node, firstName);
          break;
        }
        case 'bytes': {
          const segs = newContent(content.bytes.length, false);
          writeAcross(segs, content.bytes);
          acc.bytesStoredAsBytes += content.bytes.length;
          first = firstOf(segs);
          break;
        }
        case 'none':
          break;
      }
      place.children.push(first);
    }
    const inUnits = !isRoot || g.rootInUnits;
    if (inUnits) acc.bytesDirectories += Math.max(1, Math.ceil(layout.bytes / cs)) * cs;
    // The exporter's bytes once everything in the directory is placed (its rights file records where each child went).
    if (layout.encode !== undefined) {
      const out = layout.encode(place);
      out.ownFiles.forEach((bytes, i) => writeAcross(ownSegs[i]!, bytes));
      if (inUnits) writeAcross(dirSegs!, out.directory);
      else rootDirectory = out.directory;
    }
    for (let i = subdirs.length - 1; i >= 0; i--) stack.push(subdirs[i]!);
  }

  // Every chain as runs (the last run of a chain ends it), in unit order.
  closeChain();
  runs.sort((a, b) => a.start - b.start);
  const unitsUsed = runs.reduce((n, r) => n + (r.bad ? 0 : r.length), 0);

  // The journal: the highest run of free units left, so nothing the commit writes lands on it.
  // It is not in the runs: afterwards its units are free space.
  const journalBytes = input.journalSize(runs.length);
  const journalUnits = Math.ceil(journalBytes / cs);
  let journalUnit = 0;
  if (acc.missingUnits === 0) {
    const c = pool.takeHighestRun(journalUnits);
    if (c === null) acc.missingUnits += journalUnits;
    else journalUnit = c;
  } else {
    acc.missingUnits += journalUnits;
  }
  acc.journalUnits = journalUnits;
  acc.journalFirstUnit = journalUnit;
  acc.spareUnits = pool.available;
  return {
    accounting: acc, runs, rootDirectory, rootUnit: rootSegs ? firstOf(rootSegs) : 0, unitsUsed, journalUnit, journalBytes,
  };
}
