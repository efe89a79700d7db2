// Bad blocks listed in the ext2's bad-blocks inode (mke2fs -l) become bad clusters in the FAT and
// hold nothing; the FAT entries are read here with a few lines of independent decoding, not with
// fsconv's reader, and fsck.fat must still be strictly clean.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { fsckFatStrict } from './support/fat-validate.js';
import { fsconv } from './support/fsconv.js';
import { BAD_CLUSTER, fatEntry, readBootSector } from './support/in-place-support.js';
import { parseLsJsonLines } from './support/ls-entry.js';
import { run } from './support/run.js';
import { prngBytes } from './support/trees.js';

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'fsconv-bad-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

it('bad blocks of the ext2 become bad clusters of the FAT', async () => {
  const src = join(work, 'src');
  mkdirSync(src);
  for (let i = 1; i <= 20; i++) writeFileSync(join(src, `f${i}`), prngBytes(`bad-${i}`, i * 3000));
  const badBlocks = [3000, 3001, 5000];
  writeFileSync(join(work, 'bad.txt'), badBlocks.join('\n') + '\n');
  const img = join(work, 'b.img');
  run('mke2fs', ['-q', '-t', 'ext2', '-b', '1024', '-I', '128', '-l', join(work, 'bad.txt'), '-d', src, '-F', img, '8M']);
  expect(run('debugfs', ['-R', 'stat <1>', img]).stdout.toString()).toMatch(/3000|5000/);

  const before = parseLsJsonLines((await fsconv(['ls', '--json', img])).stdout);
  const r = await fsconv(['--from', 'ext2', '--to', 'vfat+rights', img, '--yes', '--json', '--tz', 'UTC', '--fat-bits', '16', '--cluster-size', '1024']);
  expect(r.status, r.stderr).toBe(0);
  expect(JSON.parse(r.stdout).space.badClusters).toBe(3);
  fsckFatStrict(img);

  // Independent decoding (the BPB and FAT entries read by the spec, no fsconv code): the clusters
  // over the bad blocks are marked bad, and nothing else is.
  const g = readBootSector(img);
  expect(g.fatBits).toBe(16);
  for (const block of badBlocks) {
    const cluster = 2 + Math.floor((block * 1024 - g.dataStart) / g.clusterSize);
    expect(fatEntry(img, cluster), `FAT entry of cluster ${cluster} (block ${block})`).toBe(BAD_CLUSTER[16]);
  }
  let bad = 0;
  for (let c = 2; c < g.clusterCount + 2; c++) if (fatEntry(img, c) === BAD_CLUSTER[16]) bad++;
  expect(bad).toBe(3);
  const after = parseLsJsonLines((await fsconv(['ls', '--json', img])).stdout);
  const strip = (l: typeof before) => l.map(({ ino: _i, fatPath: _f, ...rest }) => JSON.stringify(rest)).sort();
  expect(strip(after)).toEqual(strip(before));
});
