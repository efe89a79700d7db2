#!/usr/bin/env node
// The benchmark of issue 5 (docs/performance.md): generates deterministic trees, builds ext2 images
// of them, and measures side by side, several repetitions, medians:
//   fsconv check, fsconv convert (in place), e2fsck -fn (the C tool reading the same metadata: the
//   anchor), the copy path a user would otherwise take (debugfs rdump + mkfs.fat + mcopy + sync),
//   and a raw read of the image;
// each with wall and CPU time, peak RSS and bytes read/written (measure.mjs). Prints a Markdown
// table per scenario and the targets; writes everything as JSON.
//
//   node tools/bench/bench.mjs [--scale small|full] [--reps N] [--only home,smallfiles,sparse1t]
//                              [--work DIR] [--json FILE] [--keep-trees]
// (`npm run bench -- --scale small` sets up and builds first.)
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildExt2Image, uuidFrom } from './images.mjs';
import { checkMeasurement, GNU_TIME, measure } from './measure.mjs';
import { BenchError, findTool, run, tail } from './proc.mjs';
import {
  addRatios, evaluateTargets, fmtBytes, machineInfo, machineLine, repRecord, ROWS, scenarioTable, sumParts, summarize,
  targetsTable, writeAccounting,
} from './report.mjs';
import { imageParams, SCENARIO_NAMES, SCENARIOS } from './scenarios.mjs';
import { GENERATOR_VERSION, planStats, planTree, writeTree } from './trees.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
// fsconv as a user runs it after set-up (README: node_modules/.bin/fsconv): pnpm's shim, which
// starts node with the options on the first line of packages/cli/bin/fsconv.mjs (heap limits).
const CLI = join(root, 'node_modules', '.bin', 'fsconv');
const log = (msg) => process.stderr.write(`bench: ${msg}\n`);

const USAGE = `usage: node tools/bench/bench.mjs [--scale small|full] [--reps N] [--only ${SCENARIO_NAMES.join(',')}] [--work DIR] [--json FILE] [--keep-trees]`;

function parseOptions(argv) {
  let values;
  try {
    ({ values } = parseArgs({
    args: argv,
    options: {
      scale: { type: 'string', default: 'full' },
      reps: { type: 'string' },
      only: { type: 'string' },
      work: { type: 'string' },
      json: { type: 'string' },
      'keep-trees': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
    }));
  } catch (e) {
    throw new BenchError(`${e.message}\n${USAGE}`);
  }
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (values.scale !== 'full' && values.scale !== 'small') throw new BenchError(`--scale must be small or full, not ${values.scale}`);
  const reps = values.reps === undefined ? (values.scale === 'full' ? 3 : 1) : Number(values.reps);
  if (!Number.isInteger(reps) || reps < 1) throw new BenchError(`--reps must be a positive integer, not ${values.reps}`);
  const only = values.only === undefined ? SCENARIO_NAMES : values.only.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const s of only) if (!SCENARIO_NAMES.includes(s)) throw new BenchError(`unknown scenario '${s}' (known: ${SCENARIO_NAMES.join(', ')})`);
  const work = resolve(values.work ?? join(root, '.bench'));
  return { scale: values.scale, reps, only, work, json: resolve(values.json ?? join(work, 'results.json')), keepTrees: values['keep-trees'] };
}

const TOOLS = {
  mke2fs: 'e2fsprogs', e2fsck: 'e2fsprogs', debugfs: 'e2fsprogs', 'mkfs.fat': 'dosfstools', 'fsck.fat': 'dosfstools',
  mcopy: 'mtools', dd: 'coreutils', cp: 'coreutils', sync: 'coreutils', sh: 'dash', [GNU_TIME]: 'time',
};

function checkPrerequisites() {
  const missing = Object.keys(TOOLS).filter((t) => findTool(t) === undefined);
  if (missing.length > 0) {
    const pkgs = [...new Set(missing.map((t) => TOOLS[t]))].join(' ');
    throw new BenchError(`missing tools: ${missing.join(', ')}; install them as root: apt-get update && apt-get install -y ${pkgs}`);
  }
  if (!existsSync(join(root, 'packages', 'cli', 'dist', 'main.js')) || findTool(CLI) === undefined) {
    throw new BenchError(`fsconv is not set up (${CLI} or packages/cli/dist/main.js is missing): run npm run bench, or node tools/setup.mjs first`);
  }
  if (!existsSync('/proc/self/io')) throw new BenchError('/proc/self/io is missing: the byte counts need Linux with task I/O accounting');
}

