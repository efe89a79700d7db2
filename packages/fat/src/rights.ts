/**
 * The rights file `$#%right.$#@` kept in every directory of a converted volume: what FAT cannot hold
 * (original names, owners, modes, exact times, symlinks, devices, link counts, hard-link groups),
 * one record per entry plus one (`.`) for the directory itself. Pure codec: bytes in, bytes out.
 *
 * The format (docs/rights-file.md) is 7-bit ASCII text, one record per line:
 *
 *   fsconv-rights 1.0
 *   name=README.TXT orig=readme.txt type=file mode=100644 uid=0 gid=0 nlink=1 atime=… mtime=… ctime=…
 *   end records=1 crc32=1234abcd
 *
 * Fields are `key=value`, separated by one space; bytes outside 0x21..0x7E and `%` are written
 * `%XX`. Unknown keys are skipped (forward compatibility within a major version); the end line
 * carries the record count and a CRC-32 of everything before it, so truncation and corruption are
 * refused rather than read as fewer or wrong records.
 */
import { crc32, FsconvError, type FileType, type Timestamp, type Xattr } from '@fsconv/base';
import { LFN_MAX_UNITS, RIGHTS_FILE_NAME } from './constants.js';

/** Major version written. A reader refuses majors it does not know (this one reads 1 and 2). */
export const RIGHTS_FORMAT_VERSION = 2;
/** Every major version this reader decodes. */
export const RIGHTS_FORMAT_VERSIONS_READ: readonly number[] = [1, 2];
/** Minor version written; readers of the same major accept any minor (unknown fields skipped). */
export const RIGHTS_FORMAT_MINOR = 0;
/** First word of the header line. */
export const RIGHTS_MAGIC = 'fsconv-rights';
/** The `fatName` of the record describing the directory itself. */
export const RIGHTS_SELF_NAME = '.';

/** The type of the entry a record describes (the Unix file types). */
export type RightsType = FileType;

/** A timestamp: `sec + nsec / 1e9` seconds since the epoch (sec may be negative). */
export type RightsTime = Timestamp;

export interface RightsRecord {
  /** The name of the entry in this FAT directory (its long name, or its displayed 8.3 name); `.` for the directory itself. */
  fatName: string;
  /** The original name, raw bytes (1..255, no '/' or NUL); in the `.` record, the directory's own name (0..255, empty for the root). */
  originalName: Uint8Array;
  type: RightsType;
  /** The full st_mode (type bits included, 16 bits). */
  mode: number;
  uid: number;
  gid: number;
  atime: RightsTime;
  mtime: RightsTime;
  ctime: RightsTime;
  /** The original link count. */
  nlink: number;
  /** Equal for every name of one hard-linked inode across the volume (not for directories). */
  linkGroup?: number;
  /** Symlinks only (required there): the raw target bytes. */
  target?: Uint8Array;
  /** Character and block devices only (required there): [major, minor]. */
  rdev?: [number, number];
  /** Extended attributes, in order (v2): full names and raw values. */
  xattrs?: RightsXattr[];
  /** Inode flags as lsattr letters (v2), e.g. "ia". */
  flags?: string;
  /**
   * What the entry's FAT directory entry held when the record was written (v2; required there on
   * every record but '.'), so a reader can tell whether the volume changed it since.
   */
  fat?: FatSnapshot;
}

/** An extended attribute: its name ("user.comment", "system.posix_acl_access", …: 1..255 bytes of UTF-8, no NUL) and raw value. */
export type RightsXattr = Xattr;

/** The fields of a FAT short entry that change when the volume is used. */
export interface FatSnapshot {
  cluster: number;
  size: number;
  writeDate: number;
  writeTime: number;
  /** The attribute byte, archive bit included (readers ignore that one: backup tools clear it). */
  attr: number;
  /** The 11 bytes of the 8.3 name as stored. */
  shortName: Uint8Array;
}

/** Every refusal of the codec: one line naming what is wrong and where. */
export class RightsFileError extends FsconvError<'rights-file'> {
  override readonly name = 'RightsFileError';
  constructor(
    message: string,
    /** 1-based record number (the header is line 1, record 1 is line 2), when the error is in a record. */
    readonly record?: number,
    /** Byte offset in the file (decoding only). */
    readonly offset?: number,
  ) {
    super('rights-file', message);
  }
}

