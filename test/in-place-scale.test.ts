// Scale: a sparse 1 TiB ext2 holding a few hundred files converts in place within the memory bound
// of issue 5 (peak RSS ≤ 300 MiB: FAT tables streamed, block maps as extents, bitmaps at one bit
// per block), and the FAT is strictly clean for fsck.fat with every file's bytes as they were.
// Memory is a property of the algorithm, not of the machine's speed, so it is asserted here; the
// times are what tools/bench measures.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { fsckFatStrict, mtoolsExtract } from './support/fat-validate.js';
import { REPO_ROOT } from './support/fsconv.js';
import { run, runAsync } from './support/run.js';
import { prngBytes } from './support/trees.js';

const TIB = 2 ** 40;
const PEAK_RSS_LIMIT_MIB = 300;
const GNU_TIME = '/usr/bin/time';

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'fsconv-scale-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Runs a command under GNU time; resolves with its exit status, output and peak RSS in KiB. */
async function timed(cmd: string, args: string[], timeoutMs: number): Promise<{ status: number; stdout: string; stderr: string; peakKiB: number }> {
  const report = join(work, `time-${Date.now()}.txt`);
  const r = await runAsync(GNU_TIME, ['-f', '%M', '-o', report, cmd, ...args], { timeoutMs });
  const lines = readFileSync(report, 'utf8').trim().split('\n');
  return { ...r, peakKiB: Number(lines[lines.length - 1]) };
}

it('a sparse 1 TiB ext2 converts in place within 300 MiB and validates strictly', async () => {
  expect(existsSync(GNU_TIME), `${GNU_TIME} (Debian package "time") measures the peak RSS: apt-get install -y time`).toBe(true);
  const src = join(work, 'src');
  const expected = new Map<string, Buffer>();
  for (let d = 0; d < 8; d++) {
    mkdirSync(join(src, `dir${d}`), { recursive: true });
    for (let f = 0; f < 40; f++) {
      const rel = `dir${d}/file-${f}.bin`;
      // Sizes from empty to ~1 MiB, some spanning indirect blocks.
      const bytes = prngBytes(`scale-${rel}`, (f * 977 * (d + 1) * 7) % 1_100_000);
      writeFileSync(join(src, rel), bytes);
      expected.set(rel, bytes);
    }
  }
  symlinkSync('dir0/file-1.bin', join(src, 'link'));

  const img = join(work, 'tib.img');
  writeFileSync(img, '');
  run('truncate', ['-s', String(TIB), img]);
  // Default mke2fs settings for a 1 TiB disk (64 Mi inodes: 16 GiB of inode tables, all read by the check).
  run('mke2fs', ['-q', '-F', '-t', 'ext2', '-b', '4096', '-d', src, img]);

  // As a user runs it: through the bin shim, which carries the launcher's heap cap.
  const r = await timed(join(REPO_ROOT, 'node_modules', '.bin', 'fsconv'), ['--from', 'ext2', '--to', 'vfat+rights', img, '--yes', '--json', '--tz', 'UTC'], 15 * 60_000);
  expect(r.status, r.stderr).toBe(0);
  const report = JSON.parse(r.stdout) as { fatBits: number; clusterSize: number; entries: number };
  expect(report.fatBits).toBe(32);
  console.log(`1 TiB sparse ext2 → FAT32 with ${report.clusterSize}-byte clusters: peak RSS ${(r.peakKiB / 1024).toFixed(0)} MiB`);
  expect(r.peakKiB / 1024, `peak RSS ${(r.peakKiB / 1024).toFixed(0)} MiB`).toBeLessThanOrEqual(PEAK_RSS_LIMIT_MIB);

  const fsck = fsckFatStrict(img);
  // 320 files, 8 directories, the symlink, and a rights file in each of the 9 directories.
  expect(fsck.files).toBeGreaterThanOrEqual(320 + 8 + 1 + 9);

  const out = join(work, 'out');
  mtoolsExtract(img, out);
  for (const [rel, bytes] of expected) {
    const got = readFileSync(join(out, rel));
    expect(got.equals(bytes), rel).toBe(true);
  }
}, 20 * 60_000);
