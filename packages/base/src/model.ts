import { FsconvError } from './errors.js';
import type { FileType, Timestamp, Xattr } from './file-types.js';

/**
 * The format-neutral view of a filesystem that importers produce and exporters consume (the
 * "entry_info" of Surprise's GConv): names as raw bytes, Unix metadata, and data read on demand.
 */
export interface SourceNode {
  /** Same for every name of one file (hard links), unique otherwise. */
  linkId: number;
  /** Raw name bytes (empty for the root). */
  name: Uint8Array;
  /** '/'-rooted path for messages and reports (names decoded as UTF-8 with U+FFFD). */
  path: string;
  type: FileType;
  /** Full st_mode, type bits included. */
  mode: number;
  uid: number;
  gid: number;
  atime: Timestamp;
  mtime: Timestamp;
  ctime: Timestamp;
  nlink: number;
  /** Regular files: bytes. Symlinks: target length. Others: 0. */
  size: number;
  target?: Uint8Array;
  rdev?: [number, number];
  /** Extended attributes of every namespace, as getxattr(2) gives them (POSIX ACLs in the xattr format). Absent when none. */
  xattrs?: Xattr[];
  /** Inode flags that mean something to a user, as lsattr letters in lsattr's order. Absent when none. */
  flags?: string;
}

/** A filesystem or directory tree to convert from. Every listing is in a deterministic order. */
export interface SourceTree {
  /** What it is, for reports: 'ext2', 'ext3', 'directory'. */
  readonly kind: string;
  /** The volume name, if the source has one. */
  readonly label: string | null;
  /** A 32-bit identity derived from the source (ext2 UUID), if it has one. */
  readonly volumeId: number | null;
  root(): SourceNode;
  /** The children of a directory node, never '.' or '..'. */
  children(dir: SourceNode): SourceNode[];
  /** Fills `into` with the file's bytes at `offset` (holes read as zeros). */
  readFile(node: SourceNode, offset: number, into: Uint8Array): void;
}

/** Hard links beyond the first name, holes, specials: what the conversion costs or loses. */
export interface ConversionNotes {
  renames: Array<{ path: string; fatName: string; reason: string }>;
  duplicates: Array<{ path: string; of: string }>;
  losses: Array<{ path: string; what: string }>;
}

/** A conversion that cannot be done as asked (a directory too full for FAT, a file too large): one line, exit 1. */
export class ConversionError extends FsconvError<'conversion'> {
  override readonly name = 'ConversionError';
  constructor(message: string) {
    super('conversion', message);
  }
}

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
