/**
 * The FAT reader: an engine over a ByteSource (an image file, a device, memory). It reads the
 * boot sector, the FAT (in cached blocks, never the whole table as objects), cluster chains,
 * directories and files, and walks the tree. Every number read from disk is checked before it
 * sizes anything or steers a loop: cluster numbers against the data area, chains against loops
 * and the cluster count, directory sizes against the 65536-slot limit, file sizes against their
 * chains. Refusals are FatErrors naming the place.
 */
import iconv from 'iconv-lite';
import type { ByteSource } from '@fsconv/base';
import { decodeBootSector, decodeFsInfo, type DecodedBootSector } from './boot-sector.js';
import { ATTR, DIRENT_SIZE, FAT_BAD, FAT_EOC_MIN, MAX_DIR_SLOTS, NT_LOWER_BASE, NT_LOWER_EXT, type FatBits } from './constants.js';
import { decodeDirectory, type NamedEntry } from './dirent.js';
import { FatError, fatCorrupt } from './errors.js';

export interface FatVolumeOptions {
  /** Where the volume starts in the source, in bytes (a partition inside a disk image). */
  offset?: number;
  /** OEM code page of 8.3 names and the label (an iconv-lite encoding); default cp437. */
  codepage?: string;
}

/** One entry met by walk(). */
export interface FatTreeEntry {
  /** '/'-rooted path made of the shown names. */
  path: string;
  /** The long name (UTF-16 decoded), or the 8.3 name with the NT case bits applied, through the OEM code page. */
  name: string;
  /** The stored 8.3 name in 'NAME.EXT' form (no case bits applied). */
  shortName: string;
  entry: NamedEntry;
  /** The directory holding the entry: its first cluster, or 'root'. */
  parentCluster: number | 'root';
  isDirectory: boolean;
}

/** A run of consecutive clusters. */
export interface ClusterExtent {
  start: number;
  length: number;
}

/** FAT bytes read and cached at a time. */
const FAT_BLOCK = 64 * 1024;
/** Blocks kept (4 MiB): a FAT12/16 fits whole; a FAT32 is read in windows. */
const FAT_CACHE_BLOCKS = 64;
/** A directory holds at most 65536 slots of 32 bytes. */
const MAX_DIR_BYTES = MAX_DIR_SLOTS * DIRENT_SIZE;
/** File chunks handed out by streamFile. */
const STREAM_CHUNK = 1 << 20;

const DOT = Uint8Array.from('.          ', (c) => c.charCodeAt(0));
const DOTDOT = Uint8Array.from('..         ', (c) => c.charCodeAt(0));
const sameName = (a: Uint8Array, b: Uint8Array): boolean => a.every((v, i) => v === b[i]);

export class FatVolume {
  readonly fatBits: FatBits;
  readonly clusterSize: number;
  readonly clusterCount: number;
  private readonly base: number;
  private readonly fatStart: number;
  private readonly dataStart: number;
  private readonly eocMin: number;
  private readonly bad: number;
  private readonly blocks = new Map<number, Uint8Array>();
  private lastBlockIndex = -1;
  private lastBlock: Uint8Array = new Uint8Array(0);
  private labelCache: string | null | undefined;

  private constructor(
    private readonly source: ByteSource,
    readonly boot: DecodedBootSector,
    offset: number,
    private readonly codepage: string,
  ) {
    this.base = offset;
    this.fatBits = boot.fatBits;
    this.clusterSize = boot.bytesPerSector * boot.sectorsPerCluster;
    this.clusterCount = boot.clusterCount;
    this.fatStart = offset + (boot.reservedSectors + boot.activeFat * boot.fatSectors) * boot.bytesPerSector;
    this.dataStart = offset + boot.dataStartSector * boot.bytesPerSector;
    this.eocMin = FAT_EOC_MIN[boot.fatBits];
    this.bad = FAT_BAD[boot.fatBits];
  }

  /** Opens the FAT volume at `options.offset` (default 0) of `source`, validating its boot sector. */
  static open(source: ByteSource, options: FatVolumeOptions = {}): FatVolume {
    const offset = options.offset ?? 0;
    const codepage = options.codepage ?? 'cp437';
    if (!Number.isSafeInteger(offset) || offset < 0) throw new FatError('invalid-argument', `volume offset ${offset} is not a byte position`);
    if (!iconv.encodingExists(codepage)) throw new FatError('invalid-argument', `unknown OEM code page '${codepage}'`);
    if (source.size < offset + 512) {
      throw new FatError('io', `the source holds ${source.size} bytes, too few for a boot sector at offset ${offset}`);
    }
    const sector = new Uint8Array(512);
    readSource(source, sector, offset);
    const boot = decodeBootSector(sector, { codepage });
    const end = offset + (boot.dataStartSector + boot.clusterCount * boot.sectorsPerCluster) * boot.bytesPerSector;
    if (end > source.size) {
      throw new FatError('io', `the filesystem ends at byte ${end} but the source holds only ${source.size} bytes`);
    }
    return new FatVolume(source, boot, offset, codepage);
  }

