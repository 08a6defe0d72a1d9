/**
 * iCal schedules (issue 12) over fixture files: a recurring weekly event with RRULE and EXDATE, a
 * RECURRENCE-ID exception, TZID by IANA name and by the file's own VTIMEZONE, UTC and all-day events, an
 * unknown SUMMARY (counted) and a gap with nobody on call. No network: file calendars only.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parsePolicy } from '../../src/config/config.js';
import { createOnCallResolver } from '../../src/oncall/resolver.js';
import type { Schedules } from '../../src/oncall/schema.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/oncall/', import.meta.url));
const MEMBERS = [
  { name: 'Anna Bakker', slack: 'U0789IJKL', email: 'anna@coldchain.example' },
  { name: 'Joost Visser', email: 'joost@coldchain.example' },
];

function calendarSchedules(fields: Record<string, unknown>): Schedules {
  const yaml = `routes: [{name: critical, repeat: 5m}]\nfallback_route: critical\nschedules:\n  secondary: ${JSON.stringify({ members: MEMBERS, ...fields })}\n`;
  return parsePolicy(yaml, 'test.yaml').schedules;
}

function countingResolver(schedules: Schedules) {
  const counted: string[] = [];
  const resolver = createOnCallResolver(schedules, {
    baseDir: FIXTURES,
    metrics: { oncallErrors: { inc: ({ schedule }) => counted.push(schedule) } },
  });
  return { resolver, counted };
}

const at = (iso: string) => Date.parse(iso);
const nameAt = async (resolver: ReturnType<typeof countingResolver>['resolver'], iso: string) => {
  const answer = await resolver.whoIsOnCall('secondary', at(iso));
  return answer.ok ? answer.members.map((m) => m.name).join(', ') : `(${answer.reason})`;
};

describe('a recurring calendar: alternate weeks, an EXDATE, a RECURRENCE-ID, across the spring change', () => {
  const { resolver, counted } = countingResolver(
    calendarSchedules({ ical: 'alternating-weeks.ics', timezone: 'Europe/Amsterdam' }),
  );

  it('expands both weekly series with their Monday 09:00 Amsterdam handoffs', async () => {
    expect(await nameAt(resolver, '2026-03-02T08:00:00Z')).toBe('Anna Bakker');
    expect(await nameAt(resolver, '2026-03-09T07:59:59Z')).toBe('Anna Bakker');
    expect(await nameAt(resolver, '2026-03-09T08:00:00Z')).toBe('Joost Visser');
    expect(await nameAt(resolver, '2026-03-18T12:00:00Z')).toBe('Anna Bakker');
    // Joost's week of 23 March spans the DST change: it starts 09:00 CET and ends 09:00 CEST.
    const spanning = await resolver.whoIsOnCall('secondary', at('2026-03-25T12:00:00Z'));
    expect(spanning).toMatchObject({
      ok: true,
      members: [MEMBERS[1]],
      since: at('2026-03-23T08:00:00Z'),
      until: at('2026-03-30T07:00:00Z'),
    });
    expect(await nameAt(resolver, '2026-04-15T12:00:00Z')).toBe('Anna Bakker'); // 13 April: the series goes on
  });

  it('the EXDATE leaves the week of 30 March with nobody on call: ok false with the next start', async () => {
    expect(await resolver.whoIsOnCall('secondary', at('2026-04-01T12:00:00Z'))).toEqual({
      ok: false,
      schedule: 'secondary',
      reason:
        'nobody is on call in schedule secondary: no event at that time (the next starts 2026-04-06 12:00 +02:00)',
    });
    expect(await resolver.nextHandoff('secondary', at('2026-04-01T12:00:00Z'))).toBe(
      at('2026-04-06T10:00:00Z'),
    );
  });

  it("the RECURRENCE-ID exception gives Anna Joost's week of 6 April from 12:00, leaving 09:00-12:00 empty", async () => {
    expect(await nameAt(resolver, '2026-04-06T08:00:00Z')).toMatch(/^\(nobody is on call/);
    const moved = await resolver.whoIsOnCall('secondary', at('2026-04-06T10:00:00Z'));
    expect(moved).toMatchObject({ ok: true, members: [MEMBERS[0]], since: at('2026-04-06T10:00:00Z') });
    expect(await nameAt(resolver, '2026-04-20T08:00:00Z')).toBe('Joost Visser'); // the next instance is his again
  });

  it('a cancelled RECURRENCE-ID removes that one instance (27 April), not the series', async () => {
    expect(await nameAt(resolver, '2026-04-28T12:00:00Z')).toMatch(/^\(nobody is on call/);
    expect(await nameAt(resolver, '2026-05-12T12:00:00Z')).toBe('Anna Bakker');
  });

  it('handoffs are event boundaries, each strictly after the instant', async () => {
    const handoffs: string[] = [];
    let t = at('2026-03-20T00:00:00Z');
    for (let i = 0; i < 5; i++) {
      t = (await resolver.nextHandoff('secondary', t))!;
      handoffs.push(new Date(t).toISOString());
    }
    expect(handoffs).toEqual([
      '2026-03-23T08:00:00.000Z', // Anna → Joost (09:00 CET)
      '2026-03-30T07:00:00.000Z', // Joost's week ends (09:00 CEST); the EXDATE week begins with nobody
      '2026-04-06T10:00:00.000Z', // Anna, moved by RECURRENCE-ID to 12:00
      '2026-04-13T07:00:00.000Z', // her own week of 13 April (the same instant ends the exception)
      '2026-04-20T07:00:00.000Z',
    ]);
    expect(counted).toEqual([]);
  });

  it('asking about the far future and then the past again gives the same answers (expansion is kept)', async () => {
    // 3 March 2031 is 261 weeks after 2 March 2026: an odd week, Joost's.
    expect(await nameAt(resolver, '2031-03-03T12:00:00Z')).toBe('Joost Visser');
    expect(await nameAt(resolver, '2026-03-09T08:00:00Z')).toBe('Joost Visser');
  });
});

describe('zones and odd events', () => {
  const { resolver, counted } = countingResolver(
    calendarSchedules({ ical: 'zones.ics', timezone: 'Europe/Amsterdam' }),
  );

  it('reads a TZID by its IANA name (America/New_York, EDT)', async () => {
    expect(await resolver.whoIsOnCall('secondary', at('2026-07-15T22:00:00Z'))).toMatchObject({
      ok: true,
      members: [MEMBERS[1]],
      since: at('2026-07-15T21:00:00Z'),
      until: at('2026-07-16T12:00:00Z'),
    });
  });

  it("reads a Windows zone name through the file's VTIMEZONE (Outlook)", async () => {
    expect(await resolver.whoIsOnCall('secondary', at('2026-07-20T12:00:00Z'))).toMatchObject({
      ok: true,
      members: [MEMBERS[0]],
      since: at('2026-07-20T07:00:00Z'),
      until: at('2026-07-21T07:00:00Z'),
    });
  });

  it('matches a SUMMARY to a member ignoring case and spaces; a UTC event is UTC', async () => {
    expect(await resolver.whoIsOnCall('secondary', at('2026-07-22T12:00:00Z'))).toMatchObject({
      ok: true,
      members: [MEMBERS[0]],
      since: at('2026-07-22T06:00:00Z'),
      until: at('2026-07-22T18:00:00Z'),
    });
  });

  it("reads an all-day event in the schedule's timezone", async () => {
    expect(await resolver.whoIsOnCall('secondary', at('2026-07-25T12:00:00Z'))).toMatchObject({
      ok: true,
      members: [MEMBERS[1]],
      since: at('2026-07-24T22:00:00Z'), // midnight CEST
      until: at('2026-07-25T22:00:00Z'),
    });
  });

  it('an event whose SUMMARY names no member: on-call unknown, counted', async () => {
    expect(await resolver.whoIsOnCall('secondary', at('2026-08-01T12:00:00Z'))).toEqual({
      ok: false,
      schedule: 'secondary',
      reason: 'no member named "Pieter Smit" in schedule secondary',
    });
    expect(counted).toEqual(['secondary']);
  });

  it('overlapping events put both members on call, earliest first; DURATION stands in for DTEND', async () => {
    expect(await resolver.whoIsOnCall('secondary', at('2026-08-10T10:00:00Z'))).toEqual({
      ok: true,
      schedule: 'secondary',
      members: MEMBERS,
      since: at('2026-08-10T08:00:00Z'),
      until: at('2026-08-10T14:00:00Z'),
    });
    expect(await resolver.whoIsOnCall('secondary', at('2026-08-10T15:00:00Z'))).toMatchObject({
      ok: true,
      members: [MEMBERS[1]],
      until: at('2026-08-10T20:00:00Z'),
    });
  });

  it('after the last event: nobody, and no next handoff', async () => {
    expect(await resolver.whoIsOnCall('secondary', at('2026-09-01T00:00:00Z'))).toEqual({
      ok: false,
      schedule: 'secondary',
      reason: 'nobody is on call in schedule secondary: no event at that time',
    });
    expect(await resolver.nextHandoff('secondary', at('2026-09-01T00:00:00Z'))).toBeUndefined();
  });
});
