/**
 * An iCal calendar as on-call shifts (issue 12): each VEVENT occurrence is a shift of the member its SUMMARY
 * names. ical.js expands recurrences (RRULE, RDATE, EXDATE) and relates RECURRENCE-ID exceptions; times are
 * turned into instants here: TZID by its IANA name through Intl (the same DST rules as rotations), else by the
 * file's own VTIMEZONE (Outlook writes Windows zone names); floating and all-day times in the schedule's zone.
 * Occurrences are expanded lazily and kept, so asking about "now" again costs no re-expansion. No I/O.
 */
import ICAL from 'ical.js';
import { isTimeZone, wallTimeToInstant } from './local-time.js';

export interface Occurrence {
  start: number;
  end: number;
  summary: string;
}

interface Series {
  master: ICAL.Event;
  expansion: ICAL.RecurExpansion;
  startZone: string | undefined;
  /** Start of the last recurrence id taken from the expansion. */
  reached: number;
  count: number;
  done: boolean;
}

/** A recurrence that never ends is expanded at most this far per series (270 years of daily events). */
const MAX_OCCURRENCES = 100_000;

/** The zone a time was written in: its TZID, or undefined for floating, all-day and UTC times. */
function zoneNameOf(time: ICAL.Time): string | undefined {
  if (time.isDate) return undefined;
  // ical.js keeps an unregistered TZID as `timezone` (absent from its typings) and leaves the zone floating.
  const tzid = (time as ICAL.Time & { timezone?: string }).timezone;
  if (tzid) return tzid;
  const zone = time.zone?.tzid;
  return zone && zone !== 'floating' ? zone : undefined;
}

export class Calendar {
  private readonly singles: Occurrence[] = [];
  private readonly series: Series[] = [];
  private readonly expanded: Occurrence[] = [];
  private readonly zones = new Map<string, ICAL.Timezone>();

  /** Throws an Error saying what is wrong when `text` is not a usable calendar. */
  constructor(
    text: string,
    private readonly timezone: string,
  ) {
    let root: ICAL.Component;
    try {
      root = new ICAL.Component(ICAL.parse(text) as unknown[]);
    } catch (error) {
      throw new Error(`not an iCalendar file: ${(error as Error).message}`);
    }
    if (root.name !== 'vcalendar')
      throw new Error(`not an iCalendar file: it starts with ${root.name.toUpperCase()}, not VCALENDAR`);
    for (const component of root.getAllSubcomponents('vtimezone')) {
      const zone = new ICAL.Timezone(component);
      this.zones.set(zone.tzid, zone);
    }
    const events = root.getAllSubcomponents('vevent').map((component) => new ICAL.Event(component));
    const cancelled = (event: ICAL.Event) => event.component.getFirstPropertyValue('status') === 'CANCELLED';
    const masters = new Map<string, ICAL.Event>();
    for (const event of events) {
      if (!event.startDate) throw new Error(`the event "${event.summary ?? event.uid}" has no DTSTART`);
      if (!event.isRecurrenceException() && !cancelled(event)) masters.set(event.uid, event);
    }
    for (const event of events) {
      // A cancelled exception still replaces its instance, so that instance disappears.
      if (event.isRecurrenceException()) masters.get(event.uid)?.relateException(event);
      if (cancelled(event) || (!event.isRecurrenceException() && event.isRecurring())) continue;
      // An exception is a shift of its own: its times may move far from the instance it replaces.
      this.singles.push(this.occurrenceOf(event));
    }
    for (const master of masters.values()) {
      if (!master.isRecurring()) continue;
      const series: Series = {
        master,
        expansion: master.iterator(),
        startZone: zoneNameOf(master.startDate),
        reached: -Infinity,
        count: 0,
        done: false,
      };
      this.series.push(series);
      // The first occurrence now, so a bad zone or rule is refused when the calendar is read.
      this.extend(series, -Infinity);
    }
  }

  /** Every occurrence starting at or before `t`, plus each series' first one after it. */
  occurrencesThrough(t: number): Occurrence[] {
    for (const series of this.series) this.extend(series, t);
    return [...this.singles, ...this.expanded];
  }

  private extend(series: Series, t: number): void {
    while (!series.done && series.reached <= t) {
      const next = series.expansion.next();
      series.count += 1;
      if (!next || series.count > MAX_OCCURRENCES) {
        series.done = true;
        break;
      }
      const details = series.master.getOccurrenceDetails(next);
      series.reached = this.toInstant(next, series.startZone);
      // Exceptions are among the singles already (a cancelled one nowhere).
      if (details.item !== series.master) continue;
      // The end is the start's wall time plus the event's duration, in the start's zone (RFC 5545 §3.8.2.5).
      this.expanded.push({
        start: series.reached,
        end: this.toInstant(details.endDate, series.startZone),
        summary: series.master.summary ?? '',
      });
    }
  }

  private occurrenceOf(event: ICAL.Event): Occurrence {
    const start = this.toInstant(event.startDate, zoneNameOf(event.startDate));
    const end = event.endDate ? this.toInstant(event.endDate, zoneNameOf(event.endDate)) : start;
    return { start, end, summary: event.summary ?? '' };
  }

  private toInstant(time: ICAL.Time, zoneName: string | undefined): number {
    const wall = {
      year: time.year,
      month: time.month,
      day: time.day,
      hour: time.isDate ? 0 : time.hour,
      minute: time.isDate ? 0 : time.minute,
    };
    const seconds = (time.isDate ? 0 : time.second) * 1000;
    if (!time.isDate && (time.zone === ICAL.Timezone.utcTimezone || zoneName === 'UTC' || zoneName === 'Z'))
      return Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute) + seconds;
    if (!zoneName) return wallTimeToInstant(this.timezone, wall) + seconds;
    if (isTimeZone(zoneName)) return wallTimeToInstant(zoneName, wall) + seconds;
    const zone = this.zones.get(zoneName);
    if (!zone)
      throw new Error(
        `TZID "${zoneName}" is neither an IANA time zone nor defined by a VTIMEZONE in the file`,
      );
    return (
      Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute) +
      seconds -
      zone.utcOffset(time) * 1000
    );
  }
}

/** The occurrences covering `at`, and the boundaries (starts and ends) around it. */
export function calendarAt(
  calendar: Calendar,
  at: number,
): { covering: Occurrence[]; since: number | undefined; until: number | undefined } {
  const covering: Occurrence[] = [];
  let since: number | undefined;
  let until: number | undefined;
  for (const occurrence of calendar.occurrencesThrough(at)) {
    if (occurrence.end <= occurrence.start) continue;
    if (occurrence.start <= at && at < occurrence.end) covering.push(occurrence);
    for (const edge of [occurrence.start, occurrence.end]) {
      if (edge <= at && (since === undefined || edge > since)) since = edge;
      if (edge > at && (until === undefined || edge < until)) until = edge;
    }
  }
  return { covering, since, until };
}