/** st_mode type bits of each type. */
export const RIGHTS_TYPE_BITS: Readonly<Record<RightsType, number>> = {
  file: 0o100000,
  dir: 0o040000,
  symlink: 0o120000,
  fifo: 0o010000,
  char: 0o020000,
  block: 0o060000,
  socket: 0o140000,
};
const S_IFMT = 0o170000;
const MAX_MODE = 0o177777;
const MAX_U32 = 0xffffffff;
/** Seconds range: ±2^34 (ext4's extended epoch reaches 2446; 2^34 leaves room both ways). */
export const RIGHTS_MAX_SEC = 2 ** 34;
export const RIGHTS_MIN_SEC = -(2 ** 34);
const MAX_NAME_BYTES = 255;
const MAX_TARGET_BYTES = 65535;
/** An xattr value fits in one filesystem block (64 KiB at most on ext2/3/4). */
export const RIGHTS_MAX_XATTR_VALUE = 65536;
/** Per record: more than any ext2 block (or inode) can hold. */
export const RIGHTS_MAX_XATTRS = 4096;
const MAX_XATTR_NAME = 255;
/** lsattr's letters (e2fsprogs lib/e2p/pf.c), the only ones a `flags` field may hold. */
export const RIGHTS_FLAG_LETTERS = 'suSDiadAcEjItTeCxFNPVmh';

