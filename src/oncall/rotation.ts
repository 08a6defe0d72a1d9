/**
 * Who a YAML rotation puts on call at an instant: pure arithmetic on local dates, no clock and no I/O.
 * Shift k starts at the handoff time on day `startDay + k × period` in the schedule's zone, so a 09:00
 * handoff stays 09:00 local across DST changes (that shift is 23 or 25 hours long). Overrides take the
 * shift over between their `from` and `to`; their edges are handoffs too.
 */
import { dateOfDayNumber, dayNumber, parseClock, wallTimeAt, wallTimeToInstant } from './local-time.js';
import type { RotationSchedule } from './schema.js';
import type { OnCallMember } from './types.js';

export interface RotationShift {
  /** Undefined before the first shift (`start`) when no override covers the instant. */
  member: OnCallMember | undefined;
  /** The handoff that began this shift; undefined before the first shift. */
  since: number | undefined;
  /** The next handoff, strictly after the instant asked about. */
  until: number;
}

const periodOf = (schedule: RotationSchedule) => (schedule.rotation === 'weekly' ? 7 : 1);

function shiftStart(schedule: RotationSchedule, k: number): number {
  const clock = parseClock(schedule.handoff)!;
  const date = dateOfDayNumber(schedule.startDay + k * periodOf(schedule));
  return wallTimeToInstant(schedule.timezone, { ...date, ...clock });
}

/** The index of the shift running at `at` (negative before `start`). */
function shiftIndexAt(schedule: RotationSchedule, at: number): number {
  const today = dayNumber(wallTimeAt(schedule.timezone, at));
  let k = Math.floor((today - schedule.startDay) / periodOf(schedule));
  // Before today's handoff, yesterday's (or last week's) shift is still running.
  while (shiftStart(schedule, k) > at) k -= 1;
  while (shiftStart(schedule, k + 1) <= at) k += 1;
  return k;
}

function memberNamed(schedule: RotationSchedule, name: string): OnCallMember | undefined {
  const wanted = name.toLowerCase();
  return schedule.members.find((m) => m.name.toLowerCase() === wanted);
}

/** The shift running at `at`: its member (an override's if one covers `at`), since and until. */
export function rotationShiftAt(schedule: RotationSchedule, at: number): RotationShift {
  const k = shiftIndexAt(schedule, at);
  const n = schedule.members.length;
  let member = k >= 0 ? schedule.members[k % n] : undefined;
  let since = k >= 0 ? shiftStart(schedule, k) : undefined;
  // Before the first shift there are no handoffs: the next one is the start.
  let until = shiftStart(schedule, Math.max(k + 1, 0));
  let overridden = false;
  for (const override of schedule.overrides) {
    const from = wallTimeToInstant(schedule.timezone, override.from);
    const to = wallTimeToInstant(schedule.timezone, override.to);
    for (const edge of [from, to]) {
      if (edge <= at && (since === undefined || edge > since)) since = edge;
      if (edge > at && edge < until) until = edge;
    }
    // The first override listed that covers the instant wins.
    if (!overridden && from <= at && at < to) {
      member = memberNamed(schedule, override.member);
      overridden = true;
    }
  }
  return { member, since, until };
}

/** The first handoff strictly after `after`: a shift change or an override's edge. */
export function nextRotationHandoff(schedule: RotationSchedule, after: number): number {
  return rotationShiftAt(schedule, after).until;
}
