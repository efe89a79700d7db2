/**
 * The naming of one FAT directory's entries: long names (VFAT), 8.3 aliases and the renames
 * needed so that every name can be stored, shown and looked up unambiguously; collisions within
 * the directory and the slots its names take.
 *
 * Everything here is deterministic: the same sequence of `reserve` / `add` calls on a
 * `DirectoryNamer` gives byte-identical results on any machine (no clocks, no randomness; the
 * "random" part of Linux aliases is replaced by a hash of the name).
 */
import { LFN_CHARS_PER_SLOT, LFN_MAX_UNITS, MAX_DIR_SLOTS } from './constants.js';
import { foldName } from './case-fold.js';
import { codePage, type OemCodePage } from './code-page.js';
import {
  aliasBasis, exact83, latin1, shortBytes, shortKey, shortNameToString, shortText, shortTextToString,
} from './short-name.js';
import { decodeSourceName, isKnownSourceCharset } from './source-name.js';

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

/** Characters not allowed in long names. */
const ILLEGAL_LONG = /[\u0000-\u001f"*/:<>?\\|]/g;
const DEVICE = /^(CON|PRN|AUX|NUL|COM[1-9]|LPT[1-9])(?= *(\.|$))/i;

/** Cuts `s` to at most `max` UTF-16 units without splitting a surrogate pair. */
function cutUnits(s: string, max: number): string {
  if (s.length <= max) return s;
  let cut = Math.max(0, max);
  const prev = s.charCodeAt(cut - 1);
  if (cut > 0 && prev >= 0xd800 && prev <= 0xdbff) cut--;
  return s.slice(0, cut);
}

/** FNV-1a over the UTF-16 units: the deterministic stand-in for Linux' jiffies. */
function hashUnits(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

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
 * msdos target: after the first steps, a name that is not a valid 8.3 name of the kind
 * {@link exact83} accepts (or whose 8.3 name is taken) is replaced by a generated 8.3 alias,
 * shown uppercase.
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
    if (!isKnownSourceCharset(this.sourceCharset)) {
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
