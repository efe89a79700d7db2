/**
 * Naming of the entries of one FAT directory: long names (VFAT), 8.3 aliases and the renames
 * needed so that every name can be stored, shown and looked up unambiguously.
 *
 * Everything here is deterministic: the same sequence of `reserve` / `add` calls on a
 * `DirectoryNamer` gives byte-identical results on any machine (no clocks, no randomness; the
 * "random" part of Linux aliases is replaced by a hash of the name).
 *
 * ## Case-insensitive comparison
 * FAT lookups ignore case (Windows: its upcase table; Linux: the iocharset's case tables).
 * We use one simple mapping, {@link foldName}: per code point, ASCII a–z → A–Z; any other BMP
 * character is replaced by `String.prototype.toUpperCase()` of it when that gives exactly one
 * UTF-16 unit (so `é`→`É`, `ı`→`I`, but `ß` stays `ß`); characters outside the BMP are kept as
 * they are (Windows' upcase table only covers the BMP). This errs on the side of treating more
 * names as equal, which at worst costs a harmless extra rename.
 *
 * ## Display of 8.3 names with NT case bits
 * A name that is a valid 8.3 name whose base and extension are each all-uppercase or
 * all-lowercase (characters without case, like `$#%~_0-9`, count as both) is stored without a
 * long name; NT_LOWER_BASE / NT_LOWER_EXT say which part is shown in lowercase. This is Linux'
 * rule (`vfat_create_shortname` with shortname=winnt; the default shortname=mixed *reads* the
 * bits the same way) and Windows NT's. For the rights file `$#%right.$#@`: the base `$#%right`
 * has lowercase letters and no uppercase ones, the extension `$#@` has no letters at all, so the
 * entry is `$#%RIGHT$#@` with NT_LOWER_BASE (0x08) only; Linux and Windows lowercase the base
 * (`$#%` are unaffected) and show the extension as stored, i.e. exactly `$#%right.$#@`.
 * Names with characters ≥ 0x80 always get a long name (like Linux, whose case flags give up on
 * such bytes): how an OEM byte is shown depends on the reader's code page.
 */
import iconv from 'iconv-lite';
import { LFN_CHARS_PER_SLOT, LFN_MAX_UNITS, MAX_DIR_SLOTS, NT_LOWER_BASE, NT_LOWER_EXT } from './constants.js';

export type NameTarget = 'vfat' | 'msdos';

export interface NamerOptions {
  /** vfat: long names + 8.3 aliases; msdos: 8.3 names only. */
  target: NameTarget;
  /** iconv-lite name of the OEM code page used for short names (single-byte, ASCII-compatible). Default 'cp437'. */
  codepage?: string;
  /** How original name bytes are decoded (iconv-lite name). Default 'utf-8'. */
  sourceCharset?: string;
  /**
   * Slots of the directory that are not names planned here: 2 for `.` and `..` in a
   * subdirectory, 0 for the root (1 if the root holds the volume label entry). Default 0.
   * They count against `maxSlots` but not in `slotsUsed`.
   */
  reservedSlots?: number;
  /**
   * The most slots the directory may hold, reserved ones included. Default MAX_DIR_SLOTS (65536).
   * The namer plans names past it too (so that the caller can say how many slots the directory
   * needs): `overLimit` says when it went past.
   */
  maxSlots?: number;
}

export interface PlannedName {
  /** UTF-16 units to store in LFN slots; null when the 8.3 entry alone shows the name exactly. */
  longName: Uint16Array | null;
  /** The name as FAT readers show it (the long name, or 8.3 with NT case bits applied). */
  displayName: string;
  /** 11 bytes, space padded, a valid OEM short name (see {@link isValidShortName}). */
  shortName: Uint8Array;
  /** NT_LOWER_BASE | NT_LOWER_EXT bits, or 0. */
  ntCase: number;
  /** Present when displayName differs from the original name (decoded; bad bytes shown as U+FFFD). */
  rename?: { from: string; reason: string };
}

/** Directory slots a planned name takes: its 8.3 entry plus its long-name slots. */
export function slotsFor(p: PlannedName): number {
  return 1 + (p.longName === null ? 0 : Math.ceil(p.longName.length / LFN_CHARS_PER_SLOT));
}

