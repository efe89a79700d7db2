import { decodeName, fileTypeOfMode, joinPath, type SourceNode, type Timestamp, type UnixEntry } from '@fsconv/base';
import { ATTR, RIGHTS_FILE_NAME } from './constants.js';
import { type NamedEntry } from './dirent.js';
import { fatToUnix, parseTimeZone } from './fat-time.js';
import { type FatTreeEntry, type FatVolume } from './fat-volume.js';
import { RIGHTS_MAGIC, decodeRightsFile, RightsFileError, type FatSnapshot, type RightsRecord } from './rights.js';

/** A rights file fsconv writes is far smaller (65,536 records of a few KiB at most): larger is no rights file to trust. */
const MAX_RIGHTS_FILE_BYTES = 256 * 1024 * 1024;
const MAGIC = new TextEncoder().encode(`${RIGHTS_MAGIC} `);
/** Attribute bits compared with a record's snapshot: not the archive bit (backup tools clear it). */
const COMPARED_ATTR = ATTR.readOnly | ATTR.hidden | ATTR.system | ATTR.directory;

interface DirInfo {
  /** Original path ('/'-rooted). */
  path: string;
  /** Path as stored on FAT. */
  fatPath: string;
  /** Records of this directory's rights file by FAT name (empty without a usable one). */
  rights: Map<string, RightsRecord>;
  /** The names of the entries that are its rights file (not listed). */
  rightsEntries: Set<string>;
  /** Names of records an entry was found for. */
  matched: Set<string>;
  /** Subdirectories (for the nlink of a directory without a record: 2 + these). */
  subdirectories: number;
}

/** Counts for `info` on a FAT volume, and what `ls --strict` needs. */
export interface FatListingSummary {
  entries: number;
  withRights: number;
  rightsFiles: number;
  /** Records not trusted (changed on FAT), records without an entry, and damaged rights files: each warned about. */
  untrusted: number;
}

export interface FatListingOptions {
  /** 'UTC', 'local' or an offset (docs/cli.md --tz). */
  tz?: string;
  /** One line per record no longer trusted, record without an entry, or damaged rights file. */
  warn?: (line: string) => void;
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/** What of an entry changed since its record's snapshot was taken (empty: nothing). */
function changesSince(s: FatSnapshot, e: NamedEntry): { content: boolean; what: string[] } {
  const x = e.short;
  const what: string[] = [];
  if (x.cluster !== s.cluster || x.size !== s.size) what.push(x.size !== s.size ? 'size' : 'content');
  if (x.writeDate !== s.writeDate || x.writeTime !== s.writeTime) what.push('mtime');
  const content = what.length > 0;
  if ((x.attr & COMPARED_ATTR) !== (s.attr & COMPARED_ATTR)) what.push('attributes');
  if (!sameBytes(x.name, s.shortName)) what.push('8.3 name');
  return { content, what };
}

/** The write bits follow FAT's read-only attribute: read-only ⇒ none; writable ⇒ at least the owner's. */
const withReadOnly = (mode: number, ro: boolean): number => (ro ? mode & ~0o222 : mode | 0o200);

const base64 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.length).toString('base64');
const utf8 = new TextEncoder();
const at = (sec: number): Timestamp => ({ sec, nsec: 0 });
const later = (a: Timestamp, b: Timestamp): Timestamp => (b.sec > a.sec || (b.sec === a.sec && b.nsec > a.nsec) ? b : a);

/**
 * One entry of a FAT volume as its rights files and FAT agree on it (docs/rights-file.md §8):
 * everything a Unix filesystem holds, at the precision the record has, and where FAT keeps it.
 */
export interface ReconciledEntry
  extends Pick<SourceNode, 'path' | 'name' | 'type' | 'mode' | 'uid' | 'gid' | 'atime' | 'mtime' | 'ctime' | 'nlink' | 'target' | 'rdev' | 'xattrs' | 'flags'> {
  /** The path as FAT shows it ('/'-rooted); `path` is the original one and `name` the original name's bytes (or the FAT name in UTF-8). */
  fatPath: string;
  /** The directory holding it (its first cluster, or 'root'), and its own first cluster and stored size. */
  parentCluster: number | 'root';
  cluster: number;
  storedSize: number;
  /** Regular files: their size. */
  size?: number;
  /** Names of one intact hard-link group share it (the source's inode number); unique otherwise. */
  ino: number;
  /** Its place in the walk (depth first, in directory order): hard-link groups are visited last, out of it. */
  seq: number;
}

