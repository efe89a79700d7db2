import { Device, DeviceError, partitionDeviceOf, StorageSlice, type PartitionDevice, type Storage } from '@fsconv/device';
import { decodeSuperblock, EXT2_MAGIC, SUPERBLOCK_OFFSET } from '@fsconv/ext2fs-reader';
import { decodeBootSector, FatError } from '@fsconv/fat';
import { hasMarkerMagic } from '@fsconv/core';
import {
  decodePartitionTable, noPartitionTableReason, PartitionTableError, type DecodeOptions, type Partition, type PartitionTable,
} from '@fsconv/partition';
import { formatBytes } from './format.js';

/** A refusal about which part of a disk to use: one line, exit 1. */
export class TargetRefusal extends Error {
  override readonly name = 'TargetRefusal';
}

/** What a command looks for on a disk: an ext2 to convert, anything to read, a conversion to resume. */
export type TargetWant = 'ext2' | 'FAT' | 'readable' | 'interrupted';

/** What a partition (or a whole device) holds, by its signatures (cheap: the first 2 KiB). */
export type Holds = 'ext2' | 'FAT' | 'an interrupted conversion' | 'the extended partition' | 'nothing fsconv knows';

export interface Target {
  /** The device, as opened. */
  device: Device;
  /** Where the filesystem is: the device, or the partition's byte range of it. */
  storage: Storage;
  /** The table holding the filesystem's partition: the device's own, or (partition device) its disk's. */
  table: PartitionTable | null;
  partition: Partition | null;
  /** For messages: "disk.img", "disk.img partition 1", "/dev/sdb1". */
  name: string;
  /** How to name it on a command line: "disk.img", "disk.img --partition 1", "/dev/sdb1". */
  command: string;
  /** Where the filesystem starts on the disk holding it, in bytes (0 for a device without a table). */
  startByte: number;
  /** Where the table's sectors are read and written: the device, or the disk of a partition device. */
  tableStorage: Storage | null;
  /** The device is itself a partition (/dev/sdb1): what the kernel says of it. */
  partitionDevice: PartitionDevice | null;
  /** The disk opened for a partition device; the caller closes it (closeTarget). */
  disk: Device | null;
}

/** Where the kernel's view is read; tests point these at made-up trees. */
export interface KernelView {
  /** Default '/sys'. */
  sysfs?: string;
  /** Default '/dev'. */
  devDir?: string;
}

/** The kernel's view as fsconv reads it: /sys and /dev, or the made-up tree a test names in FSCONV_TEST_SYSFS. */
export function kernelView(env: NodeJS.ProcessEnv = process.env): KernelView {
  const sysfs = env['FSCONV_TEST_SYSFS'];
  return sysfs ? { sysfs } : {};
}

export interface ResolveOptions {
  decode?: DecodeOptions;
  kernel?: KernelView;
  /**
   * For a partition device: how to open its disk, whose table the conversion writes (in place it is
   * opened for writing, locked, and counted with the partition). Default: read-only, closed again
   * once the table is read.
   */
  openDisk?: (path: string) => { device: Device; storage: Storage };
}

/** Closes what resolveTarget opened beside the device (the disk of a partition device). */
export function closeTarget(t: Target): void {
  t.disk?.close();
}

export interface PartitionListing {
  number: number;
  startByte: number;
  bytes: number;
  type: string;
  holds: Holds;
}

/** Reads what a range holds (an interrupted conversion first: it is what matters most). */
export function holdsOf(source: Storage): Holds {
  if (source.size < 2048) return 'nothing fsconv knows';
  const head = new Uint8Array(2048);
  source.readInto(head, 0);
  if ([0, 512, 1024].some((o) => hasMarkerMagic(head.subarray(o, o + 512)))) return 'an interrupted conversion';
  if (decodeSuperblock(head.subarray(SUPERBLOCK_OFFSET, SUPERBLOCK_OFFSET + 1024)).magic === EXT2_MAGIC) return 'ext2';
  try {
    decodeBootSector(head.subarray(0, 512));
    return 'FAT';
  } catch (e) {
    if (e instanceof FatError) return 'nothing fsconv knows';
    throw e;
  }
}

const typeText = (p: Partition): string => (p.type.gpt !== undefined ? p.type.gpt : `0x${p.type.mbr!.toString(16).padStart(2, '0')}`);

/** Every partition with what it holds (for info, and for refusals that list them). */
export function listPartitions(device: Storage, table: PartitionTable): PartitionListing[] {
  return table.partitions.map((p) => ({
    number: p.number, startByte: p.startByte, bytes: p.bytes, type: typeText(p),
    holds: p.extended ? 'the extended partition' : holdsOf(new StorageSlice(device, p.startByte, p.bytes, `partition ${p.number}`)),
  }));
}

