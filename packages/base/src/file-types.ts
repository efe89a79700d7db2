/** The kinds of file every Unix filesystem knows (st_mode's S_IFMT), by name. */
export type FileType = 'file' | 'dir' | 'symlink' | 'fifo' | 'char' | 'block' | 'socket';

/** File type bits of st_mode (S_IFMT) and their values: the same in every Unix format fsconv reads. */
export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;

export function fileTypeOfMode(mode: number): FileType | undefined {
  switch (mode & S_IFMT) {
    case S_IFREG: return 'file';
    case S_IFDIR: return 'dir';
    case S_IFLNK: return 'symlink';
    case S_IFIFO: return 'fifo';
    case S_IFCHR: return 'char';
    case S_IFBLK: return 'block';
    case S_IFSOCK: return 'socket';
    default: return undefined;
  }
}

/** A timestamp: seconds since the epoch (may be negative) and nanoseconds. */
export interface Timestamp {
  sec: number;
  nsec: number;
}

/** One extended attribute: its full name ("user.comment", "system.posix_acl_access") and its value, as getxattr(2) gives it. */
export interface Xattr {
  name: string;
  value: Uint8Array;
}
