import { CREATOR_OS, COMPAT, superblockFeatures, STATE_ERRORS, STATE_VALID } from '@fsconv/ext2fs-reader';
import { cString, formatBytes, formatUuid } from '../format.js';
import { openCheckedExt2 } from '../open-volume.js';

export interface InfoArgs {
  device: string;
  json: boolean;
  quiet: boolean;
}

/** `fsconv info DEVICE`: what is on the device, its sizes and counts (after a full check). */
export function infoCommand(args: InfoArgs, out: (s: string) => void): number {
  const { device, volume, summary } = openCheckedExt2(args.device, args.quiet || args.json);
  try {
    const sb = volume.sb;
    const state = [sb.state & STATE_VALID ? 'clean' : 'not clean', ...(sb.state & STATE_ERRORS ? ['errors'] : [])].join(', ');
    const info = {
      device: args.device,
      deviceBytes: device.size,
      type: (sb.compat & COMPAT.has_journal) !== 0 ? 'ext3' : 'ext2',
      revision: sb.revLevel,
      creatorOs: CREATOR_OS[sb.creatorOs] ?? `unknown (${sb.creatorOs})`,
      label: cString(sb.volumeName),
      uuid: formatUuid(sb.uuid),
      state,
      features: superblockFeatures(sb),
      blockSize: sb.blockSize,
      inodeSize: sb.inodeSize,
      groups: sb.groupCount,
      blocks: summary.blocks,
      inodes: summary.inodes,
      counts: {
        files: summary.files,
        directories: summary.directories,
        symlinks: summary.symlinks,
        special: summary.fifos + summary.charDevices + summary.blockDevices + summary.sockets,
        fifos: summary.fifos,
        charDevices: summary.charDevices,
        blockDevices: summary.blockDevices,
        sockets: summary.sockets,
        hardLinkedFiles: summary.hardLinkedFiles,
        extraHardLinks: summary.extraHardLinks,
      },
      bytes: {
        fileData: summary.fileBytes,
        fileDataAllNames: summary.fileBytesAllNames,
        symlinkTargets: summary.symlinkBytes,
      },
      clusterRounded: summary.clusterRounded,
      badBlocks: summary.badBlocks.length,
    };
    if (args.json) {
      out(JSON.stringify(info, null, 2));
      return 0;
    }
    const b = info.blocks;
    const c = info.counts;
    const lines = [
      `Device:       ${info.device} (${formatBytes(info.deviceBytes)})`,
      `Filesystem:   ${info.type}, revision ${info.revision}, created by ${info.creatorOs}`,
      `Label:        ${info.label === '' ? '(none)' : info.label}`,
      `UUID:         ${info.uuid}`,
      `State:        ${info.state}`,
      `Features:     ${info.features.join(' ') || '(none)'}`,
      `Block size:   ${info.blockSize} bytes (${info.groups} groups, ${info.inodeSize}-byte inodes)`,
      `Blocks:       ${b.total} total, ${b.free} free, ${b.metadata} metadata, ${b.fileData} file data` +
        (b.journal ? `, ${b.journal} journal` : '') + (b.bad ? `, ${b.bad} bad` : '') + (b.reservedInodes ? `, ${b.reservedInodes} reserved inodes` : ''),
      `Inodes:       ${info.inodes.total} total, ${info.inodes.used} used`,
      `Entries:      ${c.files} files, ${c.directories} directories, ${c.symlinks} symlinks, ${c.special} special files` +
        ` (${c.fifos} fifos, ${c.charDevices} char, ${c.blockDevices} block, ${c.sockets} sockets)`,
      `Hard links:   ${c.hardLinkedFiles} files with more than one name (${c.extraHardLinks} extra names)`,
      `File data:    ${formatBytes(info.bytes.fileData)} (${info.bytes.fileData} bytes; ${info.bytes.fileDataAllNames} counting every name)`,
      `Rounded to FAT clusters (files and symlinks, every name):`,
      ...info.clusterRounded.map((r) => `  ${String(r.clusterSize).padStart(6)} B clusters: ${r.bytes} bytes (${formatBytes(r.bytes)})`),
    ];
    out(lines.join('\n'));
    return 0;
  } finally {
    device.close();
  }
}
