/**
 * The option values of the command line, checked once before anything is opened: each function
 * takes what yargs parsed (a string, a number, an array when the option was given twice, or
 * undefined) and returns the value the commands get, or throws an OptionError: a usage mistake
 * (exit 2), said in one line that names the option and what it takes. What is accepted is what
 * the code downstream handles correctly, tested through that code where it can be (the short-name
 * code page and the source charset are tried on @fsconv/fat's own namer functions).
 */
import { decodeSourceName, parseTimeZone, shortNameToString } from '@fsconv/fat';

/** A mistake in an option's value or in a combination of options: exit 2, this message in one line. */
export class OptionError extends Error {}

const quote = (v: unknown): string => `'${String(v)}'`;

/** The one value of an option (yargs gives an array for an option given more than once). */
function single(option: string, v: unknown): unknown {
  if (Array.isArray(v)) throw new OptionError(`${option}: given ${v.length} times (${v.map(quote).join(', ')}): give it once`);
  return v;
}

// ------------------------------------------------------------------------------------------------
// --tz

const TZ_ACCEPTED = 'give UTC, local, an IANA zone such as Europe/Paris, or an offset such as +02:00 or -05:00 within ±14:00';

/**
 * --tz: 'UTC' (also 'Z'), 'local', an IANA zone Intl knows (Europe/Paris, America/New_York), or an
 * offset ±HH:MM (also ±HHMM, ±H:MM, ±HH) within ±14:00, the range of real zones. Returns what
 * parseTimeZone takes: 'UTC', 'local', the zone as written, or the offset as ±HH:MM.
 */
export function parseTz(value: unknown, option = '--tz'): string {
  const v = single(option, value);
  const refuse = (why = 'is not a time zone'): never => {
    throw new OptionError(`${option}: ${quote(v)} ${why}: ${TZ_ACCEPTED}`);
  };
  if (typeof v !== 'string' || v === '') return refuse();
  if (/^(utc|z)$/i.test(v)) return 'UTC';
  if (/^local$/i.test(v)) return 'local';
  const m = /^([+-])(\d{1,2})(?::?(\d{2}))?$/.exec(v);
  if (m) {
    const hours = Number(m[2]);
    const minutes = Number(m[3] ?? 0);
    if (minutes > 59) return refuse('is not an offset (minutes go up to 59)');
    if (hours * 60 + minutes > 14 * 60) return refuse('is beyond the offsets of real time zones');
    const text = `${m[1]}${String(hours).padStart(2, '0')}:${String(minutes).padStart(2, '0')}`;
    parseTimeZone(text);
    return text;
  }
  if (/^[+-]/.test(v) || !isIanaZone(v)) return refuse();
  try {
    parseTimeZone(v);
  } catch {
    return refuse();
  }
  return v;
}

function isIanaZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

/**
 * yargs reads a value that starts with '-' as options of its own (`--tz -05:00` became the unknown
 * options 0 and 5): such a value after --tz is joined to it (`--tz=-05:00`), up to a `--`.
 */
export function joinDashValues(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const next = argv[i + 1];
    if (a === '--tz' && next !== undefined && /^-\d/.test(next)) {
      out.push(`--tz=${next}`);
      i++;
    } else {
      out.push(a);
    }
  }
  return out;
}

/** The options that take a value (with their short aliases). */
export const VALUE_OPTIONS: readonly string[] = [
  '--from', '--to', '--output', '-o', '--size', '--fat-bits', '--cluster-size', '--root-entries', '--label', '--volume-id',
  '--codepage', '--source-charset', '--tz', '--partition-table', '--partition',
];

/**
 * An option that takes a value given none (last, or followed by another option) is refused: yargs
 * would quietly use its default (`--tz` alone meant local) or an empty string (`--label` alone
 * meant no label), or read a value starting with '-' as options (`--label -X-`). Run after
 * joinDashValues; a value that looks like a negative number is left to the option's check.
 */
