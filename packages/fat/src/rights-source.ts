/**
 * A FAT volume with its rights files as a source tree (the importer behind `--from vfat+rights`):
 * every entry as the rights files and FAT agree on it (rights-listing.ts, docs/rights-file.md §8),
 * so a converted volume can be converted again (into a FAT of another type or geometry) keeping
 * every Unix attribute it carries. The volume is read and reconciled in full first, like the ext2
 * importer's check: its tree is held in memory (a few hundred bytes per entry), file data is read
 * on demand.
 */
import type { SourceNode, SourceTree, Timestamp } from '@fsconv/base';
import type { FatVolume } from './fat-volume.js';
import { reconcileFatVolume, type FatListingOptions, type FatListingSummary, type ReconciledEntry } from './rights-listing.js';

/** Where FAT keeps a node's bytes: its first cluster and stored size. */
interface Stored {
  cluster: number;
  size: number;
  fatPath: string;
}

const ROOT_LINK_ID = 0;
const EPOCH: Timestamp = { sec: 0, nsec: 0 };

export class FatRightsSource implements SourceTree {
  readonly kind = 'vfat+rights';
  readonly label: string | null;
  readonly volumeId: number;
  /** What the reconciliation found (entries, records used, records not trusted: each warned about). */
  readonly summary: FatListingSummary;
  private readonly rootNode: SourceNode;
  private readonly childrenOf = new Map<number, SourceNode[]>();
  private readonly stored = new WeakMap<SourceNode, Stored>();
  private rangeCache: { node: SourceNode; ranges: Array<[number, number]> } | null = null;

  constructor(private readonly volume: FatVolume, options: FatListingOptions = {}) {
    this.label = volume.label;
    this.volumeId = volume.boot.volumeId;
    // The entries in walk order (hard-link groups come last): each directory's children are put
    // back in the order FAT lists them.
    const entries: ReconciledEntry[] = [];
    const { summary, root } = reconcileFatVolume(volume, (e) => entries.push(e), options);
    this.summary = summary;
    this.rootNode = {
      linkId: ROOT_LINK_ID, name: new Uint8Array(0), path: '/', type: 'dir',
      mode: root?.mode ?? 0o40755, uid: root?.uid ?? 0, gid: root?.gid ?? 0,
      atime: root?.atime ?? EPOCH, mtime: root?.mtime ?? EPOCH, ctime: root?.ctime ?? EPOCH,
      nlink: 2 + entries.filter((e) => e.parentCluster === 'root' && e.type === 'dir').length, size: 0,
      ...(root?.xattrs !== undefined && root.xattrs.length > 0 && { xattrs: root.xattrs }),
      ...(root?.flags !== undefined && root.flags !== '' && { flags: root.flags }),
    };
    const dirByCluster = new Map<number | 'root', SourceNode>([['root', this.rootNode]]);
    this.childrenOf.set(ROOT_LINK_ID, []);
    const ordered = entries.sort((a, b) => a.seq - b.seq);
    // Directories first, so that every parent is known whatever order the entries came in.
    for (const e of ordered) {
      if (e.type !== 'dir') continue;
      const node = this.nodeOf(e);
      dirByCluster.set(e.cluster, node);
      this.childrenOf.set(node.linkId, []);
    }
    for (const e of ordered) {
      const parent = dirByCluster.get(e.parentCluster);
      if (parent === undefined) throw new Error(`${e.fatPath}: its directory was not read (internal)`);
      const node = e.type === 'dir' ? dirByCluster.get(e.cluster)! : this.nodeOf(e);
      this.childrenOf.get(parent.linkId)!.push(node);
    }
  }

  private nodeOf(e: ReconciledEntry): SourceNode {
    const node: SourceNode = {
      linkId: e.ino, name: e.name, path: e.path, type: e.type, mode: e.mode, uid: e.uid, gid: e.gid,
      atime: e.atime, mtime: e.mtime, ctime: e.ctime, nlink: e.nlink,
      size: e.type === 'file' ? (e.size ?? 0) : e.type === 'symlink' ? (e.target?.length ?? 0) : 0,
      ...(e.target !== undefined && { target: e.target }),
      ...(e.rdev !== undefined && { rdev: e.rdev }),
      ...(e.xattrs !== undefined && e.xattrs.length > 0 && { xattrs: e.xattrs }),
      ...(e.flags !== undefined && e.flags !== '' && { flags: e.flags }),
    };
    this.stored.set(node, { cluster: e.cluster, size: e.storedSize, fatPath: e.fatPath });
    return node;
  }

  root(): SourceNode {
    return this.rootNode;
  }

  children(dir: SourceNode): SourceNode[] {
    return this.childrenOf.get(dir.linkId) ?? [];
  }

  readFile(node: SourceNode, offset: number, into: Uint8Array): void {
    if (node.type === 'symlink') {
      into.set((node.target ?? new Uint8Array(0)).subarray(offset, offset + into.length));
      return;
    }
    const s = this.stored.get(node);
    if (s === undefined) throw new Error(`${node.path}: not a node of this volume (internal)`);
    if (this.rangeCache?.node !== node) this.rangeCache = { node, ranges: this.volume.fileRanges(s.cluster, s.size, s.fatPath) };
    // The bytes at [offset, offset + into.length) from the ranges the chain gives, in order.
    let pos = 0;
    let filled = 0;
    for (const [at, length] of this.rangeCache.ranges) {
      if (filled === into.length) break;
      const end = pos + length;
      if (end > offset + filled) {
        const from = offset + filled - pos;
        const n = Math.min(length - from, into.length - filled);
        this.volume.readAt(into.subarray(filled, filled + n), at + from);
        filled += n;
      }
      pos = end;
    }
    if (filled < into.length) into.fill(0, filled);
  }
}
