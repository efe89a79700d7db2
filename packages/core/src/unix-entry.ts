import {
  deviceNumber, fileTypeOfMode, decodeName, userFlagLetters, type Ext2Volume, type TreeEntry, type FileType,
} from '@fsconv/ext2fs-reader';

/**
 * One line of `fsconv ls --json` (docs/cli.md): a stable contract that tests and later tools rely on.
 * Fields absent for a type are omitted, never null.
 */
export interface UnixEntry {
  path: string;
  type: FileType;
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
  /** Extended attributes: name → value in base64 (POSIX ACLs as getfattr shows them). Absent when none. */
  xattrs?: Record<string, string>;
  /** Inode flags as lsattr letters (only those that mean something to a user). Absent when none. */
  flags?: string;
  ino: number;
  /** On FAT volumes: where the entry is stored ('/'-rooted FAT path, names as FAT shows them). */
  fatPath?: string;
}

export function unixEntryOfExt2(vol: Ext2Volume, e: TreeEntry): UnixEntry {
  const i = e.inode;
  const type = fileTypeOfMode(i.mode)!;
  const out: UnixEntry = {
    path: e.path,
    type,
    mode: i.mode,
    uid: i.uid,
    gid: i.gid,
    atime: i.atime.sec,
    mtime: i.mtime.sec,
    ctime: i.ctime.sec,
    nlink: i.linksCount,
    ino: e.ino,
  };
  if (type === 'file') out.size = i.size;
  if (type === 'symlink') out.target = decodeName(vol.readSymlink(i));
  if (type === 'char' || type === 'block') out.rdev = deviceNumber(i);
  const xattrs = vol.readXattrs(i, e.ino, { inode: e.ino, path: e.path });
  // Names are always prefixed ("user.", "system.…"), so none is an array index or __proto__;
  // fromEntries keeps listxattr's order.
  if (xattrs.length > 0) out.xattrs = Object.fromEntries(xattrs.map((x) => [x.name, Buffer.from(x.value).toString('base64')]));
  const letters = userFlagLetters(i.flags);
  if (letters !== '') out.flags = letters;
  // Keep the documented key order (path first, ino last) whatever was added above.
  const { path, size, mode, uid, gid, atime, mtime, ctime, nlink, target, rdev, flags, ino } = out;
  return { path, type, ...(size !== undefined && { size }), mode, uid, gid, atime, mtime, ctime, nlink,
    ...(target !== undefined && { target }), ...(rdev !== undefined && { rdev }),
    ...(out.xattrs !== undefined && { xattrs: out.xattrs }), ...(flags !== undefined && { flags }), ino };
}
