/**
 * FAT as the target of an in-place conversion (the exporter half of docs/in-place.md): the
 * geometries a source of this size could get and what each costs, the cluster grid aligned to the
 * source's blocks, FAT directories and rights files, and the commit payload: the geometry, the
 * boot sector and FSInfo, the FAT12/16 root directory and the FAT as cluster runs, from which the
 * commit regenerates every write it makes. Journals of fsconv before the generic journal head
 * (versions 1 and 2) had this same content in their own layout; they are read here too.
 */
import {
  FINGERPRINT_LIMIT, FsconvError, RecordReader, RecordWriter, crc32, decodeFingerprint,
  type CommitProgram, type CommitWrite, type ExportMeasure, type ExportedDirectory, type GeometryCandidate, type InPlaceExporter,
  type InPlaceSource, type LaidOut, type LegacyJournal, type SourceFingerprint, type SourceNode, type TargetGeometry, type ByteSource,
} from '@fsconv/base';
import { encodeBootSector, encodeFsInfo, standardBootFields } from './boot-sector.js';
import { DIRENT_SIZE, type FatBits } from './constants.js';
import { encodeDirectory, storedSize, type DirectoryPlacement as FatPlacement } from './directory-encode.js';
import { directoryBytes, isSpecial, layoutDirectory, type NamingOptions } from './directory-layout.js';
import { streamFat, type ClusterRun } from './fat-table.js';
import { parseTimeZone } from './fat-time.js';
import { FatVolume } from './fat-volume.js';
import { planGeometry, type Candidate, type Geometry } from './geometry.js';
import { measureForFat, namingOptions, type FatBuildOptions, type FatMeasure } from './image-writer.js';
import { mkfsFatChoice } from './mkfs-choice.js';

/** The new-image options but the image's own (its size is the source's; the device keeps its layout). */
export type FatInPlaceOptions = Omit<FatBuildOptions, 'sizeBytes' | 'partitionTable'>;

/** One FAT geometry as the orchestrator sees it, with the FAT details reports show. */
export interface FatTargetGeometry extends TargetGeometry {
  readonly fat: Geometry;
}

/** The FAT measure of a source, for the report: the FAT specifics beside the generic counts. */
export interface FatExportMeasure extends ExportMeasure<FatTargetGeometry> {
  fat: FatMeasure;
  naming: NamingOptions;
}

/**
 * At least this many reserved sectors: bytes 0..2047 (sector 0 and the old superblock, where the
 * marker's two copies go) must lie in the reserved region, which the commit rewrites whole.
 */
const MIN_RESERVED = 4;

/** The FAT exporter for in-place conversion, configured with the user's options. */
export function fatInPlaceExporter(opts: FatInPlaceOptions): InPlaceExporter<FatTargetGeometry, FatExportMeasure> {
  return {
    name: opts.target,
    words: { unit: 'cluster', front: "the FAT's front region", ownFiles: 'rights files' },
    measure: (src, sliceOffset) => measureInPlace(src, sliceOffset, opts),
    payloadHeadBytes: PAYLOAD_HEAD_BYTES,
    payloadLimit: (head, fsBytes) => decodeGeometry(head, 0, fsBytes).maxPayloadBytes,
    commitProgram: (payload, fsBytes) => commitProgram(decodePayload(payload, fsBytes)),
    verify: verifyFat,
    decodeLegacyJournal,
    legacyJournalLimit,
  };
}

/**
 * Measures the source for FAT and lists the geometries for its size (the cluster grid aligned to
 * its blocks), cheapest first. The cost is the bytes written plus the capacity the user would
 * lose against what mkfs.fat gives a volume of this size:
 * - Bytes written: both FATs are written whole; with clusters of one source block (or less) every
 *   file block can stay, while with clusters of k blocks a cluster stays only when its blocks start
 *   aligned, about 1 in k: so small clusters win until the FAT outgrows the data (a sparse 1 TiB
 *   disk: 2 GiB of FAT at 4 KiB, 256 MiB at 32 KiB).
 * - Capacity: a geometry with fewer clusters than mkfs.fat's choice costs the clusters it lacks, at
 *   that choice's cluster size, so it wins only where the writes it saves are worth more (a 16 MiB
 *   volume of 4 KiB blocks gets FAT16 with 2 KiB clusters, not FAT12 with 16 KiB and a thousand
 *   clusters for everything the user adds later).
 */
