import yargs from 'yargs';
import { DeviceError } from '@fsconv/device';
import { Ext2Error } from '@fsconv/ext2fs-reader';
import { infoCommand } from './commands/info.js';
import { lsCommand } from './commands/ls.js';
import { LineOutput, OutputClosed } from './output.js';

/** Exit codes: 0 done, 1 refused or failed (one line saying why), 2 usage. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

class UsageError extends Error {}


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
        result = infoCommand({ device: a.device as string, json: a.json as boolean, quiet: a.quiet as boolean }, stdoutLine);
      },
    )
    .command(
      'ls <device>',
      'List every entry on DEVICE with its Unix metadata (reads only)',
      (y) => y.positional('device', { type: 'string', demandOption: true, describe: 'block device or image file' }),
      (a) => {
        result = lsCommand({ device: a.device as string, json: a.json as boolean, quiet: a.quiet as boolean }, stdoutLine);
      },
    )
    .option('json', { type: 'boolean', default: false, describe: 'machine-readable output' })
    .option('quiet', { type: 'boolean', default: false, alias: 'q', describe: 'no progress bars' })
    .demandCommand(1, 'Say what to do: info or ls.')
    .strict()
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
    if (e instanceof Ext2Error || e instanceof DeviceError) {
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
