/**
 * Extended attributes of ext2/ext3 inodes, decoded exactly and defensively.
 *
 * Two places hold them (Linux fs/ext4/xattr.c, e2fsprogs lib/ext2fs/ext_attr.c):
 * - in the inode, when it is larger than 128 bytes: after 128 + i_extra_isize comes the magic
 *   0xEA020000, then the entries; a value's offset counts from the first entry;
 * - in the block i_file_acl: a 32-byte header (magic 0xEA020000, h_refcount, h_blocks = 1, h_hash,
 *   h_checksum, reserved), the entries from offset 32; a value's offset counts from the block start.
 * An entry is e_name_len u8, e_name_index u8, e_value_offs u16, e_value_inum u32, e_value_size u32,
 * e_hash u32 and the name, padded to 4 bytes; four zero bytes end the list. Values are padded to 4.
 *
 * Everything is checked the way e2fsck pass 1 checks it (check_ea_in_inode, check_ext_attr): the
 * header, every entry, every value (with its padding) and the closing four bytes lie inside the
 * area and overlap nothing else; the entry hash matches (either variant of the name hash; in the
 * inode a zero hash is allowed, as written by older kernels and by libext2fs). Beyond e2fsck, what
 * getxattr(2) could not give back is refused as well: a NUL in a name, a name that is not UTF-8,
 * an empty name in a prefix namespace or a name after an ACL's full name, a name twice, a POSIX ACL
 * the kernel would reject (fs/ext4/acl.c ext4_acl_from_disk). Values stored in EA inodes (ext4's
 * ea_inode) and unknown name indexes are refused as unsupported. Memory is bounded by the area
 * (an inode or one block), never by a number read from disk.
 */
import { Ext2Error, corrupt, unsupported, type Ext2Location } from './errors.js';
import { u16, u32, type Xattr } from '@fsconv/base';


/** h_magic of an xattr block and the magic in front of in-inode entries. */
export const XATTR_MAGIC = 0xea020000;
/** Bytes of an xattr block header (entries start here). */
export const XATTR_BLOCK_HEADER = 32;
/** Bytes of an entry before its name. */
const ENTRY_HEAD = 16;
/** The fixed part of every inode. */
const GOOD_OLD_INODE_SIZE = 128;

/** Name indexes (e_name_index) and their prefixes, as in e2fsprogs ea_names[] and Linux's handler map. */
export const XATTR_NAME_INDEX: ReadonlyMap<number, { prefix: string; fullName: boolean }> = new Map([
  [1, { prefix: 'user.', fullName: false }],
  [2, { prefix: 'system.posix_acl_access', fullName: true }],
  [3, { prefix: 'system.posix_acl_default', fullName: true }],
  [4, { prefix: 'trusted.', fullName: false }],
  [6, { prefix: 'security.', fullName: false }],
  [7, { prefix: 'system.', fullName: false }],
  [8, { prefix: 'system.richacl', fullName: true }],
  // The Hurd's namespace ("gnu.translator"), known to e2fsprogs and to Linux since 5.9.
  [10, { prefix: 'gnu.', fullName: false }],
]);

const ACL_INDEXES = new Set([2, 3]);

/** POSIX ACL tags (include/uapi/linux/posix_acl.h). */
export const ACL_USER_OBJ = 0x01;
export const ACL_USER = 0x02;
export const ACL_GROUP_OBJ = 0x04;
export const ACL_GROUP = 0x08;
export const ACL_MASK = 0x10;
export const ACL_OTHER = 0x20;
/** The id getxattr(2) gives entries that have none (USER_OBJ, GROUP_OBJ, MASK, OTHER). */
export const ACL_UNDEFINED_ID = 0xffffffff;
/** a_version of the on-disk (ext2/ext3/ext4) ACL format. */
export const EXT_ACL_VERSION = 1;
/** a_version of the userspace xattr format (posix_acl_xattr_header). */
export const POSIX_ACL_XATTR_VERSION = 2;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** A name as messages show it: control characters escaped, so a message stays one printable line. */
const shown = (name: string): string =>
  name.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);