function measureInPlace(src: InPlaceSource, sliceOffset: number, opts: FatInPlaceOptions): FatExportMeasure {
  const bs = src.blockSize;
  const fsBytes = src.blockCount * bs;
  const measure = measureForFat(src, { ...opts, sizeBytes: fsBytes });
  const naming = namingOptions(src, opts);
  const gp = planGeometry(fsBytes, measure.demand, { ...opts, alignDataTo: bs, minReservedSectors: Math.max(MIN_RESERVED, opts.minReservedSectors ?? 0) });
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
  const standardNote = (c: Candidate): string => {
    if (standard === null) return '';
    const std = `FAT${standard.fatBits} with ${standard.clusterSize}-byte clusters`;
    if (c.fatBits === standard.fatBits && c.clusterSize === standard.clusterSize) return ` This is also what mkfs.fat gives a volume of this size.`;
    const more = standardCandidate ? c.geometry!.clusterCount - standardCandidate.geometry!.clusterCount : 0;
    return ` (mkfs.fat would give this size ${std}${standardCandidate ? `; this choice has ${Math.abs(more)} clusters ${more >= 0 ? 'more' : 'fewer'} and rewrites less of the device` : ''}.)`;
  };
  const context: GeometryContext = { src, measure, naming, tzOffset: parseTimeZone(opts.tz ?? 'local'), opts, sliceOffset };
  const candidateOf = (c: Candidate, feasible: boolean): GeometryCandidate<FatTargetGeometry> => ({
    label: `FAT${c.fatBits} with ${c.clusterSize}-byte clusters`,
    key: { fatBits: c.fatBits, clusterSize: c.clusterSize },
    ...(feasible && c.geometry !== undefined && { geometry: targetGeometry(c.geometry, context) }),
    feasible: c.feasible,
    reasons: [...c.reasons],
    cost: feasible ? costOf(c) : Infinity,
    note: feasible ? standardNote(c) : '',
  });
  const tryOrder = order.map((c) => candidateOf(c, true));
  // Cheapest first; ties keep the geometry's own preference (the sort is stable).
  tryOrder.sort((a, b) => a.cost - b.cost);
  return {
    notes: measure.notes, files: measure.files, directories: measure.directories, fileBytes: measure.fileBytes,
    candidates: gp.candidates.map((c) => candidateOf(c, false)), tryOrder, summary: gp.summary, fat: measure, naming,
  };
}

interface GeometryContext {
  src: InPlaceSource;
  measure: FatMeasure;
  naming: NamingOptions;
  tzOffset: (unixSeconds: number) => number;
  opts: FatInPlaceOptions;
  sliceOffset: number;
}

