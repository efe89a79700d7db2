// The benchmark harness (tools/bench, docs/performance.md) end to end at its small scale, so it
// cannot rot: every scenario generated, imaged and measured, every tool row present with positive
// times and RSS, the conversion validated by fsck.fat, the write accounting and the targets in the
// JSON, the table printed. Correctness of the harness, not timing: no figure is judged against a
// target here. A missing tool fails (the bench names it), never skips.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { REPO_ROOT } from './support/fsconv.js';
import { runAsync } from './support/run.js';

const BENCH = join(REPO_ROOT, 'tools', 'bench', 'bench.mjs');
const MiB = 1024 * 1024;

interface Proc {
  status: number;
  stdout: string;
  stderr: string;
}

/** node BENCH args…, asynchronously (a vitest worker blocked for 60 s is killed). */
function bench(args: readonly string[], timeoutMs: number): Promise<Proc> {
  return runAsync(process.execPath, [BENCH, ...args], { timeoutMs });
}

interface Median {
  wall: number;
  cpu: number;
  maxRssKiB: number;
  maxRssMiB: number;
  io: Record<string, number>;
}
interface Row {
  label: string;
  skipped?: string;
  reps?: Array<{ wall: number; maxRssKiB: number; io: Record<string, number> }>;
  median?: Median;
  ratioToE2fsck?: number | null;
  copyPathOverThis?: number | null;
  parts?: Record<string, { median: Median }>;
}
interface Scenario {
  name: string;
  params: Record<string, number>;
  rows: Record<string, Row>;
  convertReport: { fatBits: number; clusterSize: number; space: Record<string, number>; bytesWritten: number; entries: number };
  validation: { status: number; files: number; usedClusters: number };
  writes: { neededBytes: number; writtenBytes: number; writeRatio: number; terms: Record<string, number> };
}
interface Target {
  id: string;
  scenario: string;
  measured: number | null;
  threshold: number;
  op: string;
  met: boolean;
}
interface Doc {
  scale: string;
  reps: number;
  machine: Record<string, unknown>;
  measurement: { check: { wchar: number; write_bytes: number; maxRssKiB: number; ok: boolean } };
  scenarios: Scenario[];
  targets: Target[];
  table: string;
}

let work: string;
let result: Proc;
let doc: Doc;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'fsconv-bench-'));
  result = await bench(['--scale', 'small', '--reps', '1', '--work', join(work, 'work'), '--json', join(work, 'r.json')], 280_000);
  if (result.status !== 0) throw new Error(`the small benchmark failed (exit ${result.status}):\n${result.stderr}`);
  doc = JSON.parse(readFileSync(join(work, 'r.json'), 'utf8')) as Doc;
}, 300_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

const ROWS = ['check', 'convert', 'e2fsck', 'copyPath', 'rawRead'];

it('the measurement works here: dd writing 8 MiB shows in /proc/PID/io and GNU time sees its RSS', () => {
  const c = doc.measurement.check;
  expect(c.ok).toBe(true);
  expect(c.wchar).toBeGreaterThanOrEqual(8 * MiB);
  expect(c.write_bytes).toBeGreaterThanOrEqual(8 * MiB);
  expect(c.maxRssKiB).toBeGreaterThan(0);
});

it('measures every scenario and every row, with positive times, RSS and byte counts', () => {
  expect(doc.scale).toBe('small');
  expect(doc.scenarios.map((s) => s.name)).toEqual(['home', 'home4', 'smallfiles', 'sparse1t']);
  for (const sc of doc.scenarios) {
    expect(sc.params['files'], sc.name).toBeGreaterThan(0);
    expect(sc.params['imageBytes'], sc.name).toBeGreaterThan(0);
    for (const key of ROWS) {
      const row = sc.rows[key]!;
      expect(row, `${sc.name}.${key}`).toBeDefined();
      if (row.skipped !== undefined) {
        // Only the sparse image skips, and only the rows that would read or copy its holes.
        expect(`${sc.name}.${key}`).toMatch(/^sparse1t\.(rawRead|copyPath)$/);
        expect(row.skipped).toMatch(/^skipped: /);
        continue;
      }
      expect(row.reps, `${sc.name}.${key}`).toHaveLength(1);
      const m = row.median!;
      expect(m.wall, `${sc.name}.${key} wall`).toBeGreaterThan(0);
      expect(m.maxRssKiB, `${sc.name}.${key} RSS`).toBeGreaterThan(0);
      expect(m.io['rchar'], `${sc.name}.${key} rchar`).toBeGreaterThan(0);
      expect(typeof row.ratioToE2fsck, `${sc.name}.${key} ratio`).toBe('number');
    }
    expect(sc.rows['e2fsck']!.ratioToE2fsck).toBe(1);
    // fsconv is a Node process: tens of MiB at least; the measurement must see the child, not the shell.
    expect(sc.rows['convert']!.median!.maxRssKiB, sc.name).toBeGreaterThan(20 * 1024);
    expect(sc.rows['convert']!.median!.io['wchar'], sc.name).toBeGreaterThanOrEqual(sc.convertReport.bytesWritten);
  }
  for (const name of ['home', 'home4', 'smallfiles']) {
    const cp = doc.scenarios.find((s) => s.name === name)!.rows['copyPath']!;
    expect(Object.keys(cp.parts!)).toEqual(['rdump', 'mkfs', 'mcopy', 'sync']);
    expect(cp.parts!['mcopy']!.median.io['wchar'], name).toBeGreaterThan(0);
    expect(cp.copyPathOverThis).toBe(1);
  }
  // The raw read of the home image reads all of it.
  const home = doc.scenarios[0]!;
  expect(home.rows['rawRead']!.median!.io['rchar']).toBeGreaterThanOrEqual(home.params['imageBytes']!);
});

