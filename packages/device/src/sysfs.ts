/**
 * The kernel objects the device checks read, shared by mounts.ts (how a device is in use) and
 * identity.ts (what storage a path is): bounded reads of sysfs and /proc files, device numbers, and
 * the bound loop devices with their backing files, identified by device and inode (from `losetup`,
 * which asks the kernel, or else by stat of the path sysfs shows), never by name alone. Internal to
 * the package.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, constants, openSync, readdirSync, readSync, statSync, type BigIntStats } from 'node:fs';

const SMALL_FILE_LIMIT = 64 * 1024;
const LOSETUP_OUTPUT_LIMIT = 4 * 1024 * 1024;
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

// ------------------------------------------------------------------------------------------------
// loop devices

export interface LoopDevice {
  /** /dev/loopN */
  path: string;
  majMin: string;
  /** backing_file as sysfs shows it (may be stale, or end in " (deleted)"). */
  backingText: string;
  /** The backing file's identity, from losetup (the kernel) or else from stat of backingText. */
  file?: FileId;
  /** When the backing file is a block device: its "major:minor". */
  backingRdev?: string;
}

/** losetup's view: /dev/loopN → backing file identity. Empty when losetup is missing or fails. */
export function queryLosetup(): Map<string, FileId> {
  const ids = new Map<string, FileId>();
  let result;
  try {
    result = spawnSync('losetup', ['--list', '--json', '--output', 'NAME,BACK-INO,BACK-MAJ:MIN'], {
      encoding: 'utf8',
      timeout: 5000,
      maxBuffer: LOSETUP_OUTPUT_LIMIT,
      env: { ...process.env, LC_ALL: 'C' },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
  } catch {
    return ids;
  }
  if (result.error || result.status !== 0 || !result.stdout) return ids;
  let parsed: unknown;
  try {
    parsed = JSON.parse(result.stdout);
  } catch {
    return ids;
  }
  const list = (parsed as { loopdevices?: unknown })?.loopdevices;
  if (!Array.isArray(list)) return ids;
  for (const item of list as Record<string, unknown>[]) {
    const name = item?.['name'];
    const ino = item?.['back-ino'];
    const dev = normalizeMajMin(typeof item?.['back-maj:min'] === 'string' ? (item['back-maj:min'] as string) : undefined);
    if (typeof name !== 'string' || dev === undefined) continue;
    const inoText = typeof ino === 'number' || typeof ino === 'string' ? String(ino).trim() : '';
    if (!/^\d+$/.test(inoText) || inoText === '0') continue;
    ids.set(name, { dev, ino: BigInt(inoText) });
  }
  return ids;
}

/** Every bound loop device (one with a backing file). Empty on a machine without loop devices. */
export function listLoopDevices(sysfs: string, useLosetup: boolean): LoopDevice[] {
  const names = listDir(`${sysfs}/block`)
    .filter((n) => /^loop\d+$/.test(n))
    .sort((a, b) => Number(a.slice(4)) - Number(b.slice(4)));
  const loops: LoopDevice[] = [];
  for (const name of names) {
    let backingText = readSmall(`${sysfs}/block/${name}/loop/backing_file`);
    if (backingText === undefined) continue;
    if (backingText.endsWith('\n')) backingText = backingText.slice(0, -1);
    if (backingText === '') continue;
    const majMin = normalizeMajMin(readSmall(`${sysfs}/block/${name}/dev`));
    if (majMin === undefined) continue;
    loops.push({ path: `/dev/${name}`, majMin, backingText });
  }
  if (loops.length === 0) return loops;
  const fromLosetup = useLosetup ? queryLosetup() : new Map<string, FileId>();
  for (const loop of loops) {
    const known = fromLosetup.get(loop.path);
    // The path sysfs shows is only trusted when it still names the file the loop device holds.
    const st = loop.backingText.endsWith(DELETED) ? undefined : statBig(loop.backingText);
    const byPath = st ? fileIdOf(st) : undefined;
    loop.file = known ?? byPath;
    if (st && st.isBlockDevice() && (known === undefined || sameFile(known, byPath))) loop.backingRdev = majMinOf(st.rdev);
  }
  return loops;
}
