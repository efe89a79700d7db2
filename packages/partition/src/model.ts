/** The neutral model both schemes decode to. Sizes and offsets are plain numbers (exact below 2^53). */
export type PartitionScheme = 'mbr' | 'gpt';

/** A partition's type in the scheme's own terms: the MBR type byte, or the GPT type GUID (upper case). */
export interface PartitionType {
  mbr?: number;
  gpt?: string;
}

/** Where a partition's entry is stored on the disk. */
export interface EntryLocation {
  /** MBR: the LBA of the MBR (0) or of the EBR holding the entry. GPT: the LBA, in the entry array the table was decoded from, of the sector holding the entry. */
  sector: number;
  /** MBR: the slot (0–3) in that sector's table. GPT: the entry's index in the array (its number − 1). */
  slot: number;
}

export interface Partition {
  /** As Linux numbers them: MBR primaries 1–4 by slot, logical partitions 5, 6, … in chain order; GPT entry index + 1. */
  number: number;
  startLba: number;
  sectors: number;
  startByte: number;
  bytes: number;
  type: PartitionType;
  /** GPT: the partition name (UTF-16LE in the entry). */
  name?: string;
  /** GPT: the unique partition GUID. */
  guid?: string;
  /** MBR: the status byte is 0x80. */
  bootable?: boolean;
  /** MBR: this is the extended partition holding the logical ones (a container, not a volume). */
  extended?: boolean;
  entry: EntryLocation;
}

/** GPT only: the geometry of the two copies, as decoded. */
export interface GptLayout {
  diskGuid: string;
  firstUsableLba: number;
  lastUsableLba: number;
  entryCount: number;
  entrySize: number;
  primaryHeaderLba: number;
  primaryEntriesLba: number;
  backupHeaderLba: number;
  backupEntriesLba: number;
  /** Which copy the partitions were decoded from: 'primary' unless it was damaged. */
  decodedFrom: 'primary' | 'backup';
  /** Which copy is damaged, if one is (the table was then decoded from the other, with a warning). */
  damaged?: 'primary' | 'backup';
}

export interface PartitionTable {
  scheme: PartitionScheme;
  diskBytes: number;
  /** 512 for MBR; 512 or 4096 for GPT (where LBA 1 holds the header). */
  sectorSize: number;
  /** As sfdisk prints it: MBR "0x1234abcd" (the disk signature), GPT the disk GUID. */
  diskId: string;
  /** In entry order: primaries, then logical partitions in chain order; GPT by entry index. */
  partitions: Partition[];
  /** What was tolerated, one line each (a damaged GPT copy, a hybrid MBR, an extra EBR entry, …). */
  warnings: string[];
  gpt?: GptLayout;
}

/** One write a caller performs: `bytes` (whole sectors) at byte `offset`. */
export interface SectorWrite {
  offset: number;
  bytes: Uint8Array;
}
