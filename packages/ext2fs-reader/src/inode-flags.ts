/**
 * Inode flags (i_flags) as lsattr shows them: the letters of e2fsprogs lib/e2p/pf.c, in its order.
 *
 * `user` marks the flags a user sets with chattr and that a copy of the file should get back
 * (restore them, and the file behaves as before): s u S D i a d A c j t T C x F P. Left out are
 * the flags that describe how the data is laid out or what the filesystem did by itself, which a
 * copy gets (or not) from its own filesystem and which chattr cannot or must not set:
 *   E encrypted (set by fscrypt, with keys and an encrypted layout, never by chattr),
 *   I hash-indexed directory, e extents, N inline data (layouts; chattr's 'e' only converts),
 *   V verity (set by FS_IOC_ENABLE_VERITY, with a Merkle tree on disk, never by chattr),
 *   m don't-compress (a compression internal: Linux ext2/ext4 do not let chattr change it,
 *     EXT2/EXT4_FL_USER_MODIFIABLE exclude it); and the bits lsattr does not show at all:
 *   huge_file, EA inode, imagic, the compression state (dirty, compressed blocks), snapshots.
 * C (no copy-on-write) and x (DAX) are kept although ext2/ext3 rarely carry them: chattr sets
 * them where the filesystem supports them, and then they are the user's choice. F (casefold) is
 * listed for completeness: it exists only with the casefold feature, which the reader refuses, and
 * the check refuses the flag without it (e2fsck -fn complains of it).
 */
export interface InodeFlag {
  flag: number;
  letter: string;
  name: string;
  /** Set by a user with chattr, and to be restored on a copy. */
  user: boolean;
}

/** lib/e2p/pf.c flags_array, in order (letters and long names as lsattr -l prints them). */
export const LSATTR_FLAGS: readonly InodeFlag[] = [
  { flag: 0x00000001, letter: 's', name: 'Secure_Deletion', user: true },
  { flag: 0x00000002, letter: 'u', name: 'Undelete', user: true },
  { flag: 0x00000008, letter: 'S', name: 'Synchronous_Updates', user: true },
  { flag: 0x00010000, letter: 'D', name: 'Synchronous_Directory_Updates', user: true },
  { flag: 0x00000010, letter: 'i', name: 'Immutable', user: true },
  { flag: 0x00000020, letter: 'a', name: 'Append_Only', user: true },
  { flag: 0x00000040, letter: 'd', name: 'No_Dump', user: true },
  { flag: 0x00000080, letter: 'A', name: 'No_Atime', user: true },
  { flag: 0x00000004, letter: 'c', name: 'Compression_Requested', user: true },
  { flag: 0x00000800, letter: 'E', name: 'Encrypted', user: false },
  { flag: 0x00004000, letter: 'j', name: 'Journaled_Data', user: true },
  { flag: 0x00001000, letter: 'I', name: 'Indexed_directory', user: false },
  { flag: 0x00008000, letter: 't', name: 'No_Tailmerging', user: true },
  { flag: 0x00020000, letter: 'T', name: 'Top_of_Directory_Hierarchies', user: true },
  { flag: 0x00080000, letter: 'e', name: 'Extents', user: false },
  { flag: 0x00800000, letter: 'C', name: 'No_COW', user: true },
  { flag: 0x02000000, letter: 'x', name: 'DAX', user: true },
  { flag: 0x40000000, letter: 'F', name: 'Casefold', user: true },
  { flag: 0x10000000, letter: 'N', name: 'Inline_Data', user: false },
  { flag: 0x20000000, letter: 'P', name: 'Project_Hierarchy', user: true },
  { flag: 0x00100000, letter: 'V', name: 'Verity', user: false },
  { flag: 0x00000400, letter: 'm', name: 'Dont_Compress', user: false },
];

/** The i_flags bits userFlagLetters keeps. */
export const USER_FLAGS_MASK = LSATTR_FLAGS.reduce((m, f) => (f.user ? (m | f.flag) >>> 0 : m), 0);

/** The letters userFlagLetters can give, in lsattr's order. */
export const USER_FLAG_LETTERS = LSATTR_FLAGS.filter((f) => f.user).map((f) => f.letter).join('');

/** Every lsattr letter of `flags`, in lsattr's order (what `lsattr` prints, without the dashes). */
export function flagLetters(flags: number): string {
  let s = '';
  for (const f of LSATTR_FLAGS) if ((flags & f.flag) !== 0) s += f.letter;
  return s;
}

/** The lsattr letters of the flags a user set and a copy should keep, in lsattr's order ('' for none). */
export function userFlagLetters(flags: number): string {
  let s = '';
  for (const f of LSATTR_FLAGS) if (f.user && (flags & f.flag) !== 0) s += f.letter;
  return s;
}
