// Crash safety proven in process (issue 12, item 5): a recording device runs one in-place
// conversion and keeps its write log with the flushes; from it every crash state is rebuilt in
// memory and finished by the real code (`inspectDevice` of the CLI, then core's commitFromJournal
// for a conversion past its commit point, or core's plan and conversion again for an ext2), with no
// process per state. States: after every write, as a kill leaves it (every write so far) and as a
// power loss may (the writes up to the last flush, then subsets of those since, and a torn write:
// a multi-sector write persisted in part), in the manner of CrashMonkey and ALICE. Checks: a state
// that still reads as ext2 holds the original ext2 exactly (every block its bitmaps mark used); the
// finished device is byte-identical to the uninterrupted run. This is the test-only I/O layer: the
// production device knows nothing of it.
// The built packages, as the CLI runs them (one instance of each module, so error classes match).
import { MemoryStorage, StorageSlice, type Storage } from '../../packages/device/dist/index.js';
import { decodePartitionTable, fatPartitionType, setPartitionType } from '../../packages/partition/dist/index.js';
import { Ext2Source, Ext2Volume } from '../../packages/ext2fs-reader/dist/index.js';
import { fatInPlaceExporter, type FatInPlaceOptions } from '../../packages/fat/dist/index.js';
import { commitFromJournal, convertInPlace, planInPlace, type InPlaceOptions } from '../../packages/core/dist/index.js';
import { inspectDevice } from '../../packages/cli/dist/interruption.js';
import { RESUMABLE_EXPORTERS } from '../../packages/cli/dist/formats.js';

/** What a conversion is asked: the FAT exporter's options (target, geometry, naming, time zone). */
export type ConvertOptions = FatInPlaceOptions;
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { e2fsckCheck, ext2FreeBlocks } from './ext2-image.js';
import { validateFatStructure } from './fat-validate.js';

export type LogEntry = { kind: 'write'; offset: number; data: Uint8Array } | { kind: 'flush' };

/** A device in memory that keeps every write (copied) and flush, in order. */
export class RecordingStorage extends MemoryStorage {
  readonly log: LogEntry[] = [];
  override writeAt(data: Uint8Array, position: number): void {
    super.writeAt(data, position);
    this.log.push({ kind: 'write', offset: position, data: data.slice() });
  }
  override flush(): void {
    this.log.push({ kind: 'flush' });
  }
}

/**
 * Where the filesystem is: the whole device, or (a disk image) partition 1 of its MBR or GPT, whose
 * type the conversion changes as the CLI does (in-place.ts), through the disk.
 */
export interface Place {
  partition: boolean;
}

function slice(dev: Storage, place: Place): { fs: Storage; start: number } {
  if (!place.partition) return { fs: dev, start: 0 };
  const table = decodePartitionTable(dev, { whenCopiesDisagree: 'primary' })!;
  const p = table.partitions.find((x) => x.number === 1)!;
  return { fs: new StorageSlice(dev, p.startByte, p.bytes, 'partition 1'), start: p.startByte };
}

/** The in-place conversion as the CLI runs it (without its refusals and report), on a device in memory. */
export function convertInMemory(dev: Storage, opts: ConvertOptions, place: Place = { partition: false }): void {
  const exporter = fatInPlaceExporter(opts);
  if (!place.partition) {
    const src = new Ext2Source(Ext2Volume.open(dev));
    const plan = planInPlace(src, exporter);
    if (!plan.feasible) throw new Error(`not feasible: ${plan.summary}`);
    convertInPlace(dev, src, exporter, plan);
    return;
  }
  const table = decodePartitionTable(dev)!;
  const p = table.partitions.find((x) => x.number === 1)!;
  const fs = new StorageSlice(dev, p.startByte, p.bytes, 'partition 1');
  const withContainer: InPlaceOptions = {
    container: { sliceOffset: p.startByte, outsideWritesReserve: 4 * (12 + table.sectorSize) },
  };
  const src = new Ext2Source(Ext2Volume.open(fs));
  const plan = planInPlace(src, exporter, withContainer);
  if (!plan.feasible) throw new Error(`not feasible: ${plan.summary}`);
  const to = fatPartitionType(table.scheme, { fatBits: plan.geometry!.fat.fatBits, startLba: p.startLba, sectors: p.sectors });
  convertInPlace(fs, src, exporter, plan, withContainer, { device: dev, writes: setPartitionType(dev, table, p.number, to) });
}