/**
 * A fingerprint of the built CLI (names, sizes and mtimes of packages/NAME/dist and bin, and the shim): taken before and
 * after each scenario, so a rebuild in the middle of a run (someone working on the engine) is said,
 * not silently mixed into the medians.
 */
function buildFingerprint() {
  const h = createHash('sha256');
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) {
        const st = statSync(p);
        h.update(`${p}\0${st.size}\0${st.mtimeMs}\n`);
      }
    }
  };
  for (const pkg of readdirSync(join(root, 'packages')).sort()) {
    for (const sub of ['dist', 'bin']) {
      const dir = join(root, 'packages', pkg, sub);
      if (existsSync(dir)) walk(dir);
    }
  }
  if (existsSync(CLI)) h.update(readFileSync(CLI));
  return h.digest('hex').slice(0, 12);
}

// ---------------------------------------------------------------------------------------------
// Trees and images (ext2, or ext4 where the scenario says), cached under WORK/cache/<scenario>-<scale>-g<version>-<hash of the spec>.

async function prepareScenario(name, scale, config, opts) {
  const spec = config.tree;
  const t0 = Date.now();
  const plan = planTree(spec);
  const stats = planStats(plan);
  const { sizeBytes, inodes } = imageParams(config, stats);
  const fs = config.fs ?? 'ext2';
  const key = createHash('sha256').update(JSON.stringify({ spec, sizeBytes, inodes, GENERATOR_VERSION, ...(fs !== 'ext2' && { fs }) })).digest('hex');
  const dir = join(opts.work, 'cache', `${name}-${scale}-g${GENERATOR_VERSION}-${key.slice(0, 10)}`);
  const image = join(dir, 'ext2.img');
  const metaPath = join(dir, 'meta.json');
  if (existsSync(metaPath) && existsSync(image)) {
    const meta = JSON.parse(readFileSync(metaPath, 'utf8'));
    log(`${name}: using the cached image ${image} (${fmtBytes(meta.image.imageBytes)})`);
    if (!opts.keepTrees && existsSync(join(dir, 'tree'))) opts.removeLater.push(join(dir, 'tree')); // left by an interrupted run
    return { image, meta, cached: true };
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const tree = join(dir, 'tree');
  log(`generating ${name} tree: ${stats.files} files, ${stats.dirs} directories, ${fmtBytes(stats.bytes)}`);
  writeTree(plan, tree, spec.seed, (done, total) => log(`generating ${name} tree: ${done}/${total} files`));
  const generateSeconds = (Date.now() - t0) / 1000;
  log(`${name}: tree written in ${generateSeconds.toFixed(1)} s; building the ${fs} image (${fmtBytes(sizeBytes)}, mke2fs -d)`);
  const t1 = Date.now();
  const hex = createHash('sha256').update(`fsconv-bench/${name}/${scale}`).digest('hex');
  const img = await buildExt2Image({
    src: tree, out: image, sizeBytes, inodes, uuid: uuidFrom(hex), hashSeed: uuidFrom(hex.slice(32) + hex.slice(0, 32)),
    label: `bench-${name}`.slice(0, 16), configPath: join(dir, 'mke2fs.conf'), fs,
  });
  const imageSeconds = (Date.now() - t1) / 1000;
  log(`${name}: image built and e2fsck-clean in ${imageSeconds.toFixed(1)} s (${fmtBytes(img.allocatedBytes)} allocated)`);
  if (!opts.keepTrees) opts.removeLater.push(tree);
  const meta = { name, scale, generatorVersion: GENERATOR_VERSION, spec, stats, image: { ...img, inodes }, generateSeconds, imageSeconds };
  writeFileSync(metaPath, JSON.stringify(meta, null, 2));
  return { image, meta, cached: false };
}

// ---------------------------------------------------------------------------------------------
// Measuring a scenario

/** measure() with the wall time taken around it here (ms resolution; GNU time's %e is kept too). */
async function timed(cmd, args, opts) {
  const load1 = loadavg()[0];
  const t = process.hrtime.bigint();
  const m = await measure(cmd, args, opts);
  const wall = Number(process.hrtime.bigint() - t) / 1e9;
  return { ...m, gnuTimeWall: m.wall, wall: Math.round(wall * 1000) / 1000, load1 };
}

function parseJson(text, what) {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new BenchError(`${what}: its output is not JSON (${e.message})`, tail(text));
  }
}