// ------------------------------------------------------------------------------------------------
// shared helpers
// ------------------------------------------------------------------------------------------------

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** `%XX` for bytes outside 0x21..0x7E and for '%' itself; the byte as a character otherwise. */
const ESCAPED: readonly string[] = Array.from({ length: 256 }, (_, b) =>
  b >= 0x21 && b <= 0x7e && b !== 0x25 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`,
);

const asciiDecoder = new TextDecoder('utf-8', { ignoreBOM: true });

function escapeBytes(bytes: Uint8Array): string {
  let i = 0;
  for (; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b < 0x21 || b > 0x7e || b === 0x25) break;
  }
  if (i === bytes.length) return asciiDecoder.decode(bytes); // nothing to escape
  const parts: string[] = [asciiDecoder.decode(bytes.subarray(0, i))];
  for (; i < bytes.length; i++) parts.push(ESCAPED[bytes[i]!]!);
  return parts.join('');
}

/** A string made only of characters that stand for themselves (no escaping needed). */
const PLAIN = /^[\x21-\x24\x26-\x7e]*$/;
/** With the u flag, a surrogate range matches only unpaired surrogates. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

function escapeName(name: string): string {
  return PLAIN.test(name) ? name : escapeBytes(utf8Encoder.encode(name));
}

/** Maps ASCII a-z to A-Z and nothing else (FAT's case rules beyond ASCII differ between systems). */
function foldAscii(s: string): string {
  if (!/[a-z]/.test(s)) return s;
  // eslint-disable-next-line no-control-regex
  return /^[\x00-\x7f]*$/.test(s) ? s.toUpperCase() : s.replace(/[a-z]+/g, (m) => m.toUpperCase());
}
const FOLDED_RIGHTS_FILE_NAME = foldAscii(RIGHTS_FILE_NAME);

/** For messages: short, one line, printable (anything else escaped as in the file). */
function show(s: string, max = 48): string {
  const p = /^[\x20-\x7e]*$/.test(s) ? s : escapeName(s);
  return p.length > max ? `${p.slice(0, max)}...` : p;
}

const hex8 = (n: number): string => n.toString(16).padStart(8, '0');
const pad9 = (n: number): string => String(n).padStart(9, '0');

/** The value `sec + nsec/1e9` as an exact decimal with 9 fraction digits ("-0.500000000" for sec -1, nsec 5e8). */
function formatTime(t: RightsTime): string {
  if (t.sec >= 0 || t.nsec === 0) return `${t.sec}.${pad9(t.nsec)}`;
  return `-${-t.sec - 1}.${pad9(1e9 - t.nsec)}`;
}

const isU32 = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= MAX_U32;

// ------------------------------------------------------------------------------------------------
// record validation (shared by the encoder and the decoder)
// ------------------------------------------------------------------------------------------------

/** Throws through `fail` (field, message) when a record breaks a rule of the format. */
function validateRecord(r: RightsRecord, fail: (field: string, msg: string) => never): void {
  // fatName
  const name = r.fatName as unknown;
  if (typeof name !== 'string' || name.length === 0) fail('name', 'is empty or not a string');
  if (name.length > LFN_MAX_UNITS) fail('name', `is ${name.length} UTF-16 units long (at most ${LFN_MAX_UNITS})`);
  if (LONE_SURROGATE.test(name)) fail('name', 'contains an unpaired surrogate');
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f"*/:<>?\\|]/.test(name)) fail('name', `'${show(escapeName(name))}' contains a character FAT does not allow (control, " * / : < > ? \\ |)`);
  if (name === '..') fail('name', "'..' has no record (the parent describes itself)");
  if (foldAscii(name) === FOLDED_RIGHTS_FILE_NAME) fail('name', `'${show(escapeName(name))}' is the rights file's own name`);
  const self = name === RIGHTS_SELF_NAME;

  // originalName
  const orig = r.originalName as unknown;
  if (!(orig instanceof Uint8Array)) fail('orig', 'is not a Uint8Array');
  // The '.' record holds the directory's own original name (empty for the root); others 1..255 bytes.
  if ((orig.length === 0 && !self) || orig.length > MAX_NAME_BYTES) {
    fail('orig', `is ${orig.length} bytes long (${self ? 0 : 1}..${MAX_NAME_BYTES})`);
  }
  if (orig.includes(0x2f)) fail('orig', "contains '/'");
  if (orig.includes(0x00)) fail('orig', 'contains a NUL byte');
  if (orig.length > 0 && orig.length <= 2 && orig.every((b) => b === 0x2e)) fail('orig', `'${escapeBytes(orig)}' is not a name`);

  // type and mode
  const type = r.type as unknown;
  if (typeof type !== 'string' || !Object.prototype.hasOwnProperty.call(RIGHTS_TYPE_BITS, type)) {
    fail('type', `'${show(String(type))}' is not one of ${Object.keys(RIGHTS_TYPE_BITS).join(', ')}`);
  }
  const t = type as RightsType;
  if (self && t !== 'dir') fail('type', "must be 'dir' in the record named '.'");
  const mode = r.mode as unknown;
  if (typeof mode !== 'number' || !Number.isInteger(mode) || mode < 0 || mode > MAX_MODE) fail('mode', `${String(mode)} is not an integer in 0..0o${MAX_MODE.toString(8)}`);
  if ((mode & S_IFMT) !== RIGHTS_TYPE_BITS[t]) {
    fail('mode', `${mode.toString(8)} has type bits ${(mode & S_IFMT).toString(8).padStart(6, '0')}, not those of ${t} (${RIGHTS_TYPE_BITS[t].toString(8).padStart(6, '0')})`);
  }

  // numbers
  for (const k of ['uid', 'gid'] as const) if (!isU32(r[k])) fail(k, `${String(r[k])} is not an integer in 0..${MAX_U32}`);
  if (!isU32(r.nlink) || r.nlink === 0) fail('nlink', `${String(r.nlink)} is not an integer in 1..${MAX_U32}`);
  for (const k of ['atime', 'mtime', 'ctime'] as const) {
    const v = r[k] as unknown as { sec?: unknown; nsec?: unknown } | undefined;
    if (typeof v !== 'object' || v === null) fail(k, 'is not a {sec, nsec} object');
    const { sec, nsec } = v;
    if (typeof sec !== 'number' || !Number.isInteger(sec) || sec < RIGHTS_MIN_SEC || sec > RIGHTS_MAX_SEC) {
      fail(k, `sec ${String(sec)} is not an integer in -2^34..2^34`);
    }
    if (typeof nsec !== 'number' || !Number.isInteger(nsec) || nsec < 0 || nsec > 999_999_999) fail(k, `nsec ${String(nsec)} is not an integer in 0..999999999`);
  }

  // type-dependent fields
  if (r.linkGroup !== undefined) {
    if (!isU32(r.linkGroup)) fail('link', `${String(r.linkGroup)} is not an integer in 0..${MAX_U32}`);
    if (t === 'dir') fail('link', 'is not allowed on a directory');
  }
  if (t === 'symlink') {
    const target = r.target as unknown;
    if (target === undefined) fail('target', 'is missing (required for a symlink)');
    if (!(target instanceof Uint8Array)) fail('target', 'is not a Uint8Array');
    if (target.length === 0 || target.length > MAX_TARGET_BYTES) fail('target', `is ${target.length} bytes long (1..${MAX_TARGET_BYTES})`);
    if (target.includes(0x00)) fail('target', 'contains a NUL byte');
  } else if (r.target !== undefined) {
    fail('target', `is only allowed on a symlink, not on a ${t}`);
  }
  if (t === 'char' || t === 'block') {
    const rdev = r.rdev as unknown;
    if (rdev === undefined) fail('rdev', `is missing (required for a ${t} device)`);
    if (!Array.isArray(rdev) || rdev.length !== 2 || !isU32(rdev[0]) || !isU32(rdev[1])) {
      fail('rdev', `must be [major, minor], each an integer in 0..${MAX_U32}`);
    }
  } else if (r.rdev !== undefined) {
    fail('rdev', `is only allowed on a char or block device, not on a ${t}`);
  }

  // v2 fields
  if (r.flags !== undefined) {
    const f = r.flags as unknown;
    if (typeof f !== 'string' || f.length === 0) fail('flags', 'is empty or not a string');
    for (let i = 0; i < f.length; i++) {
      if (!RIGHTS_FLAG_LETTERS.includes(f[i]!)) fail('flags', `'${show(f)}': '${show(f[i]!)}' is not an lsattr letter (${RIGHTS_FLAG_LETTERS})`);
      if (f.indexOf(f[i]!) !== i) fail('flags', `'${show(f)}' has '${f[i]}' twice`);
    }
  }
  if (r.xattrs !== undefined) {
    const xs = r.xattrs as unknown;
    if (!Array.isArray(xs)) fail('xattr', 'is not a list');
    if (xs.length > RIGHTS_MAX_XATTRS) fail('xattr', `${xs.length} extended attributes (at most ${RIGHTS_MAX_XATTRS})`);
    const names = new Set<string>();
    xs.forEach((x: RightsXattr, i) => {
      const key = `xattr${i}`;
      if (typeof x !== 'object' || x === null || typeof x.name !== 'string' || !(x.value instanceof Uint8Array)) fail(key, 'is not {name, value}');
      const nameBytes = utf8Encoder.encode(x.name);
      if (nameBytes.length === 0 || nameBytes.length > MAX_XATTR_NAME) fail(key, `name is ${nameBytes.length} bytes long (1..${MAX_XATTR_NAME})`);
      if (nameBytes.includes(0) || LONE_SURROGATE.test(x.name)) fail(key, `name '${show(x.name)}' holds a NUL or an unpaired surrogate`);
      if (names.has(x.name)) fail(key, `name '${show(x.name)}' appears twice`);
      names.add(x.name);
      if (x.value.length > RIGHTS_MAX_XATTR_VALUE) fail(key, `value of '${show(x.name)}' is ${x.value.length} bytes (at most ${RIGHTS_MAX_XATTR_VALUE})`);
    });
  }
  if (r.fat !== undefined) {
    if (self) fail('fat', "is not allowed in the record named '.' (the directory's entry is in its parent)");
    const f = r.fat as unknown as FatSnapshot;
    if (typeof f !== 'object' || f === null) fail('fat', 'is not an object');
    if (!isU32(f.cluster) || f.cluster > 0x0fffffff) fail('fat', `cluster ${String(f.cluster)} is not in 0..0x0fffffff`);
    if (!isU32(f.size)) fail('fat', `size ${String(f.size)} is not in 0..${MAX_U32}`);
    for (const k of ['writeDate', 'writeTime'] as const) if (!isU32(f[k]) || f[k] > 0xffff) fail('fat', `${k} ${String(f[k])} is not in 0..0xffff`);
    if (!isU32(f.attr) || f.attr > 0xff) fail('fat', `attr ${String(f.attr)} is not in 0..0xff`);
    if (!(f.shortName instanceof Uint8Array) || f.shortName.length !== 11) fail('fat', 'short name is not 11 bytes');
  }
}

const hex = (n: number, digits: number): string => n.toString(16).padStart(digits, '0');

/** The `fat` value: fixed width (8:8:8:2:11 bytes escaped), so a record's length does not depend on where the entry lies. */
function formatSnapshot(f: FatSnapshot): string {
  return `${hex(f.cluster, 8)}:${hex(f.size, 8)}:${hex(f.writeDate, 4)}${hex(f.writeTime, 4)}:${hex(f.attr, 2)}:${escapeBytes(f.shortName)}`;
}

/** An xattr's `NAME=VALUE`: the name escaped with '=' too (%3D), the value escaped as bytes. */
function formatXattr(x: RightsXattr): string {
  return `${escapeBytes(utf8Encoder.encode(x.name)).replace(/=/g, '%3D')}=${escapeBytes(x.value)}`;
}

/**
 * Remembers the names of one directory: duplicate names (exact, or ignoring ASCII case) and
 * duplicate original names are refused. `escOrig` is the canonical escaped form of the original name.
 */
class NameIndex {
  private readonly names = new Map<string, number>();
  private readonly origs = new Map<string, number>();
  check(fatName: string, escOrig: string, n: number, fail: (field: string, msg: string) => never): void {
    const folded = foldAscii(fatName);
    const prev = this.names.get(folded);
    if (prev !== undefined) {
      fail('name', `'${show(escapeName(fatName))}' duplicates the name of record ${prev}${folded === fatName ? '' : ' (ignoring ASCII case)'}`);
    }
    this.names.set(folded, n);
    if (fatName === RIGHTS_SELF_NAME) return; // its orig is the directory's own name, not a sibling's
    const prevOrig = this.origs.get(escOrig);
    if (prevOrig !== undefined) fail('orig', `'${show(escOrig)}' duplicates the original name of record ${prevOrig}`);
    this.origs.set(escOrig, n);
  }
}

// ------------------------------------------------------------------------------------------------
// encoding
// ------------------------------------------------------------------------------------------------

/**
 * Encodes the records of one directory, in the order given (the same records in the same order give
 * the same bytes). Refuses (RightsFileError) any record the decoder would refuse.
 */
export function encodeRightsFile(records: readonly RightsRecord[]): Uint8Array {
  const index = new NameIndex();
  const lines: string[] = [`${RIGHTS_MAGIC} ${RIGHTS_FORMAT_VERSION}.${RIGHTS_FORMAT_MINOR}\n`];
  records.forEach((r, i) => {
    const n = i + 1;
    const fail = (field: string, msg: string): never => {
      const label = typeof r?.fatName === 'string' ? ` (name=${show(escapeName(r.fatName))})` : '';
      throw new RightsFileError(`rights record ${n}${label}: ${field}: ${msg}`, n);
    };
    if (typeof r !== 'object' || r === null) fail('record', 'is not an object');
    validateRecord(r, fail);
    const escOrig = escapeBytes(r.originalName);
    index.check(r.fatName, escOrig, n, fail);
    let line =
      `name=${escapeName(r.fatName)} orig=${escOrig} type=${r.type} mode=${r.mode.toString(8)}` +
      ` uid=${r.uid} gid=${r.gid} nlink=${r.nlink}`;
    if (r.linkGroup !== undefined) line += ` link=${r.linkGroup}`;
    line += ` atime=${formatTime(r.atime)} mtime=${formatTime(r.mtime)} ctime=${formatTime(r.ctime)}`;
    if (r.rdev !== undefined) line += ` rdev=${r.rdev[0]}:${r.rdev[1]}`;
    if (r.target !== undefined) line += ` target=${escapeBytes(r.target)}`;
    if (r.flags !== undefined) line += ` flags=${r.flags}`;
    r.xattrs?.forEach((x, j) => {
      line += ` xattr${j}=${formatXattr(x)}`;
    });
    if (r.fat !== undefined) line += ` fat=${formatSnapshot(r.fat)}`;
    else if (r.fatName !== RIGHTS_SELF_NAME) fail('fat', `is missing (required in version ${RIGHTS_FORMAT_VERSION} on every record but '.')`);
    lines.push(line + '\n');
  });
  const body = utf8Encoder.encode(lines.join(''));
  const end = utf8Encoder.encode(`end records=${records.length} crc32=${hex8(crc32(body))}\n`);
  const out = new Uint8Array(body.length + end.length);
  out.set(body, 0);
  out.set(end, body.length);
  return out;
}

// ------------------------------------------------------------------------------------------------
// decoding
// ------------------------------------------------------------------------------------------------

type Fail = (msg: string, offset: number) => never;

const KEY = /^[a-z][a-z0-9_-]{0,31}$/;
const HEX = /^[0-9A-Fa-f]{2}$/;
const TIME = /^(-?)(0|[1-9][0-9]{0,10})\.([0-9]{9})$/;
const TYPES = new Set(Object.keys(RIGHTS_TYPE_BITS));
const REQUIRED = ['name', 'orig', 'type', 'mode', 'uid', 'gid', 'nlink', 'atime', 'mtime', 'ctime'] as const;
const KNOWN = new Set<string>([...REQUIRED, 'link', 'rdev', 'target']);
/** Fields version 2 adds (in version 1 files they are unknown fields, skipped). */
const KNOWN_V2 = new Set<string>(['flags', 'fat']);
const XATTR_KEY = /^xattr(0|[1-9][0-9]{0,3})$/;
const SNAPSHOT = /^([0-9a-f]{8}):([0-9a-f]{8}):([0-9a-f]{4})([0-9a-f]{4}):([0-9a-f]{2}):(.+)$/;

/** Percent-decodes a value (the caller guarantees it holds only 0x21..0x7E). */
function unescapeValue(v: string, at: number, key: string, fail: Fail): Uint8Array {
  let escapes = 0;
  for (let i = v.indexOf('%'); i >= 0; i = v.indexOf('%', i + 1)) escapes++;
  const out = new Uint8Array(v.length - 2 * escapes);
  let o = 0;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c !== 0x25) {
      out[o++] = c;
      continue;
    }
    const hex = v.slice(i + 1, i + 3);
    if (!HEX.test(hex)) fail(`${key}: bad escape '%${hex}' (want % and two hex digits)`, at + i);
    out[o++] = parseInt(hex, 16);
    i += 2;
  }
  return out;
}