  /** The volume label from the root directory's label entry, or null when there is none. */
  get label(): string | null {
    if (this.labelCache === undefined) {
      const entry = this.readDirectory('root', '/').find((e) => (e.short.attr & ATTR.volumeLabel) !== 0 && (e.short.attr & ATTR.directory) === 0);
      this.labelCache = entry === undefined ? null : this.oem(entry.short.name).replace(/ +$/, '');
    }
    return this.labelCache;
  }

  /** The FAT32 FSInfo sector's counts, or null on FAT12/16 or when the BPB names no FSInfo sector. */
  fsInfo(): { freeClusters: number; nextFree: number } | null {
    const s = this.boot.fsInfoSector;
    if (this.fatBits !== 32 || s === 0 || s === 0xffff) return null;
    const b = new Uint8Array(512);
    this.read(b, this.base + s * this.boot.bytesPerSector);
    return decodeFsInfo(b);
  }

  /** The FAT entry of `cluster` (0 .. clusterCount + 1); FAT32 entries without their top 4 bits. */
  fatEntry(cluster: number): number {
    if (!Number.isInteger(cluster) || cluster < 0 || cluster > this.clusterCount + 1) {
      throw new FatError('invalid-argument', `FAT entry ${cluster} requested, outside 0..${this.clusterCount + 1}`);
    }
    switch (this.fatBits) {
      case 12: {
        const off = cluster + (cluster >>> 1);
        const v = this.fatByte(off) | (this.fatByte(off + 1) << 8);
        return (cluster & 1) === 1 ? v >>> 4 : v & 0xfff;
      }
      case 16: {
        const off = cluster * 2;
        const block = this.fatBlock(Math.floor(off / FAT_BLOCK));
        const o = off % FAT_BLOCK;
        return block[o]! | (block[o + 1]! << 8);
      }
      case 32: {
        const off = cluster * 4;
        const block = this.fatBlock(Math.floor(off / FAT_BLOCK));
        const o = off % FAT_BLOCK;
        return (block[o]! | (block[o + 1]! << 8) | (block[o + 2]! << 16) | ((block[o + 3]! & 0x0f) << 24)) >>> 0;
      }
    }
  }

  /**
   * The clusters of the chain starting at `firstCluster`, as runs of consecutive clusters.
   * Refuses (naming `where`) a first cluster outside the data area, a chain that runs into a free
   * or bad cluster or points outside the data area, and loops (Brent's cycle detection, so a
   * small loop is found in a few steps; no chain is longer than the cluster count).
   */
  chain(firstCluster: number, where: string): ClusterExtent[] {
    const max = this.clusterCount + 1;
    if (!Number.isInteger(firstCluster) || firstCluster < 2 || firstCluster > max) {
      throw fatCorrupt(`first cluster ${firstCluster} is outside the data area (2..${max})`, { path: where });
    }
    const runs: ClusterExtent[] = [];
    let runStart = firstCluster;
    let runLength = 1;
    let count = 1;
    let cur = firstCluster;
    let tortoise = firstCluster;
    let power = 1;
    let lambda = 0;
    for (;;) {
      const next = this.fatEntry(cur);
      if (next >= this.eocMin) break;
      if (next === 0) throw fatCorrupt(`cluster chain runs into free cluster ${cur}`, { path: where });
      if (next === this.bad) throw fatCorrupt(`cluster chain runs into bad cluster ${cur}`, { path: where });
      if (next < 2 || next > max) {
        throw fatCorrupt(`cluster ${cur} points to ${next}, outside the data area (2..${max})`, { path: where });
      }
      if (next === tortoise || ++count > this.clusterCount) {
        const { entrance, from } = this.loopEntrance(firstCluster);
        throw fatCorrupt(`cluster chain loops at cluster ${entrance} (cluster ${from} points back to it)`, { path: where });
      }
      if (++lambda === power) {
        tortoise = next;
        power *= 2;
        lambda = 0;
      }
      if (next === cur + 1) {
        runLength++;
      } else {
        runs.push({ start: runStart, length: runLength });
        runStart = next;
        runLength = 1;
      }
      cur = next;
    }
    runs.push({ start: runStart, length: runLength });
    return runs;
  }