const FSCK_ALLOWED = [/^fsck\.fat \d+\.\d+(\.\d+)? \(\d{4}-\d\d-\d\d\)$/, /^Starting check\/repair pass\.$/, /^Starting verification pass\.$/];
const FSCK_SUMMARY = /^.*: (\d+) files, (\d+)\/(\d+) clusters$/;

/** fsck.fat -n -V, strictly (as test/support/fat-validate.ts): exit 0 and nothing but banner, passes and summary. */
async function validateFat(img) {
  const r = await run('fsck.fat', ['-n', '-V', img], { okStatus: [0, 1, 2, 4, 8], input: '' });
  const out = `${r.stdout}${r.stderr}`.trimEnd();
  const unexpected = [];
  let summary = null;
  for (const line of out.split('\n')) {
    if (FSCK_ALLOWED.some((re) => re.test(line))) continue;
    const m = FSCK_SUMMARY.exec(line);
    if (m !== null && summary === null) {
      summary = { files: Number(m[1]), usedClusters: Number(m[2]), totalClusters: Number(m[3]) };
      continue;
    }
    unexpected.push(line);
  }
  if (r.status !== 0 || unexpected.length > 0 || summary === null) {
    throw new BenchError(`the converted image is not clean: fsck.fat -n -V ${img} exited ${r.status}${unexpected.length ? ` and printed ${unexpected.length} unexpected lines` : ''}`, tail(out, 20));
  }
  return { tool: 'fsck.fat -n -V', status: 0, ...summary };
}

/**
 * Before each row: write back whatever is dirty on the machine (not measured), so no row pays for
 * an earlier one's (or another process's) write-back. Not between the copy path's steps: a user's
 * mcopy runs while rdump's tree is still being written back.
 */
const settle = () => run('sync', []);

