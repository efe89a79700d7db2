// The e2fsprogs test images (../shared/corpus/e2fsprogs, read in place, never copied into this
// repository): where they are, how to unpack one, and e2fsprogs' own verdict on it.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { REPO_ROOT } from './fsconv.js';
import { RunError, run, tryRun } from './run.js';

export const CORPUS = process.env['FSCONV_CORPUS'] ?? join(REPO_ROOT, '..', 'shared', 'corpus', 'e2fsprogs');
export const corpusPresent = existsSync(CORPUS);

/** Says plainly when the corpus is absent (and fails in CI, where it must be there). */
export function noteCorpusAbsence(what: string): void {
  if (corpusPresent) return;
  if (process.env['CI']) throw new Error(`the e2fsprogs corpus is missing at ${CORPUS} (it must be there in CI)`);
  console.log(`NOTE: e2fsprogs corpus not found at ${CORPUS}: ${what} were NOT run.`);
}

/** The image files, sorted. */
export const corpusImages: string[] = corpusPresent ? readdirSync(CORPUS).filter((f) => /\.img\.(gz|bz2)$/.test(f)).sort() : [];

/** The features the reader accepts (ext2-facts.md, and issue 13's ext4 set read so far), as dumpe2fs names them. */
export const SUPPORTED_FEATURES = new Set(['dir_prealloc', 'imagic_inodes', 'has_journal', 'ext_attr', 'resize_inode',
  'dir_index', 'filetype', 'sparse_super', 'large_file',
  'extent', '64bit', 'flex_bg', 'huge_file', 'dir_nlink', 'extra_isize', 'metadata_csum', 'uninit_bg', 'metadata_csum_seed',
  'meta_bg', 'sparse_super2', 'large_dir', 'inline_data', 'quota', 'mmp', 'fast_commit', 'orphan_file', 'stable_inodes']);

/**
 * Images e2fsck -fn lets pass (exit 0) that fsconv refuses, each for a reason docs/ext2-reader.md
 * gives: e2fsck -n reports something on them and exits 0 because it would only optimise, or
 * because it ignores what the kernel refuses. Refusing is the safe side; every other clean
 * supported image must be accepted.
 */
export const STRICTER_THAN_E2FSCK: Readonly<Record<string, string>> = {
  // e2fsck: "extent tree could be more shallow (7; could be <= 4)"; the kernel refuses a depth over 5.
  'f_extent_too_deep.img.gz': 'extent tree depth 7, more than 5',
  // e2fsck: "block group descriptor checksums are invalid ... IGNORED"; the kernel refuses to mount.
  'f_uninit_enable.img.gz': 'group descriptor checksum 0x0 does not match',
  // i_blocks charges 10 sectors for an EA inode on a filesystem without ea_inode; e2fsck 1.47.0 keeps it.
  'f_ea_inode_no_feature.img.gz': 'i_blocks is 10, should be 0',
};

/** Decompresses one image into `dir` and returns its path. */
export function unpackCorpusImage(file: string, dir: string): string {
  const out = join(dir, file.replace(/\.(gz|bz2)$/, ''));
  const src = join(CORPUS, file);
  writeFileSync(out, file.endsWith('.gz') ? gunzipSync(readFileSync(src)) : run('bzip2', ['-dc', src]).stdout);
  return out;
}

/** e2fsck -fn's verdict, the superblock state, and the feature names dumpe2fs reports. */
export function corpusReference(img: string): { clean: boolean; stateClean: boolean; features: string[]; supported: boolean } {
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
  const stateClean = /^Filesystem state:\s*clean\s*$/m.test(header);
  const supported = features.every((f) => SUPPORTED_FEATURES.has(f));
  const stricter = STRICTER_THAN_E2FSCK[basename(img).replace(/\.img$/, '.img.gz')] !== undefined;
  return { clean: clean && !stricter, stateClean, features, supported };
}
