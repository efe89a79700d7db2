import { createRequire } from 'node:module';
import type yargsType from 'yargs';
import { DeviceError } from '@fsconv/device';
import { Ext2Error } from '@fsconv/ext2fs-reader';
import { infoCommand } from './commands/info.js';
import { lsCommand } from './commands/ls.js';
import { ConvertRefusal, convertCommand, type ConvertArgs } from './commands/convert.js';
import { resumeCommand } from './commands/in-place.js';
import { JournalError } from '@fsconv/core';
import { ConversionError } from '@fsconv/core';
import { FatError } from '@fsconv/fat';
import { InterruptedConversion } from './interruption.js';
import { TargetRefusal } from './target.js';
import { LineOutput, OutputClosed } from './output.js';

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
  const parser = yargs(argv)
    .scriptName('fsconv')
    .usage('$0 <command> DEVICE [options]\n\nConverts filesystems in place (ext2 → FAT). DEVICE is a block device or an image file.')
    .command(
      'info <device>',
      'Show what is on DEVICE: filesystem, sizes, counts, free space (reads only)',
      (y) => y.positional('device', { type: 'string', demandOption: true, describe: 'block device or image file' }),
      (a) => {
        result = infoCommand({ device: a.device as string, json: a.json as boolean, quiet: a.quiet as boolean, partition: partitionOf(a.partition) }, stdoutLine);
      },
    )
    .command(
      'ls <device>',
      'List every entry on DEVICE with its Unix metadata (reads only)',
      (y) => y.positional('device', { type: 'string', demandOption: true, describe: 'block device or image file' })
        .option('tz', { type: 'string', default: 'local', describe: 'time zone of FAT times without a rights file: local, UTC or ±HH:MM' }),
      (a) => {
        result = lsCommand({ device: a.device as string, json: a.json as boolean, quiet: a.quiet as boolean, tz: a.tz as string, partition: partitionOf(a.partition) }, stdoutLine);
      },
    )
    .command(
      ['convert <source>', '$0 <source>'],
      'Convert SOURCE to FAT in place (asks first; --yes to skip), or with --output build a new FAT image and leave SOURCE untouched',
      (y) => convertOptions(y),
      (a) => {
        result = convertCommand(convertArgs(a, false), stdoutLine);
      },
    )
    .command(
      'resume <device>',
      'Finish a conversion that was interrupted (a crash, a power cut) after its commit point',
      (y) => y.positional('device', { type: 'string', demandOption: true, describe: 'the device being converted' })
        .option('discard', { type: 'boolean', default: false, describe: 'drop a stale or damaged journal that lies beside a readable ext2 (never a sound one)' }),
      (a) => {
        result = resumeCommand({ device: a.device as string, json: a.json as boolean, quiet: a.quiet as boolean, discard: a.discard as boolean, partition: partitionOf(a.partition) }, stdoutLine);
      },
    )
    .command(
      'check <source>',
      'Dry run of convert: feasible or not, which FAT type and cluster size and why, what will be renamed or lost; writes nothing',
      (y) => convertOptions(y),
      (a) => {
        result = convertCommand(convertArgs(a, true), stdoutLine);
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
    if (e instanceof UsageError) {
      process.stderr.write(`fsconv: ${e.message}\nRun 'fsconv --help' for usage.\n`);
      return EXIT_USAGE;
    }
    if (e instanceof Ext2Error || e instanceof DeviceError || e instanceof FatError || e instanceof ConvertRefusal || e instanceof ConversionError || e instanceof JournalError || e instanceof InterruptedConversion || e instanceof TargetRefusal) {
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
    .positional('source', { type: 'string', demandOption: true, describe: 'ext2 device/image, or a directory with --from dir' })
    .option('from', { choices: ['ext2', 'dir'], demandOption: true, describe: 'what SOURCE holds' })
    .option('to', { choices: ['vfat+rights', 'vfat', 'msdos'], default: 'vfat+rights', describe: 'FAT flavour to build' })
    .option('output', { alias: 'o', type: 'string', describe: 'write a new FAT image here instead of converting in place' })
    .option('size', { type: 'string', describe: 'size of the FAT filesystem (bytes or K/M/G/T; default: the source size)' })
    .option('fat-bits', { choices: [12, 16, 32], type: 'number', describe: 'force the FAT type' })
    .option('cluster-size', { type: 'number', describe: 'force the cluster size in bytes (512..32768, 65536 allowed when forced)' })
    .option('keep-partition-type', { type: 'boolean', default: false, describe: 'in place in a partition: leave its type in the partition table (by default it becomes a FAT type)' })
    .option('root-entries', { type: 'number', describe: 'FAT12/16: entries of the fixed root directory (16..65520, rounded up to whole sectors; default 512, as mkfs.fat)' })
    .option('label', { type: 'string', describe: 'volume label (default: the ext2 volume name)' })
    .option('volume-id', { type: 'string', describe: 'volume serial number, 8 hex digits (default: from the ext2 UUID)' })
    .option('codepage', { type: 'string', default: 'cp437', describe: 'OEM code page for short names' })
    .option('source-charset', { type: 'string', default: 'utf-8', describe: 'how source names are encoded' })
    .option('tz', { type: 'string', default: 'local', describe: 'time zone of FAT times: local, UTC or ±HH:MM' })
    .option('partition-table', { choices: ['mbr'], describe: 'wrap the filesystem in a disk image with one partition' })
    .option('yes', { alias: 'y', type: 'boolean', default: false, describe: 'convert in place without asking' })
    .option('force', { type: 'boolean', default: false, describe: 'with --output: replace an existing file, or overwrite a block device' });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function convertArgs(a: any, dryRun: boolean): ConvertArgs {
  return {
    from: a.from, to: a.to, source: a.source, output: a.output, size: a.size, fatBits: a.fatBits, clusterSize: a.clusterSize,
    partition: partitionOf(a.partition), keepPartitionType: a.keepPartitionType as boolean, rootEntries: rootEntriesOf(a.rootEntries), label: a.label, volumeId: a.volumeId, codepage: a.codepage, sourceCharset: a.sourceCharset, tz: a.tz,
    partitionTable: a.partitionTable, json: a.json, quiet: a.quiet, dryRun, yes: a.yes, force: a.force,
  };
}

/** --root-entries: a whole number the BPB can hold (its 16-bit field, whole 512-byte sectors of entries). */
function rootEntriesOf(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 16 || v > 65520) throw new UsageError(`--root-entries must be a whole number from 16 to 65520, not '${String(v)}'`);
  return v;
}

/** --partition: a partition number as Linux counts them (1..4 primary, 5.. logical; GPT entries). */
function partitionOf(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 4096) throw new UsageError(`--partition must be a partition number (1, 2, …), not '${String(v)}'`);
  return v;
}
