// Summaries (medians), ratios, the write accounting, the targets of issue 5, and the output: a
// Markdown table per scenario plus the targets (stdout, pasteable into docs/performance.md) and
// the JSON document.
import { cpus, loadavg, release, totalmem, type } from 'node:os';
import { run } from './proc.mjs';

const MiB = 1024 * 1024;

/** The rows of a scenario's table, in order. */
export const ROWS = [
  ['check', 'fsconv check'],
  ['convert', 'fsconv convert (in place)'],
  ['e2fsck', 'e2fsck -fn'],
  ['copyPath', 'copy path (rdump + mkfs.fat + mcopy + sync)'],
  ['rawRead', 'raw read (dd)'],
];

export const IO_FIELDS = ['rchar', 'wchar', 'syscr', 'syscw', 'read_bytes', 'write_bytes', 'cancelled_write_bytes'];

export function median(values) {
  const v = [...values].sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** One repetition's record, from a measure() result (or the sum of the copy path's parts). */
export function repRecord(m) {
  const io = {};
  for (const f of IO_FIELDS) io[f] = m.io[f] ?? 0;
  return {
    wall: m.wall, gnuTimeWall: m.gnuTimeWall, user: m.user, sys: m.sys, cpu: m.cpu, maxRssKiB: m.maxRssKiB, io,
    stdoutBytes: m.stdoutBytes, stderrBytes: m.stderrBytes, load1: m.load1,
  };
}

/** The copy path as one row per repetition: times and bytes added up, RSS the largest. */
export function sumParts(parts) {
  const io = {};
  for (const f of IO_FIELDS) io[f] = parts.reduce((s, p) => s + (p.io[f] ?? 0), 0);
  const add = (k) => Math.round(parts.reduce((s, p) => s + p[k], 0) * 1000) / 1000;
  return {
    wall: add('wall'), gnuTimeWall: add('gnuTimeWall'), user: add('user'), sys: add('sys'), cpu: add('cpu'),
    maxRssKiB: Math.max(...parts.map((p) => p.maxRssKiB)), io, stdoutBytes: add('stdoutBytes'), stderrBytes: add('stderrBytes'),
    load1: Math.max(...parts.map((p) => p.load1 ?? 0)),
  };
}

/** Medians over repetitions (peak RSS: the largest over repetitions). */
export function summarize(reps) {
  const io = {};
  for (const f of IO_FIELDS) io[f] = median(reps.map((r) => r.io[f]));
  const maxRssKiB = Math.max(...reps.map((r) => r.maxRssKiB));
  return {
    wall: median(reps.map((r) => r.wall)),
    cpu: median(reps.map((r) => r.cpu)),
    user: median(reps.map((r) => r.user)),
    sys: median(reps.map((r) => r.sys)),
    maxRssKiB,
    maxRssMiB: Math.round((maxRssKiB / 1024) * 10) / 10,
    io,
  };
}

/** Adds ratioToE2fsck and copyPathOverThis to every measured row of a scenario. */
export function addRatios(rows) {
  const e2 = rows.e2fsck?.median?.wall;
  const copy = rows.copyPath?.median?.wall;
  for (const [key] of ROWS) {
    const row = rows[key];
    if (row === undefined || row.median === undefined) continue;
    row.ratioToE2fsck = e2 ? round(row.median.wall / e2, 3) : null;
    row.copyPathOverThis = copy && row.median.wall ? round(copy / row.median.wall, 2) : null;
  }
}

