/**
 * Is a device in use by a mount? Before the first write, conversion must refuse a device that is
 * mounted: directly (a block device), through a loop device backed by an image file (or by a block
 * device), through a partition of such a loop device, or through a device stacked on top of it
 * (device-mapper, RAID). The kernel objects are read from /proc/self/mountinfo, /proc/swaps and
 * sysfs; loop devices' backing files are identified by device and inode (from `losetup`, which
 * asks the kernel, or else by stat of the path in sysfs), never by name alone. The uses found are
 * said in one line by `describeMountUses`, whose wording follows the `via` texts written here.
 */
import { realpathSync, statSync, type BigIntStats } from 'node:fs';
import { DeviceError } from './device.js';
import { listLoopDevices, type LoopDevice } from './loop-devices.js';
import { parseMountInfo, readSwaps, type MountInfoEntry, type SwapEntry } from './mount-table.js';
import { DELETED, fileIdOf, listDir, majMinOf, normalizeMajMin, readBounded, readSmall, sameFile, statBig } from './sysfs.js';

/** How `path` is in use: mounted (possibly through other devices), swap, or held by a loop device that is not mounted. */
export type MountUseKind = 'mounted' | 'swap' | 'attached';

export interface MountUse {
  /** Where it is mounted ('[swap]' for swap space, '' for a loop device that is not mounted). */
  mountPoint: string;
  /** The mount's source as the kernel shows it (e.g. /dev/loop3), or the loop device for 'attached'. */
  source: string;
  /** 'mounted directly', 'through loop device /dev/loop3', 'attached to loop device /dev/loop3, not mounted', … */
  via: string;
  kind: MountUseKind;
}

/** Where the kernel objects are read from; tests point these at synthetic trees. */
export interface FindMountUsesOptions {
  /** Default '/sys'. */
  sysfs?: string;
  /** Default '/proc/self/mountinfo'. */
  mountInfo?: string;
  /** Default '/proc/swaps'. */
  swaps?: string;
  /** Ask `losetup` for loop devices' backing-file device and inode (default true). */
  useLosetup?: boolean;
}

const MOUNTINFO_LIMIT = 16 * 1024 * 1024;
const MAX_DEPTH = 8;
const MAX_NODES = 1024;

/** The mount table, read whole (bounded); a table that cannot be read is a refusal naming `target`. */
function readMountInfo(path: string, target: string): MountInfoEntry[] {
  let read: { data: Buffer; truncated: boolean };
  try {
    read = readBounded(path, MOUNTINFO_LIMIT);
  } catch (e) {
    throw new DeviceError(`cannot check whether ${show(target)} is mounted: cannot read ${path} (${(e as Error).message})`);
  }
  if (read.truncated) {
    throw new DeviceError(`cannot check whether ${show(target)} is mounted: ${path} is larger than ${MOUNTINFO_LIMIT} bytes`);
  }
  return parseMountInfo(read.data);
}

// ------------------------------------------------------------------------------------------------
// the walk over devices built on the target

interface Node {
  majMin: string;
  /** e.g. 'loop device /dev/loop3', 'partition /dev/loop3p1' */
  label: string;
  isLoop: boolean;
  loopPath?: string;
}

function devPathOf(kernelName: string): string {
  return `/dev/${kernelName.replace(/!/g, '/')}`;
}

/** Partitions of the block device and devices built on it (holders: device-mapper, RAID). */
function childrenInSysfs(sysfs: string, majMin: string): Node[] {
  const dir = `${sysfs}/dev/block/${majMin}`;
  const out: Node[] = [];
  for (const entry of listDir(dir)) {
    if (readSmall(`${dir}/${entry}/partition`) === undefined) continue;
    const mm = normalizeMajMin(readSmall(`${dir}/${entry}/dev`));
    if (mm) out.push({ majMin: mm, label: `partition ${devPathOf(entry)}`, isLoop: false });
  }
  for (const holder of listDir(`${dir}/holders`)) {
    const mm = normalizeMajMin(readSmall(`${sysfs}/class/block/${holder}/dev`));
    if (!mm) continue;
    let label = `device ${devPathOf(holder)}`;
    const dmName = readSmall(`${sysfs}/class/block/${holder}/dm/name`)?.trim();
    if (dmName) label = `device-mapper device /dev/mapper/${dmName}`;
    else if (/^md/.test(holder)) label = `RAID device ${devPathOf(holder)}`;
    out.push({ majMin: mm, label, isLoop: false });
  }
  return out;
}

function loopNode(loop: LoopDevice): Node {
  return { majMin: loop.majMin, label: `loop device ${loop.path}`, isLoop: true, loopPath: loop.path };
}

/** "through partition /dev/loop3p1 on loop device /dev/loop3" for the chain [loop3, loop3p1]. */
function throughText(chain: string[]): string {
  return `through ${[...chain].reverse().join(' on ')}`;
}

