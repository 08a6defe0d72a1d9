/**
 * Times as people read them in a message: in the policy's `display_timezone` (UTC by default), with the
 * date only when the time is not on the same calendar day as the message. Pure: "today" is the `now` the
 * message is built at, never the process clock.
 */
import { formatElapsed } from './duration.js';

export const DEFAULT_DISPLAY_TIMEZONE = 'UTC';

export interface DisplayClock {
  timeZone: string;
  /** "14:20 UTC", or "26 Nov 14:20 UTC" when not on the same day as `now`. */
  format(ms: number): string;
  /** "14:20 UTC, 2h ago" for a time already past, else what `format` says. */
  formatDue(ms: number): string;
  isPast(ms: number): boolean;
}

interface ZoneFormatters {
  timeZone: string;
  time: Intl.DateTimeFormat;
  day: Intl.DateTimeFormat;
  calendarDay: Intl.DateTimeFormat;
  zone: Intl.DateTimeFormat;
}

/**
 * Building a DateTimeFormat costs far more than using one (about 15% of a delivery's CPU when built per
 * message), and a relay uses one or two zones: kept per requested zone for the life of the process.
 */
const formattersByZone = new Map<string, ZoneFormatters>();

/** Whether Intl knows the zone; the policy check uses it to refuse a mistyped `display_timezone`. */
export function isKnownTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-GB', { timeZone });
    return true;
  } catch {
    return false;
  }
}

function formattersFor(requestedZone: string): ZoneFormatters {
  let found = formattersByZone.get(requestedZone);
  if (!found) {
    // A zone that slipped past the policy check must cost the message its local times, not the message.
    const timeZone = isKnownTimeZone(requestedZone) ? requestedZone : DEFAULT_DISPLAY_TIMEZONE;
    found = {
      timeZone,
      time: new Intl.DateTimeFormat('en-GB', {
        timeZone,
        hour: '2-digit',
        minute: '2-digit',
        hourCycle: 'h23',
      }),
      day: new Intl.DateTimeFormat('en-GB', { timeZone, day: 'numeric', month: 'short' }),
      calendarDay: new Intl.DateTimeFormat('en-GB', {
        timeZone,
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
      }),
      zone: new Intl.DateTimeFormat('en-GB', { timeZone, timeZoneName: 'short' }),
    };
    // Zone names come from configuration, but bound the map anyway.
    if (formattersByZone.size < 64) formattersByZone.set(requestedZone, found);
  }
  return found;
}

export function createDisplayClock(timeZone: string | undefined, now: number): DisplayClock {
  const f = formattersFor(timeZone ?? DEFAULT_DISPLAY_TIMEZONE);
  const valid = (ms: number) => !Number.isNaN(new Date(ms).getTime());
  const today = valid(now) ? f.calendarDay.format(now) : '';
  const format = (ms: number) => {
    // A snapshot stored before timestamps were checked may hold one Date cannot represent.
    if (!valid(ms)) return 'an unknown time';
    const zoneName =
      f.zone.formatToParts(ms).find((part) => part.type === 'timeZoneName')?.value ?? f.timeZone;
    const date = f.calendarDay.format(ms) === today ? '' : `${f.day.format(ms)} `;
    return `${date}${f.time.format(ms)} ${zoneName}`;
  };
  return {
    timeZone: f.timeZone,
    format,
    isPast: (ms) => valid(ms) && ms < now,
    formatDue: (ms) =>
      valid(ms) && ms < now ? `${format(ms)}, ${formatElapsed(now - ms, 'down')} ago` : format(ms),
  };
}
