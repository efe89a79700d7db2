/**
 * FAT timestamps: local date and time with 2-second resolution (10 ms for creation time), years
 * 1980..2107, no zone. We convert with a fixed UTC offset chosen by the caller (`--tz`): the kernel
 * uses the local zone at mount time; tests set TZ=UTC. Out-of-range times are clamped like Linux's
 * fat_time_unix2fat: before 1980 → 1980-01-01 00:00:00, after 2107 → 2107-12-31 23:59:58.
 */
export interface FatDateTime {
  date: number;
  time: number;
  /** Creation time only: 10 ms units 0..199 added to `time`. */
  centis: number;
}

const MIN_UNIX = Date.UTC(1980, 0, 1) / 1000;
const MAX_UNIX = Date.UTC(2107, 11, 31, 23, 59, 58) / 1000;

/** Encodes Unix seconds (+ nanoseconds) as FAT local time, `offsetSeconds` east of UTC. */
export function unixToFat(sec: number, nsec: number, offsetSeconds: number): FatDateTime {
  let local = sec + offsetSeconds;
  let subsec = nsec;
  if (local < MIN_UNIX) {
    local = MIN_UNIX;
    subsec = 0;
  } else if (local > MAX_UNIX) {
    local = MAX_UNIX;
    subsec = 0;
  }
  const d = new Date(local * 1000);
  const date = ((d.getUTCFullYear() - 1980) << 9) | ((d.getUTCMonth() + 1) << 5) | d.getUTCDate();
  const time = (d.getUTCHours() << 11) | (d.getUTCMinutes() << 5) | (d.getUTCSeconds() >> 1);
  const centis = (d.getUTCSeconds() & 1) * 100 + Math.floor(subsec / 10_000_000);
  return { date, time, centis };
}

/** Decodes a FAT date/time (local, `offsetSeconds` east of UTC) to Unix seconds; invalid fields give null. */
export function fatToUnix(date: number, time: number, offsetSeconds: number, centis = 0): number | null {
  const year = 1980 + (date >> 9);
  const month = (date >> 5) & 15;
  const day = date & 31;
  const hour = time >> 11;
  const minute = (time >> 5) & 63;
  const second = (time & 31) * 2 + Math.floor(centis / 100);
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return null;
  return Date.UTC(year, month - 1, day, hour, minute, second) / 1000 - offsetSeconds;
}

/**
 * Parses `--tz`: 'UTC', '+HH:MM'/'-HH:MM', or 'local' (the offset of this machine's zone at the
 * given instant, as the kernel would use it when mounting here).
 */
export function parseTimeZone(tz: string): (unixSeconds: number) => number {
  if (tz === 'UTC' || tz === 'utc' || tz === 'Z') return () => 0;
  const m = /^([+-])(\d{1,2}):?(\d{2})$/.exec(tz);
  if (m) {
    const off = (Number(m[2]) * 3600 + Number(m[3]) * 60) * (m[1] === '-' ? -1 : 1);
    return () => off;
  }
  if (tz === 'local') return (s) => -new Date(s * 1000).getTimezoneOffset() * 60;
  throw new Error(`unknown time zone '${tz}' (use local, UTC or ±HH:MM)`);
}
