/**
 * The policy's `schedules:` key (issue 12): NAME → a YAML rotation or an iCal calendar. One flat object per
 * schedule, checked by kind afterwards, so that every refusal names its own key (a zod union would only say
 * "invalid input" for the whole schedule).
 */
import { z } from 'zod';
import { durationSchema } from '../domain/duration.js';
import {
  dateOfDayNumber,
  dayNumber,
  isTimeZone,
  parseClock,
  parseDate,
  type WallTime,
  WEEKDAYS,
  type Weekday,
  weekdayOfDayNumber,
} from './local-time.js';
import type { OnCallMember } from './types.js';

const memberSchema = z.strictObject({
  name: z.string().trim().min(1),
  /** A Slack user id: mentions come from here, never from alert labels. */
  slack: z
    .string()
    .regex(/^[UW][A-Z0-9]{2,}$/, 'a Slack user id such as U0123ABCD')
    .optional(),
  email: z.email().optional(),
  phone: z.string().min(1).optional(),
});

const overrideSchema = z.strictObject({
  /** `YYYY-MM-DD` (that day's handoff time) or `YYYY-MM-DD HH:MM`, in the schedule's timezone. */
  from: z.string().optional(),
  to: z.string().optional(),
  /** Shorthand for from: DATE, to: the day after (one daily shift). */
  date: z.string().optional(),
  member: z.string().trim().min(1),
});

const rawScheduleSchema = z.strictObject({
  // Rotation keys.
  timezone: z.string().optional(),
  handoff: z.string().optional(),
  rotation: z.enum(['daily', 'weekly']).optional(),
  handoff_day: z.enum(WEEKDAYS).optional(),
  start: z.string().optional(),
  overrides: z.array(overrideSchema).optional(),
  // Calendar keys.
  ical: z.string().min(1).optional(),
  refresh: durationSchema.optional(),
  // Both.
  members: z.array(memberSchema).min(1, 'empty rotation: list at least one member'),
  handoff_slack: z
    .string()
    .regex(/^[#@]?[\w.-]+$/, 'a Slack channel such as #oncall or C0123ABC')
    .optional(),
  handoff_always: z.boolean().default(false),
});

/** An override resolved to wall times in the schedule's timezone: [from, to). */
export interface RotationOverride {
  from: WallTime;
  to: WallTime;
  member: string;
}

interface ScheduleCommon {
  members: OnCallMember[];
  /** The handoff digest's channel (read by the handoff digest, not here). */
  handoff_slack?: string | undefined;
  /** Post the digest even when no incident is open. */
  handoff_always: boolean;
}

export interface RotationSchedule extends ScheduleCommon {
  kind: 'rotation';
  timezone: string;
  /** `HH:MM` as written. */
  handoff: string;
  rotation: 'daily' | 'weekly';
  handoff_day?: Weekday | undefined;
  /** Day number (days since 1970-01-01) of the first member's first shift. */
  startDay: number;
  overrides: RotationOverride[];
}

export interface CalendarSchedule extends ScheduleCommon {
  kind: 'ical';
  /** A path (relative to the policy file's directory) or an https URL. */
  ical: string;
  /** Floating and all-day event times are read in this zone; output is shown in it. */
  timezone: string;
  /** A URL calendar is fetched again after this many seconds. */
  refresh: number;
}

export type Schedule = RotationSchedule | CalendarSchedule;

/** Whether an `ical:` value is a URL rather than a file path. */
export function isCalendarUrl(ical: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(ical);
}

/** Shifts are counted from this date when `start` is absent, so who is on call never depends on start-up. */
export const DEFAULT_START = '1970-01-01';
const DEFAULT_REFRESH_SECONDS = 300;
const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/;

const ROTATION_ONLY = ['handoff', 'rotation', 'handoff_day', 'start', 'overrides'] as const;
const CALENDAR_ONLY = ['ical', 'refresh'] as const;

type Ctx = z.RefinementCtx;
const refuse = (ctx: Ctx, path: (string | number)[], message: string) =>
  ctx.addIssue({ code: 'custom', message, path });

/** `YYYY-MM-DD` (at `clock`) or `YYYY-MM-DD HH:MM` / `YYYY-MM-DDTHH:MM`. */
function parseWhen(text: string, clock: { hour: number; minute: number }): WallTime | undefined {
  const match = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}))?$/.exec(text.trim());
  const date = match && parseDate(match[1]!);
  if (!date) return undefined;
  const time = match[2] === undefined ? clock : parseClock(match[2]);
  return time && { ...date, ...time };
}

const wallKey = (w: WallTime) => dayNumber(w) * 1440 + w.hour * 60 + w.minute;

/** An override's times as wall times; each problem is reported through `refuseAt` under the override's path. */
function checkOverride(
  o: z.output<typeof overrideSchema>,
  clock: { hour: number; minute: number },
  refuseAt: (key: string[], message: string) => void,
): RotationOverride | undefined {
  if (o.date !== undefined) {
    if (o.from !== undefined || o.to !== undefined) {
      refuseAt(['date'], 'either date, or from and to, not both');
      return undefined;
    }
    const from = o.date.includes(':') ? undefined : parseWhen(o.date, clock);
    if (!from) {
      refuseAt(['date'], `"${o.date}" is not a date YYYY-MM-DD`);
      return undefined;
    }
    return { from, to: { ...dateOfDayNumber(dayNumber(from) + 1), ...clock }, member: o.member };
  }
  if (o.from === undefined || o.to === undefined) {
    refuseAt([], 'needs from and to (or date)');
    return undefined;
  }
  const from = parseWhen(o.from, clock);
  const to = parseWhen(o.to, clock);
  if (!from) refuseAt(['from'], `"${o.from}" is not YYYY-MM-DD or 'YYYY-MM-DD HH:MM'`);
  if (!to) refuseAt(['to'], `"${o.to}" is not YYYY-MM-DD or 'YYYY-MM-DD HH:MM'`);
  if (!from || !to) return undefined;
  if (wallKey(to) <= wallKey(from)) {
    refuseAt(['to'], `must be after from (${o.from})`);
    return undefined;
  }
  return { from, to, member: o.member };
}

