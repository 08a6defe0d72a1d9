/**
 * Rotation arithmetic (issue 12), pure with given instants: who is on call at T, since/until, the next
 * handoff strictly after T, daily and weekly, the start anchor, overrides, and both Amsterdam DST changes of
 * 2026 (29 March: 02:00 → 03:00; 25 October: 03:00 → 02:00), where a 09:00 handoff must stay 09:00 local.
 */
import { describe, expect, it } from 'vitest';
import { parsePolicy } from '../../src/config/config.js';
import { formatInZone, wallTimeToInstant, zoneOffsetAt } from '../../src/oncall/local-time.js';
import { createOnCallResolver } from '../../src/oncall/resolver.js';
import { nextRotationHandoff, rotationShiftAt } from '../../src/oncall/rotation.js';
import type { RotationSchedule } from '../../src/oncall/schema.js';

const MEMBERS = [
  { name: 'Maria Jansen', slack: 'U0123ABCD', email: 'maria@coldchain.example' },
  { name: 'Tom de Vries', slack: 'U0456EFGH' },
  { name: 'Anna Bakker' },
];

/** A rotation as the policy loader makes it, from the YAML an operator would write. */
function rotation(fields: Record<string, unknown>): RotationSchedule {
  const yaml = `routes: [{name: critical, repeat: 5m}]\nfallback_route: critical\nschedules:\n  s: ${JSON.stringify({ members: MEMBERS, ...fields })}\n`;
  const schedule = parsePolicy(yaml, 'test.yaml').schedules.s!;
  if (schedule.kind !== 'rotation') throw new Error('expected a rotation');
  return schedule;
}

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
const who = (schedule: RotationSchedule, instant: string) =>
  rotationShiftAt(schedule, at(instant)).member?.name;

describe('local time ↔ UTC', () => {
  it('knows the Amsterdam offsets either side of both 2026 changes', () => {
    expect(zoneOffsetAt('Europe/Amsterdam', at('2026-03-29T00:59:59Z'))).toBe(3600_000);
    expect(zoneOffsetAt('Europe/Amsterdam', at('2026-03-29T01:00:00Z'))).toBe(7200_000);
    expect(zoneOffsetAt('Europe/Amsterdam', at('2026-10-25T00:59:59Z'))).toBe(7200_000);
    expect(zoneOffsetAt('Europe/Amsterdam', at('2026-10-25T01:00:00Z'))).toBe(3600_000);
  });

  it('maps a wall time to its instant; a skipped one moves past the gap, a repeated one is the first', () => {
    const ams = (day: number, month: number, hour: number, minute = 0) =>
      iso(wallTimeToInstant('Europe/Amsterdam', { year: 2026, month, day, hour, minute }));
    expect(ams(29, 3, 9)).toBe('2026-03-29T07:00:00.000Z');
    expect(ams(28, 3, 9)).toBe('2026-03-28T08:00:00.000Z');
    expect(ams(29, 3, 2, 30)).toBe('2026-03-29T01:30:00.000Z'); // 03:30 CEST: 02:30 does not exist
    expect(ams(25, 10, 2, 30)).toBe('2026-10-25T00:30:00.000Z'); // the first 02:30 (CEST)
    expect(ams(25, 10, 9)).toBe('2026-10-25T08:00:00.000Z');
    expect(formatInZone(at('2026-10-25T08:00:00Z'), 'Europe/Amsterdam')).toBe('2026-10-25 09:00 +01:00');
  });
});