function targetGeometry(g: Geometry, cx: GeometryContext): FatTargetGeometry {
  const rootInUnits = g.fatBits === 32;
  const rootBytes = rootInUnits ? 0 : g.rootEntries * DIRENT_SIZE;
  const cs = g.clusterSize;
  const withRights = cx.naming.target === 'vfat+rights';
  const slotsOf = (node: SourceNode): number => cx.measure.directorySlots.get(node.linkId)!;
  const contentOf = (node: SourceNode): ExportedDirectory['children'][number]['content'] => {
    switch (node.type) {
      case 'dir': return { kind: 'directory', bytes: directoryBytes(slotsOf(node)) };
      case 'file': return { kind: 'file' };
      // A symlink is a small file holding its target (the rights file says it is a symlink).
      case 'symlink': return node.size > 0 ? { kind: 'bytes', bytes: node.target! } : { kind: 'none' };
      default: return { kind: 'none' };
    }
  };
  return {
    label: `FAT${g.fatBits} with ${cs}-byte clusters`,
    fat: g,
    grid: { dataStart: g.dataStartSector * g.bytesPerSector, unitBytes: cs, firstUnit: 2, unitCount: g.clusterCount },
    frontBytes: g.dataStartSector * g.bytesPerSector,
    rootInUnits,
    payloadBytes: (runs) => payloadBytesFor(g, runs, rootBytes),
    directory(dir, isRoot, encode): ExportedDirectory {
      const bytesOf = (slots: number): number => (isRoot && !rootInUnits ? rootBytes : directoryBytes(slots));
      if (!encode) {
        // Planning: sizes from the measure, no names made (the children as layoutDirectory keeps them).
        const all = cx.src.children(dir);
        const kept = withRights ? all : all.filter((n) => !isSpecial(n));
        const rights = cx.measure.rightsBytes.get(dir.linkId);
        return { children: kept.map((node) => ({ node, content: contentOf(node) })), ownFiles: rights !== undefined ? [rights] : [], bytes: bytesOf(slotsOf(dir)) };
      }
      const layout = layoutDirectory(cx.src, dir, isRoot, cx.naming);
      const bytes = bytesOf(layout.slots);
      return {
        children: layout.children.map(({ node }) => ({ node, content: contentOf(node) })),
        ownFiles: layout.rights !== null ? [layout.rights.length] : [],
        bytes,
        encode(place) {
          const fatPlace: FatPlacement = {
            self: place.self,
            // FAT's rule, also on FAT32: '..' of a directory in the root points at cluster 0.
            parent: place.parentIsRoot ? 0 : place.parent,
            rights: place.ownFiles[0] ?? 0,
            children: layout.children.map(({ node }, i) => ({ cluster: place.children[i]!, size: storedSize(node) })),
          };
          const ownFiles = layout.rights !== null ? [layout.rights.encode(fatPlace.children, cx.tzOffset)] : [];
          const stored = isRoot && !rootInUnits ? rootBytes : Math.max(1, Math.ceil(bytes / cs)) * cs;
          const directory = encodeDirectory(layout, fatPlace, { dir, parentNode: place.parentNode, isRoot, label: cx.naming.label, tzOffset: cx.tzOffset }, stored);
          return { directory, ownFiles };
        },
      };
    },
    encodePayload: (laid) => encodePayload(fatPayloadOf(g, laid, cx)),
  };
}

/** What the commit of a FAT needs, decoded from (or to be encoded into) the payload. */
export interface FatPayload {
  geometry: Geometry;
  bootSector: Uint8Array;
  /** FAT32 only (else empty). */
  fsInfo: Uint8Array;
  /** FAT12/16 only: the root directory region's bytes (else empty). */
  rootDirectory: Uint8Array;
  /** Every chain's runs and the bad clusters, sorted by start. */
  runs: ClusterRun[];
}

function fatPayloadOf(g: Geometry, laid: LaidOut, cx: GeometryContext): FatPayload {
  const boot = encodeBootSector({
    fatBits: g.fatBits, bytesPerSector: g.bytesPerSector, sectorsPerCluster: g.sectorsPerCluster,
    reservedSectors: g.reservedSectors, numFats: 2, rootEntries: g.rootEntries, totalSectors: g.totalSectors,
    // Hidden sectors count the BPB's 512-byte sectors, whatever the disk's (a 4Kn GPT disk too).
    fatSectors: g.fatSectors, ...standardBootFields(g.totalSectors * g.bytesPerSector), hiddenSectors: laid.sliceOffset / 512,
    volumeId: cx.measure.volumeId, label: cx.naming.label ?? '',
    rootCluster: g.fatBits === 32 ? laid.rootUnit : 0, fsInfoSector: g.fatBits === 32 ? 1 : 0,
    backupBootSector: g.fatBits === 32 ? 6 : 0,
  });
  return {
    geometry: g, bootSector: boot,
    fsInfo: g.fatBits === 32 ? encodeFsInfo(laid.freeUnits, laid.firstFreeUnit) : new Uint8Array(0),
    rootDirectory: laid.rootDirectory ?? new Uint8Array(0), runs: laid.runs,
  };
}

/** A payload or legacy journal that cannot be what a plan produced. */
class PayloadError extends FsconvError<'fat-payload'> {
  override readonly name = 'PayloadError';
  constructor(message: string) {
    super('fat-payload', message);
  }
}

const failPayload = (message: string): Error => new PayloadError(message);

/** The geometry's fields, as the payload (and the journals of versions 1 and 2) record them. */
const GEOMETRY_BYTES = 1 + 2 + 1 + 4 * 7;
const PAYLOAD_HEAD_BYTES = GEOMETRY_BYTES;
/** `next` value marking a run of bad clusters. */
const BAD_NEXT = 0xffffffff;

