// Runs the built fsconv CLI the way a user does (a separate process), with a bounded heap so a
// reader that allocated in proportion to a number read from disk would crash the test, and a
// timeout so one that hangs would fail it.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runAsync, toolPath } from './run.js';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const FSCONV_BIN = join(REPO_ROOT, 'packages', 'cli', 'bin', 'fsconv.mjs');

export interface FsconvResult {
  status: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * Runs fsconv in a child process, asynchronously: the test worker's event loop keeps running (vitest
 * reports through it and gives up on a worker silent for 60 s).
 */
export function fsconv(args: readonly string[], opts: { heapMiB?: number; timeoutMs?: number; env?: Record<string, string> } = {}): Promise<FsconvResult> {
  return runAsync(process.execPath, [`--max-old-space-size=${opts.heapMiB ?? 256}`, FSCONV_BIN, ...args], {
    timeoutMs: opts.timeoutMs ?? 60_000,
    env: { ...process.env, PATH: toolPath(), ...opts.env },
  });
}

/** A refusal as the brief wants it: exit 1 and exactly one line on stderr, no stack trace. */
export function expectOneLineRefusal(r: FsconvResult): string {
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  if (r.status !== 1 || lines.length !== 1 || !lines[0]!.startsWith('fsconv: ') || /internal error|\n\s+at /.test(r.stderr)) {
    throw new Error(`expected a one-line refusal with exit 1, got exit ${r.status}:\n${r.stderr}`);
  }
  return lines[0]!;
}

export const sha256File = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');
