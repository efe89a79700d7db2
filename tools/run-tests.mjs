#!/usr/bin/env node
// Runs every test (vitest) after type-checking the test code, then prints the plain closing
// line CI reads: "tests: N passed, N failed, N skipped". Exit code: vitest's (non-zero on any failure).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);

const typecheck = spawnSync(bin('tsc'), ['-p', join(root, 'tsconfig.test.json')], { cwd: root, stdio: 'inherit' });
if (typecheck.status !== 0) {
  console.error('tests: type errors in the test code (see above)');
  console.log('0 passed, 1 failed');
  process.exit(1);
}

const dir = mkdtempSync(join(tmpdir(), 'fsconv-vitest-'));
const report = join(dir, 'report.json');
const r = spawnSync(bin('vitest'), ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
});
let line = 'tests: no report was written';
try {
  const j = JSON.parse(readFileSync(report, 'utf8'));
  // Suites that failed to load count as failures too.
  const failedSuites = (j.testResults ?? []).filter((t) => t.status === 'failed' && (t.assertionResults ?? []).length === 0).length;
  line = `tests: ${j.numPassedTests} passed, ${j.numFailedTests + failedSuites} failed, ${j.numPendingTests + j.numTodoTests} skipped`;
} catch {
  /* vitest died before reporting: its exit code says so */
}
rmSync(dir, { recursive: true, force: true });
console.log(line);
process.exit(r.status ?? 1);
