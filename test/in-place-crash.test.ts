// The in-place conversion's crash sweep: a conversion killed after any device write, with or without
// losing the writes since the last flush (a power cut), leaves the device either an intact ext2
// (every block the ext2 uses byte-identical, e2fsck -fn clean, no marker anywhere: nothing that
// could be replayed) or committed (not an ext2 any more: the marker over the superblock's magic, or
// its copy in sector 0, points at the journal). `fsconv info` says "interrupted" exactly in the
// committed states; convert then refuses and points at `fsconv resume`, which finishes the job with
// bytes identical to an uninterrupted conversion; from an ext2 state, convert does. Also a crash
// during the rerun, then a final rerun.
//
// The crash points come from the fault hook of packages/core/src/in-place/crash-device.ts
// (FSCONV_CRASH_AFTER_WRITES=N, FSCONV_CRASH_MODE=kill|powerloss). The write sequence of a run is:
// staging writes into ext2-free blocks (1 .. M-2), the journal (M-1), then the commit from the
// journal (M .. W), whose first write, the marker over bytes 1024..1535, is the commit point, and
// whose last, the boot sector over the marker's copy in sector 0, makes the device FAT. The commit
// is what `resume` writes: M is W minus resume's writes plus one; the sweep checks the state each
// crash leaves against it.
//
// Every crash state of every write is checked in process by test/crash-states.test.ts; this test
// proves the fault hook and the real process: CI crashes at 16 write counts per mode and image (the
// first three, three each side of the commit point, the last three, the rest spread);
// tools/crash-sweep.sh (FSCONV_CRASH_SWEEP=1) at every write count. FSCONV_CRASH_IMAGES=small,traps,fat32
// limits the images.
import { closeSync, copyFileSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as tick } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { e2fsckCheck, ext2FreeBlocks, makeExt2Image } from './support/ext2-image.js';
import { canonicalListing } from './support/fat-acceptance.js';
import { buildFatTrapTree } from './support/fat-trees.js';
import { validateFatStructure } from './support/fat-validate.js';
import { expectOneLineRefusal, fsconv, sha256File, type FsconvResult } from './support/fsconv.js';
import { parseLsJsonLines } from './support/ls-entry.js';
import { run } from './support/run.js';
import { buildSmallTree } from './support/trees.js';

const SWEEP = process.env['FSCONV_CRASH_SWEEP'] !== undefined && process.env['FSCONV_CRASH_SWEEP'] !== '';
/** Crash runs going on at once (the machine has two cores). */
const PARALLEL = 2;

type Mode = 'kill' | 'powerloss';
const MODES: Mode[] = ['kill', 'powerloss'];

interface ImageSpec {
  name: string;
  tree: 'small' | 'traps';
  blockSize: 1024 | 4096;
  inodeSize: 128 | 256;
  sizeBytes?: number;
  /** Extra convert options (the same for every run on this image). */
  extra: string[];
  /** The FAT type the reference conversion must choose (so the image keeps testing what it claims). */
  fatBits: 12 | 16 | 32;
  /** Crash counts per mode in CI (the sweep takes every one). */
  counts: number;
}

const ALL_IMAGES: ImageSpec[] = [
  // FAT16, 1 KiB clusters on 1 KiB blocks.
  { name: 'small', tree: 'small', blockSize: 1024, inodeSize: 128, extra: [], fatBits: 16, counts: 16 },
  // FAT12, 4 KiB clusters on 4 KiB blocks; a root directory full of traps (fixed-size FAT12 root).
  { name: 'traps', tree: 'traps', blockSize: 4096, inodeSize: 256, extra: [], fatBits: 12, counts: 16 },
  // FAT32, 512-byte clusters on 4 KiB blocks: backup boot sector, FSInfo replacing the marker. Fewer
  // counts (the budget): still every write from the journal on, and the staging spread.
  { name: 'fat32', tree: 'small', blockSize: 4096, inodeSize: 128, sizeBytes: 34 << 20, extra: ['--fat-bits', '32'], fatBits: 32, counts: 16 },
];
const only = (process.env['FSCONV_CRASH_IMAGES'] ?? '').split(',').filter((s) => s !== '');
const IMAGES = only.length > 0 ? ALL_IMAGES.filter((i) => only.includes(i.name)) : ALL_IMAGES;

