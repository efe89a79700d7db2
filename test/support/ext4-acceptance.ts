// The ext4 acceptance of issue 13 on one used image, shared by the ext4 tests: e2fsck -fn clean,
// `info` says ext4, `ls --json` equal to the kernel's view on every field (attributes apart: the
// kernel view has none), and the in-place conversion of a copy passing every FAT check, with the
// original, mounted read-only, as the host tree.
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { e2fsckCheck } from './ext2-image.js';
import { assertFatAcceptance } from './fat-acceptance.js';
import { fsconv } from './fsconv.js';
import { parseLsJsonLines, sortEntries, type LsEntry } from './ls-entry.js';
import { kernelView, unmount, type View } from './reference-view.js';
import { run } from './run.js';

const BIG = { timeoutMs: 300_000, heapMiB: 512 };

/**
 * The reading half: e2fsck -fn clean, `info` says ext4, `ls --json --tz UTC` equal to the kernel's
 * view on every field but attributes. Returns our listing (sorted), the kernel's view and the raw
 * `ls` output (the source listing a conversion is compared with).
 */
export async function expectExt4ListedAsKernel(img: string): Promise<{ ours: LsEntry[]; ref: View; lsStdout: string }> {
  const fsck = e2fsckCheck(img);
  expect(fsck.status, fsck.output).toBe(0);
  const info = await fsconv(['info', '--json', img], BIG);
  expect(info.status, info.stderr).toBe(0);
  expect((JSON.parse(info.stdout) as { type: string }).type).toBe('ext4');
  const ref = kernelView(img);
  const ls = await fsconv(['ls', '--json', '--tz', 'UTC', img], BIG);
  expect(ls.status, ls.stderr).toBe(0);
  const ours = sortEntries(parseLsJsonLines(ls.stdout));
  expect(ours.map(({ xattrs: _x, ...e }) => e)).toEqual(ref.entries);
  return { ours, ref, lsStdout: ls.stdout };
}

/**
 * The in-place half: a copy of `img` converted with `--from` (ext4 unless told), judged by
 * assertFatAcceptance against the original mounted read-only (the copy and the mount point go in
 * `work`, named by `tag`). `lsStdout` is the source's `ls --json --tz UTC`.
 */
export async function expectExt4ConvertedInPlace(img: string, work: string, tag: string, lsStdout: string, from = 'ext4'): Promise<void> {
  const converted = join(work, `${tag}-converted.img`);
  copyFileSync(img, converted);
  const conv = await fsconv(['--from', from, '--to', 'vfat+rights', converted, '--yes', '--json', '--tz', 'UTC'], BIG);
  expect(conv.status, conv.stderr).toBe(0);
  const report = JSON.parse(conv.stdout) as { renames: Array<{ path: string; fatName: string; reason: string }> };
  const hostRoot = join(work, `${tag}-host`);
  mkdirSync(hostRoot);
  run('mount', ['-o', 'loop,ro,noatime', img, hostRoot]);
  try {
    await assertFatAcceptance({ img: converted, partitionOffset: 0, target: 'vfat+rights', hostRoot, sourceListing: parseLsJsonLines(lsStdout), report, fromExt2: true });
  } finally {
    unmount(hostRoot);
  }
}

/**
 * Both halves; `between` runs after the listing is compared and before the conversion.
 * Returns our listing.
 */
export async function expectExt4ReadAndConverted(
  img: string, work: string, tag: string, between?: (ours: LsEntry[], ref: View) => void,
): Promise<LsEntry[]> {
  const { ours, ref, lsStdout } = await expectExt4ListedAsKernel(img);
  between?.(ours, ref);
  await expectExt4ConvertedInPlace(img, work, tag, lsStdout);
  return ours;
}
