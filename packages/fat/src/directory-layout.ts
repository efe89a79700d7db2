import { ATTR, DIRENT_SIZE, RIGHTS_FILE_NAME } from './constants.js';
import { unixToFat } from './fat-time.js';
import { DirectoryNamer, slotsFor, type NameTarget, type PlannedName } from './directory-namer.js';
import { encodeRightsFile, type FatSnapshot, type RightsRecord } from './rights.js';
import { type ConversionNotes, type SourceNode, type SourceTree, type Timestamp } from '@fsconv/base';

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

/** Where each child was put: its first cluster and stored size, in layout order (DirectoryPlacement's). */
export type ChildPlacement = ReadonlyArray<{ cluster: number; size: number }>;

/** A directory's rights file (vfat+rights): its name, its length, and its bytes once the children are placed. */
export interface RightsFileLayout {
  name: PlannedName;
  /** Known before anything is placed: the FAT snapshots in it have a fixed width. */
  length: number;
  /** The bytes, with each record's snapshot of the FAT entry it describes. */
  encode(children: ChildPlacement, tzOffset: (unixSeconds: number) => number): Uint8Array;
}

/** A directory's FAT contents: its children's names, its rights file, and its size in slots. */
export interface DirectoryLayout {
  children: PlacedChild[];
  rights: RightsFileLayout | null;
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

/**
 * A time as the rights file (and FAT) can hold it: ext4 keeps 30 bits of nanoseconds, so a source
 * may say more than 999,999,999 (e2fsck leaves it); such a value is kept as the last nanosecond of
 * its second, and noteDirectory reports it.
 */
export const keptTime = (t: Timestamp): Timestamp => (t.nsec <= 999_999_999 ? t : { sec: t.sec, nsec: 999_999_999 });

/** The FAT write date and time of a node (what its directory entry holds, and its snapshot). */
export function fatWriteTime(node: SourceNode, tzOffset: (unixSeconds: number) => number): { date: number; time: number } {
  const m = keptTime(node.mtime);
  return unixToFat(m.sec, m.nsec, tzOffset(m.sec));
}

/** The rights record of a node stored under `fatName` (its `fat` snapshot is added once it is placed). */
export function rightsRecordOf(node: SourceNode, fatName: string): RightsRecord {
  const r: RightsRecord = {
    fatName, originalName: node.name, type: node.type, mode: node.mode, uid: node.uid, gid: node.gid,
    atime: keptTime(node.atime), mtime: keptTime(node.mtime), ctime: keptTime(node.ctime), nlink: node.nlink,
  };
  if (node.type !== 'dir' && node.nlink > 1) r.linkGroup = node.linkId;
  if (node.target !== undefined) r.target = node.target;
  if (node.rdev !== undefined) r.rdev = node.rdev;
  if (node.flags !== undefined && node.flags !== '') r.flags = node.flags;
  if (node.xattrs !== undefined && node.xattrs.length > 0) r.xattrs = node.xattrs;
  return r;
}

const NO_PLACE: FatSnapshot = { cluster: 0, size: 0, writeDate: 0, writeTime: 0, attr: 0, shortName: new Uint8Array(11) };

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
    const self = rightsRecordOf(dir, '.');
    const records = children.map((c) => rightsRecordOf(c.node, c.name.displayName));
    const withSnapshots = (snapshot: (i: number) => FatSnapshot): RightsRecord[] => [self, ...records.map((r, i) => ({ ...r, fat: snapshot(i) }))];
    // Encoding refuses what a reader would refuse: do it once now, so that a bad record is a
    // refusal before anything is written, and to learn the length.
    const length = encodeRightsFile(withSnapshots((i) => ({ ...NO_PLACE, shortName: children[i]!.name.shortName }))).length;
    rights = {
      name: rightsName, length,
      encode: (placed, tzOffset) => {
        const bytes = encodeRightsFile(withSnapshots((i) => {
          const c = children[i]!;
          const w = fatWriteTime(c.node, tzOffset);
          return { cluster: placed[i]!.cluster, size: placed[i]!.size, writeDate: w.date, writeTime: w.time, attr: attributesOf(c.node), shortName: c.name.shortName };
        }));
        if (bytes.length !== length) throw new Error(`${dir.path}: the rights file came out ${bytes.length} bytes, planned ${length} (internal)`);
        return bytes;
      },
    };
  }
  return { children, rights, slots: namer.slotsUsed + reservedSlots, skipped };
}

/** What a node has that the target cannot keep: its xattrs and flags without a rights file, times beyond a second. */
function noteKept(node: SourceNode, target: FatTarget, notes: ConversionNotes): void {
  for (const k of ['atime', 'mtime', 'ctime'] as const) {
    if (node[k].nsec > 999_999_999) notes.losses.push({ path: node.path, what: `${k} nanoseconds ${node[k].nsec} (more than a second) kept as 999999999` });
  }
  if (target === 'vfat+rights') return;
  for (const x of node.xattrs ?? []) notes.losses.push({ path: node.path, what: `extended attribute ${x.name} not kept (no rights file)` });
  if (node.flags) notes.losses.push({ path: node.path, what: `inode flags '${node.flags}' not kept (no rights file)` });
}

/** The notes a directory layout adds to the report (renames, losses); `self` is the directory itself, given for the root. */
export function noteDirectory(layout: DirectoryLayout, target: FatTarget, notes: ConversionNotes, self?: SourceNode): void {
  if (self !== undefined) noteKept(self, target, notes);
  for (const c of layout.children) {
    noteKept(c.node, target, notes);
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

