/**
 * Extended attributes on crafted bytes: both places (an inode's body, an xattr block), every name
 * index, the POSIX ACL conversion to getxattr's format (expected bytes as the Linux 6.18 kernel
 * gave them through getfattr for the same ACLs), the two entry hash variants, and every kind of
 * damage refused with its message. test/ext2-xattrs.test.ts compares real images with the kernel.
 */
import { describe, expect, it } from 'vitest';
import { Ext2Error } from '../src/errors.js';
import {
  aclFromDisk, decodeInodeXattrs, decodeXattrBlock, xattrEntryHash, XATTR_MAGIC,
} from '../src/xattr.js';
import type { Xattr } from '@fsconv/base';
import { LSATTR_FLAGS, USER_FLAG_LETTERS, flagLetters, userFlagLetters } from '../src/inode-flags.js';

const enc = new TextEncoder();
const bytes = (...v: number[]): Uint8Array => Uint8Array.from(v);
const le16 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff];
const le32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');
const asMap = (xs: Xattr[]): Record<string, string> => Object.fromEntries(xs.map((x) => [x.name, b64(x.value)]));

interface EntrySpec {
  index: number;
  name: string | Uint8Array;
  value: Uint8Array;
  /** 'auto' (default): the unsigned hash; 'signed': the signed-char variant; or a number. */
  hash?: 'auto' | 'signed' | number;
  /** Override e_value_offs (relative to the value base). */
  valueOffs?: number;
  valueSize?: number;
  valueInum?: number;
  nameLen?: number;
}

const padded = (n: number): number => (n + 3) & ~3;

/**
 * Lays out entries from `entriesAt` on and values from `end` downwards (as Linux does), offsets
 * counted from `valueBase`; returns the buffer. Overrides let a test place things wrongly.
 */
function layout(buf: Uint8Array, entriesAt: number, end: number, valueBase: number, entries: EntrySpec[], terminate = true): Uint8Array {
  let o = entriesAt;
  let v = end;
  for (const e of entries) {
    const name = typeof e.name === 'string' ? enc.encode(e.name) : e.name;
    v -= padded(e.value.length);
    buf.set(e.value, v);
    const offs = e.valueOffs ?? (e.value.length > 0 ? v - valueBase : 0);
    const valuePadded = buf.subarray(valueBase + offs, valueBase + offs + padded(e.value.length));
    const hash = e.hash === undefined || e.hash === 'auto'
      ? xattrEntryHash(name, valuePadded, false)
      : e.hash === 'signed' ? xattrEntryHash(name, valuePadded, true) : e.hash;
    buf.set([e.nameLen ?? name.length, e.index, ...le16(offs), ...le32(e.valueInum ?? 0), ...le32(e.valueSize ?? e.value.length), ...le32(hash)], o);
    buf.set(name, o + 16);
    o += padded(16 + name.length);
  }
  if (!terminate) buf.fill(0xee, o, o + 4);
  return buf;
}

/** A 256-byte inode with i_extra_isize 32 and these in-inode entries. */
function inodeWith(entries: EntrySpec[], opts: { extra?: number; terminate?: boolean } = {}): Uint8Array {
  const raw = new Uint8Array(256);
  const extra = opts.extra ?? 32;
  raw.set(le16(extra), 128);
  const start = 128 + extra;
  raw.set(le32(XATTR_MAGIC), start);
  return layout(raw, start + 4, 256, start + 4, entries, opts.terminate);
}

/** A 1 KiB xattr block with these entries. */
function blockWith(entries: EntrySpec[], opts: { magic?: number; refcount?: number; blocks?: number; terminate?: boolean } = {}): Uint8Array {
  const b = new Uint8Array(1024);
  b.set([...le32(opts.magic ?? XATTR_MAGIC), ...le32(opts.refcount ?? 1), ...le32(opts.blocks ?? 1)], 0);
  return layout(b, 32, 1024, 0, entries, opts.terminate);
}

const W = { inode: 12 };
const WB = { inode: 12, block: 99 };

/** The on-disk ACL: header version 1, then entries (short for the tags without an id). */
function diskAcl(entries: Array<[tag: number, perm: number, id?: number]>): Uint8Array {
  const out: number[] = [...le32(1)];
  for (const [tag, perm, id] of entries) {
    out.push(...le16(tag), ...le16(perm));
    if (id !== undefined) out.push(...le32(id));
  }
  return Uint8Array.from(out);
}

