import { walkTree } from '@fsconv/ext2fs-reader';
import type { UnixEntry } from '@fsconv/base';
import { unixEntryOfExt2 } from '@fsconv/ext2fs-reader';
import { listFatVolume } from '@fsconv/fat';
import { formatTime, modeString } from '../format.js';
import { openVolume } from '../open-volume.js';

export interface LsArgs {
  device: string;
  json: boolean;
  quiet: boolean;
  tz: string;
  partition?: number | undefined;
  /** Exit 1 when any rights record is no longer trusted (the volume changed on FAT since conversion). */
  strict?: boolean;
}

/** `fsconv ls DEVICE`: every entry but the root, streamed (JSON Lines with --json). */
export function lsCommand(args: LsArgs, out: (s: string) => void): number {
  const opened = openVolume(args.device, args.quiet || args.json, args.partition);
  const emit = (u: UnixEntry): void => {
    if (args.json) {
      out(JSON.stringify(u));
      return;
    }
    const sizeOrDev = u.rdev ? `${u.rdev[0]}, ${u.rdev[1]}` : String(u.size ?? '');
    const target = u.target !== undefined ? ` -> ${u.target}` : '';
    const stored = u.fatPath !== undefined && u.fatPath !== u.path ? `  [FAT: ${u.fatPath}]` : '';
    out(`${modeString(u.mode)} ${String(u.nlink).padStart(3)} ${String(u.uid).padStart(6)} ${String(u.gid).padStart(6)} ` +
      `${sizeOrDev.padStart(10)} ${formatTime(u.mtime)} ${u.path}${target}${stored}`);
  };
  try {
    if (opened.kind === 'ext2') {
      const volume = opened.volume;
      walkTree(volume, { entry: (e) => emit(unixEntryOfExt2(volume, e)) });
    } else {
      const listing = listFatVolume(opened.volume, emit, { tz: args.tz, warn: (line) => process.stderr.write(`${line}\n`) });
      if (args.strict && listing.untrusted > 0) {
        process.stderr.write(`fsconv: ${listing.untrusted} rights record${listing.untrusted === 1 ? '' : 's'} or file${listing.untrusted === 1 ? '' : 's'} no longer trusted (see the warnings above): exit 1 (--strict)\n`);
        return 1;
      }
    }
    return 0;
  } finally {
    opened.device.close();
  }
}
