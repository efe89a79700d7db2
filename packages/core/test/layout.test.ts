// Core's own test of the in-place layout, with no real format: a synthetic importer (the blocks of a
// MemoryStorage, some of them its "metadata", a tree of contiguous, fragmented, sparse, hard-linked
// files and one in the target's front region, each block of recognisable bytes) and a synthetic
// exporter (units of half a block, a block or two blocks on a grid after its front region;
// directories as lists of (name, first unit, size) records; one own file per directory recording
// where its children went; symlinks stored as bytes; the payload the runs in binary; a commit that
// writes its front region, a table of the runs, and a final sector at 0; a `verify` that reads every
// chain back). Checked, with the layout's own numbers wherever they can be computed apart:
// - before the commit point, writes land only in units whose blocks the source has free: never in
//   the front region, never under a bad block, no byte twice;
// - the plan and the staging agree: the same runs (through the payload in the journal), the units
//   staged are the plan's new units plus its journal, the journal where the plan put it;
// - a unit a file keeps is one whose blocks were already where the target looks for it, and the
//   bytes in place, moved, duplicated (hard links) and of holes add up to the files' sizes;
// - the result reads back: every file's bytes through the runs, every directory listing its
//   children at the units the layout gave them, no unit in two chains;
// - bad blocks become bad runs; a bad block in the front region, a pool too small, a signature
//   outside the commit point's sector, a front region short of the marker's places are refused;
// - the same holds on grids core must not assume away: units starting on odd blocks, a grid off the
//   block boundaries, bad blocks the source does not also mark used.
import { describe, expect, it } from 'vitest';
import {
  Bitmap, FsconvError, S_IFDIR, S_IFLNK, S_IFREG,
  type BlockExtent, type ByteSource, type CommitProgram, type DirectoryPlacement, type ExportedDirectory, type ExportMeasure,
  type GeometryCandidate, type InPlaceExporter, type InPlaceSource, type LaidOut, type Signature, type SourceFingerprint,
  type SourceNode, type TargetGeometry, type UnitRun,
} from '@fsconv/base';
import { MemoryStorage } from '@fsconv/device';
import { convertInPlace, inspectInterruption, planInPlace, type InPlacePlan } from '../src/in-place/engine.js';
import { COMMIT_MARKER_OFFSET, decodeJournal, decodeMarker, fingerprintBytes, hasMarkerMagic, journalBytesFor, type ExporterRegistry } from '../src/in-place/journal.js';
import { layOutInPlace } from '../src/in-place/layout.js';

// ---------------------------------------------------------------------------------------------
// Little-endian fields.

const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const view = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);
const put32 = (b: Uint8Array, o: number, v: number): void => view(b).setUint32(o, v >>> 0, true);
const get32 = (b: Uint8Array, o: number): number => view(b).getUint32(o, true);
const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && Buffer.from(a).equals(Buffer.from(b));
const range = (start: number, n: number): number[] => Array.from({ length: n }, (_, i) => start + i);

// ---------------------------------------------------------------------------------------------
// The synthetic source.

