/**
 * The kernel objects the device checks read, shared by mount-table.ts, mount-uses.ts and
 * loop-devices.ts (how a device is in use) and identity.ts (what storage a path is): bounded reads
 * of sysfs and /proc files, and the device numbers and file identities (device and inode) found
 * in them. Internal to the package.
 */
import { closeSync, constants, openSync, readdirSync, readSync, statSync, type BigIntStats } from 'node:fs';

const SMALL_FILE_LIMIT = 64 * 1024;
/** How sysfs marks the backing file of a loop device whose name was deleted. */
export const DELETED = ' (deleted)';

// ------------------------------------------------------------------------------------------------
// bounded reading

/** Reads at most `limit` bytes; `truncated` when the file holds more. Throws what open/read throw. */
export function readBounded(path: string, limit: number): { data: Buffer; truncated: boolean } {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.alloc(Math.min(64 * 1024, limit + 1 - total));
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      chunks.push(chunk.subarray(0, n));
      total += n;
      if (total > limit) return { data: Buffer.concat(chunks).subarray(0, limit), truncated: true };
    }
    return { data: Buffer.concat(chunks), truncated: false };
  } finally {
    closeSync(fd);
  }
}

/** A small sysfs/proc file's text, or undefined when it is missing, unreadable or too large. */
export function readSmall(path: string): string | undefined {
  try {
    const { data, truncated } = readBounded(path, SMALL_FILE_LIMIT);
    return truncated ? undefined : data.toString('utf8');
  } catch {
    return undefined;
  }
}

export function listDir(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}

export function statBig(path: string | Buffer): BigIntStats | undefined {
  try {
    return statSync(path, { bigint: true });
  } catch {
    return undefined;
  }
}

// ------------------------------------------------------------------------------------------------
// device numbers

/** Linux dev_t (glibc encoding) → "major:minor". */
export function majMinOf(dev: bigint): string {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & 0xfffff000n);
  const minor = (dev & 0xffn) | ((dev >> 12n) & 0xffffff00n);
  return `${major}:${minor}`;
}

/** "  254:0 " → "254:0", or undefined. */
export function normalizeMajMin(text: string | undefined): string | undefined {
  const m = /^\s*(\d+):(\d+)\s*$/.exec(text ?? '');
  return m ? `${Number(m[1])}:${Number(m[2])}` : undefined;
}

/** A file's identity: the device holding it and its inode number. */
export interface FileId {
  dev: string;
  ino: bigint;
}

export function fileIdOf(st: BigIntStats): FileId {
  return { dev: majMinOf(st.dev), ino: st.ino };
}

export function sameFile(a: FileId | undefined, b: FileId | undefined): boolean {
  return a !== undefined && b !== undefined && a.dev === b.dev && a.ino === b.ino;
}