const describe = (l: PartitionListing): string => `${l.number} (${l.holds}, ${formatBytes(l.bytes)} at ${formatBytes(l.startByte)}, type ${l.type})`;

const WANTED: Record<TargetWant, ReadonlySet<Holds>> = {
  ext2: new Set<Holds>(['ext2', 'an interrupted conversion']),
  FAT: new Set<Holds>(['FAT', 'an interrupted conversion']),
  readable: new Set<Holds>(['ext2', 'FAT', 'an interrupted conversion']),
  interrupted: new Set<Holds>(['an interrupted conversion']),
};
const WANT_TEXT: Record<TargetWant, string> = { ext2: 'ext2', FAT: 'FAT', readable: 'ext2 or FAT', interrupted: 'an interrupted conversion' };

/**
 * The part of `device` a command works on: with `--partition N`, that partition of the disk's
 * table (MBR or GPT); without it, the whole device when it has no partition table, or the one
 * partition that holds what the command wants (said on stderr through `note`). Several or none:
 * a refusal listing the partitions.
 */
export function resolveTarget(
  path: string, device: Device, storageOfDevice: Storage, want: TargetWant, partition: number | undefined,
  note: (line: string) => void, resolveOptions: ResolveOptions = {},
): Target {
  const options = resolveOptions.decode ?? {};
  let pd: PartitionDevice | null;
  try {
    pd = device.isBlockDevice ? partitionDeviceOf(path, resolveOptions.kernel) : null;
  } catch (e) {
    if (!(e instanceof DeviceError)) throw e;
    if (want === 'readable') {
      note(`fsconv: warning: ${e.message}`);
      pd = null;
    } else {
      throw new TargetRefusal(`${e.message}: fsconv needs to know where it starts; nothing written`);
    }
  }
  if (pd !== null) return partitionDeviceTarget(path, device, storageOfDevice, pd, want, partition, note, resolveOptions);
  let table: PartitionTable | null;
  try {
    table = decodePartitionTable(storageOfDevice, options);
  } catch (e) {
    if (!(e instanceof PartitionTableError)) throw e;
    // Two sound GPT copies that disagree are what a conversion interrupted between rewriting them
    // leaves: read the primary, and go on only to the partition holding that conversion (every
    // command then points at resume, which rewrites both copies).
    const primary = e.code === 'gpt-mismatch' ? decodePartitionTable(storageOfDevice, { whenCopiesDisagree: 'primary' }) : null;
    const interrupted = primary === null ? [] : listPartitions(storageOfDevice, primary).filter((l) => l.holds === 'an interrupted conversion');
    if (primary === null || interrupted.length !== 1 || (partition !== undefined && partition !== interrupted[0]!.number)) {
      throw new TargetRefusal(`${path}: its partition table cannot be trusted: ${e.message}`);
    }
    table = primary;
    partition = interrupted[0]!.number;
  }
  if (table === null) {
    if (partition !== undefined) {
      throw new TargetRefusal(`${path} has no partition table (${noPartitionTableReason(storageOfDevice) ?? 'none found'}): leave out --partition`);
    }
    return { device, storage: storageOfDevice, table: null, partition: null, name: path, command: path, startByte: 0, tableStorage: null, partitionDevice: null, disk: null };
  }
  // What the table decoder noticed (a hybrid MBR, a GPT copy it could not use, …) is said, not hidden.
  for (const w of table.warnings) note(`fsconv: warning: ${path}: ${w}`);
  const listing = listPartitions(storageOfDevice, table);
  const all = listing.map(describe).join(', ');
  let chosen: PartitionListing | undefined;
  if (partition !== undefined) {
    chosen = listing.find((l) => l.number === partition);
    if (chosen === undefined) throw new TargetRefusal(`${path} has no partition ${partition}; its ${table.scheme.toUpperCase()} table holds ${all || 'no partitions'}`);
    if (chosen.holds === 'the extended partition') throw new TargetRefusal(`${path}: partition ${partition} is the extended partition (a container of others): choose one of ${all}`);
  } else {
    let candidates = listing.filter((l) => WANTED[want].has(l.holds));
    // Convert on a disk whose only volume is FAT already: that one (convert says so, nothing to do).
    if (candidates.length === 0 && want === 'ext2') candidates = listing.filter((l) => l.holds === 'FAT');
    if (candidates.length !== 1) {
      throw new TargetRefusal(candidates.length === 0
        ? `${path} holds ${table.scheme === 'mbr' ? 'an' : 'a'} ${table.scheme.toUpperCase()} partition table with no partition holding ${WANT_TEXT[want]}: ${all || 'no partitions'}`
        : `${path} holds ${candidates.length} partitions with ${WANT_TEXT[want]}: ${candidates.map(describe).join(', ')}: choose one with --partition N`);
    }
    chosen = candidates[0]!;
    note(`fsconv: ${path}: using partition ${describe(chosen)}`);
  }
  const p = table.partitions.find((x) => x.number === chosen!.number)!;
  const name = `${path} partition ${p.number}`;
  return {
    device, storage: new StorageSlice(storageOfDevice, p.startByte, p.bytes, name), table, partition: p, name,
    command: `${path} --partition ${p.number}`, startByte: p.startByte, tableStorage: storageOfDevice, partitionDevice: null, disk: null,
  };
}

