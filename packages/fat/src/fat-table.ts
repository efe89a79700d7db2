import { FAT_BAD, FAT_EOC, MEDIA_FIXED, type FatBits } from './constants.js';

/**
 * A chain's piece: `length` consecutive clusters from `start`, continuing at `next` (a cluster)
 * or ending the chain (`next` = 0). Bad clusters are runs with `bad` set.
 */
export interface ClusterRun {
  start: number;
  length: number;
  next: number;
  bad?: boolean;
}

/** Bytes one FAT takes for `entries` entries (clusters + 2), before rounding to sectors. */
export function fatBytes(bits: FatBits, entries: number): number {
  return bits === 12 ? Math.ceil((entries * 3) / 2) : entries * (bits / 8);
}

/**
 * Produces the bytes of one FAT, `chunkBytes` at a time, from runs sorted by start cluster (they
 * must not overlap): never the whole table in memory, never an object per cluster.
 * Entry 0 holds the media byte, entry 1 end-of-chain with the clean-shutdown bits; free clusters 0.
 */
export function* streamFat(bits: FatBits, fatSectorBytes: number, runs: readonly ClusterRun[], chunkBytes = 1 << 20): Generator<Uint8Array> {
  // FAT12 packs two entries in three bytes: keep chunks a multiple of 3 bytes (= 2 entries).
  const chunk = bits === 12 ? Math.max(3, chunkBytes - (chunkBytes % 3)) : Math.max(4, chunkBytes - (chunkBytes % 4));
  const entryAt = makeEntryLookup(bits, runs);
  for (let pos = 0; pos < fatSectorBytes; pos += chunk) {
    const len = Math.min(chunk, fatSectorBytes - pos);
    const out = new Uint8Array(len);
    if (bits === 12) {
      for (let b = 0; b + 2 < len + 2 && b < len; b += 3) {
        const entry = ((pos + b) / 3) * 2;
        const e0 = entryAt(entry);
        const e1 = entryAt(entry + 1);
        out[b] = e0 & 0xff;
        if (b + 1 < len) out[b + 1] = ((e0 >> 8) & 0x0f) | ((e1 & 0x0f) << 4);
        if (b + 2 < len) out[b + 2] = (e1 >> 4) & 0xff;
      }
    } else {
      const size = bits / 8;
      const view = new DataView(out.buffer);
      for (let b = 0; b + size <= len; b += size) {
        const v = entryAt((pos + b) / size);
        if (bits === 16) view.setUint16(b, v, true);
        else view.setUint32(b, v, true);
      }
    }
    yield out;
  }
}

/**
 * Entry values in increasing cluster order, walking the sorted runs with a cursor (calls must
 * come in increasing order, as streamFat makes them).
 */
function makeEntryLookup(bits: FatBits, runs: readonly ClusterRun[]): (cluster: number) => number {
  const eoc = FAT_EOC[bits];
  const media = bits === 12 ? 0xf00 | MEDIA_FIXED : bits === 16 ? 0xff00 | MEDIA_FIXED : 0x0fffff00 | MEDIA_FIXED;
  // FAT16/32: the clean-shutdown and no-error bits set in entry 1 (as mkfs.fat writes it).
  const entry1 = bits === 12 ? 0xfff : bits === 16 ? 0xffff : 0x0fffffff;
  let i = 0;
  let last = -1;
  return (cluster) => {
    if (cluster <= last) throw new Error(`FAT entries requested out of order (${cluster} after ${last})`);
    last = cluster;
    if (cluster === 0) return media;
    if (cluster === 1) return entry1;
    while (i < runs.length && runs[i]!.start + runs[i]!.length <= cluster) i++;
    const r = runs[i];
    if (r === undefined || cluster < r.start) return 0;
    if (r.bad) return FAT_BAD[bits];
    if (cluster < r.start + r.length - 1) return cluster + 1;
    return r.next === 0 ? eoc : r.next;
  };
}

/** Sorts runs by start and refuses overlaps (a cluster given to two chains). */
export function sortRuns(runs: ClusterRun[]): ClusterRun[] {
  runs.sort((a, b) => a.start - b.start);
  for (let k = 1; k < runs.length; k++) {
    const prev = runs[k - 1]!;
    if (runs[k]!.start < prev.start + prev.length) {
      throw new Error(`cluster ${runs[k]!.start} is allocated twice`);
    }
  }
  return runs;
}