  /**
   * Where a chain known to loop (all its entries already checked) first comes back to itself:
   * Brent's algorithm gives the loop length, then two walkers that far apart meet at the entrance.
   */
  private loopEntrance(first: number): { entrance: number; from: number } {
    const next = (c: number): number => this.fatEntry(c);
    let power = 1;
    let length = 1;
    let tortoise = first;
    let hare = next(first);
    while (tortoise !== hare) {
      if (power === length) {
        tortoise = hare;
        power *= 2;
        length = 0;
      }
      hare = next(hare);
      length++;
    }
    let a = first;
    let b = first;
    for (let i = 0; i < length; i++) b = next(b);
    while (a !== b) {
      a = next(a);
      b = next(b);
    }
    let from = a;
    for (let i = 1; i < length; i++) from = next(from);
    return { entrance: a, from };
  }

  /**
   * The entries of a directory: 'root' (or cluster 0, as '..' entries name it) for the root
   * directory (FAT12/16 fixed area, FAT32 cluster chain), else the directory's first cluster.
   * Dot entries, deleted entries and the volume label are returned as decodeDirectory gives them.
   */
  readDirectory(firstCluster: number | 'root', where: string): NamedEntry[] {
    if (firstCluster === 'root' || firstCluster === 0) {
      if (this.fatBits !== 32) {
        const bytes = new Uint8Array(this.boot.rootDirSectors * this.boot.bytesPerSector);
        this.read(bytes, this.base + (this.boot.reservedSectors + this.boot.numFats * this.boot.fatSectors) * this.boot.bytesPerSector);
        return decodeDirectory(bytes);
      }
      firstCluster = this.boot.rootCluster;
    }
    const runs = this.chain(firstCluster, where);
    let clusters = 0;
    for (const r of runs) clusters += r.length;
    const size = clusters * this.clusterSize;
    if (size > MAX_DIR_BYTES) {
      throw fatCorrupt(`directory spans ${clusters} clusters (${size} bytes), more than the ${MAX_DIR_SLOTS} entries a FAT directory can hold`, {
        path: where,
      });
    }
    const bytes = new Uint8Array(size);
    let pos = 0;
    for (const r of runs) {
      const len = r.length * this.clusterSize;
      this.read(bytes.subarray(pos, pos + len), this.clusterOffset(r.start));
      pos += len;
    }
    return decodeDirectory(bytes);
  }

  /** A file's bytes: `size` bytes from its chain; refuses a chain shorter than the size needs. */
  readFile(firstCluster: number, size: number, where: string): Uint8Array {
    const out = new Uint8Array(this.checkSize(size, where));
    let pos = 0;
    for (const [offset, length] of this.fileRanges(firstCluster, size, where)) {
      this.read(out.subarray(pos, pos + length), offset);
      pos += length;
    }
    return out;
  }

  /** Like readFile, in chunks of at most 1 MiB (for files too large to hold at once). */
  *streamFile(firstCluster: number, size: number, where: string): Generator<Uint8Array> {
    this.checkSize(size, where);
    for (const [offset, length] of this.fileRanges(firstCluster, size, where)) {
      for (let done = 0; done < length; done += STREAM_CHUNK) {
        const chunk = new Uint8Array(Math.min(STREAM_CHUNK, length - done));
        this.read(chunk, offset + done);
        yield chunk;
      }
    }
  }

