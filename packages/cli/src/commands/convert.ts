import { existsSync, realpathSync, statSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Device } from '@fsconv/device';
import { Ext2Volume } from '@fsconv/ext2fs-reader';
import {
  DirectorySource, Ext2Source, measureForFat, planFat, writeFatImage,
  type FatBuildOptions, type FatMeasure, type FatTarget, type SourceTree,
} from '@fsconv/core';
import { formatBytes, formatNotes } from '../format.js';
import { ProgressBar } from '../progress.js';
import { inPlaceCommand } from './in-place.js';

export class ConvertRefusal extends Error {}

export interface ConvertArgs {
  from: 'ext2' | 'dir';
  to: FatTarget;
  source: string;
  output?: string;
  size?: string;
  fatBits?: 12 | 16 | 32;
  clusterSize?: number;
  /** FAT12/16 fixed root entries (default 512). */
  rootEntries?: number | undefined;
  label?: string;
  volumeId?: string;
  codepage: string;
  sourceCharset: string;
  tz: string;
  partitionTable?: 'mbr';
  json: boolean;
  quiet: boolean;
  dryRun: boolean;
  yes: boolean;
}

/** Parses sizes like 1440K, 64M, 2G, 1T (binary units) or plain bytes. */
export function parseSize(text: string): number {
  const m = /^(\d+)([KMGT]?)(i?B)?$/i.exec(text.trim());
  if (!m) throw new ConvertRefusal(`cannot read the size '${text}' (use bytes or a K/M/G/T suffix)`);
  const mult = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 }[m[2]!.toUpperCase() as '' | 'K' | 'M' | 'G' | 'T'];
  return Number(m[1]) * mult;
}

/**
 * `fsconv --from ext2|dir --to TARGET SRC --output OUT.img`: builds a new FAT image (the source is
 * only read). With `check` (dryRun) it measures and plans, says feasible or not and why, writes nothing.
 */
export function convertCommand(args: ConvertArgs, out: (s: string) => void): number {
  if (args.output === undefined) return inPlaceCommand(args, out);
  refuseOutputOverSource(args.source, args.output, args.from);
  const bar = new ProgressBar(args.quiet || args.json);
  let device: Device | null = null;
  let tree: SourceTree;
  let defaultSize: number | undefined;
  if (args.from === 'ext2') {
    device = Device.open(args.source);
    const volume = Ext2Volume.open(device);
    tree = new Ext2Source(volume, (phase, done, total) => bar.update(`check ${phase}`, done, total));
    defaultSize = volume.sb.blocksCount * volume.sb.blockSize;
  } else {
    tree = new DirectorySource(args.source);
  }
  try {
    const sizeBytes = args.size !== undefined ? parseSize(args.size) : defaultSize;
    if (sizeBytes === undefined) throw new ConvertRefusal('--size is required when converting from a directory');
    const opts: FatBuildOptions = {
      target: args.to, sizeBytes, codepage: args.codepage, sourceCharset: args.sourceCharset, tz: args.tz,
      progress: (phase, done, total) => bar.update(phase, done, total),
      ...(args.fatBits !== undefined && { fatBits: args.fatBits }),
      ...(args.clusterSize !== undefined && { clusterSize: args.clusterSize }),
      ...(args.rootEntries !== undefined && { rootEntries: args.rootEntries }),
      ...(args.label !== undefined && { label: args.label }),
      ...(args.volumeId !== undefined && { volumeId: parseVolumeId(args.volumeId) }),
      ...(args.partitionTable !== undefined && { partitionTable: args.partitionTable }),
    };
    const started = Date.now();
    const measure = measureForFat(tree, opts);
    const plan = planFat(measure, opts);
    bar.done();
    const chosen = plan.chosen;
    const report = {
      feasible: chosen !== null,
      source: args.source,
      output: args.output,
      target: args.to,
      sizeBytes,
      plan: plan.summary,
      fatBits: chosen?.fatBits ?? null,
      clusterSize: chosen?.clusterSize ?? null,
      candidates: plan.candidates.map((c) => ({ fatBits: c.fatBits, clusterSize: c.clusterSize, feasible: c.feasible, reasons: c.reasons })),
      files: measure.files,
      directories: measure.directories,
      fileBytes: measure.fileBytes,
      renames: measure.notes.renames,
      duplicates: measure.notes.duplicates,
      losses: measure.notes.losses,
      written: null as null | { bytes: number; clustersUsed: number; imageBytes: number; seconds: number },
    };
    if (chosen !== null && !args.dryRun) {
      const result = writeFatImage(tree, measure, chosen.geometry!, args.output, opts);
      bar.done();
      report.written = { bytes: result.bytesWritten, clustersUsed: result.clustersUsed, imageBytes: result.imageBytes, seconds: (Date.now() - started) / 1000 };
    }
    if (args.json) out(JSON.stringify(report, null, 2));
    else out(formatReport(report, measure, args.dryRun));
    if (chosen === null && !args.dryRun) throw new ConvertRefusal(`not built, nothing written: ${plan.summary.split('\n')[0]}`);
    return chosen === null ? 1 : 0;
  } finally {
    device?.close();
    if (tree instanceof DirectorySource) tree.close();
  }
}

function parseVolumeId(text: string): number {
  const hex = text.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{1,8}$/.test(hex)) throw new ConvertRefusal(`--volume-id '${text}' is not 8 hex digits (like 1234-ABCD)`);
  return Number.parseInt(hex, 16) >>> 0;
}

function formatReport(r: { feasible: boolean; plan: string; files: number; directories: number; fileBytes: number; output?: string | undefined;
  renames: FatMeasure['notes']['renames']; duplicates: FatMeasure['notes']['duplicates']; losses: FatMeasure['notes']['losses'];
  written: null | { bytes: number; clustersUsed: number; imageBytes: number; seconds: number } }, _m: FatMeasure, dryRun: boolean): string {
  const lines = [r.feasible ? (dryRun ? 'Feasible.' : `Wrote ${r.output}.`) : 'Not feasible.', r.plan, ''];
  lines.push(`Files: ${r.files} (${formatBytes(r.fileBytes)}), directories: ${r.directories}`);
  if (r.written) lines.push(`Written: ${formatBytes(r.written.bytes)} in ${r.written.seconds.toFixed(1)} s; ${r.written.clustersUsed} clusters used; image ${formatBytes(r.written.imageBytes)}`);
  lines.push(...formatNotes(r));
  return lines.join('\n');
}

/**
 * The new image must not be the source (creating it truncates the file before anything is read) nor
 * lie inside a source directory (it would change the tree being converted).
 */
function refuseOutputOverSource(source: string, output: string, from: 'ext2' | 'dir'): void {
  let src: Stats;
  try {
    src = statSync(source);
  } catch {
    return; // opening the source will say what is wrong with it
  }
  if (existsSync(output)) {
    const o = statSync(output);
    if (o.dev === src.dev && o.ino === src.ino) {
      throw new ConvertRefusal(`--output ${output} is the source itself: to convert in place, leave out --output`);
    }
    if (o.isBlockDevice() && src.isBlockDevice() && o.rdev === src.rdev) {
      throw new ConvertRefusal(`--output ${output} is the source device itself: to convert in place, leave out --output`);
    }
  }
  if (from === 'dir') {
    const dir = realpathSync(source);
    const outDir = realpathSync(dirname(resolve(output)));
    if (outDir === dir || outDir.startsWith(`${dir}/`)) {
      throw new ConvertRefusal(`--output ${output} lies inside the source directory ${source}: write the image elsewhere`);
    }
  }
}