/** What `fsconv resume` (past the commit point) or the same convert command (before it) does with a crash state. */
export function finish(state: Uint8Array, opts: ConvertOptions, place: Place = { partition: false }): 'resume' | 'convert' | 'done' {
  const dev = new MemoryStorage(state);
  const { fs, start } = slice(dev, place);
  const it = inspectDevice(fs);
  if (it.state === 'resumable') {
    commitFromJournal(fs, it.journal, it.marker, RESUMABLE_EXPORTERS, undefined, place.partition ? dev : undefined);
    return 'resume';
  }
  if (it.state !== 'none') throw new Error(`the state is ${it.state}: ${'why' in it ? it.why : ''}`);
  // No marker and no ext2: the conversion had finished (convert says "already holds FAT").
  if (!(state[start + 1080] === 0x53 && state[start + 1081] === 0xef)) return 'done';
  convertInMemory(dev, opts, place);
  return 'convert';
}

type Write = { offset: number; data: Uint8Array };

/**
 * A crash state without its copy: the durable bytes (shared between states: never written) and
 * the writes persisted on top, in order. `materialize` makes the device of it.
 */
export interface CrashState {
  /** For messages: "kill after 12", "power loss after 40: 3 of 7 pending", "torn write 41: 2 of 8 sectors". */
  label: string;
  /** Which writes it holds: equal keys, equal states. */
  key: string;
  durable: Uint8Array;
  /** How many writes of the log `durable` holds (states with the same count share it). */
  durableWrites: number;
  extra: Write[];
}

export function materialize(s: CrashState): Uint8Array {
  const out = s.durable.slice();
  for (const w of s.extra) out.set(w.data, w.offset);
  return out;
}

/** One byte of a state, without making it. */
function byteOf(s: CrashState, at: number): number {
  let b = s.durable[at]!;
  for (const w of s.extra) if (at >= w.offset && at < w.offset + w.data.length) b = w.data[at - w.offset]!;
  return b;
}

/**
 * The ranges [start, end) of the image that the ext2 uses: every block `dumpe2fs` does not list as
 * free (block 0 of 1 KiB-block filesystems included), at `base` on the device; in a disk image,
 * everything before the partition too.
 */
export function usedRanges(img: string, base: number): Array<[number, number]> {
  const { blockSize: bs, free } = ext2FreeBlocks(img, base);
  const ranges: Array<[number, number]> = [[0, base]];
  for (let blk = 0; blk < free.length; blk++) {
    if (free[blk] === 1) continue;
    const start = base + blk * bs;
    const last = ranges[ranges.length - 1]!;
    if (last[1] >= start) last[1] = Math.max(last[1], start + bs);
    else ranges.push([start, start + bs]);
  }
  return ranges;
}

const sameRange = (a: Uint8Array, b: Uint8Array, [s, e]: [number, number]): boolean => Buffer.compare(a.subarray(s, e), b.subarray(s, e)) === 0;

/** mulberry32: seeded, so a failing state can be found again. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

export interface StateOptions {
  /** Power loss: at most this many subsets of the pending writes per crash point (beyond the ordered ones). */
  subsetsPerPoint: number;
  /** Torn writes: at most this many partial persistences per multi-sector write. */
  tornPerWrite: number;
  /** Only every n-th crash point (1: all). */
  stride: number;
  seed: number;
}

/**
 * Every crash state of a write log over `original`, generated one at a time (a state is a full
 * copy of the device; they are not kept).
 */
