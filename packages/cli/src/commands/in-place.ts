import { closeSync, openSync, readSync } from 'node:fs';
import { Device, describeMountUses, findMountUses, StorageSlice, type Storage } from '@fsconv/device';
import { Ext2Error, Ext2Source, Ext2Volume, ext2Verdict } from '@fsconv/ext2fs-reader';
import { FatError, FatVolume, fatInPlaceExporter, type FatExportMeasure, type FatInPlaceOptions, type FatTargetGeometry } from '@fsconv/fat';
import {
  CountingDevice, commitFromJournal, convertInPlace, discardJournal, planInPlace,
  type InPlaceOptions, type InPlacePlan,
} from '@fsconv/core';
import { RESUMABLE_EXPORTERS } from '../formats.js';
import { fatPartitionType, PartitionTableError, setPartitionType, type SectorWrite } from '@fsconv/partition';
import { FaultHook, withFaultHook } from '../fault-hook.js';
import { ext2RecoveryAdvice, inspectDevice, interruptionMessage } from '../interruption.js';
import { closeTarget, kernelView, resolveTarget, type ResolveOptions, type Target } from '../target.js';
import { formatBytes, formatNotes } from '../format.js';
import { ProgressBar } from '../progress.js';
import { ConvertRefusal, type ConvertArgs } from './convert-args.js';

/**
 * Asks on the terminal; true only for an explicit yes. Reads from a fresh /dev/tty descriptor:
 * Node may have made stdin non-blocking, and a read that fails must not count as an answer.
 */
function confirm(question: string): boolean {
  process.stderr.write(`${question} [y/N] `);
  let fd: number;
  try {
    fd = openSync('/dev/tty', 'r');
  } catch {
    return false;
  }
  try {
    const buf = Buffer.alloc(256);
    for (;;) {
      try {
        const n = readSync(fd, buf, 0, buf.length, null);
        return /^\s*y(es)?\s*$/i.test(buf.subarray(0, n).toString('utf8'));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') return false;
      }
    }
  } finally {
    closeSync(fd);
  }
}

function refuseMounted(path: string): void {
  const uses = findMountUses(path, kernelView());
  if (uses.length > 0) throw new ConvertRefusal(describeMountUses(path, uses));
}

/**
 * `fsconv [convert|check] --from ext2 --to TARGET DEVICE` without --output: the in-place conversion
 * (docs/in-place.md). Refuses before writing anything when the device is mounted, the ext2 unclean or
 * inconsistent, the conversion not feasible, or there is no confirmation.
 */
export function inPlaceCommand(args: ConvertArgs, out: (s: string) => void): number {
  if (args.from !== 'ext2') throw new ConvertRefusal('in-place conversion starts from an ext2 device; to convert a directory give --output OUT.img');
  refuseMounted(args.source);
  const bar = new ProgressBar(args.quiet || args.json);
  const started = Date.now();
  const device = Device.open(args.source, { write: !args.dryRun, exclusive: !args.dryRun });
  try {
    // Every write goes through one counter (the fault hook), inside the partition or outside it.
    // The fault hook of the crash tests goes under every device written, only when asked.
    const hook = FaultHook.fromEnv();
    const counting = new CountingDevice(withFaultHook(hook, device));
    const target = resolveTarget(args.source, device, counting, 'ext2', args.partition, (l) => { if (!args.quiet) process.stderr.write(`${l}\n`); },
      diskOptions(counting, hook, !args.dryRun));
    try {
      return convertTarget(args, out, target, counting, bar, started);
    } finally {
      closeTarget(target);
    }
  } finally {
    device.close();
  }
}

/**
 * How a partition device's disk is opened: for the conversion, for writing its table (locked, so
 * udev does not probe it meanwhile, but not claimed: the kernel lets no one claim a disk one of
 * whose partitions is claimed), its writes counted with the partition's; for check, read-only.
 */
