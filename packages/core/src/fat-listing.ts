import { decodeName, fileTypeOfMode, joinPath } from '@fsconv/ext2fs-reader';
import {
  ATTR, FatError, RIGHTS_FILE_NAME, decodeRightsFile, fatToUnix, parseTimeZone, RightsFileError,
  type FatTreeEntry, type FatVolume, type RightsRecord,
} from '@fsconv/fat';
import type { UnixEntry } from './unix-entry.js';

/**
 * Whether an entry is a rights file: its name (ignoring ASCII case, docs/rights-file.md) and the
 * hidden + system attributes we give it. A user's file that merely has the name is a file.
 */
const isRightsFile = (name: string, attr: number): boolean =>
  name.toLowerCase() === RIGHTS_FILE_NAME && (attr & (ATTR.hidden | ATTR.system | ATTR.directory)) === (ATTR.hidden | ATTR.system);

interface DirInfo {
  /** Original path ('/'-rooted). */
  path: string;
  /** Path as stored on FAT. */
  fatPath: string;
  /** Records of this directory's rights file by FAT name (empty without one). */
  rights: Map<string, RightsRecord>;
}

/** Counts for `info` on a FAT volume. */
export interface FatListingSummary {
  entries: number;
  withRights: number;
  rightsFiles: number;
}

/**
 * Lists a FAT volume as Unix entries: original names and metadata from the rights file of each
 * directory where there is one (vfat+rights), FAT-native metadata otherwise, plus `fatPath`.
 * The rights files themselves are not listed.
 */
export function listFatVolume(vol: FatVolume, visit: (e: UnixEntry) => void, tz = 'local'): FatListingSummary {
  const tzOffset = parseTimeZone(tz);
  const dirs = new Map<number | 'root', DirInfo>();
  const summary: FatListingSummary = { entries: 0, withRights: 0, rightsFiles: 0 };
  const loadDir = (cluster: number | 'root', path: string, fatPath: string): DirInfo => {
    const info: DirInfo = { path, fatPath, rights: new Map() };
    const where = fatPath;
    for (const e of vol.readDirectory(cluster, where)) {
      // '.', '..' and the volume label are no names to look up.
      if (e.short.name[0] === 0x2e || (e.short.attr & ATTR.volumeLabel) !== 0) continue;
      const { name } = vol.entryNames(e, where);
      if (!isRightsFile(name, e.short.attr)) continue;
      summary.rightsFiles++;
      const bytes = vol.readFile(e.short.cluster, e.short.size, joinPath(fatPath, name));
      let records: RightsRecord[];
      try {
        records = decodeRightsFile(bytes);
      } catch (err) {
        if (err instanceof RightsFileError) throw new FatError('corrupt', `${joinPath(fatPath, name)}: ${err.message}`);
        throw err;
      }
      for (const r of records) if (r.fatName !== '.') info.rights.set(r.fatName, r);
    }
    dirs.set(cluster, info);
    return info;
  };
  loadDir('root', '/', '/');
  // FAT has no inode numbers: names of one hard-link group share its number (an ext2 inode
  // number, below 2^32); every other entry gets its own number above that range.
  let nextIno = 2 ** 32;
  vol.walk((e: FatTreeEntry) => {
    const parent = dirs.get(e.parentCluster);
    if (parent === undefined) throw new FatError('corrupt', `${e.path}: its directory was not read first`);
    if (isRightsFile(e.name, e.entry.short.attr)) return;
    if ((e.entry.short.attr & ATTR.volumeLabel) !== 0) return;
    const record = parent.rights.get(e.name);
    const fatPath = joinPath(parent.fatPath, e.name);
    const path = record ? joinPath(parent.path, decodeName(record.originalName)) : joinPath(parent.path, e.name);
    if (e.isDirectory) loadDir(e.entry.short.cluster, path, fatPath);
    summary.entries++;
    const ino = nextIno++;
    let entry: UnixEntry;
    if (record) {
      summary.withRights++;
      const type = fileTypeOfMode(record.mode) ?? record.type;
      entry = {
        path, type, ...(type === 'file' && { size: e.entry.short.size }), mode: record.mode, uid: record.uid, gid: record.gid,
        atime: record.atime.sec, mtime: record.mtime.sec, ctime: record.ctime.sec, nlink: record.nlink,
        ...(record.target !== undefined && { target: decodeName(record.target) }),
        ...(record.rdev !== undefined && { rdev: record.rdev }),
        ino: record.linkGroup ?? ino, fatPath,
      };
    } else {
      const s = e.entry.short;
      const mtime = fatToUnix(s.writeDate, s.writeTime, tzOffset(0)) ?? 0;
      const ctime = fatToUnix(s.createDate, s.createTime, tzOffset(0), s.createCentis) ?? mtime;
      const atime = fatToUnix(s.accessDate, 0, tzOffset(0)) ?? mtime;
      const ro = (s.attr & ATTR.readOnly) !== 0;
      const mode = e.isDirectory ? 0o40755 : ro ? 0o100444 : 0o100644;
      entry = {
        path, type: e.isDirectory ? 'dir' : 'file', ...(!e.isDirectory && { size: s.size }), mode, uid: 0, gid: 0,
        atime, mtime, ctime, nlink: 1, ino, fatPath,
      };
    }
    visit(entry);
  });
  return summary;
}