function parseDecimal(v: string, max: number, key: string, at: number, fail: Fail): number {
  let digitsOnly = v.length > 0;
  for (let i = 0; i < v.length && digitsOnly; i++) digitsOnly = v.charCodeAt(i) >= 0x30 && v.charCodeAt(i) <= 0x39;
  if (!digitsOnly) fail(`${key}: '${show(v)}' is not a decimal number`, at);
  const digits = max === MAX_U32 ? 10 : String(max).length;
  if (v.length > digits) fail(`${key}: '${show(v)}' is too long (at most ${digits} digits, at most ${max})`, at);
  if (v.length > 1 && v[0] === '0') fail(`${key}: '${v}' has a leading zero`, at);
  const n = Number(v);
  if (n > max) fail(`${key}: ${v} is out of range 0..${max}`, at);
  return n;
}

function parseTime(v: string, key: string, at: number, fail: Fail): RightsTime {
  const m = TIME.exec(v);
  if (!m) fail(`${key}: '${show(v)}' is not a time (SECONDS.NNNNNNNNN: optional '-', at most 11 digits, no leading zero, exactly 9 after '.')`, at);
  const neg = m[1] === '-';
  const whole = Number(m[2]);
  const frac = Number(m[3]);
  let t: RightsTime;
  if (!neg) t = { sec: whole, nsec: frac };
  else if (frac === 0) {
    if (whole === 0) fail(`${key}: '${v}' is a negative zero (write 0.000000000)`, at);
    t = { sec: -whole, nsec: 0 };
  } else t = { sec: -whole - 1, nsec: 1e9 - frac };
  if (t.sec < RIGHTS_MIN_SEC || t.sec > RIGHTS_MAX_SEC) fail(`${key}: ${v} is out of range -2^34..2^34 seconds`, at);
  return t;
}

