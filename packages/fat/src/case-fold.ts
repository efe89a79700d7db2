/**
 * Case-insensitive comparison of FAT names: the one mapping used to decide whether two names are
 * the same for FAT lookups, and the per-character uppercase of generated aliases.
 *
 * FAT lookups ignore case (Windows: its upcase table; Linux: the iocharset's case tables).
 * We use one simple mapping, {@link foldName}: per code point, ASCII a–z → A–Z; any other BMP
 * character is replaced by `String.prototype.toUpperCase()` of it when that gives exactly one
 * UTF-16 unit (so `é`→`É`, `ı`→`I`, but `ß` stays `ß`); characters outside the BMP are kept as
 * they are (Windows' upcase table only covers the BMP). This errs on the side of treating more
 * names as equal, which at worst costs a harmless extra rename.
 */

const upperCache = new Map<number, string>();
/** Simple per-character uppercase (see the module comment). */
export function simpleUpper(cp: number, ch: string): string {
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
