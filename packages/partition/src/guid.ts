import { PartitionTableError } from './errors.js';

/**
 * GPT GUIDs are stored mixed-endian: the first three fields little-endian, the last two as bytes.
 * They are printed as sfdisk prints them: upper-case hex, 8-4-4-4-12.
 */
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0').toUpperCase());
const ORDER = [3, 2, 1, 0, -1, 5, 4, -1, 7, 6, -1, 8, 9, -1, 10, 11, 12, 13, 14, 15] as const;

export const ZERO_GUID = '00000000-0000-0000-0000-000000000000';

/** The GUID stored in `bytes[offset, offset + 16)`, e.g. "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7". */
export function formatGuid(bytes: Uint8Array, offset = 0): string {
  let s = '';
  for (const i of ORDER) s += i < 0 ? '-' : HEX[bytes[offset + i]!]!;
  return s;
}

const GUID_RE = /^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$/;

/** Whether `text` is a GUID in the 8-4-4-4-12 form (either case). */
export const isGuid = (text: string): boolean => GUID_RE.test(text);

/** The 16 stored bytes of a GUID written 8-4-4-4-12 (either case); throws a 'bad-request' error otherwise. */
export function encodeGuid(text: string): Uint8Array {
  if (!isGuid(text)) throw new PartitionTableError('bad-request', `'${text}' is not a GUID (want 8-4-4-4-12 hex digits)`);
  const digits = text.replace(/-/g, '');
  const out = new Uint8Array(16);
  let j = 0;
  for (const i of ORDER) {
    if (i < 0) continue;
    out[i] = parseInt(digits.slice(j, j + 2), 16);
    j += 2;
  }
  return out;
}
