import { Device } from '@fsconv/device';
import { Ext2Error, Ext2Volume, checkFilesystem, type Ext2Summary } from '@fsconv/ext2fs-reader';
import { FatError, FatVolume } from '@fsconv/fat';
import type { Storage } from '@fsconv/device';
import { refuseIfInterrupted } from './interruption.js';
import { kernelView, listPartitions, resolveTarget, type PartitionListing, type Target } from './target.js';
import { ProgressBar } from './progress.js';

/** Where the volume was found: the whole device, or a partition of its table. */
export interface Placement {
  /** The whole device (closing it closes everything). */
  device: Device;
  /** "disk.img" or "disk.img partition 1". */
  name: string;
  /** Bytes of what holds the volume (the partition, or the whole device). */
  bytes: number;
  /** The device's own table (a whole disk); null for a partition device, whose table is its disk's. */
  table: { scheme: string; partitions: PartitionListing[] } | null;
  partition: { number: number; startByte: number; bytes: number; type: string } | null;
  /** For a partition device (/dev/sdb1): the disk it is a partition of, and that disk's table scheme. */
  disk: { path: string; scheme: string | null } | null;
}

export interface CheckedExt2 extends Placement {
  kind: 'ext2';
  volume: Ext2Volume;
  summary: Ext2Summary;
}

export interface OpenedFat extends Placement {
  kind: 'fat';
  volume: FatVolume;
}

/** The placement of a volume found through `resolveTarget`. */
function placementOf(t: Target): Placement {
  const p = t.partition;
  const pd = t.partitionDevice;
  return {
    device: t.device, name: t.name, bytes: t.storage.size,
    table: t.table === null || pd !== null ? null : { scheme: t.table.scheme, partitions: listPartitions(t.device, t.table) },
    partition: p !== null ? { number: p.number, startByte: p.startByte, bytes: p.bytes, type: p.type.gpt ?? `0x${p.type.mbr!.toString(16).padStart(2, '0')}` }
      // A partition device whose disk's table could not be read: what the kernel says of it.
      : pd !== null ? { number: pd.number, startByte: pd.startByte, bytes: pd.bytes, type: 'unknown' } : null,
    disk: pd === null ? null : { path: pd.disk.path ?? `/dev/${pd.disk.name}`, scheme: t.table?.scheme ?? null },
  };
}

function checkExt2(storage: Storage, quiet: boolean): { volume: Ext2Volume; summary: Ext2Summary } {
  const volume = Ext2Volume.open(storage);
  const bar = new ProgressBar(quiet);
  const summary = checkFilesystem(volume, (phase, done, total) => bar.update(phase, done, total));
  bar.done();
  return { volume, summary };
}

/**
 * Opens DEVICE read-only as whatever it holds (in the partition `--partition` names, or the one
 * that holds a filesystem): an ext2 (checked in full) or a FAT volume. A marker of an interrupted
 * conversion comes first, whatever else the device looks like. When it is neither, the ext2
 * verdict is the one reported (it is the more precise one).
 */
export function openVolume(path: string, quiet: boolean, partition?: number): CheckedExt2 | OpenedFat {
  const device = Device.open(path);
  try {
    const target = resolveTarget(path, device, device, 'readable', partition, (l) => { if (!quiet) process.stderr.write(`${l}\n`); }, { kernel: kernelView() });
    const where = placementOf(target);
    refuseIfInterrupted(target.name, target.storage, target.command);
    try {
      return { kind: 'ext2', ...where, ...checkExt2(target.storage, quiet) };
    } catch (e) {
      if (!(e instanceof Ext2Error) || e.code !== 'not-ext2') throw e;
      try {
        return { kind: 'fat', ...where, volume: FatVolume.open(target.storage) };
      } catch (fatError) {
        if (fatError instanceof FatError) {
          throw new Ext2Error('not-ext2', `${target.name} holds neither ext2 (${e.detail}) nor FAT (${fatError.message})`);
        }
        throw fatError;
      }
    }
  } catch (e) {
    device.close();
    throw e;
  }
}
