import type { Extent } from './block-map.js';
import { corrupt } from './errors.js';
import { S_IFDIR, S_IFMT } from '@fsconv/base';
import { ROOT_INO, type Inode } from './inode.js';
import { decodeName, joinPath } from '@fsconv/base';
import type { Ext2Volume } from './volume.js';

/** One name in a directory (never '.' or '..'). */
export interface TreeEntry {
  parentIno: number;
  parentPath: string;
  /** The raw name bytes (a copy). */
  name: Uint8Array;
  /** '/'-rooted path for display: names decoded as UTF-8 with U+FFFD for invalid bytes. */
  path: string;
  ino: number;
  /** The directory record's file_type byte (0 without the filetype feature). */
  fileType: number;
  inode: Inode;
}

export interface WalkHooks {
  /** A directory, before its entries: its inode and its data extents (validated: no holes; none when inline). */
  directory?(ino: number, path: string, inode: Inode, extents: Extent[], parentIno: number): void;
  /** A name. Throwing stops the walk. Called before descending into a directory. */
  entry(entry: TreeEntry): void;
}

const DOT = 0x2e;
const isDot = (n: Uint8Array): boolean => n.length === 1 && n[0] === DOT;
const isDotDot = (n: Uint8Array): boolean => n.length === 2 && n[0] === DOT && n[1] === DOT;

/**
 * Visits every name reachable from the root, depth first, directories in on-disk record order.
 * Refuses what would make a tree walk wrong or endless: a directory with holes, missing or wrong
 * '.' and '..' records, extra '.'/'..' records, and a directory reached twice (a cycle or a second
 * parent). Memory grows with the number of directories waiting on the stack, not with sizes read.
 */
export function walkTree(vol: Ext2Volume, hooks: WalkHooks): void {
  const visited = new Set<number>([ROOT_INO]);
  const stack: Array<{ ino: number; path: string; parentIno: number }> = [{ ino: ROOT_INO, path: '/', parentIno: ROOT_INO }];
  const bs = vol.blockSize;

  while (stack.length > 0) {
    const { ino, path, parentIno } = stack.pop()!;
    const where = { inode: ino, path };
    const inode = vol.readInode(ino);
    if ((inode.mode & S_IFMT) !== S_IFDIR) throw corrupt(`is not a directory (mode 0o${inode.mode.toString(8)})`, where);
    const extents = vol.fileExtents(inode, where);
    if (vol.hasInlineData(inode)) {
      const inlineSize = vol.inlineData(inode, where).length;
      if (inode.size !== inlineSize) throw corrupt(`inline directory has size ${inode.size}, not its ${inlineSize} bytes of inline data`, where);
    } else {
      if (inode.size % bs !== 0 || inode.size === 0) {
        throw corrupt(`directory size ${inode.size} is not a non-zero multiple of the block size ${bs}`, where);
      }
      let expected = 0;
      for (const e of extents) {
        if (e.logical !== expected) throw corrupt(`directory has a hole at logical block ${expected}`, where);
        expected += e.length;
      }
      if (expected !== inode.size / bs) throw corrupt(`directory has a hole at logical block ${expected}`, where);
    }
    hooks.directory?.(ino, path, inode, extents, parentIno);

    const subdirs: Array<{ ino: number; path: string; parentIno: number }> = [];
    let index = 0;
    vol.forEachDirEntry(
      inode,
      where,
      (rec, logical) => {
        const at = { ...where, block: undefined };
        if (index === 0 || index === 1) {
          const wantDot = index === 0;
          const ok = logical === 0 && (wantDot ? isDot(rec.name) && rec.offset === 0 : isDotDot(rec.name));
          if (!ok) throw corrupt(`the ${wantDot ? 'first' : 'second'} record is not '${wantDot ? '.' : '..'}'`, at);
          const target = wantDot ? ino : parentIno;
          if (rec.inode !== target) {
            throw corrupt(`'${wantDot ? '.' : '..'}' points to inode ${rec.inode}, should be ${target}`, at);
          }
          index++;
          return;
        }
        index++;
        if (isDot(rec.name) || isDotDot(rec.name)) throw corrupt(`has a second '${decodeName(rec.name)}' record`, at);
        const name = rec.name.slice();
        const childPath = joinPath(path, decodeName(name));
        if (rec.inode > vol.sb.inodesCount) {
          throw corrupt(`directory entry points to inode ${rec.inode}, out of range (1..${vol.sb.inodesCount})`, { path: childPath });
        }
        const child = vol.readInode(rec.inode);
        hooks.entry({ parentIno: ino, parentPath: path, name, path: childPath, ino: rec.inode, fileType: rec.fileType, inode: child });
        if ((child.mode & S_IFMT) === S_IFDIR) {
          if (visited.has(rec.inode)) {
            throw corrupt(`directory inode ${rec.inode} is reached a second time (a cycle or a second parent)`, {
              inode: rec.inode,
              path: childPath,
            });
          }
          visited.add(rec.inode);
          subdirs.push({ ino: rec.inode, path: childPath, parentIno: ino });
        }
      },
      extents,
    );
    if (index < 2) throw corrupt(`directory lacks its '.' and '..' records`, where);
    for (let i = subdirs.length - 1; i >= 0; i--) stack.push(subdirs[i]!);
  }
}