function diskOptions(counting: CountingDevice, hook: FaultHook | null, write: boolean, decode: ResolveOptions['decode'] = {}): ResolveOptions {
  return {
    decode, kernel: kernelView(),
    openDisk: (path) => {
      const d = Device.open(path, write ? { write: true, lock: true } : {});
      return { device: d, storage: write ? counting.sibling(withFaultHook(hook, d)) : d };
    },
  };
}

function convertTarget(args: ConvertArgs, out: (s: string) => void, target: Target, counting: CountingDevice, bar: ProgressBar, started: number): number {
  const dev = target.storage;
  const name = target.name;
  // Any trace of an interrupted conversion comes first: it is `fsconv resume`'s to deal with.
  const interrupted = interruptionMessage(name, inspectDevice(dev), target.command);
  if (interrupted !== null) throw new ConvertRefusal(interrupted);
  let volume: Ext2Volume;
  try {
    volume = Ext2Volume.open(dev);
  } catch (e) {
    if (e instanceof Ext2Error && e.code === 'not-ext2' && isFat(dev)) {
      if (args.dryRun) throw new ConvertRefusal(`${name} already holds FAT, not ext2`);
      out(args.json ? JSON.stringify({ alreadyFat: true, deviceWrites: 0 }) : `${name} already holds FAT: nothing to do.`);
      return 0;
    }
    throw e;
  }
  // The importer's verdict first: an unclean source is e2fsck's before it is ours.
  const verdict = ext2Verdict(volume);
  if (!verdict.clean) throw new ConvertRefusal(`${name}: ${verdict.why}: ${verdict.advice}`);
  const src = new Ext2Source(volume, (phase, done, total) => bar.update(`check ${phase}`, done, total));
  const progress = (phase: string, done: number, total: number): void => bar.update(phase, done, total);
  const exporterOptions: FatInPlaceOptions = {
    target: args.to, codepage: args.codepage, sourceCharset: args.sourceCharset, tz: args.tz, progress,
    ...(args.fatBits !== undefined && { fatBits: args.fatBits }),
    ...(args.clusterSize !== undefined && { clusterSize: args.clusterSize }),
    ...(args.rootEntries !== undefined && { rootEntries: args.rootEntries }),
    ...(args.label !== undefined && { label: args.label }),
    ...(args.volumeId !== undefined && { volumeId: Number.parseInt(args.volumeId.replace(/-/g, ''), 16) >>> 0 }),
  };
  const exporter = fatInPlaceExporter(exporterOptions);
  const opts: InPlaceOptions = {
    progress,
    // In a partition: hidden sectors = its start, and journal room for the table writes (at most
    // four sectors: a GPT's two headers and the two entry-array sectors holding the entry).
    ...(target.startByte > 0 && {
      container: {
        sliceOffset: target.startByte,
        outsideWritesReserve: target.table === null ? 0 : 4 * (12 + target.table.sectorSize),
      },
    }),
  };
  const plan = planInPlace(src, exporter, opts);
  const typeChange = plan.geometry !== null ? partitionTypeChange(target, plan.geometry.fat.fatBits, args.keepPartitionType) : null;
  bar.done();
  if (args.dryRun || !plan.feasible) {
    report(out, args, { plan, typeChange });
    // Every exit 1 says why in one line on stderr; the report above gives the details.
    if (!args.dryRun) throw new ConvertRefusal(`not converted, nothing written: ${plan.summary}`);
    return plan.feasible ? 0 : 1;
  }
  if (!args.yes) {
    const interactive = process.stdin.isTTY === true && process.stderr.isTTY === true;
    if (!interactive) throw new ConvertRefusal(`refusing to convert ${name} in place without confirmation: add --yes`);
    process.stderr.write(`${plan.summary}\n`);
    if (!confirm(`Convert the ext2 on ${name} to ${args.to} in place? Have a backup of anything you cannot lose.`)) {
      throw new ConvertRefusal('not confirmed: nothing was written');
    }
  }
  const result = convertInPlace(dev, src, exporter, plan, opts, typeChange ? { device: target.tableStorage!, writes: typeChange.writes } : undefined);
  bar.done();
  const entries = exporter.verify(dev);
  report(out, args, { plan, typeChange, deviceWrites: counting.writes, bytesWritten: result.bytesWritten, entries, seconds: (Date.now() - started) / 1000 });
  return 0;
}

