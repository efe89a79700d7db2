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
 * Parses `--tz`: 'UTC', '+HH:MM'/'-HH:MM', 'local' (the offset of this machine's zone at the
 * given instant, as the kernel would use it when mounting here), or an IANA zone such as
 * 'Europe/Paris' (its offset at the given instant).
 */
export function parseTimeZone(tz: string): (unixSeconds: number) => number {
  if (tz === 'UTC' || tz === 'utc' || tz === 'Z') return () => 0;
  const m = /^([+-])(\d{1,2}):?(\d{2})$/.exec(tz);
  if (m) {
    const off = (Number(m[2]) * 3600 + Number(m[3]) * 60) * (m[1] === '-' ? -1 : 1);
    return () => off;
  }
  if (tz === 'local') return (s) => -new Date(s * 1000).getTimezoneOffset() * 60;
  const zone = zoneOffsets(tz);
  if (zone !== null) return zone;
  throw new Error(`unknown time zone '${tz}' (use local, UTC, an IANA zone such as Europe/Paris, or ±HH:MM)`);
}

/**
 * An IANA zone's offset at each instant, from Intl (null when Intl does not know the zone). Only
 * instants near FAT's range matter (others are clamped). Offsets are kept per quarter hour when
 * both ends of it agree (a zone changes offset at most once in 15 minutes), so a large tree asks
 * Intl a few times per distinct quarter hour rather than three times per file.
 */
function zoneOffsets(tz: string): ((unixSeconds: number) => number) | null {
  let f: Intl.DateTimeFormat;
  try {
    f = new Intl.DateTimeFormat('en-US', { timeZone: tz, timeZoneName: 'longOffset' });
  } catch {
    return null;
  }
  const at = (s: number): number => {
    const name = f.formatToParts(new Date(s * 1000)).find((p) => p.type === 'timeZoneName')?.value ?? '';
    const o = /^GMT(?:([+-])(\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(name);
    if (!o) throw new Error(`time zone '${tz}': cannot read the offset '${name}'`);
    if (o[1] === undefined) return 0;
    return (Number(o[2]) * 3600 + Number(o[3]) * 60 + Number(o[4] ?? 0)) * (o[1] === '-' ? -1 : 1);
  };
  const QUARTER = 900;
  const cache = new Map<number, number | null>();
  return (s) => {
    const t = Math.min(Math.max(Math.floor(s), MIN_UNIX - 2 * 86400), MAX_UNIX + 2 * 86400);
    const q = Math.floor(t / QUARTER);
    let off = cache.get(q);
    if (off === undefined) {
      const a = at(q * QUARTER);
      off = a === at(q * QUARTER + QUARTER - 1) ? a : null;
      if (cache.size >= 65536) cache.clear();
      cache.set(q, off);
    }
    return off ?? at(t);
  };
}