function writeGeometry(w: RecordWriter, g: Geometry): void {
  w.u8(g.fatBits); w.u16(g.bytesPerSector); w.u8(g.sectorsPerCluster); w.u32(g.reservedSectors); w.u32(g.fatSectors);
  w.u32(g.rootEntries); w.u32(g.rootDirSectors); w.u32(g.totalSectors); w.u32(g.dataStartSector); w.u32(g.clusterCount);
}

function writeRuns(w: RecordWriter, runs: readonly ClusterRun[]): void {
  w.u32(runs.length);
  // The runs in one piece (one run per file or more: a value at a time would allocate per value).
  const runBytes = new Uint8Array(runs.length * 12);
  const rv = new DataView(runBytes.buffer);
  runs.forEach((r, i) => {
    rv.setUint32(12 * i, r.start, true);
    rv.setUint32(12 * i + 4, r.length, true);
    rv.setUint32(12 * i + 8, r.bad ? BAD_NEXT : r.next, true);
  });
  w.raw(runBytes);
}

export function encodePayload(p: FatPayload): Uint8Array {
  const w = new RecordWriter();
  writeGeometry(w, p.geometry);
  w.bytes(p.bootSector);
  w.bytes(p.fsInfo);
  w.bytes(p.rootDirectory);
  writeRuns(w, p.runs);
  return w.finish();
}

/** Bytes of the payload for this geometry and number of runs (what encodePayload produces). */
export function payloadBytesFor(g: Geometry, runs: number, rootBytes: number): number {
  return GEOMETRY_BYTES + (4 + 512) + (4 + (g.fatBits === 32 ? 512 : 0)) + (4 + rootBytes) + 4 + runs * 12;
}

const isPowerOfTwo = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;

/**
 * The geometry at `at`, checked against the size of the filesystem being converted, and the
 * largest payload such a geometry can have: at most one run per cluster, the largest sectors for
 * boot and FSInfo, the whole root region.
 */
function decodeGeometry(bytes: Uint8Array, at: number, fsBytes: number): { geometry: Geometry; maxPayloadBytes: number } {
  if (bytes.length < at + GEOMETRY_BYTES) throw new PayloadError('the in-place journal is truncated');
  const r = new RecordReader(bytes, failPayload, at);
  const fatBits = r.u8();
  const bytesPerSector = r.u16();
  const sectorsPerCluster = r.u8();
  const g: Geometry = {
    fatBits: fatBits as FatBits, bytesPerSector, sectorsPerCluster, clusterSize: bytesPerSector * sectorsPerCluster,
    reservedSectors: r.u32(), numFats: 2, fatSectors: r.u32(), rootEntries: r.u32(), rootDirSectors: r.u32(),
    totalSectors: r.u32(), dataStartSector: r.u32(), clusterCount: r.u32(), unusedTailBytes: 0,
  };
  const bad = (why: string): never => { throw new PayloadError(`the in-place journal's geometry is impossible (${why}): damaged`); };
  if (fatBits !== 12 && fatBits !== 16 && fatBits !== 32) bad(`FAT${fatBits}`);
  if (!isPowerOfTwo(bytesPerSector) || bytesPerSector < 512 || bytesPerSector > 4096) bad(`${bytesPerSector}-byte sectors`);
  if (!isPowerOfTwo(sectorsPerCluster) || sectorsPerCluster > 128) bad(`${sectorsPerCluster} sectors per cluster`);
  if (g.totalSectors * bytesPerSector > fsBytes) bad(`${g.totalSectors} sectors on a ${fsBytes}-byte filesystem`);
  if (g.reservedSectors < MIN_RESERVED || g.fatSectors < 1) bad(`${g.reservedSectors} reserved sectors and ${g.fatSectors} FAT sectors`);
  if (g.rootDirSectors !== Math.ceil((g.rootEntries * 32) / bytesPerSector) || (fatBits === 32) !== (g.rootEntries === 0)) bad('root directory size');
  if (g.dataStartSector !== g.reservedSectors + 2 * g.fatSectors + g.rootDirSectors || g.dataStartSector >= g.totalSectors) bad('data area start');
  if (g.clusterCount !== Math.floor((g.totalSectors - g.dataStartSector) / sectorsPerCluster) || g.clusterCount < 1) bad('cluster count');
  if (Math.ceil(((g.clusterCount + 2) * fatBits) / 8) > g.fatSectors * bytesPerSector) bad('FAT too small for its clusters');
  const maxPayloadBytes = GEOMETRY_BYTES + (4 + bytesPerSector) * 2 + (4 + g.rootDirSectors * bytesPerSector) + 4 + 12 * g.clusterCount;
  return { geometry: g, maxPayloadBytes };
}

