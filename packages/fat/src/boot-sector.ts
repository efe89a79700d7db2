/**
 * The FAT boot sector (BPB + extended BPB) and the FAT32 FSInfo sector: pure codecs.
 *
 * Decoding validates like Linux (fs/fat/inode.c fat_read_bpb / fat_fill_super) and fsck.fat
 * (boot.c read_boot), taking the stricter of the two where they differ, and picks the FAT type
 * as Linux does: FAT32 when the 16-bit FAT length is 0 and the 32-bit one is not, otherwise
 * FAT12 up to 4084 clusters and FAT16 above.
 */
import iconv from 'iconv-lite';
import { MAX_CLUSTERS, type FatBits } from './constants.js';
import { FatError, notFat, fatCorrupt, fatUnsupported } from './errors.js';
import { u16 as le16, u32 as le32, put16, put32 } from '@fsconv/base';

export interface BootSectorParams {
  fatBits: FatBits;
  bytesPerSector: number;
  sectorsPerCluster: number;
  reservedSectors: number;
  numFats: number;
  /** FAT12/16: slots in the fixed root directory; FAT32: 0. */
  rootEntries: number;
  totalSectors: number;
  /** Sectors per FAT. */
  fatSectors: number;
  media: number;
  sectorsPerTrack: number;
  heads: number;
  /** Partition start (LBA) for partitioned disks, else 0. */
  hiddenSectors: number;
  volumeId: number;
  /** ≤ 11 characters of the OEM code page, already valid; '' means "NO NAME    ". */
  label: string;
  /** 8 characters (shorter ones are space padded). */
  oemName: string;
  /** FAT32 only (0 otherwise). */
  rootCluster: number;
  /** FAT32 only: normally 1 (0 otherwise). */
  fsInfoSector: number;
  /** FAT32 only: normally 6 (0 otherwise). */
  backupBootSector: number;
  /** BIOS drive number in the extended BPB; default 0x80 for fixed media (0xF8), else 0x00 (as mkfs.fat). */
  driveNumber?: number;
}

export interface DecodedBootSector extends BootSectorParams {
  driveNumber: number;
  /** Clusters in the data area (cluster numbers 2 .. clusterCount + 1). */
  clusterCount: number;
  /** First sector of the data area (cluster 2), relative to the start of the volume. */
  dataStartSector: number;
  /** Sectors of the FAT12/16 fixed root directory (0 on FAT32). */
  rootDirSectors: number;
  /** The FAT to read: 0, unless a FAT32 has mirroring disabled (ExtFlags bit 7) and names another. */
  activeFat: number;
}

export interface CodepageOption {
  /** OEM code page of the label and OEM name (an iconv-lite encoding); default cp437. */
  codepage?: string;
}

export const BOOT_SECTOR_SIZE = 512;
export const FSINFO_LEAD_SIG = 0x41615252;
export const FSINFO_STRUCT_SIG = 0x61417272;
export const FSINFO_TRAIL_SIG = 0xaa550000;
/** FSInfo free count / next-free value meaning "unknown". */
export const FSINFO_UNKNOWN = 0xffffffff;
const NO_NAME = 'NO NAME';

const isPowerOfTwo = (v: number): boolean => v > 0 && (v & (v - 1)) === 0;
const hex = (v: number, digits = 2): string => `0x${v.toString(16).padStart(digits, '0')}`;
/** Linux fat_valid_media: 0xF0 or 0xF8..0xFF. */
const validMedia = (m: number): boolean => m === 0xf0 || m >= 0xf8;

/**
 * A tiny real-mode program for the boot code area, written for this project: it prints a
 * message through the BIOS teletype, waits for a key and asks the BIOS to try the next device
 * (INT 19h). Position independent: it finds its message with call/pop, whatever CS:IP the BIOS used.
 */