describe('daily rotation', () => {
  const daily = rotation({
    timezone: 'Europe/Amsterdam',
    handoff: '09:00',
    rotation: 'daily',
    start: '2026-03-01',
  });

  it('gives the first member the start day and hands off every day at 09:00 local', () => {
    expect(who(daily, '2026-03-01T08:00:00Z')).toBe('Maria Jansen'); // 09:00 CET on the start day
    expect(who(daily, '2026-03-02T07:59:59Z')).toBe('Maria Jansen');
    expect(who(daily, '2026-03-02T08:00:00Z')).toBe('Tom de Vries');
    expect(who(daily, '2026-03-03T12:00:00Z')).toBe('Anna Bakker');
    expect(who(daily, '2026-03-04T12:00:00Z')).toBe('Maria Jansen');
  });

  it('keeps 09:00 local across the spring change: the shift that spans it lasts 23 hours', () => {
    // 28 March is day 27 from 1 March: 27 % 3 = 0 → Maria; 29 March → Tom.
    const before = rotationShiftAt(daily, at('2026-03-29T06:59:00Z'));
    expect(before.member?.name).toBe('Maria Jansen');
    expect(iso(before.since)).toBe('2026-03-28T08:00:00.000Z'); // 09:00 CET
    expect(iso(before.until)).toBe('2026-03-29T07:00:00.000Z'); // 09:00 CEST
    expect(before.until - before.since!).toBe(23 * 3600_000);
    expect(who(daily, '2026-03-29T07:00:00Z')).toBe('Tom de Vries');
    expect(iso(nextRotationHandoff(daily, at('2026-03-29T07:00:00Z')))).toBe('2026-03-30T07:00:00.000Z');
  });

  it('keeps 09:00 local across the autumn change: the shift that spans it lasts 25 hours', () => {
    const spanning = rotationShiftAt(daily, at('2026-10-25T03:00:00Z'));
    expect(iso(spanning.since)).toBe('2026-10-24T07:00:00.000Z'); // 09:00 CEST
    expect(iso(spanning.until)).toBe('2026-10-25T08:00:00.000Z'); // 09:00 CET
    expect(spanning.until - spanning.since!).toBe(25 * 3600_000);
    const next = rotationShiftAt(daily, at('2026-10-25T08:00:00Z'));
    expect(next.member?.name).not.toBe(spanning.member?.name);
    expect(iso(next.until)).toBe('2026-10-26T08:00:00.000Z');
  });

  it('gives the next handoff strictly after the instant, even at a handoff', () => {
    expect(iso(nextRotationHandoff(daily, at('2026-03-10T07:59:59.999Z')))).toBe('2026-03-10T08:00:00.000Z');
    expect(iso(nextRotationHandoff(daily, at('2026-03-10T08:00:00Z')))).toBe('2026-03-11T08:00:00.000Z');
  });

  it('has nobody before its start, and the first handoff is the start', () => {
    const shift = rotationShiftAt(daily, at('2026-02-28T12:00:00Z'));
    expect(shift.member).toBeUndefined();
    expect(shift.since).toBeUndefined();
    expect(iso(shift.until)).toBe('2026-03-01T08:00:00.000Z');
  });

  it('without start counts shifts from 1970-01-01, so the answer never depends on when it is asked', () => {
    const unanchored = rotation({ timezone: 'UTC', handoff: '00:00', rotation: 'daily' });
    // 2026-03-01 is day 20513 since 1970-01-01; 20513 % 3 = 2 → the third member.
    expect(who(unanchored, '2026-03-01T12:00:00Z')).toBe('Anna Bakker');
    expect(who(unanchored, '1970-01-01T00:00:00Z')).toBe('Maria Jansen');
  });
});

describe('weekly rotation', () => {
  const weekly = rotation({
    timezone: 'Europe/Amsterdam',
    handoff: '09:00',
    rotation: 'weekly',
    handoff_day: 'monday',
    start: '2026-03-16',
  });

  it('hands off on the weekday at the local time, across the spring change', () => {
    expect(who(weekly, '2026-03-16T08:00:00Z')).toBe('Maria Jansen');
    expect(who(weekly, '2026-03-22T23:00:00Z')).toBe('Maria Jansen');
    const second = rotationShiftAt(weekly, at('2026-03-25T12:00:00Z'));
    expect(second.member?.name).toBe('Tom de Vries');
    expect(iso(second.since)).toBe('2026-03-23T08:00:00.000Z'); // Monday 09:00 CET
    expect(iso(second.until)).toBe('2026-03-30T07:00:00.000Z'); // Monday 09:00 CEST
    expect(who(weekly, '2026-03-30T07:00:00Z')).toBe('Anna Bakker');
    expect(who(weekly, '2026-04-06T07:00:00Z')).toBe('Maria Jansen');
  });

  it('keeps Monday 09:00 across the autumn change', () => {
    const shift = rotationShiftAt(weekly, at('2026-10-25T12:00:00Z'));
    expect(iso(shift.since)).toBe('2026-10-19T07:00:00.000Z');
    expect(iso(shift.until)).toBe('2026-10-26T08:00:00.000Z');
  });

  it('without start anchors on the first handoff weekday on or after 1970-01-01 (Monday 5 January)', () => {
    const unanchored = rotation({
      timezone: 'UTC',
      handoff: '00:00',
      rotation: 'weekly',
      handoff_day: 'monday',
    });
    expect(who(unanchored, '1970-01-05T00:00:00Z')).toBe('Maria Jansen');
    expect(who(unanchored, '1970-01-12T00:00:00Z')).toBe('Tom de Vries');
    expect(rotationShiftAt(unanchored, at('1970-01-04T23:59:59Z')).member).toBeUndefined();
  });
});

