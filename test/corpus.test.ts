// e2fsprogs' own test images (../shared/corpus/e2fsprogs, never copied into this repo): real
// filesystems written by others, most of them corrupt or using ext4 features. fsconv must accept
// exactly the ones e2fsck -fn finds clean and whose features are supported (and then list what
// debugfs lists), refuse every other one in one line, never crash or hang, and never change them.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOneLineRefusal, fsconv, REPO_ROOT, sha256File } from './support/fsconv.js';
import { parseLsJsonLines, sortEntries } from './support/ls-entry.js';
import { debugfsView } from './support/reference-view.js';
import { RunError, run, tryRun } from './support/run.js';
import { setTimeout as tick } from 'node:timers/promises';

const CORPUS = process.env['FSCONV_CORPUS'] ?? join(REPO_ROOT, '..', 'shared', 'corpus', 'e2fsprogs');
const present = existsSync(CORPUS);
if (!present) {
  if (process.env['CI']) throw new Error(`the e2fsprogs corpus is missing at ${CORPUS} (it must be there in CI)`);
  console.log(`NOTE: e2fsprogs corpus not found at ${CORPUS}: the corpus tests were NOT run.`);
}

/** The features the spec accepts (ext2-facts.md), as dumpe2fs names them. */
const SUPPORTED = new Set(['dir_prealloc', 'imagic_inodes', 'has_journal', 'ext_attr', 'resize_inode', 'dir_index',
  'filetype', 'sparse_super', 'large_file']);

const images = present ? readdirSync(CORPUS).filter((f) => /\.img\.(gz|bz2)$/.test(f)).sort() : [];
let work: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'fsconv-corpus-'));
  mkdirSync(join(work, 'img'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function unpack(file: string): string {
  const out = join(work, 'img', file.replace(/\.(gz|bz2)$/, ''));
  const src = join(CORPUS, file);
  const bytes = file.endsWith('.gz') ? gunzipSync(readFileSync(src)) : run('bzip2', ['-dc', src]).stdout;
  writeFileSync(out, bytes);
  return out;
}

/** e2fsck's verdict and the feature names dumpe2fs reports. */
function reference(img: string): { clean: boolean; features: string[] } {
  // e2fsck itself loops forever on some images (f_misstable): a verdict it cannot give in time counts as unclean.
  let clean: boolean;
  try {
    clean = tryRun('e2fsck', ['-fn', img], { timeoutMs: 20_000 }).status === 0;
  } catch (e) {
    if (!(e instanceof RunError) || !/ETIMEDOUT/.test(e.message)) throw e;
    clean = false;
  }
  const header = tryRun('dumpe2fs', ['-h', img]).stdout.toString();
  const features = /^Filesystem features:\s*(.*)$/m.exec(header)?.[1]?.trim().split(/\s+/).filter((f) => f !== '(none)') ?? [];
  return { clean, features };
}

describe.skipIf(!present)('e2fsprogs corpus', () => {
  it('has images to test', () => expect(images.length).toBeGreaterThan(50));

  const verdicts: Array<{ image: string; accepted: boolean }> = [];
  for (const file of images) {
    it(file, async () => {
      const img = unpack(file);
      const before = sha256File(img);
      const ref = reference(img);
      const unsupported = ref.features.filter((f) => !SUPPORTED.has(f));
      const shouldAccept = ref.clean && unsupported.length === 0;
      const info = await fsconv(['info', '--json', img], { heapMiB: 128, timeoutMs: 30_000 });
      const ls = await fsconv(['ls', '--json', img], { heapMiB: 128, timeoutMs: 30_000 });
      if (shouldAccept) {
        expect(info.status, info.stderr).toBe(0);
        expect(ls.status, ls.stderr).toBe(0);
        const ours = sortEntries(parseLsJsonLines(ls.stdout));
        await tick(0);
        const theirs = sortEntries(debugfsView(img).entries);
        expect(ours).toEqual(theirs);
      } else {
        expectOneLineRefusal(info);
        expectOneLineRefusal(ls);
      }
      verdicts.push({ image: file, accepted: shouldAccept });
      expect(sha256File(img)).toBe(before);
      rmSync(img);
    });
  }

  it('accepts the clean supported images (at least the known ten)', () => {
    expect(verdicts.filter((v) => v.accepted).length).toBeGreaterThanOrEqual(images.length > 0 ? 10 : 0);
  });
});