const BOOT_MESSAGE = 'This volume is not bootable. Press a key to try the next device.\r\n';
function bootCode(): Uint8Array {
  const code = [
    0x0e, // push cs
    0x1f, // pop ds
    0xe8, 0x00, 0x00, // call next
    0x5e, // next: pop si            (si = offset of this byte)
    0x83, 0xc6, 32 - 5, // add si, message - next
    0xfc, // cld
    0xac, // print: lodsb
    0x84, 0xc0, // test al, al
    0x74, 0x09, // jz done
    0xb4, 0x0e, // mov ah, 0x0e
    0xbb, 0x07, 0x00, // mov bx, 0x0007
    0xcd, 0x10, // int 0x10
    0xeb, 0xf2, // jmp print
    0x31, 0xc0, // done: xor ax, ax
    0xcd, 0x16, // int 0x16          (wait for a key)
    0xcd, 0x19, // int 0x19          (next boot device)
    0xeb, 0xfe, // jmp $
  ];
  const out = new Uint8Array(code.length + BOOT_MESSAGE.length + 1);
  out.set(code);
  for (let i = 0; i < BOOT_MESSAGE.length; i++) out[code.length + i] = BOOT_MESSAGE.charCodeAt(i);
  return out;
}

function checkCodepage(codepage: string): void {
  if (!iconv.encodingExists(codepage)) throw new FatError('invalid-argument', `unknown OEM code page '${codepage}'`);
}

/** Decodes OEM code page bytes to a string (every byte maps to something in the OEM pages). */
export function decodeOem(bytes: Uint8Array, codepage = 'cp437'): string {
  checkCodepage(codepage);
  return iconv.decode(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length), codepage);
}

/** Encodes a string to OEM code page bytes, refusing characters the code page can't hold. */
export function encodeOem(text: string, codepage: string, what: string): Uint8Array {
  checkCodepage(codepage);
  const bytes = new Uint8Array(iconv.encode(text, codepage));
  if (iconv.decode(Buffer.from(bytes), codepage) !== text) {
    throw new FatError('invalid-argument', `${what} '${text}' has characters that code page ${codepage} can't hold`);
  }
  return bytes;
}

function putPadded(out: Uint8Array, offset: number, bytes: Uint8Array, length: number, what: string): void {
  if (bytes.length > length) throw new FatError('invalid-argument', `${what} is ${bytes.length} bytes, more than ${length}`);
  out.fill(0x20, offset, offset + length);
  out.set(bytes, offset);
}

function checkField(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new FatError('invalid-argument', `boot sector parameter ${name} is ${value} (must be an integer from ${min} to ${max})`);
  }
}

/**
 * Encodes a 512-byte boot sector: jump, OEM name, BPB, extended BPB (FAT12/16 or FAT32 layout),
 * a boot program that says the volume is not bootable, and 0x55 0xAA. Sectors larger than 512
 * bytes are the caller's to pad (the signature stays at offset 510, as mkfs.fat writes it).
 * The result is decoded again as a self-check: parameters whose cluster count gives another FAT
 * type (by Linux's rule) than `fatBits`, or that Linux/fsck.fat would refuse, throw here.
 */
