/**
 * A block device that is a partition of a disk (/dev/sdb1, /dev/mmcblk0p1, /dev/nvme0n1p2,
 * /dev/loop0p1), as the kernel describes it in sysfs: its number, where it starts on its disk and
 * how long it is, and the disk it lies on with that disk's device node. The device is found by its
 * device number (/sys/dev/block/MAJ:MIN), not by name, so a path such as /dev/disk/by-id/… works
 * too; the disk's node is trusted only when its device number is the one sysfs gives.
 */
import { readdirSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { DeviceError } from './device.js';
import { majMinOf, normalizeMajMin, readSmall, statBig } from './sysfs.js';

export interface PartitionDevice {
  /** The partition device as given. */
  path: string;
  majMin: string;
  /** sysfs `partition`: the number the kernel gave it, which is its entry's number in the disk's table. */
  number: number;
  /** sysfs `start` and `size` in bytes (sysfs counts 512-byte sectors whatever the disk's sector size). */
  startByte: number;
  bytes: number;
  disk: {
    /** The disk's kernel name (sdb, mmcblk0, nvme0n1, loop0). */
    name: string;
    majMin: string;
    /** Its device node: /dev/NAME, /dev/block/MAJ:MIN or another node in /dev with its number; null when none is found. */
    path: string | null;
  };
}

export interface PartitionDeviceOptions {
  /** Default '/sys'. */
  sysfs?: string;
  /** Where device nodes are looked for; default '/dev'. */
  devDir?: string;
}

function sectorsIn(file: string, what: string, path: string): number {
  const text = readSmall(file)?.trim();
  const n = text !== undefined && /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n) || n * 512 > Number.MAX_SAFE_INTEGER) {
    throw new DeviceError(`${path}: the kernel describes it as a partition but gives no ${what} (${file}${text === undefined ? ' is missing' : ` holds '${text.slice(0, 40)}'`})`);
  }
  return n;
}

/** A block device node under `devDir` whose device number is `majMin`, or null. */
function findNode(devDir: string, name: string, majMin: string): string | null {
  const isIt = (p: string): boolean => {
    const st = statBig(p);
    return st !== undefined && st.isBlockDevice() && majMinOf(st.rdev) === majMin;
  };
  // sysfs writes '/' in a name as '!' (cciss!c0d0 is /dev/cciss/c0d0).
  for (const p of [join(devDir, name.replace(/!/g, '/')), join(devDir, 'block', majMin)]) if (isIt(p)) return p;
  let names: string[];
  try {
    names = readdirSync(devDir).sort();
  } catch {
    return null;
  }
  for (const n of names) if (isIt(join(devDir, n))) return join(devDir, n);
  return null;
}

/**
 * The partition `path` is, or null when it is not a block device or not a partition (a whole disk,
 * a loop device, an image file). Throws a DeviceError when sysfs calls it a partition but does not
 * say where it is or which disk holds it. `disk.path` is null when no node for the disk exists.
 */
export function partitionDeviceOf(path: string, options: PartitionDeviceOptions = {}): PartitionDevice | null {
  const sysfs = options.sysfs ?? '/sys';
  let rdev: bigint;
  try {
    const st = statSync(path, { bigint: true });
    if (!st.isBlockDevice()) return null;
    rdev = st.rdev;
  } catch {
    return null;
  }
  const majMin = majMinOf(rdev);
  const dir = `${sysfs}/dev/block/${majMin}`;
  const numberText = readSmall(`${dir}/partition`)?.trim();
  if (numberText === undefined) return null;
  const number = /^\d+$/.test(numberText) ? Number(numberText) : Number.NaN;
  if (!Number.isSafeInteger(number) || number < 1) {
    throw new DeviceError(`${path}: the kernel describes it as a partition but its number is '${numberText.slice(0, 40)}' (${dir}/partition)`);
  }
  const startByte = sectorsIn(`${dir}/start`, 'start', path) * 512;
  const bytes = sectorsIn(`${dir}/size`, 'size', path) * 512;
  // sysfs puts a partition's directory inside its disk's.
  let diskDir: string;
  try {
    diskDir = dirname(realpathSync(dir));
  } catch (e) {
    throw new DeviceError(`${path}: cannot find the disk holding this partition in sysfs (${(e as Error).message})`);
  }
  const diskMajMin = normalizeMajMin(readSmall(`${diskDir}/dev`));
  if (diskMajMin === undefined || diskMajMin === majMin) {
    throw new DeviceError(`${path}: cannot find the disk holding this partition in sysfs (${diskDir}/dev gives no other device)`);
  }
  const name = basename(diskDir);
  return { path, majMin, number, startByte, bytes, disk: { name, majMin: diskMajMin, path: findNode(options.devDir ?? '/dev', name, diskMajMin) } };
}
