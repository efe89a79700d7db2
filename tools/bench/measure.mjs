// Measuring one command: wall and CPU time, peak RSS, and the bytes it read and wrote.
//
// Every measured command runs as
//   /usr/bin/time -f '%e %U %S %M' -o TFILE  sh -c '"$@"; rc=$?; cat /proc/$$/io > "$0"; exit $rc'  IOFILE CMD ARGS...
// - GNU time waits for sh and reports its wall time (%e), user and system CPU time (%U, %S) and
//   peak RSS (%M, KiB) from wait4's rusage: sh's own and that of every descendant it waited for, so
//   the command's (ru_maxrss of a waited-for tree is the largest of its processes).
// - /proc/PID/io counts one process's I/O; when a process reaps a child, Linux adds the child's
//   counters (and those the child had collected from its own children) to the parent's
//   (kernel/exit.c, wait_task_zombie → __exit_signal accumulation into signal->ioac). So after "$@"
//   has been waited for, sh's /proc/$$/io holds the command's totals plus sh's own (nothing: it
//   has read and written nothing yet; cat is still running when it reads the file, so its own
//   reads are not in it).
// Fields: rchar/wchar = bytes passed to read/write-like syscalls (page cache hits included, as are
// writes to pipes, files and /dev/null); read_bytes/write_bytes = bytes the process caused to be
// fetched from / sent to the storage layer (a warm page cache makes read_bytes ~0; write_bytes is
// counted when pages are dirtied).
// The command's stdout and stderr go to files in runDir (their sizes are returned so callers can
// subtract them from wchar).
import { closeSync, openSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { BenchError, describe, findTool, tail, toolEnv } from './proc.mjs';

export const GNU_TIME = '/usr/bin/time';
const WRAPPER = '"$@"; rc=$?; cat /proc/$$/io > "$0"; exit $rc';

let seq = 0;

/**
 * @returns {Promise<{command: string, status: number, wall: number, user: number, sys: number, cpu: number,
 *   maxRssKiB: number, io: Record<string, number>, stdout: string, stdoutBytes: number, stderr: string, stderrBytes: number}>}
 */
export async function measure(cmd, args, { runDir, env = {}, cwd, okStatus = [0], keepStdout = false } = {}) {
  const command = describe(cmd, args);
  if (findTool(GNU_TIME) === undefined) throw new BenchError(`${GNU_TIME} (GNU time) is missing: apt-get install -y time`);
  const n = ++seq;
  const tfile = join(runDir, `m${n}.time`);
  const iofile = join(runDir, `m${n}.io`);
  const ofile = join(runDir, `m${n}.out`);
  const efile = join(runDir, `m${n}.err`);
  const ofd = openSync(ofile, 'w');
  const efd = openSync(efile, 'w');
  let status;
  try {
    status = await new Promise((resolve, reject) => {
      const child = spawn(GNU_TIME, ['-f', '%e %U %S %M', '-o', tfile, 'sh', '-c', WRAPPER, iofile, cmd, ...args], {
        cwd, env: toolEnv(env), stdio: ['ignore', ofd, efd],
      });
      child.on('error', (e) => reject(new BenchError(`${command}: could not run: ${e.message}`)));
      child.on('close', (code, signal) => (code === null ? reject(new BenchError(`${command}: killed by ${signal}`)) : resolve(code)));
    });
  } finally {
    closeSync(ofd);
    closeSync(efd);
  }
  const stderr = readFileSync(efile, 'utf8');
  const stdoutBytes = statSync(ofile).size;
  if (!okStatus.includes(status)) {
    const out = readFileSync(ofile, 'utf8');
    throw new BenchError(`${command}: exited with status ${status}`, tail(stderr.trim() !== '' ? stderr : out));
  }
  const timeLines = readFileSync(tfile, 'utf8').trim().split('\n');
  const m = /^([\d.]+) ([\d.]+) ([\d.]+) (\d+)$/.exec(timeLines[timeLines.length - 1] ?? '');
  if (m === null) throw new BenchError(`${command}: cannot parse GNU time's output: ${timeLines.join(' | ')}`);
  const io = {};
  for (const line of readFileSync(iofile, 'utf8').split('\n')) {
    const f = /^(\w+): (\d+)$/.exec(line);
    if (f !== null) io[f[1]] = Number(f[2]);
  }
  if (io.rchar === undefined || io.wchar === undefined) throw new BenchError(`${command}: no I/O counters in /proc/PID/io`);
  const user = Number(m[2]);
  const sys = Number(m[3]);
  return {
    command,
    status,
    wall: Number(m[1]),
    user,
    sys,
    cpu: Math.round((user + sys) * 100) / 100,
    maxRssKiB: Number(m[4]),
    io,
    stdout: keepStdout ? readFileSync(ofile, 'utf8') : '',
    stdoutBytes,
    stderr: tail(stderr, 40),
    stderrBytes: statSync(efile).size,
  };
}

/**
 * The measurement itself, checked on every run: dd writing 8 MiB must show wchar and write_bytes
 * ≥ 8 MiB and a non-zero peak RSS. Returns what it saw.
 */
export async function checkMeasurement(runDir) {
  const target = join(runDir, 'measure-check.bin');
  const r = await measure('dd', ['if=/dev/zero', `of=${target}`, 'bs=1M', 'count=8', 'conv=fsync', 'status=none'], { runDir });
  const MiB8 = 8 << 20;
  const ok = r.io.wchar >= MiB8 && r.io.write_bytes >= MiB8 && r.maxRssKiB > 0 && r.wall >= 0;
  const seen = { wchar: r.io.wchar, write_bytes: r.io.write_bytes, maxRssKiB: r.maxRssKiB, wall: r.wall, ok };
  if (!ok) throw new BenchError(`the measurement does not work here: dd wrote 8 MiB but /proc/PID/io and GNU time say ${JSON.stringify(seen)}`);
  return seen;
}
