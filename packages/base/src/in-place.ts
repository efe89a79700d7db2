/**
 * The two halves of an in-place conversion, as the orchestrator (@fsconv/core) sees them: an
 * importer that says what of the device the source needs and where its files' blocks are, and an
 * exporter that says how the target is laid out and encodes its own structures. Core holds the
 * algorithm between them (docs/in-place.md): measure → choose a geometry → keep what can stay →
 * stage → journal → commit → verify. Neither side knows the other's format.
 */
import type { Bitmap } from './bitmap.js';
import type { ByteSource } from './byte-source.js';
import type { SourceNode, SourceTree, ConversionNotes } from './model.js';

/**
 * Named values that change whenever the source filesystem is changed (for ext2: write and mount
 * times and counts, free counts, a digest of the bitmaps). The journal records them as planned;
 * on resume, any difference with a readable source beside it means the journal is stale.
 */
export type SourceFingerprint = ReadonlyArray<readonly [name: string, value: string]>;

/** A run of a file's blocks: logical blocks `logical`.. of the file lie at block `physical`.. of the device. */
export interface BlockExtent {
  logical: number;
  physical: number;
  length: number;
}

/** A signature by which tools (blkid, wipefs, the kernel) recognise the source: bytes at an offset. */
export interface Signature {
  offset: number;
  length: number;
  what: string;
}

/** Whether the source may be converted as it is; when not, why, and what the user should run first. */
export type SourceVerdict = { clean: true } | { clean: false; why: string; advice: string };

/** An importer's view of a source that is converted on its own blocks. */
export interface InPlaceSource extends SourceTree {
  /** The source's allocation unit in bytes, and how many of them the filesystem spans. */
  readonly blockSize: number;
  readonly blockCount: number;
  /** Where a regular file's data lies, in blocks (a hole is a logical block no extent covers). */
  extents(node: SourceNode): BlockExtent[];
  /**
   * A regular file whose bytes the source keeps in its own metadata rather than in blocks (ext4's
   * inline data): those bytes (the file reads zeros past them, up to its size); null for a file
   * in blocks. Such a file has no extents: it is written anew.
   */
  inlineData?(node: SourceNode): Uint8Array | null;
  /**
   * Every block the source needs: file data, its own metadata, anything before its first data
   * block. A block not in it may be written while the source is still valid.
   */
  usedBlocks(): Bitmap;
  /** Blocks the source lists as unreadable: never read, never written, never given to a file. */
  readonly badBlocks: readonly number[];
  /**
   * Its signatures. The first is the commit point: the marker is written over the sector holding
   * it, after which the device is no longer the source. The exporter's front region must cover all
   * of them, so that none survives the commit.
   */
  readonly signatures: readonly Signature[];
  fingerprint(): SourceFingerprint;
  readonly verdict: SourceVerdict;
}

/** The grid an exporter allocates in: `unitCount` units of `unitBytes` from byte `dataStart`, the first numbered `firstUnit`. */
export interface AllocationGrid {
  dataStart: number;
  unitBytes: number;
  firstUnit: number;
  unitCount: number;
}

/** A piece of a chain of units: `start`..`start+length-1`, then the chain goes on at `next` (0: it ends there). Bad runs hold unusable units. */
export interface UnitRun {
  start: number;
  length: number;
  next: number;
  bad?: boolean;
}

/** How a child of a directory is stored on the target. */
export type StoredContent =
  /** A directory: `bytes` of units (known before it is laid out, from the exporter's measure). */
  | { kind: 'directory'; bytes: number }
  /** A regular file's data, read from the source where it cannot stay. */
  | { kind: 'file' }
  /** Bytes of the exporter's choosing (a FAT symlink stores its target as a file). */
  | { kind: 'bytes'; bytes: Uint8Array }
  /** Nothing in units (an empty placeholder). */
  | { kind: 'none' };

/** Where everything of one directory was put: the first unit of each (0 when it has none). */
export interface DirectoryPlacement {
  /** The directory's own first unit (0 when it lies in the fixed region). */
  self: number;
  /** Its parent's first unit, whether the parent is the root, and the parent itself (null for the root). */
  parent: number;
  parentIsRoot: boolean;
  parentNode: SourceNode | null;
  /** Each stored child's first unit, in layout order. */
  children: number[];
  /** Each of the exporter's own files' first unit. */
  ownFiles: number[];
}

/** One directory as the exporter stores it. */
export interface ExportedDirectory {
  /** The children stored, in the order the directory lists them, with how each is stored. */
  children: Array<{ node: SourceNode; content: StoredContent }>;
  /** Byte lengths of the exporter's own files in the directory (the rights file). */
  ownFiles: number[];
  /** The directory's bytes: for the root in the fixed region, that region's size. */
  bytes: number;
  /** Its bytes, and its own files', once everything in it is placed (absent when laid out for planning only). */
  encode?(place: DirectoryPlacement): { directory: Uint8Array; ownFiles: Uint8Array[] };
}

/** What the layout hands the exporter to encode as its commit payload. */
export interface LaidOut {
  /** Every chain's runs and the bad runs, sorted by start. */
  runs: UnitRun[];
  /** The root directory's first unit (0 when it lies in the fixed region), and its bytes when it does. */
  rootUnit: number;
  rootDirectory: Uint8Array | null;
  unitsUsed: number;
  /** Units free afterwards, and the first of them (for the target's free-space hints). */
  freeUnits: number;
  firstFreeUnit: number;
  /** Where the filesystem starts on the device holding it (a partition's offset; 0 for a whole device). */
  sliceOffset: number;
}

