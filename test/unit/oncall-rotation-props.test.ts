/**
 * Rotation arithmetic as properties (fast-check), over zones with unusual DST: Lord Howe moves 30 minutes,
 * Santiago changes at midnight, Kolkata never, New York and Amsterdam on different dates. For any handoff
 * time, rotation, start and instant: the shift contains the instant, the next handoff is its end, a shift
 * lasts its period give or take the DST change, each handoff is the handoff time on its local date, and
 * the member after a handoff is the next in the list.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parsePolicy } from '../../src/config/config.js';
import { dateOfDayNumber, wallTimeAt, wallTimeToInstant } from '../../src/oncall/local-time.js';
import { nextRotationHandoff, rotationShiftAt } from '../../src/oncall/rotation.js';
import type { RotationSchedule } from '../../src/oncall/schema.js';

const ZONES = [
  'Europe/Amsterdam',
  'America/New_York',
  'Australia/Lord_Howe',
  'America/Santiago',
  'Asia/Kolkata',
  'UTC',
];
const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];
const MEMBERS = ['A', 'B', 'C'].map((name) => ({ name }));
const HOUR = 3600_000;
const DAY_2020 = 18262; // 2020-01-01

const pad = (n: number) => String(n).padStart(2, '0');
const scheduleArb = fc
  .record({
    timezone: fc.constantFrom(...ZONES),
    hour: fc.integer({ min: 0, max: 23 }),
    minute: fc.constantFrom(0, 15, 30, 59),
    weekly: fc.boolean(),
    startDay: fc.integer({ min: DAY_2020, max: DAY_2020 + 3650 }),
  })
  .map(({ timezone, hour, minute, weekly, startDay }) => {
    const start = dateOfDayNumber(startDay);
    const fields = {
      timezone,
      handoff: `${pad(hour)}:${pad(minute)}`,
      rotation: weekly ? 'weekly' : 'daily',
      ...(weekly ? { handoff_day: WEEKDAYS[new Date(startDay * 86_400_000).getUTCDay()] } : {}),
      start: `${start.year}-${pad(start.month)}-${pad(start.day)}`,
      members: MEMBERS,
    };
    const yaml = `routes: [{name: c, repeat: 5m}]\nfallback_route: c\nschedules:\n  s: ${JSON.stringify(fields)}\n`;
    return parsePolicy(yaml, 'props.yaml').schedules.s as RotationSchedule;
  });
// Instants from 2020 to 2031, with a bias towards the DST weeks of the zones above.
const instantArb = fc.oneof(
  fc.integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2031, 0, 1) }),
  fc
    .tuple(
      fc.integer({ min: 2021, max: 2030 }),
      fc.constantFrom(2, 3, 3, 4, 8, 9, 10, 10, 11),
      fc.integer({ min: 0, max: 31 * 24 * 60 }),
    )
    .map(([year, month, minutes]) => Date.UTC(year, month, 1) + minutes * 60_000),
);

describe('rotation arithmetic, for any zone, handoff, start and instant', () => {
  it('the shift holds the instant; its end is the next handoff; a shift is its period ± the DST change', () => {
    fc.assert(
      fc.property(scheduleArb, instantArb, (schedule, at) => {
        const shift = rotationShiftAt(schedule, at);
        if (shift.member === undefined) {
          // Only before the first shift.
          expect(rotationShiftAt(schedule, shift.until).since).toBe(shift.until);
          expect(at).toBeLessThan(shift.until);
          return;
        }
        expect(shift.since).toBeLessThanOrEqual(at);
        expect(shift.until).toBeGreaterThan(at);
        expect(nextRotationHandoff(schedule, at)).toBe(shift.until);
        const period = (schedule.rotation === 'weekly' ? 7 : 1) * 24 * HOUR;
        expect(Math.abs(shift.until - shift.since! - period)).toBeLessThanOrEqual(HOUR);
        for (const handoff of [shift.since!, shift.until]) {
          // Each handoff is the handoff time on its local date (a time in a DST gap maps past it).
          const [hour, minute] = schedule.handoff.split(':').map(Number) as [number, number];
          const date = wallTimeAt(schedule.timezone, handoff);
          expect(wallTimeToInstant(schedule.timezone, { ...date, hour, minute })).toBe(handoff);
        }
        const next = rotationShiftAt(schedule, shift.until);
        expect(next.since).toBe(shift.until);
        const index = (name: string) => MEMBERS.findIndex((m) => m.name === name);
        expect(index(next.member!.name)).toBe((index(shift.member.name) + 1) % MEMBERS.length);
      }),
      { numRuns: 300 },
    );
  });
});