/** What the root directory's own record says of it (its rights file's '.' record), when it has one. */
export type RootRecord = Pick<ReconciledEntry, 'mode' | 'uid' | 'gid' | 'atime' | 'mtime' | 'ctime' | 'xattrs' | 'flags'>;

/** A reconciled entry as a line of `fsconv ls --json`. */
export function unixEntryOf(e: ReconciledEntry): UnixEntry {
  return {
    path: e.path, type: e.type, ...(e.size !== undefined && { size: e.size }), mode: e.mode, uid: e.uid, gid: e.gid,
    atime: e.atime.sec, mtime: e.mtime.sec, ctime: e.ctime.sec, nlink: e.nlink,
    ...(e.target !== undefined && { target: decodeName(e.target) }),
    ...(e.rdev !== undefined && { rdev: e.rdev }),
    ...(e.xattrs !== undefined && e.xattrs.length > 0 && { xattrs: Object.fromEntries(e.xattrs.map((x) => [x.name, base64(x.value)])) }),
    ...(e.flags !== undefined && { flags: e.flags }),
    ino: e.ino, fatPath: e.fatPath,
  };
}

/**
 * Lists a FAT volume as Unix entries: original names and metadata from the rights file of each
 * directory where there is one (vfat+rights), FAT-native metadata otherwise, plus `fatPath`.
 * Reconciles the records with what FAT holds now (docs/rights-file.md §8.2–8.5): a version 2
 * record whose snapshot no longer matches its entry gives way to FAT for what FAT holds, and keeps
 * only what FAT cannot hold and is still consistent; every record not trusted, record without an
 * entry and damaged rights file is warned about. The rights files themselves are not listed. Names
 * of hard-link groups are given last, once the whole volume is read (a group breaks where one of
 * its names was changed on FAT).
 */
export function listFatVolume(vol: FatVolume, visit: (e: UnixEntry) => void, options: FatListingOptions | string = {}): FatListingSummary {
  return reconcileFatVolume(vol, (e) => visit(unixEntryOf(e)), options).summary;
}

/**
 * The entries of a FAT volume, reconciled with their rights files (what listFatVolume lists, at
 * full precision and with where FAT keeps each), in walk order with hard-link groups last; and
 * the root's own record.
 */
