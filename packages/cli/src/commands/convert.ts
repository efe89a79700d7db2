import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync, fsyncSync, linkSync, lstatSync, openSync, realpathSync, renameSync, rmSync, statSync, unlinkSync, type Stats,
} from 'node:fs';
import type { Socket } from 'node:net';
import { basename, dirname, join, resolve } from 'node:path';
import { Device, DeviceError, describeMountUses, findMountUses, storageOverlap } from '@fsconv/device';
import type { SourceTree } from '@fsconv/base';
import { Ext2Source, Ext2Volume } from '@fsconv/ext2fs-reader';
import { DirectorySource } from '@fsconv/core';
import {
  FatError, FatRightsSource, FatVolume, PARTITION_OFFSET, measureForFat, planFat, writeFatImage, type FatBuildOptions, type FatMeasure, type FatTarget, type Geometry,
} from '@fsconv/fat';
import { formatBytes, formatNotes } from '../format.js';
import { ProgressBar } from '../progress.js';
import { kernelView, resolveTarget } from '../target.js';
import { refuseIfInterrupted } from '../interruption.js';
import { ConvertRefusal, type ConvertArgs } from './convert-args.js';
import { inPlaceCommand } from './in-place.js';

export { ConvertRefusal, type ConvertArgs } from './convert-args.js';

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
  const target = outputTarget(args.output, args.force === true);
  const bar = new ProgressBar(args.quiet || args.json);
  let device: Device | null = null;
  let tree: SourceTree;
  let defaultSize: number | undefined;
  if (args.from === 'ext2') {
    device = Device.open(args.source);
    // A whole disk: the partition --partition names, or the one holding ext2 (as in place).
    const source = resolveTarget(args.source, device, device, 'ext2', args.partition,
      (l) => { if (!args.quiet) process.stderr.write(`${l}\n`); }, { kernel: kernelView() });
    refuseIfInterrupted(source.name, source.storage, source.command);
    const volume = Ext2Volume.open(source.storage);
    tree = new Ext2Source(volume, (phase, done, total) => bar.update(`check ${phase}`, done, total));
    defaultSize = volume.sb.blocksCount * volume.sb.blockSize;
  } else if (args.from === 'vfat+rights') {
    // A FAT volume rebuilt (another FAT type, cluster size or size), keeping what its rights files hold.
    device = Device.open(args.source);
    const source = resolveTarget(args.source, device, device, 'FAT', args.partition,
      (l) => { if (!args.quiet) process.stderr.write(`${l}\n`); }, { kernel: kernelView() });
    refuseIfInterrupted(source.name, source.storage, source.command);
    let volume: FatVolume;
    try {
      volume = FatVolume.open(source.storage);
    } catch (e) {
      if (e instanceof FatError && e.code === 'not-fat') throw new ConvertRefusal(`${source.name} holds no FAT volume (${e.message}): --from vfat+rights reads FAT, such as a volume fsconv converted`);
      throw e;
    }
    // Every record no longer trusted is said (as ls says it): the rebuild keeps FAT's word there.
    tree = new FatRightsSource(volume, { tz: args.tz, warn: (line) => process.stderr.write(`${line}\n`) });
    defaultSize = volume.boot.totalSectors * volume.boot.bytesPerSector;
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
      const result = writeOutput(target, chosen.geometry!, opts, (open) => writeFatImage(tree, measure, chosen.geometry!, open, opts));
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
 * share its storage: the file behind the source's loop device, a loop device on the source file, two
 * loop devices of one file, a disk and its partition (storageOverlap); nor lie inside a source
 * directory (it would change the tree being converted).
 */
function refuseOutputOverSource(source: string, output: string, from: ConvertArgs['from']): void {
  let src: Stats;
  try {
    src = statSync(source);
  } catch {
    return; // opening the source will say what is wrong with it
  }
  const o = storageOverlap(output, source);
  if (o !== null) {
    const [out, inp] = [o.a[0]!, o.b[0]!];
    const shared = o.a[o.ai]!;
    let what: string;
    if (o.ai === 0 && o.bi === 0) {
      throw new ConvertRefusal(out.kind === 'file'
        ? `--output ${output} is the source itself: to convert in place, leave out --output`
        : `--output ${output} is the source device itself: to convert in place, leave out --output`);
    } else if (o.how === 'same' && o.ai === 0) {
      what = `is the ${out.kind === 'file' ? 'file' : 'device'} behind the source's loop device ${source}`;
    } else if (o.how === 'same' && o.bi === 0) {
      what = `is a loop device on the source ${source}`;
    } else if (o.how === 'same') {
      what = `and the source ${source} are ${out.kind === 'loop-device' && inp.kind === 'loop-device' ? 'loop devices' : 'views'} of the same ${shared.kind === 'file' ? 'file' : 'device'} ${shared.path}`;
    } else if (o.how === 'a-in-b') {
      what = `lies inside the source ${source} (on ${shared.path})`;
    } else if (o.how === 'b-in-a') {
      what = `holds the source ${source} (on ${shared.path})`;
    } else {
      what = `overlaps the source ${source} (both on ${shared.path})`;
    }
    throw new ConvertRefusal(`--output ${output} ${what}: write the image elsewhere`);
  }
  if (from === 'dir' && src.isDirectory()) {
    const dir = realpathSync(source);
    let outDir: string;
    try {
      outDir = realpathSync(dirname(resolve(output)));
    } catch {
      return; // the output's directory is missing: outputTarget says so
    }
    if (outDir === dir || outDir.startsWith(`${dir}/`)) {
      throw new ConvertRefusal(`--output ${output} lies inside the source directory ${source}: write the image elsewhere`);
    }
  }
}

// ------------------------------------------------------------------------------------------------
// the output: a new file, finished in a temporary file beside it, or a block device written directly

/** Where the new image goes, decided before anything is read or written. */
type OutputTarget =
  /** `path` is the file to create or (replace) to replace; the image is built in a temporary file in `dir`. */
  | { kind: 'file'; path: string; dir: string; replace: boolean }
  | { kind: 'block-device'; path: string };

/**
 * Anything at --output is refused without --force (as mkfs.fat -C does): a file is only replaced
 * with it, a block device only overwritten with it; a directory or another kind of file never. A
 * symlink stands for what it names (a dangling one is replaced itself).
 */
function outputTarget(output: string, force: boolean): OutputTarget {
  const here = (path: string): OutputTarget => ({ kind: 'file', path, dir: dirname(resolve(path)), replace: true });
  let st: Stats;
  try {
    st = lstatSync(output);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new ConvertRefusal(`cannot use --output ${output}: ${(e as Error).message}`);
    const dir = dirname(resolve(output));
    let d: Stats | undefined;
    try {
      d = statSync(dir);
    } catch {
      d = undefined;
    }
    if (!d?.isDirectory()) throw new ConvertRefusal(`--output ${output}: there is no directory ${dir}`);
    return { kind: 'file', path: output, dir, replace: false };
  }
  let path = output;
  if (st.isSymbolicLink()) {
    try {
      path = realpathSync(output);
      st = statSync(path);
    } catch {
      if (!force) throw new ConvertRefusal(`--output ${output} already exists (a symlink to nothing): give --force to replace it`);
      return here(output);
    }
  }
  if (st.isDirectory()) throw new ConvertRefusal(`--output ${output} is a directory: give the path of an image file or a block device`);
  if (st.isBlockDevice()) {
    if (!force) throw new ConvertRefusal(`--output ${output} is a block device: give --force to overwrite it`);
    const uses = findMountUses(output);
    if (uses.length > 0) throw new ConvertRefusal(`--output ${describeMountUses(output, uses)}`);
    return { kind: 'block-device', path: output };
  }
  if (!st.isFile()) throw new ConvertRefusal(`--output ${output} is neither a regular file nor a block device`);
  if (!force) throw new ConvertRefusal(`--output ${output} already exists: give --force to replace it`);
  return here(path);
}

type Open = (imageBytes: number) => Device;

/**
 * Runs `build` with a function that opens where the image is written. A file is built in a new
 * temporary file beside it (`.NAME.fsconv-XXXXXXXX`, same directory so the rename stays on one
 * filesystem), flushed by the build, and renamed into place only when the whole build succeeded;
 * on any failure the temporary file is removed (and when the process is killed, by a guard process),
 * so a full disk or an interrupted build leaves nothing behind and an existing file as it was. A
 * block device is written directly (after its system area is cleared).
 */
function writeOutput<R>(target: OutputTarget, g: Geometry, opts: FatBuildOptions, build: (open: Open) => R): R {
  if (target.kind === 'block-device') return build((imageBytes) => openBlockOutput(target.path, imageBytes, g, opts));
  const temp = join(target.dir, `.${basename(target.path)}.fsconv-${randomBytes(4).toString('hex')}`);
  const guard = removeWhenKilled(temp);
  let created = false;
  try {
    const result = build((imageBytes) => {
      const dev = Device.create(temp, imageBytes);
      created = true;
      return dev;
    });
    if (target.replace) renameSync(temp, target.path);
    else placeNew(temp, target.path);
    syncDirectory(target.dir);
    return result;
  } catch (e) {
    if (created) rmSync(temp, { force: true });
    // Errors of the temporary file (not of the source) are said of the output.
    if (e instanceof DeviceError && e.message.includes(temp)) {
      const kept = target.replace ? `${target.path} is as it was` : 'nothing was left behind';
      const why = e.code === 'ENOSPC' ? 'no space left on the device' : e.code === 'EDQUOT' ? 'the disk quota is exceeded'
        : e.message.split(temp).join(target.path);
      throw new ConvertRefusal(`cannot write --output ${target.path}: ${why} (${kept})`);
    }
    throw e;
  } finally {
    guard();
  }
}

/** Gives the finished temporary file its name, unless something has appeared there meanwhile. */
function placeNew(temp: string, path: string): void {
  try {
    // link() never replaces: a file created at `path` during the build is not overwritten.
    linkSync(temp, path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new ConvertRefusal(`--output ${path} appeared while the image was built: give --force to replace it`);
    // A filesystem without hard links (vfat, some FUSE ones): look, then rename.
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EMLINK' && code !== 'ENOSYS') throw e;
    let exists = true;
    try {
      lstatSync(path);
    } catch {
      exists = false;
    }
    if (exists) throw new ConvertRefusal(`--output ${path} appeared while the image was built: give --force to replace it`);
    renameSync(temp, path);
    return;
  }
  unlinkSync(temp);
}

/** Makes a rename in `dir` durable (where the filesystem allows it). */
function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    /* some filesystems cannot sync a directory; the file itself was flushed */
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * A guard that removes `temp` once this process is gone, however it ends (SIGINT, SIGTERM, SIGKILL,
 * a crash): the build is synchronous, so no signal handler of ours could run during it. The guard is
 * `sh` waiting for the end of a pipe only we hold, in a session of its own (a Ctrl-C on the terminal
 * does not reach it). Returns the function that lets it go (after the rename, `rm -f` finds nothing).
 * Best effort: without it, only a killed build leaves its temporary file.
 */
function removeWhenKilled(temp: string): () => void {
  try {
    const child = spawn('/bin/sh', ['-c', 'cat >/dev/null; rm -f -- "$1"', 'fsconv-cleanup', temp], {
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    child.on('error', () => {});
    child.unref();
    const stdin = child.stdin as Socket | null;
    stdin?.on('error', () => {});
    stdin?.unref();
    return () => stdin?.destroy();
  } catch {
    return () => {};
  }
}

/**
 * Opens a block device given as --output (with --force): exclusively and locked (Device.open),
 * large enough for the image, its system area (everything before the data clusters, and the gap
 * before an MBR partition) cleared as mkfs.fat does, so nothing of an earlier filesystem's
 * signatures or metadata is left where FAT readers look.
 */
function openBlockOutput(path: string, imageBytes: number, g: Geometry, opts: FatBuildOptions): Device {
  const dev = Device.open(path, { write: true, exclusive: true });
  try {
    if (dev.size < imageBytes) {
      throw new ConvertRefusal(`--output ${path} holds ${formatBytes(dev.size)}; the image needs ${formatBytes(imageBytes)}: give a smaller --size`);
    }
    const systemEnd = (opts.partitionTable === 'mbr' ? PARTITION_OFFSET : 0) + g.dataStartSector * g.bytesPerSector;
    const zeros = new Uint8Array(Math.min(1 << 20, systemEnd));
    for (let pos = 0; pos < systemEnd; pos += zeros.length) dev.writeAt(zeros.subarray(0, Math.min(zeros.length, systemEnd - pos)), pos);
    return dev;
  } catch (e) {
    dev.close();
    throw e;
  }
}
