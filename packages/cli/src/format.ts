/** Human formatting helpers for the CLI's text output. */

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}

export function formatUuid(bytes: Uint8Array): string {
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** `ls -l` style permission string from a full st_mode. */
export function modeString(mode: number): string {
  const typeChar: Record<number, string> = { 0o140000: 's', 0o120000: 'l', 0o100000: '-', 0o060000: 'b', 0o040000: 'd', 0o020000: 'c', 0o010000: 'p' };
  const t = typeChar[mode & 0o170000] ?? '?';
  const rwx = (bits: number, special: boolean, ch: string): string =>
    (bits & 4 ? 'r' : '-') + (bits & 2 ? 'w' : '-') + (special ? (bits & 1 ? ch : ch.toUpperCase()) : bits & 1 ? 'x' : '-');
  return t + rwx((mode >> 6) & 7, (mode & 0o4000) !== 0, 's') + rwx((mode >> 3) & 7, (mode & 0o2000) !== 0, 's') + rwx(mode & 7, (mode & 0o1000) !== 0, 't');
}

export function formatTime(sec: number): string {
  return new Date(sec * 1000).toISOString().replace('T', ' ').replace('.000Z', 'Z');
}

/** A trailing-NUL-terminated label as text (invalid UTF-8 shown as U+FFFD). */
export function cString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return new TextDecoder().decode(end < 0 ? bytes : bytes.subarray(0, end));
}

export interface ConversionNotesView {
  renames: Array<{ path: string; fatName: string; reason: string }>;
  duplicates: Array<{ path: string; of: string }>;
  losses: Array<{ path: string; what: string }>;
}

/** The report's lists of renames, duplicated hard links and losses (50 of each; all with --json). */
export function formatNotes(n: ConversionNotesView): string[] {
  const lines: string[] = [];
  const list = <T>(title: string, items: T[], fmt: (t: T) => string): void => {
    if (items.length === 0) return;
    lines.push(`${title} (${items.length}):`);
    for (const it of items.slice(0, 50)) lines.push(`  ${fmt(it)}`);
    if (items.length > 50) lines.push(`  … and ${items.length - 50} more (see --json)`);
  };
  list('Renamed', n.renames, (x) => `${x.path} → ${x.fatName} (${x.reason})`);
  list('Duplicated hard links', n.duplicates, (x) => `${x.path} (copy of ${x.of})`);
  list('Not kept', n.losses, (x) => `${x.path}: ${x.what}`);
  return lines;
}
