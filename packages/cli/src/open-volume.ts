import { Device } from '@fsconv/device';
import { Ext2Error, Ext2Volume, checkFilesystem, type Ext2Summary } from '@fsconv/ext2fs-reader';
import { FatError, FatVolume } from '@fsconv/fat';
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
    return checkExt2(device, quiet);
  } catch (e) {
    if (!(e instanceof Ext2Error) || e.code !== 'not-ext2') {
      device.close();
      throw e;
    }
    try {
      return { kind: 'fat', device, volume: FatVolume.open(device) };
    } catch (fatError) {
      device.close();
      if (fatError instanceof FatError) {
        throw new Ext2Error('not-ext2', `${path} holds neither ext2 (${e.detail}) nor FAT (${fatError.message})`);
      }
      throw fatError;
    }
  }
}