/**
 * Decodes a rights file. Strict: anything malformed is a RightsFileError naming the record, line and
 * byte offset. Linear in the input; allocates only in proportion to the input.
 */
export function decodeRightsFile(bytes: Uint8Array): RightsRecord[] {
  const lineOf = (offset: number): number => {
    let line = 1;
    for (let i = 0; i < offset && i < bytes.length; i++) if (bytes[i] === 0x0a) line++;
    return line;
  };
  // Where: the header is line 1, record n is line n+1, the end line is last.
  let endLine = 0;
  const fail: Fail = (msg, offset) => {
    const line = lineOf(offset);
    const where =
      offset >= bytes.length ? `end of file (line ${line}, byte ${offset})`
      : line === 1 ? `header (byte ${offset})`
      : line === endLine ? `end line (line ${line}, byte ${offset})`
      : `record ${line - 1} (line ${line}, byte ${offset})`;
    throw new RightsFileError(`rights file: ${where}: ${msg}`, line > 1 && line !== endLine ? line - 1 : undefined, offset);
  };

  // 1. The magic, before anything else, so that a file of another kind gets a plain answer.
  const magic = `${RIGHTS_MAGIC} `;
  if (bytes.length === 0) throw new RightsFileError('rights file: empty (not a rights file)', undefined, 0);
  for (let i = 0; i < magic.length; i++) {
    if (bytes[i] !== magic.charCodeAt(i)) {
      throw new RightsFileError(`rights file: not a rights file (does not start with '${RIGHTS_MAGIC} ')`, undefined, 0);
    }
  }
  // 2. The header line, and its major version before anything else: a later major may change
  //    everything after it. "fsconv-rights MAJOR.MINOR" [SP key=value]... LF
  const checkAscii = (from: number, to: number): void => {
    for (let i = from; i < to; i++) {
      const b = bytes[i]!;
      if ((b < 0x20 || b > 0x7e) && b !== 0x0a) fail(`byte 0x${b.toString(16).padStart(2, '0')} is not printable ASCII or LF`, i);
    }
  };
  const headerEnd = bytes.indexOf(0x0a);
  if (headerEnd < 0) fail('truncated: the header has no LF (and no end line)', 0);
  checkAscii(0, headerEnd);
  const header = utf8Decoder.decode(bytes.subarray(0, headerEnd)).split(' ');
  const version = header[1] ?? '';
  const vm = /^(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})$/.exec(version);
  if (!vm) fail(`bad version '${show(version)}' (want MAJOR.MINOR, e.g. ${RIGHTS_FORMAT_VERSION}.${RIGHTS_FORMAT_MINOR})`, magic.length);
  const major = Number(vm[1]);
  if (!RIGHTS_FORMAT_VERSIONS_READ.includes(major)) {
    fail(`unsupported rights file version ${version}: this reader knows major versions ${RIGHTS_FORMAT_VERSIONS_READ.join(' and ')} only`, magic.length);
  }
  {
    let at = magic.length + version.length + 1;
    const seen = new Set<string>();
    for (const token of header.slice(2)) {
      const key = checkToken(token, at, fail);
      const value = token.slice(key.length + 1);
      if (seen.has(key)) fail(`field '${key}' appears twice`, at);
      seen.add(key);
      checkUnknownValue(key, value, at + key.length + 1, fail);
      at += token.length + 1;
    }
  }

  // 3. The rest: only printable ASCII and LF, and the last byte is LF.
  checkAscii(headerEnd, bytes.length);
  if (bytes[bytes.length - 1] !== 0x0a) fail('truncated: the last line has no LF (and no end line)', bytes.lastIndexOf(0x0a) + 1);
  const text = utf8Decoder.decode(bytes); // ASCII only: string index = byte offset
  let pos = headerEnd + 1;

  // 4. Records, up to the end line.
  const records: RightsRecord[] = [];
  const index = new NameIndex();
  for (;;) {
    if (pos >= text.length) fail('truncated: no end line', text.length);
    const lf = text.indexOf('\n', pos);
    const line = text.slice(pos, lf);
    if (line === 'end' || line.startsWith('end ')) {
      endLine = records.length + 2;
      if (lf + 1 !== text.length) fail(`data after the end line (from byte ${lf + 1})`, pos);
      const m = /^end records=(0|[1-9][0-9]{0,9}) crc32=([0-9a-f]{8})$/.exec(line);
      if (!m) fail(`malformed end line '${show(line)}' (want 'end records=N crc32=xxxxxxxx', lowercase hex)`, pos);
      if (Number(m[1]) !== records.length) fail(`says ${m[1]} records, the file has ${records.length} (truncated or damaged)`, pos);
      const crc = crc32(bytes, 0, pos);
      if (m[2] !== hex8(crc)) fail(`CRC-32 mismatch: the end line says ${m[2]}, the content has ${hex8(crc)} (damaged)`, pos);
      return records;
    }
    records.push(decodeRecord(line, pos, records.length + 1, index, fail, major));
    pos = lf + 1;
  }
}