// ---------------------------------------------------------------------------------------------
// Characters

/** ASCII bytes other than A–Z and 0–9 allowed in short names. */
const SHORT_SPECIALS = "!#$%&'()-@^_`{}~";
const SPACE = 0x20;
const UNDERSCORE = 0x5f;

const isShortAscii = (b: number): boolean =>
  (b >= 0x41 && b <= 0x5a) || (b >= 0x30 && b <= 0x39) || SHORT_SPECIALS.includes(String.fromCharCode(b));

/**
 * ASCII bytes we put into short names ourselves: the legal ones except the apostrophe. `'` is
 * legal (fatgen103, Linux, Windows), but mtools 4.0.32 refuses it when creating a short name (it
 * makes `A'B` a long name with alias `A_B~1`), so, to stay on the safe side, names with `'` get a
 * long name and aliases get `_` for it. {@link isValidShortName} still accepts it.
 */
const isGeneratedAscii = (b: number): boolean => b !== 0x27 && isShortAscii(b);

/** A byte that may appear in a short name's text (space excluded: it is only padding). */
export function isLegalShortNameByte(b: number): boolean {
  return b >= 0x80 ? b <= 0xff : isShortAscii(b);
}

/**
 * An 11-byte short name we accept as valid: base (8) and extension (3), each made of legal bytes
 * followed only by space padding, the base not empty (so the first byte is never 0x20).
 */
export function isValidShortName(name: Uint8Array): boolean {
  if (name.length !== 11) return false;
  const part = (from: number, to: number, allowEmpty: boolean): boolean => {
    let i = from;
    while (i < to && name[i] !== SPACE) {
      if (!isLegalShortNameByte(name[i]!)) return false;
      i++;
    }
    if (i === from && !allowEmpty) return false;
    for (; i < to; i++) if (name[i] !== SPACE) return false;
    return true;
  };
  return part(0, 8, false) && part(8, 11, true);
}

