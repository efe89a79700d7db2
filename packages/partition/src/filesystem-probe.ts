/**
 * Probing sector 0 for a filesystem: whether it is the boot sector of a volume (FAT, NTFS, exFAT)
 * rather than an MBR. Decoding a FAT boot sector is @fsconv/fat's boot-sector.ts.
 */
import { u16 } from '@fsconv/base';

/**
 * Whether sector 0 is the boot sector of a volume (FAT, NTFS, exFAT) rather than an MBR: both end
 * in 55 AA. A FAT boot sector starts with a jump (EB xx 90 or E9 xx xx) followed by a sane BIOS
 * parameter block; an MBR's boot code may start with a jump too (GRUB's does: EB 63 90), but its
 * "BPB" bytes are not a sane one. Returns what it is, or undefined.
 */
export function volumeBootSectorKind(sector: Uint8Array): 'FAT' | 'NTFS' | 'exFAT' | undefined {
  if (sector.length < 512) return undefined;
  const jump = (sector[0] === 0xeb && sector[2] === 0x90) || sector[0] === 0xe9;
  if (!jump) return undefined;
  const oem = String.fromCharCode(...sector.subarray(3, 11));
  if (oem === 'NTFS    ') return 'NTFS';
  if (oem === 'EXFAT   ') return 'exFAT';
  const bps = u16(sector, 11);
  const spc = sector[13]!;
  const reserved = u16(sector, 14);
  const fats = sector[16]!;
  const media = sector[21]!;
  const pow2 = (v: number): boolean => v > 0 && (v & (v - 1)) === 0;
  if (!(bps >= 512 && bps <= 4096 && pow2(bps))) return undefined;
  if (!pow2(spc)) return undefined;
  if (reserved < 1 || fats < 1 || fats > 4) return undefined;
  if (!(media === 0xf0 || media >= 0xf8)) return undefined;
  return 'FAT';
}
