import { walkTree } from '@fsconv/ext2fs-reader';
import { formatTime, modeString } from '../format.js';
import { openCheckedExt2 } from '../open-volume.js';
import { unixEntryOfExt2 } from '../unix-entry.js';

export interface LsArgs {
  device: string;
  json: boolean;
  quiet: boolean;
}

/** `fsconv ls DEVICE`: every entry but the root, streamed (JSON Lines with --json). */
export function lsCommand(args: LsArgs, out: (s: string) => void): number {
  const { device, volume } = openCheckedExt2(args.device, args.quiet || args.json);
  try {
    walkTree(volume, {
      entry(e) {
        const u = unixEntryOfExt2(volume, e);
        if (args.json) {
          out(JSON.stringify(u));
          return;
        }
        const sizeOrDev = u.rdev ? `${u.rdev[0]}, ${u.rdev[1]}` : String(u.size ?? '');
        const target = u.target !== undefined ? ` -> ${u.target}` : '';
        out(`${modeString(u.mode)} ${String(u.nlink).padStart(3)} ${String(u.uid).padStart(6)} ${String(u.gid).padStart(6)} ` +
          `${sizeOrDev.padStart(10)} ${formatTime(u.mtime)} ${u.path}${target}`);
      },
    });
    return 0;
  } finally {
    device.close();
  }
}