class Finder {
  readonly uses: MountUse[] = [];
  private readonly seen = new Set<string>();
  private readonly visited = new Set<string>();
  private readonly mountsByDev = new Map<string, MountInfoEntry[]>();

  constructor(
    private readonly sysfs: string,
    mounts: MountInfoEntry[],
    private readonly swaps: SwapEntry[],
    private readonly loops: LoopDevice[],
  ) {
    const sourceDev = new Map<string, string | undefined>();
    for (const m of mounts) {
      const keys = new Set([m.majMin]);
      // Some filesystems (btrfs) show an anonymous device in field 3: match the source device too.
      if (m.source.startsWith('/dev/')) {
        if (!sourceDev.has(m.source)) {
          const st = statBig(m.sourceBytes);
          sourceDev.set(m.source, st?.isBlockDevice() ? majMinOf(st.rdev) : undefined);
        }
        const rdev = sourceDev.get(m.source);
        if (rdev) keys.add(rdev);
      }
      for (const k of keys) {
        const list = this.mountsByDev.get(k);
        if (list) list.push(m);
        else this.mountsByDev.set(k, [m]);
      }
    }
  }

  add(use: MountUse): void {
    const key = JSON.stringify([use.kind, use.mountPoint, use.source, use.via]);
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.uses.push(use);
  }

  /** Reports the uses of block device `majMin` and of everything built on it; returns how many. */
  walk(majMin: string, chain: string[], depth: number): number {
    if (this.visited.has(majMin) || this.visited.size >= MAX_NODES) return 0;
    this.visited.add(majMin);
    const before = this.uses.length;
    const via = chain.length === 0 ? 'mounted directly' : throughText(chain);
    for (const m of this.mountsByDev.get(majMin) ?? []) {
      this.add({ kind: 'mounted', mountPoint: m.mountPoint, source: m.source, via });
    }
    for (const s of this.swaps) {
      if (s.rdev === majMin) this.add({ kind: 'swap', mountPoint: '[swap]', source: s.name, via: chain.length === 0 ? 'as swap space' : throughText(chain) });
    }
    if (depth < MAX_DEPTH) {
      const children = childrenInSysfs(this.sysfs, majMin);
      for (const loop of this.loops) if (loop.backingRdev === majMin) children.push(loopNode(loop));
      for (const child of children) this.walkChild(child, chain, depth + 1);
    }
    return this.uses.length - before;
  }

  walkChild(child: Node, chain: string[], depth: number, attachedVia?: string): void {
    if (this.visited.has(child.majMin)) return;
    const found = this.walk(child.majMin, [...chain, child.label], depth);
    if (found === 0 && child.isLoop) {
      const via = `attached to loop device ${child.loopPath}, not mounted`;
      this.add({
        kind: 'attached', mountPoint: '', source: child.loopPath!,
        via: attachedVia ?? (chain.length === 0 ? via : `${via} (${throughText(chain)})`),
      });
    }
  }

  /**
   * The uses of what the loop device `majMin` (if it is one) is backed by, which it is the same
   * storage as: for a file, every other loop device of that file (mounted, or attached) and the file
   * as swap; for a block device, that device's uses (walk) and, if it is a loop device too, its
   * backing's. Loop devices already walked (the target itself) are not reported again.
   */
  backing(majMin: string, chain: string[], depth: number): void {
    const loop = this.loops.find((l) => l.majMin === majMin);
    if (loop === undefined || depth >= MAX_DEPTH) return;
    const name = show(loop.backingText.endsWith(DELETED) ? loop.backingText.slice(0, -DELETED.length) : loop.backingText);
    const its = chain.length === 0 ? 'its ' : '';
    if (loop.backingRdev !== undefined) {
      const next = [...chain, `${its}backing device ${name}`];
      this.walk(loop.backingRdev, next, depth + 1);
      this.backing(loop.backingRdev, next, depth + 1);
      return;
    }
    if (loop.file === undefined) return;
    const label = `${its}backing file ${name}`;
    const next = [...chain, label];
    for (const other of this.loops) {
      if (other === loop || !sameFile(other.file, loop.file)) continue;
      this.walkChild(loopNode(other), next, depth + 1, `attached to loop device ${other.path} too (${label}), not mounted`);
    }
    for (const s of this.swaps) {
      if (sameFile(s.file, loop.file)) this.add({ kind: 'swap', mountPoint: '[swap]', source: s.name, via: throughText(next) });
    }
  }
}