/** What the kernel's getxattr gave (getfattr -e base64) for `setfacl -m u:1234:rw,g:55:r` on a 0664 file. */
const KERNEL_ACCESS_ACL = 'AgAAAAEABgD/////AgAGANIEAAAEAAQA/////wgABAA3AAAAEAAGAP////8gAAQA/////w==';
/** … and for `setfacl -d -m u:1234:rwx` on a 0755 directory. */
const KERNEL_DEFAULT_ACL = 'AgAAAAEABwD/////AgAHANIEAAAEAAUA/////xAABwD/////IAAFAP////8=';

const ACCESS_DISK = diskAcl([[1, 6], [2, 6, 1234], [4, 4], [8, 4, 55], [0x10, 6], [0x20, 4]]);
const DEFAULT_DISK = diskAcl([[1, 7], [2, 7, 1234], [4, 5], [0x10, 7], [0x20, 5]]);

function refusal(f: () => unknown): Ext2Error {
  try {
    f();
  } catch (e) {
    if (e instanceof Ext2Error) return e;
    throw new Error(`expected an Ext2Error, got ${String(e)}`);
  }
  throw new Error('expected a refusal, got none');
}

describe('name indexes', () => {
  const all: EntrySpec[] = [
    { index: 1, name: 'comment', value: enc.encode('hello') },
    { index: 1, name: 'bin', value: bytes(0, 0xff, 1, 0x80, 0) },
    { index: 4, name: 'trusted.x', value: bytes(1, 2, 3) },
    { index: 6, name: 'capability', value: bytes(1, 0, 0, 2, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0) },
    { index: 7, name: 'data', value: new Uint8Array(0) },
    { index: 8, name: '', value: bytes(9, 9, 9, 9) },
    { index: 10, name: 'translator', value: enc.encode('/hurd/x') },
    { index: 2, name: '', value: ACCESS_DISK },
    { index: 3, name: '', value: DEFAULT_DISK },
  ];
  const expected = {
    'user.comment': b64(enc.encode('hello')),
    'user.bin': b64(bytes(0, 0xff, 1, 0x80, 0)),
    'trusted.trusted.x': b64(bytes(1, 2, 3)),
    'security.capability': b64(all[3]!.value),
    'system.data': '',
    'system.richacl': b64(bytes(9, 9, 9, 9)),
    'gnu.translator': b64(enc.encode('/hurd/x')),
    'system.posix_acl_access': KERNEL_ACCESS_ACL,
    'system.posix_acl_default': KERNEL_DEFAULT_ACL,
  };

  it('in an xattr block (values from the block start)', () => {
    const { header, xattrs } = decodeXattrBlock(blockWith(all, { refcount: 3 }), WB);
    expect(header).toEqual({ refcount: 3, blocks: 1 });
    expect(asMap(xattrs)).toEqual(expected);
    expect(xattrs.map((x) => x.name)).toEqual(Object.keys(expected)); // entry order
  });

  it('in the inode body (values from the first entry), with zero hashes allowed', () => {
    const small = all.filter((e) => e.index !== 6 && e.index !== 3).map((e) => ({ ...e, hash: 0 }));
    const raw = new Uint8Array(512);
    raw.set(le16(32), 128);
    raw.set(le32(XATTR_MAGIC), 160);
    layout(raw, 164, 512, 164, small);
    const xs = decodeInodeXattrs(raw, 512, W);
    expect(xs.map((x) => x.name)).toEqual(['user.comment', 'user.bin', 'trusted.trusted.x', 'system.data', 'system.richacl', 'gnu.translator', 'system.posix_acl_access']);
    expect(asMap(xs)['system.posix_acl_access']).toBe(KERNEL_ACCESS_ACL);
  });

  it('in the inode with i_extra_isize 0 (the magic right after the 128 bytes) and with real hashes', () => {
    const raw = new Uint8Array(256);
    raw.set(le32(XATTR_MAGIC), 128);
    layout(raw, 132, 256, 132, [{ index: 1, name: 'a', value: enc.encode('b') }]);
    expect(asMap(decodeInodeXattrs(raw, 256, W))).toEqual({ 'user.a': b64(enc.encode('b')) });
  });

  it('nothing for 128-byte inodes, without the magic, or without room for more than the magic', () => {
    expect(decodeInodeXattrs(new Uint8Array(128), 128, W)).toEqual([]);
    expect(decodeInodeXattrs(inodeWith([]).fill(0, 160, 164), 256, W)).toEqual([]);
    const full = new Uint8Array(256);
    full.set(le16(124), 128);
    full.set(le32(XATTR_MAGIC), 252);
    expect(decodeInodeXattrs(full, 256, W)).toEqual([]);
    expect(decodeInodeXattrs(inodeWith([]), 256, W)).toEqual([]); // magic and an empty list
  });

  it('accepts the signed-char variant of the name hash, and refuses a wrong hash', () => {
    const name = enc.encode('caf\u00e9');
    expect(xattrEntryHash(name, new Uint8Array(4), true)).not.toBe(xattrEntryHash(name, new Uint8Array(4), false));
    const ok = decodeXattrBlock(blockWith([{ index: 1, name, value: enc.encode('x'), hash: 'signed' }]), WB);
    expect(ok.xattrs[0]!.name).toBe('user.caf\u00e9');
    const e = refusal(() => decodeXattrBlock(blockWith([{ index: 1, name, value: enc.encode('x'), hash: 12345 }]), WB));
    expect(e.code).toBe('corrupt');
    expect(e.message).toBe('inode 12, block 99: extended attribute block: the hash of user.caf\u00e9 is wrong (0x3039)');
  });

  it('hashes the value as padded little-endian words (known value)', () => {
    // e2fsprogs ext2fs_ext_attr_hash_entry of name "a", value "b": ((0x61 << 16) ^ 0x62).
    expect(xattrEntryHash(enc.encode('a'), bytes(0x62, 0, 0, 0), false)).toBe(((0x61 << 16) ^ 0x62) >>> 0);
  });
});

