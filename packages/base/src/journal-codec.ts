/**
 * The byte layout shared by the in-place journal's head (core) and the exporters' payloads:
 * little-endian fields and u32-length-prefixed byte strings, every length checked on reading
 * against a bound the caller gives, so that a damaged or forged journal cannot size an allocation.
 * Errors are made by the caller (`fail`), so each side refuses with its own error class.
 */
import type { SourceFingerprint } from './in-place.js';

/** Appends fields; one copy at the end. */
export class RecordWriter {
  private readonly parts: Uint8Array[] = [];
  private length = 0;
  u8(v: number): void { this.raw(Uint8Array.of(v)); }
  u16(v: number): void { const b = new Uint8Array(2); new DataView(b.buffer).setUint16(0, v, true); this.raw(b); }
  u32(v: number): void { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, v >>> 0, true); this.raw(b); }
  u64(v: number): void { this.u32(v % 2 ** 32); this.u32(Math.floor(v / 2 ** 32)); }
  /** A u32 length, then the bytes. */
  bytes(b: Uint8Array): void { this.u32(b.length); this.raw(b); }
  raw(b: Uint8Array): void { this.parts.push(b); this.length += b.length; }
  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let o = 0;
    for (const p of this.parts) { out.set(p, o); o += p.length; }
    return out;
  }
}

/** Reads what RecordWriter wrote, from `at`; reading past the end or a length above its bound fails. */
export class RecordReader {
  private o: number;
  private readonly v: DataView;
  constructor(private readonly b: Uint8Array, private readonly fail: (message: string) => Error, at = 0) {
    this.v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    this.o = at;
  }
  private need(n: number): void { if (this.o + n > this.b.length) throw this.fail(`the in-place journal is truncated at byte ${this.o}`); }
  u8(): number { this.need(1); return this.b[this.o++]!; }
  u16(): number { this.need(2); const x = this.v.getUint16(this.o, true); this.o += 2; return x; }
  u32(): number { this.need(4); const x = this.v.getUint32(this.o, true); this.o += 4; return x; }
  u64(): number { const lo = this.u32(); return lo + this.u32() * 2 ** 32; }
  raw(n: number): Uint8Array { this.need(n); const x = this.b.slice(this.o, this.o + n); this.o += n; return x; }
  /** A u32-length-prefixed byte string of at most `max` bytes (`what` names it in the refusal). */
  bytes(max: number, what: string): Uint8Array {
    const n = this.u32();
    if (n > max) throw this.fail(`the in-place journal's ${what} is ${n} bytes, more than the ${max} its geometry allows`);
    return this.raw(n);
  }
  get offset(): number { return this.o; }
}

/** The fingerprint's text is small; a larger one is damage. */
export const FINGERPRINT_LIMIT = 4096;
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

/** The fingerprint as text, one `name=value` line each. */
export function encodeFingerprint(f: SourceFingerprint): Uint8Array {
  for (const [k, v] of f) if (/[=\n]/.test(k) || /\n/.test(v)) throw new Error(`fingerprint field '${k}' cannot be encoded (internal)`);
  const bytes = utf8.encode(f.map(([k, v]) => `${k}=${v}\n`).join(''));
  if (bytes.length > FINGERPRINT_LIMIT) throw new Error(`the source fingerprint takes ${bytes.length} bytes (internal)`);
  return bytes;
}

export function decodeFingerprint(bytes: Uint8Array, fail: (message: string) => Error): SourceFingerprint {
  let s: string;
  try {
    s = fromUtf8.decode(bytes);
  } catch {
    throw fail('the in-place journal\'s source fingerprint is not text (damaged)');
  }
  const out: Array<[string, string]> = [];
  for (const line of s.split('\n')) {
    if (line === '') continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw fail('the in-place journal\'s source fingerprint is malformed (damaged)');
    out.push([line.slice(0, eq), line.slice(eq + 1)]);
  }
  return out;
}
