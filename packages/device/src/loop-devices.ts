/**
 * Loop device discovery: every bound loop device in sysfs with its backing file, identified by
 * device and inode (from `losetup`, which asks the kernel, or else by stat of the path sysfs
 * shows), never by name alone; and, for a loop device backed by a block device, that device.
 * Internal to the package.
 */
import { spawnSync } from 'node:child_process';
import { DELETED, fileIdOf, listDir, majMinOf, normalizeMajMin, readSmall, sameFile, statBig, type FileId } from './sysfs.js';

const LOSETUP_OUTPUT_LIMIT = 4 * 1024 * 1024;

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