/**
 * Converts a POSIX ACL from the on-disk format (a_version 1; entries tag u16, perm u16, and an id
 * u32 only for ACL_USER/ACL_GROUP) to what getxattr(2) gives (a_version 2; every entry tag, perm,
 * id u32, the id ACL_UNDEFINED_ID where there is none). The disk value is accepted exactly when
 * Linux's ext4_acl_from_disk accepts it: its size fixes the entry count (below 4 entries all are
 * short; from 16 bytes of entries on, exactly four are short), the entries fill it exactly. An ACL
 * without entries reads as no ACL at all there (ENODATA), so it is refused too: it cannot be kept.
 * `fail` makes the error for a problem (with the caller's location).
 */
export function aclFromDisk(value: Uint8Array, fail: (detail: string) => Ext2Error): Uint8Array {
  if (value.length < 4) throw fail(`POSIX ACL of ${value.length} bytes is shorter than its header`);
  const version = u32(value, 0);
  if (version !== EXT_ACL_VERSION) throw fail(`POSIX ACL has version ${version}, not ${EXT_ACL_VERSION}`);
  const body = value.length - 4;
  let count: number;
  if (body < 16) {
    if (body % 4 !== 0) throw fail(`POSIX ACL of ${value.length} bytes does not hold whole entries`);
    count = body / 4;
  } else {
    if ((body - 16) % 8 !== 0) throw fail(`POSIX ACL of ${value.length} bytes does not hold whole entries`);
    count = (body - 16) / 8 + 4;
  }
  if (count === 0) throw fail('POSIX ACL has no entries (the kernel reads it as no ACL)');
  const out = new Uint8Array(4 + 8 * count);
  const view = new DataView(out.buffer);
  view.setUint32(0, POSIX_ACL_XATTR_VERSION, true);
  let o = 4;
  for (let n = 0; n < count; n++) {
    if (o + 4 > value.length) throw fail(`POSIX ACL entry ${n + 1} of ${count} runs past the end of the value`);
    const tag = u16(value, o);
    const perm = u16(value, o + 2);
    let id: number;
    switch (tag) {
      case ACL_USER_OBJ:
      case ACL_GROUP_OBJ:
      case ACL_MASK:
      case ACL_OTHER:
        id = ACL_UNDEFINED_ID;
        o += 4;
        break;
      case ACL_USER:
      case ACL_GROUP:
        if (o + 8 > value.length) throw fail(`POSIX ACL entry ${n + 1} of ${count} runs past the end of the value`);
        id = u32(value, o + 4);
        o += 8;
        break;
      default:
        throw fail(`POSIX ACL entry ${n + 1} has an unknown tag 0x${tag.toString(16)}`);
    }
    view.setUint16(4 + 8 * n, tag, true);
    view.setUint16(4 + 8 * n + 2, perm, true);
    view.setUint32(4 + 8 * n + 4, id, true);
  }
  if (o !== value.length) throw fail(`POSIX ACL of ${value.length} bytes has ${value.length - o} bytes after its ${count} entries`);
  return out;
}

/**
 * The entry hash of e2fsprogs ext2fs_ext_attr_hash_entry (and the kernel's ext4_xattr_hash_entry):
 * the name bytes shifted in 5 bits at a time, then the value's padded 32-bit little-endian words
 * 16 bits at a time. `signedName` gives the variant where name bytes are signed chars (what
 * kernels on signed-char architectures wrote before 6.2; both are accepted by e2fsck and Linux).
 */
export function xattrEntryHash(name: Uint8Array, value: Uint8Array, signedName: boolean): number {
  let hash = 0;
  for (let i = 0; i < name.length; i++) {
    const c = signedName && name[i]! >= 0x80 ? name[i]! - 0x100 : name[i]!;
    hash = ((hash << 5) ^ (hash >>> 27) ^ c) >>> 0;
  }
  for (let o = 0; o < value.length; o += 4) {
    hash = ((hash << 16) ^ (hash >>> 16) ^ u32(value, o)) >>> 0;
  }
  return hash;
}

/** What and where an area is, for messages. */
interface Area {
  /** The bytes holding the area (an inode, or a block). */
  bytes: Uint8Array;
  /** [start, end) of the area in `bytes`; its header is [start, entries). */
  start: number;
  end: number;
  entries: number;
  /** e_value_offs counts from here. */
  valueBase: number;
  /** In the inode, a zero e_hash means "not computed" (older kernels, libext2fs). */
  zeroHashAllowed: boolean;
  /** 'in-inode extended attributes' or 'extended attribute block'. */
  what: string;
  where: Ext2Location;
}

