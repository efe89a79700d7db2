import type { ExportMeasure, InPlaceExporter, InPlaceSource, SourceFingerprint, TargetGeometry } from '@fsconv/base';
import type { WriteTarget } from './crash-device.js';
import {
  COMMIT_MARKER_OFFSET, FINAL_MARKER_OFFSET, JOURNAL_HEAD_READ, JOURNAL_VERSION, LEGACY_JOURNAL_VERSION, LEGACY_MARKER_OFFSET, MARKER_SIZE,
  crc32, decodeJournal, decodeMarker, encodeJournal, encodeMarker, fingerprintBytes, hasMarkerMagic, journalBytesFor, journalLimit,
  journalProgram, JournalError, type ExporterRegistry, type JournalContent, type JournalMarker, type OutsideWrite,
} from './journal.js';
import { layOutInPlace, type InPlaceAccounting, type InPlaceLayoutInput, type StageSink } from './layout.js';

export interface InPlaceOptions {
  progress?: (phase: string, done: number, total: number) => void;
  /**
   * The filesystem lies in a partition: its start (bytes on the disk) and room in the journal for
   * the partition table writes the commit makes (given to convertInPlace once the target is known).
   */
  container?: { sliceOffset: number; outsideWritesReserve: number };
}

export interface InPlacePlan<G extends TargetGeometry = TargetGeometry, M extends ExportMeasure<G> = ExportMeasure<G>> {
  feasible: boolean;
  /** One paragraph: what was chosen and why, or why nothing fits. */
  summary: string;
  /** The exporter's measure of the source (names, notes, counts). */
  measure: M;
  /** Every geometry considered, with why it was rejected. */
  candidates: Array<{ key: Readonly<Record<string, number>>; label: string; feasible: boolean; reasons: string[] }>;
  geometry: G | null;
  accounting: InPlaceAccounting | null;
  journalBytes: number;
  /** Bytes of the target's fixed region at the front. */
  frontBytes: number;
  fsBytes: number;
  /** The source as planned: recorded in the journal, compared before any replay. */
  fingerprint: SourceFingerprint;
  /** Units free afterwards for the user. */
  freeUnitsAfter: number;
  /** The exporter's name (recorded in the journal). */
  exporter: string;
}

/** Bytes 0..2047 (the marker's places) must lie in the target's front region, which the commit rewrites whole. */
const MARKER_REGION_END = 2048;

/**
 * Decides whether and how the source can become the target on its own blocks: the exporter's
 * geometries tried cheapest first (the first six: past them the cost only grows), each laid out in
 * full without writing, the first that fits chosen. Writes nothing: this is `fsconv check`.
 */
export function planInPlace<G extends TargetGeometry, M extends ExportMeasure<G>>(
  src: InPlaceSource, exporter: InPlaceExporter<G, M>, opts: InPlaceOptions = {},
): InPlacePlan<G, M> {
  const bs = src.blockSize;
  const fsBytes = src.blockCount * bs;
  const measure = exporter.measure(src, opts.container?.sliceOffset ?? 0);
  const fingerprint = src.fingerprint();
  const words = exporter.words;
  const candidates = measure.candidates.map((c) => ({ key: c.key, label: c.label, feasible: c.feasible, reasons: [...c.reasons] }));
  const entryOf = (c: { key: Readonly<Record<string, number>> }) =>
    candidates.find((e) => Object.entries(c.key).every(([k, v]) => e.key[k] === v))!;
  const base = { measure, candidates, fsBytes, fingerprint, exporter: exporter.name };
  // The commit point writes the marker over the sector at COMMIT_MARKER_OFFSET: the source's first
  // signature must lie there, or the device would still look like the source after it.
  const commitSignature = src.signatures[0];
  if (commitSignature === undefined || commitSignature.offset < COMMIT_MARKER_OFFSET ||
    commitSignature.offset + commitSignature.length > COMMIT_MARKER_OFFSET + MARKER_SIZE) {
    throw new Error(`the ${src.kind} importer's signature (${commitSignature?.what ?? 'none'}) does not lie in the sector the commit point overwrites (internal)`);
  }
  const signatureEnd = Math.max(MARKER_REGION_END, ...src.signatures.map((s) => s.offset + s.length));
  let best: { missing: number; summary: string } | null = null;
  for (const cand of measure.tryOrder.slice(0, 6)) {
    const g = cand.geometry!;
    const entry = entryOf(cand);
    const reject = (why: string, missing: number): void => {
      entry.feasible = false;
      entry.reasons.push(`${cand.label}: ${why}`);
      if (best === null || missing < best.missing) best = { missing, summary: `${cand.label}: ${why}` };
    };
    if (g.frontBytes < signatureEnd) {
      reject(`its front region (${g.frontBytes} bytes) does not cover the marker's places and the ${src.kind} signatures (bytes 0..${signatureEnd - 1})`, Infinity);
      continue;
    }
    const result = layOutInPlace(layoutInput(src, g, fingerprint, exporter.name, opts), null);
    if (result.refusal !== undefined) {
      reject(result.refusal, Infinity);
      continue;
    }
    const acc = result.accounting;
    const unit = g.grid.unitBytes;
    if (acc.missingUnits === 0) {
      return {
        ...base, feasible: true, geometry: g, accounting: acc, journalBytes: result.journalBytes, frontBytes: g.frontBytes,
        freeUnitsAfter: g.grid.unitCount - result.unitsUsed - acc.badUnits,
        summary: `${cand.label}: ${g.grid.unitCount} ${words.unit}s; ${fmt(acc.bytesInPlace)} of file data stays in place, ` +
          `${fmt(acc.bytesMoved + acc.bytesDuplicated + acc.bytesHoles)} is written anew (moved, hard-link copies, holes), ` +
          `directories and ${words.ownFiles} take ${fmt(acc.bytesDirectories + acc.bytesOwnFiles)}; ` +
          `${fmt(acc.spareUnits * unit)} of staging room to spare` +
          (unit === bs ? ` (${words.unit}s of one ${src.kind} block: no file block is misaligned).`
            : unit > bs ? ` (${words.unit}s larger than an ${src.kind} block: a smaller ${words.unit} table outweighs the data that moves).` : '.') +
          cand.note,
      };
    }
    reject(`the new content needs ${acc.newUnits + acc.journalUnits} ${words.unit}s in space the ${src.kind} has free outside ${words.front}, ` +
      `but only ${acc.poolUnits} are there (${fmt(acc.missingUnits * unit)} missing)`, acc.missingUnits * unit);
  }
  const closest = best as { missing: number; summary: string } | null;
  const summary = closest !== null ? `Not feasible in place. Closest: ${closest.summary}.` : `Not feasible: ${measure.summary}`;
  return { ...base, feasible: false, geometry: null, accounting: null, journalBytes: 0, frontBytes: 0, freeUnitsAfter: 0, summary };
}

