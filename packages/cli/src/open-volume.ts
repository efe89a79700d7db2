import { Device } from '@fsconv/device';
import { Ext2Volume, checkFilesystem, type Ext2Summary } from '@fsconv/ext2fs-reader';
import { ProgressBar } from './progress.js';

export interface CheckedExt2 {
  device: Device;
  volume: Ext2Volume;
  summary: Ext2Summary;
}

/** Opens DEVICE read-only and checks the whole ext2 on it (refusing anything inconsistent). */
export function openCheckedExt2(path: string, quiet: boolean): CheckedExt2 {
  const device = Device.open(path);
  try {
    const volume = Ext2Volume.open(device);
    const bar = new ProgressBar(quiet);
    const labels = { inodes: 'inodes', bitmaps: 'bitmaps', directories: 'directories' };
    const summary = checkFilesystem(volume, (phase, done, total) => bar.update(labels[phase], done, total));
    bar.done();
    return { device, volume, summary };
  } catch (e) {
    device.close();
    throw e;
  }
}