/**
 * A partition device (/dev/sdb1): the filesystem is the whole device; its start and its table entry
 * come from its disk, found through sysfs, whose table must agree with the kernel's view of the
 * partition (where it starts, how long it is). A disk that cannot be found or read, or a table that
 * disagrees, is a refusal for the commands that write (and a warning for the read commands, which
 * then read the device as it is).
 */
function partitionDeviceTarget(
  path: string, device: Device, storageOfDevice: Storage, pd: PartitionDevice, want: TargetWant, partition: number | undefined,
  note: (line: string) => void, options: ResolveOptions,
): Target {
  const diskName = pd.disk.path ?? `/dev/${pd.disk.name}`;
  if (partition !== undefined) {
    throw new TargetRefusal(`${path} is partition ${pd.number} of ${diskName} itself: leave out --partition (or give the disk: ${diskName} --partition ${pd.number})`);
  }
  const alone: Target = {
    device, storage: storageOfDevice, table: null, partition: null, name: path, command: path,
    startByte: pd.startByte, tableStorage: null, partitionDevice: pd, disk: null,
  };
  const problem = (why: string): Target => {
    if (want === 'readable') {
      note(`fsconv: warning: ${path} is partition ${pd.number} of ${diskName}, but ${why}`);
      return alone;
    }
    throw new TargetRefusal(`${path} is partition ${pd.number} of ${diskName}, but ${why}; nothing written`);
  };
  if (pd.disk.path === null) return problem(`no device node in ${options.kernel?.devDir ?? '/dev'} is that disk (${pd.disk.majMin}): fsconv reads its partition table to check where the partition starts and to give it the FAT type`);
  let disk: { device: Device; storage: Storage };
  try {
    disk = options.openDisk ? options.openDisk(pd.disk.path) : (() => {
      const d = Device.open(pd.disk.path!);
      return { device: d, storage: d };
    })();
  } catch (e) {
    if (!(e instanceof DeviceError)) throw e;
    return problem(`its disk cannot be opened (${e.message})`);
  }
  const keep = options.openDisk !== undefined;
  let handedOver = false;
  try {
    let table: PartitionTable | null;
    try {
      table = decodePartitionTable(disk.storage, options.decode ?? {});
    } catch (e) {
      if (!(e instanceof PartitionTableError)) throw e;
      // A GPT caught between its two copies by a conversion of this very partition: the primary.
      if (e.code !== 'gpt-mismatch' || holdsOf(storageOfDevice) !== 'an interrupted conversion') {
        return problem(`its partition table cannot be trusted: ${e.message}`);
      }
      table = decodePartitionTable(disk.storage, { whenCopiesDisagree: 'primary' });
    }
    if (table === null) return problem(`${pd.disk.path} holds no partition table fsconv can read (${noPartitionTableReason(disk.storage) ?? 'none found'})`);
    const p = table.partitions.find((x) => x.number === pd.number);
    if (p === undefined) return problem(`${pd.disk.path}'s ${table.scheme.toUpperCase()} table has no partition ${pd.number}: it was changed after the kernel read it (re-read it with 'partprobe ${pd.disk.path}', or replug the drive)`);
    if (p.extended) throw new TargetRefusal(`${path} is the extended partition of ${pd.disk.path} (a container of others), not a volume`);
    if (p.startByte !== pd.startByte || p.bytes !== pd.bytes) {
      return problem(`the kernel has it at byte ${pd.startByte} (${pd.bytes} bytes) while ${pd.disk.path}'s table says byte ${p.startByte} (${p.bytes} bytes): ` +
        `the table was changed after the kernel read it (re-read it with 'partprobe ${pd.disk.path}', or replug the drive)`);
    }
    handedOver = keep;
    return { ...alone, table, partition: p, tableStorage: keep ? disk.storage : null, disk: keep ? disk.device : null };
  } finally {
    if (!handedOver) disk.device.close();
  }
}
