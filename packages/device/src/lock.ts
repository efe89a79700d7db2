/**
 * Advisory locks on a device or image opened for writing, held for as long as its fd stays open
 * (the kernel drops them when the fd is closed, also when the process dies):
 * - flock(LOCK_EX|LOCK_NB): what flock(1), other fsconv runs and many tools use; on a block device
 *   it is udev's convention for "being worked on, do not probe" (systemd-repart, mkfs --lock).
 * - for regular files also an OFD write lock over the whole file (fcntl F_OFD_SETLK): QEMU holds
 *   these on the images of running virtual machines, and they conflict with classic POSIX locks
 *   (lockf, F_SETLK) too.
 * A lock held by someone else is a one-line DeviceError naming the path (and the holder's pid when
 * the kernel tells it).
 *
 * Node has no API for either lock, so libc is called through koffi: an FFI whose native binary comes
 * prebuilt inside the npm package (@koromix/koffi-<os>-<arch>), so a fresh machine needs no compiler
 * and no install script. Not fs-ext: a native addon built with node-gyp at install time (a compiler
 * on every machine), and it has no OFD locks. Not proper-lockfile: it makes lock files (FILE.lock)
 * that QEMU, flock(1) and every other program ignore.
 */
import { fstatSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { DeviceError } from './device.js';

type Koffi = typeof import('koffi');
type KoffiFunction = ReturnType<ReturnType<Koffi['load']>['func']>;

// <sys/file.h> and <fcntl.h> on Linux (the same on every architecture).
const LOCK_EX = 2;
const LOCK_NB = 4;
const F_OFD_GETLK = 36;
const F_OFD_SETLK = 37;
const F_WRLCK = 1;
const F_UNLCK = 2;
const SEEK_SET = 0;

interface Libc {
  koffi: Koffi;
  flock: KoffiFunction;
  fcntl: KoffiFunction;
  /** struct flock: short l_type, short l_whence, off_t l_start, off_t l_len, pid_t l_pid (koffi lays it out with the C alignment: 32 bytes on 64-bit Linux). */
  flockPtr: unknown;
  errno: { EAGAIN: number; EACCES: number; EWOULDBLOCK: number; EINTR: number };
}

let libc: Libc | undefined;
let libcError: string | undefined;

/** Loads koffi and libc once, on the first lock (read commands never load it). */
function loadLibc(): Libc {
  if (libc) return libc;
  if (libcError !== undefined) throw new Error(libcError);
  try {
    const koffi = createRequire(import.meta.url)('koffi') as Koffi;
    let lib: ReturnType<Koffi['load']> | undefined;
    const tried: string[] = [];
    for (const name of ['libc.so.6', 'libc.so', `libc.musl-${process.arch === 'x64' ? 'x86_64' : process.arch}.so.1`]) {
      try {
        lib = koffi.load(name);
        break;
      } catch (e) {
        tried.push(`${name}: ${(e as Error).message}`);
      }
    }
    if (!lib) throw new Error(`cannot load the C library (${tried.join('; ')})`);
    // off_t is a C long for glibc's fcntl (64 bits on 64-bit Linux).
    const Flock = koffi.struct('fsconv_flock', { l_type: 'short', l_whence: 'short', l_start: 'long', l_len: 'long', l_pid: 'int' });
    const e = koffi.os.errno as Record<string, number>;
    libc = {
      koffi,
      flock: lib.func('int flock(int fd, int operation)'),
      fcntl: lib.func('int fcntl(int fd, int cmd, ...)'),
      flockPtr: koffi.pointer(Flock),
      errno: { EAGAIN: e['EAGAIN'] ?? 11, EACCES: e['EACCES'] ?? 13, EWOULDBLOCK: e['EWOULDBLOCK'] ?? e['EAGAIN'] ?? 11, EINTR: e['EINTR'] ?? 4 },
    };
    return libc;
  } catch (e) {
    libcError = `koffi, which fsconv uses to lock files, does not work here: ${(e as Error).message}`;
    throw new Error(libcError);
  }
}

/** A path for a one-line message: quoted when it holds spaces, quotes, backslashes or control characters. */
function show(p: string): string {
  return /[\s"'\\\x00-\x1f\x7f]/.test(p) ? JSON.stringify(p) : p;
}

/** "EBADF" for 9: the name libc gives an errno value. */
function errnoName(c: Libc, errno: number): string {
  for (const [name, value] of Object.entries(c.koffi.os.errno as Record<string, number>)) if (value === errno) return name;
  return `errno ${errno}`;
}

export interface LockOptions {
  /**
   * How long to keep trying while the lock is held (default 0: refuse at once). udev takes a shared
   * flock on a block device for a moment while it probes one that has just appeared.
   */
  retryMs?: number;
}

/**
 * Locks the open file or block device `fd` (opened from `path`) for writing: flock(LOCK_EX|LOCK_NB)
 * and, for a regular file, an OFD write lock over the whole file. Held until the fd is closed.
 * Throws a DeviceError when another program holds either lock. On a block device, a kernel or
 * filesystem that does not support flock is no error (O_EXCL is the real guard there).
 */
export function lockForWriting(fd: number, path: string, isBlockDevice: boolean, options: LockOptions = {}): void {
  let c: Libc;
  try {
    c = loadLibc();
  } catch (e) {
    throw new DeviceError(`cannot lock ${show(path)} against other programs: ${(e as Error).message}`);
  }
  const deadline = Date.now() + (options.retryMs ?? 0);
  for (;;) {
    const r = c.flock(fd, LOCK_EX | LOCK_NB) as number;
    if (r === 0) break;
    const errno = c.koffi.errno();
    if (errno === c.errno.EINTR) continue;
    if (errno === c.errno.EWOULDBLOCK || errno === c.errno.EAGAIN) {
      if (Date.now() < deadline) {
        sleepMs(50);
        continue;
      }
      throw heldError(path, isBlockDevice, 'flock', flockHolder(fd));
    }
    if (isBlockDevice) return; // flock unsupported here: nothing more to take on a block device
    throw new DeviceError(`cannot lock ${show(path)} (flock: ${errnoName(c, errno)})`);
  }
  if (isBlockDevice || process.platform !== 'linux') return;
  const lock = { l_type: F_WRLCK, l_whence: SEEK_SET, l_start: 0, l_len: 0, l_pid: 0 };
  for (;;) {
    const r = c.fcntl(fd, F_OFD_SETLK, c.flockPtr, lock) as number;
    if (r === 0) return;
    const errno = c.koffi.errno();
    if (errno === c.errno.EINTR) continue;
    if (errno === c.errno.EAGAIN || errno === c.errno.EACCES) throw heldError(path, false, 'fcntl', fcntlHolder(c, fd));
    throw new DeviceError(`cannot lock ${show(path)} (fcntl F_OFD_SETLK: ${errnoName(c, errno)})`);
  }
}

/** Who holds a conflicting fcntl lock: F_OFD_GETLK gives the pid for classic POSIX locks (-1 for OFD locks). */
function fcntlHolder(c: Libc, fd: number): number | undefined {
  const probe = { l_type: F_WRLCK, l_whence: SEEK_SET, l_start: 0, l_len: 0, l_pid: 0 };
  try {
    const r = c.fcntl(fd, F_OFD_GETLK, c.koffi.inout(c.flockPtr as never), probe) as number;
    if (r === 0 && probe.l_type !== F_UNLCK && probe.l_pid > 0) return probe.l_pid;
  } catch {
    /* the holder is only named when it can be */
  }
  return undefined;
}

/** Who holds a flock on the same file: /proc/locks lists FLOCK locks with the pid that took them. */
function flockHolder(fd: number): number | undefined {
  try {
    const { dev, ino } = fdIdentity(fd);
    for (const line of readFileSync('/proc/locks', 'utf8').split('\n')) {
      // "1: FLOCK  ADVISORY  WRITE 5027 fe:00:2146337 0 EOF"
      const m = /^\d+:\s+FLOCK\s+\S+\s+\S+\s+(-?\d+)\s+([0-9a-f]+):([0-9a-f]+):(\d+)\s/.exec(line);
      if (!m) continue;
      if (parseInt(m[2]!, 16) === dev.major && parseInt(m[3]!, 16) === dev.minor && BigInt(m[4]!) === ino) {
        const pid = Number(m[1]);
        if (pid > 0 && pid !== process.pid) return pid;
      }
    }
  } catch {
    /* no /proc: the holder is not named */
  }
  return undefined;
}

function fdIdentity(fd: number): { dev: { major: number; minor: number }; ino: bigint } {
  const { dev, ino } = fstatSync(fd, { bigint: true });
  const major = Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & 0xfffff000n));
  const minor = Number((dev & 0xffn) | ((dev >> 12n) & 0xffffff00n));
  return { dev: { major, minor }, ino };
}

function processName(pid: number): string | undefined {
  try {
    const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    return comm === '' ? undefined : comm;
  } catch {
    return undefined;
  }
}

function heldError(path: string, isBlockDevice: boolean, how: 'flock' | 'fcntl', pid: number | undefined): DeviceError {
  const name = pid !== undefined ? processName(pid) : undefined;
  const holder = pid !== undefined ? `pid ${pid}${name !== undefined ? ` (${name})` : ''}` : undefined;
  if (isBlockDevice) {
    return new DeviceError(
      `${show(path)} is locked by another program (${holder ?? 'a flock on the device'}; a partitioning or formatting tool?): close it first`,
    );
  }
  const lock = how === 'flock' ? 'flock' : 'write lock';
  return new DeviceError(
    `${show(path)} is locked by another program (${holder !== undefined ? `${holder} holds a ${lock}` : `a ${lock}`}; another fsconv, or a virtual machine using it): close it first`,
  );
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

function sleepMs(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}