/** Checks the syntax of one `key=value` token; returns its key. Duplicate keys are the caller's. */
function checkToken(token: string, at: number, fail: Fail): string {
  if (token.length === 0) fail('empty field (two spaces in a row, or a space at the start or end of the line)', at);
  const eq = token.indexOf('=');
  if (eq < 0) fail(`field '${show(token)}' has no '='`, at);
  const key = token.slice(0, eq);
  if (!hasOwn(KEY_BIT, key) && !KEY.test(key)) fail(`bad field name '${show(key)}' (want a-z, then a-z 0-9 _ -, at most 32)`, at);
  return key;
}
const hasOwn = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

/** An unknown field is skipped, but its escapes must still be well formed. */
function checkUnknownValue(key: string, value: string, at: number, fail: Fail): void {
  for (let i = value.indexOf('%'); i >= 0; i = value.indexOf('%', i + 3)) {
    if (!HEX.test(value.slice(i + 1, i + 3))) fail(`${key}: bad escape '${show(value.slice(i, i + 3))}' (want % and two hex digits)`, at + i);
  }
}

/** Bit of each known key, to find duplicates without a set per record. */
const KEY_BIT: Readonly<Record<string, number>> = Object.fromEntries([...KNOWN, ...KNOWN_V2].map((k, i) => [k, 1 << i]));