const NO_CRASH = { FSCONV_CRASH_AFTER_WRITES: '0', FSCONV_CRASH_MODE: 'kill' };
const crashEnv = (n: number, mode: Mode): Record<string, string> => ({ FSCONV_CRASH_AFTER_WRITES: String(n), FSCONV_CRASH_MODE: mode });
const MARKER_MAGIC = 'FSCONV-IN-PLACE\0';

let work: string;
/** Set when a check fails: the work directory (with the failing images) is then kept. */
let keep = false;
const trees = new Map<string, string>();

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'fsconv-crash-'));
  for (const tree of new Set(IMAGES.map((i) => i.tree))) {
    const root = join(work, `tree-${tree}`);
    if (tree === 'small') buildSmallTree(root);
    else buildFatTrapTree(root);
    trees.set(tree, root);
    await tick(0);
  }
});
afterAll(() => {
  if (work === undefined) return;
  if (keep) console.log(`crash sweep: failing images kept in ${work}`);
  else rmSync(work, { recursive: true, force: true });
});

/** What a crash left on the device: the ext2 magic, and the marker in any of its places (0, 512, 1024). */
interface DeviceState {
  ext2: boolean;
  marker: boolean;
}
function deviceState(img: string): DeviceState {
  const fd = openSync(img, 'r');
  try {
    const head = Buffer.alloc(2048);
    readSync(fd, head, 0, 2048, 0);
    const marker = [0, 512, 1024].some((o) => head.toString('latin1', o, o + 16) === MARKER_MAGIC);
    return { ext2: head.readUInt16LE(1080) === 0xef53, marker };
  } finally {
    closeSync(fd);
  }
}

/** Throws unless every block of `img` that the base ext2 uses is byte-identical to the base's. */
function expectUsedBlocksUnchanged(img: string, ref: Reference, what: string): void {
  const a = readFileSync(ref.base);
  const b = readFileSync(img);
  const { blockSize, free } = ref.freeBlocks;
  if (a.length !== b.length) throw new Error(`${what}: the device changed size`);
  for (let blk = 0; blk * blockSize < a.length; blk++) {
    if (free[blk] === 1) continue;
    const o = blk * blockSize;
    if (a.compare(b, o, o + blockSize, o, o + blockSize) !== 0) throw new Error(`${what}: block ${blk}, used by the ext2, changed before the commit point`);
  }
}

interface Reference {
  base: string;
  sha: string;
  /** Device writes of a whole run. */
  W: number;
  /** The marker write (the commit point, the commit's first); M-1 is the journal, M .. W the commit. */
  M: number;
  freeBlocks: { blockSize: number; free: Uint8Array };
}

interface Ctx {
  spec: ImageSpec;
  ref: Reference | undefined;
}

function convertArgs(spec: ImageSpec, img: string): string[] {
  return ['--from', 'ext2', '--to', 'vfat+rights', img, '--yes', '--json', '--tz', 'UTC', '-q', ...spec.extra];
}

const summarize = (r: FsconvResult): string => `exit ${r.status}; stderr: ${r.stderr.trim().slice(0, 400) || '(none)'}`;

/** A run that the hook must kill (exit 128 from the helper: signal, no exit code) without a report. */
function expectKilled(r: FsconvResult, what: string): void {
  if (r.status !== 128 || r.stdout !== '') throw new Error(`${what}: expected the crash hook to kill it, got ${summarize(r)}`);
}

function parseReport(r: FsconvResult, what: string): { resumed: boolean; deviceWrites: number; fatBits?: number; alreadyFat?: boolean } {
  if (r.status !== 0) throw new Error(`${what}: ${summarize(r)}`);
  return JSON.parse(r.stdout) as { resumed: boolean; deviceWrites: number; fatBits?: number; alreadyFat?: boolean };
}