describe('POSIX ACLs', () => {
  const fail = (d: string): Ext2Error => new Ext2Error('corrupt', d, W);
  it('converts the access ACL with named users and groups to the kernel bytes', () => {
    expect(b64(aclFromDisk(ACCESS_DISK, fail))).toBe(KERNEL_ACCESS_ACL);
  });
  it('converts the default ACL to the kernel bytes', () => {
    expect(b64(aclFromDisk(DEFAULT_DISK, fail))).toBe(KERNEL_DEFAULT_ACL);
  });
  it('converts a short-form-only ACL (fewer than four entries, all short)', () => {
    const v = aclFromDisk(diskAcl([[1, 7], [4, 5], [0x20, 4]]), fail);
    expect([...v]).toEqual([2, 0, 0, 0, 1, 0, 7, 0, 255, 255, 255, 255, 4, 0, 5, 0, 255, 255, 255, 255, 0x20, 0, 4, 0, 255, 255, 255, 255]);
  });
  it('keeps the perm bits and ids as stored', () => {
    const v = aclFromDisk(diskAcl([[1, 0xffff], [2, 1, 0xfffffffe], [4, 0], [0x10, 0], [0x20, 0]]), fail);
    expect(Buffer.from(v).readUInt16LE(6)).toBe(0xffff);
    expect(Buffer.from(v).readUInt32LE(16)).toBe(0xfffffffe);
  });
  const bad: Array<[string, Uint8Array, RegExp]> = [
    ['shorter than its header', bytes(1, 0), /POSIX ACL of 2 bytes is shorter than its header/],
    ['a wrong version', diskAcl([[1, 7], [4, 5], [0x20, 4]]).fill(2, 0, 1), /POSIX ACL has version 2, not 1/],
    ['no entries', diskAcl([]), /POSIX ACL has no entries/],
    ['a partial short entry', Uint8Array.from([...diskAcl([[1, 7]]), 0, 0]), /does not hold whole entries/],
    ['a size not fitting four short entries and long ones', Uint8Array.from([...diskAcl([[1, 7], [4, 5], [0x10, 5], [0x20, 4]]), 1, 2, 3, 4]), /does not hold whole entries/],
    ['an unknown tag', diskAcl([[1, 7], [0x40, 5], [0x20, 4]]), /POSIX ACL entry 2 has an unknown tag 0x40/],
    ['a named entry where the size allows only short ones', diskAcl([[1, 7], [2, 7, 5]]), /POSIX ACL entry 3 of 3 runs past the end of the value/],
    ['five short entries and a long one', diskAcl([[1, 7], [4, 5], [0x10, 5], [0x10, 5], [0x20, 4], [2, 1, 9]]), /POSIX ACL of 32 bytes does not hold whole entries/],
    // The kernel's count: from 16 bytes of entries on, exactly four are short.
    ['two short entries and three long ones', diskAcl([[1, 7], [2, 1, 9], [8, 1, 9], [2, 2, 10], [0x20, 4]]), /POSIX ACL entry 6 of 6 runs past the end of the value/],
    ['six short entries and one long one', diskAcl([[1, 7], [4, 5], [4, 5], [0x10, 5], [0x20, 4], [0x20, 4], [2, 1, 9]]), /POSIX ACL of 36 bytes has 8 bytes after its 6 entries/],
  ];
  for (const [what, v, msg] of bad) {
    it(`refuses an ACL with ${what}`, () => {
      const e = refusal(() => aclFromDisk(v, fail));
      expect(e.message).toMatch(msg);
      expect(e.message.startsWith('inode 12: ')).toBe(true);
    });
  }
  it('refuses a bad ACL inside an xattr area, naming the attribute', () => {
    const e = refusal(() => decodeXattrBlock(blockWith([{ index: 2, name: '', value: diskAcl([]) }]), WB));
    expect(e.message).toBe('inode 12, block 99: extended attribute block: system.posix_acl_access: POSIX ACL has no entries (the kernel reads it as no ACL)');
  });
});

