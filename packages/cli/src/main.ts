import { createRequire } from 'node:module';
import type yargsType from 'yargs';
import { DeviceError } from '@fsconv/device';
import { infoCommand } from './commands/info.js';
import { lsCommand } from './commands/ls.js';
import { ConvertRefusal, convertCommand, type ConvertArgs } from './commands/convert.js';
import { resumeCommand } from './commands/in-place.js';
import { FsconvError } from '@fsconv/base';
import { InterruptedConversion } from './interruption.js';
import { TargetRefusal } from './target.js';
import { LineOutput, OutputClosed } from './output.js';
import {
  OptionError, checkMode, joinDashValues, parseClusterSize, parseCodepage, parseLabel, parsePartition, parseRootEntries, parseSize,
  parseSourceCharset, parseTz, parseVolumeId, refuseMissingValues, volumeIdText,
} from './options.js';

/** Exit codes: 0 done, 1 refused or failed (one line saying why), 2 usage. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

class UsageError extends Error {}

// yargs' CommonJS build: its ES module build wraps help text in the middle of words (its cliui
// has no word wrapper there); the CommonJS one wraps at word boundaries.
const yargs = createRequire(import.meta.url)('yargs') as typeof yargsType;
/** Help text wraps at the terminal's width, or 80 columns without a terminal. */
const helpWidth = (): number => (process.stdout.isTTY && process.stdout.columns > 0 ? process.stdout.columns : 80);


