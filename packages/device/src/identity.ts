/**
 * What storage a path is, through loop devices and partitions: a loop device backed by a file IS
 * that file (writing one writes the other), so two loop devices of one file are the same storage;
 * a loop device backed by a block device is that device; a partition lies inside its disk. Used
 * where two paths must not be the same storage (the new image over its own source). Loop devices'
 * backing files are identified by device and inode as in mount-uses.ts (loop-devices.ts).
 */
import { realpathSync, statSync, type BigIntStats } from 'node:fs';
import { basename, dirname } from 'node:path';
import { listLoopDevices, type LoopDevice } from './loop-devices.js';
import { DELETED, fileIdOf, majMinOf, normalizeMajMin, readSmall } from './sysfs.js';

const MAX_DEPTH = 8;

export type StorageKind = 'file' | 'block-device' | 'loop-device' | 'partition';

/** One level of what a path is stored on, from the path itself down. */
export interface StorageLayer {
  /** 'file MAJ:MIN INO' (the device holding a file, and its inode) or 'block MAJ:MIN'. */
  id: string;
  kind: StorageKind;
  /** The path given, /dev/loopN, the backing file as the kernel names it, or the disk of a partition. */
  path: string;
  /** How the next layer relates to this one: 'is' (a loop device is its backing), 'in' (a partition lies in its disk). */
  next?: 'is' | 'in';
  /**
   * The bytes of the path given, within this layer: [start, end), end null for "to the end" (a file
   * can grow; or the size is not known). A loop device's offset and a partition's start move it.
   */
  start: number;
  end: number | null;
}

export interface StorageOptions {
  /** Default '/sys'. */
  sysfs?: string;
  /** Ask `losetup` for loop devices' backing files (default true). */
  useLosetup?: boolean;
}

/**
 * The layers of storage under `path`: itself, then (for a loop device) its backing file or device,
 * (for a partition) its disk, and so on down. Empty when nothing is at `path`.
 */
export function storageLayers(path: string, options: StorageOptions = {}): StorageLayer[] {
  let st: BigIntStats;
  try {
    st = statSync(path, { bigint: true });
  } catch {
    return [];
  }
  if (!st.isBlockDevice()) {
    const id = fileIdOf(st);
    return [{ id: `file ${id.dev} ${id.ino}`, kind: 'file', path, start: 0, end: null }];
  }
  const sysfs = options.sysfs ?? '/sys';
  const mm = majMinOf(st.rdev);
  const size = sectorsAt(`${sysfs}/dev/block/${mm}/size`);
  const layers: StorageLayer[] = [];
  blockLayers(layers, mm, path, 0, size === undefined ? null : size * 512, sysfs, listLoopDevices(sysfs, options.useLosetup ?? true));
  return layers;
}

/** A number of 512-byte sectors (or bytes) from a sysfs file, or undefined. */
function sectorsAt(file: string): number | undefined {
  const text = readSmall(file)?.trim();
  if (text === undefined || !/^\d+$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}

const plus = (x: number | null, d: number): number | null => (x === null ? null : x + d);

/** Appends the layers of block device `majMin` (the bytes [start, end) of the path given lie in it), then what it lies on. */
function blockLayers(out: StorageLayer[], majMin: string, path: string, start: number, end: number | null, sysfs: string, loops: LoopDevice[]): void {
  const loop = loops.find((l) => l.majMin === majMin);
  const dir = `${sysfs}/dev/block/${majMin}`;
  const isPartition = loop === undefined && readSmall(`${dir}/partition`) !== undefined;
  const layer: StorageLayer = { id: `block ${majMin}`, kind: loop ? 'loop-device' : isPartition ? 'partition' : 'block-device', path, start, end };
  out.push(layer);
  if (out.length >= MAX_DEPTH) return;
  if (loop) {
    const backing = loop.backingText.endsWith(DELETED) ? loop.backingText.slice(0, -DELETED.length) : loop.backingText;
    // Not known: assume the loop device starts at the beginning (it then overlaps more, never less).
    const offset = sectorsAt(`${sysfs}/block/${basename(loop.path)}/loop/offset`) ?? 0;
    if (loop.backingRdev !== undefined) {
      layer.next = 'is';
      blockLayers(out, loop.backingRdev, backing, start + offset, plus(end, offset), sysfs, loops);
    } else if (loop.file !== undefined) {
      layer.next = 'is';
      out.push({ id: `file ${loop.file.dev} ${loop.file.ino}`, kind: 'file', path: backing, start: start + offset, end: plus(end, offset) });
    }
    return;
  }
  if (isPartition) {
    // sysfs puts a partition's directory inside its disk's.
    const disk = normalizeMajMin(readSmall(`${dir}/../dev`));
    const first = sectorsAt(`${dir}/start`);
    if (disk !== undefined && disk !== majMin) {
      layer.next = 'in';
      // Start not known: the partition could be anywhere on its disk.
      if (first === undefined) blockLayers(out, disk, `/dev/${diskName(dir)}`, 0, null, sysfs, loops);
      else blockLayers(out, disk, `/dev/${diskName(dir)}`, start + first * 512, plus(end, first * 512), sysfs, loops);
    }
  }
}

function diskName(partitionDir: string): string {
  try {
    return basename(dirname(realpathSync(partitionDir))).replace(/!/g, '/');
  } catch {
    return '?';
  }
}

/** Where two paths meet: the first layer they share whose bytes overlap. */
export interface StorageOverlap {
  a: StorageLayer[];
  b: StorageLayer[];
  /** Index in `a` and in `b` of the shared layer. */
  ai: number;
  bi: number;
  /**
   * 'same': the same storage (the same file or device, a loop device and its backing, loop devices
   * of one file); 'a-in-b': `a` lies inside `b` (a partition of it, or of a loop device of it);
   * 'b-in-a': the other way round; 'overlap': both lie inside a third, on bytes they share.
   */
  how: 'same' | 'a-in-b' | 'b-in-a' | 'overlap';
}

/** How many leading layers are the object itself (joined by 'is'). */
function headLength(layers: StorageLayer[]): number {
  let n = 1;
  while (n < layers.length && layers[n - 1]!.next === 'is') n++;
  return n;
}

const intersect = (x: StorageLayer, y: StorageLayer): boolean => x.start < (y.end ?? Infinity) && y.start < (x.end ?? Infinity);

/**
 * Do `a` and `b` share storage: the same file or device, loop devices of one file, a loop device and
 * its backing file, one inside the other (a partition and its disk), or two regions of a third that
 * overlap? Two partitions of one disk do not. Null when they do not, or when nothing is at one of them.
 */
export function storageOverlap(a: string, b: string, options: StorageOptions = {}): StorageOverlap | null {
  const la = storageLayers(a, options);
  const lb = storageLayers(b, options);
  if (la.length === 0 || lb.length === 0) return null;
  const ha = headLength(la);
  const hb = headLength(lb);
  for (let i = 0; i < la.length; i++) {
    for (let j = 0; j < lb.length; j++) {
      if (la[i]!.id !== lb[j]!.id || !intersect(la[i]!, lb[j]!)) continue;
      const how = i < ha && j < hb ? 'same' : j < hb ? 'a-in-b' : i < ha ? 'b-in-a' : 'overlap';
      return { a: la, b: lb, ai: i, bi: j, how };
    }
  }
  return null;
}

/** True when `a` and `b` share storage (see storageOverlap). */
export function sameStorage(a: string, b: string, options: StorageOptions = {}): boolean {
  return storageOverlap(a, b, options) !== null;
}