/**
 * After a crash: the device is an intact ext2 (e2fsck -fn clean), or committed (marker present), or
 * already the finished FAT (a kill right after the last write). Returns which.
 */
function checkCrashState(img: string, ref: Reference, what: string): 'ext2' | 'committed' | 'finished' {
  const st = deviceState(img);
  if (st.ext2 && st.marker) throw new Error(`${what}: the device is an ext2 and holds a marker: a journal that could be replayed over it`);
  if (st.ext2) {
    expectUsedBlocksUnchanged(img, ref, what);
    const fsck = e2fsckCheck(img);
    if (fsck.status !== 0) throw new Error(`${what}: the device still says ext2 but e2fsck -fn exits ${fsck.status}:\n${fsck.output.slice(0, 2000)}`);
  }
  if (st.marker) return 'committed';
  if (st.ext2) return 'ext2';
  if (sha256File(img) === ref.sha) return 'finished';
  throw new Error(`${what}: the device is neither ext2 nor committed (no marker) nor the finished FAT`);
}

/** Runs jobs `PARALLEL` at a time; returns the failures as messages. */
async function runPool<T>(items: readonly T[], job: (item: T) => Promise<void>, label: (item: T) => string): Promise<string[]> {
  const failures: string[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++]!;
      try {
        await job(item);
      } catch (e) {
        keep = true;
        failures.push(`${label(item)}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  return failures;
}

/**
 * The crash counts: in CI the first three writes, the three around the commit point on each side,
 * the last three, and the rest spread over the whole run (every state of every write is checked in
 * process by test/crash-states.test.ts; these prove the hook and the real process); the sweep
 * takes every one.
 */
function crashCounts(ref: Reference, total: number): number[] {
  const { W, M } = ref;
  if (SWEEP) return Array.from({ length: W }, (_, i) => i + 1);
  const set = new Set<number>();
  for (let n = Math.max(1, M - 3); n <= Math.min(W, M + 2); n++) set.add(n);
  for (let n = Math.max(1, W - 2); n <= W; n++) set.add(n);
  for (let n = 1; n <= Math.min(3, M - 4); n++) set.add(n);
  const lo = 4;
  const hi = W - 3;
  const want = total - set.size;
  if (hi >= lo && want > 0) {
    const k = Math.min(want, hi - lo + 1);
    for (let i = 0; i < k; i++) set.add(k === 1 ? lo : lo + Math.round((i * (hi - lo)) / (k - 1)));
  }
  return [...set].sort((a, b) => a - b);
}

/** The state a crash at n must leave, from the protocol (engine.ts): flushes before the journal, after it, after each marker copy, before the boot sector, at the end. */
function expectedState(ref: Reference, n: number, mode: Mode): 'ext2' | 'committed' | 'finished' {
  const { W, M } = ref;
  if (mode === 'kill') return n < M ? 'ext2' : n < W ? 'committed' : 'finished';
  // A power cut loses the write that was not yet flushed: the marker's at M, the last one at W.
  return n <= M ? 'ext2' : 'committed';
}

for (const spec of IMAGES) {
  describe(`in-place crash sweep: ${spec.name} (${spec.tree} tree, ${spec.blockSize}-byte blocks, FAT${spec.fatBits})`, () => {
    const ctx: Ctx = { spec, ref: undefined };
    const needRef = (): Reference => {
      if (ctx.ref === undefined) throw new Error('no reference conversion (its test failed)');
      return ctx.ref;
    };
    const dir = (): string => join(work, spec.name);

    it('an uninterrupted conversion: the reference bytes, W device writes, the commit point', async () => {
      const started = Date.now();
      rmSync(dir(), { recursive: true, force: true });
      mkdirSync(dir());
      const base = makeBaseImage(spec, dir());
      await tick(0);
      const src = await fsconv(['ls', '--json', '--tz', 'UTC', base]);
      expect(src.status, src.stderr).toBe(0);

      // Two uninterrupted conversions of copies: the same bytes (everything below compares with them).
      const refImg = join(dir(), 'reference.img');
      copyFileSync(base, refImg);
      const r1 = parseReport(await fsconv(convertArgs(spec, refImg), { env: NO_CRASH }), 'reference conversion');
      expect(r1.resumed).toBe(false);
      expect(r1.fatBits).toBe(spec.fatBits);
      const W = r1.deviceWrites;
      expect(W).toBeGreaterThan(10);
      const sha = sha256File(refImg);
      const again = join(dir(), 'again.img');
      copyFileSync(base, again);
      const r2 = parseReport(await fsconv(convertArgs(spec, again), { env: NO_CRASH }), 'second conversion');
      expect(r2.deviceWrites).toBe(W);
      expect(sha256File(again), 'two conversions of the same ext2 differ').toBe(sha);
      rmSync(again);

      // The reference is a good FAT holding the source: fsck.fat strict, blkid, wipefs, and ls equal.
      validateFatStructure(refImg);
      const fat = await fsconv(['ls', '--json', '--tz', 'UTC', refImg]);
      expect(fat.status, fat.stderr).toBe(0);
      expect(canonicalListing(parseLsJsonLines(fat.stdout))).toEqual(canonicalListing(parseLsJsonLines(src.stdout)));

      // The commit point M: a kill after the second-to-last write leaves the device committed, and
      // `resume` then makes exactly the commit's writes, C = W - M + 1. (The kill-mode sweep checks
      // that a kill after M-1 leaves the ext2 without a marker and one after M leaves the marker.)
      const probe = join(dir(), 'probe.img');
      copyFileSync(base, probe);
      expectKilled(await fsconv(convertArgs(spec, probe), { env: crashEnv(W - 1, 'kill') }), `kill after write ${W - 1}`);
      expect(deviceState(probe), `a kill after write ${W - 1} of ${W} left no marker`).toMatchObject({ ext2: false, marker: true });
      const resumed = parseReport(await fsconv(['resume', probe, '--json', '-q'], { env: NO_CRASH }), 'resume of the probe');
      expect(sha256File(probe)).toBe(sha);
      rmSync(probe);
      const M = W - resumed.deviceWrites + 1;
      // Journal and marker come after the staging, and the commit takes a few writes.
      expect(M).toBeGreaterThan(2);
      expect(W - M).toBeGreaterThanOrEqual(3);
      ctx.ref = { base, sha, W, M, freeBlocks: ext2FreeBlocks(base) };
      console.log(`${spec.name}: W=${W} device writes, commit point (marker) at write ${M}, commit writes ${M + 1}..${W}; ` +
        `reference FAT${r1.fatBits}; ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }, 120_000);

    for (const mode of MODES) {
      it(`a crash (${mode}) at ${SWEEP ? 'every write count' : `${spec.counts} write counts`}, then the same command again (or resume): the reference bytes`, async () => {
        const ref = needRef();
        const started = Date.now();
        const counts = crashCounts(ref, spec.counts);
        expect(counts.length).toBeGreaterThanOrEqual(Math.min(spec.counts, ref.W));
        for (const n of [ref.M - 1, ref.M, ref.M + 1, ref.W - 1, ref.W]) expect(counts).toContain(n);
        const seen = { ext2: 0, committed: 0, finished: 0, resumeCmd: 0, refusedConvert: 0 };
        const failures = await runPool(counts, async (n) => {
          const img = join(dir(), `crash-${mode}-${n}.img`);
          copyFileSync(ref.base, img);
          const what = `crash (${mode}) after write ${n} of ${ref.W}`;
          expectKilled(await fsconv(convertArgs(spec, img), { env: crashEnv(n, mode) }), what);
          const state = checkCrashState(img, ref, what);
          const want = expectedState(ref, n, mode);
          if (state !== want) throw new Error(`${what}: left the device ${state}, expected ${want} (commit point at write ${ref.M})`);
          seen[state]++;
          // `info` says "interrupted" exactly when resume has something to do.
          const info = await fsconv(['info', img, '-q'], { env: NO_CRASH });
          const saysInterrupted = /interrupted/.test(info.stderr + info.stdout);
          if (saysInterrupted !== (state === 'committed')) throw new Error(`${what}: info ${saysInterrupted ? 'says' : 'does not say'} interrupted on a ${state} device (${summarize(info)})`);
          if (state === 'committed') {
            if (!/run 'fsconv resume /.test(info.stderr) || info.status !== 1) throw new Error(`${what}: info does not point at fsconv resume (${summarize(info)})`);
            // Every other committed state: convert again first, which must refuse and change nothing.
            if ((n - ref.M) % 2 === 0) {
              seen.refusedConvert++;
              const before = sha256File(img);
              const line = expectOneLineRefusal(await fsconv(convertArgs(spec, img), { env: NO_CRASH }));
              if (!/fsconv resume/.test(line)) throw new Error(`${what}: convert on a committed device: ${line}`);
              if (sha256File(img) !== before) throw new Error(`${what}: the refused convert changed the device`);
            }
            seen.resumeCmd++;
            const r = parseReport(await fsconv(['resume', img, '--json', '-q'], { env: NO_CRASH }), `${what}, then resume`);
            if (!r.resumed) throw new Error(`${what}: resume did not resume from the journal`);
            if (r.deviceWrites !== ref.W - ref.M + 1) throw new Error(`${what}: the resumed commit made ${r.deviceWrites} writes, not ${ref.W - ref.M + 1}`);
          } else {
            const r = parseReport(await fsconv(convertArgs(spec, img), { env: NO_CRASH }), `${what}, then convert`);
            if (state === 'ext2' && (r.resumed || r.deviceWrites !== ref.W)) {
              throw new Error(`${what}: the rerun should start over (${ref.W} writes), made ${r.deviceWrites} (resumed: ${r.resumed})`);
            }
            if (state === 'finished' && r.alreadyFat !== true) throw new Error(`${what}: the rerun on the finished FAT did not say so`);
          }
          const got = sha256File(img);
          if (got !== ref.sha) throw new Error(`${what}: after the rerun the device differs from the reference (kept as ${img})`);
          rmSync(img);
        }, (n) => `${mode} n=${n}`);
        console.log(`${spec.name} ${mode}: ${counts.length} crash counts (${counts.join(',')}); states ext2 ${seen.ext2}, committed ${seen.committed} ` +
          `(finished by resume, ${seen.refusedConvert} of them refused by convert first), finished ${seen.finished}; ${((Date.now() - started) / 1000).toFixed(1)} s`);
        expect(failures).toEqual([]);
        expect(seen.ext2).toBeGreaterThan(0);
        expect(seen.committed).toBeGreaterThan(0);
        expect(seen.resumeCmd).toBeGreaterThan(0);
        expect(seen.refusedConvert).toBeGreaterThan(0);
      }, SWEEP ? 3_600_000 : 150_000);
    }

    it('resume refuses a device crashed before the commit point, changing nothing; convert then finishes it', async () => {
      const ref = needRef();
      const cases: Array<[number, Mode]> = [[1, 'kill'], [ref.M - 1, 'kill'], [ref.M, 'powerloss']];
      const failures = await runPool(cases, async ([n, mode]) => {
        const img = join(dir(), `refuse-${mode}-${n}.img`);
        copyFileSync(ref.base, img);
        const what = `crash (${mode}) after write ${n}`;
        expectKilled(await fsconv(convertArgs(spec, img), { env: crashEnv(n, mode) }), what);
        if (checkCrashState(img, ref, what) !== 'ext2') throw new Error(`${what}: expected an intact ext2`);
        const before = sha256File(img);
        const r = await fsconv(['resume', img, '--json', '-q'], { env: NO_CRASH });
        const line = expectOneLineRefusal(r);
        if (!/nothing to resume/.test(line)) throw new Error(`${what}: unexpected refusal: ${line}`);
        if (sha256File(img) !== before) throw new Error(`${what}: the refused resume changed the device`);
        parseReport(await fsconv(convertArgs(spec, img), { env: NO_CRASH }), `${what}, then convert`);
        if (sha256File(img) !== ref.sha) throw new Error(`${what}: the device differs from the reference`);
        rmSync(img);
      }, ([n, mode]) => `${mode} n=${n}`);
      expect(failures).toEqual([]);
    }, 60_000);

    it('a crash, another crash during the rerun (convert or resume), then a final rerun: the reference bytes', async () => {
      const ref = needRef();
      const { W, M } = ref;
      const C = W - M + 1; // writes of a commit (and of a resume)
      type Cmd = 'convert' | 'resume';
      interface Step { cmd: Cmd; n: number; mode: Mode }
      // Past the commit point only resume goes on (convert refuses there: the sweep checks that).
      const scenarios: Array<{ name: string; crashes: Step[]; finish: Cmd }> = [
        { name: 'staging, then staging again', crashes: [{ cmd: 'convert', n: Math.floor(M / 3), mode: 'kill' }, { cmd: 'convert', n: Math.floor((2 * M) / 3), mode: 'powerloss' }], finish: 'convert' },
        { name: 'staging, then the marker copy', crashes: [{ cmd: 'convert', n: Math.floor(M / 2), mode: 'powerloss' }, { cmd: 'convert', n: M + 1, mode: 'kill' }], finish: 'resume' },
        { name: 'the journal, then the marker', crashes: [{ cmd: 'convert', n: M - 1, mode: 'kill' }, { cmd: 'convert', n: M, mode: 'kill' }], finish: 'resume' },
        { name: 'the commit, then the resumed commit', crashes: [{ cmd: 'convert', n: M + 2, mode: 'kill' }, { cmd: 'resume', n: 2, mode: 'powerloss' }], finish: 'resume' },
        { name: 'the commit, then resume', crashes: [{ cmd: 'convert', n: W - 1, mode: 'powerloss' }, { cmd: 'resume', n: C - 1, mode: 'kill' }], finish: 'resume' },
        { name: 'the marker, then resume at its first write', crashes: [{ cmd: 'convert', n: M, mode: 'kill' }, { cmd: 'resume', n: 1, mode: 'kill' }], finish: 'resume' },
        { name: 'three crashes: commit, resume at its last write, resume', crashes: [{ cmd: 'convert', n: M + 1, mode: 'kill' }, { cmd: 'resume', n: C, mode: 'powerloss' }, { cmd: 'resume', n: 1, mode: 'powerloss' }], finish: 'resume' },
      ];
      const failures = await runPool(scenarios, async (s) => {
        const img = join(dir(), `double-${s.name.replace(/\W+/g, '_')}.img`);
        copyFileSync(ref.base, img);
        const done: string[] = [];
        for (const step of s.crashes) {
          const what = [...done, `${step.cmd} crashed (${step.mode}) after write ${step.n}`].join(', ');
          const args = step.cmd === 'resume' ? ['resume', img, '--json', '-q'] : convertArgs(spec, img);
          expectKilled(await fsconv(args, { env: crashEnv(step.n, step.mode) }), what);
          checkCrashState(img, ref, what);
          done.push(`${step.cmd} crashed (${step.mode}) after write ${step.n}`);
        }
        const what = `${done.join(', ')}, then ${s.finish}`;
        const args = s.finish === 'resume' ? ['resume', img, '--json', '-q'] : convertArgs(spec, img);
        parseReport(await fsconv(args, { env: NO_CRASH }), what);
        if (sha256File(img) !== ref.sha) throw new Error(`${what}: the device differs from the reference (kept as ${img})`);
        rmSync(img);
      }, (s) => s.name);
      expect(failures).toEqual([]);
    }, 120_000);
  });
}

/** The ext2 every run of an image starts from (only ever copied). */
function makeBaseImage(spec: ImageSpec, into: string): string {
  return makeExt2Image({
    src: trees.get(spec.tree)!, out: join(into, 'base.ext2'), blockSize: spec.blockSize, inodeSize: spec.inodeSize,
    ...(spec.sizeBytes !== undefined && { sizeBytes: spec.sizeBytes }),
  });
}
