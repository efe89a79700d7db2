import {
  Bitmap, decodeName, fileTypeOfMode, joinPath,
  type InPlaceSource, type Signature, type SourceFingerprint, type SourceNode, type SourceVerdict,
} from '@fsconv/base';
import { createHash } from 'node:crypto';
import type { Extent } from './block-map.js';
import { checkFilesystem, type Ext2Summary } from './check.js';
import { ext2Family } from './features.js';
import { userFlagLetters } from './inode-flags.js';
import { deviceNumber, ROOT_INO } from './inode.js';
import { EXT2_MAGIC_OFFSET, STATE_ERRORS, STATE_VALID } from './superblock.js';
import type { Ext2Volume } from './volume.js';

/**
 * An ext2 volume as the importer gives it: a source tree, checked in full first, then read on
 * demand; and for in-place conversion, where its files' blocks are, which blocks it needs, its
 * signature, its fingerprint and whether it is clean.
 */
export class Ext2Source implements InPlaceSource {
  readonly kind: string;
  readonly label: string | null;
  readonly volumeId: number;
  readonly summary: Ext2Summary;
  readonly blockSize: number;
  readonly blockCount: number;
  readonly badBlocks: readonly number[];
  /** The superblock's magic: blkid, wipefs and the kernel know an ext2 by it, and the marker goes over its sector. */
  readonly signatures: readonly Signature[] = [{ offset: EXT2_MAGIC_OFFSET, length: 2, what: 'the ext2 superblock magic' }];
  readonly verdict: SourceVerdict;
  private extentCache: { ino: number; extents: Extent[] } | null = null;

  constructor(readonly volume: Ext2Volume, progress?: Parameters<typeof checkFilesystem>[1]) {
    this.verdict = ext2Verdict(volume);
    this.summary = checkFilesystem(volume, progress);
    const sb = volume.sb;
    this.blockSize = volume.blockSize;
    this.blockCount = volume.blocksCount;
    this.badBlocks = this.summary.badBlocks;
    this.kind = ext2Family(sb);
    const end = sb.volumeName.indexOf(0);
    const label = decodeName(end < 0 ? sb.volumeName : sb.volumeName.subarray(0, end));
    this.label = label === '' ? null : label;
    // The volume ID: the four 32-bit words of the UUID folded together (deterministic per volume).
    let id = 0;
    for (let i = 0; i < 16; i += 4) id ^= (sb.uuid[i]! | (sb.uuid[i + 1]! << 8) | (sb.uuid[i + 2]! << 16) | (sb.uuid[i + 3]! << 24)) >>> 0;
    this.volumeId = id >>> 0;
  }

  root(): SourceNode {
    return this.node(ROOT_INO, new Uint8Array(0), '/');
  }

  children(dir: SourceNode): SourceNode[] {
    const inode = this.volume.readInode(dir.linkId);
    const out: SourceNode[] = [];
    let index = 0;
    this.volume.forEachDirEntry(inode, { inode: dir.linkId, path: dir.path }, (rec) => {
      // The first two records are '.' and '..' (the check verified it).
      if (index++ < 2) return;
      const name = rec.name.slice();
      out.push(this.node(rec.inode, name, joinPath(dir.path, decodeName(name))));
    });
    return out;
  }

  readFile(node: SourceNode, offset: number, into: Uint8Array): void {
    const inode = this.volume.readInode(node.linkId);
    if (node.type === 'symlink') {
      into.set(this.volume.readSymlink(inode).subarray(offset, offset + into.length));
      return;
    }
    if (this.extentCache?.ino !== node.linkId) this.extentCache = { ino: node.linkId, extents: this.volume.fileExtents(inode) };
    into.set(this.volume.readFile(inode, offset, into.length, this.extentCache.extents));
  }

  /** The data extents of a file (for in-place conversion: what may stay where it is). */
  extents(node: SourceNode): Extent[] {
    return this.volume.fileExtents(this.volume.readInode(node.linkId));
  }