/** Decodes the entries of one area, appending to `out`; throws an Ext2Error on any damage. */
function decodeArea(a: Area, out: Xattr[], seen: Set<string>): void {
  const { bytes, where, what } = a;
  const bad = (detail: string): Ext2Error => corrupt(`${what}: ${detail}`, where);
  // Claimed byte ranges of the area (header, entries, values, the end marker): none may overlap.
  const claims: Array<[start: number, end: number, what: string]> = [[a.start, a.entries, 'the header']];
  const found: Array<{ name: string; label: string; acl: boolean; value: Uint8Array }> = [];
  let o = a.entries;
  let n = 0;
  for (;;) {
    if (o + 4 > a.end) throw bad(`the entry list is not terminated (entry ${n + 1} at offset ${o - a.start} is past the end)`);
    if (u32(bytes, o) === 0) break;
    n++;
    const nameLen = bytes[o]!;
    const index = bytes[o + 1]!;
    const valueOffs = u16(bytes, o + 2);
    const valueInum = u32(bytes, o + 4);
    const valueSize = u32(bytes, o + 8);
    const hash = u32(bytes, o + 12);
    const entryLen = (ENTRY_HEAD + nameLen + 3) & ~3;
    const at = `entry ${n} (offset ${o - a.start})`;
    if (o + entryLen > a.end) throw bad(`${at} with a ${nameLen}-byte name runs past the end of the area`);
    claims.push([o, o + entryLen, `${at}`]);
    const nameBytes = bytes.subarray(o + ENTRY_HEAD, o + ENTRY_HEAD + nameLen);
    const ns = XATTR_NAME_INDEX.get(index);
    if (index === 0) throw bad(`${at} has name index 0 (no namespace)`);
    if (ns === undefined) throw unsupported(`${what}: ${at} has the unknown name index ${index}`, where);
    if (nameBytes.includes(0)) throw bad(`${at} has a NUL byte in its name`);
    let suffix: string;
    try {
      suffix = utf8.decode(nameBytes);
    } catch {
      throw unsupported(`${what}: ${at} has a name that is not valid UTF-8 (it cannot be shown exactly)`, where);
    }
    const name = ns.prefix + suffix;
    const label = shown(name);
    if (ns.fullName && nameLen !== 0) throw bad(`${at} in namespace ${ns.prefix} has a name '${shown(suffix)}' (it must be empty)`);
    if (!ns.fullName && nameLen === 0) throw bad(`${at} has an empty name in namespace ${ns.prefix}`);
    if (valueInum !== 0) {
      throw unsupported(`${what}: ${label} has its value in EA inode ${valueInum} (ea_inode, an ext4 feature)`, where);
    }
    let value: Uint8Array = new Uint8Array(0);
    // Even an empty value's offset must lie in the area: the kernel ignores it, but libext2fs
    // (ext2fs_xattrs_read, which e2fsck uses for inline data) refuses the inode.
    if (valueSize === 0 && a.valueBase + valueOffs > a.end) {
      throw bad(`the value of ${label} (offset ${valueOffs}, 0 bytes) lies outside the area`);
    }
    if (valueSize > 0) {
      const vStart = a.valueBase + valueOffs;
      const padded = Math.ceil(valueSize / 4) * 4;
      if (valueSize > a.end - a.start || vStart + padded > a.end) {
        throw bad(`the value of ${label} (offset ${valueOffs}, ${valueSize} bytes) lies outside the area`);
      }
      claims.push([vStart, vStart + padded, `the value of ${label}`]);
      const hashed = bytes.subarray(vStart, vStart + padded);
      if (!(a.zeroHashAllowed && hash === 0) && hash !== xattrEntryHash(nameBytes, hashed, false) && hash !== xattrEntryHash(nameBytes, hashed, true)) {
        throw bad(`the hash of ${label} is wrong (0x${hash.toString(16)})`);
      }
      value = bytes.slice(vStart, vStart + valueSize);
    } else if (!(a.zeroHashAllowed && hash === 0) && hash !== xattrEntryHash(nameBytes, value, false) && hash !== xattrEntryHash(nameBytes, value, true)) {
      throw bad(`the hash of ${label} is wrong (0x${hash.toString(16)})`);
    }
    found.push({ name, label, acl: ACL_INDEXES.has(index), value });
    o += entryLen;
  }
  claims.push([o, o + 4, 'the end of the entry list']);
  claims.sort((x, y) => x[0] - y[0]);
  for (let i = 1; i < claims.length; i++) {
    const [, prevEnd, prevWhat] = claims[i - 1]!;
    const [start, , curWhat] = claims[i]!;
    if (start < prevEnd) throw bad(`${prevWhat} and ${curWhat} overlap`);
  }
  // The layout is sound: now what the values say.
  for (const { name, label, acl, value } of found) {
    if (seen.has(name)) throw bad(`${label} appears twice`);
    seen.add(name);
    out.push({ name, value: acl ? aclFromDisk(value, (d) => bad(`${label}: ${d}`)) : value });
  }
}

