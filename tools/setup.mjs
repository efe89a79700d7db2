#!/usr/bin/env node
// Set-up shared by the README's commands: install the workspace with the pinned pnpm
// (through npx, so a fresh clone needs only Node and npm) and build every package.
// Idempotent and quick when nothing changed (pnpm and tsc -b both skip up-to-date work).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const pnpmSpec = pkg.packageManager; // e.g. "pnpm@10.34.8": one pinned version everywhere

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.error) {
    console.error(`setup: cannot run ${cmd}: ${r.error.message}`);
    process.exit(1);
  }
  if (r.status !== 0) {
    console.error(`setup: '${cmd} ${args.join(' ')}' failed (exit ${r.status})`);
    process.exit(1);
  }
}

const quiet = ['--reporter=silent'];
run('npx', ['--yes', pnpmSpec, 'install', '--frozen-lockfile', ...quiet]);
run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-b']);
