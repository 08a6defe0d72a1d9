/**
 * An iCal schedule read from a URL (issue 12), served by a real local HTTP server. The design under test:
 * the calendar is fetched when first needed and again after `refresh`; a failed fetch is counted
 * (relay_oncall_errors_total{schedule}) and logged without the URL (it carries the calendar's secret), the
 * last good copy keeps answering for up to 24 h, and the next attempt waits 30 s; with no good copy (or
 * an older one) the answer is `{ok: false, reason: 'schedule secondary unreadable'}`, never a throw.
 * The cache's clock is injected; the server is real.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parsePolicy } from '../../src/config/config.js';
import { createOnCallResolver } from '../../src/oncall/resolver.js';

const CALENDAR = readFileSync(new URL('../fixtures/oncall/alternating-weeks.ics', import.meta.url), 'utf8');
const SECRET_PATH = '/private-4f9c2e7a1b/basic.ics';
const AT = Date.parse('2026-03-10T12:00:00Z'); // Joost's week

let mode: 'good' | 'error' | 'garbage' | 'hang' = 'good';
let requests = 0;
let server: Server;
let url: string;

beforeAll(async () => {
  server = createServer((_request, response) => {
    requests += 1;
    if (mode === 'hang') return; // never answers; the resolver's timeout must end the wait
    if (mode === 'error') {
      response.writeHead(503).end('calendar service down');
      return;
    }
    response.writeHead(200, { 'content-type': 'text/calendar' });
    response.end(mode === 'garbage' ? '<html>login required</html>' : CALENDAR);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${SECRET_PATH}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});
beforeEach(() => {
  mode = 'good';
  requests = 0;
});

function urlResolver(options: { fetchTimeoutMs?: number; calendarUrl?: string } = {}) {
  const { calendarUrl = url, ...resolverOptions } = options;
  const yaml = `routes: [{name: critical, repeat: 5m}]\nfallback_route: critical\nschedules:\n  secondary: ${JSON.stringify(
    {
      ical: calendarUrl,
      refresh: '5m',
      members: [{ name: 'Anna Bakker' }, { name: 'Joost Visser', slack: 'U0456EFGH' }],
    },
  )}\n`;
  const { schedules } = parsePolicy(yaml, 'policy.yaml');
  let clock = Date.parse('2026-11-27T12:00:00Z');
  const counted: string[] = [];
  const logged: { fields: Record<string, unknown>; message: string }[] = [];
  const resolver = createOnCallResolver(schedules, {
    baseDir: '.',
    now: () => clock,
    metrics: { oncallErrors: { inc: ({ schedule }) => counted.push(schedule) } },
    log: { warn: (fields, message) => logged.push({ fields, message }) },
    ...resolverOptions,
  });
  return { resolver, counted, logged, advance: (ms: number) => (clock += ms) };
}

describe('an iCal URL schedule', () => {
  it('fetches once, answers from the cache until refresh, then keeps the last good copy when the server fails', async () => {
    const { resolver, counted, logged, advance } = urlResolver();
    expect(await resolver.whoIsOnCall('secondary', AT)).toMatchObject({
      ok: true,
      members: [{ name: 'Joost Visser' }],
    });
    expect(await resolver.nextHandoff('secondary', AT)).toBe(Date.parse('2026-03-16T08:00:00Z'));
    expect(requests).toBe(1);

    advance(4 * 60_000);
    expect(await resolver.whoIsOnCall('secondary', AT)).toMatchObject({ ok: true });
    expect(requests).toBe(1); // within refresh: no request

    mode = 'error';
    advance(2 * 60_000); // past refresh
    expect(await resolver.whoIsOnCall('secondary', AT)).toMatchObject({
      ok: true,
      members: [{ name: 'Joost Visser' }],
    });
    expect(requests).toBe(2);
    expect(counted).toEqual(['secondary']);
    expect(logged).toHaveLength(1);
    expect(logged[0]!.fields).toEqual({ schedule: 'secondary', reason: 'HTTP 503' });
    expect(JSON.stringify(logged)).not.toContain('private-4f9c2e7a1b');

    advance(10_000); // within the 30 s retry wait: no request, no new count
    expect(await resolver.whoIsOnCall('secondary', AT)).toMatchObject({ ok: true });
    expect(requests).toBe(2);
    expect(counted).toHaveLength(1);

    advance(25 * 3600_000); // the copy is now older than 24 h, and the server still fails
    expect(await resolver.whoIsOnCall('secondary', AT)).toEqual({
      ok: false,
      schedule: 'secondary',
      reason: 'schedule secondary unreadable',
    });
    expect(await resolver.nextHandoff('secondary', AT)).toBeUndefined();
    expect(requests).toBe(3);
    expect(counted).toEqual(['secondary', 'secondary']);

    mode = 'good';
    advance(31_000);
    expect(await resolver.whoIsOnCall('secondary', AT)).toMatchObject({
      ok: true,
      members: [{ name: 'Joost Visser' }],
    });
    expect(requests).toBe(4);
    expect(counted).toHaveLength(2);
  });

  it('with no good copy yet: unreadable, counted, never thrown; a body that is no calendar is a failure too', async () => {
    mode = 'garbage';
    const { resolver, counted, logged } = urlResolver();
    expect(await resolver.whoIsOnCall('secondary', AT)).toEqual({
      ok: false,
      schedule: 'secondary',
      reason: 'schedule secondary unreadable',
    });
    expect(counted).toEqual(['secondary']);
    expect(String(logged[0]?.fields.reason)).toMatch(/^not an iCalendar file/);
  });

  it('concurrent questions share one download', async () => {
    const { resolver } = urlResolver();
    const answers = await Promise.all(Array.from({ length: 5 }, () => resolver.whoIsOnCall('secondary', AT)));
    expect(answers.every((a) => a.ok)).toBe(true);
    expect(requests).toBe(1);
  });

  it('a server that never answers is cut by the fetch timeout', async () => {
    mode = 'hang';
    const { resolver, counted, logged } = urlResolver({ fetchTimeoutMs: 300 });
    expect(await resolver.whoIsOnCall('secondary', AT)).toMatchObject({
      ok: false,
      reason: 'schedule secondary unreadable',
    });
    expect(counted).toEqual(['secondary']);
    expect(logged[0]!.fields.reason).toBe('no answer within 300 ms');
  });

  it('a refused connection: unreadable, the reason names the error code, not the URL', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const { resolver, counted, logged } = urlResolver({
      calendarUrl: `http://127.0.0.1:${port}${SECRET_PATH}`,
    });
    expect(await resolver.whoIsOnCall('secondary', AT)).toMatchObject({
      ok: false,
      reason: 'schedule secondary unreadable',
    });
    expect(counted).toEqual(['secondary']);
    expect(logged[0]!.fields.reason).toBe('fetch failed (ECONNREFUSED)');
    expect(JSON.stringify(logged)).not.toContain('private-4f9c2e7a1b');
  });
});