it('validated every conversion and accounted its writes', () => {
  for (const sc of doc.scenarios) {
    expect(sc.validation.status, sc.name).toBe(0);
    expect(sc.validation.files, sc.name).toBeGreaterThanOrEqual(sc.params['files']!);
    expect([12, 16, 32]).toContain(sc.convertReport.fatBits);
    expect(sc.convertReport.entries, sc.name).toBeGreaterThan(sc.params['files']!);
    for (const k of ['frontRegionBytes', 'directoryBytes', 'rightsFileBytes', 'symlinkBytes', 'bytesMoved', 'bytesDuplicated', 'bytesHoles']) {
      expect(typeof sc.writes.terms[k], `${sc.name} ${k}`).toBe('number');
    }
    expect(sc.writes.neededBytes, sc.name).toBeGreaterThan(0);
    expect(sc.writes.writtenBytes, sc.name).toBeGreaterThan(0);
    expect(sc.writes.writeRatio, sc.name).toBeCloseTo(sc.writes.writtenBytes / sc.writes.neededBytes, 3);
  }
});

it('evaluates every target of issue 5 with numbers', () => {
  const ids = doc.targets.map((t) => t.id);
  expect(ids).toEqual([
    'home.convert-vs-e2fsck', 'home.convert-vs-copy-path', 'home.write-ratio',
    'home4.convert-vs-e2fsck', 'home4.convert-vs-copy-path', 'home4.write-ratio',
    'smallfiles.convert-vs-e2fsck', 'smallfiles.convert-vs-copy-path', 'smallfiles.write-ratio', 'smallfiles.convert-peak-rss',
    'sparse1t.convert-vs-e2fsck', 'sparse1t.write-ratio', 'sparse1t.convert-peak-rss',
  ]);
  for (const t of doc.targets) {
    expect(typeof t.measured, t.id).toBe('number');
    expect(Number.isFinite(t.measured), t.id).toBe(true);
    expect(typeof t.threshold, t.id).toBe('number');
    expect(t.met, t.id).toBe(t.op === '<=' ? t.measured! <= t.threshold : t.measured! >= t.threshold);
  }
  for (const k of ['cpuModel', 'cpus', 'totalMemoryBytes', 'os', 'node', 'date']) expect(doc.machine[k], k).toBeDefined();
});

it('prints the table: one per scenario with every row, then the targets', () => {
  const out = result.stdout;
  expect(out).toBe(`${doc.table}\n`);
  for (const name of ['home', 'home4', 'smallfiles', 'sparse1t']) expect(out).toMatch(new RegExp(`^### ${name} \\(small\\)`, 'm'));
  for (const label of ['fsconv check', 'fsconv convert (in place)', 'e2fsck -fn', 'copy path', 'raw read (dd)']) {
    expect(out.split('\n').filter((l) => l.startsWith(`| ${label}`))).toHaveLength(4);
  }
  expect(out).toMatch(/^### Targets$/m);
  expect(out.split('\n').filter((l) => / \| (met|\*\*NOT met\*\*) \|$/.test(l))).toHaveLength(doc.targets.length);
});

it('refuses a bad option in one message, exit 1', async () => {
  for (const args of [['--scale', 'huge'], ['--only', 'nope'], ['--frobnicate']]) {
    const r = await bench(args, 30_000);
    expect(r.status, args.join(' ')).toBe(1);
    expect(r.stderr, args.join(' ')).toMatch(/^bench: /);
    expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
  }
});