export async function main(argv: string[]): Promise<number> {
  let result = EXIT_OK;
  const stdout = new LineOutput(1);
  const stdoutLine = stdout.line;
  const args = joinDashValues(argv);
  const parser = yargs(args)
    .scriptName('fsconv')
    .usage('$0 <command> DEVICE [options]\n\nConverts filesystems in place (ext2 → FAT). DEVICE is a block device or an image file.')
    .command(
      'info <device>',
      'Show what is on DEVICE: filesystem, sizes, counts, free space (reads only)',
      (y) => y.positional('device', { type: 'string', demandOption: true, describe: 'block device or image file' }),
      (a) => {
        result = infoCommand({ device: a.device as string, json: a.json as boolean, quiet: a.quiet as boolean, partition: parsePartition(a.partition) }, stdoutLine);
      },
    )
    .command(
      'ls <device>',
      'List every entry on DEVICE with its Unix metadata (reads only)',
      (y) => y.positional('device', { type: 'string', demandOption: true, describe: 'block device or image file' })
        .option('tz', { type: 'string', default: 'local', describe: 'time zone of FAT times without a rights file: local, UTC, an IANA zone (Europe/Paris) or ±HH:MM within ±14:00' })
        .option('strict', { type: 'boolean', default: false, describe: 'exit 1 when any rights record is no longer trusted: the volume was changed on FAT since its conversion' }),
      (a) => {
        const tz = parseTz(a.tz);
        const partition = parsePartition(a.partition);
        result = lsCommand({ device: a.device as string, json: a.json as boolean, quiet: a.quiet as boolean, tz, partition, strict: a.strict as boolean }, stdoutLine);
      },
    )
    .command(
      ['convert <source>', '$0 <source>'],
      'Convert SOURCE to FAT in place (asks first; --yes to skip), or with --output build a new FAT image and leave SOURCE untouched',
      (y) => convertOptions(y),
      (a) => {
        const { args, note } = convertArgs(a, false);
        result = convertCommand(args, stdoutLine);
        if (note !== null) process.stderr.write(`fsconv: ${note}\n`);
      },
    )
    .command(
      'resume <device>',
      'Finish a conversion that was interrupted (a crash, a power cut) after its commit point',
      (y) => y.positional('device', { type: 'string', demandOption: true, describe: 'the device being converted' })
        .option('discard', { type: 'boolean', default: false, describe: 'drop a stale or damaged journal that lies beside a readable ext2 (never a sound one)' }),
      (a) => {
        result = resumeCommand({ device: a.device as string, json: a.json as boolean, quiet: a.quiet as boolean, discard: a.discard as boolean, partition: parsePartition(a.partition) }, stdoutLine);
      },
    )
    .command(
      'check <source>',
      'Dry run of convert: feasible or not, which FAT type and cluster size and why, what will be renamed or lost; writes nothing',
      (y) => convertOptions(y),
      (a) => {
        const { args, note } = convertArgs(a, true);
        result = convertCommand(args, stdoutLine);
        if (note !== null) process.stderr.write(`fsconv: ${note}\n`);
      },
    )
    .option('json', { type: 'boolean', default: false, describe: 'machine-readable output' })
    .option('partition', { type: 'number', describe: 'on a whole-disk image or disk: the partition to use (default: the only one holding what the command needs)' })
    .option('quiet', { type: 'boolean', default: false, alias: 'q', describe: 'no progress bars' })
    .demandCommand(1, 'Say what to do: convert, check, info or ls.')
    .strict()
    .wrap(helpWidth())
    .help()
    .version(false)
    .exitProcess(false)
    .fail((msg, err) => {
      throw err ?? new UsageError(msg);
    });

  try {
    refuseMissingValues(args);
    await parser.parseAsync();
    stdout.flush();
    return result;
  } catch (e) {
    if (e instanceof OutputClosed) return result;
    try {
      stdout.flush();
    } catch {
      /* the reader is gone; the error below still goes to stderr */
    }
    if (e instanceof OptionError) {
      // Says which option and what it takes: one line, no pointer to --help.
      process.stderr.write(`fsconv: ${e.message}\n`);
      return EXIT_USAGE;
    }
    if (e instanceof UsageError) {
      process.stderr.write(`fsconv: ${e.message}\nRun 'fsconv --help' for usage.\n`);
      return EXIT_USAGE;
    }
    // Every format's refusal is an FsconvError (ext2, FAT, rights file, partition table, journal, conversion).
    if (e instanceof FsconvError || e instanceof DeviceError || e instanceof ConvertRefusal || e instanceof InterruptedConversion || e instanceof TargetRefusal) {
      process.stderr.write(`fsconv: ${e.message}\n`);
      return EXIT_FAILED;
    }
    // A bug of ours, not bad input: still one line, with the stack only on request.
    const err = e as Error;
    process.stderr.write(`fsconv: internal error: ${err?.message ?? String(e)}\n`);
    if (process.env.FSCONV_DEBUG) process.stderr.write(`${err?.stack ?? ''}\n`);
    return EXIT_FAILED;
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function convertOptions(y: any) {
  return y
    .positional('source', { type: 'string', demandOption: true, describe: 'ext2 device/image; a directory with --from dir; a FAT device/image with --from vfat+rights' })
    .option('from', { choices: ['ext2', 'ext3', 'ext4', 'dir', 'vfat+rights'], demandOption: true, describe: 'what SOURCE holds (ext2, ext3, ext4: the ext family, read alike; dir and vfat+rights: only with --output)' })
    .option('to', { choices: ['vfat+rights', 'vfat', 'msdos'], default: 'vfat+rights', describe: 'FAT flavour to build' })
    .option('output', { alias: 'o', type: 'string', describe: 'write a new FAT image here instead of converting in place' })
    .option('size', { type: 'string', describe: 'with --output: size of the FAT filesystem (bytes or K/M/G/T; default: the source size; needed with --from dir)' })
    .option('fat-bits', { choices: [12, 16, 32], type: 'number', describe: 'force the FAT type' })
    .option('cluster-size', { type: 'string', describe: 'force the cluster size: a power of two from 512 to 65536 bytes, as 4096 or 4K (65536 only this way)' })
    .option('keep-partition-type', { type: 'boolean', default: false, describe: 'in place in a partition: leave its type in the partition table (by default it becomes a FAT type)' })
    .option('root-entries', { type: 'number', describe: 'FAT12/16: entries of the fixed root directory (16..65520, rounded up to whole sectors; default 512, as mkfs.fat)' })
    .option('label', { type: 'string', describe: "volume label: up to 11 of A-Z 0-9 space ! # $ % & ' ( ) - @ ^ _ ` { } ~, lower case stored upper case (with a note), '' for none; anything else is refused (default: the source's volume name)" })
    .option('volume-id', { type: 'string', describe: 'volume serial number: 8 hex digits, as 1234ABCD or 1234-ABCD (default: from the source: the ext2 UUID, the FAT volume ID)' })
    .option('codepage', { type: 'string', default: 'cp437', describe: 'OEM code page of short names: a single-byte DOS one (cp437, cp850, cp852, cp866, …; also 850)' })
    .option('source-charset', { type: 'string', default: 'utf-8', describe: 'how source names are encoded: utf-8 or another charset that keeps ASCII as is (latin1, cp1252, shift_jis, gbk, …)' })
    .option('tz', { type: 'string', default: 'local', describe: 'time zone of FAT times: local, UTC, an IANA zone (Europe/Paris) or ±HH:MM within ±14:00' })
    .option('partition-table', { choices: ['mbr'], describe: 'with --output: wrap the filesystem in a disk image with one partition' })
    .option('yes', { alias: 'y', type: 'boolean', default: false, describe: 'in place: convert without asking' })
    .option('force', { type: 'boolean', default: false, describe: 'with --output: replace an existing file, or overwrite a block device' });
}

/**
 * The convert/check options, every value and combination checked (OptionError) before anything is
 * opened; with the note to print once the command has run (not before a refusal, which stays one
 * line) when FAT stores the label otherwise than given.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function convertArgs(a: any, dryRun: boolean): { args: ConvertArgs; note: string | null } {
  // ext2, ext3 and ext4 name one importer: the ext family, told apart by its features (info says which).
  const from: ConvertArgs['from'] = a.from === 'ext3' || a.from === 'ext4' ? 'ext2' : a.from;
  const output = a.output as string | undefined;
  checkMode({
    from, output, size: a.size, partitionTable: a.partitionTable, force: a.force, yes: a.yes,
    keepPartitionType: a.keepPartitionType, partition: a.partition, rootEntries: a.rootEntries, fatBits: a.fatBits,
  });
  const codepage = parseCodepage(a.codepage);
  const sourceCharset = parseSourceCharset(a.sourceCharset);
  const tz = parseTz(a.tz);
  const size = a.size !== undefined ? parseSize(a.size) : undefined;
  const clusterSize = a.clusterSize !== undefined ? parseClusterSize(a.clusterSize) : undefined;
  const volumeId = a.volumeId !== undefined ? volumeIdText(parseVolumeId(a.volumeId)) : undefined;
  const label = a.label !== undefined ? parseLabel(a.label) : undefined;
  const partition = parsePartition(a.partition);
  const rootEntries = parseRootEntries(a.rootEntries);
  const args: ConvertArgs = {
    from, to: a.to, source: a.source, output, size, fatBits: a.fatBits, clusterSize,
    partition, keepPartitionType: a.keepPartitionType as boolean, rootEntries, label: label?.label, volumeId, codepage, sourceCharset, tz,
    partitionTable: a.partitionTable, json: a.json, quiet: a.quiet, dryRun, yes: a.yes, force: a.force,
  };
  return { args, note: label?.note ?? null };
}
