/**
 * Multi-mount protection (the mmp feature): a block the kernel rewrites every few seconds while
 * the volume is mounted, so that a second machine on shared storage can tell it is in use. A
 * volume is read only when its MMP block says it was left cleanly; anything else means some
 * system (or e2fsck) has it now, or had it when it stopped.
 */
import { u32 } from '@fsconv/base';
import { mmpBlockChecksumMatches } from './checksums.js';
import { Ext2Error, corrupt } from './errors.js';

export const MMP_MAGIC = 0x004d4d50;
export const MMP_SEQ_CLEAN = 0xff4d4d50;
export const MMP_SEQ_FSCK = 0xe24d4d50;
export const MMP_SEQ_MAX = 0xe24d4d4f;

/** The printable part of a fixed-size, NUL-padded name field. */
function fieldText(b: Uint8Array, at: number, length: number): string {
  const raw = b.subarray(at, at + length);
  const end = raw.indexOf(0);
  return Buffer.from(end < 0 ? raw : raw.subarray(0, end)).toString('latin1').replace(/[^\x20-\x7e]/g, '?');
}

/**
 * Refuses an MMP block that is damaged or says the volume is in use (a sequence other than the
 * clean one). `block` is the MMP block (its first 1024 bytes are the structure).
 */
export function checkMmpBlock(block: Uint8Array, blockNumber: number, metadataCsum: boolean, fsSeed: number): void {
  const where = { block: blockNumber };
  if (u32(block, 0) !== MMP_MAGIC) throw corrupt(`the multi-mount protection block has a bad magic number 0x${u32(block, 0).toString(16)}`, where);
  if (metadataCsum && !mmpBlockChecksumMatches(fsSeed, block)) throw corrupt('the multi-mount protection block checksum does not match its contents', where);
  const seq = u32(block, 4);
  if (seq === MMP_SEQ_CLEAN) return;
  const node = fieldText(block, 16, 64);
  const device = fieldText(block, 80, 32);
  const by = `${node === '' ? 'an unnamed node' : `node ${JSON.stringify(node)}`}${device === '' ? '' : ` (device ${JSON.stringify(device)})`}`;
  if (seq === MMP_SEQ_FSCK) {
    throw new Ext2Error('unclean', `multi-mount protection says e2fsck is checking the volume on ${by}: wait for it to finish (or, if it was interrupted, run e2fsck again)`, where);
  }
  throw new Ext2Error('unclean',
    `multi-mount protection says the volume is in use on ${by} (sequence 0x${seq.toString(16)}${seq > MMP_SEQ_MAX ? ', unknown' : ''}): unmount it there; if it crashed while mounted, run e2fsck on it`, where);
}
