import { decodeName, fileTypeOfMode, type UnixEntry } from '@fsconv/base';
import { userFlagLetters } from './inode-flags.js';
import { deviceNumber } from './inode.js';
import type { Ext2Volume } from './volume.js';
import type { TreeEntry } from './walk.js';

/** One line of `fsconv ls --json` for an ext2 entry (the contract is UnixEntry's, in @fsconv/base). */
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