function round(x, digits) {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/**
 * What an in-place conversion needs to write (issue 5: "FAT metadata + directories + rights files
 * + moved blocks + duplicated data"), from the convert report's `space`: the front region (boot
 * and reserved sectors, both FATs, the FAT12/16 root: frontRegionBytes), directories, rights files,
 * symlink targets, moved file data, hard-link copies and holes (FAT has no holes: they are written
 * as zeros). The journal (journalBytes) is the price of crash safety and is not counted as needed;
 * it is reported. Written = the convert's wchar minus what it wrote to stdout and stderr.
 */
export function writeAccounting(report, convertMedian, stdoutBytes, stderrBytes) {
  const s = report.space;
  const missing = ['frontRegionBytes', 'fatBytes', 'directoryBytes', 'rightsFileBytes', 'symlinkBytes', 'bytesMoved', 'bytesDuplicated', 'bytesHoles', 'journalBytes']
    .filter((k) => typeof s?.[k] !== 'number');
  if (missing.length > 0) return { error: `the convert report's space lacks ${missing.join(', ')}` };
  const terms = {
    frontRegionBytes: s.frontRegionBytes, directoryBytes: s.directoryBytes, rightsFileBytes: s.rightsFileBytes,
    symlinkBytes: s.symlinkBytes, bytesMoved: s.bytesMoved, bytesDuplicated: s.bytesDuplicated, bytesHoles: s.bytesHoles,
  };
  const neededBytes = Object.values(terms).reduce((a, b) => a + b, 0);
  const writtenBytes = convertMedian.io.wchar - stdoutBytes - stderrBytes;
  return {
    terms,
    fatBytes: s.fatBytes,
    journalBytes: s.journalBytes,
    neededBytes,
    writtenBytes,
    wchar: convertMedian.io.wchar,
    stdoutBytes,
    stderrBytes,
    storageWriteBytes: convertMedian.io.write_bytes,
    reportBytesWritten: report.bytesWritten,
    reportDeviceWrites: report.deviceWrites,
    writeRatio: round(writtenBytes / neededBytes, 4),
    storageWriteRatio: round(convertMedian.io.write_bytes / neededBytes, 4),
    note: "needed = frontRegionBytes (reserved sectors + both FATs + FAT12/16 root) + directories + rights files + symlink targets + moved + hard-link copies + holes; journal not counted. written = convert's wchar − its stdout/stderr bytes. The report's bytesWritten counts staging + journal only (not the commit's front-region writes).",
  };
}

/** The targets of issue 5, evaluated on the scenarios measured. */
export function evaluateTargets(scenarios, scale) {
  const targets = [];
  const note = scale === 'full' ? undefined : 'indicative only: the targets are defined at full scale';
  const push = (t) => targets.push({ ...t, met: t.measured === null ? false : t.op === '<=' ? t.measured <= t.threshold : t.measured >= t.threshold, scale, ...(note ? { note } : {}) });
  for (const sc of scenarios) {
    const r = sc.rows;
    const conv = r.convert.median.wall;
    push({ id: `${sc.name}.convert-vs-e2fsck`, scenario: sc.name, target: 'in-place convert wall time ≤ 2 × e2fsck -fn', measured: r.convert.ratioToE2fsck, op: '<=', threshold: 2, unit: '×' });
    if (r.copyPath.median !== undefined) {
      push({ id: `${sc.name}.convert-vs-copy-path`, scenario: sc.name, target: 'in-place convert ≥ 20 × faster than the copy path', measured: round(r.copyPath.median.wall / conv, 2), op: '>=', threshold: 20, unit: '×' });
    }
    push({ id: `${sc.name}.write-ratio`, scenario: sc.name, target: 'bytes written ≤ 1.05 × needed', measured: sc.writes.writeRatio ?? null, op: '<=', threshold: 1.05, unit: '×' });
    if (sc.name === 'sparse1t' || sc.name === 'smallfiles') {
      push({ id: `${sc.name}.convert-peak-rss`, scenario: sc.name, target: 'in-place convert peak RSS ≤ 300 MiB', measured: r.convert.median.maxRssMiB, op: '<=', threshold: 300, unit: 'MiB' });
    }
  }
  return targets;
}

// ---------------------------------------------------------------------------------------------
// Text

const fmtS = (x) => (x === null || x === undefined ? '—' : x < 10 ? x.toFixed(3) : x < 100 ? x.toFixed(2) : x.toFixed(1));
const fmtMiB = (b) => (b === null || b === undefined ? '—' : (b / MiB).toFixed(1));
const fmtX = (x) => (x === null || x === undefined ? '—' : x < 10 ? x.toFixed(2) : x.toFixed(1));
export const fmtBytes = (n) => (n >= 1024 ** 4 ? `${(n / 1024 ** 4).toFixed(2)} TiB` : n >= 1024 ** 3 ? `${(n / 1024 ** 3).toFixed(2)} GiB` : n >= MiB ? `${(n / MiB).toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`);

export function scenarioTable(sc) {
  const p = sc.params;
  const rep = sc.convertReport;
  const lines = [];
  lines.push(`### ${sc.name} (${sc.scale}): ${sc.description}`);
  lines.push('');
  lines.push(
    `${p.files} files, ${p.dirs} directories, ${p.symlinks} symlinks, ${fmtBytes(p.bytes)} of data (median file ${fmtBytes(p.medianFileBytes)}, ` +
      `largest ${fmtBytes(p.largestFileBytes)}, at most ${p.maxEntriesPerDir} entries per directory); ${sc.fs ?? 'ext2'} image ${fmtBytes(p.imageBytes)} ` +
      `(${fmtBytes(p.allocatedBytes)} allocated, 4 KiB blocks, ${p.inodes} inodes requested); ` +
      `converted to FAT${rep.fatBits} with ${rep.clusterSize / 1024} KiB clusters. ${sc.reps} repetition${sc.reps === 1 ? '' : 's'}, medians.`,
  );
  lines.push('');
  if (sc.cliBuild?.rebuiltDuringScenario) {
    lines.push('**Warning: the CLI (packages/*/dist or bin) was rebuilt while this scenario ran: its figures mix two builds.**', '');
  }
  lines.push('| | wall s | CPU s | peak RSS MiB | read MiB (rchar) | written MiB (wchar) | × e2fsck | copy path ÷ this |');
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|');
  const notes = [];
  for (const [key, label] of ROWS) {
    const row = sc.rows[key];
    if (row.skipped !== undefined) {
      notes.push(`${label}: ${row.skipped}`);
      lines.push(`| ${label} | — | — | — | — | — | — | — |`);
      continue;
    }
    const m = row.median;
    lines.push(`| ${label} | ${fmtS(m.wall)} | ${fmtS(m.cpu)} | ${m.maxRssMiB.toFixed(1)} | ${fmtMiB(m.io.rchar)} | ${fmtMiB(m.io.wchar)} | ${fmtX(row.ratioToE2fsck)} | ${fmtX(row.copyPathOverThis)} |`);
  }
  lines.push('');
  const w = sc.writes;
  if (w.error === undefined) {
    lines.push(
      `Writes of the conversion: ${fmtBytes(w.writtenBytes)} written (wchar without stdout), needed ${fmtBytes(w.neededBytes)} ` +
        `(front region with FATs ${fmtBytes(w.terms.frontRegionBytes)}, directories ${fmtBytes(w.terms.directoryBytes)}, rights files ${fmtBytes(w.terms.rightsFileBytes)}, ` +
        `symlinks ${fmtBytes(w.terms.symlinkBytes)}, moved ${fmtBytes(w.terms.bytesMoved)}, hard-link copies ${fmtBytes(w.terms.bytesDuplicated)}, holes ${fmtBytes(w.terms.bytesHoles)}; ` +
        `journal ${fmtBytes(w.journalBytes)} not counted): ratio ${w.writeRatio.toFixed(3)}; storage write_bytes ${fmtBytes(w.storageWriteBytes)}.`,
    );
  } else {
    lines.push(`Writes of the conversion: ${w.error}.`);
  }
  const cp = sc.rows.copyPath;
  if (cp.parts !== undefined) {
    lines.push('');
    lines.push(`Copy path parts (median wall s): ${Object.entries(cp.parts).map(([k, v]) => `${k} ${fmtS(v.median.wall)}`).join(', ')}.`);
  }
  for (const n of notes) lines.push('', `${n}`);
  return lines.join('\n');
}

export function targetsTable(targets) {
  const lines = ['### Targets', '', '| target | scenario | measured | threshold | result |', '|---|---|---:|---:|---|'];
  for (const t of targets) {
    const m = t.measured === null ? 'n/a' : t.unit === 'MiB' ? `${t.measured.toFixed(1)} MiB` : `${fmtX(t.measured)} ×`;
    const th = `${t.op === '<=' ? '≤' : '≥'} ${t.threshold}${t.unit === 'MiB' ? ' MiB' : ' ×'}`;
    lines.push(`| ${t.target} | ${t.scenario} | ${m} | ${th} | ${t.met ? 'met' : '**NOT met**'} |`);
  }
  if (targets.some((t) => t.note !== undefined)) lines.push('', `(${targets[0].note}.)`);
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Machine

export async function machineInfo(root, work) {
  const first = async (cmd, args, pick = (o) => o.split('\n')[0]) => {
    try {
      const r = await run(cmd, args, { okStatus: [0, 1, 2, 16], env: { LC_ALL: 'C' } });
      return pick(`${r.stdout}${r.stderr}`.trim()) || null;
    } catch {
      return null;
    }
  };
  const c = cpus();
  return {
    cpuModel: c[0]?.model ?? 'unknown',
    cpus: c.length,
    totalMemoryBytes: totalmem(),
    os: `${type()} ${release()}`,
    node: process.version,
    date: new Date().toISOString(),
    loadAverageAtStart: loadavg().map((x) => Math.round(x * 100) / 100),
    gitCommit: await first('git', ['-C', root, 'rev-parse', 'HEAD']),
    gitDirty: (await first('git', ['-C', root, 'status', '--porcelain', '--untracked-files=no'], (o) => o)) !== null,
    workFilesystem: await first('stat', ['-f', '-c', '%T', work]),
    tools: {
      mke2fs: await first('mke2fs', ['-V']),
      fsckFat: await first('fsck.fat', ['-n', '/dev/null'], (o) => o.split('\n').find((l) => /^fsck\.fat \d/.test(l)) ?? null),
      mtools: await first('mcopy', ['--version']),
      coreutils: await first('dd', ['--version']),
    },
  };
}

export function machineLine(m) {
  const load = (l) => (l ? l.join(' / ') : '?');
  return `${m.cpuModel}, ${m.cpus} CPUs, ${fmtBytes(m.totalMemoryBytes)} RAM, ${m.os}, Node ${m.node}, work directory on ${m.workFilesystem}; ` +
    `${m.date.slice(0, 10)}, commit ${m.gitCommit ? m.gitCommit.slice(0, 10) : 'unknown'}${m.gitDirty ? ' (with uncommitted changes)' : ''}` +
    `${m.gitCommitAtEnd && m.gitCommitAtEnd !== m.gitCommit ? ` (${m.gitCommitAtEnd.slice(0, 10)} at the end)` : ''}; ` +
    `load average (1/5/15 min) ${load(m.loadAverageAtStart)} at the start, ${load(m.loadAverageAtEnd)} at the end`;
}