describe('overrides', () => {
  const withOverrides = rotation({
    timezone: 'Europe/Amsterdam',
    handoff: '09:00',
    rotation: 'daily',
    start: '2026-12-20',
    overrides: [
      { date: '2026-12-24', member: 'Anna Bakker' },
      { from: '2026-12-31 18:00', to: '2027-01-01T12:00', member: 'tom de vries' },
      { from: '2026-12-31', to: '2027-01-02', member: 'Maria Jansen' },
    ],
  });

  // Regular shifts from 20 December: Maria, Tom, Anna, … so 24 Dec Tom, 31 Dec Anna, 1 Jan Maria, 2 Jan Tom.
  it("a date override takes that day's shift, handoff to handoff", () => {
    expect(who(withOverrides, '2026-12-24T07:59:00Z')).toBe('Maria Jansen'); // still the 23rd's shift
    const shift = rotationShiftAt(withOverrides, at('2026-12-24T08:00:00Z'));
    expect(shift.member?.name).toBe('Anna Bakker');
    expect(iso(shift.since)).toBe('2026-12-24T08:00:00.000Z');
    expect(iso(shift.until)).toBe('2026-12-25T08:00:00.000Z');
    expect(who(withOverrides, '2026-12-25T08:00:00Z')).toBe('Anna Bakker'); // her own shift
    expect(who(withOverrides, '2026-12-26T08:00:00Z')).toBe('Maria Jansen');
  });

  it('overlapping overrides: the first listed that covers the instant wins; every edge is a handoff', () => {
    const at31noon = rotationShiftAt(withOverrides, at('2026-12-31T11:00:00Z'));
    expect(at31noon.member?.name).toBe('Maria Jansen'); // third override; regular would be Anna
    expect(iso(at31noon.since)).toBe('2026-12-31T08:00:00.000Z');
    expect(iso(at31noon.until)).toBe('2026-12-31T17:00:00.000Z'); // the second override's from (18:00 CET)
    expect(who(withOverrides, '2026-12-31T18:00:00Z')).toBe('Tom de Vries'); // member matched ignoring case
    expect(who(withOverrides, '2027-01-01T09:00:00Z')).toBe('Tom de Vries');
    expect(who(withOverrides, '2027-01-01T11:00:00Z')).toBe('Maria Jansen');
    expect(who(withOverrides, '2027-01-02T08:00:00Z')).toBe('Tom de Vries'); // back to the rotation

    const handoffs: string[] = [];
    let t = at('2026-12-31T07:00:00Z');
    for (let i = 0; i < 5; i++) {
      t = nextRotationHandoff(withOverrides, t);
      handoffs.push(iso(t)!);
    }
    expect(handoffs).toEqual([
      '2026-12-31T08:00:00.000Z',
      '2026-12-31T17:00:00.000Z',
      '2027-01-01T08:00:00.000Z',
      '2027-01-01T11:00:00.000Z',
      '2027-01-02T08:00:00.000Z',
    ]);
  });
});

describe('the resolver over rotations', () => {
  const schedules = {
    primary: rotation({
      timezone: 'Europe/Amsterdam',
      handoff: '09:00',
      rotation: 'daily',
      start: '2026-03-01',
    }),
  };
  const resolver = createOnCallResolver(schedules, { baseDir: '.' });

  it('answers with the member, since and until, and the next handoff', async () => {
    expect(resolver.names()).toEqual(['primary']);
    expect(await resolver.whoIsOnCall('primary', at('2026-03-01T12:00:00Z'))).toEqual({
      ok: true,
      schedule: 'primary',
      members: [MEMBERS[0]],
      since: at('2026-03-01T08:00:00Z'),
      until: at('2026-03-02T08:00:00Z'),
    });
    expect(await resolver.nextHandoff('primary', at('2026-03-01T12:00:00Z'))).toBe(
      at('2026-03-02T08:00:00Z'),
    );
  });

  it('says why when it cannot name anyone, without throwing', async () => {
    expect(await resolver.whoIsOnCall('primary', at('2026-02-01T12:00:00Z'))).toEqual({
      ok: false,
      schedule: 'primary',
      reason: 'nobody is on call in schedule primary before its first shift (2026-03-01 09:00 +01:00)',
    });
    expect(await resolver.whoIsOnCall('tertiary', 0)).toEqual({
      ok: false,
      schedule: 'tertiary',
      reason: 'no schedule named "tertiary" (configured: primary)',
    });
    expect(await resolver.whoIsOnCall('__proto__', 0)).toMatchObject({ ok: false });
    expect(await resolver.nextHandoff('tertiary', 0)).toBeUndefined();
  });
});