export function encodeBootSector(p: BootSectorParams, options: CodepageOption = {}): Uint8Array {
  const codepage = options.codepage ?? 'cp437';
  const fat32 = p.fatBits === 32;
  if (p.fatBits !== 12 && p.fatBits !== 16 && p.fatBits !== 32) {
    throw new FatError('invalid-argument', `boot sector parameter fatBits is ${String(p.fatBits)} (must be 12, 16 or 32)`);
  }
  checkField('bytesPerSector', p.bytesPerSector, 512, 4096);
  checkField('sectorsPerCluster', p.sectorsPerCluster, 1, 128);
  checkField('reservedSectors', p.reservedSectors, 1, 0xffff);
  checkField('numFats', p.numFats, 1, 2);
  checkField('rootEntries', p.rootEntries, 0, fat32 ? 0 : 0xffff);
  checkField('totalSectors', p.totalSectors, 1, 0xffffffff);
  checkField('fatSectors', p.fatSectors, 1, fat32 ? 0xffffffff : 0xffff);
  checkField('media', p.media, 0, 0xff);
  checkField('sectorsPerTrack', p.sectorsPerTrack, 0, 0xffff);
  checkField('heads', p.heads, 0, 0xffff);
  checkField('hiddenSectors', p.hiddenSectors, 0, 0xffffffff);
  checkField('volumeId', p.volumeId, 0, 0xffffffff);
  const drive = p.driveNumber ?? (p.media === 0xf8 ? 0x80 : 0x00);
  checkField('driveNumber', drive, 0, 0xff);
  if (fat32) {
    checkField('rootCluster', p.rootCluster, 2, 0x0fffffff);
    checkField('fsInfoSector', p.fsInfoSector, 0, 0xffff);
    checkField('backupBootSector', p.backupBootSector, 0, 0xffff);
  }
  const label = encodeOem(p.label === '' ? NO_NAME : p.label, codepage, 'volume label');
  const oem = encodeOem(p.oemName, codepage, 'OEM name');

  const b = new Uint8Array(BOOT_SECTOR_SIZE);
  b[0] = 0xeb;
  b[1] = fat32 ? 0x58 : 0x3c;
  b[2] = 0x90;
  putPadded(b, 3, oem, 8, 'OEM name');
  put16(b, 0x0b, p.bytesPerSector);
  b[0x0d] = p.sectorsPerCluster;
  put16(b, 0x0e, p.reservedSectors);
  b[0x10] = p.numFats;
  put16(b, 0x11, p.rootEntries);
  if (p.totalSectors < 0x10000) put16(b, 0x13, p.totalSectors);
  else put32(b, 0x20, p.totalSectors);
  b[0x15] = p.media;
  put16(b, 0x16, fat32 ? 0 : p.fatSectors);
  put16(b, 0x18, p.sectorsPerTrack);
  put16(b, 0x1a, p.heads);
  put32(b, 0x1c, p.hiddenSectors);
  let ext: number;
  if (fat32) {
    put32(b, 0x24, p.fatSectors);
    put16(b, 0x28, 0); // ExtFlags: the FATs are mirrored
    put16(b, 0x2a, 0); // FSVer 0.0
    put32(b, 0x2c, p.rootCluster);
    put16(b, 0x30, p.fsInfoSector);
    put16(b, 0x32, p.backupBootSector);
    ext = 0x40;
  } else {
    ext = 0x24;
  }
  b[ext] = drive;
  b[ext + 1] = 0; // flags (dirty bit clear)
  b[ext + 2] = 0x29; // extended boot signature: volume ID, label and type follow
  put32(b, ext + 3, p.volumeId);
  putPadded(b, ext + 7, label, 11, 'volume label');
  putPadded(b, ext + 18, encodeOem(`FAT${p.fatBits}`, 'ascii', 'type'), 8, 'type');
  b.set(bootCode(), ext + 26);
  b[510] = 0x55;
  b[511] = 0xaa;

  const check = decodeBootSector(b, { codepage });
  if (check.fatBits !== p.fatBits) {
    throw new FatError(
      'invalid-argument',
      `boot sector parameters give ${check.clusterCount} clusters, a FAT${check.fatBits} by Linux's rule, not FAT${p.fatBits}`,
    );
  }
  return b;
}

/**
 * Decodes and validates a boot sector (at least its first 512 bytes). Throws a FatError naming
 * the first field that Linux or fsck.fat would refuse.
 */