export function reconcileFatVolume(
  vol: FatVolume, visit: (e: ReconciledEntry) => void, options: FatListingOptions | string = {},
): { summary: FatListingSummary; root: RootRecord | null } {
  let root: RootRecord | null = null;
  const opts: FatListingOptions = typeof options === 'string' ? { tz: options } : options;
  const tzOffset = parseTimeZone(opts.tz ?? 'local');
  const summary: FatListingSummary = { entries: 0, withRights: 0, rightsFiles: 0, untrusted: 0 };
  const warn = (line: string): void => {
    summary.untrusted++;
    opts.warn?.(`fsconv: warning: ${line}`);
  };
  const dirs = new Map<number | 'root', DirInfo>();

  /** Is this entry one of our rights files: its name, and content that starts as one (never its attributes). */
  const isRightsFile = (name: string, e: NamedEntry): boolean => {
    if (name.toLowerCase() !== RIGHTS_FILE_NAME || (e.short.attr & ATTR.directory) !== 0 || e.short.size < MAGIC.length) return false;
    const head = vol.readFile(e.short.cluster, MAGIC.length, name);
    return sameBytes(head, MAGIC);
  };

  const loadDir = (cluster: number | 'root', path: string, fatPath: string): DirInfo => {
    const info: DirInfo = { path, fatPath, rights: new Map(), rightsEntries: new Set(), matched: new Set(), subdirectories: 0 };
    const found: Array<{ name: string; e: NamedEntry }> = [];
    for (const e of vol.readDirectory(cluster, fatPath)) {
      // '.', '..', deleted entries and the volume label are no names to look up.
      if (e.short.name[0] === 0x2e || e.short.name[0] === 0xe5 || (e.short.attr & ATTR.volumeLabel) !== 0) continue;
      if ((e.short.attr & ATTR.directory) !== 0) info.subdirectories++;
      const { name } = vol.entryNames(e, fatPath);
      if (isRightsFile(name, e)) found.push({ name, e });
    }
    for (const f of found) info.rightsEntries.add(f.name);
    summary.rightsFiles += found.length;
    if (found.length > 1) {
      warn(`${fatPath}: ${found.length} rights files in one directory: none is used; its entries get FAT-native metadata`);
    } else if (found.length === 1) {
      const { name, e } = found[0]!;
      const where = joinPath(fatPath, name);
      try {
        if (e.short.size > MAX_RIGHTS_FILE_BYTES) throw new RightsFileError(`rights file: ${e.short.size} bytes, larger than any fsconv writes`);
        for (const r of decodeRightsFile(vol.readFile(e.short.cluster, e.short.size, where))) {
          if (r.fatName !== '.') info.rights.set(r.fatName, r);
          else if (cluster === 'root') root = { mode: r.mode, uid: r.uid, gid: r.gid, atime: r.atime, mtime: r.mtime, ctime: r.ctime, ...(r.xattrs && { xattrs: r.xattrs }), ...(r.flags !== undefined && { flags: r.flags }) };
        }
      } catch (err) {
        if (!(err instanceof RightsFileError)) throw err;
        warn(`${where}: damaged (${err.message}): the entries of ${fatPath} get FAT-native metadata`);
      }
    }
    dirs.set(cluster, info);
    return info;
  };

  /** FAT-native metadata (docs/rights-file.md §8.3). */
  const native = (e: FatTreeEntry, path: string, fatPath: string, ino: number, subdirs: number, seq: number): ReconciledEntry => {
    const s = e.entry.short;
    const mtime = fatToUnix(s.writeDate, s.writeTime, tzOffset(0)) ?? 0;
    const ctime = fatToUnix(s.createDate, s.createTime, tzOffset(0), s.createCentis) ?? mtime;
    const atime = fatToUnix(s.accessDate, 0, tzOffset(0)) ?? mtime;
    const ro = (s.attr & ATTR.readOnly) !== 0;
    const mode = e.isDirectory ? 0o40755 : ro ? 0o100444 : 0o100644;
    return {
      path, fatPath, name: utf8.encode(e.name), parentCluster: e.parentCluster, cluster: s.cluster, storedSize: s.size,
      type: e.isDirectory ? 'dir' : 'file', ...(!e.isDirectory && { size: s.size }), mode, uid: 0, gid: 0,
      atime: at(atime), mtime: at(mtime), ctime: at(ctime), nlink: e.isDirectory ? 2 + subdirs : 1, ino, seq,
    };
  };

  // Hard-link groups: names are held back until the whole volume is read, with whether each is
  // still what was converted (a changed name leaves its group).
  const groups = new Map<number, Array<{ entry: ReconciledEntry; intact: boolean }>>();

  loadDir('root', '/', '/');
  // FAT has no inode numbers: names of one hard-link group share its number (an ext2 inode
  // number, below 2^32); every other entry gets its own number above that range.
  let nextIno = 2 ** 32;
  vol.walk((e: FatTreeEntry) => {
    const parent = dirs.get(e.parentCluster);
    if (parent === undefined) throw new Error(`${e.path}: its directory was not read first (internal)`);
    if ((e.entry.short.attr & ATTR.volumeLabel) !== 0 || parent.rightsEntries.has(e.name)) return;
    let record = parent.rights.get(e.name);
    if (record) parent.matched.add(e.name);
    const fatPath = joinPath(parent.fatPath, e.name);
    const recordPath = record ? joinPath(parent.path, decodeName(record.originalName)) : joinPath(parent.path, e.name);
    // A record of the other kind (a directory where a file was, or the other way round) does not apply.
    if (record && e.isDirectory !== (record.type === 'dir')) {
      warn(`${recordPath}: was a ${record.type === 'dir' ? 'directory' : record.type} when converted and is a ${e.isDirectory ? 'directory' : 'file'} on FAT now: ` +
        `FAT-native metadata for ${fatPath}`);
      record = undefined;
    }
    const path = record ? recordPath : joinPath(parent.path, e.name);
    const sub = e.isDirectory ? loadDir(e.entry.short.cluster, path, fatPath) : null;
    summary.entries++;
    const ino = nextIno++;
    if (!record) {
      visit(native(e, path, fatPath, ino, sub?.subdirectories ?? 0, ino));
      return;
    }
    summary.withRights++;
    const s = e.entry.short;
    const ro = (s.attr & ATTR.readOnly) !== 0;
    const change = record.fat ? changesSince(record.fat, e.entry) : { content: false, what: [] as string[] };
    let type = fileTypeOfMode(record.mode) ?? record.type;
    let mode = record.mode;
    let mtime = record.mtime;
    let ctime = record.ctime;
    let atime = record.atime;
    let xattrs = record.xattrs;
    let target = record.target;
    let rdev = record.rdev;
    const kept: string[] = [];
    if (change.what.length > 0) {
      const fatMtime = fatToUnix(s.writeDate, s.writeTime, tzOffset(0));
      if (change.content) {
        if (type !== 'file' && type !== 'dir') {
          // What was a symlink, device, FIFO or socket is an ordinary file now.
          type = 'file';
          mode = 0o100000 | (mode & 0o7777);
          target = undefined;
          rdev = undefined;
        }
        if (type === 'file') {
          // As Linux does when a file is written: set-user/group-ID bits and capabilities go.
          mode &= ~0o6000;
          xattrs = xattrs?.filter((x) => x.name !== 'security.capability');
        }
        if (fatMtime !== null) {
          mtime = at(fatMtime);
          ctime = later(ctime, mtime);
        }
      }
      const accessed = fatToUnix(s.accessDate, 0, tzOffset(0));
      if (accessed !== null && accessed > atime.sec) atime = at(accessed);
      // (Windows gives folders the read-only bit for its own purposes: only files follow it.)
      if (type !== 'dir') mode = withReadOnly(mode, ro);
      kept.push('owner', 'permissions');
      if (xattrs?.length) kept.push('extended attributes');
      if (record.flags) kept.push('flags');
      if (type === 'symlink') kept.push('symlink target');
      warn(`${path}: changed on FAT since its conversion (${change.what.join(', ')}): FAT's type, size${change.content ? ', mtime' : ''} and read-only attribute used, ` +
        `its record kept for ${kept.join(', ')}`);
    }
    const entry: ReconciledEntry = {
      path, fatPath, name: record.originalName, parentCluster: e.parentCluster, cluster: s.cluster, storedSize: s.size,
      type, ...(type === 'file' && { size: s.size }), mode, uid: record.uid, gid: record.gid,
      atime, mtime, ctime, nlink: record.nlink,
      ...(target !== undefined && type === 'symlink' && { target }),
      ...(rdev !== undefined && { rdev }),
      ...(xattrs !== undefined && xattrs.length > 0 && { xattrs }),
      ...(record.flags !== undefined && { flags: record.flags }),
      ino, seq: ino,
    };
    if (record.linkGroup !== undefined && type !== 'dir') {
      const list = groups.get(record.linkGroup) ?? [];
      list.push({ entry, intact: !change.content });
      groups.set(record.linkGroup, list);
      return;
    }
    visit(entry);
  });

  // Records no entry answers to: deleted or renamed on FAT.
  for (const d of dirs.values()) {
    for (const name of d.rights.keys()) {
      if (!d.matched.has(name)) warn(`${d.fatPath}: its rights file describes '${name}', which is not there any more (deleted or renamed on FAT): that record is ignored`);
    }
  }
  // Hard-link groups: the names still as converted share the group's number and count; a name
  // changed on FAT is a file of its own.
  for (const [group, list] of groups) {
    const changed = list.filter((m) => !m.intact).length;
    if (changed > 0) {
      warn(`${list.find((m) => !m.intact)!.entry.path}: one of ${list.length} names of a hard-linked file, changed on FAT: ` +
        `${changed === 1 ? 'it is' : `${changed} of them are`} a file of ${changed === 1 ? 'its' : 'their'} own now`);
    }
    for (const m of list) {
      if (m.intact) {
        m.entry.ino = group;
        m.entry.nlink = Math.max(1, m.entry.nlink - changed);
      } else {
        m.entry.nlink = 1;
      }
      visit(m.entry);
    }
  }
  return { summary, root };
}
