#!/usr/bin/env node
// The README's main command: run fsconv on the bundled sample image (fixtures/sample.ext2).
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const fsconv = join(root, 'node_modules/.bin/fsconv');
const sample = join(root, 'fixtures/sample.ext2');

for (const args of [['info', sample], ['ls', sample]]) {
  console.log(`$ fsconv ${args.join(' ')}`);
  const r = spawnSync(fsconv, args, { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
  console.log();
}
