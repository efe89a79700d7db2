// Test support for @fsconv/partition: disk images made by sfdisk, read through a file-backed
// source, compared with `sfdisk --json`. Tools are required, never skipped.
import { closeSync, fstatSync, openSync, readFileSync, readSync, writeSync, ftruncateSync } from 'node:fs';
import { expect } from 'vitest';
import { findTool, run, runText, tryRun } from '../../../test/support/run.js';
import type { PartitionSource, PartitionTable, SectorWrite } from '../src/index.js';

/** sfdisk, or an error naming the package (util-linux's sfdisk is Debian's `fdisk` package). */
export function requireSfdisk(): string {
  const found = findTool('sfdisk');
  if (found === undefined) {
    throw new Error(
      "Required tool 'sfdisk' was not found on PATH. The partition tests need it and will not skip; " +
        'install it as root with:\n  apt-get update && apt-get install -y fdisk',
    );
  }
  return found;
}

/** Runs sfdisk on an image or device, quietly and without asking the kernel to re-read anything. */
export function sfdisk(args: readonly string[], input?: string): void {
  run(requireSfdisk(), ['--quiet', '--no-reread', '--no-tell-kernel', ...args], input === undefined ? {} : { input });
}

/** A sparse image of `bytes` bytes (created or resized). */
export function sparseImage(path: string, bytes: number): void {
  const fd = openSync(path, 'w');
  try {
    ftruncateSync(fd, bytes);
  } finally {
    closeSync(fd);
  }
}

/** A sparse image of `bytes` bytes partitioned by an sfdisk script. */
export function sfdiskImage(path: string, bytes: number, script: string): string {
  sparseImage(path, bytes);
  sfdisk(['--wipe', 'never', path], script);
  return path;
}

/** A PartitionSource over an image file (positional reads; opened for each read, so it never holds a descriptor). */
export class FileSource implements PartitionSource {
  readonly size: number;
  reads = 0;
  constructor(readonly path: string) {
    const fd = openSync(path, 'r');
    try {
      this.size = fstatSync(fd).size;
    } finally {
      closeSync(fd);
    }
  }
  readInto(target: Uint8Array, position: number): void {
    if (position < 0 || position + target.length > this.size) throw new Error(`read past the end of ${this.path}`);
    this.reads++;
    const fd = openSync(this.path, 'r');
    try {
      let done = 0;
      while (done < target.length) {
        const n = readSync(fd, target, done, target.length - done, position + done);
        if (n <= 0) throw new Error(`short read of ${this.path} at ${position + done}`);
        done += n;
      }
    } finally {
      closeSync(fd);
    }
  }
}

/** A PartitionSource over bytes in memory. */
export function memorySource(bytes: Uint8Array): PartitionSource & { bytes: Uint8Array } {
  return {
    bytes,
    size: bytes.length,
    readInto(target, position) {
      if (position < 0 || position + target.length > bytes.length) throw new Error('read past the end');
      target.set(bytes.subarray(position, position + target.length));
    },
  };
}

export function applyWrites(path: string, writes: readonly SectorWrite[]): void {
  const fd = openSync(path, 'r+');
  try {
    for (const w of writes) writeSync(fd, w.bytes, 0, w.bytes.length, w.offset);
  } finally {
    closeSync(fd);
  }
}

/** Patches bytes of an image in place. */
export function patch(path: string, offset: number, bytes: ArrayLike<number>): void {
  applyWrites(path, [{ offset, bytes: Uint8Array.from(bytes) }]);
}

export function readAt(path: string, offset: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  new FileSource(path).readInto(out, offset);
  return out;
}

export interface SfdiskPartition {
  node: string;
  start: number;
  size: number;
  type: string;
  uuid?: string;
  name?: string;
  bootable?: boolean;
}
export interface SfdiskTable {
  label: 'dos' | 'gpt';
  id: string;
  sectorsize: number;
  firstlba?: number;
  lastlba?: number;
  partitions?: SfdiskPartition[];
}

export function sfdiskJson(device: string): SfdiskTable {
  return (JSON.parse(runText(requireSfdisk(), ['--json', device])) as { partitiontable: SfdiskTable }).partitiontable;
}

/** `sfdisk --verify`: must exit 0 and print neither a warning nor an error. */
export function expectSfdiskVerifyClean(device: string): void {
  const r = tryRun(requireSfdisk(), ['--verify', device]);
  const out = r.stdout.toString('utf8');
  const err = r.stderr.toString('utf8');
  expect({ status: r.status, stderr: err }, out).toEqual({ status: 0, stderr: '' });
  expect(out).toMatch(/No errors detected/);
  expect(out).not.toMatch(/warning|error:|mismatch|corrupt|invalid/i);
}

export function sfdiskPartType(device: string, n: number): string {
  return runText(requireSfdisk(), ['--part-type', device, String(n)]).trim();
}

/** The partition number sfdisk's node name ends with (img5, /dev/loop0p3). */
export const nodeNumber = (node: string): number => Number(/(\d+)$/.exec(node)![1]);

/** Our decoding must say what sfdisk says: numbers, starts, sizes, types, GUIDs, names, boot flags. */
export function expectSameAsSfdisk(table: PartitionTable, device: string): SfdiskTable {
  const s = sfdiskJson(device);
  expect(table.scheme).toBe(s.label === 'dos' ? 'mbr' : 'gpt');
  expect(table.sectorSize).toBe(s.sectorsize);
  expect(table.diskId).toBe(s.id);
  if (s.label === 'gpt') {
    expect(table.gpt?.firstUsableLba).toBe(s.firstlba);
    expect(table.gpt?.lastUsableLba).toBe(s.lastlba);
  }
  const ours = table.partitions.map((p) => ({
    number: p.number,
    start: p.startLba,
    size: p.sectors,
    type: p.type.mbr !== undefined ? p.type.mbr.toString(16) : p.type.gpt,
    ...(p.guid !== undefined ? { uuid: p.guid } : {}),
    ...(p.name !== undefined ? { name: p.name } : {}),
    ...(p.bootable === true ? { bootable: true } : {}),
  }));
  const theirs = (s.partitions ?? []).map((p) => ({
    number: nodeNumber(p.node),
    start: p.start,
    size: p.size,
    type: p.type,
    ...(p.uuid !== undefined ? { uuid: p.uuid } : {}),
    ...(p.name !== undefined ? { name: p.name } : {}),
    ...(p.bootable === true ? { bootable: true } : {}),
  }));
  expect(ours).toEqual(theirs);
  for (const p of table.partitions) {
    expect(p.startByte).toBe(p.startLba * table.sectorSize);
    expect(p.bytes).toBe(p.sectors * table.sectorSize);
  }
  return s;
}

/** Every byte of the file outside the written sectors is what it was. */
export function expectUnchangedOutside(before: Uint8Array, afterPath: string, writes: readonly SectorWrite[]): void {
  const after = readFileSync(afterPath);
  expect(after.length).toBe(before.length);
  const ranges = [...writes].map((w) => [w.offset, w.offset + w.bytes.length] as const).sort((a, b) => a[0] - b[0]);
  let pos = 0;
  for (const [from, to] of [...ranges, [before.length, before.length] as const]) {
    if (from > pos) expect(Buffer.compare(after.subarray(pos, from), before.subarray(pos, from)), `bytes ${pos}–${from - 1} changed`).toBe(0);
    pos = Math.max(pos, to);
  }
}