  /**
   * Visits every entry depth first (an entry, then its subtree, then its next sibling), with an
   * explicit stack. Skips '.', '..' and volume labels. Refuses a directory whose cluster was
   * already met (a cycle, or two entries sharing a directory), and subdirectories without a cluster.
   */
  walk(visit: (e: FatTreeEntry) => void): void {
    interface Frame {
      path: string;
      cluster: number | 'root';
      entries: NamedEntry[];
      next: number;
    }
    const seen = new Map<number, string>();
    if (this.fatBits === 32) seen.set(this.boot.rootCluster, '/');
    const stack: Frame[] = [{ path: '', cluster: 'root', entries: this.readDirectory('root', '/'), next: 0 }];
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      if (top.next >= top.entries.length) {
        stack.pop();
        continue;
      }
      const entry = top.entries[top.next++]!;
      const s = entry.short;
      if ((s.attr & ATTR.volumeLabel) !== 0) continue;
      if (sameName(s.name, DOT) || sameName(s.name, DOTDOT)) continue;
      const dirPath = top.path === '' ? '/' : top.path;
      const { name, shortName } = this.entryNames(entry, dirPath);
      const path = `${top.path}/${name}`;
      const isDirectory = (s.attr & ATTR.directory) !== 0;
      visit({ path, name, shortName, entry, parentCluster: top.cluster, isDirectory });
      if (!isDirectory) continue;
      if (s.cluster === 0) throw fatCorrupt('subdirectory has no cluster (start cluster 0)', { path });
      const earlier = seen.get(s.cluster);
      if (earlier !== undefined) {
        throw fatCorrupt(`directory cycle: its cluster ${s.cluster} is already the directory ${earlier}`, { path });
      }
      seen.set(s.cluster, path);
      stack.push({ path, cluster: s.cluster, entries: this.readDirectory(s.cluster, path), next: 0 });
    }
  }

  /** Free clusters, counted from the FAT. */
  freeClusters(): number {
    let free = 0;
    for (let c = 2; c <= this.clusterCount + 1; c++) if (this.fatEntry(c) === 0) free++;
    return free;
  }

  /** The shown name and the 'NAME.EXT' short name of an entry (`dir` names its directory in errors). */
  entryNames(entry: NamedEntry, dir = ''): { name: string; shortName: string } {
    const s = entry.short;
    const base = this.oem(s.name.subarray(0, 8)).replace(/ +$/, '');
    const ext = this.oem(s.name.subarray(8, 11)).replace(/ +$/, '');
    const shortName = ext === '' ? base : `${base}.${ext}`;
    let name: string;
    if (entry.longName !== null && entry.longName.length > 0) {
      name = utf16(entry.longName);
    } else {
      const b = (s.ntCase & NT_LOWER_BASE) !== 0 ? base.toLowerCase() : base;
      const e = (s.ntCase & NT_LOWER_EXT) !== 0 ? ext.toLowerCase() : ext;
      name = e === '' ? b : `${b}.${e}`;
    }
    if (name === '' || name === '.' || name === '..' || /[/\0]/.test(name)) {
      throw fatCorrupt(`name ${JSON.stringify(name)} can't be a file name`, { path: dir, entry: entry.slot });
    }
    return { name, shortName };
  }

  private oem(bytes: Uint8Array): string {
    return iconv.decode(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length), this.codepage);
  }

  private checkSize(size: number, where: string): number {
    if (!Number.isInteger(size) || size < 0 || size > 0xffffffff) {
      throw fatCorrupt(`file size ${size} is not a FAT file size (0..4294967295)`, { path: where });
    }
    return size;
  }

  /** Byte ranges [offset, length] on the device holding the `size` bytes of the file starting at `firstCluster` (its chain checked). */
  fileRanges(firstCluster: number, size: number, where: string): Array<[number, number]> {
    if (size === 0) return [];
    if (firstCluster === 0) throw fatCorrupt(`file of ${size} bytes has no clusters (start cluster 0)`, { path: where });
    const needed = Math.ceil(size / this.clusterSize);
    if (needed > this.clusterCount) {
      throw fatCorrupt(`file size ${size} needs ${needed} clusters, more than the volume has (${this.clusterCount})`, { path: where });
    }
    const runs = this.chain(firstCluster, where);
    let have = 0;
    for (const r of runs) have += r.length;
    if (have < needed) {
      throw fatCorrupt(
        `cluster chain holds ${have} clusters (${have * this.clusterSize} bytes), fewer than the ${needed} a size of ${size} bytes needs`,
        { path: where },
      );
    }
    const out: Array<[number, number]> = [];
    let left = size;
    for (const r of runs) {
      if (left === 0) break;
      const length = Math.min(left, r.length * this.clusterSize);
      out.push([this.clusterOffset(r.start), length]);
      left -= length;
    }
    return out;
  }

  /** Bytes at a device offset (within the volume's source). */
  readAt(target: Uint8Array, position: number): void {
    this.read(target, position);
  }

  private clusterOffset(cluster: number): number {
    return this.dataStart + (cluster - 2) * this.clusterSize;
  }

  private fatByte(offset: number): number {
    return this.fatBlock(Math.floor(offset / FAT_BLOCK))[offset % FAT_BLOCK]!;
  }

  private fatBlock(index: number): Uint8Array {
    if (index === this.lastBlockIndex) return this.lastBlock;
    let block = this.blocks.get(index);
    if (block === undefined) {
      const fatBytes = this.boot.fatSectors * this.boot.bytesPerSector;
      const start = index * FAT_BLOCK;
      block = new Uint8Array(Math.min(FAT_BLOCK, fatBytes - start));
      this.read(block, this.fatStart + start);
      if (this.blocks.size >= FAT_CACHE_BLOCKS) this.blocks.delete(this.blocks.keys().next().value!);
      this.blocks.set(index, block);
    }
    this.lastBlockIndex = index;
    this.lastBlock = block;
    return block;
  }

  private read(target: Uint8Array, position: number): void {
    readSource(this.source, target, position);
  }
}

/** Reads from the source, turning its failures into FatErrors. */
function readSource(source: ByteSource, target: Uint8Array, position: number): void {
  try {
    source.readInto(target, position);
  } catch (e) {
    if (e instanceof FatError) throw e;
    throw new FatError('io', `read of ${target.length} bytes at offset ${position} failed: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function utf16(units: Uint16Array): string {
  let s = '';
  for (let i = 0; i < units.length; i += 4096) s += String.fromCharCode(...units.subarray(i, i + 4096));
  return s;
}