export function refuseMissingValues(argv: readonly string[], options: readonly string[] = VALUE_OPTIONS): void {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') return;
    if (!options.includes(a)) continue;
    const next = argv[i + 1];
    if (next === undefined || (next.startsWith('-') && !/^-\d/.test(next))) {
      throw new OptionError(`${a}: needs a value${next === undefined ? '' : ` (a value starting with - is written ${a}=${next})`}`);
    }
    i++;
  }
}

// ------------------------------------------------------------------------------------------------
// --codepage

/** DOS/Windows OEM code pages (the ones FAT short names are written in); those the namer can use are offered. */
const OEM_PAGES = [437, 720, 737, 775, 850, 852, 855, 857, 858, 860, 861, 862, 863, 864, 865, 866, 869, 874];
/** Double-byte OEM pages (Japanese, Chinese, Korean): the short-name code writes one byte per character. */
const DBCS_PAGES = [932, 936, 949, 950];

/** Whether the FAT short-name code takes `name` (it builds its table of the page and refuses what is not single-byte and ASCII-compatible). */
function namerTakes(name: string): boolean {
  try {
    shortNameToString(Uint8Array.of(0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x20, 0x20, 0x20), name);
    return true;
  } catch {
    return false;
  }
}

let usablePages: string[] | undefined;
/** The OEM code pages --codepage takes, as cpNNN. */
export function acceptedCodepages(): string[] {
  usablePages ??= OEM_PAGES.map((n) => `cp${n}`).filter(namerTakes);
  return usablePages;
}

/**
 * --codepage: a single-byte DOS OEM code page (cp437, cp850, …; also written 437, CP437, IBM437).
 * Returns it as cpNNN. Double-byte pages (cp932, …) and non-OEM charsets are refused: short names
 * are written one byte per character.
 */
export function parseCodepage(value: unknown): string {
  const v = single('--codepage', value);
  const list = acceptedCodepages();
  const m = typeof v === 'string' ? /^(?:cp|ibm)?[-_ ]?0*(\d{3,4})$/i.exec(v) : null;
  const name = m ? `cp${m[1]}` : undefined;
  if (name !== undefined && list.includes(name)) return name;
  const offer = `give one of ${list.map((p) => (p === 'cp437' ? 'cp437 (the default)' : p)).join(', ')}`;
  if (m && DBCS_PAGES.includes(Number(m[1]))) {
    throw new OptionError(`--codepage: ${quote(v)} is a double-byte code page, and short names are written one byte per character: ${offer}`);
  }
  throw new OptionError(`--codepage: ${quote(v)} is not a single-byte OEM code page short names can be written in: ${offer}`);
}

// ------------------------------------------------------------------------------------------------
// --source-charset

const CHARSET_OFFER = 'give utf-8 (the default) or another charset that keeps ASCII as it is, such as latin1, cp1252, iso-8859-15, koi8-r, shift_jis, gbk, euc-kr or big5';

/**
 * --source-charset: an encoding iconv-lite knows (utf-8 through the namer's own decoder) in which
 * the bytes 0x00–0x7F are the ASCII characters, alone and in a row, so names are decoded byte-wise
 * as the namer does: UTF-8, single-byte and multi-byte ASCII supersets. UTF-16/32, UCS-2, UTF-7,
 * base64 and hex are refused. Tried by decoding with the namer's decodeSourceName.
 */
export function parseSourceCharset(value: unknown): string {
  const v = single('--source-charset', value);
  if (typeof v !== 'string' || v.trim() === '') throw new OptionError(`--source-charset: ${quote(v)} is not a character set: ${CHARSET_OFFER}`);
  const ascii = Uint8Array.from({ length: 128 }, (_, i) => i);
  const same = (bytes: Uint8Array): boolean => {
    const d = decodeSourceName(bytes, v);
    return d.badBytes === 0 && d.text === String.fromCharCode(...bytes);
  };
  let keepsAscii: boolean;
  try {
    keepsAscii = same(ascii) && same(new TextEncoder().encode('Read me.txt')) && [...ascii].every((b) => same(Uint8Array.of(b)));
  } catch {
    throw new OptionError(`--source-charset: ${quote(v)} is not a character set fsconv knows: ${CHARSET_OFFER}`);
  }
  if (!keepsAscii) {
    throw new OptionError(`--source-charset: ${quote(v)} does not keep ASCII bytes as ASCII, so names cannot be decoded byte by byte: ${CHARSET_OFFER}`);
  }
  return v;
}