  /** An inline file's bytes (ext4 inline_data: inside its inode, no blocks); null for others. */
  inlineData(node: SourceNode): Uint8Array | null {
    const inode = this.volume.readInode(node.linkId);
    return this.volume.hasInlineData(inode) ? this.volume.inlineData(inode, { inode: node.linkId, path: node.path }) : null;
  }

  /** The block bitmaps as one bitmap over all blocks, with the blocks before the first data block (their claims agree with every inode: the check verified that). */
  usedBlocks(): Bitmap {
    const vol = this.volume;
    const { sb, layout } = vol;
    const out = new Bitmap(sb.blocksCount);
    for (let b = 0; b < vol.firstDataBlock; b++) out.set(b);
    const bitmap = new Uint8Array(vol.blockSize);
    for (let g = 0; g < sb.groupCount; g++) {
      // An uninitialised group's bitmap is the one its flag stands for, never the stale block.
      vol.readBlockBitmap(g, bitmap);
      const start = layout.groupStart(g);
      const n = layout.groupEnd(g) - start;
      for (let i = 0; i < n; i++) if ((bitmap[i >>> 3]! >>> (i & 7)) & 1) out.set(start + i);
    }
    return out;
  }

  fingerprint(): SourceFingerprint {
    return ext2Fingerprint(this.volume);
  }

  private node(ino: number, name: Uint8Array, path: string): SourceNode {
    const i = this.volume.readInode(ino);
    const type = fileTypeOfMode(i.mode)!;
    const n: SourceNode = {
      linkId: ino, name, path, type, mode: i.mode, uid: i.uid, gid: i.gid,
      atime: i.atime, mtime: i.mtime, ctime: i.ctime, nlink: i.linksCount,
      size: type === 'file' || type === 'symlink' ? i.size : 0,
    };
    if (type === 'symlink') n.target = this.volume.readSymlink(i);
    if (type === 'char' || type === 'block') n.rdev = deviceNumber(i);
    const xattrs = this.volume.readXattrs(i, ino, { inode: ino, path });
    if (xattrs.length > 0) n.xattrs = xattrs;
    const flags = userFlagLetters(i.flags);
    if (flags !== '') n.flags = flags;
    return n;
  }
}

/** Clean when cleanly unmounted and not marked as having errors; otherwise e2fsck must see it first. */
export function ext2Verdict(volume: Ext2Volume): SourceVerdict {
  const state = volume.sb.state;
  if ((state & STATE_VALID) !== 0 && (state & STATE_ERRORS) === 0) return { clean: true };
  return {
    clean: false, why: (state & STATE_ERRORS) !== 0 ? 'the ext2 was marked as having errors' : 'the ext2 was not cleanly unmounted',
    advice: "run 'e2fsck -f' on it first",
  };
}

const isoTime = (seconds: number): string => (seconds === 0 ? 'never' : new Date(seconds * 1000).toISOString().replace('.000Z', 'Z'));

/**
 * What changes whenever the ext2 is changed: any read-write mount bumps the mount count and the
 * mount time, any write the write time, the free counts and the bitmaps (digested). The in-place
 * journal records it as planned, so that a journal is never replayed over an ext2 changed since.
 */
export function ext2Fingerprint(volume: Ext2Volume): SourceFingerprint {
  const sb = volume.sb;
  const digest = createHash('sha256');
  const block = new Uint8Array(volume.blockSize);
  for (let g = 0; g < volume.groups.count; g++) {
    volume.readBlockBitmap(g, block);
    digest.update(block);
    volume.readInodeBitmap(g, block);
    digest.update(block);
  }
  return [
    ['last written', isoTime(sb.writeTime)],
    ['last mounted', isoTime(sb.mountTime)],
    ['mount count', String(sb.mountCount)],
    ['state', String(sb.state)],
    ['free blocks', String(sb.freeBlocksCount)],
    ['free inodes', String(sb.freeInodesCount)],
    ['bitmaps (sha-256)', digest.digest('hex')],
  ];
}
