#!/usr/bin/env node
// The README's main command: convert a copy of the bundled sample ext2 (fixtures/sample.ext2) to
// FAT in place, and show it before and after. The bundled file itself is never changed.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const fsconv = join(root, 'node_modules/.bin/fsconv');
const copy = join(mkdtempSync(join(tmpdir(), 'fsconv-sample-')), 'sample.img');
copyFileSync(join(root, 'fixtures/sample.ext2'), copy);

const steps = [
  ['info', copy],
  ['ls', copy],
  ['check', '--from', 'ext2', '--to', 'vfat+rights', copy],
  ['--from', 'ext2', '--to', 'vfat+rights', copy, '--yes'],
  ['info', copy],
  ['ls', copy],
];
for (const args of steps) {
  console.log(`$ fsconv ${args.join(' ')}`);
  const r = spawnSync(fsconv, args, { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
  console.log();
}
console.log(`The converted image is ${copy} (check it with: fsck.fat -n ${copy}; mdir -i ${copy} ::/)`);