/** The bytes of logical block `l` of the file `id`: a stream seeded by both, so that no two blocks are alike. */
function blockBytes(id: number, l: number, bs: number): Uint8Array {
  const out = new Uint8Array(bs);
  let x = (Math.imul(id + 1, 0x9e3779b1) ^ Math.imul(l + 1, 0x85ebca6b)) >>> 0 || 1;
  for (let i = 0; i < bs; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

type Spec =
  | { kind: 'file'; name: string; size: number; extents: BlockExtent[]; key?: string }
  /** Another name of the file whose `key` is `of` (a hard link). */
  | { kind: 'link'; name: string; of: string }
  | { kind: 'dir'; name: string; children: Spec[] }
  | { kind: 'symlink'; name: string; target: string };

interface SourceOptions {
  blockSize: number;
  blockCount: number;
  /** Blocks 0..metaBlocks−1: the source's own metadata (used, never a file's). */
  metaBlocks: number;
  tree: Spec[];
  badBlocks?: number[];
  /** Whether usedBlocks() marks the bad blocks too (ext2 does: its bad-blocks inode owns them). Default true. */
  badBlocksUsed?: boolean;
  signatures?: Signature[];
}

const MAGIC_OFFSET = 1080;
const MAGIC = [0x53, 0xef];
const FREE_BYTE = 0xee;
const META_BYTE = 0xdd;
const TIME = { sec: 0, nsec: 0 };

/** A device in memory that keeps where each write went and its first bytes. */
class RecordingStorage extends MemoryStorage {
  readonly writes: Array<{ offset: number; length: number; head: Uint8Array }> = [];
  override writeAt(data: Uint8Array, position: number): void {
    super.writeAt(data, position);
    this.writes.push({ offset: position, length: data.length, head: data.slice(0, 64) });
  }
}

class SynthSource implements InPlaceSource {
  readonly kind = 'synth';
  readonly label = null;
  readonly volumeId = null;
  readonly verdict = { clean: true } as const;
  readonly blockSize: number;
  readonly blockCount: number;
  readonly badBlocks: readonly number[];
  readonly signatures: readonly Signature[];
  readonly dev: RecordingStorage;
  /** Every directory, in the layout's order (depth first, preorder), and every name of a regular file in it. */
  readonly dirs: SourceNode[] = [];
  readonly files: SourceNode[] = [];
  private readonly rootNode: SourceNode;
  private readonly kids = new Map<SourceNode, SourceNode[]>();
  private readonly ext = new Map<number, BlockExtent[]>();
  private readonly used: Bitmap;
  private nextId = 2;

  constructor(readonly opts: SourceOptions) {
    const bs = (this.blockSize = opts.blockSize);
    this.blockCount = opts.blockCount;
    this.badBlocks = opts.badBlocks ?? [];
    this.signatures = opts.signatures ?? [{ offset: MAGIC_OFFSET, length: 2, what: 'test magic' }];
    const bytes = new Uint8Array(opts.blockCount * bs).fill(FREE_BYTE);
    bytes.fill(META_BYTE, 0, opts.metaBlocks * bs);
    bytes.set(MAGIC, MAGIC_OFFSET);
    this.dev = new RecordingStorage(bytes);
    this.used = new Bitmap(opts.blockCount);
    for (let b = 0; b < opts.metaBlocks; b++) this.used.set(b);
    if (opts.badBlocksUsed !== false) for (const b of this.badBlocks) this.used.set(b);
    this.rootNode = this.node('dir', new Uint8Array(0), '/', 0, 1);
    const keyed = new Map<string, SourceNode>();
    const build = (dir: SourceNode, specs: Spec[]): void => {
      const out: SourceNode[] = [];
      for (const s of specs) {
        const name = ascii(s.name);
        const path = `${dir.path === '/' ? '' : dir.path}/${s.name}`;
        switch (s.kind) {
          case 'file': {
            const n = this.node('file', name, path, s.size, 1);
            this.ext.set(n.linkId, s.extents);
            for (const e of s.extents) {
              for (let i = 0; i < e.length; i++) {
                const p = e.physical + i;
                if (p < opts.metaBlocks || p >= opts.blockCount || this.used.get(p)) throw new Error(`test tree: block ${p} of ${path} is taken`);
                this.used.set(p);
                bytes.set(blockBytes(n.linkId, e.logical + i, bs), p * bs);
              }
            }
            if (s.key !== undefined) keyed.set(s.key, n);
            out.push(n);
            break;
          }
          case 'link': {
            const first = keyed.get(s.of)!;
            first.nlink++;
            out.push({ ...first, name, path });
            break;
          }
          case 'dir': {
            const n = this.node('dir', name, path, 0, 2);
            build(n, s.children);
            out.push(n);
            break;
          }
          case 'symlink': {
            const n = this.node('symlink', name, path, s.target.length, 1);
            n.target = ascii(s.target);
            out.push(n);
            break;
          }
        }
      }
      this.kids.set(dir, out);
    };
    build(this.rootNode, opts.tree);
    // The layout's order: a directory's children, then its subdirectories depth first.
    const walk = (dir: SourceNode): void => {
      this.dirs.push(dir);
      for (const c of this.kids.get(dir)!) if (c.type === 'file') this.files.push(c);
      for (const c of this.kids.get(dir)!) if (c.type === 'dir') walk(c);
    };
    walk(this.rootNode);
  }

  private node(type: SourceNode['type'], name: Uint8Array, path: string, size: number, nlink: number): SourceNode {
    const mode = type === 'dir' ? S_IFDIR | 0o755 : type === 'symlink' ? S_IFLNK | 0o777 : S_IFREG | 0o644;
    return { linkId: this.nextId++, name, path, type, mode, uid: 0, gid: 0, atime: TIME, mtime: TIME, ctime: TIME, nlink, size };
  }

  root(): SourceNode { return this.rootNode; }
  children(dir: SourceNode): SourceNode[] { return [...this.kids.get(dir)!]; }
  extents(node: SourceNode): BlockExtent[] { return (this.ext.get(node.linkId) ?? []).map((e) => ({ ...e })); }
  usedBlocks(): Bitmap {
    const out = new Bitmap(this.blockCount);
    out.bytes.set(this.used.bytes);
    return out;
  }
  fingerprint(): SourceFingerprint { return [['test', 'synthetic'], ['blocks', String(this.blockCount)]]; }

  /** The physical block of logical block `l` of a file (0: a hole). */
  physOf(node: SourceNode, l: number): number {
    const e = this.ext.get(node.linkId)?.find((x) => l >= x.logical && l < x.logical + x.length);
    return e === undefined ? 0 : e.physical + (l - e.logical);
  }

  readFile(node: SourceNode, offset: number, into: Uint8Array): void {
    const bs = this.blockSize;
    for (let x = offset; x < offset + into.length; ) {
      const l = Math.floor(x / bs);
      const end = Math.min(offset + into.length, (l + 1) * bs);
      const p = this.physOf(node, l);
      const part = into.subarray(x - offset, end - offset);
      if (p === 0) part.fill(0);
      else this.dev.readInto(part, p * bs + (x - l * bs));
      x = end;
    }
  }

  /** What a file holds, from the generator alone (holes as zeros): what the target must give back. */
  expected(node: SourceNode): Uint8Array {
    const bs = this.blockSize;
    const out = new Uint8Array(node.size);
    for (let l = 0; l * bs < node.size; l++) {
      if (this.physOf(node, l) !== 0) out.set(blockBytes(node.linkId, l, bs).subarray(0, Math.min(bs, node.size - l * bs)), l * bs);
    }
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// The synthetic exporter ('synthfs').
//
// Directory (in units, or for the root in the last ROOT_REGION bytes of the front region):
// 'DIR!', u32 self, u32 parent, u32 own file's first unit, u32 own file's bytes, u32 count, then per
// child u8 type (1 file, 2 directory, 3 symlink), u8 name length, name, u32 first unit, u32 size.
// Own file: 'OWN!', u32 count, then per child u32 first unit, u32 size.
// Payload: 'SYNTHPAY', u32 unitBytes, firstUnit, unitCount, dataStart, frontBytes, rootInUnits,
// rootUnit, unitsUsed, freeUnits, firstFreeUnit, sliceOffset, root directory length, run count;
// the root directory; each run as u32 start, length, next, u8 bad.
// Front region as the commit writes it: sector 0 (the final write: 'SYNTHFS!', u32 frontBytes,
// 0x55 0xaa at 510); from 512 the table: 'SYNTHTAB', u32 unitBytes, firstUnit, unitCount, dataStart,
// rootInUnits, rootUnit, run count, then each run as four u32 (start, length, next, bad); the rest
// zero but the root directory at its end.

class SynthFsError extends FsconvError<'synthfs'> {
  constructor(message: string) { super('synthfs', message); }
}

const ROOT_REGION = 1024;
const DIR_HEAD = 24;
const PAYLOAD_HEAD = 60;
const PAYLOAD_RUN = 13;
const TABLE_AT = 512;
const TABLE_HEAD = 40;
const TABLE_RUN = 16;
const TYPE_CODE = { file: 1, dir: 2, symlink: 3 } as const;

const dirBytesOf = (children: readonly SourceNode[]): number => DIR_HEAD + children.reduce((n, c) => n + 2 + c.name.length + 8, 0);
const ownBytesOf = (children: readonly SourceNode[]): number => 8 + 8 * children.length;

interface GeoSpec {
  unitBytes: number;
  frontBytes: number;
  rootInUnits: boolean;
  /** Where the units start (default: at frontBytes). */
  dataStart?: number;
}

/** What the staging pass gave the exporter to encode, per directory. */
interface Placed { place: DirectoryPlacement; children: SourceNode[] }

interface SynthGeometry extends TargetGeometry {
  readonly spec: GeoSpec;
  readonly placed: Map<number, Placed>;
}

interface DecodedPayload {
  unitBytes: number; firstUnit: number; unitCount: number; dataStart: number; frontBytes: number; rootInUnits: boolean;
  rootUnit: number; unitsUsed: number; freeUnits: number; firstFreeUnit: number; sliceOffset: number;
  rootDirectory: Uint8Array; runs: UnitRun[];
}

function geometry(src: InPlaceSource, spec: GeoSpec): SynthGeometry {
  const cs = spec.unitBytes;
  const dataStart = spec.dataStart ?? spec.frontBytes;
  const unitCount = Math.floor((src.blockCount * src.blockSize - dataStart) / cs);
  const placed = new Map<number, Placed>();
  const sizeOf = (n: SourceNode): number => (n.type === 'dir' ? dirBytesOf(src.children(n)) : n.size);
  const contentOf = (n: SourceNode): ExportedDirectory['children'][number]['content'] => {
    switch (n.type) {
      case 'dir': return { kind: 'directory', bytes: dirBytesOf(src.children(n)) };
      case 'file': return { kind: 'file' };
      case 'symlink': return { kind: 'bytes', bytes: n.target! };
      default: return { kind: 'none' };
    }
  };
  return {
    spec, placed,
    label: `synthfs with ${cs}-byte units after ${spec.frontBytes} bytes${spec.rootInUnits ? '' : ', root in front'}`,
    grid: { dataStart, unitBytes: cs, firstUnit: 2, unitCount },
    frontBytes: spec.frontBytes,
    rootInUnits: spec.rootInUnits,
    payloadBytes: (runs) => PAYLOAD_HEAD + (spec.rootInUnits ? 0 : ROOT_REGION) + PAYLOAD_RUN * runs,
    directory(dir, isRoot, encode): ExportedDirectory {
      const children = src.children(dir);
      const inFront = isRoot && !spec.rootInUnits;
      const bytes = inFront ? ROOT_REGION : dirBytesOf(children);
      const out: ExportedDirectory = { children: children.map((node) => ({ node, content: contentOf(node) })), ownFiles: [ownBytesOf(children)], bytes };
      if (!encode) return out;
      out.encode = (place) => {
        placed.set(dir.linkId, { place: { ...place, children: [...place.children], ownFiles: [...place.ownFiles] }, children });
        const stored = inFront ? ROOT_REGION : Math.max(1, Math.ceil(bytes / cs)) * cs;
        const d = new Uint8Array(stored);
        d.set(ascii('DIR!'), 0);
        put32(d, 4, place.self);
        put32(d, 8, place.parent);
        put32(d, 12, place.ownFiles[0]!);
        put32(d, 16, ownBytesOf(children));
        put32(d, 20, children.length);
        const own = new Uint8Array(ownBytesOf(children));
        own.set(ascii('OWN!'), 0);
        put32(own, 4, children.length);
        let o = DIR_HEAD;
        children.forEach((c, i) => {
          d[o] = TYPE_CODE[c.type as keyof typeof TYPE_CODE];
          d[o + 1] = c.name.length;
          d.set(c.name, o + 2);
          o += 2 + c.name.length;
          put32(d, o, place.children[i]!);
          put32(d, o + 4, sizeOf(c));
          o += 8;
          put32(own, 8 + 8 * i, place.children[i]!);
          put32(own, 12 + 8 * i, sizeOf(c));
        });
        return { directory: d, ownFiles: [own] };
      };
      return out;
    },
    encodePayload(laid: LaidOut): Uint8Array {
      const root = laid.rootDirectory ?? new Uint8Array(0);
      if (spec.rootInUnits !== (laid.rootDirectory === null)) throw new Error('synthfs: the root directory is where the geometry does not put it');
      const p = new Uint8Array(PAYLOAD_HEAD + root.length + PAYLOAD_RUN * laid.runs.length);
      p.set(ascii('SYNTHPAY'), 0);
      [cs, 2, unitCount, dataStart, spec.frontBytes, spec.rootInUnits ? 1 : 0, laid.rootUnit, laid.unitsUsed, laid.freeUnits,
        laid.firstFreeUnit, laid.sliceOffset, root.length, laid.runs.length].forEach((v, i) => put32(p, 8 + 4 * i, v));
      p.set(root, PAYLOAD_HEAD);
      laid.runs.forEach((r, i) => {
        const o = PAYLOAD_HEAD + root.length + PAYLOAD_RUN * i;
        put32(p, o, r.start);
        put32(p, o + 4, r.length);
        put32(p, o + 8, r.next);
        p[o + 12] = r.bad === true ? 1 : 0;
      });
      return p;
    },
  };
}

function decodePayload(p: Uint8Array, fsBytes: number): DecodedPayload {
  if (p.length < PAYLOAD_HEAD || !sameBytes(p.subarray(0, 8), ascii('SYNTHPAY'))) throw new SynthFsError('not a synthfs payload');
  const f = range(0, 13).map((i) => get32(p, 8 + 4 * i));
  const [unitBytes, firstUnit, unitCount, dataStart, frontBytes, rootInUnits, rootUnit, unitsUsed, freeUnits, firstFreeUnit, sliceOffset, rootLength, runCount] = f as [
    number, number, number, number, number, number, number, number, number, number, number, number, number];
  if (p.length !== PAYLOAD_HEAD + rootLength + PAYLOAD_RUN * runCount) throw new SynthFsError(`the synthfs payload is ${p.length} bytes, not what it lists`);
  if (unitBytes === 0 || frontBytes < 2048 || dataStart < frontBytes || dataStart + unitCount * unitBytes > fsBytes) throw new SynthFsError('the synthfs geometry does not fit the filesystem');
  if (rootLength !== (rootInUnits === 1 ? 0 : ROOT_REGION)) throw new SynthFsError('the synthfs root directory has the wrong size');
  if (TABLE_AT + TABLE_HEAD + TABLE_RUN * runCount > frontBytes - rootLength) throw new SynthFsError(`${runCount} runs do not fit the synthfs front region`);
  const runs: UnitRun[] = range(0, runCount).map((i) => {
    const o = PAYLOAD_HEAD + rootLength + PAYLOAD_RUN * i;
    const r: UnitRun = { start: get32(p, o), length: get32(p, o + 4), next: get32(p, o + 8) };
    if (p[o + 12] === 1) r.bad = true;
    if (r.length === 0 || r.start < firstUnit || r.start + r.length > firstUnit + unitCount) throw new SynthFsError(`synthfs run ${i} lies outside the units`);
    return r;
  });
  return {
    unitBytes, firstUnit, unitCount, dataStart, frontBytes, rootInUnits: rootInUnits === 1, rootUnit, unitsUsed, freeUnits, firstFreeUnit, sliceOffset,
    rootDirectory: p.slice(PAYLOAD_HEAD, PAYLOAD_HEAD + rootLength), runs,
  };
}

function synthCommitProgram(payload: Uint8Array, fsBytes: number): CommitProgram {
  const d = decodePayload(payload, fsBytes);
  const front = new Uint8Array(d.frontBytes - TABLE_AT);
  front.set(ascii('SYNTHTAB'), 0);
  [d.unitBytes, d.firstUnit, d.unitCount, d.dataStart, d.rootInUnits ? 1 : 0, d.rootUnit, d.runs.length].forEach((v, i) => put32(front, 8 + 4 * i, v));
  d.runs.forEach((r, i) => {
    const o = TABLE_HEAD + TABLE_RUN * i;
    put32(front, o, r.start);
    put32(front, o + 4, r.length);
    put32(front, o + 8, r.next);
    put32(front, o + 12, r.bad === true ? 1 : 0);
  });
  front.set(d.rootDirectory, front.length - d.rootDirectory.length);
  const sector = new Uint8Array(512);
  sector.set(ascii('SYNTHFS!'), 0);
  put32(sector, 8, d.frontBytes);
  sector[510] = 0x55;
  sector[511] = 0xaa;
  return { writes: () => [{ offset: TABLE_AT, bytes: front }], totalBytes: front.length, final: { offset: 0, bytes: sector } };
}

interface DirEntry { type: number; name: string; unit: number; size: number }
interface DecodedDirectory { self: number; parent: number; ownFile: number; ownBytes: number; entries: DirEntry[] }

/** A converted synthfs read back: its table of runs, its chains, its directories. */
class SynthVolume {
  readonly unitBytes: number;
  readonly firstUnit: number;
  readonly unitCount: number;
  readonly dataStart: number;
  readonly frontBytes: number;
  readonly rootInUnits: boolean;
  readonly rootUnit: number;
  readonly runs: UnitRun[] = [];
  private readonly next = new Map<number, number>();
  readonly bad = new Set<number>();

  constructor(private readonly dev: ByteSource) {
    const sector = new Uint8Array(512);
    dev.readInto(sector, 0);
    if (!sameBytes(sector.subarray(0, 8), ascii('SYNTHFS!')) || sector[510] !== 0x55 || sector[511] !== 0xaa) throw new SynthFsError('no synthfs boot sector');
    this.frontBytes = get32(sector, 8);
    const front = new Uint8Array(this.frontBytes - TABLE_AT);
    dev.readInto(front, TABLE_AT);
    if (!sameBytes(front.subarray(0, 8), ascii('SYNTHTAB'))) throw new SynthFsError('no synthfs table');
    const f = range(0, 7).map((i) => get32(front, 8 + 4 * i));
    [this.unitBytes, this.firstUnit, this.unitCount, this.dataStart] = f as [number, number, number, number];
    this.rootInUnits = f[4] === 1;
    this.rootUnit = f[5]!;
    this.rootFront = front.slice(front.length - ROOT_REGION);
    for (let i = 0; i < f[6]!; i++) {
      const o = TABLE_HEAD + TABLE_RUN * i;
      const r: UnitRun = { start: get32(front, o), length: get32(front, o + 4), next: get32(front, o + 8) };
      if (get32(front, o + 12) === 1) r.bad = true;
      this.runs.push(r);
      for (let c = r.start; c < r.start + r.length; c++) {
        if (this.next.has(c) || this.bad.has(c)) throw new SynthFsError(`unit ${c} lies in two runs`);
        if (r.bad === true) this.bad.add(c);
        else this.next.set(c, c + 1 < r.start + r.length ? c + 1 : r.next);
      }
    }
  }
  private readonly rootFront: Uint8Array;

  unitPos(c: number): number { return this.dataStart + (c - this.firstUnit) * this.unitBytes; }
  /** Every unit allocated to a chain. */
  allocated(): number[] { return [...this.next.keys()]; }

  /** The units of the chain from `first`, in order: none of them free, bad or seen twice. */
  chain(first: number): number[] {
    const out: number[] = [];
    const seen = new Set<number>();
    for (let c = first; c !== 0; ) {
      const n = this.next.get(c);
      if (n === undefined) throw new SynthFsError(`the chain from ${first} reaches unit ${c}, which is ${this.bad.has(c) ? 'bad' : 'free'}`);
      if (seen.has(c)) throw new SynthFsError(`the chain from ${first} loops at unit ${c}`);
      seen.add(c);
      out.push(c);
      c = n;
    }
    return out;
  }

  /** The first `length` bytes of the chain from `first`, which must be exactly long enough. */
  read(first: number, length: number, atLeastOne = false): { bytes: Uint8Array; units: number[] } {
    const units = first === 0 ? [] : this.chain(first);
    const want = Math.max(atLeastOne ? 1 : 0, Math.ceil(length / this.unitBytes));
    if (units.length !== want) throw new SynthFsError(`the chain from ${first} has ${units.length} units for ${length} bytes`);
    const bytes = new Uint8Array(length);
    units.forEach((c, i) => {
      const part = bytes.subarray(i * this.unitBytes, Math.min(length, (i + 1) * this.unitBytes));
      this.dev.readInto(part, this.unitPos(c));
    });
    return { bytes, units };
  }

  /** A directory's bytes: `size` of them (whole units), or for the root, its whole chain or the front region's root. */
  directoryBytes(unit: number, size: number | 'root'): { bytes: Uint8Array; units: number[] } {
    if (unit === 0) {
      if (size !== 'root' || this.rootInUnits) throw new SynthFsError('a directory at unit 0 outside the front region');
      return { bytes: this.rootFront, units: [] };
    }
    if (size === 'root') return this.read(unit, this.chain(unit).length * this.unitBytes);
    return this.read(unit, Math.max(1, Math.ceil(size / this.unitBytes)) * this.unitBytes);
  }

  static parseDirectory(d: Uint8Array): DecodedDirectory {
    if (!sameBytes(d.subarray(0, 4), ascii('DIR!'))) throw new SynthFsError('not a synthfs directory');
    const entries: DirEntry[] = [];
    let o = DIR_HEAD;
    for (let i = get32(d, 20); i > 0; i--) {
      const nameLength = d[o + 1]!;
      const name = Buffer.from(d.subarray(o + 2, o + 2 + nameLength)).toString('latin1');
      const p = o + 2 + nameLength;
      entries.push({ type: d[o]!, name, unit: get32(d, p), size: get32(d, p + 4) });
      o = p + 8;
    }
    return { self: get32(d, 4), parent: get32(d, 8), ownFile: get32(d, 12), ownBytes: get32(d, 16), entries };
  }
}

/** Reads the whole tree back: every directory, own file and chain; no unit in two chains, none allocated and unreached. Returns the entries. */
function verifySynth(dev: ByteSource): number {
  const vol = new SynthVolume(dev);
  const owner = new Map<number, string>();
  const claim = (units: number[], what: string): void => {
    for (const c of units) {
      const other = owner.get(c);
      if (other !== undefined) throw new SynthFsError(`unit ${c} belongs to ${other} and to ${what}`);
      owner.set(c, what);
    }
  };
  let entries = 0;
  const walk = (unit: number, size: number | 'root', parent: number, path: string): void => {
    const { bytes, units } = vol.directoryBytes(unit, size);
    claim(units, path);
    const d = SynthVolume.parseDirectory(bytes);
    if (d.self !== unit || d.parent !== parent) throw new SynthFsError(`${path} says it is at ${d.self} under ${d.parent}, not ${unit} under ${parent}`);
    claim(vol.read(d.ownFile, d.ownBytes).units, `${path} (own file)`);
    for (const e of d.entries) {
      entries++;
      const p = `${path === '/' ? '' : path}/${e.name}`;
      if (e.type === TYPE_CODE.dir) walk(e.unit, e.size, unit, p);
      else claim(vol.read(e.unit, e.size).units, p);
    }
  };
  walk(vol.rootInUnits ? vol.rootUnit : 0, 'root', 0, '/');
  const orphans = vol.allocated().filter((c) => !owner.has(c));
  if (orphans.length > 0) throw new SynthFsError(`units ${orphans.join(', ')} are allocated and in no chain`);
  return entries;
}

interface SynthExporter extends InPlaceExporter<SynthGeometry> {
  /** The geometries its last measure made, by their spec's place. */
  geometries: SynthGeometry[];
}

function synthExporter(specs: GeoSpec[]): SynthExporter {
  const e: SynthExporter = {
    name: 'synthfs',
    words: { unit: 'unit', front: 'the front', ownFiles: 'own files' },
    geometries: [],
    measure(src): ExportMeasure<SynthGeometry> {
      e.geometries = specs.map((s) => geometry(src, s));
      const candidates: Array<GeometryCandidate<SynthGeometry>> = e.geometries.map((g, i) => ({
        label: g.label, key: { index: i, unit: g.grid.unitBytes, front: g.frontBytes }, geometry: g, feasible: true, reasons: [], cost: i, note: '',
      }));
      return {
        notes: { renames: [], duplicates: [], losses: [] }, files: 0, directories: 0, fileBytes: 0,
        candidates, tryOrder: [...candidates], summary: 'no synthfs geometry',
      };
    },
    payloadHeadBytes: PAYLOAD_HEAD,
    payloadLimit: (_head, fsBytes) => PAYLOAD_HEAD + ROOT_REGION + PAYLOAD_RUN * Math.ceil(fsBytes / 512),
    commitProgram: synthCommitProgram,
    verify: verifySynth,
  };
  return e;
}

const registryOf = (e: InPlaceExporter): ExporterRegistry => ({ byName: (n) => (n === e.name ? e : undefined), legacy: undefined });

// ---------------------------------------------------------------------------------------------
// The trees.

/**
 * Blocks 0..2 are metadata, the front region is blocks 0..7 (or 0..8): 'front' lies in it.
 * 'contig' starts on an even block, 'odd' on an odd one (two-block units after 8 blocks keep one, not
 * the other); 'tiny' and 'neighbour' share a two-block unit (the first keeps it); 'last' lies past
 * the last two-block unit after 9 blocks; 'linked' has a second name in sub/, 'sub/side/hl' one in
 * sub/deep/ (side/ comes first: depth first, in order).
 */
const mainTree = (bs: number): Spec[] => [
  { kind: 'file', name: 'contig', size: 8 * bs - 100, extents: [{ logical: 0, physical: 20, length: 8 }] },
  { kind: 'file', name: 'fragmented', size: 6 * bs, extents: [{ logical: 0, physical: 40, length: 3 }, { logical: 3, physical: 50, length: 2 }, { logical: 5, physical: 33, length: 1 }] },
  { kind: 'file', name: 'sparse', size: 7 * bs - 5, extents: [{ logical: 0, physical: 60, length: 2 }, { logical: 5, physical: 62, length: 1 }] },
  { kind: 'file', name: 'front', size: 2 * bs, extents: [{ logical: 0, physical: 4, length: 2 }] },
  { kind: 'file', name: 'odd', size: 4 * bs, extents: [{ logical: 0, physical: 71, length: 4 }] },
  { kind: 'file', name: 'empty', size: 0, extents: [] },
  { kind: 'file', name: 'tiny', size: 10, extents: [{ logical: 0, physical: 110, length: 1 }] },
  { kind: 'file', name: 'neighbour', size: bs + 1, extents: [{ logical: 0, physical: 111, length: 2 }] },
  { kind: 'file', name: 'linked', size: 3 * bs - 7, extents: [{ logical: 0, physical: 90, length: 3 }], key: 'L' },
  { kind: 'file', name: 'last', size: bs, extents: [{ logical: 0, physical: 255, length: 1 }] },
  { kind: 'symlink', name: 'to-contig', target: 'contig' },
  {
    kind: 'dir', name: 'sub', children: [
      { kind: 'file', name: 'a', size: 2 * bs, extents: [{ logical: 0, physical: 80, length: 2 }] },
      { kind: 'link', name: 'also-linked', of: 'L' },
      { kind: 'dir', name: 'empty-dir', children: [] },
      { kind: 'dir', name: 'side', children: [{ kind: 'file', name: 'hl', size: 2 * bs, extents: [{ logical: 0, physical: 120, length: 2 }], key: 'H' }] },
      {
        kind: 'dir', name: 'deep', children: [
          { kind: 'file', name: 'b', size: 5 * bs, extents: [{ logical: 0, physical: 100, length: 2 }, { logical: 2, physical: 103, length: 3 }] },
          { kind: 'symlink', name: 'long-link', target: 'x'.repeat(3000) },
          { kind: 'file', name: 'all-hole', size: 3 * bs, extents: [] },
          { kind: 'link', name: 'hl-again', of: 'H' },
        ],
      },
    ],
  },
];
/** Entries in mainTree, every directory's children counted. */
const MAIN_ENTRIES = 12 + 5 + 1 + 4;
const MAIN_BAD = [150, 153];

function mainSource(bs: number, over: Partial<SourceOptions> = {}): SynthSource {
  return new SynthSource({ blockSize: bs, blockCount: 256, metaBlocks: 3, tree: mainTree(bs), badBlocks: MAIN_BAD, ...over });
}

// ---------------------------------------------------------------------------------------------
// The checks.

const normRuns = (runs: readonly UnitRun[]): UnitRun[] => runs.map((r) => ({ start: r.start, length: r.length, next: r.next, ...(r.bad === true && { bad: true }) }));

/** The unit that holds unit `j` of a file in place, if its blocks already lie exactly there (an oracle apart from the layout). */
function alignedUnit(src: SynthSource, g: TargetGeometry, file: SourceNode, j: number): number {
  const bs = src.blockSize;
  const { unitBytes: cs, dataStart, firstUnit, unitCount } = g.grid;
  const blocks = Math.ceil(file.size / bs);
  // The blocks (and byte offsets in them) the unit's bytes of the file come from.
  const from = j * cs;
  const to = Math.min(file.size, from + cs);
  const p = src.physOf(file, Math.floor(from / bs));
  if (p === 0) return 0;
  const pos = p * bs + (from % bs);
  if (pos < dataStart || (pos - dataStart) % cs !== 0) return 0;
  for (let x = from; x < to; x += bs) {
    const l = Math.floor(x / bs);
    if (l >= blocks || src.physOf(file, l) !== p + (l - Math.floor(from / bs))) return 0;
  }
  const c = firstUnit + (pos - dataStart) / cs;
  return c < firstUnit + unitCount ? c : 0;
}

/** The accounting of the file data, from the oracle: what stays, moves, is a hard link's copy, is a hole. */
function fileAccounting(src: SynthSource, g: TargetGeometry): { inPlace: number; moved: number; duplicated: number; holes: number; kept: Map<SourceNode, number[]> } {
  const bs = src.blockSize;
  const cs = g.grid.unitBytes;
  const seen = new Set<number>();
  const out = { inPlace: 0, moved: 0, duplicated: 0, holes: 0, kept: new Map<SourceNode, number[]>() };
  for (const f of src.files) {
    const first = !seen.has(f.linkId);
    seen.add(f.linkId);
    const kept: number[] = [];
    for (let j = 0; j * cs < f.size; j++) {
      const to = Math.min(f.size, (j + 1) * cs);
      const c = first ? alignedUnit(src, g, f, j) : 0;
      kept.push(c);
      if (c !== 0) {
        out.inPlace += to - j * cs;
        continue;
      }
      for (let x = j * cs; x < to; ) {
        const l = Math.floor(x / bs);
        const end = Math.min(to, (l + 1) * bs);
        if (src.physOf(f, l) === 0) out.holes += end - x;
        else if (first) out.moved += end - x;
        else out.duplicated += end - x;
        x = end;
      }
    }
    out.kept.set(f, kept);
  }
  return out;
}

/** The units a bad block lies under. */
function badUnitsOf(src: SynthSource, g: TargetGeometry): number[] {
  const { unitBytes: cs, dataStart, firstUnit, unitCount } = g.grid;
  const bs = src.blockSize;
  const out = new Set<number>();
  for (const b of src.badBlocks) {
    for (let c = firstUnit; c < firstUnit + unitCount; c++) {
      const at = dataStart + (c - firstUnit) * cs;
      if (at < (b + 1) * bs && at + cs > b * bs) out.add(c);
    }
  }
  return [...out].sort((x, y) => x - y);
}

interface Converted {
  src: SynthSource;
  exporter: SynthExporter;
  plan: InPlacePlan<SynthGeometry>;
  g: SynthGeometry;
  payload: DecodedPayload;
  stagedUnits: Set<number>;
  journalUnits: number[];
  unitsUsed: number;
}

/** Plans, converts and checks every invariant; returns what was found for the caller's own checks. */
function convertAndCheck(src: SynthSource, specs: GeoSpec[], expectGeometry = 0): Converted {
  const bs = src.blockSize;
  const fsBytes = src.blockCount * bs;
  const dev = src.dev;
  const exporter = synthExporter(specs);
  const original = dev.bytes.slice();
  const used = src.usedBlocks();
  const bad = new Set(src.badBlocks);

  const plan = planInPlace<SynthGeometry, ExportMeasure<SynthGeometry>>(src, exporter);
  expect(plan.feasible, plan.summary).toBe(true);
  expect(dev.writes).toEqual([]);
  const g = plan.geometry!;
  expect(g).toBe(exporter.geometries[expectGeometry]);
  const a = plan.accounting!;
  const { unitBytes: cs, dataStart, firstUnit, unitCount } = g.grid;
  const unitOfByte = (x: number): number => firstUnit + Math.floor((x - dataStart) / cs);
  const unitPos = (c: number): number => dataStart + (c - firstUnit) * cs;
  expect(a.missingUnits).toBe(0);

  const result = convertInPlace(dev, src, exporter, plan);

  // 1. Before the commit point (the marker over the signature's sector): only units whose blocks
  // the source has free, past the front region, under no bad block, each byte once.
  const commit = dev.writes.findIndex((w) => w.offset === COMMIT_MARKER_OFFSET && hasMarkerMagic(w.head));
  expect(commit).toBeGreaterThan(0);
  const staging = dev.writes.slice(0, commit);
  const times = new Uint8Array(fsBytes);
  let twice = 0;
  const stagedUnits = new Set<number>();
  for (const w of staging) {
    const end = w.offset + w.length;
    expect(w.offset, `a staging write at byte ${w.offset}, in the front region`).toBeGreaterThanOrEqual(g.frontBytes);
    expect(w.offset).toBeGreaterThanOrEqual(dataStart);
    expect(end, `a staging write past the last unit`).toBeLessThanOrEqual(unitPos(firstUnit + unitCount));
    for (let b = Math.floor(w.offset / bs); b * bs < end; b++) {
      expect(used.get(b), `a staging write at byte ${w.offset} into block ${b}, which the source uses`).toBe(false);
      expect(bad.has(b), `a staging write at byte ${w.offset} onto bad block ${b}`).toBe(false);
    }
    for (let x = w.offset; x < end; x++) if ((times[x] = times[x]! + 1) > 1) twice++;
    for (let c = unitOfByte(w.offset); c <= unitOfByte(end - 1); c++) stagedUnits.add(c);
  }
  expect(twice, 'bytes staged twice').toBe(0);

  // 2. The plan and the staging agree: the journal where the plan put it, staged units = new units + journal.
  const marker = decodeMarker(dev.writes[commit]!.head)!;
  const journalUnits = range(a.journalFirstUnit, a.journalUnits);
  expect(a.journalUnits).toBe(Math.ceil(plan.journalBytes / cs));
  expect(marker.journalOffset).toBe(unitPos(a.journalFirstUnit));
  expect(marker.journalLength).toBe(plan.journalBytes);
  expect(marker.fsBytes).toBe(fsBytes);
  expect(staging[staging.length - 1]).toMatchObject({ offset: marker.journalOffset, length: marker.journalLength });
  for (const c of journalUnits) expect(stagedUnits.has(c), `journal unit ${c} not staged`).toBe(true);
  expect(stagedUnits.size).toBe(a.newUnits + a.journalUnits);
  // The journal left on the device after the commit holds the staging's runs: the same as the plan's.
  const journal = decodeJournal(dev.bytes.slice(marker.journalOffset, marker.journalOffset + marker.journalLength), fsBytes, registryOf(exporter));
  expect(journal.exporter).toBe('synthfs');
  expect(journal.fingerprint).toEqual(src.fingerprint());
  const payload = decodePayload(journal.payload, fsBytes);
  const planned = layOutInPlace({ src, g, journalSize: (runs) => journalBytesFor(exporter.name, fingerprintBytes(plan.fingerprint), g.payloadBytes(runs)) }, null);
  expect(planned.accounting).toEqual(a);
  expect(normRuns(payload.runs)).toEqual(normRuns(planned.runs));
  expect(payload.rootUnit).toBe(planned.rootUnit);
  expect(payload.unitsUsed).toBe(planned.unitsUsed);
  expect(payload.rootInUnits).toBe(g.rootInUnits);
  for (const r of payload.runs) for (const c of range(r.start, r.length)) expect(journalUnits.includes(c), `journal unit ${c} in a run`).toBe(false);
  const chainUnits = new Set(payload.runs.filter((r) => r.bad !== true).flatMap((r) => range(r.start, r.length)));
  // The pool: the units all of whose blocks the source has free (counted apart from the layout).
  const poolFree = (c: number): boolean => {
    for (let b = Math.floor(unitPos(c) / bs); b * bs < unitPos(c) + cs; b++) if (b >= src.blockCount || used.get(b) || bad.has(b)) return false;
    return true;
  };
  const pool = range(firstUnit, unitCount).filter(poolFree);
  expect(a.poolUnits).toBe(pool.length);
  expect(a.spareUnits).toBe(pool.length - a.newUnits - a.journalUnits);
  // New content takes the pool lowest first; the journal the highest free run: every pool unit above it holds new content.
  expect([...stagedUnits].filter((c) => !journalUnits.includes(c)).sort((x, y) => x - y)).toEqual(pool.slice(0, a.newUnits));
  for (const c of pool) if (c > a.journalFirstUnit + a.journalUnits - 1) expect(stagedUnits.has(c), `pool unit ${c} above the journal left free`).toBe(true);
  expect(result.bytesWritten).toBe(staging.reduce((n, w) => n + w.length, 0));
  expect(result.unitsUsed).toBe(chainUnits.size);
  expect(payload.unitsUsed).toBe(chainUnits.size);
  expect(plan.freeUnitsAfter).toBe(unitCount - chainUnits.size - a.badUnits);
  expect(payload.freeUnits).toBe(plan.freeUnitsAfter);

  // 3. Kept units: the chain units staging did not write. Each is where the file's blocks already were.
  const kept = new Set([...chainUnits].filter((c) => !stagedUnits.has(c)));
  for (const c of stagedUnits) if (!journalUnits.includes(c)) expect(chainUnits.has(c), `staged unit ${c} is in no chain`).toBe(true);
  expect(kept.size).toBe(chainUnits.size - a.newUnits);
  const oracle = fileAccounting(src, g);
  expect({ inPlace: a.bytesInPlace, moved: a.bytesMoved, duplicated: a.bytesDuplicated, holes: a.bytesHoles })
    .toEqual({ inPlace: oracle.inPlace, moved: oracle.moved, duplicated: oracle.duplicated, holes: oracle.holes });
  const fileBytes = src.files.reduce((n, f) => n + f.size, 0);
  expect(a.bytesInPlace + a.bytesMoved + a.bytesDuplicated + a.bytesHoles).toBe(fileBytes);
  expect(a.bytesStoredAsBytes).toBe(src.dirs.flatMap((d) => src.children(d)).filter((n) => n.type === 'symlink').reduce((n, s) => n + s.size, 0));
  expect(a.bytesOwnFiles).toBe(src.dirs.reduce((n, d) => n + ownBytesOf(src.children(d)), 0));
  // New units: directories (the root too when in units), own files, symlink targets, file units that do not stay.
  const unitsOf = (bytes: number): number => Math.ceil(bytes / cs);
  const newUnits = src.dirs.reduce((n, d) => n + (d === src.root() && !g.rootInUnits ? 0 : Math.max(1, unitsOf(dirBytesOf(src.children(d))))) + unitsOf(ownBytesOf(src.children(d))), 0) +
    src.dirs.flatMap((d) => src.children(d)).filter((n) => n.type === 'symlink').reduce((n, l) => n + unitsOf(l.size), 0) +
    src.files.reduce((n, f) => n + oracle.kept.get(f)!.filter((c) => c === 0).length, 0);
  expect(a.newUnits).toBe(newUnits);

  // 4. The result: read back by the exporter, then file by file against the source's bytes.
  expect(exporter.verify(dev)).toBe(src.dirs.reduce((n, d) => n + src.children(d).length, 0));
  expect(inspectInterruption(dev, () => ({ kind: 'absent' }), registryOf(exporter)).state).toBe('none');
  expect([...dev.bytes.subarray(MAGIC_OFFSET, MAGIC_OFFSET + 2)]).not.toEqual(MAGIC);
  const vol = new SynthVolume(dev);
  expect(normRuns(vol.runs)).toEqual(normRuns(payload.runs));
  const owner = new Map<number, string>();
  const claim = (units: number[], what: string): void => {
    for (const c of units) {
      expect(owner.get(c), `unit ${c} in the chains of ${owner.get(c)} and ${what}`).toBeUndefined();
      owner.set(c, what);
    }
  };
  const visit = (dir: SourceNode, unit: number, size: number | 'root', parentUnit: number, parentDir: SourceNode | null): void => {
    const { bytes, units } = vol.directoryBytes(unit, size);
    claim(units, dir.path);
    for (const c of units) expect(kept.has(c), `directory unit ${c} not staged`).toBe(false);
    const d = SynthVolume.parseDirectory(bytes);
    const placed = g.placed.get(dir.linkId)!;
    const kids = src.children(dir);
    // What the layout gave the directory, as the exporter was told at encode, and as it is on the device.
    expect(placed.children).toEqual(kids);
    expect(placed.place.self).toBe(unit);
    expect(placed.place.parent).toBe(parentUnit);
    expect(placed.place.parentIsRoot).toBe(parentDir === src.root());
    expect(placed.place.parentNode).toBe(parentDir);
    expect(d).toMatchObject({ self: unit, parent: parentUnit, ownFile: placed.place.ownFiles[0] });
    expect(d.entries.map((e) => e.name)).toEqual(kids.map((k) => Buffer.from(k.name).toString('latin1')));
    expect(d.entries.map((e) => e.unit)).toEqual(placed.place.children);
    const own = vol.read(d.ownFile, d.ownBytes);
    claim(own.units, `${dir.path} (own file)`);
    expect(get32(own.bytes, 4)).toBe(kids.length);
    expect(range(0, kids.length).map((i) => get32(own.bytes, 8 + 8 * i))).toEqual(placed.place.children);
    kids.forEach((k, i) => {
      const e = d.entries[i]!;
      if (k.type === 'dir') {
        visit(k, e.unit, e.size, unit, dir);
        return;
      }
      const { bytes: content, units: chain } = vol.read(e.unit, e.size);
      claim(chain, k.path);
      expect(e.size).toBe(k.size);
      if (k.type === 'symlink') {
        expect(sameBytes(content, k.target!), `${k.path}: its target`).toBe(true);
        for (const c of chain) expect(kept.has(c)).toBe(false);
        return;
      }
      expect(sameBytes(content, src.expected(k)), `${k.path}: its bytes`).toBe(true);
      // Kept units are exactly where the oracle says the file's blocks already are.
      const want = oracle.kept.get(k)!;
      expect(chain.length).toBe(want.length);
      chain.forEach((c, j) => {
        if (want[j] !== 0) expect(c, `${k.path}: unit ${j} stays`).toBe(want[j]);
        expect(kept.has(c), `${k.path}: unit ${j} (${c}) ${want[j] !== 0 ? 'stays' : 'is new'}`).toBe(want[j] !== 0);
        // A kept unit still holds the source's bytes, untouched.
        if (kept.has(c)) expect(sameBytes(dev.bytes.subarray(unitPos(c), unitPos(c) + cs), original.subarray(unitPos(c), unitPos(c) + cs))).toBe(true);
      });
    });
  };
  visit(src.root(), g.rootInUnits ? payload.rootUnit : 0, 'root', 0, null);
  // Every allocated unit is in exactly one chain reached from the root.
  expect(owner.size).toBe(chainUnits.size);
  for (const c of chainUnits) expect(owner.has(c), `unit ${c} allocated, in no chain`).toBe(true);

  // 5. Bad blocks: exactly the units under them, as bad runs of their own.
  const badRuns = payload.runs.filter((r) => r.bad === true);
  expect(badRuns.flatMap((r) => range(r.start, r.length))).toEqual(badUnitsOf(src, g));
  expect(a.badUnits).toBe(badUnitsOf(src, g).length);
  for (const c of badUnitsOf(src, g)) expect(owner.has(c) || stagedUnits.has(c)).toBe(false);

  return { src, exporter, plan, g, payload, stagedUnits, journalUnits, unitsUsed: result.unitsUsed };
}

/** How many of each named file's units stay, from the layout's result (the chains on the device). */
function keptUnitsByName(c: Converted): Record<string, number> {
  const vol = new SynthVolume(c.src.dev);
  const out: Record<string, number> = {};
  const walk = (dir: SourceNode, unit: number, size: number | 'root'): void => {
    const d = SynthVolume.parseDirectory(vol.directoryBytes(unit, size).bytes);
    c.src.children(dir).forEach((k, i) => {
      const e = d.entries[i]!;
      if (k.type === 'dir') walk(k, e.unit, e.size);
      else if (k.type === 'file') out[k.path] = vol.read(e.unit, e.size).units.filter((u) => !c.stagedUnits.has(u)).length;
    });
  };
  walk(c.src.root(), c.g.rootInUnits ? c.payload.rootUnit : 0, 'root');
  return out;
}

// ---------------------------------------------------------------------------------------------

describe('in-place layout on a synthetic source and target', () => {
  for (const bs of [1024, 4096]) {
    for (const [what, factor] of [['half a block', 0.5], ['one block', 1], ['two blocks', 2]] as const) {
      for (const rootInUnits of [true, false]) {
        it(`${bs}-byte blocks, units of ${what}, root ${rootInUnits ? 'in units' : 'in the front region'}`, () => {
          const c = convertAndCheck(mainSource(bs), [{ unitBytes: bs * factor, frontBytes: 8 * bs, rootInUnits }]);
          const a = c.plan.accounting!;
          // Units kept per file, worked out by hand: 'front' never stays (front region); 'contig'
          // (blocks 20..27) always does; 'odd' (71..74) and 'neighbour' (111..112) start off the
          // two-block grid (units start at even blocks); 'tiny' keeps the unit it shares with
          // 'neighbour'; 'sparse' keeps its first two blocks and not the others (holes, 62 off grid);
          // the second name of 'linked' keeps nothing.
          const perBlock = factor === 0.5 ? 2 : 1;
          const kept = keptUnitsByName(c);
          expect(kept).toEqual(factor <= 1 ? {
            '/contig': 8 * perBlock, '/fragmented': 6 * perBlock, '/sparse': 3 * perBlock, '/front': 0, '/odd': 4 * perBlock, '/empty': 0,
            '/tiny': 1, '/neighbour': 2 * perBlock - (factor === 0.5 ? 1 : 0), '/linked': 3 * perBlock, '/last': perBlock,
            '/sub/a': 2 * perBlock, '/sub/also-linked': 0, '/sub/side/hl': 2 * perBlock, '/sub/deep/b': 5 * perBlock, '/sub/deep/all-hole': 0, '/sub/deep/hl-again': 0,
          } : {
            // 'fragmented': 40..41 stays, 42+50 and 51+33 do not; 'b': 100..101 stays, 103..104 and 105 do not.
            '/contig': 4, '/fragmented': 1, '/sparse': 1, '/front': 0, '/odd': 0, '/empty': 0, '/tiny': 1, '/neighbour': 0,
            '/linked': 2, '/last': 0, '/sub/a': 1, '/sub/deep/b': 1, '/sub/also-linked': 0, '/sub/deep/all-hole': 0, '/sub/side/hl': 1, '/sub/deep/hl-again': 0,
          });
          // Holes: 'sparse' blocks 2, 3, 4 and the partial 6; 'all-hole' whole. Copies: the second names of 'linked' and 'hl'.
          expect(a.bytesHoles).toBe(3 * bs + (bs - 5) + 3 * bs);
          expect(a.bytesDuplicated).toBe(3 * bs - 7 + 2 * bs);
          expect(c.exporter.verify(c.src.dev)).toBe(MAIN_ENTRIES);
          expect(a.badUnits).toBe(factor === 0.5 ? 4 : 2);
          expect(c.payload.runs.filter((r) => r.bad === true).length).toBe(factor === 0.5 ? 4 : 2);
          expect(a.bytesDirectories).toBe(c.src.dirs.filter((d) => d !== c.src.root() || rootInUnits)
            .reduce((n, d) => n + Math.max(1, Math.ceil(dirBytesOf(c.src.children(d)) / (bs * factor))) * bs * factor, 0));
        });
      }
    }
  }
});

describe('in-place layout: other grids and sources', () => {
  for (const bs of [1024, 4096]) {
    it(`${bs}-byte blocks, two-block units starting on odd blocks (front region of 9 blocks)`, () => {
      const c = convertAndCheck(mainSource(bs), [{ unitBytes: 2 * bs, frontBytes: 9 * bs, rootInUnits: true }]);
      // Units start on odd blocks now: 'odd' (71..74) keeps both its units, 'contig' (20..27) none,
      // 'neighbour' (111..112) its one, 'tiny' (110) none, 'b' (100, 101, 103..105) the two from 103;
      // 'last' (255) would be a unit past the grid's end (units cover blocks 9..254).
      expect(keptUnitsByName(c)).toMatchObject({ '/contig': 0, '/odd': 2, '/neighbour': 1, '/tiny': 0, '/last': 0, '/linked': 0, '/sub/deep/b': 2 });
      expect(c.g.grid.unitCount).toBe(123);
    });
  }

  it('a geometry whose front region covers a bad block is passed over for the next; the bad block becomes a bad run there', () => {
    const src = mainSource(1024, { badBlocks: [7, 150] });
    const c = convertAndCheck(src, [{ unitBytes: 1024, frontBytes: 8192, rootInUnits: true }, { unitBytes: 1024, frontBytes: 4096, rootInUnits: true }], 1);
    expect(c.plan.candidates[0]!.feasible).toBe(false);
    expect(c.plan.candidates[0]!.reasons).toEqual([`${c.exporter.geometries[0]!.label}: bad block 7 lies in its front region (bytes 0..8191)`]);
    expect(c.payload.runs.filter((r) => r.bad === true)).toEqual([{ start: 5, length: 1, next: 0, bad: true }, { start: 148, length: 1, next: 0, bad: true }]);
    // 'front' (blocks 4..5) now lies on the grid and stays.
    expect(keptUnitsByName(c)['/front']).toBe(2);
  });

  it('bad blocks the source does not mark used are still never written nor given out', () => {
    // Block 8 is the first the pool would hand out.
    for (const [bs, unitBytes] of [[1024, 1024], [1024, 2048], [4096, 2048]] as const) {
      const c = convertAndCheck(mainSource(bs, { badBlocks: [8, 150], badBlocksUsed: false }), [{ unitBytes, frontBytes: 8 * bs, rootInUnits: true }]);
      expect(c.plan.accounting!.badUnits).toBe(unitBytes < bs ? 4 : 2);
    }
  });

  it('a grid that does not start on a block boundary writes only where every block under a unit is free, and keeps nothing off the blocks', () => {
    // Units of a block from half a block in: each straddles two blocks, a bad block touches two units; nothing can stay.
    const c = convertAndCheck(mainSource(4096), [{ unitBytes: 4096, frontBytes: 34816, rootInUnits: true }]);
    expect(c.plan.accounting!.bytesInPlace).toBe(0);
    expect(c.plan.accounting!.badUnits).toBe(4);
    // Units of two blocks from half a block in: three blocks under each.
    const d = convertAndCheck(mainSource(1024), [{ unitBytes: 2048, frontBytes: 8704, rootInUnits: false }]);
    expect(d.plan.accounting!.bytesInPlace).toBe(0);
    expect(d.plan.accounting!.badUnits).toBe(3);
    // Units of half a block from a quarter block in: within one block or across two, never where a file's bytes are.
    const e = convertAndCheck(mainSource(4096), [{ unitBytes: 2048, frontBytes: 33792, rootInUnits: true }]);
    expect(e.plan.accounting!.bytesInPlace).toBe(0);
    expect(e.plan.accounting!.badUnits).toBe(6);
  });
});

describe('in-place layout: refusals', () => {
  const snapshot = (src: SynthSource): Uint8Array => src.dev.bytes.slice();
  const unchanged = (src: SynthSource, before: Uint8Array): void => {
    expect(src.dev.writes).toEqual([]);
    expect(sameBytes(src.dev.bytes, before)).toBe(true);
  };

  it('a bad block in the front region: infeasible, the refusal names the block; nothing written', () => {
    // Block 7: the front region's last.
    const src = mainSource(1024, { badBlocks: [150, 7] });
    const before = snapshot(src);
    const exporter = synthExporter([{ unitBytes: 1024, frontBytes: 8192, rootInUnits: true }]);
    const plan = planInPlace(src, exporter);
    expect(plan.feasible).toBe(false);
    expect(plan.geometry).toBeNull();
    expect(plan.accounting).toBeNull();
    const label = exporter.geometries[0]!.label;
    expect(plan.candidates[0]!.reasons).toEqual([`${label}: bad block 7 lies in its front region (bytes 0..8191)`]);
    expect(plan.summary).toBe(`Not feasible in place. Closest: ${label}: bad block 7 lies in its front region (bytes 0..8191).`);
    unchanged(src, before);
  });

  it('a pool too small: infeasible with what is missing; nothing written', () => {
    // 64 blocks: 3 of metadata, a front region of 8, 'big' on all of 8..47 (it stays), and a second
    // name of it that needs 40 new units; the pool is blocks 48..63: 16 units.
    const src = new SynthSource({
      blockSize: 1024, blockCount: 64, metaBlocks: 3, tree: [
        { kind: 'file', name: 'big', size: 40 * 1024, extents: [{ logical: 0, physical: 8, length: 40 }], key: 'B' },
        { kind: 'link', name: 'big2', of: 'B' },
      ],
    });
    const before = snapshot(src);
    const spec: GeoSpec = { unitBytes: 1024, frontBytes: 8192, rootInUnits: true };
    const exporter = synthExporter([spec]);
    const g = geometry(src, spec);
    const laid = layOutInPlace({ src, g, journalSize: (runs) => journalBytesFor('synthfs', fingerprintBytes(src.fingerprint()), g.payloadBytes(runs)) }, null);
    const a = laid.accounting;
    // The root and its own file (1 unit each), the copy (40), the journal (1): 43 units, 16 in the pool.
    expect({ pool: a.poolUnits, newUnits: a.newUnits, journal: a.journalUnits, inPlace: a.bytesInPlace }).toEqual({ pool: 16, newUnits: 42, journal: 1, inPlace: 40 * 1024 });
    expect(a.missingUnits).toBe(43 - 16);
    const plan = planInPlace(src, exporter);
    expect(plan.feasible).toBe(false);
    expect(plan.summary).toBe(`Not feasible in place. Closest: ${exporter.geometries[0]!.label}: the new content needs 43 units in space the synth has free ` +
      'outside the front, but only 16 are there (27.0 KiB missing).');
    unchanged(src, before);
  });

  it("a source whose first signature is not in the commit point's sector makes the plan throw", () => {
    const exporter = synthExporter([{ unitBytes: 1024, frontBytes: 8192, rootInUnits: true }]);
    for (const signatures of [[{ offset: 512, length: 2, what: 'early magic' }], [{ offset: 1535, length: 2, what: 'straddling magic' }], []]) {
      const src = mainSource(1024, { signatures });
      const before = snapshot(src);
      expect(() => planInPlace(src, exporter)).toThrow(`the synth importer's signature (${signatures[0]?.what ?? 'none'}) does not lie in the sector the commit point overwrites (internal)`);
      unchanged(src, before);
    }
    // Its last two bytes are still in it.
    expect(planInPlace(mainSource(1024, { signatures: [{ offset: 1534, length: 2, what: 'late magic' }] }), exporter).feasible).toBe(true);
  });

  it("a front region short of the marker's places, or of a signature, is rejected with the reason", () => {
    const src = mainSource(1024);
    const before = snapshot(src);
    const small = synthExporter([{ unitBytes: 1024, frontBytes: 1024, rootInUnits: true }]);
    const plan = planInPlace(src, small);
    expect(plan.feasible).toBe(false);
    const why = `${small.geometries[0]!.label}: its front region (1024 bytes) does not cover the marker's places and the synth signatures (bytes 0..2047)`;
    expect(plan.candidates[0]!.reasons).toEqual([why]);
    expect(plan.summary).toBe(`Not feasible in place. Closest: ${why}.`);
    unchanged(src, before);
    // With a second signature at 9000, a front region of 8192 bytes falls short; one of 10240 does not.
    const twoSignatures = mainSource(1024, { signatures: [{ offset: MAGIC_OFFSET, length: 2, what: 'test magic' }, { offset: 9000, length: 4, what: 'backup magic' }] });
    const both = synthExporter([{ unitBytes: 1024, frontBytes: 8192, rootInUnits: true }, { unitBytes: 1024, frontBytes: 10240, rootInUnits: true }]);
    const p2 = planInPlace(twoSignatures, both);
    expect(p2.feasible).toBe(true);
    expect(p2.geometry).toBe(both.geometries[1]);
    expect(p2.candidates[0]!.reasons).toEqual([`${both.geometries[0]!.label}: its front region (8192 bytes) does not cover the marker's places and the synth signatures (bytes 0..9003)`]);
  });
});