async function measureScenario(name, scale, config, prepared, opts, runDir) {
  const { image, meta } = prepared;
  const skip = config.skip ?? {};
  const copy = join(runDir, `${name}.img`);
  const fatImg = join(runDir, 'copy-path.fat');
  const mopts = { runDir };
  const reps = { check: [], convert: [], e2fsck: [], copyPath: [], rawRead: [] };
  const parts = { rdump: [], mkfs: [], mcopy: [], sync: [] };
  let checkReport = null;
  let convertReport = null;
  let convertOut = null;
  let validation = null;
  const buildAtStart = buildFingerprint();
  const say = (rep, what, m) => log(`${name}: rep ${rep}/${opts.reps}: ${what} ${m.wall.toFixed(2)} s, ${(m.maxRssKiB / 1024).toFixed(0)} MiB`);
  for (let rep = 1; rep <= opts.reps; rep++) {
    // A fresh sparse copy for every repetition (convert destroys its input); settle() writes it
    // back before the first row. Not measured.
    await run('cp', ['--sparse=always', image, copy]);

    if (skip.rawRead === undefined) {
      await settle();
      const m = await timed('dd', [`if=${copy}`, 'of=/dev/null', 'bs=4M', 'status=none'], mopts);
      reps.rawRead.push(repRecord(m));
      say(rep, 'raw read', m);
    }
    {
      await settle();
      const m = await timed('e2fsck', ['-fn', copy], { ...mopts, env: { LC_ALL: 'C' } });
      reps.e2fsck.push(repRecord(m));
      say(rep, 'e2fsck -fn', m);
    }
    {
      await settle();
      const m = await timed(CLI, ['check', '--from', 'ext2', '--to', 'vfat+rights', copy, '--json'], { ...mopts, keepStdout: rep === 1 });
      if (rep === 1) {
        checkReport = parseJson(m.stdout, 'fsconv check');
        if (checkReport.feasible !== true) throw new BenchError(`fsconv check says the ${name} image cannot be converted: ${checkReport.plan}`);
      }
      reps.check.push(repRecord(m));
      say(rep, 'fsconv check', m);
    }
    if (skip.copyPath === undefined) {
      // A new directory per repetition, removed only after the whole run: see removeLater.
      const rdumpDir = join(runDir, `rdump-${name}-${rep}`);
      rmSync(fatImg, { force: true });
      mkdirSync(rdumpDir);
      await settle();
      const a = await timed('debugfs', ['-R', `rdump / ${rdumpDir}`, copy], mopts);
      // debugfs exits 0 even when rdump fails: anything on stderr but its banner is a failure.
      const errs = a.stderr.split('\n').filter((l) => l.trim() !== '' && !/^debugfs \d/.test(l));
      if (errs.length > 0) throw new BenchError(`debugfs -R "rdump / ${rdumpDir}" ${copy} reported errors`, tail(errs.join('\n')));
      const kib = Math.floor(meta.image.imageBytes / 1024);
      const b = await timed('mkfs.fat', [...(meta.image.imageBytes >= 512 * 1024 * 1024 ? ['-F', '32'] : []), '-i', '5a3c7e10', '-C', fatImg, String(kib)], mopts);
      // Every top-level entry, dot names included (a shell glob would miss them); lost+found is ext2's own.
      const entries = readdirSync(rdumpDir).filter((e) => e !== 'lost+found').sort().map((e) => `./${e}`);
      // -D aA: a name clash (primary or short name) is renamed automatically, never asked; stdin is /dev/null anyway.
      const c = await timed('mcopy', ['-s', '-Q', '-D', 'aA', '-i', fatImg, ...entries, '::/'], {
        ...mopts, cwd: rdumpDir, env: { MTOOLS_SKIP_CHECK: '1', LC_ALL: 'C.UTF-8' },
      });
      // fsconv flushes its writes to the device (fsync); so does the copy path's last step.
      const d = await timed('sync', ['--data', fatImg], mopts);
      parts.rdump.push(repRecord(a));
      parts.mkfs.push(repRecord(b));
      parts.mcopy.push(repRecord(c));
      parts.sync.push(repRecord(d));
      const sum = sumParts([a, b, c, d]);
      reps.copyPath.push(repRecord(sum));
      say(rep, `copy path (rdump ${a.wall.toFixed(1)} s, mkfs.fat ${b.wall.toFixed(1)} s, mcopy ${c.wall.toFixed(1)} s, sync ${d.wall.toFixed(1)} s)`, sum);
      opts.removeLater.push(rdumpDir);
      rmSync(fatImg, { force: true });
    }
    {
      await settle();
      const m = await timed(CLI, ['--from', 'ext2', '--to', 'vfat+rights', copy, '--yes', '--json', '--quiet'], { ...mopts, keepStdout: rep === 1 });
      if (rep === 1) {
        convertReport = parseJson(m.stdout, 'fsconv convert');
        convertOut = { stdoutBytes: m.stdoutBytes, stderrBytes: m.stderrBytes };
        // Never time a broken conversion: the first result of each scenario must be a clean FAT.
        validation = await validateFat(copy);
        log(`${name}: the converted image is clean (fsck.fat: ${validation.files} files, ${validation.usedClusters}/${validation.totalClusters} clusters)`);
      }
      reps.convert.push(repRecord(m));
      say(rep, 'fsconv convert', m);
    }
    rmSync(copy, { force: true });
  }

  const rows = {};
  for (const [key, label] of ROWS) {
    const why = key === 'rawRead' ? skip.rawRead : key === 'copyPath' ? skip.copyPath : undefined;
    rows[key] = why !== undefined ? { label, skipped: why } : { label, reps: reps[key], median: summarize(reps[key]) };
  }
  if (rows.copyPath.skipped === undefined) {
    rows.copyPath.parts = Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, { reps: v, median: summarize(v) }]));
  }
  addRatios(rows);
  const buildAtEnd = buildFingerprint();
  if (buildAtEnd !== buildAtStart) log(`${name}: WARNING: the CLI was rebuilt while this scenario ran; its figures mix builds`);
  const s = meta.stats;
  const cr = convertReport;
  return {
    name, scale, fs: config.fs ?? 'ext2', description: SCENARIOS[name].description, reps: opts.reps,
    params: {
      files: s.files, dirs: s.dirs, symlinks: s.symlinks, entries: s.entries, bytes: s.bytes, medianFileBytes: s.medianFileBytes,
      largestFileBytes: s.largestFileBytes, maxEntriesPerDir: s.maxEntriesPerDir, maxDepth: s.maxDepth, longNames: s.longNames,
      nonAsciiNames: s.nonAsciiNames, logNormalSigma: s.sigma, imageBytes: meta.image.imageBytes, allocatedBytes: meta.image.allocatedBytes,
      inodes: meta.image.inodes, blockSize: 4096, generatorVersion: meta.generatorVersion, seed: meta.spec.seed, spec: meta.spec,
      generateSeconds: meta.generateSeconds, imageSeconds: meta.imageSeconds, cachedImage: prepared.cached,
    },
    cliBuild: { atStart: buildAtStart, atEnd: buildAtEnd, rebuiltDuringScenario: buildAtEnd !== buildAtStart },
    rows,
    checkReport: { feasible: checkReport.feasible, fatBits: checkReport.fatBits, clusterSize: checkReport.clusterSize, plan: checkReport.plan },
    convertReport: {
      fatBits: cr.fatBits, clusterSize: cr.clusterSize, plan: cr.plan, space: cr.space, files: cr.files, directories: cr.directories,
      renames: cr.renames?.length ?? null, duplicates: cr.duplicates?.length ?? null, losses: cr.losses?.length ?? null,
      deviceWrites: cr.deviceWrites, bytesWritten: cr.bytesWritten, entries: cr.entries, seconds: cr.seconds,
    },
    validation,
    writes: writeAccounting(cr, rows.convert.median, convertOut.stdoutBytes, convertOut.stderrBytes),
  };
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const started = Date.now();
  const opts = parseOptions(process.argv.slice(2));
  // Trees of many files (the generated ones, rdump's) are deleted only after the last measurement:
  // ext4 skips inodes deleted in the last 1–6 minutes when it allocates new ones (ialloc.c,
  // recently_deleted), so a tree created right after 40 000 deletions costs several times the
  // system time (rdump of home: 8 → 29 s in successive repetitions when each deleted the last).
  opts.removeLater = [];
  checkPrerequisites();
  mkdirSync(opts.work, { recursive: true });
  const runDir = join(opts.work, 'run');
  rmSync(runDir, { recursive: true, force: true });
  mkdirSync(runDir, { recursive: true });
  const machine = await machineInfo(root, opts.work);
  machine.fsconv = { command: CLI, starts: readFileSync(CLI, 'utf8').split('\n').find((l) => /^\s*exec node\b/.test(l))?.trim() ?? null };
  const measurementCheck = await checkMeasurement(runDir);
  log(`scale ${opts.scale}, ${opts.reps} repetition(s), scenarios ${opts.only.join(', ')}; work directory ${opts.work}`);

  const scenarios = [];
  try {
    for (const name of opts.only) {
      const config = SCENARIOS[name][opts.scale];
      const prepared = await prepareScenario(name, opts.scale, config, opts);
      scenarios.push(await measureScenario(name, opts.scale, config, prepared, opts, runDir));
    }
  } finally {
    log(`removing ${opts.removeLater.length} scratch trees`);
    for (const p of opts.removeLater) rmSync(p, { recursive: true, force: true });
    rmSync(runDir, { recursive: true, force: true });
  }
  machine.loadAverageAtEnd = loadavg().map((x) => Math.round(x * 100) / 100);
  machine.gitCommitAtEnd = (await run('git', ['-C', root, 'rev-parse', 'HEAD'], { okStatus: [0, 128] })).stdout.trim() || null;
  const targets = evaluateTargets(scenarios, opts.scale);

  const header = `## fsconv benchmark: scale ${opts.scale}, ${opts.reps} repetition${opts.reps === 1 ? '' : 's'}\n\n${machineLine(machine)}.`;
  const table = [header, ...scenarios.map(scenarioTable), targetsTable(targets)].join('\n\n');
  console.log(table);
  const totalSeconds = (Date.now() - started) / 1000;
  const doc = {
    benchmark: 'fsconv issue 5', version: 1, scale: opts.scale, reps: opts.reps, command: process.argv.slice(2), machine,
    measurement: {
      method: "/usr/bin/time -f '%e %U %S %M' sh -c '\"$@\"; cat /proc/$$/io' CMD…: CPU and peak RSS from GNU time (wait4 rusage), bytes from the shell's /proc/PID/io after it reaped the command; wall time taken around the whole by the bench (GNU time's %e kept as gnuTimeWall)",
      check: measurementCheck,
    },
    scenarios, targets, table, totalSeconds,
  };
  mkdirSync(dirname(opts.json), { recursive: true });
  writeFileSync(opts.json, `${JSON.stringify(doc, null, 2)}\n`);
  log(`done in ${totalSeconds.toFixed(0)} s; JSON in ${opts.json}`);
}

main().catch((e) => {
  if (e instanceof BenchError) {
    process.stderr.write(`bench: ${e.message}\n`);
    if (e.detail) process.stderr.write(`${e.detail.split('\n').map((l) => `  | ${l}`).join('\n')}\n`);
  } else {
    process.stderr.write(`bench: internal error: ${e?.stack ?? e}\n`);
  }
  process.exit(1);
});
