import { CREATOR_OS, ext2Family, superblockFeatures, STATE_ERRORS, STATE_VALID } from '@fsconv/ext2fs-reader';
import { listFatVolume, type FatVolume } from '@fsconv/fat';
import { cString, formatBytes, formatUuid } from '../format.js';
import { openVolume, type Placement } from '../open-volume.js';

export interface InfoArgs {
  device: string;
  json: boolean;
  quiet: boolean;
  partition?: number | undefined;
}

/** The partition table lines of `info` on a whole disk (number, start, size, type, what each holds). */
function tableLines(where: Placement): string[] {
  const p = where.partition;
  if (where.disk !== null && p !== null) {
    return [`Partition:    ${p.number} of ${where.disk.path}${where.disk.scheme ? ` (${where.disk.scheme.toUpperCase()})` : ''}, at ${formatBytes(p.startByte)}, ${formatBytes(p.bytes)}, type ${p.type}`];
  }
  if (where.table === null) return [];
  return [
    `Partitions:   ${where.table.scheme.toUpperCase()} table of ${where.table.partitions.length}` +
      (where.partition ? `; the volume below is partition ${where.partition.number}` : ''),
    ...where.table.partitions.map((l) => `  ${String(l.number).padStart(3)}  at ${formatBytes(l.startByte).padStart(10)}  ${formatBytes(l.bytes).padStart(10)}  type ${l.type}  ${l.holds}`),
  ];
}

/** `fsconv info DEVICE`: what is on the device, its sizes and counts (after a full check). */
export function infoCommand(args: InfoArgs, out: (s: string) => void): number {
  const opened = openVolume(args.device, args.quiet || args.json, args.partition);
  if (opened.kind === 'fat') {
    try {
      return fatInfo(args, opened, opened.volume, out);
    } finally {
      opened.device.close();
    }
  }
  const { device, volume, summary } = opened;
  try {
    const sb = volume.sb;
    const state = [sb.state & STATE_VALID ? 'clean' : 'not clean', ...(sb.state & STATE_ERRORS ? ['errors'] : [])].join(', ');
    const info = {
      device: args.device,
      deviceBytes: device.size,
      partitionTable: opened.table,
      partition: opened.partition,
      disk: opened.disk,
      type: ext2Family(sb),
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
      ...tableLines(opened),
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

/** `info` on a FAT volume: its geometry and space, and what the rights files describe. */
function fatInfo(args: InfoArgs, where: Placement, vol: FatVolume, out: (s: string) => void): number {
  const counts: Record<string, number> = { file: 0, dir: 0, symlink: 0, fifo: 0, char: 0, block: 0, socket: 0 };
  let bytes = 0;
  const listing = listFatVolume(vol, (e) => {
    counts[e.type] = (counts[e.type] ?? 0) + 1;
    bytes += e.size ?? 0;
  });
  const free = vol.freeClusters();
  const b = vol.boot;
  const info = {
    device: args.device,
    deviceBytes: where.device.size,
    partitionTable: where.table,
    partition: where.partition,
    disk: where.disk,
    type: `FAT${vol.fatBits}`,
    label: vol.label,
    volumeId: (b.volumeId >>> 0).toString(16).toUpperCase().padStart(8, '0').replace(/^(....)/, '$1-'),
    bytesPerSector: b.bytesPerSector,
    clusterSize: vol.clusterSize,
    clusters: { total: vol.clusterCount, free, used: vol.clusterCount - free },
    reservedSectors: b.reservedSectors,
    fatSectors: b.fatSectors,
    rootEntries: b.rootEntries,
    rightsFiles: listing.rightsFiles,
    entries: listing.entries,
    entriesWithRights: listing.withRights,
    /** Records no longer trusted (the volume changed on FAT since), records without an entry, damaged rights files: `ls` names each. */
    untrustedRecords: listing.untrusted,
    counts,
    fileBytes: bytes,
  };
  if (args.json) {
    out(JSON.stringify(info, null, 2));
    return 0;
  }
  out([
    `Device:       ${info.device} (${formatBytes(info.deviceBytes)})`,
    ...tableLines(where),
    `Filesystem:   ${info.type}${info.rightsFiles > 0 ? ' with rights files (vfat+rights)' : ''}`,
    `Label:        ${info.label ?? '(none)'}`,
    `Volume ID:    ${info.volumeId}`,
    `Clusters:     ${info.clusters.total} of ${info.clusterSize} bytes, ${info.clusters.free} free (${formatBytes(info.clusters.free * info.clusterSize)})`,
    `Layout:       ${info.reservedSectors} reserved sectors, 2 FATs of ${info.fatSectors} sectors` +
      (info.rootEntries ? `, ${info.rootEntries} root entries` : ''),
    `Entries:      ${counts.file} files, ${counts.dir} directories, ${counts.symlink} symlinks, ` +
      `${(counts.fifo ?? 0) + (counts.char ?? 0) + (counts.block ?? 0) + (counts.socket ?? 0)} special files` +
      ` (${info.entriesWithRights} of ${info.entries} described by rights files)`,
    `File data:    ${formatBytes(info.fileBytes)} (${info.fileBytes} bytes)`,
    ...(info.untrustedRecords > 0
      ? [`Warnings:     ${info.untrustedRecords} rights record${info.untrustedRecords === 1 ? '' : 's'} or file${info.untrustedRecords === 1 ? '' : 's'} no longer trusted: the volume was changed on FAT since its conversion ('fsconv ls' names each)`]
      : []),
  ].join('\n'));
  return 0;
}