/** One layout an exporter could give the volume (a FAT type with a cluster size). */
export interface TargetGeometry {
  /** For reports: "FAT16 with 2048-byte clusters". */
  readonly label: string;
  readonly grid: AllocationGrid;
  /** Bytes 0..frontBytes−1: the exporter's fixed region, holding no unit, rewritten whole by the commit. */
  readonly frontBytes: number;
  /** Whether the root directory lies in units (else in the fixed region, its bytes in the payload). */
  readonly rootInUnits: boolean;
  /** Bytes of the payload for a layout with `runs` runs (the journal's room is reserved with it). */
  payloadBytes(runs: number): number;
  /**
   * One directory of the source as stored with this geometry: named in full when `encode` is true
   * (staging), only sized otherwise (planning, from the measure). A subdirectory's `bytes` and a
   * directory's own are its entries' bytes; core rounds them up to whole units.
   */
  directory(dir: SourceNode, isRoot: boolean, encode: boolean): ExportedDirectory;
  /** The opaque commit payload: everything the commit writes, from which `commitProgram` regenerates it. */
  encodePayload(laidOut: LaidOut): Uint8Array;
}

/** A geometry considered, with its verdict. */
export interface GeometryCandidate<G extends TargetGeometry = TargetGeometry> {
  readonly label: string;
  /** What identifies it in reports (for FAT: fatBits and clusterSize). */
  readonly key: Readonly<Record<string, number>>;
  /** Present when the layout itself is valid. */
  readonly geometry?: G;
  feasible: boolean;
  readonly reasons: string[];
  /** What choosing it costs (bytes written plus capacity lost): lowest first. */
  readonly cost: number;
  /** A sentence comparing it with the target's usual choice, for the summary ('' when none). */
  readonly note: string;
}

/** The exporter's measure of a source: what the report shows, and the geometries in order of preference. */
export interface ExportMeasure<G extends TargetGeometry = TargetGeometry> {
  notes: ConversionNotes;
  files: number;
  directories: number;
  fileBytes: number;
  /** Every geometry considered, in the exporter's order, the rejected with their reasons (core adds its own). */
  candidates: Array<GeometryCandidate<G>>;
  /** The feasible ones in the order to try them: cheapest first. */
  tryOrder: Array<GeometryCandidate<G>>;
  /** Why nothing fits, when no candidate is feasible. */
  summary: string;
}

/** A write the commit makes: bytes at an offset of the filesystem. */
export interface CommitWrite {
  offset: number;
  bytes: Uint8Array;
}

/**
 * The commit, regenerated from the payload alone: fixed bytes to fixed places, reading nothing, so
 * that replaying it after a crash anywhere gives the same result. `final` is the one write that
 * makes the device the target (it replaces the marker's last copy).
 */
export interface CommitProgram {
  /** A fresh pass over the writes each time it is called. */
  writes(): Iterable<CommitWrite>;
  /** Bytes `writes` adds up to (for progress). */
  totalBytes: number;
  final: CommitWrite;
}

/** The exporter's side of an in-place conversion, configured with its options. */
export interface InPlaceExporter<G extends TargetGeometry = TargetGeometry, M extends ExportMeasure<G> = ExportMeasure<G>> {
  /** The target's name ('vfat+rights'), recorded in the journal. */
  readonly name: string;
  /** Words for the summary: what its units are called ('cluster'), its front region ("the FAT's front region"), its own files ('rights files'). */
  readonly words: { unit: string; front: string; ownFiles: string };
  /**
   * Names and counts the whole source, and the geometries for its size. `sliceOffset` is where the
   * filesystem starts on its device (the boot sector of a FAT in a partition records it). Writes nothing.
   */
  measure(source: InPlaceSource, sliceOffset: number): M;
  /** The largest payload a journal with this head could hold (bounds reads of a damaged journal); the head is its first `payloadHeadBytes`. */
  readonly payloadHeadBytes: number;
  payloadLimit(head: Uint8Array, fsBytes: number): number;
  /** Checks a payload (every length and reference against the filesystem's size) and gives the commit it describes. */
  commitProgram(payload: Uint8Array, fsBytes: number): CommitProgram;
  /** Reads the result back (every directory and chain) and counts its entries; throws when it is not sound. */
  verify(device: ByteSource): number;
  /**
   * A journal of an earlier fsconv, from before the journal had a generic head (versions 1 and 2,
   * both written by the FAT exporter): its parts, the payload re-encoded as this exporter's. Only
   * the exporter that wrote such journals has it.
   */
  decodeLegacyJournal?(bytes: Uint8Array, fsBytes: number): LegacyJournal;
  /** The largest legacy journal whose first 64 bytes are `head` (its geometry bounds it). */
  legacyJournalLimit?(head: Uint8Array, fsBytes: number): number;
}

/** What a journal of an earlier version holds, in the current terms. */
export interface LegacyJournal {
  version: number;
  fingerprint: SourceFingerprint;
  sliceOffset: number;
  outsideWrites: CommitWrite[];
  payload: Uint8Array;
}