describe('damage', () => {
  const one = (o: Partial<EntrySpec> = {}): EntrySpec[] => [{ index: 1, name: 'a', value: enc.encode('value'), ...o }];
  const cases: Array<[string, () => unknown, 'corrupt' | 'unsupported', string]> = [
    ['an odd i_extra_isize', () => decodeInodeXattrs(inodeWith([], { extra: 30 }), 256, W), 'corrupt',
      'inode 12: i_extra_isize is 30, must be 0 or a multiple of 4 from 4 to 128'],
    ['an i_extra_isize past the inode', () => decodeInodeXattrs(new Uint8Array(256).fill(0x84, 128, 129), 256, W), 'corrupt',
      'inode 12: i_extra_isize is 132, must be 0 or a multiple of 4 from 4 to 128'],
    ['an i_extra_isize of 2', () => decodeInodeXattrs(new Uint8Array(256).fill(2, 128, 129), 256, W), 'corrupt',
      'inode 12: i_extra_isize is 2, must be 0 or a multiple of 4 from 4 to 128'],
    ['an unterminated in-inode list (entries up to the end)', () => decodeInodeXattrs(inodeWith([
      { index: 1, name: 'x'.repeat(76), value: new Uint8Array(0) },
    ]), 256, W), 'corrupt', 'inode 12: in-inode extended attributes: the entry list is not terminated (entry 2 at offset 96 is past the end)'],
    ['an in-inode list with garbage after the entries', () => decodeInodeXattrs(inodeWith([
      { index: 1, name: 'x'.repeat(40), value: enc.encode('v'.repeat(32)) },
    ], { terminate: false }), 256, W), 'corrupt', 'inode 12: in-inode extended attributes: entry 2 (offset 60) with a 238-byte name runs past the end of the area'],
    ['a name running past the inode', () => decodeInodeXattrs(inodeWith(one({ nameLen: 200, valueOffs: 0, value: new Uint8Array(0) })), 256, W), 'corrupt',
      'inode 12: in-inode extended attributes: entry 1 (offset 4) with a 200-byte name runs past the end of the area'],
    ['a value past the inode', () => decodeInodeXattrs(inodeWith(one({ valueOffs: 88 })), 256, W), 'corrupt',
      'inode 12: in-inode extended attributes: the value of user.a (offset 88, 5 bytes) lies outside the area'],
    ['an empty value whose offset lies past the inode (libext2fs, and so e2fsck on inline inodes, refuses it)', () => decodeInodeXattrs(inodeWith(one({ valueOffs: 0xff00, value: new Uint8Array(0), hash: 0 })), 256, W), 'corrupt',
      'inode 12: in-inode extended attributes: the value of user.a (offset 65280, 0 bytes) lies outside the area'],
    ['a huge value size', () => decodeInodeXattrs(inodeWith(one({ valueSize: 0xffffffff, hash: 0 })), 256, W), 'corrupt',
      'inode 12: in-inode extended attributes: the value of user.a (offset 84, 4294967295 bytes) lies outside the area'],
    ['a value over the entries', () => decodeInodeXattrs(inodeWith(one({ valueOffs: 0, hash: 0 })), 256, W), 'corrupt',
      'inode 12: in-inode extended attributes: entry 1 (offset 4) and the value of user.a overlap'],
    ['a value over the end marker', () => decodeInodeXattrs(inodeWith(one({ valueOffs: 20, hash: 0 })), 256, W), 'corrupt',
      'inode 12: in-inode extended attributes: the value of user.a and the end of the entry list overlap'],
    ['two values over each other', () => decodeInodeXattrs(inodeWith([
      { index: 1, name: 'a', value: enc.encode('value'), valueOffs: 80, hash: 0 },
      { index: 1, name: 'b', value: enc.encode('value'), valueOffs: 84, hash: 0 },
    ]), 256, W), 'corrupt', 'inode 12: in-inode extended attributes: the value of user.a and the value of user.b overlap'],
    ['a wrong non-zero hash in the inode', () => decodeInodeXattrs(inodeWith(one({ hash: 7 })), 256, W), 'corrupt',
      'inode 12: in-inode extended attributes: the hash of user.a is wrong (0x7)'],
    ['a zero hash in a block', () => decodeXattrBlock(blockWith(one({ hash: 0 })), WB), 'corrupt',
      'inode 12, block 99: extended attribute block: the hash of user.a is wrong (0x0)'],
    ['a value in an EA inode', () => decodeInodeXattrs(inodeWith(one({ valueInum: 77, valueOffs: 0, value: new Uint8Array(0), valueSize: 10, hash: 0 })), 256, W), 'unsupported',
      'inode 12: in-inode extended attributes: user.a has its value in EA inode 77 (ea_inode, an ext4 feature)'],
    ['an unknown name index', () => decodeXattrBlock(blockWith(one({ index: 5 })), WB), 'unsupported',
      'inode 12, block 99: extended attribute block: entry 1 (offset 32) has the unknown name index 5'],
    ['name index 0', () => decodeXattrBlock(blockWith(one({ index: 0 })), WB), 'corrupt',
      'inode 12, block 99: extended attribute block: entry 1 (offset 32) has name index 0 (no namespace)'],
    ['a NUL in a name', () => decodeXattrBlock(blockWith(one({ name: bytes(0x61, 0, 0x62) })), WB), 'corrupt',
      'inode 12, block 99: extended attribute block: entry 1 (offset 32) has a NUL byte in its name'],
    ['a name that is not UTF-8', () => decodeXattrBlock(blockWith(one({ name: bytes(0x61, 0xff) })), WB), 'unsupported',
      'inode 12, block 99: extended attribute block: entry 1 (offset 32) has a name that is not valid UTF-8 (it cannot be shown exactly)'],
    ['an empty user name', () => decodeXattrBlock(blockWith(one({ name: '' })), WB), 'corrupt',
      'inode 12, block 99: extended attribute block: entry 1 (offset 32) has an empty name in namespace user.'],
    ['a name after an ACL', () => decodeXattrBlock(blockWith(one({ index: 2, name: 'x', value: ACCESS_DISK })), WB), 'corrupt',
      "inode 12, block 99: extended attribute block: entry 1 (offset 32) in namespace system.posix_acl_access has a name 'x' (it must be empty)"],
    ['a name twice', () => decodeXattrBlock(blockWith([...one(), ...one()]), WB), 'corrupt',
      'inode 12, block 99: extended attribute block: user.a appears twice'],
    ['a bad block magic', () => decodeXattrBlock(blockWith(one(), { magic: 0x12345678 }), WB), 'corrupt',
      'inode 12, block 99: extended attribute block has a bad magic number 0x12345678'],
    ['the version 1 block magic', () => decodeXattrBlock(blockWith(one(), { magic: 0xea010000 }), WB), 'unsupported',
      'inode 12, block 99: extended attribute block has the old version 1 magic 0xea010000'],
    ['h_blocks 2', () => decodeXattrBlock(blockWith(one(), { blocks: 2 }), WB), 'corrupt',
      'inode 12, block 99: extended attribute block spans 2 blocks (h_blocks must be 1)'],
    ['reference count 0', () => decodeXattrBlock(blockWith(one(), { refcount: 0 }), WB), 'corrupt',
      'inode 12, block 99: extended attribute block has reference count 0'],
    ['a value past the block', () => decodeXattrBlock(blockWith(one({ valueOffs: 1022 })), WB), 'corrupt',
      'inode 12, block 99: extended attribute block: the value of user.a (offset 1022, 5 bytes) lies outside the area'],
    ['a value in the header', () => decodeXattrBlock(blockWith(one({ valueOffs: 8 })), WB), 'corrupt',
      'inode 12, block 99: extended attribute block: the header and the value of user.a overlap'],
    ['an unterminated block (entries up to the end)', () => decodeXattrBlock(blockWith(['a', 'b', 'c'].map((c) => ({ index: 1, name: c.repeat(255), value: new Uint8Array(0) }))
      .concat([{ index: 1, name: 'd'.repeat(160), value: new Uint8Array(0) }])), WB), 'corrupt',
    'inode 12, block 99: extended attribute block: the entry list is not terminated (entry 5 at offset 1024 is past the end)'],
    ['a block of garbage', () => {
      const b = blockWith([]);
      for (let o = 32; o < 1024; o += 4) b.set(le32(0x01010101), o);
      return decodeXattrBlock(b, WB);
    }, 'unsupported', 'inode 12, block 99: extended attribute block: user.\\x01 has its value in EA inode 16843009 (ea_inode, an ext4 feature)'],
    ['a value over the next entry', () => decodeXattrBlock(blockWith([
      { index: 1, name: 'a', value: enc.encode('v'), valueOffs: 52, hash: 0 },
      { index: 1, name: 'b', value: enc.encode('v') },
    ]), WB), 'corrupt', 'inode 12, block 99: extended attribute block: the hash of user.a is wrong (0x0)'],
  ];
  for (const [what, f, code, message] of cases) {
    it(`refuses ${what}`, () => {
      const e = refusal(f);
      expect(e.message).toBe(message);
      expect(e.code).toBe(code);
    });
  }

  it('refuses a value over the next entry (with a right hash)', () => {
    const b = blockWith([{ index: 1, name: 'a', value: enc.encode('v'), valueOffs: 52 }, { index: 1, name: 'b', value: enc.encode('v') }]);
    // The hash of user.a over the bytes that are there now (entry 2's first word).
    b.set(le32(xattrEntryHash(enc.encode('a'), b.subarray(52, 56), false)), 32 + 12);
    const e = refusal(() => decodeXattrBlock(b, WB));
    expect(e.message).toBe('inode 12, block 99: extended attribute block: the value of user.a and entry 2 (offset 52) overlap');
  });

  it('refuses a name in both the inode and its block (shared set of names)', () => {
    const seen = new Set<string>();
    decodeInodeXattrs(inodeWith(one()), 256, W, seen);
    const e = refusal(() => decodeXattrBlock(blockWith(one()), WB, seen));
    expect(e.message).toBe('inode 12, block 99: extended attribute block: user.a appears twice');
  });

  it('never allocates in proportion to a number read from disk (every length field at its maximum)', () => {
    const b = blockWith([{ index: 1, name: 'a', value: new Uint8Array(0), valueSize: 0xffffffff, valueOffs: 0xffff, hash: 0xffffffff }]);
    expect(refusal(() => decodeXattrBlock(b, WB)).code).toBe('corrupt');
    // Random bytes: only Ext2Errors or results, never anything else.
    let seed = 1;
    const rnd = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    for (let n = 0; n < 2000; n++) {
      const blk = blockWith([{ index: 1, name: 'a', value: enc.encode('v') }]);
      const raw = inodeWith([{ index: 1, name: 'a', value: enc.encode('v') }]);
      for (let k = 0; k < 6; k++) {
        blk[32 + (rnd() % 40)] = rnd();
        raw[128 + (rnd() % 60)] = rnd();
      }
      for (const f of [() => decodeXattrBlock(blk, WB), () => decodeInodeXattrs(raw, 256, W)]) {
        try {
          f();
        } catch (e) {
          expect(e).toBeInstanceOf(Ext2Error);
        }
      }
    }
  });
});

describe('inode flags', () => {
  it('has the lsattr letters in lib/e2p/pf.c order', () => {
    expect(LSATTR_FLAGS.map((f) => f.letter).join('')).toBe('suSDiadAcEjItTeCxFNPVm');
    expect(USER_FLAG_LETTERS).toBe('suSDiadAcjtTCxFP');
  });
  it('keeps only the user flags, in lsattr order', () => {
    expect(userFlagLetters(0)).toBe('');
    expect(userFlagLetters(0xffffffff)).toBe('suSDiadAcjtTCxFP');
    expect(flagLetters(0xffffffff)).toBe('suSDiadAcEjItTeCxFNPVm');
    // htree index, extents, inline data, huge file, EA inode, encrypt, verity, no-compress: none kept.
    expect(userFlagLetters(0x1000 | 0x80000 | 0x10000000 | 0x40000 | 0x200000 | 0x800 | 0x100000 | 0x400 | 0x2000)).toBe('');
    expect(userFlagLetters(0x10 | 0x20)).toBe('ia');
    expect(userFlagLetters(0x80 | 0x40 | 0x8 | 0x1000)).toBe('SdA');
  });
});
