import {
  ATTR, DIRENT_SIZE, DirectoryNamer, RIGHTS_FILE_NAME, encodeRightsFile, slotsFor,
  type NameTarget, type PlannedName, type RightsRecord,
} from '@fsconv/fat';
import { ConversionError, type ConversionNotes, type SourceNode, type SourceTree } from './model.js';

export type FatTarget = 'vfat+rights' | 'vfat' | 'msdos';

export interface NamingOptions {
  target: FatTarget;
  codepage: string;
  sourceCharset: string;
  /** The volume label (root directory only: it takes one slot there). */
  label: string | null;
}

/** One child of a directory as it will be stored on FAT. */
export interface PlacedChild {
  node: SourceNode;
  name: PlannedName;
}

/** A directory's FAT contents: its children's names, its rights file, and its size in slots. */
export interface DirectoryLayout {
  children: PlacedChild[];
  /** The rights file's name and bytes (vfat+rights only). */
  rights: { name: PlannedName; bytes: Uint8Array } | null;
  /** Slots used: dot entries, label, rights file, children with their long-name slots. */
  slots: number;
  /** Children not stored at all (special files without a rights file to describe them). */
  skipped: SourceNode[];
}

/** Which FAT attributes a node gets. Read-only when its owner may not write it (as Linux vfat maps it). */
export function attributesOf(node: SourceNode): number {
  const ro = (node.mode & 0o200) === 0 ? ATTR.readOnly : 0;
  return node.type === 'dir' ? ATTR.directory | ro : ATTR.archive | ro;
}

/** Devices, FIFOs and sockets: FAT keeps them only as placeholders described by a rights file. */
export const isSpecial = (node: SourceNode): boolean =>
  node.type === 'fifo' || node.type === 'char' || node.type === 'block' || node.type === 'socket';

/** The rights record of a node stored under `fatName`. */
export function rightsRecordOf(node: SourceNode, fatName: string): RightsRecord {
  const r: RightsRecord = {
    fatName, originalName: node.name, type: node.type, mode: node.mode, uid: node.uid, gid: node.gid,
    atime: node.atime, mtime: node.mtime, ctime: node.ctime, nlink: node.nlink,
  };
  if (node.type !== 'dir' && node.nlink > 1) r.linkGroup = node.linkId;
  if (node.target !== undefined) r.target = node.target;
  if (node.rdev !== undefined) r.rdev = node.rdev;
  return r;
}

/**
 * Names the children of `dir` for FAT and builds its rights file. Pure given the tree: called
 * once to measure (feasibility) and again to write, with identical results.
 */
export function layoutDirectory(tree: SourceTree, dir: SourceNode, isRoot: boolean, opts: NamingOptions): DirectoryLayout {
  const nameTarget: NameTarget = opts.target === 'msdos' ? 'msdos' : 'vfat';
  const reservedSlots = isRoot ? (opts.label !== null ? 1 : 0) : 2;
  const namer = new DirectoryNamer({ target: nameTarget, codepage: opts.codepage, sourceCharset: opts.sourceCharset }, dir.path, { reservedSlots });
  const withRights = opts.target === 'vfat+rights';
  const rightsName = withRights ? namer.reserve(RIGHTS_FILE_NAME) : null;
  const children: PlacedChild[] = [];
  const skipped: SourceNode[] = [];
  for (const node of tree.children(dir)) {
    if (isSpecial(node) && !withRights) {
      skipped.push(node);
      continue;
    }
    // A directory may come out larger than FAT allows (65536 slots): the measure reports it, and
    // planning makes it the verdict ("Not feasible", with the directory and its slot count).
    children.push({ node, name: namer.add(node.name) });
  }
  let rights: DirectoryLayout['rights'] = null;
  if (rightsName !== null) {
    const records = [rightsRecordOf(dir, '.'), ...children.map((c) => rightsRecordOf(c.node, c.name.displayName))];
    rights = { name: rightsName, bytes: encodeRightsFile(records) };
  }
  return { children, rights, slots: namer.slotsUsed + reservedSlots, skipped };
}

/** The notes a directory layout adds to the report (renames, losses). */
export function noteDirectory(layout: DirectoryLayout, target: FatTarget, notes: ConversionNotes): void {
  for (const c of layout.children) {
    if (c.name.rename) notes.renames.push({ path: c.node.path, fatName: c.name.displayName, reason: c.name.rename.reason });
    if (target !== 'vfat+rights' && c.node.type === 'symlink') {
      notes.losses.push({ path: c.node.path, what: 'symlink stored as a small file holding its target' });
    }
    if (target === 'vfat+rights' && c.node.type !== 'file' && c.node.type !== 'dir' && c.node.type !== 'symlink') {
      notes.losses.push({ path: c.node.path, what: `${c.node.type} stored as an empty placeholder (restorable from the rights file)` });
    }
  }
  for (const s of layout.skipped) notes.losses.push({ path: s.path, what: `${s.type} skipped (FAT cannot hold it without a rights file)` });
}

/** Bytes of a directory with `slots` entries. */
export const directoryBytes = (slots: number): number => slots * DIRENT_SIZE;

export { slotsFor };