function checkCalendar(raw: z.output<typeof rawScheduleSchema>, ctx: Ctx): CalendarSchedule | undefined {
  for (const key of ROTATION_ONLY)
    if (raw[key] !== undefined)
      refuse(ctx, [key], 'only for a rotation; an iCal schedule takes its shifts from the calendar');
  const ical = raw.ical!;
  if (isCalendarUrl(ical)) {
    let url: URL | undefined;
    try {
      url = new URL(ical);
    } catch {
      refuse(ctx, ['ical'], 'not a valid URL');
    }
    // A private calendar link carries its secret in the URL: plain http would send it in clear.
    if (url && url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.test(url.hostname)))
      refuse(ctx, ['ical'], 'an iCal URL must be https:// (http:// only on a loopback address)');
  }
  const timezone = raw.timezone ?? 'UTC';
  if (!isTimeZone(timezone))
    refuse(ctx, ['timezone'], `"${timezone}" is not an IANA time zone such as Europe/Amsterdam`);
  return {
    kind: 'ical',
    ical,
    timezone,
    refresh: raw.refresh ?? DEFAULT_REFRESH_SECONDS,
    members: raw.members,
    handoff_slack: raw.handoff_slack,
    handoff_always: raw.handoff_always,
  };
}

function checkRotation(raw: z.output<typeof rawScheduleSchema>, ctx: Ctx): RotationSchedule | undefined {
  for (const key of CALENDAR_ONLY)
    if (raw[key] !== undefined) refuse(ctx, [key], 'only for an iCal schedule');
  if (raw.timezone === undefined)
    refuse(ctx, ['timezone'], 'required (an IANA time zone such as Europe/Amsterdam)');
  else if (!isTimeZone(raw.timezone))
    refuse(ctx, ['timezone'], `"${raw.timezone}" is not an IANA time zone such as Europe/Amsterdam`);
  const clock = raw.handoff === undefined ? undefined : parseClock(raw.handoff);
  if (raw.handoff === undefined) refuse(ctx, ['handoff'], "required: the handoff time, 'HH:MM' (24-hour)");
  else if (!clock) refuse(ctx, ['handoff'], `"${raw.handoff}" is not a time 'HH:MM' (24-hour, e.g. '09:00')`);
  if (raw.rotation === undefined) refuse(ctx, ['rotation'], 'required: daily or weekly');
  if (raw.rotation === 'weekly' && raw.handoff_day === undefined)
    refuse(ctx, ['handoff_day'], 'required for a weekly rotation: the weekday of the handoff, e.g. monday');
  if (raw.rotation === 'daily' && raw.handoff_day !== undefined)
    refuse(ctx, ['handoff_day'], 'only for a weekly rotation (a daily one hands off every day)');

  const names = raw.members.map((m) => m.name.toLowerCase());
  const startDate = parseDate(raw.start ?? DEFAULT_START);
  if (!startDate) refuse(ctx, ['start'], `"${raw.start}" is not a date YYYY-MM-DD`);
  let startDay = startDate ? dayNumber(startDate) : 0;
  if (startDate && raw.rotation === 'weekly' && raw.handoff_day) {
    const wanted = WEEKDAYS.indexOf(raw.handoff_day);
    const actual = weekdayOfDayNumber(startDay);
    // Without `start` the anchor is the first handoff weekday on or after DEFAULT_START.
    if (raw.start === undefined) startDay += (wanted - actual + 7) % 7;
    else if (actual !== wanted)
      refuse(
        ctx,
        ['start'],
        `${raw.start} is a ${WEEKDAYS[actual]}, not the handoff_day (${raw.handoff_day})`,
      );
  }

  const overrides: RotationOverride[] = [];
  (raw.overrides ?? []).forEach((o, i) => {
    if (!names.includes(o.member.toLowerCase()))
      refuse(ctx, ['overrides', i, 'member'], `no member named "${o.member}" in this schedule's members`);
    const override =
      clock && checkOverride(o, clock, (key, message) => refuse(ctx, ['overrides', i, ...key], message));
    if (override) overrides.push(override);
  });

  if (!raw.timezone || !clock || !raw.rotation) return undefined;
  return {
    kind: 'rotation',
    timezone: raw.timezone,
    handoff: raw.handoff!,
    rotation: raw.rotation,
    handoff_day: raw.handoff_day,
    startDay,
    overrides,
    members: raw.members,
    handoff_slack: raw.handoff_slack,
    handoff_always: raw.handoff_always,
  };
}

export const scheduleSchema = rawScheduleSchema.transform((raw, ctx): Schedule => {
  const names = raw.members.map((m) => m.name.toLowerCase());
  names.forEach((name, i) => {
    if (names.indexOf(name) !== i)
      refuse(ctx, ['members', i, 'name'], `"${raw.members[i]!.name}" is listed twice`);
  });
  const schedule = raw.ical === undefined ? checkRotation(raw, ctx) : checkCalendar(raw, ctx);
  return schedule ?? z.NEVER;
});

/** `schedules:` in the policy: NAME → schedule. Names are what `schedule:NAME` refers to. */
export const schedulesSchema = z.record(
  z.string().regex(/^[\w-]+$/, 'a schedule name: letters, digits, _ and -'),
  scheduleSchema,
);
export type Schedules = z.output<typeof schedulesSchema>;
