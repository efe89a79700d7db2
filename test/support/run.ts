// Spawn helpers for the test support layer: synchronous, with errors that say what ran, how it
// ended and what it printed on stderr. Tools are looked up on PATH plus /usr/sbin and /sbin
// (where e2fsprogs lives), and a missing tool is an error, never a reason to skip.
import { spawn, spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The command that installs every external tool the tests rely on. */
export const INSTALL_HINT = 'apt-get install -y e2fsprogs dosfstools mtools';

/** Packages that provide tools outside e2fsprogs/dosfstools/mtools (named in the error too). */
const EXTRA_PACKAGES: Record<string, string> = {
  mount: 'mount',
  umount: 'mount',
  losetup: 'mount',
  blkid: 'util-linux',
  wipefs: 'util-linux',
  mknod: 'coreutils',
  mkfifo: 'coreutils',
  touch: 'coreutils',
};

/** PATH used for every spawned tool: the caller's PATH plus the sbin directories. */
export function toolPath(): string {
  const parts = (process.env['PATH'] ?? '').split(delimiter).filter((p) => p !== '');
  for (const extra of ['/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/bin', '/bin']) {
    if (!parts.includes(extra)) parts.push(extra);
  }
  return parts.join(delimiter);
}

/** Absolute path of an executable, or undefined when it is not installed. */
export function findTool(name: string): string | undefined {
  if (name.includes('/')) return isExecutable(name) ? name : undefined;
  for (const dir of toolPath().split(delimiter)) {
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function isExecutable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

const toolCache = new Map<string, string>();

/**
 * Absolute path of a required tool. Throws (never skips) when it is missing, naming the
 * install command.
 */
export function requireTool(name: string): string {
  const cached = toolCache.get(name);
  if (cached !== undefined) return cached;
  const found = findTool(name);
  if (found === undefined) {
    const extra = EXTRA_PACKAGES[name];
    const hint = extra === undefined ? INSTALL_HINT : `${INSTALL_HINT} ${extra}`;
    throw new Error(
      `Required tool '${name}' was not found on PATH (searched ${toolPath()}). ` +
        `The tests need it and will not skip; install it as root with:\n  apt-get update && ${hint}`,
    );
  }
  toolCache.set(name, found);
  return found;
}

export interface RunOptions {
  /** Bytes or text fed to stdin. */
  input?: string | Uint8Array;
  cwd?: string;
  /** Extra environment variables (merged over process.env; PATH includes the sbin dirs). */
  env?: Record<string, string | undefined>;
  /** Exit codes that count as success (default [0]). */
  okStatus?: readonly number[];
  /** Kill the process after this many milliseconds (default 10 minutes). */
  timeoutMs?: number;
}

export interface RunResult {
  command: string;
  status: number;
  stdout: Buffer;
  stderr: Buffer;
}

/** Thrown when a spawned tool cannot start, is killed, or exits with an unexpected status. */
export class RunError extends Error {
  constructor(
    message: string,
    readonly result: RunResult | undefined,
  ) {
    super(message);
    this.name = 'RunError';
  }
}

/** A readable rendering of a command line (for error messages only). */
export function describeCommand(cmd: string, args: readonly string[]): string {
  return [cmd, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
}

const MAX_BUFFER = 1024 * 1024 * 1024;

function tail(b: Buffer, max = 4000): string {
  const s = b.toString('utf8');
  return s.length > max ? `…${s.slice(s.length - max)}` : s;
}

/**
 * Runs a tool to completion and returns its output whatever its exit status; throws only when
 * it cannot be started or is killed by a signal/timeout. `cmd` without a slash must be an
 * installed tool (checked with requireTool).
 */
export function tryRun(cmd: string, args: readonly string[], opts: RunOptions = {}): RunResult {
  const exe = cmd.includes('/') ? cmd : requireTool(cmd);
  const command = describeCommand(cmd, args);
  const spawnOpts: SpawnSyncOptions = {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env, PATH: toolPath() },
    maxBuffer: MAX_BUFFER,
    timeout: opts.timeoutMs ?? 600_000,
    stdio: ['pipe', 'pipe', 'pipe'],
  };
  if (opts.input !== undefined) spawnOpts.input = opts.input;
  const r = spawnSync(exe, [...args], spawnOpts);
  const stdout = Buffer.isBuffer(r.stdout) ? r.stdout : Buffer.from(r.stdout ?? '');
  const stderr = Buffer.isBuffer(r.stderr) ? r.stderr : Buffer.from(r.stderr ?? '');
  if (r.error !== undefined) {
    throw new RunError(`${command}: could not run: ${r.error.message}\n${tail(stderr)}`, undefined);
  }
  if (r.status === null) {
    const result = { command, status: -1, stdout, stderr };
    throw new RunError(`${command}: killed by ${r.signal ?? 'a signal'}\nstderr: ${tail(stderr)}`, result);
  }
  return { command, status: r.status, stdout, stderr };
}

/** Runs a tool and throws a RunError (with stderr, and stdout when stderr is empty) unless it exits with an ok status. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): RunResult {
  const r = tryRun(cmd, args, opts);
  const ok = opts.okStatus ?? [0];
  if (!ok.includes(r.status)) {
    const err = tail(r.stderr).trim();
    const out = tail(r.stdout).trim();
    throw new RunError(
      `${r.command}: exited with status ${r.status} (expected ${ok.join(' or ')})` +
        (err !== '' ? `\nstderr:\n${err}` : '') +
        (out !== '' ? `\nstdout:\n${out}` : ''),
      r,
    );
  }
  return r;
}

/** Like run, returning stdout decoded as UTF-8. */
export function runText(cmd: string, args: readonly string[], opts: RunOptions = {}): string {
  return run(cmd, args, opts).stdout.toString('utf8');
}

export interface AsyncRunResult {
  status: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * Runs a command in a child process asynchronously, collecting its output: the test worker's event
 * loop keeps running (vitest gives up on a worker silent for 60 s). Rejects after `timeoutMs` (a hang),
 * with the tail of stderr. A command killed by a signal has status 128.
 */
export function runAsync(
  cmd: string, args: readonly string[], opts: { timeoutMs: number; env?: NodeJS.ProcessEnv },
): Promise<AsyncRunResult> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? { ...process.env, PATH: toolPath() }, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd} ${args.join(' ')}: no result after ${opts.timeoutMs} ms (a hang)\n${tail(Buffer.concat(err)).trim()}`));
    }, opts.timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        status: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        ms: Date.now() - start,
      });
    });
  });
}