/** Characters not allowed in long names. */
const ILLEGAL_LONG = /[\u0000-\u001f"*/:<>?\\|]/g;
const DEVICE = /^(CON|PRN|AUX|NUL|COM[1-9]|LPT[1-9])(?= *(\.|$))/i;

const upperCache = new Map<number, string>();
/** Simple per-character uppercase (see the module comment). */
function simpleUpper(cp: number, ch: string): string {
  if (cp < 0x80) return cp >= 0x61 && cp <= 0x7a ? String.fromCharCode(cp - 0x20) : ch;
  if (cp > 0xffff) return ch;
  let u = upperCache.get(cp);
  if (u === undefined) {
    const t = ch.toUpperCase();
    u = t.length === 1 ? t : ch;
    upperCache.set(cp, u);
  }
  return u;
}

/** The case-insensitive key of a name: FAT lookups treat names with equal keys as the same. */
export function foldName(name: string): string {
  // ASCII only (most names): the mapping is exactly a–z → A–Z, which toUpperCase does.
  let ascii = true;
  for (let i = 0; i < name.length; i++) {
    if (name.charCodeAt(i) >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) return name.toUpperCase();
  let out = '';
  for (const ch of name) out += simpleUpper(ch.codePointAt(0)!, ch);
  return out;
}

/** Cuts `s` to at most `max` UTF-16 units without splitting a surrogate pair. */
function cutUnits(s: string, max: number): string {
  if (s.length <= max) return s;
  let cut = Math.max(0, max);
  const prev = s.charCodeAt(cut - 1);
  if (cut > 0 && prev >= 0xd800 && prev <= 0xdbff) cut--;
  return s.slice(0, cut);
}

// ---------------------------------------------------------------------------------------------
// Code pages

const normCharset = (s: string): string => s.toLowerCase().replace(/[^a-z0-9]/g, '');

/** An OEM code page for short names: which characters have one exact single byte ≥ 0x80. */
class OemCodePage {
  private readonly bytes = new Map<string, number>();
  /** What each byte shows as (one character per byte). */
  private readonly table: string[];
  constructor(readonly name: string) {
    if (!iconv.encodingExists(name)) throw new Error(`unknown code page for short names: ${name}`);
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const chars = [...iconv.decode(all, name)];
    const ascii = chars.slice(0x20, 0x7f).join('') === all.subarray(0x20, 0x7f).toString('latin1');
    if (chars.length !== 256 || !ascii || chars.slice(0x80).every((c) => c === '\ufffd')) {
      throw new Error(`code page ${name} is not an ASCII-compatible single-byte OEM code page`);
    }
    this.table = chars;
  }
  /** The byte for a non-ASCII character, or -1 when iconv-lite can't map it there and back exactly. */
  byteFor(ch: string): number {
    let b = this.bytes.get(ch);
    if (b === undefined) {
      b = -1;
      if (!/\s/u.test(ch)) {
        const enc = iconv.encode(ch, this.name);
        if (enc.length === 1 && enc[0]! >= 0x80 && iconv.decode(enc, this.name) === ch) b = enc[0]!;
      }
      this.bytes.set(ch, b);
    }
    return b;
  }
  decode(bytes: Uint8Array): string {
    let s = '';
    for (const b of bytes) s += this.table[b]!;
    return s;
  }
}

const codePages = new Map<string, OemCodePage>();
function codePage(name: string): OemCodePage {
  let cp = codePages.get(name);
  if (!cp) codePages.set(name, (cp = new OemCodePage(name)));
  return cp;
}

/**
 * The text an 11-byte short name shows: base and extension without padding, joined by a dot when
 * there is an extension, bytes ≥ 0x80 decoded with `codepage`, NT case bits applied (ASCII letters).
 */
export function shortNameToString(name: Uint8Array, codepage = 'cp437', ntCase = 0): string {
  if (ntCase === 0) {
    // Printable ASCII shows as itself in every accepted code page (checked when one is loaded).
    let baseEnd = 8;
    while (baseEnd > 0 && name[baseEnd - 1] === SPACE) baseEnd--;
    let extEnd = 11;
    while (extEnd > 8 && name[extEnd - 1] === SPACE) extEnd--;
    let plain = true;
    for (let i = 0; i < extEnd && plain; i++) {
      const b = name[i]!;
      if ((i < baseEnd || i >= 8) && (b < 0x20 || b > 0x7e)) plain = false;
    }
    if (plain) {
      const base = latin1(name.subarray(0, baseEnd));
      return extEnd === 8 ? base : `${base}.${latin1(name.subarray(8, extEnd))}`;
    }
  }
  const cp = codePage(codepage);
  const part = (from: number, to: number, lower: boolean): string => {
    let end = to;
    while (end > from && name[end - 1] === SPACE) end--;
    const s = cp.decode(name.subarray(from, end));
    return lower ? s.replace(/[A-Z]+/g, (m) => m.toLowerCase()) : s;
  };
  const base = part(0, 8, (ntCase & NT_LOWER_BASE) !== 0);
  const ext = part(8, 11, (ntCase & NT_LOWER_EXT) !== 0);
  return ext === '' ? base : `${base}.${ext}`;
}

// ---------------------------------------------------------------------------------------------
// Decoding original names

export interface DecodedName {
  /** The name with `_` for each byte not valid in the charset. */
  text: string;
  /** The same with U+FFFD for each bad byte (to show the original in messages). */
  shown: string;
  /** How many bytes were not valid. */
  badBytes: number;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Strict UTF-8 (no overlong forms, no surrogates, ≤ U+10FFFF); every bad byte is one `_`. */
function decodeUtf8(raw: Uint8Array): DecodedName {
  // Valid UTF-8 (nearly every name): the fatal decoder refuses exactly what the loop below replaces.
  try {
    const text = strictUtf8.decode(raw);
    return { text, shown: text, badBytes: 0 };
  } catch {
    // fall through: name the bad bytes one by one
  }
  let text = '';
  let shown = '';
  let bad = 0;
  let i = 0;
  while (i < raw.length) {
    const b = raw[i]!;
    let need = -1;
    let min = 0;
    if (b < 0x80) need = 0;
    else if (b >= 0xc2 && b <= 0xdf) (need = 1), (min = 0x80);
    else if (b >= 0xe0 && b <= 0xef) (need = 2), (min = 0x800);
    else if (b >= 0xf0 && b <= 0xf4) (need = 3), (min = 0x10000);
    let cp = need === 0 ? b : need === 1 ? b & 0x1f : need === 2 ? b & 0x0f : b & 0x07;
    let ok = need >= 0;
    for (let k = 1; ok && k <= need; k++) {
      const c = raw[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) ok = false;
      else cp = (cp << 6) | (c & 0x3f);
    }
    if (ok && (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))) ok = false;
    if (ok) {
      const s = String.fromCodePoint(cp);
      text += s;
      shown += s;
      i += need + 1;
    } else {
      text += '_';
      shown += '\ufffd';
      bad++;
      i++;
    }
  }
  return { text, shown, badBytes: bad };
}

/** Any other iconv-lite charset: the longest run that round-trips exactly, else one byte at a time. */
function decodeWithIconv(raw: Uint8Array, charset: string): DecodedName {
  const buf = Buffer.from(raw);
  const whole = iconv.decode(buf, charset);
  if (!whole.includes('\ufffd') && iconv.encode(whole, charset).equals(buf)) return { text: whole, shown: whole, badBytes: 0 };
  let text = '';
  let shown = '';
  let bad = 0;
  let i = 0;
  while (i < buf.length) {
    let taken = 0;
    for (let len = 1; len <= 4 && i + len <= buf.length; len++) {
      const slice = buf.subarray(i, i + len);
      const s = iconv.decode(slice, charset);
      if (s.length > 0 && !s.includes('\ufffd') && [...s].length === 1 && iconv.encode(s, charset).equals(slice)) {
        text += s;
        shown += s;
        taken = len;
        break;
      }
    }
    if (taken === 0) {
      text += '_';
      shown += '\ufffd';
      bad++;
      taken = 1;
    }
    i += taken;
  }
  return { text, shown, badBytes: bad };
}

/** Decodes original name bytes with `charset`; bytes not valid in it become `_` each. */
export function decodeSourceName(raw: Uint8Array, charset = 'utf-8'): DecodedName {
  if (normCharset(charset) === 'utf8') return decodeUtf8(raw);
  return decodeWithIconv(raw, charset);
}

// ---------------------------------------------------------------------------------------------
// 8.3 forms

const isSkip = (ch: string): boolean => ch === '.' || ch === ' ';

/**
 * The exact 8.3 form of `name` when it is one: ASCII short-name characters only (no `'`), base 1–8,
 * optional `.` + extension 1–3, each part all one case. Returns the 11 bytes and NT case bits.
 */
function exact83(name: string): { short: Uint8Array; ntCase: number } | null {
  const dot = name.indexOf('.');
  const base = dot < 0 ? name : name.slice(0, dot);
  const ext = dot < 0 ? '' : name.slice(dot + 1);
  if (base.length < 1 || base.length > 8 || ext.length > 3 || (dot >= 0 && ext.length === 0)) return null;
  const short = new Uint8Array(11).fill(SPACE);
  let ntCase = 0;
  const fill = (s: string, at: number, lowerBit: number): boolean => {
    let lower = false;
    let upper = false;
    for (let i = 0; i < s.length; i++) {
      let c = s.charCodeAt(i);
      if (c >= 0x61 && c <= 0x7a) (lower = true), (c -= 0x20);
      else if (c >= 0x41 && c <= 0x5a) upper = true;
      else if (!isGeneratedAscii(c)) return false;
      short[at + i] = c;
    }
    if (lower && upper) return false;
    if (lower) ntCase |= lowerBit;
    return true;
  };
  if (!fill(base, 0, NT_LOWER_BASE) || !fill(ext, 8, NT_LOWER_EXT)) return null;
  return { short, ntCase };
}

/**
 * The Linux-style basis of an alias: the extension is what follows the last dot (unless only
 * dots and spaces precede it, as in `.bashrc`), dots and spaces are dropped, characters are
 * uppercased, ASCII ones outside the short-name set and non-ASCII ones without an exact byte in
 * the code page become `_`. `lossless` is true when the name *is* an 8.3 name apart from case.
 */
function aliasBasis(name: string, cp: OemCodePage): { base: number[]; ext: number[]; lossless: boolean } {
  let lossless = true;
  let baseText = name;
  let extText = '';
  const dot = name.lastIndexOf('.');
  if (dot >= 0 && dot < name.length - 1) {
    let start = 0;
    while (start < dot && isSkip(name[start]!)) start++;
    if (start !== dot) {
      baseText = name.slice(0, dot);
      extText = name.slice(dot + 1);
    }
  }
  const convert = (s: string, max: number): number[] => {
    const out: number[] = [];
    for (const ch of s) {
      if (isSkip(ch)) {
        lossless = false;
        continue;
      }
      const code = ch.codePointAt(0)!;
      let b: number;
      if (code < 0x80) {
        const u = simpleUpper(code, ch).charCodeAt(0);
        b = isGeneratedAscii(u) ? u : UNDERSCORE;
      } else {
        const u = simpleUpper(code, ch);
        const uc = u.codePointAt(0)!;
        b = uc >= 0x80 && u.toUpperCase() === u ? cp.byteFor(u) : -1;
        if (b < 0) b = UNDERSCORE;
      }
      if (b === UNDERSCORE && ch !== '_') lossless = false;
      if (out.length < max) out.push(b);
      else lossless = false;
    }
    return out;
  };
  const base = convert(baseText, 8);
  const ext = convert(extText, 3);
  if (base.length === 0) {
    base.push(UNDERSCORE);
    lossless = false;
  }
  return { base, ext, lossless };
}

/*
 * While an alias is searched, short names are handled as 11-character latin1 strings (one char per
 * byte): the candidates are many and strings are what the sets hold; bytes are made once, at the end.
 */

/** Bytes (each < 256) as a latin1 string. */
const latin1 = (bytes: ArrayLike<number>): string => {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!);
  return s;
};

/** The 11-character short name of a base and an extension (cut to 8 and 3, space padded). */
const shortText = (base: string, ext: string): string => base.slice(0, 8).padEnd(8, ' ') + ext.slice(0, 3).padEnd(3, ' ');

/** What a short name shows (no case bits), straight from its text when that is printable ASCII; else null. */
const shortTextToString = (text: string): string | null => {
  for (let i = 0; i < 11; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return null;
  }
  let baseEnd = 8;
  while (baseEnd > 0 && text.charCodeAt(baseEnd - 1) === SPACE) baseEnd--;
  let extEnd = 11;
  while (extEnd > 8 && text.charCodeAt(extEnd - 1) === SPACE) extEnd--;
  return extEnd === 8 ? text.slice(0, baseEnd) : `${text.slice(0, baseEnd)}.${text.slice(8, extEnd)}`;
};

const shortBytes = (text: string): Uint8Array => {
  const s = new Uint8Array(11);
  for (let i = 0; i < 11; i++) s[i] = text.charCodeAt(i);
  return s;
};

/** FNV-1a over the UTF-16 units: the deterministic stand-in for Linux' jiffies. */
function hashUnits(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

const shortKey = (s: Uint8Array): string => latin1(s);

// ---------------------------------------------------------------------------------------------
// The namer

interface Candidate {
  longName: Uint16Array | null;
  displayName: string;
  shortName: Uint8Array;
  ntCase: number;
}

/**
 * Plans the names of one directory's entries, in the order they will be written.
 *
 * Rename scheme (each step only when needed, reasons collected in `rename.reason`):
 * bad source bytes → `_` each; characters illegal in long names (U+0000–U+001F, `"*\/:<>?\\|`)
 * → `_`; a device name (CON PRN AUX NUL COM1–9 LPT1–9, any case, before the first dot or spaces)
 * gets `_` appended (`con.txt` → `con_.txt`); names over 255 UTF-16 units are cut (keeping the
 * last extension when at least one base unit remains, never splitting a surrogate pair);
 * trailing dots and spaces → `_` each; a name equal without case ({@link foldName}) to a name
 * or 8.3 alias already in the directory gets ` (2)`, ` (3)`… before its extension.
 * msdos target: after the first steps, a name that is not a valid 8.3 name of the kind above
 * (or whose 8.3 name is taken) is replaced by a generated 8.3 alias, shown uppercase.
 */
export class DirectoryNamer {
  private readonly target: NameTarget;
  private readonly cp: OemCodePage;
  private readonly sourceCharset: string;
  private readonly maxSlots: number;
  /** Slots not planned here (`.`/`..`, a volume label). */
  readonly reservedSlots: number;
  /** Folded display names and folded alias texts of all entries so far. */
  private readonly taken = new Set<string>();
  /** 11-byte short names so far (as latin1 strings). */
  private readonly shorts = new Set<string>();
  /** Per alias basis (6 base bytes + extension): the first `~n` tail not known to be taken. */
  private readonly tildeFrom = new Map<string, number>();
  private used = 0;

  /**
   * @param options naming options (`reservedSlots` / `maxSlots` may be given here or in `limits`)
   * @param dirPath the directory's path, used in error messages
   * @param limits slot limits, overriding those in `options`: `reservedSlots` = 2 for `.`/`..` in a
   *   subdirectory, 0 for the root (1 with a volume label); `maxSlots` default 65536.
   */
  constructor(
    options: NamerOptions,
    readonly dirPath: string,
    limits: { reservedSlots?: number; maxSlots?: number } = {},
  ) {
    this.target = options.target;
    if (this.target !== 'vfat' && this.target !== 'msdos') throw new Error(`unknown FAT name target: ${String(options.target)}`);
    this.cp = codePage(options.codepage ?? 'cp437');
    this.sourceCharset = options.sourceCharset ?? 'utf-8';
    if (normCharset(this.sourceCharset) !== 'utf8' && !iconv.encodingExists(this.sourceCharset)) {
      throw new Error(`unknown source charset for names: ${this.sourceCharset}`);
    }
    this.reservedSlots = limits.reservedSlots ?? options.reservedSlots ?? 0;
    this.maxSlots = limits.maxSlots ?? options.maxSlots ?? MAX_DIR_SLOTS;
    if (!Number.isInteger(this.reservedSlots) || this.reservedSlots < 0 || this.reservedSlots > this.maxSlots) {
      throw new Error(`bad reservedSlots ${this.reservedSlots} for directory ${dirPath}`);
    }
  }

  /** Whether the directory needs more slots than `maxSlots` (FAT cannot hold it). */
  get overLimit(): boolean {
    return this.reservedSlots + this.used > this.maxSlots;
  }

  /** Directory slots used so far by planned names (LFN slots + 8.3 entries), reserved slots not included. */
  get slotsUsed(): number {
    return this.used;
  }

  /** A name we create ourselves (e.g. the rights file), planned before the original names. */
  reserve(name: string): PlannedName {
    return this.plan(name, name, []);
  }

  /** An original name, as raw bytes from the source filesystem (decoded with `sourceCharset`). */
  add(raw: Uint8Array): PlannedName {
    const d = decodeSourceName(raw, this.sourceCharset);
    const reasons = d.badBytes > 0 ? [`${d.badBytes} byte(s) not valid ${this.sourceCharset} replaced by _`] : [];
    return this.plan(d.text, d.shown, reasons);
  }

  private plan(text: string, shown: string, reasons: string[]): PlannedName {
    let name = text;
    if (name.length === 0) {
      name = '_';
      reasons.push('empty name');
    }
    const cleaned = name.replace(ILLEGAL_LONG, '_');
    if (cleaned !== name) {
      reasons.push('characters not allowed in FAT names replaced by _');
      name = cleaned;
    }
    const dev = DEVICE.exec(name);
    if (dev) {
      name = `${name.slice(0, dev[1]!.length)}_${name.slice(dev[1]!.length)}`;
      reasons.push(`reserved device name ${dev[1]!.toUpperCase()}`);
    }
    if (name.length > LFN_MAX_UNITS) {
      const dot = name.lastIndexOf('.');
      const ext = dot > 0 && name.length - dot < LFN_MAX_UNITS ? name.slice(dot) : '';
      const base = cutUnits(ext ? name.slice(0, dot) : name, LFN_MAX_UNITS - ext.length);
      name = base + ext;
      reasons.push(`longer than ${LFN_MAX_UNITS} UTF-16 units`);
    }
    const trail = /[. ]+$/.exec(name);
    if (trail) {
      name = name.slice(0, trail.index) + '_'.repeat(trail[0].length);
      reasons.push('trailing dots/spaces replaced by _ (Linux and Windows drop them)');
    }

    const c = this.target === 'msdos' ? this.planMsdos(name, reasons) : this.planVfat(name, reasons);

    const need = 1 + (c.longName === null ? 0 : Math.ceil(c.longName.length / LFN_CHARS_PER_SLOT));
    this.used += need;
    this.taken.add(foldName(c.displayName));
    this.taken.add(foldName(shortNameToString(c.shortName, this.cp.name)));
    this.shorts.add(shortKey(c.shortName));

    const planned: PlannedName = { longName: c.longName, displayName: c.displayName, shortName: c.shortName, ntCase: c.ntCase };
    if (c.displayName !== shown) planned.rename = { from: shown, reason: reasons.length ? reasons.join('; ') : 'changed' };
    return planned;
  }

  private planVfat(name: string, reasons: string[]): Candidate {
    if (this.taken.has(foldName(name))) {
      name = this.variant(name);
      reasons.push('name already used in this directory (FAT ignores case)');
    }
    const exact = exact83(name);
    if (exact && !this.shorts.has(shortKey(exact.short))) {
      return { longName: null, displayName: name, shortName: exact.short, ntCase: exact.ntCase };
    }
    const units = new Uint16Array(name.length);
    for (let i = 0; i < name.length; i++) units[i] = name.charCodeAt(i);
    return { longName: units, displayName: name, shortName: this.alias(name), ntCase: 0 };
  }

  private planMsdos(name: string, reasons: string[]): Candidate {
    const exact = exact83(name);
    if (exact && !this.shorts.has(shortKey(exact.short)) && !this.taken.has(foldName(name))) {
      return { longName: null, displayName: name, shortName: exact.short, ntCase: exact.ntCase };
    }
    const short = this.alias(name);
    reasons.push(exact ? '8.3 name already used in this directory' : 'not a valid 8.3 name');
    return { longName: null, displayName: shortNameToString(short, this.cp.name), shortName: short, ntCase: 0 };
  }

  /** `name (n)` before the extension, for the smallest n ≥ 2 that is free; kept within 255 units. */
  private variant(name: string): string {
    const dot = name.lastIndexOf('.');
    for (let n = 2; ; n++) {
      const suffix = ` (${n})`;
      let base = dot > 0 ? name.slice(0, dot) : name;
      let ext = dot > 0 ? name.slice(dot) : '';
      if (LFN_MAX_UNITS - ext.length - suffix.length < 1) {
        base = name;
        ext = '';
      }
      const cand = cutUnits(base, LFN_MAX_UNITS - ext.length - suffix.length) + suffix + ext;
      if (!this.taken.has(foldName(cand))) return cand;
    }
  }

  /** A short name for `name` not used in the directory, Linux style. */
  private alias(name: string): Uint8Array {
    const own = foldName(name);
    const free = (text: string): boolean => {
      if (this.shorts.has(text)) return false;
      const f = foldName(shortTextToString(text) ?? shortNameToString(shortBytes(text), this.cp.name));
      return f === own || !this.taken.has(f);
    };
    const { base, ext, lossless } = aliasBasis(name, this.cp);
    const extText = latin1(ext);
    if (lossless) {
      const s = shortText(latin1(base), extText);
      if (free(s)) return shortBytes(s);
    }
    // `~1`…`~9`: short names only ever get added, so the tails below the first one not yet taken
    // stay taken; starting there gives the same alias without retrying them (many similar names).
    const b6 = latin1(base.slice(0, 6));
    const tildeKey = `${b6}/${extText}`; // '/' never occurs in an alias basis
    let first = this.tildeFrom.get(tildeKey) ?? 1;
    while (first <= 9 && this.shorts.has(shortText(`${b6}~${first}`, extText))) first++;
    this.tildeFrom.set(tildeKey, first);
    for (let i = first; i <= 9; i++) {
      const s = shortText(`${b6}~${i}`, extText);
      if (free(s)) return shortBytes(s);
    }
    const b2 = latin1(base.slice(0, 2));
    const h = hashUnits(name);
    for (let tail = 1; tail <= 9; tail++) {
      let x = (h ^ (h >>> 16)) & 0xffff;
      for (let k = 0; k < 0x10000; k++) {
        const hex = x.toString(16).toUpperCase().padStart(4, '0');
        const s = shortText(`${b2}${hex}~${tail}`, extText);
        if (free(s)) return shortBytes(s);
        x = (x - 11) & 0xffff;
      }
    }
    throw new Error(`directory ${this.dirPath}: no free 8.3 alias for "${name}"`);
  }
}