/** The boot sector, FSInfo, root and runs after the geometry, each checked against it. */
function readFatParts(r: RecordReader, g: Geometry): Omit<FatPayload, 'geometry' | 'runs'> {
  const bootSector = r.bytes(g.bytesPerSector, 'boot sector');
  const fsInfo = r.bytes(g.bytesPerSector, 'FSInfo sector');
  const rootDirectory = r.bytes(g.rootDirSectors * g.bytesPerSector, 'root directory');
  if (bootSector.length < 512) throw new PayloadError(`the in-place journal's boot sector is ${bootSector.length} bytes (damaged)`);
  if (g.fatBits === 32 && fsInfo.length < 512) throw new PayloadError(`the in-place journal's FSInfo sector is ${fsInfo.length} bytes (damaged)`);
  return { bootSector, fsInfo, rootDirectory };
}

function readRuns(r: RecordReader, g: Geometry, available: number): ClusterRun[] {
  const count = r.u32();
  if (count > g.clusterCount || count * 12 > available) throw new PayloadError(`the in-place journal lists ${count} runs, more than it holds or its ${g.clusterCount} clusters allow (damaged)`);
  const runs: ClusterRun[] = [];
  const end = g.clusterCount + 2;
  let after = 2;
  for (let i = 0; i < count; i++) {
    const start = r.u32();
    const length = r.u32();
    const next = r.u32();
    if (start < after || length < 1 || start + length > end || (next !== BAD_NEXT && next !== 0 && (next < 2 || next >= end))) {
      throw new PayloadError(`the in-place journal's run ${i} (clusters ${start}+${length} → ${next}) is impossible (damaged)`);
    }
    after = start + length;
    runs.push(next === BAD_NEXT ? { start, length, next: 0, bad: true } : { start, length, next });
  }
  return runs;
}

/** Decodes and checks a payload: its geometry against the filesystem, every length against the geometry, every run. */
export function decodePayload(bytes: Uint8Array, fsBytes: number): FatPayload {
  const { geometry: g, maxPayloadBytes } = decodeGeometry(bytes, 0, fsBytes);
  if (bytes.length > maxPayloadBytes) throw new PayloadError(`the in-place journal's payload is ${bytes.length} bytes, more than its geometry allows (damaged)`);
  const r = new RecordReader(bytes, failPayload, GEOMETRY_BYTES);
  const parts = readFatParts(r, g);
  const runs = readRuns(r, g, bytes.length - r.offset - 4);
  if (r.offset !== bytes.length) throw new PayloadError('the in-place journal\'s payload has trailing bytes (damaged)');
  return { geometry: g, ...parts, runs };
}

function padToSector(bytes: Uint8Array, sector: number): Uint8Array {
  if (bytes.length === sector) return bytes;
  const out = new Uint8Array(sector);
  out.set(bytes.subarray(0, sector));
  return out;
}

/**
 * The commit's writes, regenerated from the payload: the reserved region but sector 0 (zeros over
 * the source's old superblock and the first marker copy, and on FAT32 FSInfo and the backup boot
 * sector), both FATs streamed from the runs, the FAT12/16 root; last, the boot sector.
 */
