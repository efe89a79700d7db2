import type { Storage } from '@fsconv/device';
import { decodeSuperblock, Ext2Error, Ext2Volume, EXT2_MAGIC, SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE } from '@fsconv/ext2fs-reader';
import { ext2Fingerprint } from '@fsconv/ext2fs-reader';
import { inspectInterruption, type Interruption, type SourceBesideJournal } from '@fsconv/core';
import { RESUMABLE_EXPORTERS } from './formats.js';

/** A device that holds an interrupted conversion, met by a command other than resume: one line, exit 1. */
export class InterruptedConversion extends Error {
  override readonly name = 'InterruptedConversion';
}

/**
 * What the device holds of an interrupted in-place conversion, with the ext2 found beside the
 * marker (if its superblock is there at all) fingerprinted for the comparison. Reads only.
 */
export function inspectDevice(device: Storage): Interruption {
  return inspectInterruption(device, () => ext2BesideJournal(device), RESUMABLE_EXPORTERS);
}

function ext2BesideJournal(device: Storage): SourceBesideJournal {
  const sb = new Uint8Array(SUPERBLOCK_SIZE);
  device.readInto(sb, SUPERBLOCK_OFFSET);
  if (decodeSuperblock(sb).magic !== EXT2_MAGIC) return { kind: 'absent' };
  try {
    return { kind: 'readable', fingerprint: ext2Fingerprint(Ext2Volume.open(device)) };
  } catch (e) {
    if (e instanceof Ext2Error) return { kind: 'unreadable', why: e.message };
    throw e;
  }
}

/**
 * The one line for info, ls, check and convert on a device with a marker: whatever else the
 * device looks like, nothing of it is trusted or written before `fsconv resume` has had its say.
 */
export function interruptionMessage(path: string, it: Interruption, command = path): string | null {
  switch (it.state) {
    case 'none':
      return null;
    case 'resumable':
      return `${path} holds a conversion to FAT interrupted after its commit point: run 'fsconv resume ${command}' to finish it`;
    case 'stale':
      return `${path} holds the journal of an interrupted conversion that must not be replayed (${it.why}): run 'fsconv resume ${command}' for what to do`;
    case 'damaged':
      return `${path} holds an interrupted conversion whose journal cannot be read (${it.why}): run 'fsconv resume ${command}' for what can be recovered`;
  }
}

/** Refuses (InterruptedConversion) when the device holds any trace of an interrupted conversion. */
export function refuseIfInterrupted(path: string, device: Storage, command = path): void {
  const message = interruptionMessage(path, inspectDevice(device), command);
  if (message !== null) throw new InterruptedConversion(message);
}

/** Group 1's superblock copy for each block size mke2fs uses (the first group holds 8 × block-size blocks). */
const BACKUP_SUPERBLOCKS = [1024, 2048, 4096, 65536].map((bs) => ({ blockSize: bs, block: bs === 1024 ? 8193 : 8 * bs }));

/**
 * What is left of the ext2 when the journal is damaged: a backup superblock in group 1 that
 * e2fsck can rebuild from (`e2fsck -b BLOCK -B SIZE`), and how much to expect of it.
 */
export function ext2RecoveryAdvice(path: string, device: Storage, commitStarted: boolean): string {
  for (const { blockSize, block } of BACKUP_SUPERBLOCKS) {
    const at = block * blockSize;
    if (at + SUPERBLOCK_SIZE > device.size) continue;
    const bytes = new Uint8Array(SUPERBLOCK_SIZE);
    device.readInto(bytes, at);
    const sb = decodeSuperblock(bytes);
    if (sb.magic !== EXT2_MAGIC || sb.blockSize !== blockSize) continue;
    const how = `'e2fsck -b ${block} -B ${blockSize} ${path}' rebuilds the ext2 from its backup superblock at block ${block}`;
    return commitStarted
      ? `${how}, but the commit had begun overwriting the ext2's metadata at the front of the device, so expect losses: work on a copy of the device first`
      : `${how}; the commit had only erased the primary superblock, so the ext2 should come back whole (work on a copy first if you can)`;
  }
  return 'no backup superblock of the ext2 survives in its usual place: restore from a backup';
}
