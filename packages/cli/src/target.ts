import type { Device, Storage } from '@fsconv/device';
import { StorageSlice } from '@fsconv/device';
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
export type TargetWant = 'ext2' | 'readable' | 'interrupted';

/** What a partition (or a whole device) holds, by its signatures (cheap: the first 2 KiB). */
export type Holds = 'ext2' | 'FAT' | 'an interrupted conversion' | 'the extended partition' | 'nothing fsconv knows';

export interface Target {
  /** The whole device, as opened. */
  device: Device;
  /** Where the filesystem is: the device, or the partition's byte range of it. */
  storage: Storage;
  table: PartitionTable | null;
  partition: Partition | null;
  /** For messages: "disk.img" or "disk.img partition 1". */
  name: string;
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
  readable: new Set<Holds>(['ext2', 'FAT', 'an interrupted conversion']),
  interrupted: new Set<Holds>(['an interrupted conversion']),
};
const WANT_TEXT: Record<TargetWant, string> = { ext2: 'ext2', readable: 'ext2 or FAT', interrupted: 'an interrupted conversion' };

/**
 * The part of `device` a command works on: with `--partition N`, that partition of the disk's
 * table (MBR or GPT); without it, the whole device when it has no partition table, or the one
 * partition that holds what the command wants (said on stderr through `note`). Several or none:
 * a refusal listing the partitions.
 */
export function resolveTarget(
  path: string, device: Device, storageOfDevice: Storage, want: TargetWant, partition: number | undefined,
  note: (line: string) => void, options: DecodeOptions = {},
): Target {
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
    return { device, storage: storageOfDevice, table: null, partition: null, name: path };
  }
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
        ? `${path} holds a ${table.scheme.toUpperCase()} partition table with no partition holding ${WANT_TEXT[want]}: ${all || 'no partitions'}`
        : `${path} holds ${candidates.length} partitions with ${WANT_TEXT[want]}: ${candidates.map(describe).join(', ')}: choose one with --partition N`);
    }
    chosen = candidates[0]!;
    note(`fsconv: ${path}: using partition ${describe(chosen)}`);
  }
  const p = table.partitions.find((x) => x.number === chosen!.number)!;
  const name = `${path} partition ${p.number}`;
  return { device, storage: new StorageSlice(storageOfDevice, p.startByte, p.bytes, name), table, partition: p, name };
}