export function commitProgram(p: FatPayload): CommitProgram {
  const g = p.geometry;
  const sector = g.bytesPerSector;
  const fatBytes = g.fatSectors * sector;
  const rootBytes = g.fatBits !== 32 ? p.rootDirectory.length : 0;
  function* writes(): Generator<CommitWrite> {
    const content = new Map<number, Uint8Array>(g.fatBits === 32 ? [[1, p.fsInfo], [6, p.bootSector], [7, p.fsInfo]] : []);
    const zeros = new Uint8Array(64 * sector);
    for (let s = 1; s < g.reservedSectors; ) {
      const own = content.get(s);
      if (own !== undefined) {
        yield { offset: s * sector, bytes: padToSector(own, sector) };
        s++;
        continue;
      }
      let e = s;
      while (e < g.reservedSectors && !content.has(e) && e - s < 64) e++;
      yield { offset: s * sector, bytes: zeros.subarray(0, (e - s) * sector) };
      s = e;
    }
    for (let copy = 0; copy < 2; copy++) {
      let pos = (g.reservedSectors + copy * g.fatSectors) * sector;
      for (const chunk of streamFat(g.fatBits, fatBytes, p.runs)) {
        yield { offset: pos, bytes: chunk };
        pos += chunk.length;
      }
    }
    if (g.fatBits !== 32) yield { offset: (g.reservedSectors + 2 * g.fatSectors) * sector, bytes: p.rootDirectory };
  }
  return {
    writes, totalBytes: (g.reservedSectors - 1) * sector + 2 * fatBytes + rootBytes,
    final: { offset: 0, bytes: padToSector(p.bootSector, sector) },
  };
}

/** Reads the new FAT back (every directory, every chain of a directory) and counts its entries. */
function verifyFat(device: ByteSource): number {
  let n = 0;
  FatVolume.open(device).walk(() => n++);
  return n;
}

// Journals of versions 1 and 2: magic, version, the geometry, boot sector, FSInfo, root, then (2
// only) the fingerprint, the slice offset and the writes outside, then the runs and a CRC-32.
const LEGACY_HEAD_BYTES = 16 + 4;
const OUTSIDE_WRITES_MAX = 8;
const OUTSIDE_WRITE_BYTES_MAX = 4096;

function legacyJournalLimit(head: Uint8Array, fsBytes: number): number {
  const { maxPayloadBytes } = decodeGeometry(head, LEGACY_HEAD_BYTES, fsBytes);
  return LEGACY_HEAD_BYTES + maxPayloadBytes + (4 + FINGERPRINT_LIMIT) + 12 + OUTSIDE_WRITES_MAX * (12 + OUTSIDE_WRITE_BYTES_MAX) + 4;
}

function decodeLegacyJournal(bytes: Uint8Array, fsBytes: number): LegacyJournal {
  const version = new DataView(bytes.buffer, bytes.byteOffset + 16, 4).getUint32(0, true);
  if (bytes.length > legacyJournalLimit(bytes, fsBytes)) throw new PayloadError(`the in-place journal is ${bytes.length} bytes, more than its geometry allows (damaged)`);
  const body = bytes.subarray(0, bytes.length - 4);
  if (crc32(body) !== new DataView(bytes.buffer, bytes.byteOffset + bytes.length - 4, 4).getUint32(0, true)) {
    throw new PayloadError('the in-place journal\'s checksum does not match (the journal is damaged)');
  }
  const { geometry: g } = decodeGeometry(body, LEGACY_HEAD_BYTES, fsBytes);
  const r = new RecordReader(body, failPayload, LEGACY_HEAD_BYTES + GEOMETRY_BYTES);
  const parts = readFatParts(r, g);
  let fingerprint: SourceFingerprint = [];
  let sliceOffset = 0;
  const outsideWrites: CommitWrite[] = [];
  if (version !== 1) {
    fingerprint = decodeFingerprint(r.bytes(FINGERPRINT_LIMIT, 'source fingerprint'), failPayload);
    sliceOffset = r.u64();
    const n = r.u32();
    if (n > OUTSIDE_WRITES_MAX) throw new PayloadError(`the in-place journal lists ${n} writes outside the filesystem, more than the ${OUTSIDE_WRITES_MAX} a conversion makes (damaged)`);
    for (let i = 0; i < n; i++) {
      const offset = r.u64();
      outsideWrites.push({ offset, bytes: r.bytes(OUTSIDE_WRITE_BYTES_MAX, 'write outside the filesystem') });
    }
  }
  const runs = readRuns(r, g, body.length - r.offset - 4);
  if (r.offset !== body.length) throw new PayloadError('the in-place journal has trailing bytes (damaged)');
  return { version, fingerprint, sliceOffset, outsideWrites, payload: encodePayload({ geometry: g, ...parts, runs }) };
}