/** Byte offset of field `key`'s value in a record line that starts at `start` (for messages). */
function valueOffset(line: string, start: number, key: string): number {
  if (line.startsWith(`${key}=`)) return start + key.length + 1;
  const i = line.indexOf(` ${key}=`); // values hold no spaces: this is a field boundary
  return i < 0 ? start : start + i + key.length + 2;
}

function decodeRecord(line: string, start: number, n: number, index: NameIndex, fail: Fail, major: number): RightsRecord {
  if (line.length === 0) fail('empty line', start);
  let seen = 0;
  let unknown: Set<string> | undefined;
  const r: Partial<RightsRecord> = {};
  let escOrig = '';
  let at = start;
  for (const token of line.split(' ')) {
    const key = checkToken(token, at, fail);
    const v = token.slice(key.length + 1);
    const vat = at + key.length + 1;
    const v2 = major >= 2;
    const known = hasOwn(KEY_BIT, key) && (v2 || !KNOWN_V2.has(key));
    const bit = known ? KEY_BIT[key]! : 0;
    const xattrIndex = v2 ? XATTR_KEY.exec(key) : null;
    if (v2 && xattrIndex === null && /^xattr[0-9]+$/.test(key)) fail(`field '${key}': an xattr index has no leading zero and at most 4 digits`, at);
    if (xattrIndex !== null) {
      // xattr0, xattr1, …: in order, so a duplicate or a gap is an error.
      const i = Number(xattrIndex[1]);
      r.xattrs ??= [];
      if (i !== r.xattrs.length) fail(`field '${key}' out of order (expected xattr${r.xattrs.length})`, at);
      if (i >= RIGHTS_MAX_XATTRS) fail(`${key}: more than ${RIGHTS_MAX_XATTRS} extended attributes`, at);
      const eq = v.indexOf('=');
      if (eq <= 0) fail(`${key}: '${show(v)}' is not NAME=VALUE`, vat);
      const nameBytes = unescapeValue(v.slice(0, eq), vat, key, fail);
      let name = '';
      try {
        name = utf8Decoder.decode(nameBytes);
      } catch {
        fail(`${key}: the name is not valid UTF-8`, vat);
      }
      r.xattrs.push({ name, value: unescapeValue(v.slice(eq + 1), vat + eq + 1, key, fail) });
    } else if (bit !== 0) {
      if (seen & bit) fail(`field '${key}' appears twice`, at);
      seen |= bit;
    } else {
      unknown ??= new Set();
      if (unknown.has(key)) fail(`field '${key}' appears twice`, at);
      unknown.add(key);
    }
    switch (key) {
      case 'name': {
        if (v.length === 0) fail('name: empty', vat);
        if (!v.includes('%')) r.fatName = v;
        else {
          const b = unescapeValue(v, vat, key, fail);
          try {
            r.fatName = utf8Decoder.decode(b);
          } catch {
            fail(`name: '${show(v)}' is not valid UTF-8`, vat);
          }
        }
        break;
      }
      case 'orig':
        r.originalName = unescapeValue(v, vat, key, fail);
        escOrig = v.includes('%') ? escapeBytes(r.originalName) : v;
        break;
      case 'type':
        if (!TYPES.has(v)) fail(`type: '${show(v)}' is not one of ${[...TYPES].join(', ')}`, vat);
        r.type = v as RightsType;
        break;
      case 'mode':
        if (!/^[0-7]+$/.test(v)) fail(`mode: '${show(v)}' is not an octal number`, vat);
        if (v.length > 6) fail(`mode: '${show(v)}' is too long (at most 6 octal digits, at most 177777)`, vat);
        if (v.length > 1 && v[0] === '0') fail(`mode: '${v}' has a leading zero`, vat);
        r.mode = parseInt(v, 8);
        if (r.mode > MAX_MODE) fail(`mode: ${v} is out of range 0..177777`, vat);
        break;
      case 'uid':
      case 'gid':
        r[key] = parseDecimal(v, MAX_U32, key, vat, fail);
        break;
      case 'nlink':
        r.nlink = parseDecimal(v, MAX_U32, key, vat, fail);
        if (r.nlink === 0) fail('nlink: 0 (a name counts as one link)', vat);
        break;
      case 'link':
        r.linkGroup = parseDecimal(v, MAX_U32, key, vat, fail);
        break;
      case 'atime':
      case 'mtime':
      case 'ctime':
        r[key] = parseTime(v, key, vat, fail);
        break;
      case 'rdev': {
        const m = /^([0-9]+):([0-9]+)$/.exec(v);
        if (!m) fail(`rdev: '${show(v)}' is not MAJOR:MINOR`, vat);
        r.rdev = [parseDecimal(m[1]!, MAX_U32, 'rdev major', vat, fail), parseDecimal(m[2]!, MAX_U32, 'rdev minor', vat + m[1]!.length + 1, fail)];
        break;
      }
      case 'target':
        r.target = unescapeValue(v, vat, key, fail);
        break;
      case 'flags':
        if (!known) checkUnknownValue(key, v, vat, fail);
        else r.flags = v;
        break;
      case 'fat': {
        if (!known) {
          checkUnknownValue(key, v, vat, fail);
          break;
        }
        const m = SNAPSHOT.exec(v);
        if (!m) fail(`fat: '${show(v)}' is not CLUSTER:SIZE:DATETIME:ATTR:SHORTNAME (8, 8, 8 and 2 lowercase hex digits, 11 bytes)`, vat);
        const shortName = unescapeValue(m[6]!, vat + v.length - m[6]!.length, key, fail);
        if (shortName.length !== 11) fail(`fat: the short name is ${shortName.length} bytes, not 11`, vat);
        r.fat = {
          cluster: parseInt(m[1]!, 16), size: parseInt(m[2]!, 16), writeDate: parseInt(m[3]!, 16), writeTime: parseInt(m[4]!, 16),
          attr: parseInt(m[5]!, 16), shortName,
        };
        break;
      }
      default:
        if (xattrIndex !== null) break;
        checkUnknownValue(key, v, vat, fail); // then skipped
        break;
    }
    at += token.length + 1;
  }
  for (const k of REQUIRED) if (!(seen & KEY_BIT[k]!)) fail(`missing field '${k}'`, start);
  const rec: RightsRecord = {
    fatName: r.fatName!,
    originalName: r.originalName!,
    type: r.type!,
    mode: r.mode!,
    uid: r.uid!,
    gid: r.gid!,
    atime: r.atime!,
    mtime: r.mtime!,
    ctime: r.ctime!,
    nlink: r.nlink!,
  };
  if (r.linkGroup !== undefined) rec.linkGroup = r.linkGroup;
  if (r.target !== undefined) rec.target = r.target;
  if (r.rdev !== undefined) rec.rdev = r.rdev;
  if (r.flags !== undefined) rec.flags = r.flags;
  if (r.xattrs !== undefined) rec.xattrs = r.xattrs;
  if (r.fat !== undefined) rec.fat = r.fat;
  if (major >= 2 && rec.fat === undefined && rec.fatName !== RIGHTS_SELF_NAME) fail(`missing field 'fat' (required in version ${major} on every record but '.')`, start);
  const failField = (field: string, msg: string): never => fail(`${field}: ${msg}`, valueOffset(line, start, field));
  validateRecord(rec, failField);
  index.check(rec.fatName, escOrig, n, failField);
  return rec;
}