export function decodeBootSector(b: Uint8Array, options: CodepageOption = {}): DecodedBootSector {
  const codepage = options.codepage ?? 'cp437';
  const where = { path: 'boot sector' };
  if (b.length < BOOT_SECTOR_SIZE) throw new FatError('io', `only ${b.length} bytes, a boot sector needs 512`, where);
  if (b[510] !== 0x55 || b[511] !== 0xaa) {
    throw notFat(`signature at offset 510 is ${hex(b[510]!)} ${hex(b[511]!)}, not 0x55 0xaa`, where);
  }
  if (b[0] !== 0xeb && b[0] !== 0xe9) throw notFat(`jump instruction starts with ${hex(b[0]!)}, not 0xeb or 0xe9`, where);

  const bytesPerSector = le16(b, 0x0b);
  const sectorsPerCluster = b[0x0d]!;
  const reservedSectors = le16(b, 0x0e);
  const numFats = b[0x10]!;
  const rootEntries = le16(b, 0x11);
  const totalSectors16 = le16(b, 0x13);
  const media = b[0x15]!;
  const fatSectors16 = le16(b, 0x16);
  const sectorsPerTrack = le16(b, 0x18);
  const heads = le16(b, 0x1a);
  const hiddenSectors = le32(b, 0x1c);
  const totalSectors32 = le32(b, 0x20);
  const fatSectors32 = le32(b, 0x24);

  // Linux fat_read_bpb's checks, in its order, then fsck.fat's.
  if (reservedSectors === 0) throw notFat('reserved sector count (offset 0x0e) is 0', where);
  if (numFats === 0) throw notFat('number of FATs (offset 0x10) is 0', where);
  if (numFats > 2) throw fatUnsupported(`${numFats} FATs (offset 0x10); fsck.fat supports only 1 or 2`, where);
  if (!validMedia(media)) throw notFat(`media byte (offset 0x15) is ${hex(media)}, not 0xf0 or 0xf8..0xff`, where);
  if (!isPowerOfTwo(bytesPerSector) || bytesPerSector < 512 || bytesPerSector > 4096) {
    throw notFat(`bytes per sector (offset 0x0b) is ${bytesPerSector}, not a power of two from 512 to 4096`, where);
  }
  if (!isPowerOfTwo(sectorsPerCluster)) {
    throw notFat(`sectors per cluster (offset 0x0d) is ${sectorsPerCluster}, not a power of two`, where);
  }
  if (fatSectors16 === 0 && fatSectors32 === 0) throw notFat('FAT length is 0 (offsets 0x16 and 0x24)', where);

  const fat32 = fatSectors16 === 0 && fatSectors32 !== 0;
  const fatSectors = fat32 ? fatSectors32 : fatSectors16;
  const dirPerSector = bytesPerSector / 32;
  if (fat32) {
    if (rootEntries !== 0) throw fatCorrupt(`FAT32 boot sector has ${rootEntries} root directory entries (offset 0x11), not 0`, where);
    const version = le16(b, 0x2a);
    if (version !== 0) throw fatUnsupported(`FAT32 version ${version >> 8}.${version & 0xff} (offset 0x2a); only 0.0 exists`, where);
  } else {
    if (rootEntries === 0) throw fatCorrupt('root directory has 0 entries (offset 0x11)', where);
    if (rootEntries % dirPerSector !== 0) {
      throw fatCorrupt(`root directory entry count ${rootEntries} (offset 0x11) does not fill whole ${bytesPerSector}-byte sectors`, where);
    }
  }
  const totalSectors = totalSectors16 !== 0 ? totalSectors16 : totalSectors32;
  if (totalSectors === 0) throw notFat('total sector count is 0 (offsets 0x13 and 0x20)', where);

  const rootDirSectors = rootEntries / dirPerSector;
  const dataStartSector = reservedSectors + numFats * fatSectors + rootDirSectors;
  if (dataStartSector >= totalSectors) {
    throw fatCorrupt(`data area starts at sector ${dataStartSector}, at or past the end of the ${totalSectors}-sector volume`, where);
  }
  const clusterCount = Math.floor((totalSectors - dataStartSector) / sectorsPerCluster);
  if (clusterCount === 0) throw fatCorrupt(`no whole cluster fits after the data area start (sector ${dataStartSector} of ${totalSectors})`, where);
  const fatBits: FatBits = fat32 ? 32 : clusterCount > MAX_CLUSTERS[12] ? 16 : 12;
  if (clusterCount > MAX_CLUSTERS[fatBits]) {
    throw fatUnsupported(`${clusterCount} clusters, more than a FAT${fatBits} can have (${MAX_CLUSTERS[fatBits]})`, where);
  }
  const fatEntries = Math.floor((fatSectors * bytesPerSector * 8) / fatBits);
  if (fatEntries < clusterCount + 2) {
    throw fatCorrupt(`a FAT of ${fatSectors} sectors holds ${fatEntries} entries, fewer than ${clusterCount} clusters + 2`, where);
  }

  let rootCluster = 0;
  let fsInfoSector = 0;
  let backupBootSector = 0;
  let activeFat = 0;
  if (fat32) {
    rootCluster = le32(b, 0x2c);
    fsInfoSector = le16(b, 0x30);
    backupBootSector = le16(b, 0x32);
    const extFlags = le16(b, 0x28);
    if (rootCluster < 2 || rootCluster > clusterCount + 1) {
      throw fatCorrupt(`root directory cluster ${rootCluster} (offset 0x2c) is outside the data area (2..${clusterCount + 1})`, where);
    }
    const inReserved = (s: number): boolean => s === 0 || s === 0xffff || s < reservedSectors;
    if (!inReserved(fsInfoSector)) {
      throw fatCorrupt(`FSInfo sector ${fsInfoSector} (offset 0x30) is outside the ${reservedSectors} reserved sectors`, where);
    }
    if (!inReserved(backupBootSector)) {
      throw fatCorrupt(`backup boot sector ${backupBootSector} (offset 0x32) is outside the ${reservedSectors} reserved sectors`, where);
    }
    if ((extFlags & 0x80) !== 0) {
      activeFat = extFlags & 0x0f;
      if (activeFat >= numFats) throw fatCorrupt(`active FAT ${activeFat} (offset 0x28) does not exist (${numFats} FATs)`, where);
    }
  }

  const ext = fat32 ? 0x40 : 0x24;
  const sig = b[ext + 2]!;
  const volumeId = sig === 0x29 || sig === 0x28 ? le32(b, ext + 3) : 0;
  let label = '';
  if (sig === 0x29) {
    label = decodeOem(b.subarray(ext + 7, ext + 18), codepage).replace(/ +$/, '');
    if (label === NO_NAME) label = '';
  }
  return {
    fatBits,
    bytesPerSector,
    sectorsPerCluster,
    reservedSectors,
    numFats,
    rootEntries,
    totalSectors,
    fatSectors,
    media,
    sectorsPerTrack,
    heads,
    hiddenSectors,
    volumeId,
    label,
    oemName: decodeOem(b.subarray(3, 11), codepage),
    rootCluster,
    fsInfoSector,
    backupBootSector,
    driveNumber: b[ext]!,
    clusterCount,
    dataStartSector,
    rootDirSectors,
    activeFat,
  };
}