/**
 * Every way `path` (an image file or a block device) is in use: mounted directly (a block device
 * whose major:minor matches a mount's), through a loop device backed by the file (matched by device
 * and inode, so another path or a hard link to the same file is found), through a partition of
 * that loop device or a device built on it, as swap space; and loop devices attached to it but not
 * mounted (kind 'attached'). A loop device is the storage behind it: its backing file's uses count
 * (every other loop device of that file, mounted or attached, and the file as swap), or for a loop
 * device backed by a block device, that device's; the loop device given is never reported as
 * attached. Throws a DeviceError when `path` does not exist or the mount table cannot be read; a
 * machine without loop devices (or without losetup) is no error.
 */
export function findMountUses(path: string, options: FindMountUsesOptions = {}): MountUse[] {
  const sysfs = options.sysfs ?? '/sys';
  let st: BigIntStats;
  try {
    st = statSync(path, { bigint: true });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'no such file or device' : err.code === 'EACCES' ? 'permission denied' : err.message;
    throw new DeviceError(`cannot open ${path}: ${why}`);
  }
  const mounts = readMountInfo(options.mountInfo ?? '/proc/self/mountinfo', path);
  const swaps = readSwaps(options.swaps ?? '/proc/swaps');
  const loops = listLoopDevices(sysfs, options.useLosetup ?? true);
  const finder = new Finder(sysfs, mounts, swaps, loops);
  const target = fileIdOf(st);

  if (st.isBlockDevice()) {
    // A loop device is the same storage as its backing file (or device): their uses are its uses.
    finder.walk(majMinOf(st.rdev), [], 0);
    finder.backing(majMinOf(st.rdev), [], 0);
  } else {
    for (const s of swaps) if (sameFile(s.file, target)) finder.add({ kind: 'swap', mountPoint: '[swap]', source: s.name, via: 'as swap space' });
  }

  let resolved: string | undefined;
  for (const loop of loops) {
    let matches = sameFile(loop.file, target);
    if (loop.file === undefined && !loop.backingText.endsWith(DELETED)) {
      // Identity unknown (losetup missing, path not stat-able): fall back to the name.
      resolved ??= safeRealpath(path);
      matches = resolved !== undefined && loop.backingText === resolved;
    }
    if (matches) finder.walkChild(loopNode(loop), [], 1);
  }
  return finder.uses;
}

function safeRealpath(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

// ------------------------------------------------------------------------------------------------
// the message

/** A path for a one-line message: quoted when it holds spaces, quotes, backslashes or control characters. */
function show(p: string): string {
  return /[\s"'\\\x00-\x1f\x7f]/.test(p) ? JSON.stringify(p) : p;
}

function listing(items: string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/**
 * A one-line refusal for the uses found, e.g. "/dev/sdb1 is mounted on /media/x: unmount it
 * first", or "disk.img is mounted on /mnt through loop device /dev/loop3: unmount it and detach
 * the loop device first".
 */
export function describeMountUses(path: string, uses: MountUse[]): string {
  if (uses.length === 0) return `${show(path)} is not in use`;
  // Group mount points by how they are reached, keeping the order found.
  const groups = new Map<string, { kind: MountUseKind; via: string; points: string[] }>();
  for (const u of uses) {
    const key = `${u.kind}\n${u.via}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { kind: u.kind, via: u.via, points: [] }));
    const point = u.kind === 'swap' ? show(u.source) : show(u.mountPoint);
    if (!g.points.includes(point)) g.points.push(point);
  }
  const phrases: string[] = [];
  for (const g of groups.values()) {
    if (g.kind === 'mounted') {
      const points = g.points.length > 3 ? [...g.points.slice(0, 3), `${g.points.length - 3} more`] : g.points;
      phrases.push(`mounted on ${listing(points)}${g.via === 'mounted directly' ? '' : ` ${g.via}`}`);
    } else if (g.kind === 'swap') {
      phrases.push(g.via === 'as swap space' ? 'in use as swap space' : `in use as swap space ${g.via}`);
    } else {
      phrases.push(g.via);
    }
  }
  const shown = phrases.length > 3 ? [...phrases.slice(0, 3), `and ${phrases.length - 3} more`] : phrases;

  const loopDevices = new Set<string>();
  for (const u of uses) for (const m of u.via.matchAll(/loop device (\S+?)(?=[,\s)]|$)/g)) loopDevices.add(m[1]!);
  const attached = uses.filter((u) => u.kind === 'attached').map((u) => u.source);
  const actions: string[] = [];
  if (uses.some((u) => u.kind === 'mounted')) actions.push('unmount it');
  if (uses.some((u) => u.kind === 'swap')) actions.push('turn the swap off (swapoff)');
  if (loopDevices.size > 0) actions.push(loopDevices.size === 1 ? 'detach the loop device' : 'detach the loop devices');
  let advice = actions.length > 0 ? `${listing(actions)} first` : 'release it first';
  if (attached.length > 0 && uses.every((u) => u.kind === 'attached')) advice += ` (losetup -d ${[...new Set(attached)].join(' ')})`;
  return `${show(path)} is ${shown.join('; ')}: ${advice}`;
}
