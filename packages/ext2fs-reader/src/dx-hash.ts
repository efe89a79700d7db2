/**
 * The ext2/ext3/ext4 directory index (`dir_index`) hash of a name: legacy, half-MD4 and TEA, each
 * with signed or unsigned name bytes, and the superblock seed.
 */
import { unsupported } from './errors.js';

export const DX_HASH_LEGACY = 0;
export const DX_HASH_HALF_MD4 = 1;
export const DX_HASH_TEA = 2;
export const DX_HASH_LEGACY_UNSIGNED = 3;
export const DX_HASH_HALF_MD4_UNSIGNED = 4;
export const DX_HASH_TEA_UNSIGNED = 5;

/** Superblock s_flags bits that choose how name bytes >= 0x80 enter the hash. */
export const EXT2_FLAGS_SIGNED_HASH = 0x1;
export const EXT2_FLAGS_UNSIGNED_HASH = 0x2;

/** The seed used when the superblock's s_hash_seed is all zero (the MD4 initial state). */
const DEFAULT_SEED: readonly number[] = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];

const rotl = (x: number, s: number): number => ((x << s) | (x >>> (32 - s))) >>> 0;

/** A name byte as the hash sees it: sign-extended (signed char) or not. */
const charValue = (b: number, unsignedChars: boolean): number => (unsignedChars || b < 0x80 ? b : b - 256);

/** The original ext3 "dx_hack_hash". The seed plays no part. */
function legacyHash(name: Uint8Array, unsignedChars: boolean): number {
  let h0 = 0x12a3fe2d;
  let h1 = 0x37abe8f9;
  for (let i = 0; i < name.length; i++) {
    const c = charValue(name[i] ?? 0, unsignedChars);
    let h = (h1 + ((h0 ^ Math.imul(c, 7152373)) >>> 0)) >>> 0;
    if (h & 0x80000000) h = (h - 0x7fffffff) >>> 0;
    h1 = h0;
    h0 = h;
  }
  return (h0 << 1) >>> 0;
}

/**
 * Packs up to `words * 4` bytes of name[start..] into `out[0..words)` as big-endian-ish words
 * (each byte shifted in from the right), every word primed with a padding value derived from the
 * length still left; unused words are the padding value itself.
 */
function packWords(name: Uint8Array, start: number, words: number, unsignedChars: boolean, out: Uint32Array): void {
  const left = name.length - start;
  let pad = (left | (left << 8)) >>> 0;
  pad = (pad | (pad << 16)) >>> 0;
  const take = Math.min(left, words * 4);
  let w = 0;
  let acc = pad;
  for (let i = 0; i < take; i++) {
    const c = charValue(name[start + i] ?? 0, unsignedChars);
    acc = (c + ((acc << 8) >>> 0)) >>> 0;
    if (i % 4 === 3) {
      out[w++] = acc;
      acc = pad;
    }
  }
  if (w < words) out[w++] = acc;
  while (w < words) out[w++] = pad;
}

const MD4_K2 = 0x5a827999;
const MD4_K3 = 0x6ed9eba1;
// For each round of the cut-down MD4: the message word order and the four rotation amounts.
const MD4_ORDER: readonly (readonly number[])[] = [
  [0, 1, 2, 3, 4, 5, 6, 7],
  [1, 3, 5, 7, 0, 2, 4, 6],
  [3, 7, 2, 6, 1, 5, 0, 4],
];
const MD4_SHIFTS: readonly (readonly number[])[] = [
  [3, 7, 11, 19],
  [3, 5, 9, 13],
  [3, 9, 11, 15],
];