const fmt = (n: number): string => (n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 / 1024).toFixed(1)} MiB`);

function layoutInput(src: InPlaceSource, g: TargetGeometry, fingerprint: SourceFingerprint, exporter: string, opts: InPlaceOptions): InPlaceLayoutInput {
  const fpBytes = fingerprintBytes(fingerprint);
  const reserve = opts.container?.outsideWritesReserve ?? 0;
  return {
    src, g,
    // The journal is encoded with these same sizes later (and the partition table writes, at most `reserve`).
    journalSize: (runs) => journalBytesFor(exporter, fpBytes, g.payloadBytes(runs)) + reserve,
  };
}

export interface InPlaceResult {
  bytesWritten: number;
  unitsUsed: number;
  resumed: boolean;
}

/** Staging writes go through here: copies read the source's intact blocks, in big pieces. */
function stageSink(dev: WriteTarget, counters: { bytes: number }, onBytes: (n: number) => void): StageSink {
  const buf = new Uint8Array(1 << 20);
  let sinceFlush = 0;
  const wrote = (n: number): void => {
    counters.bytes += n;
    sinceFlush += n;
    onBytes(n);
    // Flush now and then: a power cut loses at most this much staging work (never anything the source needs).
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
 * The conversion. Until the marker is written, only blocks the source marks free are written: a
 * crash leaves the source as it was, with no marker. The marker, one sector written over the
 * source's signature, is the commit point: from it on the device is no longer the source, and
 * `commitFromJournal` finishes the job from the device alone.
 */
export function convertInPlace<G extends TargetGeometry, M extends ExportMeasure<G>>(
  dev: WriteTarget, src: InPlaceSource, exporter: InPlaceExporter<G, M>, plan: InPlacePlan<G, M>, opts: InPlaceOptions = {},
  outside?: { device: WriteTarget; writes: OutsideWrite[] },
): InPlaceResult {
  if (!plan.feasible || plan.geometry === null || plan.accounting === null) throw new Error('convertInPlace needs a feasible plan');
  const g = plan.geometry;
  const unit = g.grid.unitBytes;
  const counters = { bytes: 0 };
  const total = plan.accounting.newUnits * unit;
  let done = 0;
  const input = layoutInput(src, g, plan.fingerprint, exporter.name, opts);
  // 1. Stage: every new unit's final content, into blocks the source does not use.
  const staged = layOutInPlace(input, stageSink(dev, counters, (n) => opts.progress?.('stage', (done += n), total)));
  if (staged.journalUnit !== plan.accounting.journalFirstUnit || staged.journalBytes !== plan.journalBytes ||
    staged.accounting.missingUnits !== 0) {
    throw new Error('the staging pass did not reproduce the plan (internal)');
  }
  // 2. The journal (durable before the commit point).
  const free = g.grid.unitCount - staged.unitsUsed - staged.accounting.badUnits;
  const payload = g.encodePayload({
    runs: staged.runs, rootUnit: staged.rootUnit, rootDirectory: staged.rootDirectory, unitsUsed: staged.unitsUsed,
    freeUnits: free, firstFreeUnit: firstFreeUnit(staged.runs, g.grid.firstUnit, g.grid.unitCount), sliceOffset: opts.container?.sliceOffset ?? 0,
  });
  const journal: JournalContent = {
    version: JOURNAL_VERSION, exporter: exporter.name, fingerprint: plan.fingerprint,
    sliceOffset: opts.container?.sliceOffset ?? 0, outsideWrites: outside?.writes ?? [], payload,
  };
  const bytes = encodeJournal(journal);
  if (bytes.length > plan.journalBytes) throw new Error(`journal of ${bytes.length} bytes exceeds the ${plan.journalBytes} planned (internal)`);
  const journalOffset = g.grid.dataStart + (staged.journalUnit - g.grid.firstUnit) * unit;
  dev.flush();
  dev.writeAt(bytes, journalOffset);
  dev.flush();
  // 3. Commit: its first write, the marker over the source's signature, is the commit point.
  const marker: JournalMarker = { version: JOURNAL_VERSION, journalOffset, journalLength: bytes.length, journalCrc: crc32(bytes), fsBytes: plan.fsBytes };
  commitFromJournal(dev, journal, marker, singleExporter(exporter), opts.progress, outside?.device);
  return { bytesWritten: counters.bytes + bytes.length, unitsUsed: staged.unitsUsed, resumed: false };
}

/** A registry of one exporter (the conversion knows which one it runs). */
const singleExporter = (e: InPlaceExporter): ExporterRegistry => ({
  byName: (name) => (name === e.name ? e : undefined),
  legacy: e.decodeLegacyJournal !== undefined ? e : undefined,
});

function firstFreeUnit(runs: ReadonlyArray<{ start: number; length: number }>, firstUnit: number, unitCount: number): number {
  let c = firstUnit;
  for (const r of runs) {
    if (r.start > c) break;
    c = Math.max(c, r.start + r.length);
  }
  return c < firstUnit + unitCount ? c : 0xffffffff;
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
  { offset: COMMIT_MARKER_OFFSET, versions: [2, JOURNAL_VERSION] },
  { offset: FINAL_MARKER_OFFSET, versions: [2, JOURNAL_VERSION] },
  { offset: LEGACY_MARKER_OFFSET, versions: [LEGACY_JOURNAL_VERSION] },
] as const;

/**
 * Looks for the marker of an interrupted conversion (in any of its places, valid or damaged),
 * reads and checks its journal with every length bounded by what a plan could produce, and
 * compares the source as planned with the source found beside it (`source` is asked only when a
 * marker is there). Reads only.
 */
export function inspectInterruption(dev: WriteTarget, source: () => SourceBesideJournal, exporters: ExporterRegistry): Interruption {
  if (dev.size < 2048) return { state: 'none' };
  const head = new Uint8Array(2048);
  dev.readInto(head, 0);
  const found: Array<{ offset: number; marker: JournalMarker | null; error: string | null }> = [];
  for (const place of MARKER_PLACES) {
    const sector = head.subarray(place.offset, place.offset + MARKER_SIZE);
    if (!hasMarkerMagic(sector)) continue;
    try {
      const m = decodeMarker(sector)!;
      found.push((place.versions as readonly number[]).includes(m.version) ? { offset: place.offset, marker: m, error: null }
        : { offset: place.offset, marker: null, error: `a version ${m.version} marker at byte ${place.offset}, where only version ${place.versions.join(' or ')} puts one` });
    } catch (e) {
      if (!(e instanceof JournalError)) throw e;
      found.push({ offset: place.offset, marker: null, error: e.message });
    }
  }
  if (found.length === 0) return { state: 'none' };
  const markerOffsets = found.map((f) => f.offset);
  // The copy at 1024 is written first by every commit, so it is the newest where both are valid.
  const chosen = found.find((f) => f.marker !== null);
  // The commit writes over the source's metadata only once the copy in sector 0 is durable.
  const commitStarted = found.some((f) => f.offset !== COMMIT_MARKER_OFFSET);
  const src = source();
  const damaged = (why: string, fsBytes: number | null): Interruption => ({
    state: 'damaged', why, markerOffsets, commitStarted, sourceReadable: src.kind === 'readable', fsBytes,
  });
  if (chosen === undefined) return damaged(found[0]!.error!, null);
  const marker = chosen.marker!;
  let journal: JournalContent;
  try {
    journal = readJournal(dev, marker, exporters);
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

/** Reads the journal a marker points to: every length checked against the device and what a plan could produce before it sizes a read. */
function readJournal(dev: WriteTarget, m: JournalMarker, exporters: ExporterRegistry): JournalContent {
  if (m.fsBytes < 2048 || m.fsBytes > dev.size) throw new JournalError(`the in-place conversion marker gives a ${m.fsBytes}-byte filesystem on a ${dev.size}-byte device (damaged)`);
  if (m.journalOffset < 2048 || m.journalLength < 64 || m.journalOffset + m.journalLength > m.fsBytes) {
    throw new JournalError(`the in-place conversion marker points at ${m.journalLength} bytes at byte ${m.journalOffset}, outside the filesystem (damaged)`);
  }
  const head = new Uint8Array(Math.min(m.journalLength, JOURNAL_HEAD_READ));
  dev.readInto(head, m.journalOffset);
  const maxBytes = journalLimit(head, m.fsBytes, exporters);
  if (m.journalLength > maxBytes) throw new JournalError(`the in-place conversion marker gives a ${m.journalLength}-byte journal, more than its geometry allows (${maxBytes}): damaged`);
  const bytes = new Uint8Array(m.journalLength);
  dev.readInto(bytes, m.journalOffset);
  if (crc32(bytes) !== m.journalCrc) throw new JournalError('the in-place journal does not match its marker (damaged)');
  const journal = decodeJournal(bytes, m.fsBytes, exporters);
  // The payload is the exporter's to check: one it refuses is a damaged journal, found now rather than mid-commit.
  journalProgram(journal, m.fsBytes, exporters);
  return journal;
}

/**
 * Writes everything that overwrites the source, from the journal alone. Each step writes fixed
 * bytes to fixed places and reads nothing, so running it again after a crash anywhere in it gives
 * the same result. The marker is on the device from the first write to the last one, which is the
 * exporter's final write replacing its last copy: no state is both the target and still to be replayed.
 */
export function commitFromJournal(
  dev: WriteTarget, j: JournalContent, marker: JournalMarker, exporters: ExporterRegistry, progress?: InPlaceOptions['progress'], outsideDevice?: WriteTarget,
): void {
  if (j.outsideWrites.length > 0 && outsideDevice === undefined) {
    throw new JournalError('this conversion also gives its partition the new type in the partition table: resume it where the table can be written: on the disk (with --partition N) or on the partition device');
  }
  const program = journalProgram(j, marker.fsBytes, exporters);
  if (program.final.offset !== FINAL_MARKER_OFFSET || program.final.bytes.length < MARKER_SIZE) {
    throw new Error(`the exporter's final write (${program.final.bytes.length} bytes at ${program.final.offset}) does not replace the marker's last copy (internal)`);
  }
  // The copies at 1024 and 0 are of this version whatever marker led here: a version-1 marker (the
  // first fsconv's, at 512) would be refused in those places, and the commit overwrites the one at 512.
  const markerBytes = encodeMarker({ ...marker, version: JOURNAL_VERSION });
  // a. The commit point: one sector over the source's signature; from here on it is not the source.
  //    (A resumed commit writes it again: harmless, and it keeps the sequence one and the same.)
  dev.writeAt(markerBytes, COMMIT_MARKER_OFFSET);
  dev.flush();
  // b. The marker's second copy into sector 0, which only the very last write replaces.
  dev.writeAt(markerBytes, FINAL_MARKER_OFFSET);
  dev.flush();
  // c. The exporter's writes (for FAT: the reserved region but sector 0, with the first marker copy, both FATs, the FAT12/16 root).
  let done = 0;
  for (const w of program.writes()) {
    dev.writeAt(w.bytes, w.offset);
    done += w.bytes.length;
    progress?.('commit', done, program.totalBytes);
  }
  dev.flush();
  // d. The partition table: the partition's type follows its filesystem (fixed bytes, from the
  // journal: a crash between two of them is replayed like any other commit write).
  // Each flushed on its own: a power loss keeps any subset of the writes since a flush, and a
  // GPT's header and entry-array sector kept one without the other make that copy unreadable; one
  // write in flux at a time leaves at least one sound copy, from which resume finds the partition.
  for (const o of j.outsideWrites) {
    outsideDevice!.writeAt(o.bytes, o.offset);
    outsideDevice!.flush();
  }
  // e. Last, the exporter's final write over the marker's last copy: the device becomes the target in one write.
  dev.writeAt(program.final.bytes, program.final.offset);
  dev.flush();
}

/**
 * Drops a stale or damaged journal beside a readable source: zeroes the marker copies, which lie
 * only where the source keeps nothing (bytes 0..1023, which ext2 never uses; a marker at 1024 would
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
