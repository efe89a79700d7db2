/**
 * The jbd2 journal superblock of an ext3/ext4 journal inode: checked so that a journal needing
 * recovery, or one with features we do not know, is refused. (Not fsconv's own conversion
 * journal, which is @fsconv/core's in-place/journal.ts.)
 */
import { journalSuperblockChecksumMatches } from './checksums.js';
import { Ext2Error, corrupt, unsupported, type Ext2Location } from './errors.js';

/** jbd2 journal superblock (all fields big-endian). */
const JBD2_MAGIC = 0xc03b3998;
const JBD2_SUPERBLOCK_V1 = 3;
const JBD2_SUPERBLOCK_V2 = 4;
/** Most users a shared journal superblock can list (JBD2_USERS_MAX). */
const JBD2_USERS_MAX = 48;
/** Incompatible journal features we can leave untouched: revoke, 64bit, async_commit, csum v2/v3, fast_commit. */
const KNOWN_JOURNAL_INCOMPAT = 0x1 | 0x2 | 0x4 | 0x8 | 0x10 | 0x20;
const JOURNAL_CSUM_V2_V3 = 0x8 | 0x10;
/** s_checksum_type: crc32c, the only type csum v2/v3 allow. */
const JBD2_CRC32C_CHKSUM = 4;

const be32 = (b: Uint8Array, o: number): number =>
  (((b[o] ?? 0) << 24) | ((b[o + 1] ?? 0) << 16) | ((b[o + 2] ?? 0) << 8) | (b[o + 3] ?? 0)) >>> 0;

/**
 * An ext3 journal is acceptable only when it is valid and empty: s_start = 0 means no transaction
 * awaits replay (otherwise blocks of the filesystem are stale until e2fsck replays it). The
 * fast-commit area (fast_commit: the journal's last s_num_fc_blks blocks) is replayed only after
 * the journal's own transactions, so an empty journal leaves nothing there to replay either.
 */
export function checkJournalSuperblock(block: Uint8Array, blockSize: number, journalBlocks: number, where: Ext2Location): void {
  if (be32(block, 0) !== JBD2_MAGIC) throw corrupt('the journal superblock has a bad magic number', where);
  const type = be32(block, 4);
  if (type !== JBD2_SUPERBLOCK_V1 && type !== JBD2_SUPERBLOCK_V2) throw corrupt(`the journal superblock has an unknown type ${type}`, where);
  if (be32(block, 0x0c) !== blockSize) throw corrupt(`the journal block size ${be32(block, 0x0c)} differs from the filesystem's`, where);
  const maxLen = be32(block, 0x10);
  const firstLog = be32(block, 0x14);
  if (maxLen > journalBlocks || maxLen < 1024) throw corrupt(`the journal length ${maxLen} does not match its inode (${journalBlocks} blocks)`, where);
  if (firstLog < 1 || firstLog >= maxLen) throw corrupt(`the journal's first log block ${firstLog} is out of range`, where);
  if (type === JBD2_SUPERBLOCK_V2) {
    const incompat = be32(block, 0x28);
    if ((incompat & ~KNOWN_JOURNAL_INCOMPAT) !== 0) throw unsupported(`the journal has unknown incompatible features 0x${incompat.toString(16)}`, where);
    if ((incompat & JOURNAL_CSUM_V2_V3) !== 0) {
      if (block[0x50] !== JBD2_CRC32C_CHKSUM) throw corrupt(`the journal superblock has checksum type ${block[0x50]}, not crc32c`, where);
      if (!journalSuperblockChecksumMatches(block)) throw corrupt('the journal superblock checksum does not match its contents', where);
    }
    const users = be32(block, 0x40);
    if (users > JBD2_USERS_MAX) throw corrupt(`the journal superblock lists ${users} users (at most ${JBD2_USERS_MAX})`, where);
  }
  if (be32(block, 0x1c) !== 0) throw new Ext2Error('unclean', 'the journal holds transactions to replay: run e2fsck on it first', where);
  if (be32(block, 0x20) !== 0) throw new Ext2Error('unclean', `the journal records error ${be32(block, 0x20) | 0}: run e2fsck on it first`, where);
}