/** One half-MD4 compression of the 8 words `m` into the state `st` (4 words). */
function halfMd4Compress(st: Uint32Array, m: Uint32Array): void {
  // r holds the working registers a, b, c, d; each step updates r[(4 - step % 4) % 4], i.e.
  // a, d, c, b, a, d, c, b ... with the other three (in rotating order) as function inputs.
  const r = [st[0] ?? 0, st[1] ?? 0, st[2] ?? 0, st[3] ?? 0];
  for (let round = 0; round < 3; round++) {
    const order = MD4_ORDER[round] ?? [];
    const shifts = MD4_SHIFTS[round] ?? [];
    const k = round === 0 ? 0 : round === 1 ? MD4_K2 : MD4_K3;
    for (let step = 0; step < 8; step++) {
      const t = (4 - (step % 4)) % 4;
      const x = r[(t + 1) % 4] ?? 0;
      const y = r[(t + 2) % 4] ?? 0;
      const z = r[(t + 3) % 4] ?? 0;
      let f: number;
      if (round === 0) f = z ^ (x & (y ^ z));
      else if (round === 1) f = ((x & y) + ((x ^ y) & z)) >>> 0;
      else f = x ^ y ^ z;
      const word = m[order[step] ?? 0] ?? 0;
      const sum = ((r[t] ?? 0) + (f >>> 0) + ((word + k) >>> 0)) >>> 0;
      r[t] = rotl(sum, shifts[step % 4] ?? 0);
    }
  }
  for (let i = 0; i < 4; i++) st[i] = ((st[i] ?? 0) + (r[i] ?? 0)) >>> 0;
}

const TEA_DELTA = 0x9e3779b9;

/** One TEA-based Davies-Meyer step: encrypt state words 0..1 keyed by the 4 words `m`. */
function teaCompress(st: Uint32Array, m: Uint32Array): void {
  let v0 = st[0] ?? 0;
  let v1 = st[1] ?? 0;
  const k0 = m[0] ?? 0;
  const k1 = m[1] ?? 0;
  const k2 = m[2] ?? 0;
  const k3 = m[3] ?? 0;
  let sum = 0;
  for (let n = 0; n < 16; n++) {
    sum = (sum + TEA_DELTA) >>> 0;
    v0 = (v0 + ((((v1 << 4) + k0) ^ (v1 + sum) ^ ((v1 >>> 5) + k1)) >>> 0)) >>> 0;
    v1 = (v1 + ((((v0 << 4) + k2) ^ (v0 + sum) ^ ((v0 >>> 5) + k3)) >>> 0)) >>> 0;
  }
  st[0] = ((st[0] ?? 0) + v0) >>> 0;
  st[1] = ((st[1] ?? 0) + v1) >>> 0;
}

/**
 * The ext2/ext3/ext4 directory index hash of `name`.
 *
 * `version` is the hash version: 0 legacy, 1 half_md4, 2 tea, and 3..5 the same three treating
 * name bytes as unsigned chars (0..2 sign-extend bytes >= 0x80). `seed` is the superblock's
 * s_hash_seed; null or all zero means the default seed. The major hash has its low bit cleared
 * (that bit marks hash-collision continuations in the index). Legacy has no minor hash (0).
 */
export function dxHash(name: Uint8Array, version: number, seed: Uint32Array | null): { hash: number; minorHash: number } {
  const st = new Uint32Array(DEFAULT_SEED);
  if (seed !== null) {
    const s = [seed[0] ?? 0, seed[1] ?? 0, seed[2] ?? 0, seed[3] ?? 0];
    if (s.some((w) => w !== 0)) st.set(s.map((w) => w >>> 0));
  }
  let hash: number;
  let minorHash = 0;
  switch (version) {
    case DX_HASH_LEGACY:
    case DX_HASH_LEGACY_UNSIGNED:
      hash = legacyHash(name, version === DX_HASH_LEGACY_UNSIGNED);
      break;
    case DX_HASH_HALF_MD4:
    case DX_HASH_HALF_MD4_UNSIGNED: {
      const m = new Uint32Array(8);
      for (let p = 0; p < name.length; p += 32) {
        packWords(name, p, 8, version === DX_HASH_HALF_MD4_UNSIGNED, m);
        halfMd4Compress(st, m);
      }
      hash = st[1] ?? 0;
      minorHash = st[2] ?? 0;
      break;
    }
    case DX_HASH_TEA:
    case DX_HASH_TEA_UNSIGNED: {
      const m = new Uint32Array(4);
      for (let p = 0; p < name.length; p += 16) {
        packWords(name, p, 4, version === DX_HASH_TEA_UNSIGNED, m);
        teaCompress(st, m);
      }
      hash = st[0] ?? 0;
      minorHash = st[1] ?? 0;
      break;
    }
    default:
      throw unsupported(`unsupported directory hash version ${version}`);
  }
  return { hash: (hash & 0xfffffffe) >>> 0, minorHash: minorHash >>> 0 };
}
