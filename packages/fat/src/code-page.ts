/**
 * OEM code pages of short names (through iconv-lite): which characters have one exact single byte
 * ≥ 0x80 in a code page, and what each byte shows as. Only single-byte, ASCII-compatible code
 * pages are accepted.
 */
import iconv from 'iconv-lite';

/** An OEM code page for short names: which characters have one exact single byte ≥ 0x80. */
export class OemCodePage {
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
export function codePage(name: string): OemCodePage {
  let cp = codePages.get(name);
  if (!cp) codePages.set(name, (cp = new OemCodePage(name)));
  return cp;
}