/** Encodes a 512-byte FSInfo sector (FAT32): free cluster count and next-free hint (0xFFFFFFFF = unknown). */
export function encodeFsInfo(freeClusters: number, nextFree: number): Uint8Array {
  checkField('freeClusters', freeClusters, 0, 0xffffffff);
  checkField('nextFree', nextFree, 0, 0xffffffff);
  const b = new Uint8Array(BOOT_SECTOR_SIZE);
  put32(b, 0, FSINFO_LEAD_SIG);
  put32(b, 484, FSINFO_STRUCT_SIG);
  put32(b, 488, freeClusters);
  put32(b, 492, nextFree);
  put32(b, 508, FSINFO_TRAIL_SIG);
  return b;
}

/** Decodes an FSInfo sector, refusing it when any of its three signatures is wrong. */
export function decodeFsInfo(b: Uint8Array): { freeClusters: number; nextFree: number } {
  const where = { path: 'FSInfo sector' };
  if (b.length < BOOT_SECTOR_SIZE) throw new FatError('io', `only ${b.length} bytes, an FSInfo sector needs 512`, where);
  const sigs: Array<[number, number]> = [[0, FSINFO_LEAD_SIG], [484, FSINFO_STRUCT_SIG], [508, FSINFO_TRAIL_SIG]];
  for (const [offset, expected] of sigs) {
    const v = le32(b, offset);
    if (v !== expected) throw fatCorrupt(`signature at offset ${offset} is ${hex(v, 8)}, not ${hex(expected, 8)}`, where);
  }
  return { freeClusters: le32(b, 488), nextFree: le32(b, 492) };
}

/**
 * The boot sector fields no structure depends on, as formatters write them where nothing forces
 * otherwise: OEM name `MSWIN4.1` (what Microsoft's specification recommends, as some firmware
 * checks it), media 0xF8 (fixed disk: drive number 0x80), and mkfs.fat's default geometry for a
 * device that reports none: 32 sectors per track and 64 heads below 512 MiB, 63 and 255 from there.
 */
export function standardBootFields(totalBytes: number): Pick<BootSectorParams, 'oemName' | 'media' | 'sectorsPerTrack' | 'heads'> {
  const small = totalBytes < 512 * 1024 * 1024;
  return { oemName: 'MSWIN4.1', media: 0xf8, sectorsPerTrack: small ? 32 : 63, heads: small ? 64 : 255 };
}
