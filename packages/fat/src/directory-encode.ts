import { ATTR, DIRENT_SIZE } from './constants.js';
import { encodeLongNameSlots, encodeShortEntry, lfnChecksum, type ShortEntry } from './dirent.js';
import { unixToFat } from './fat-time.js';
import { type PlannedName } from './directory-namer.js';
import type { SourceNode } from '@fsconv/base';
import { attributesOf, fatWriteTime, keptTime, type DirectoryLayout } from './directory-layout.js';

/** Where a directory's entries point: filled in by whoever allocates clusters. */
export interface DirectoryPlacement {
  /** The directory's own first cluster (0 for a FAT12/16 root). */
  self: number;
  /** Its parent's first cluster, 0 when the parent is the root (FAT's rule, also on FAT32). */
  parent: number;
  /** First cluster of the rights file (0 when empty or absent). */
  rights: number;
  /** First cluster and stored size of each child, in layout order. */
  children: Array<{ cluster: number; size: number }>;
}

export interface DirectoryContext {
  /** The directory node and its parent node (null for the root). */
  dir: SourceNode;
  parentNode: SourceNode | null;
  isRoot: boolean;
  /** The volume label (root only), already a valid label. */
  label: string | null;
  /** Seconds east of UTC for a Unix time (the --tz convention). */
  tzOffset: (unixSeconds: number) => number;
}

const dotName = (dots: 1 | 2): Uint8Array => {
  const n = new Uint8Array(11).fill(0x20);
  n.fill(0x2e, 0, dots);
  return n;
};

/**
 * The bytes of one FAT directory (`bytes` long, zero-padded): '.', '..' (subdirectories), the label
 * (root), the rights file, then every child with its long-name slots. Pure: the same layout and
 * placement always give the same bytes (the new-image writer and the in-place engine share it).
 */
export function encodeDirectory(layout: DirectoryLayout, place: DirectoryPlacement, ctx: DirectoryContext, bytes: number): Uint8Array {
  const buf = new Uint8Array(bytes);
  const times = (n: SourceNode) => {
    const fat = (t: SourceNode['mtime']) => {
      const k = keptTime(t);
      return unixToFat(k.sec, k.nsec, ctx.tzOffset(k.sec));
    };
    // The write time as the rights file's snapshot records it (one computation for both).
    const m = fatWriteTime(n, ctx.tzOffset);
    const c = fat(n.ctime);
    const a = fat(n.atime);
    return { createCentis: c.centis, createTime: c.time, createDate: c.date, accessDate: a.date, writeTime: m.time, writeDate: m.date };
  };
  const entry = (name: Uint8Array, ntCase: number, attr: number, cluster: number, size: number, t: SourceNode): ShortEntry => ({
    name, attr, ntCase, cluster, size, ...times(t),
  });
  const put = (slot: number, planned: PlannedName, e: ShortEntry): number => {
    let o = slot * DIRENT_SIZE;
    if (planned.longName !== null) o = encodeLongNameSlots(planned.longName, lfnChecksum(planned.shortName), buf, o);
    encodeShortEntry(e, buf, o);
    return o / DIRENT_SIZE + 1;
  };
  let slot = 0;
  if (!ctx.isRoot) {
    encodeShortEntry(entry(dotName(1), 0, ATTR.directory, place.self, 0, ctx.dir), buf, 0);
    encodeShortEntry(entry(dotName(2), 0, ATTR.directory, place.parent, 0, ctx.parentNode!), buf, DIRENT_SIZE);
    slot = 2;
  } else if (ctx.label !== null) {
    const label = new Uint8Array(11).fill(0x20);
    label.set(new TextEncoder().encode(ctx.label).subarray(0, 11));
    encodeShortEntry(entry(label, 0, ATTR.volumeLabel, 0, 0, ctx.dir), buf, 0);
    slot = 1;
  }
  if (layout.rights) {
    slot = put(slot, layout.rights.name, entry(layout.rights.name.shortName, layout.rights.name.ntCase,
      ATTR.hidden | ATTR.system | ATTR.archive, place.rights, layout.rights.length, ctx.dir));
  }
  layout.children.forEach(({ node, name }, i) => {
    const c = place.children[i]!;
    slot = put(slot, name, entry(name.shortName, name.ntCase, attributesOf(node), c.cluster, c.size, node));
  });
  if (slot !== layout.slots) throw new Error(`${ctx.dir.path}: encoded ${slot} slots, laid out ${layout.slots} (internal)`);
  return buf;
}

/** The size a child is stored with: files and symlinks their bytes, everything else 0. */
export const storedSize = (node: SourceNode): number => (node.type === 'file' || node.type === 'symlink' ? node.size : 0);
