/**
 * Wall-clock time in an IANA zone ↔ UTC instants, with Intl only (Node 20 has no Temporal). Rotations are
 * written in local time ("09:00 in Europe/Amsterdam"), so a handoff must stay 09:00 local across DST changes;
 * adding 24 h to an instant would drift an hour twice a year. Pure: no clock, no I/O.
 */

/** A civil date and time with no zone: what a person reads on a wall clock. Months are 1-12. */
export interface WallTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
}

const DAY_MS = 86_400_000;
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** Whether Intl knows `timeZone` as an IANA zone (or UTC). */
export function isTimeZone(timeZone: string): boolean {
  if (!timeZone.trim()) return false;
  try {
    formatterFor(timeZone);
    return true;
  } catch {
    return false;
  }
}

function partsAt(timeZone: string, at: number): WallTime & { second: number } {
  const formatter = formatterFor(timeZone);
  // format() and a pattern are about 3x faster than formatToParts(), which stays the fallback.
  const match = /^(\d{1,2})\/(\d{1,2})\/(\d{4}), (\d{2}):(\d{2}):(\d{2})$/.exec(formatter.format(at));
  if (match) {
    const [month, day, year, hour, minute, second] = match.slice(1).map(Number) as number[];
    return { year: year!, month: month!, day: day!, hour: hour!, minute: minute!, second: second! };
  }
  const values: Record<string, number> = {};
  for (const part of formatter.formatToParts(at))
    if (part.type !== 'literal') values[part.type] = Number(part.value);
  return {
    year: values.year!,
    month: values.month!,
    day: values.day!,
    hour: values.hour!,
    minute: values.minute!,
    second: values.second!,
  };
}

/** The zone's offset from UTC at instant `at`, in ms (Europe/Amsterdam in summer: +7,200,000). */
export function zoneOffsetAt(timeZone: string, at: number): number {
  const p = partsAt(timeZone, at);
  const wall = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return wall - Math.floor(at / 1000) * 1000;
}

/** The wall time in `timeZone` at instant `at` (seconds dropped). */
export function wallTimeAt(timeZone: string, at: number): WallTime {
  const { year, month, day, hour, minute } = partsAt(timeZone, at);
  return { year, month, day, hour, minute };
}

/**
 * The instant at which clocks in `timeZone` show `wall`. A wall time shown twice (autumn: clocks go back) is
 * its first occurrence; one never shown (spring: clocks jump forward) is taken with the offset before the
 * jump, so 02:30 on the day Amsterdam skips 02:00-03:00 is 03:30 CEST: the shift still starts that day.
 */
export function wallTimeToInstant(timeZone: string, wall: WallTime): number {
  const asUtc = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute);
  // Offsets a day either side bracket any one DST change; real zones never change twice within a day.
  const before = zoneOffsetAt(timeZone, asUtc - DAY_MS);
  const after = zoneOffsetAt(timeZone, asUtc + DAY_MS);
  if (before === after) return asUtc - before; // no change near: the common case, one answer
  const valid = [asUtc - before, asUtc - after].filter((at) => at + zoneOffsetAt(timeZone, at) === asUtc);
  return valid.length ? Math.min(...valid) : asUtc - before;
}

/** Days since 1970-01-01 of a civil date (proleptic Gregorian). */
export function dayNumber(date: { year: number; month: number; day: number }): number {
  return Date.UTC(date.year, date.month - 1, date.day) / DAY_MS;
}

/** The civil date `days` after 1970-01-01. */
export function dateOfDayNumber(days: number): { year: number; month: number; day: number } {
  const d = new Date(days * DAY_MS);
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

export const WEEKDAYS = [
  'sunday',
  'monday',
  'tuesday',
  'wednesday',
  'thursday',
  'friday',
  'saturday',
] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** 0 = Sunday … 6 = Saturday (1970-01-01 was a Thursday). */
export function weekdayOfDayNumber(days: number): number {
  return (((days + 4) % 7) + 7) % 7;
}

/** `YYYY-MM-DD` as a civil date, or undefined when it is not a real date. */
export function parseDate(text: string): { year: number; month: number; day: number } | undefined {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!match) return undefined;
  const date = { year: Number(match[1]), month: Number(match[2]), day: Number(match[3]) };
  const back = dateOfDayNumber(dayNumber(date));
  return back.year === date.year && back.month === date.month && back.day === date.day ? date : undefined;
}

/** `HH:MM` (24-hour) as hours and minutes, or undefined. */
export function parseClock(text: string): { hour: number; minute: number } | undefined {
  const match = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(text);
  return match ? { hour: Number(match[1]), minute: Number(match[2]) } : undefined;
}

const pad = (n: number) => String(n).padStart(2, '0');

/** `2026-03-29 09:00 +02:00`: the wall time in `timeZone` with its offset, for people. */
export function formatInZone(at: number, timeZone: string): string {
  const w = wallTimeAt(timeZone, at);
  const offset = Math.round(zoneOffsetAt(timeZone, at) / 60_000);
  const sign = offset < 0 ? '-' : '+';
  const abs = Math.abs(offset);
  return `${w.year}-${pad(w.month)}-${pad(w.day)} ${pad(w.hour)}:${pad(w.minute)} ${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}
