// The help text wraps at 80 columns without a terminal (the tests have none), at word boundaries:
// every line fits, and every description reads whole once the wrapping is undone.
import { expect, it } from 'vitest';
import { fsconv } from './support/fsconv.js';

const unwrap = (text: string): string => text.replace(/\s+/g, ' ');

it('wraps the help at 80 columns without breaking words', async () => {
  for (const args of [['--help'], ['convert', '--help'], ['resume', '--help'], ['ls', '--help']]) {
    const r = await fsconv(args);
    expect(r.status, r.stderr).toBe(0);
    const long = r.stdout.split('\n').filter((l) => [...l].length > 80);
    expect(long, `fsconv ${args.join(' ')}`).toEqual([]);
    // Each description, with its words in one piece (yargs' ES module build split "free" as "fr ee").
    const text = unwrap(r.stdout);
    if (args[0] === '--help') {
      expect(text).toContain('Show what is on DEVICE: filesystem, sizes, counts, free space (reads only)');
      expect(text).toContain('Converts filesystems in place (ext2 → FAT). DEVICE is a block device or an image file.');
    }
    if (args[0] === 'convert') expect(text).toContain('FAT12/16: entries of the fixed root directory (16..65520, rounded up to whole sectors; default 512, as mkfs.fat)');
    if (args[0] === 'resume') expect(text).toContain('drop a stale or damaged journal that lies beside a readable ext2 (never a sound one)');
  }
});