// ------------------------------------------------------------------------------------------------
// --volume-id, --cluster-size, --size

/** --volume-id: exactly 8 hex digits, optionally as XXXX-XXXX (any case). Returns the 32-bit number. */
export function parseVolumeId(value: unknown): number {
  const v = single('--volume-id', value);
  if (typeof v !== 'string' || !/^(?:[0-9a-f]{8}|[0-9a-f]{4}-[0-9a-f]{4})$/i.test(v)) {
    throw new OptionError(`--volume-id: ${quote(v)} is not a volume serial number: give 8 hex digits, as 1234ABCD or 1234-ABCD`);
  }
  return Number.parseInt(v.replace('-', ''), 16) >>> 0;
}

/** The volume ID as the commands take it (8 hex digits). */
export const volumeIdText = (id: number): string => id.toString(16).toUpperCase().padStart(8, '0');

/**
 * --cluster-size: a power of two from 512 to 65536 bytes (what the FAT geometry code takes; at
 * least the sector size, which the plan checks), in bytes or K: 4096, 4K, 4KiB.
 */
export function parseClusterSize(value: unknown): number {
  const v = single('--cluster-size', value);
  const m = /^(\d+)\s*(k|kib)?$/i.exec(String(v ?? '').trim());
  const n = m ? Number(m[1]) * (m[2] ? 1024 : 1) : NaN;
  if (!Number.isSafeInteger(n) || n < 512 || n > 65536 || (n & (n - 1)) !== 0) {
    throw new OptionError(`--cluster-size: ${quote(v)} is not a cluster size: give a power of two from 512 to 65536 bytes, as 4096 or 4K`);
  }
  return n;
}

/** --size: bytes, or a number with K, M, G or T (binary units; KiB/KB too), above zero. Returned as written (the commands read it). */
export function parseSize(value: unknown): string {
  const v = single('--size', value);
  const m = typeof v === 'string' || typeof v === 'number' ? /^(\d+)([KMGT]?)(i?B)?$/i.exec(String(v).trim()) : null;
  if (!m || !Number.isSafeInteger(Number(m[1])) || Number(m[1]) === 0) {
    throw new OptionError(`--size: ${quote(v)} is not a size: give bytes or a number with K, M, G or T (binary units), as 1440K or 2G`);
  }
  return String(v);
}

// ------------------------------------------------------------------------------------------------
// --label