export interface ResumeArgs {
  device: string;
  json: boolean;
  quiet: boolean;
  /** Drop a stale or damaged journal that lies beside a readable ext2. */
  discard: boolean;
  partition?: number | undefined;
}

/**
 * `fsconv resume DEVICE`: finishes a conversion interrupted after its commit point. It replays
 * nothing when the ext2 found beside the journal no longer matches the journal's fingerprint, or
 * when the journal cannot be read; it then says what it found and what can still be done, and
 * writes nothing (with --discard, it drops such a journal when the ext2 is readable).
 */
export function resumeCommand(args: ResumeArgs, out: (s: string) => void): number {
  refuseMounted(args.device);
  const started = Date.now();
  const device = Device.open(args.device, { write: true, exclusive: true });
  try {
    const hook = FaultHook.fromEnv();
    const counting = new CountingDevice(withFaultHook(hook, device));
    // The table may be caught between its two GPT copies: the journal rewrites both, so read the primary.
    const target = resolveTarget(args.device, device, counting, 'interrupted', args.partition,
      (l) => { if (!args.quiet) process.stderr.write(`${l}\n`); }, diskOptions(counting, hook, true, { whenCopiesDisagree: 'primary' }));
    try {
      return resumeTarget(args, out, target, counting, started);
    } finally {
      closeTarget(target);
    }
  } finally {
    device.close();
  }
}

function resumeTarget(args: ResumeArgs, out: (s: string) => void, target: Target, counting: CountingDevice, started: number): number {
  const dev = target.storage;
  // How to name it for fsconv, and for e2fsck (which cannot open a partition of an image file itself).
  const cmd = target.command;
  const inImage = target.partition !== null && target.partitionDevice === null;
  const fsck = inImage ? 'LOOP' : args.device;
  const loopNote = inImage ? ` (LOOP: the partition as a loop device, 'losetup -o ${target.startByte} --sizelimit ${dev.size} -f --show ${args.device}')` : '';
  const it = inspectDevice(dev);
  const emit = (r: Record<string, unknown>, line: string): void => out(args.json ? JSON.stringify(r, null, 2) : line);
  switch (it.state) {
    case 'none':
      throw new ConvertRefusal(`${target.name} holds no interrupted conversion${isFat(dev) ? ' (it is FAT already)' : ''}: nothing to resume`);
    case 'stale':
    case 'damaged': {
      const canDiscard = it.state === 'stale' || it.sourceReadable;
      if (args.discard && canDiscard) {
        discardJournal(dev, it.markerOffsets);
        emit({ resumed: false, discarded: true, deviceWrites: counting.writes },
          `Dropped the journal of the interrupted conversion of ${args.device}; the ext2 on it is as it is now: check it with 'e2fsck -f ${fsck}'${loopNote}, then convert it again if you want to.`);
        return 0;
      }
      if (args.discard) throw new ConvertRefusal(`${args.device}: not discarded: no readable ext2 lies beside the damaged journal, so dropping it would leave nothing; ${ext2RecoveryAdvice(fsck, dev, it.state === 'damaged' && it.commitStarted)}${loopNote}`);
      if (it.state === 'stale') {
        throw new ConvertRefusal(`${args.device}: not replayed, nothing written: the journal of the interrupted conversion is stale: ${it.why}. ` +
          `To keep the ext2 as it is now, run 'fsconv resume --discard ${cmd}' and then convert it again`);
      }
      const advice = it.sourceReadable
        ? `the ext2 on it can still be read: 'fsconv resume --discard ${cmd}' drops the journal, then check the ext2 with 'e2fsck -f ${fsck}'${loopNote}`
        : `${ext2RecoveryAdvice(fsck, dev, it.commitStarted)}${loopNote}`;
      throw new ConvertRefusal(`${args.device}: cannot finish the interrupted conversion, nothing written: ${it.why}; ${advice}`);
    }
    case 'resumable':
      break;
  }
  if (args.discard) throw new ConvertRefusal(`${args.device}: the journal of its interrupted conversion is sound and the ext2 is gone: it is not discarded; run 'fsconv resume ${cmd}' to finish`);
  const at = target.startByte;
  if (it.journal.sliceOffset !== at) {
    throw new ConvertRefusal(`${target.name}: its journal was written for a filesystem at byte ${it.journal.sliceOffset} of its disk, and this one is at byte ${at}: ` +
      (it.journal.sliceOffset > 0 ? 'run resume on the disk (with --partition N) or on its partition device (such as /dev/sdb1)' : 'run resume on the device it ran on') + '; nothing written');
  }
  const bar = new ProgressBar(args.quiet || args.json);
  if (!args.quiet && !args.json) process.stderr.write(`Resuming the interrupted conversion of ${target.name} from its journal.\n`);
  commitFromJournal(dev, it.journal, it.marker, RESUMABLE_EXPORTERS, (p, d, t) => bar.update(p, d, t), target.tableStorage ?? undefined);
  bar.done();
  const entries = RESUMABLE_EXPORTERS.byName(it.journal.exporter)!.verify(dev);
  emit({ resumed: true, deviceWrites: counting.writes, entries, seconds: (Date.now() - started) / 1000 },
    `Finished the conversion of ${args.device}: ${entries} entries on FAT.`);
  return 0;
}