/**
 * Where the in-inode attributes are, or undefined when the inode has none. `raw` is the whole
 * on-disk inode (`inodeSize` bytes). An invalid i_extra_isize is refused (e2fsck: it must be 0, or
 * 4 up to inodeSize − 128 and a multiple of 4), since it decides where the attributes start.
 */
function inodeArea(raw: Uint8Array, inodeSize: number, where: Ext2Location): Area | undefined {
  if (inodeSize <= GOOD_OLD_INODE_SIZE) return undefined;
  const extra = u16(raw, GOOD_OLD_INODE_SIZE);
  const max = inodeSize - GOOD_OLD_INODE_SIZE;
  if (extra !== 0 && (extra < 4 || extra > max || (extra & 3) !== 0)) {
    throw corrupt(`i_extra_isize is ${extra}, must be 0 or a multiple of 4 from 4 to ${max}`, where);
  }
  // e2fsck looks for attributes only when there is room for more than the magic.
  if (extra >= max - 4) return undefined;
  const start = GOOD_OLD_INODE_SIZE + extra;
  if (u32(raw, start) !== XATTR_MAGIC) return undefined;
  return {
    bytes: raw, start, end: inodeSize, entries: start + 4, valueBase: start + 4, zeroHashAllowed: true,
    what: 'in-inode extended attributes', where,
  };
}

/** True when the inode holds attributes in its body (the magic after i_extra_isize). */
export function hasInodeXattrs(raw: Uint8Array, inodeSize: number, where: Ext2Location): boolean {
  return inodeArea(raw, inodeSize, where) !== undefined;
}

/** The attributes in an inode's body, in entry order (validated in full). */
export function decodeInodeXattrs(raw: Uint8Array, inodeSize: number, where: Ext2Location, seen?: Set<string>): Xattr[] {
  const area = inodeArea(raw, inodeSize, where);
  if (area === undefined) return []; // the common case: the check calls this for every inode
  const out: Xattr[] = [];
  decodeArea(area, out, seen ?? new Set<string>());
  return out;
}

/** What an xattr block's header says (for the reference count check). */
export interface XattrBlockHeader {
  refcount: number;
  blocks: number;
}

/**
 * The attributes of an xattr block, in entry order (validated in full: header magic, h_blocks 1,
 * every entry). `where` names the inode (and block) for messages.
 */
export function decodeXattrBlock(block: Uint8Array, where: Ext2Location, seen = new Set<string>()): { header: XattrBlockHeader; xattrs: Xattr[] } {
  const what = 'extended attribute block';
  if (block.length < XATTR_BLOCK_HEADER + 4) throw corrupt(`${what} of ${block.length} bytes is too small`, where);
  const magic = u32(block, 0);
  if (magic !== XATTR_MAGIC) {
    throw magic === 0xea010000
      ? unsupported(`${what} has the old version 1 magic 0xea010000`, where)
      : corrupt(`${what} has a bad magic number 0x${magic.toString(16)}`, where);
  }
  const header = { refcount: u32(block, 4), blocks: u32(block, 8) };
  if (header.blocks !== 1) throw corrupt(`${what} spans ${header.blocks} blocks (h_blocks must be 1)`, where);
  if (header.refcount === 0) throw corrupt(`${what} has reference count 0`, where);
  const xattrs: Xattr[] = [];
  decodeArea({
    bytes: block, start: 0, end: block.length, entries: XATTR_BLOCK_HEADER, valueBase: 0, zeroHashAllowed: false, what, where,
  }, xattrs, seen);
  return { header, xattrs };
}
