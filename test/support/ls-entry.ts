// The `fsconv ls --json` contract, shared by the reference views and the tests.
//
// JSON Lines, one object per entry, every entry but the root:
//   path   '/'-rooted original path; name bytes that are not valid UTF-8 become U+FFFD
//          (WHATWG UTF-8 decoder, non-fatal)
//   type   file | dir | symlink | fifo | char | block | socket
//   size   regular files only
//   mode   full st_mode number (type bits included)
//   uid, gid
//   atime, mtime, ctime   integer seconds since the epoch, floor of the exact time (may be negative)
//   nlink
//   target symlinks only; the target bytes decoded like names
//   rdev   [major, minor], char and block devices only
//   xattrs { name: base64 value } of every extended attribute (POSIX ACLs as getfattr shows them); absent when none
//   flags  inode flags as lsattr letters (those that mean something to a user); absent when none
//   ino
// Absent fields are omitted (never null).

export type EntryType = 'file' | 'dir' | 'symlink' | 'fifo' | 'char' | 'block' | 'socket';

export interface LsEntry {
  path: string;
  type: EntryType;
  size?: number;
  mode: number;
  uid: number;
  gid: number;
  atime: number;
  mtime: number;
  ctime: number;
  nlink: number;
  target?: string;
  rdev?: [number, number];
  xattrs?: Record<string, string>;
  flags?: string;
  ino: number;
  /** FAT volumes only: where the entry is stored ('/'-rooted FAT path). */
  fatPath?: string;
}

/** Field order used by canonicalEntry (the order the contract lists them in). */
export const LS_ENTRY_FIELDS = [
  'path', 'type', 'size', 'mode', 'uid', 'gid', 'atime', 'mtime', 'ctime', 'nlink', 'target', 'rdev', 'xattrs', 'flags', 'ino', 'fatPath',
] as const satisfies readonly (keyof LsEntry)[];

const decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

/** Decodes name (or symlink target) bytes as UTF-8, invalid bytes becoming U+FFFD. */
export function decodeName(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

/** The entry type encoded in an st_mode / i_mode value. */
export function typeFromMode(mode: number): EntryType {
  switch (mode & 0o170000) {
    case 0o100000: return 'file';
    case 0o040000: return 'dir';
    case 0o120000: return 'symlink';
    case 0o010000: return 'fifo';
    case 0o020000: return 'char';
    case 0o060000: return 'block';
    case 0o140000: return 'socket';
    default: throw new Error(`unknown file type in mode 0o${mode.toString(8)}`);
  }
}

function comparePaths(a: string, b: string): number {
  // Compare by UTF-8 bytes of the decoded path, component-wise so that a directory sorts
  // right before its own contents ('/a', '/a/x', '/a b').
  const ca = a.split('/');
  const cb = b.split('/');
  const n = Math.min(ca.length, cb.length);
  for (let i = 0; i < n; i++) {
    const c = Buffer.compare(Buffer.from(ca[i]!, 'utf8'), Buffer.from(cb[i]!, 'utf8'));
    if (c !== 0) return c;
  }
  return ca.length - cb.length;
}

/** A sorted copy: by path (component-wise, UTF-8 byte order), then by inode number. */
export function sortEntries(entries: readonly LsEntry[]): LsEntry[] {
  return [...entries].sort((a, b) => comparePaths(a.path, b.path) || a.ino - b.ino);
}

/** A copy with the fields in contract order and absent fields really absent. */
export function canonicalEntry(e: LsEntry): LsEntry {
  const out: Record<string, unknown> = {};
  for (const k of LS_ENTRY_FIELDS) {
    const v = e[k];
    if (v !== undefined && v !== null) out[k] = Array.isArray(v) ? [...v] : typeof v === 'object' ? { ...v } : v;
  }
  return out as unknown as LsEntry;
}

/** Parses `ls --json` output (JSON Lines; blank lines ignored) and checks each object's shape. */
export function parseLsJsonLines(text: string): LsEntry[] {
  const out: LsEntry[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (e) {
      throw new Error(`ls --json line ${i + 1} is not JSON: ${(e as Error).message}: ${line.slice(0, 200)}`);
    }
    const problem = checkLsEntry(v);
    if (problem !== undefined) throw new Error(`ls --json line ${i + 1}: ${problem}: ${line.slice(0, 200)}`);
    out.push(v as LsEntry);
  }
  return out;
}

/** Renders entries as `ls --json` would (JSON Lines, contract field order). */
export function formatLsJsonLines(entries: readonly LsEntry[]): string {
  return entries.map((e) => JSON.stringify(canonicalEntry(e)) + '\n').join('');
}

/** Why v is not a valid LsEntry, or undefined when it is. */
export function checkLsEntry(v: unknown): string | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not an object';
  const o = v as Record<string, unknown>;
  const known = new Set<string>(LS_ENTRY_FIELDS);
  for (const k of Object.keys(o)) {
    if (!known.has(k)) return `unknown field '${k}'`;
    if (o[k] === null) return `field '${k}' is null (absent fields must be omitted)`;
  }
  if (typeof o['path'] !== 'string' || !o['path'].startsWith('/') || o['path'] === '/') return 'bad path';
  if (o['fatPath'] !== undefined && (typeof o['fatPath'] !== 'string' || !o['fatPath'].startsWith('/'))) return 'bad fatPath';
  const types = ['file', 'dir', 'symlink', 'fifo', 'char', 'block', 'socket'];
  if (typeof o['type'] !== 'string' || !types.includes(o['type'])) return 'bad type';
  const isInt = (x: unknown): boolean => typeof x === 'number' && Number.isSafeInteger(x);
  for (const k of ['mode', 'uid', 'gid', 'atime', 'mtime', 'ctime', 'nlink', 'ino']) {
    if (!isInt(o[k])) return `field '${k}' missing or not an integer`;
  }
  const type = o['type'];
  if (type === 'file' ? !isInt(o['size']) : o['size'] !== undefined) return 'size must be present exactly for regular files';
  if (type === 'symlink' ? typeof o['target'] !== 'string' : o['target'] !== undefined) {
    return 'target must be present exactly for symlinks';
  }
  const dev = type === 'char' || type === 'block';
  if (dev) {
    const r = o['rdev'];
    if (!Array.isArray(r) || r.length !== 2 || !r.every(isInt)) return 'rdev must be [major, minor]';
  } else if (o['rdev'] !== undefined) {
    return 'rdev must be present only for devices';
  }
  const x = o['xattrs'];
  if (x !== undefined) {
    if (typeof x !== 'object' || Array.isArray(x) || Object.keys(x as object).length === 0) return 'xattrs must be a non-empty {name: base64} object';
    for (const [k, val] of Object.entries(x as Record<string, unknown>)) {
      if (k === '' || typeof val !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(val)) return `xattrs: '${k}' has no base64 value`;
    }
  }
  if (o['flags'] !== undefined && (typeof o['flags'] !== 'string' || !/^[a-zA-Z]+$/.test(o['flags']))) return 'flags must be non-empty lsattr letters';
  let modeType: EntryType;
  try {
    modeType = typeFromMode(o['mode'] as number);
  } catch {
    return 'mode has no valid file type bits';
  }
  if (modeType !== type) return 'type does not match mode';
  return undefined;
}
