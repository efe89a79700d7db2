import type { PartitionSource } from './byte-source.js';
import type { SectorWrite } from './model.js';

/** A source that reads as `source` would after `writes` (later writes win); for previews and checks. */
export function overlaySource(source: PartitionSource, writes: readonly SectorWrite[]): PartitionSource {
  return {
    size: source.size,
    readInto(target: Uint8Array, position: number): void {
      source.readInto(target, position);
      const end = position + target.length;
      for (const w of writes) {
        const from = Math.max(position, w.offset);
        const to = Math.min(end, w.offset + w.bytes.length);
        if (from < to) target.set(w.bytes.subarray(from - w.offset, to - w.offset), from - position);
      }
    },
  };
}