/** The partition's new type and the table writes that give it (null: no partition, or kept as asked). */
interface TypeChange { partition: number; from: string; to: string; writes: SectorWrite[] }
function partitionTypeChange(target: Target, fatBits: 12 | 16 | 32, keep: boolean): TypeChange | null {
  const p = target.partition;
  if (p === null || target.table === null || keep) return null;
  const to = fatPartitionType(target.table.scheme, { fatBits, startLba: p.startLba, sectors: p.sectors });
  const show = (t: { mbr?: number | undefined; gpt?: string | undefined }): string => t.gpt ?? `0x${t.mbr!.toString(16).padStart(2, '0')}`;
  let writes: SectorWrite[];
  try {
    writes = setPartitionType(target.tableStorage!, target.table, p.number, to);
  } catch (e) {
    if (e instanceof PartitionTableError) throw new ConvertRefusal(`${target.name}: its type cannot be changed in the partition table: ${e.message}; or give --keep-partition-type to convert without changing it; nothing written`);
    throw e;
  }
  return { partition: p.number, from: show(p.type), to: show(to), writes };
}

function isFat(device: Storage): boolean {
  try {
    FatVolume.open(device);
    return true;
  } catch (e) {
    if (e instanceof FatError) return false;
    throw e;
  }
}

function report(out: (s: string) => void, args: ConvertArgs, r: {
  plan?: InPlacePlan<FatTargetGeometry, FatExportMeasure>; typeChange?: TypeChange | null; deviceWrites?: number; bytesWritten?: number; entries?: number; seconds?: number;
}): void {
  const p = r.plan;
  const g = p?.geometry?.fat ?? null;
  const a = p?.accounting ?? null;
  const cs = g?.clusterSize ?? 0;
  const json = {
    device: args.source,
    inPlace: true,
    target: args.to,
    feasible: p ? p.feasible : true,
    resumed: false,
    plan: p?.summary ?? null,
    fatBits: g?.fatBits ?? null,
    clusterSize: g?.clusterSize ?? null,
    candidates: (p?.candidates ?? []).map((c) => ({ ...c.key, feasible: c.feasible, reasons: c.reasons })),
    space: a && g ? {
      filesystemBytes: p!.fsBytes,
      frontRegionBytes: p!.frontBytes,
      fatBytes: 2 * g.fatSectors * g.bytesPerSector,
      fileDataBytes: p!.measure.fileBytes,
      bytesInPlace: a.bytesInPlace,
      bytesMoved: a.bytesMoved,
      bytesDuplicated: a.bytesDuplicated,
      bytesHoles: a.bytesHoles,
      directoryBytes: a.bytesDirectories,
      rightsFileBytes: a.bytesOwnFiles,
      symlinkBytes: a.bytesStoredAsBytes,
      journalBytes: a.journalUnits * cs,
      stagingRoomBytes: a.poolUnits * cs,
      spareBytes: a.spareUnits * cs,
      badClusters: a.badUnits,
      freeClustersAfter: p!.freeUnitsAfter,
      freeBytesAfter: p!.freeUnitsAfter * cs,
      rootEntries: g.fatBits === 32 ? null : g.rootEntries,
      rootEntriesFree: g.fatBits === 32 ? null : g.rootEntries - p!.measure.fat.demand.rootSlots,
    } : null,
    files: p?.measure.files ?? null,
    directories: p?.measure.directories ?? null,
    renames: p?.measure.notes.renames ?? [],
    duplicates: p?.measure.notes.duplicates ?? [],
    losses: p?.measure.notes.losses ?? [],
    partitionType: r.typeChange ? { partition: r.typeChange.partition, from: r.typeChange.from, to: r.typeChange.to, changed: r.typeChange.writes.length > 0 } : null,
    deviceWrites: r.deviceWrites ?? 0,
    bytesWritten: r.bytesWritten ?? 0,
    entries: r.entries ?? null,
    seconds: r.seconds ?? null,
  };
  if (args.json) {
    out(JSON.stringify(json, null, 2));
    return;
  }
  const lines: string[] = [];
  if (p) {
    lines.push(p.feasible ? (args.dryRun ? 'Feasible in place.' : `Converted ${args.source} to ${args.to} in place.`) : 'Not feasible in place.', p.summary);
    // Why the others were rejected matters when nothing fits (all of them are in --json).
    if (!p.feasible) for (const c of p.candidates.filter((c) => !c.feasible).slice(0, 12)) lines.push(`  rejected: ${c.reasons.join('; ')}`);
    if (json.space) {
      const s = json.space;
      lines.push('', 'Space:',
        `  file data ${formatBytes(s.fileDataBytes)}: ${formatBytes(s.bytesInPlace)} stays in place, ${formatBytes(s.bytesMoved)} moves`,
        `  hard-link copies ${formatBytes(s.bytesDuplicated)}, holes written as zeros ${formatBytes(s.bytesHoles)}`,
        `  directories ${formatBytes(s.directoryBytes)}, rights files ${formatBytes(s.rightsFileBytes)}, symlink targets ${formatBytes(s.symlinkBytes)}`,
        `  FATs ${formatBytes(s.fatBytes)} (front region ${formatBytes(s.frontRegionBytes)}), journal ${formatBytes(s.journalBytes)}`,
        `  staging room ${formatBytes(s.stagingRoomBytes)}, to spare ${formatBytes(s.spareBytes)}`,
        `Afterwards: ${s.freeClustersAfter} free clusters of ${formatBytes(cs)} (${formatBytes(s.freeBytesAfter)}); ` +
          (s.rootEntries === null ? 'the root directory grows as needed (FAT32).' : `root directory of ${s.rootEntries} entries, ${s.rootEntriesFree} free for new files.`));
    }
    if (r.typeChange) {
      const t = r.typeChange;
      lines.push(t.writes.length === 0 ? `Partition ${t.partition} already has the type ${t.to}.`
        : `Partition ${t.partition}: type ${t.from} ${args.dryRun ? 'will become' : 'became'} ${t.to} (what FAT volumes have; --keep-partition-type keeps it).`);
    }
    lines.push(...formatNotes(json));
  }
  if (r.deviceWrites !== undefined) lines.push(`${r.deviceWrites} device writes, ${formatBytes(r.bytesWritten ?? 0)}, ${r.seconds?.toFixed(1)} s.`);
  out(lines.join('\n'));
}
