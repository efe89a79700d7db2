/**
 * Decoding of original names: the raw name bytes of the source filesystem, read with the source
 * charset (strict UTF-8 by default, any iconv-lite charset otherwise), each bad byte replaced.
 */
import iconv from 'iconv-lite';

const normCharset = (s: string): string => s.toLowerCase().replace(/[^a-z0-9]/g, '');

/** Whether `charset` can decode original names: UTF-8 (any spelling) or a charset iconv-lite knows. */
export function isKnownSourceCharset(charset: string): boolean {
  return normCharset(charset) === 'utf8' || iconv.encodingExists(charset);
}

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