export function* crashStates(original: Uint8Array, log: readonly LogEntry[], o: StateOptions): Generator<CrashState> {
  const random = prng(o.seed);
  const writes: Array<Write & { flushedBefore: number }> = [];
  let flushes = 0;
  for (const e of log) {
    if (e.kind === 'flush') flushes++;
    else writes.push({ offset: e.offset, data: e.data, flushedBefore: flushes });
  }
  // The writes made durable by each flush: index of the first write after flush f.
  const apply = (bytes: Uint8Array, w: Write): void => bytes.set(w.data, w.offset);
  let durable = original.slice();
  let durableUpTo = 0; // writes [0, durableUpTo) are in `durable`
  for (let k = 1; k <= writes.length; k++) {
    // Writes before the last flush preceding write k-1 (0-based) are durable at a power loss.
    const lastFlush = writes[k - 1]!.flushedBefore;
    let firstPending = k - 1;
    while (firstPending > 0 && writes[firstPending - 1]!.flushedBefore === lastFlush) firstPending--;
    if (durableUpTo < firstPending) {
      // A new durable image (the old one may still be in use by a state being checked).
      durable = durable.slice();
      while (durableUpTo < firstPending) apply(durable, writes[durableUpTo++]!);
    }
    if ((k - 1) % o.stride !== 0 && k !== writes.length) continue;
    const state = (label: string, key: string, extra: Write[]): CrashState => ({ label, key, durable, durableWrites: durableUpTo, extra });
    // Kill: every write so far reached the kernel.
    yield state(`kill after write ${k}`, `<${k}`, writes.slice(durableUpTo, k));
    // Power loss: the durable writes, then a subset of the pending ones (in order, or reordered).
    const pending = writes.slice(firstPending, k);
    const subsets: number[][] = [[]];
    for (let n = 1; n < pending.length; n++) subsets.push(Array.from({ length: n }, (_, i) => i)); // prefixes
    for (let i = 0; i < pending.length && pending.length > 1; i++) subsets.push(pending.map((_, j) => j).filter((j) => j !== i)); // all but one
    for (let t = 0; t < o.subsetsPerPoint && pending.length > 2; t++) subsets.push(pending.map((_, j) => j).filter(() => random() < 0.5));
    for (const subset of subsets) {
      // Reordered: later writes first (the disk may persist them in any order).
      const order = random() < 0.5 ? subset : [...subset].reverse();
      yield state(`power loss after write ${k}: ${subset.length} of ${pending.length} pending writes (${order === subset ? 'in order' : 'reversed'})`,
        `<${firstPending}+${order.map((j) => j + firstPending).join(',')}`, order.map((j) => pending[j]!));
    }
    // A torn write: the k-th write persisted in part (whole sectors), the pending ones before it done.
    const w = writes[k - 1]!;
    const sectors = Math.floor(w.data.length / 512);
    if (sectors > 1) {
      const cuts = new Set<number>([1, sectors - 1]);
      while (cuts.size < Math.min(o.tornPerWrite, sectors - 1)) cuts.add(1 + Math.floor(random() * (sectors - 1)));
      for (const cut of cuts) {
        yield state(`torn write ${k}: ${cut} of ${sectors} sectors`, `<${k - 1}t${k}:${cut}`,
          [...writes.slice(durableUpTo, k - 1), { offset: w.offset, data: w.data.subarray(0, cut * 512) }]);
      }
    }
  }
}

export interface SweepResult {
  checked: number;
  failed: string[];
  resumed: number;
  converted: number;
  /** States that still read as ext2 and were checked to hold it exactly. */
  ext2Intact: number;
  /** Of those, how many e2fsck -fn also found clean. */
  e2fscked: number;
  writes: number;
}


/**
 * Runs the conversion of `original` once, recording it, then checks every crash state. States whose
 * keys were met before are not checked again. `convertEvery`: finish only every n-th state that is
 * still ext2 by converting again (they all are checked to hold the ext2 exactly; the sweep finishes
 * every one), to bound the CI time.
 */
