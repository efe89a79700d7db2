import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'vitest';
import { makeExt2Image } from './support/ext2-image.js';
import { buildFatTrapTree } from './support/fat-trees.js';
import { fsconv } from './support/fsconv.js';
import { buildSmallTree, buildTree } from './support/trees.js';

it('explore', async () => {
  const work = mkdtempSync(join(tmpdir(), 'fsconv-explore-'));
  buildSmallTree(join(work, 'small'));
  buildFatTrapTree(join(work, 'traps'));
  buildTree(join(work, 'full'), { blockSize: 4096, inodeSize: 256 });
  const imgs = {
    small: makeExt2Image({ src: join(work, 'small'), out: join(work, 'small.img'), blockSize: 1024, inodeSize: 128 }),
    traps: makeExt2Image({ src: join(work, 'traps'), out: join(work, 'traps.img'), blockSize: 4096 }),
    full: makeExt2Image({ src: join(work, 'full'), out: join(work, 'full.img'), blockSize: 4096 }),
  };
  for (const [name, img] of Object.entries(imgs)) {
    copyFileSync(img, `/tmp/explore/${name}.img`);
    for (const extra of [[], ['--fat-bits', '16'], ['--fat-bits', '32']]) {
      const c = `${img}.c`;
      copyFileSync(img, c);
      const r = await fsconv(['--from', 'ext2', '--to', 'vfat+rights', c, '--yes', '--json', '--tz', 'UTC', '-q', ...extra]);
      const j = r.status === 0 ? JSON.parse(r.stdout) : {};
      console.log(name, extra.join(' '), r.status, r.ms, 'ms', j.deviceWrites, j.fatBits, j.clusterSize, r.stderr.slice(0, 300));
      rmSync(c);
    }
  }
  rmSync(work, { recursive: true, force: true });
}, 600_000);
