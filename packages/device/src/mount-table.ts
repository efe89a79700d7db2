/**
 * The kernel's tables of what is mounted and what is swapped on: /proc/self/mountinfo (parsed, with
 * its octal escapes decoded) and /proc/swaps (each entry resolved to the block device or the file
 * it names, by device and inode).
 */
import { DELETED, fileIdOf, majMinOf, normalizeMajMin, readSmall, statBig, type FileId } from './sysfs.js';

/** One line of /proc/self/mountinfo, with octal escapes decoded. */
export interface MountInfoEntry {
  id: number;
  parentId: number;
  /** Field 3, "major:minor" of the mounted filesystem's st_dev. */
  majMin: string;
  root: string;
  mountPoint: string;
  fsType: string;
  source: string;
  /** The source as raw bytes (paths need not be UTF-8). */
  sourceBytes: Buffer;
}

// ------------------------------------------------------------------------------------------------
// mountinfo

/** Decodes the kernel's `\ooo` escapes (space, tab, newline, backslash) into raw bytes. */
export function decodeOctalEscapes(field: string): Buffer {
  const raw = Buffer.from(field, 'latin1');
  const out = Buffer.alloc(raw.length);
  let n = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === 0x5c && isOctal(raw[i + 1]) && isOctal(raw[i + 2]) && isOctal(raw[i + 3])) {
      out[n++] = ((raw[i + 1]! - 0x30) * 64 + (raw[i + 2]! - 0x30) * 8 + (raw[i + 3]! - 0x30)) & 0xff;
      i += 3;
    } else {
      out[n++] = c;
    }
  }
  return out.subarray(0, n);
}

function isOctal(c: number | undefined): boolean {
  return c !== undefined && c >= 0x30 && c <= 0x37;
}

/**
 * Parses /proc/<pid>/mountinfo: `id parent major:minor root mountpoint options [optional…] -
 * fstype source superoptions`, fields separated by single spaces, with octal escapes in paths.
 * Lines that do not have this shape are skipped.
 */
export function parseMountInfo(data: Buffer | string): MountInfoEntry[] {
  const text = typeof data === 'string' ? Buffer.from(data, 'utf8').toString('latin1') : data.toString('latin1');
  const entries: MountInfoEntry[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const f = line.split(' ');
    if (f.length < 9) continue;
    const id = Number(f[0]);
    const parentId = Number(f[1]);
    const majMin = normalizeMajMin(f[2]);
    if (!Number.isSafeInteger(id) || !Number.isSafeInteger(parentId) || majMin === undefined) continue;
    const sep = f.indexOf('-', 6);
    if (sep < 0 || sep + 2 >= f.length) continue;
    const sourceBytes = decodeOctalEscapes(f[sep + 2]!);
    entries.push({
      id,
      parentId,
      majMin,
      root: decodeOctalEscapes(f[3]!).toString('utf8'),
      mountPoint: decodeOctalEscapes(f[4]!).toString('utf8'),
      fsType: decodeOctalEscapes(f[sep + 1]!).toString('utf8'),
      source: sourceBytes.toString('utf8'),
      sourceBytes,
    });
  }
  return entries;
}

// ------------------------------------------------------------------------------------------------
// swaps

/** One active swap area of /proc/swaps: a block device (`rdev`) or a file (`file`). */
export interface SwapEntry {
  name: string;
  rdev?: string;
  file?: FileId;
}

/** The swap areas of /proc/swaps (none when it cannot be read); names that are gone or deleted are left out. */
export function readSwaps(path: string): SwapEntry[] {
  const text = readSmall(path);
  if (text === undefined) return [];
  const out: SwapEntry[] = [];
  for (const line of text.split('\n').slice(1)) {
    const field = line.split(/[ \t]+/)[0];
    if (!field) continue;
    const bytes = decodeOctalEscapes(Buffer.from(field, 'utf8').toString('latin1'));
    const name = bytes.toString('utf8');
    if (name.endsWith(DELETED)) continue;
    const st = statBig(bytes);
    if (!st) continue;
    if (st.isBlockDevice()) out.push({ name, rdev: majMinOf(st.rdev) });
    else out.push({ name, file: fileIdOf(st) });
  }
  return out;
}
