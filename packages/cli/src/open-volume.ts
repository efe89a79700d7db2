import { Device } from '@fsconv/device';
import { Ext2Error, Ext2Volume, checkFilesystem, type Ext2Summary } from '@fsconv/ext2fs-reader';
import { FatError, FatVolume } from '@fsconv/fat';
import { refuseIfInterrupted } from './interruption.js';
import { ProgressBar } from './progress.js';

export interface CheckedExt2 {
  kind: 'ext2';
  device: Device;
  volume: Ext2Volume;
  summary: Ext2Summary;
}

export interface OpenedFat {
  kind: 'fat';
  device: Device;
  volume: FatVolume;
}

/** Opens DEVICE read-only and checks the whole ext2 on it (refusing anything inconsistent). */
export function openCheckedExt2(path: string, quiet: boolean): CheckedExt2 {
  const device = Device.open(path);
  try {
    refuseIfInterrupted(path, device);
    return checkExt2(device, quiet);
  } catch (e) {
    device.close();
    throw e;
  }
}

function checkExt2(device: Device, quiet: boolean): CheckedExt2 {
  const volume = Ext2Volume.open(device);
  const bar = new ProgressBar(quiet);
  const summary = checkFilesystem(volume, (phase, done, total) => bar.update(phase, done, total));
  bar.done();
  return { kind: 'ext2', device, volume, summary };
}

/**
 * Opens DEVICE read-only as whatever it holds: an ext2 (checked in full) or a FAT volume.
 * When it is neither, the ext2 verdict is the one reported (it is the more precise one).
 */
export function openVolume(path: string, quiet: boolean): CheckedExt2 | OpenedFat {
  const device = Device.open(path);
  try {
    // A marker (valid or damaged) comes before whatever else the device looks like.
    refuseIfInterrupted(path, device);
    return checkExt2(device, quiet);
  } catch (e) {
    if (!(e instanceof Ext2Error) || e.code !== 'not-ext2') {
      device.close();
      throw e;
    }
    try {
      return { kind: 'fat', device, volume: FatVolume.open(device, { offset: fatPartitionOffset(device) }) };
    } catch (fatError) {
      device.close();
      if (fatError instanceof FatError) {
        throw new Ext2Error('not-ext2', `${path} holds neither ext2 (${e.detail}) nor FAT (${fatError.message})`);
      }
      throw fatError;
    }
  }
}

/** MBR partition types of FAT filesystems. */
const FAT_PARTITION_TYPES = new Set([0x01, 0x04, 0x06, 0x0b, 0x0c, 0x0e]);

/**
 * Where the FAT volume starts: 0, or in a disk image (as `--partition-table mbr` writes) the first
 * MBR partition of a FAT type. A boot sector that is a FAT one itself has no partition table.
 */
function fatPartitionOffset(device: Device): number {
  const sector = new Uint8Array(512);
  if (device.size < 512) return 0;
  device.readInto(sector, 0);
  if (sector[510] !== 0x55 || sector[511] !== 0xaa) return 0;
  // A FAT boot sector starts with a jump and has a sane bytes-per-sector field; an MBR does not.
  const bps = sector[11]! | (sector[12]! << 8);
  if ((sector[0] === 0xeb || sector[0] === 0xe9) && bps >= 512 && bps <= 4096 && (bps & (bps - 1)) === 0) return 0;
  for (let i = 0; i < 4; i++) {
    const e = 446 + 16 * i;
    const type = sector[e + 4]!;
    const start = (sector[e + 8]! | (sector[e + 9]! << 8) | (sector[e + 10]! << 16) | (sector[e + 11]! << 24)) >>> 0;
    if (FAT_PARTITION_TYPES.has(type) && start > 0 && start * 512 < device.size) return start * 512;
  }
  return 0;
}