export async function sweep(
  img: string, opts: ConvertOptions, so: StateOptions & { convertEvery: number; maxFailures?: number; e2fsckStates?: number }, place: Place = { partition: false },
): Promise<SweepResult> {
  const original = new Uint8Array(readFileSync(img));
  const rec = new RecordingStorage(original.slice());
  convertInMemory(rec, opts, place);
  const reference = rec.bytes;
  const start = place.partition ? slice(new MemoryStorage(original), place).start : 0;
  // The uninterrupted run, judged by the real tools (fsck.fat strictly, blkid, wipefs), not by our reader.
  const refFile = `${img}.reference`;
  writeFileSync(refFile, reference);
  validateFatStructure(refFile, start);
  // And some of the crash states that are still ext2, by e2fsck (the byte comparison covers every one).
  let e2fscked = 0;
  const e2fsckEvery = 997;
  const used = usedRanges(img, start);
  const result: SweepResult = { checked: 0, failed: [], resumed: 0, converted: 0, ext2Intact: 0, e2fscked: 0, writes: rec.log.filter((e) => e.kind === 'write').length };
  const seen = new Set<string>();
  let ext2States = 0;
  // Whether the durable bytes of a state hold the ext2 exactly (checked once per durable image).
  const durableIntact = new Map<number, string | null>();
  const intactWhy = (st: CrashState): string | null => {
    if (!durableIntact.has(st.durableWrites)) {
      const bad = used.find((r) => !sameRange(st.durable, original, r));
      durableIntact.set(st.durableWrites, bad ? `bytes ${bad[0]}..${bad[1]}` : null);
    }
    const d = durableIntact.get(st.durableWrites)!;
    if (d !== null) return d;
    // Then each write on top, where it meets a used range, writes what was there.
    for (const w of st.extra) {
      const end = w.offset + w.data.length;
      for (const [a, b] of used) {
        const from = Math.max(a, w.offset);
        const to = Math.min(b, end);
        if (from < to && Buffer.compare(w.data.subarray(from - w.offset, to - w.offset), original.subarray(from, to)) !== 0) return `bytes ${from}..${to}`;
      }
    }
    return null;
  };
  for (const state of crashStates(original, rec.log, so)) {
    if (seen.has(state.key)) continue;
    seen.add(state.key);
    result.checked++;
    // Let the test runner's worker breathe: a sweep runs for minutes.
    if (result.checked % 100 === 0) await new Promise((r) => setImmediate(r));
    try {
      const ext2 = byteOf(state, start + 1080) === 0x53 && byteOf(state, start + 1081) === 0xef;
      if (ext2) {
        const why = intactWhy(state);
        if (why !== null) throw new Error(`the device still says ext2, but the ext2 changed in ${why}`);
        result.ext2Intact++;
        if (ext2States % e2fsckEvery === 0 && e2fscked < (so.e2fsckStates ?? 4)) {
          e2fscked++;
          const file = `${img}.state`;
          writeFileSync(file, materialize(state));
          const r = e2fsckCheck(start === 0 ? file : `${file}?offset=${start}`);
          if (r.status !== 0) throw new Error(`the device still says ext2, but e2fsck -fn finds it damaged: ${r.output.split('\n').slice(1, 4).join(' / ')}`);
        }
        if (ext2States++ % so.convertEvery !== 0) continue;
      }
      const bytes = materialize(state);
      const how = finish(bytes, opts, place);
      if (how === 'resume') result.resumed++;
      else if (how === 'convert') result.converted++;
      if (Buffer.compare(bytes, reference) !== 0) {
        let at = 0;
        while (bytes[at] === reference[at]) at++;
        throw new Error(`finished by ${how}, the device differs from the uninterrupted run (first at byte ${at})`);
      }
    } catch (e) {
      result.failed.push(`${state.label}: ${(e as Error).message}`);
      if (result.failed.length >= (so.maxFailures ?? 20)) break;
    }
  }
  result.e2fscked = e2fscked;
  return result;
}
