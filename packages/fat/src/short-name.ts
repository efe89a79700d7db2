/**
 * 8.3 short names: which bytes are legal, the exact 8.3 form of a name (with NT case bits), the
 * basis of a generated alias, the 11-byte text form used while aliases are searched, and how a
 * stored short name is shown.
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
import { NT_LOWER_BASE, NT_LOWER_EXT } from './constants.js';
import { simpleUpper } from './case-fold.js';
import { codePage, type OemCodePage } from './code-page.js';

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

const isSkip = (ch: string): boolean => ch === '.' || ch === ' ';

/**
 * The exact 8.3 form of `name` when it is one: ASCII short-name characters only (no `'`), base 1–8,
 * optional `.` + extension 1–3, each part all one case. Returns the 11 bytes and NT case bits.
 */
export function exact83(name: string): { short: Uint8Array; ntCase: number } | null {
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
export function aliasBasis(name: string, cp: OemCodePage): { base: number[]; ext: number[]; lossless: boolean } {
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
export const latin1 = (bytes: ArrayLike<number>): string => {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!);
  return s;
};

/** The 11-character short name of a base and an extension (cut to 8 and 3, space padded). */
export const shortText = (base: string, ext: string): string => base.slice(0, 8).padEnd(8, ' ') + ext.slice(0, 3).padEnd(3, ' ');

/** What a short name shows (no case bits), straight from its text when that is printable ASCII; else null. */
export const shortTextToString = (text: string): string | null => {
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

export const shortBytes = (text: string): Uint8Array => {
  const s = new Uint8Array(11);
  for (let i = 0; i < 11; i++) s[i] = text.charCodeAt(i);
  return s;
};

/** A short name as a key of the sets of short names taken (its latin1 text). */
export const shortKey = (s: Uint8Array): string => latin1(s);