/** Characters FAT takes in a volume label (as in short names: no . " * + , / : ; < = > ? [ \ ] |), ASCII only. */
const LABEL_CHARS = /^[A-Z0-9 !#$%&'()\-@^_`{}~]*$/;
const LABEL_OFFER = "give at most 11 of A-Z, 0-9, space and ! # $ % & ' ( ) - @ ^ _ ` { } ~ (or '' for none)";

export interface LabelChoice {
  /** The label as FAT stores it ('' for none). */
  label: string;
  /** When that differs from what was given: the one line saying so. */
  note: string | null;
}

/**
 * --label: what FAT holds as a volume label: at most 11 characters of A–Z, 0–9, space and
 * ! # $ % & ' ( ) - @ ^ _ ` { } ~ (ASCII, so one byte each in every accepted code page). Lower-case
 * letters are accepted and stored upper case, as Windows and the FAT code do, with a note; trailing
 * spaces are FAT's padding. '' (or only spaces) gives no label. Anything else is refused rather than
 * replaced.
 */
export function parseLabel(value: unknown): LabelChoice {
  const v = single('--label', value);
  if (typeof v !== 'string') throw new OptionError(`--label: ${quote(v)} is not a label: ${LABEL_OFFER}`);
  const upper = v.replace(/[a-z]+/g, (s) => s.toUpperCase());
  const bad = [...upper].filter((c) => !LABEL_CHARS.test(c));
  if (bad.length > 0) {
    const shown = [...new Set(bad)].map((c) => (/^[\x21-\x7e]$/.test(c) ? c : `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`)).join(' ');
    throw new OptionError(`--label: ${quote(v)} has characters a FAT label cannot hold (${shown}): ${LABEL_OFFER}`);
  }
  const label = upper.replace(/ +$/, '');
  if (label.length > 11) throw new OptionError(`--label: ${quote(v)} is ${label.length} characters; FAT labels hold 11: ${LABEL_OFFER}`);
  if (label === 'NO NAME') throw new OptionError(`--label: ${quote(v)} is what FAT readers show for no label: give --label '' for none, or another label`);
  const note = label === v ? null : `note: --label ${quote(v)} is stored as ${label === '' ? 'no label' : quote(label)} ` +
    (upper !== v ? '(FAT keeps volume labels in upper case, as Windows does)' : '(trailing spaces are FAT\'s padding)');
  return { label, note };
}

// ------------------------------------------------------------------------------------------------
// --root-entries, --partition

/** --root-entries: a whole number the BPB can hold (its 16-bit field, whole 512-byte sectors of entries). */
export function parseRootEntries(value: unknown): number | undefined {
  const v = single('--root-entries', value);
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 16 || v > 65520) throw new OptionError(`--root-entries must be a whole number from 16 to 65520, not '${String(v)}'`);
  return v;
}

/** --partition: a partition number as Linux counts them (1..4 primary, 5.. logical; GPT entries). */
export function parsePartition(value: unknown): number | undefined {
  const v = single('--partition', value);
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 4096) throw new OptionError(`--partition must be a partition number (1, 2, …), not '${String(v)}'`);
  return v;
}

// ------------------------------------------------------------------------------------------------
// combinations

export interface ModeOptions {
  from: 'ext2' | 'dir' | 'vfat+rights';
  output?: string | undefined;
  size?: unknown;
  partitionTable?: unknown;
  force?: boolean;
  yes?: boolean;
  keepPartitionType?: boolean;
  partition?: unknown;
  rootEntries?: unknown;
  fatBits?: unknown;
}

/**
 * Options the chosen mode would ignore are refused. In place (no --output): --size, --partition-table,
 * --force and --from dir. With --output: --keep-partition-type and --yes (nothing is asked). With
 * --from dir: --partition (a directory has none), and --size is needed. --root-entries with
 * --fat-bits 32 (FAT32 has no fixed root).
 */
export function checkMode(o: ModeOptions): void {
  const inPlace = o.output === undefined;
  if (inPlace) {
    if (o.from === 'dir') throw new OptionError('--from dir: only with --output OUT.img (a directory is converted into a new image, not in place)');
    if (o.from === 'vfat+rights') throw new OptionError('--from vfat+rights: only with --output OUT.img (a FAT volume is rebuilt into a new image; in place it is not converted)');
    if (o.size !== undefined) throw new OptionError('--size: only with --output (a new image); in place the FAT takes the whole ext2 device');
    if (o.partitionTable !== undefined) throw new OptionError('--partition-table: only with --output (a new disk image); in place the device keeps its own layout');
    if (o.force === true) throw new OptionError('--force: only with --output (to replace an existing file or overwrite a block device); in place it changes nothing');
  } else {
    if (o.keepPartitionType === true) throw new OptionError('--keep-partition-type: only in place in a partition (without --output); a new image has its own table');
    if (o.yes === true) throw new OptionError('--yes: only in place (it skips the question there); with --output nothing is asked');
  }
  if (o.from === 'dir') {
    if (o.partition !== undefined) throw new OptionError('--partition: not with --from dir (a directory has no partitions)');
    if (!inPlace && o.size === undefined) throw new OptionError('--size: needed with --from dir (a directory has no size of its own), as --size 64M');
  }
  if (o.fatBits === 32 && o.rootEntries !== undefined) throw new OptionError('--root-entries: FAT32 has no fixed root directory: leave it out with --fat-bits 32');
}
