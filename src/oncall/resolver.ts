/**
 * The OnCallResolver (types.ts) over the policy's schedules: rotations by arithmetic, calendars by their
 * occurrences. Every failure is an answer (`ok: false` with a reason a message can quote after
 * "on-call unknown (…)"), never a throw, because an escalation step must still reach its other destinations.
 * `relay_oncall_errors_total{schedule}` counts failed calendar fetches and answers that met an event whose
 * SUMMARY names no member: both mean the schedule needs fixing.
 */
import { type Calendar, calendarAt } from './calendar.js';
import { type CalendarSource, fileCalendarSource, urlCalendarSource } from './calendar-source.js';
import { formatInZone } from './local-time.js';
import { nextRotationHandoff, rotationShiftAt } from './rotation.js';
import { isCalendarUrl, type Schedule, type Schedules } from './schema.js';
import type { OnCallAnswer, OnCallMember, OnCallResolver } from './types.js';

export interface OnCallResolverOptions {
  /** Relative iCal paths are read from here: the policy file's directory. */
  baseDir: string;
  fetch?: typeof fetch;
  /** The clock for URL caching only; the instant asked about is always an argument. */
  now?: () => number;
  /** The relay's metrics (createMetrics), or any object with the same counter. */
  metrics?: { oncallErrors: { inc(labels: { schedule: string }): void } };
  log?: { warn(fields: Record<string, unknown>, message: string): void };
  /** One calendar download (default 10 s). */
  fetchTimeoutMs?: number;
}

/** Reads every iCal file now (a file that became unreadable since the start-up checks throws). */
export function createOnCallResolver(schedules: Schedules, options: OnCallResolverOptions): OnCallResolver {
  const countError = (schedule: string) => options.metrics?.oncallErrors.inc({ schedule });
  const sources = new Map<string, CalendarSource>();
  for (const [name, schedule] of Object.entries(schedules)) {
    if (schedule.kind !== 'ical') continue;
    sources.set(
      name,
      isCalendarUrl(schedule.ical)
        ? urlCalendarSource(schedule, {
            fetch: options.fetch ?? globalThis.fetch,
            now: options.now ?? Date.now,
            timeoutMs: options.fetchTimeoutMs ?? 10_000,
            onFailure: (reason) => {
              countError(name);
              options.log?.warn(
                { schedule: name, reason },
                `schedule ${name}: the iCal URL could not be fetched (the last good copy is used for up to 24 h)`,
              );
            },
          })
        : fileCalendarSource(schedule, options.baseDir),
    );
  }

  /** A recurrence ical.js cannot expand further surfaces here, late: an answer, not a throw. */
  function shiftsAt(name: string, calendar: Calendar, at: number) {
    try {
      return calendarAt(calendar, at);
    } catch (error) {
      countError(name);
      options.log?.warn(
        { schedule: name, reason: (error as Error).message },
        `schedule ${name}: the calendar cannot be read`,
      );
      return undefined;
    }
  }

  const unknownSchedule = (name: string): OnCallAnswer => ({
    ok: false,
    schedule: name,
    reason: `no schedule named "${name}" (configured: ${Object.keys(schedules).join(', ') || 'none'})`,
  });

  async function whoIsOnCall(name: string, at: number): Promise<OnCallAnswer> {
    const schedule: Schedule | undefined = Object.hasOwn(schedules, name) ? schedules[name] : undefined;
    if (!schedule) return unknownSchedule(name);
    if (schedule.kind === 'rotation') {
      const shift = rotationShiftAt(schedule, at);
      if (!shift.member)
        return {
          ok: false,
          schedule: name,
          reason: `nobody is on call in schedule ${name} before its first shift (${formatInZone(shift.until, schedule.timezone)})`,
        };
      return { ok: true, schedule: name, members: [shift.member], since: shift.since, until: shift.until };
    }
    const calendar = await sources.get(name)!.current();
    const found = calendar && shiftsAt(name, calendar, at);
    if (!found) return { ok: false, schedule: name, reason: `schedule ${name} unreadable` };
    const { covering, since, until } = found;
    const members: OnCallMember[] = [];
    for (const occurrence of covering.sort((a, b) => a.start - b.start)) {
      const wanted = occurrence.summary.trim().toLowerCase();
      const member = schedule.members.find((m) => m.name.toLowerCase() === wanted);
      if (!member) {
        countError(name);
        return {
          ok: false,
          schedule: name,
          reason: `no member named "${occurrence.summary.trim()}" in schedule ${name}`,
        };
      }
      if (!members.includes(member)) members.push(member);
    }
    if (!members.length)
      return {
        ok: false,
        schedule: name,
        reason: `nobody is on call in schedule ${name}: no event at that time${until === undefined ? '' : ` (the next starts ${formatInZone(until, schedule.timezone)})`}`,
      };
    return { ok: true, schedule: name, members, since, until };
  }

  async function nextHandoff(name: string, after: number): Promise<number | undefined> {
    const schedule = Object.hasOwn(schedules, name) ? schedules[name] : undefined;
    if (!schedule) return undefined;
    if (schedule.kind === 'rotation') return nextRotationHandoff(schedule, after);
    const calendar = await sources.get(name)!.current();
    return calendar && shiftsAt(name, calendar, after)?.until;
  }

  return { names: () => Object.keys(schedules), whoIsOnCall, nextHandoff };
}
