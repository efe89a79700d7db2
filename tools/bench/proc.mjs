// Spawning tools for the benchmark: async (the bench stays responsive and can print progress),
// stdout/stderr kept in memory up to a bound, and failures as BenchError naming the command and
// showing the tail of its stderr. Tools are looked up on PATH plus the sbin directories.
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

export class BenchError extends Error {
  /** @param {string} message one line @param {string} [detail] e.g. a stderr tail */
  constructor(message, detail = '') {
    super(message);
    this.name = 'BenchError';
    this.detail = detail;
  }
}

export function toolPath() {
  const parts = (process.env.PATH ?? '').split(delimiter).filter((p) => p !== '');
  for (const extra of ['/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/bin', '/bin']) if (!parts.includes(extra)) parts.push(extra);
  return parts.join(delimiter);
}

export function findTool(name) {
  const dirs = name.includes('/') ? [''] : toolPath().split(delimiter);
  for (const dir of dirs) {
    const p = dir === '' ? name : join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

/** Environment for every spawned tool: ours, PATH with sbin, plus extras. */
export function toolEnv(extra = {}) {
  return { ...process.env, PATH: toolPath(), ...extra };
}

/** A readable command line (for messages). */
export function describe(cmd, args) {
  return [cmd, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(String(a)) ? String(a) : JSON.stringify(String(a)))).join(' ');
}

export function tail(text, lines = 15) {
  const all = String(text).trimEnd().split('\n');
  return (all.length > lines ? ['…', ...all.slice(-lines)] : all).join('\n');
}

const KEEP = 4 << 20; // bytes of stdout/stderr kept (the head of stdout, the tail of stderr)

/**
 * Runs a tool to completion. Resolves { status, stdout, stderr } when its exit status is in
 * okStatus (default [0]); otherwise rejects with a BenchError naming the command and its stderr tail.
 */
export function run(cmd, args, { env = {}, cwd, okStatus = [0], input } = {}) {
  const command = describe(cmd, args);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env: toolEnv(env), stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (s) => {
      if (out.length < KEEP) out += s;
    });
    child.stderr.on('data', (s) => {
      err += s;
      if (err.length > 2 * KEEP) err = err.slice(-KEEP);
    });
    if (input !== undefined) child.stdin.end(input);
    child.on('error', (e) => reject(new BenchError(`${command}: could not run: ${e.message}`)));
    child.on('close', (status, signal) => {
      if (status === null) return reject(new BenchError(`${command}: killed by ${signal}`, tail(err)));
      if (!okStatus.includes(status)) {
        return reject(new BenchError(`${command}: exited with status ${status}`, tail(err.trim() !== '' ? err : out)));
      }
      resolve({ status, stdout: out, stderr: err });
    });
  });
}
