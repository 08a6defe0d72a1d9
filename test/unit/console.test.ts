/** The console's pure parts: CSRF tokens, the filter parser, the operator rule, the strip's pacing, links, order. */
import { describe, expect, it } from 'vitest';
import { CSRF_LIFETIME_SECONDS, signFormToken, verifyFormToken } from '../../src/console/csrf.js';
import { CONSOLE_PAGE_SIZE, parseConsoleFilter } from '../../src/console/filter.js';
import { slackPermalink } from '../../src/console/incident-detail.js';
import { pacedOf, readRelayStatus, type StatusProbes } from '../../src/console/status.js';
import { filterQuery, incidentsPage } from '../../src/console/views/incidents.js';
import { isOperator } from '../../src/http/auth.js';
import { isSameOriginWrite, personOf } from '../../src/http/routes/console.js';
import type { IncidentListItem } from '../../src/incidents/types.js';

const SECRET = 'form-secret-for-unit-tests';
const NOW = Date.UTC(2026, 10, 27, 3, 0, 0);

describe('CSRF form tokens', () => {
  const path = '/incidents/0123456789abcdef/acknowledge';
  it('accept a token for the same form within its lifetime', () => {
    expect(verifyFormToken(SECRET, path, signFormToken(SECRET, path, NOW), NOW + 60_000)).toEqual({
      ok: true,
    });
  });
  it('refuse another form, another key, a lapsed token, a missing or mangled one', () => {
    const token = signFormToken(SECRET, path, NOW);
    expect(verifyFormToken(SECRET, '/incidents/fedcba9876543210/acknowledge', token, NOW)).toEqual({
      ok: false,
      reason: 'forged',
    });
    expect(verifyFormToken('another-secret', path, token, NOW)).toEqual({ ok: false, reason: 'forged' });
    expect(verifyFormToken(SECRET, path, token, NOW + (CSRF_LIFETIME_SECONDS + 1) * 1000)).toEqual({
      ok: false,
      reason: 'expired',
    });
    expect(verifyFormToken(SECRET, path, undefined, NOW)).toEqual({ ok: false, reason: 'missing' });
    expect(verifyFormToken(SECRET, path, 'abc', NOW)).toEqual({ ok: false, reason: 'malformed' });
    // A later expiry with the old signature: the expiry is signed too.
    const [exp, mac] = token.split('.');
    expect(verifyFormToken(SECRET, path, `${Number(exp) + 3600}.${mac}`, NOW)).toEqual({
      ok: false,
      reason: 'forged',
    });
  });
});

describe('parseConsoleFilter', () => {
  it('treats the empty fields a form submits as absent and keeps the rest', () => {
    expect(
      parseConsoleFilter({ status: '', severity: 'critical', vehicle: ' TRK-0042 ', shipment: '' }),
    ).toEqual({
      ok: true,
      filter: {
        status: undefined,
        severity: 'critical',
        vehicle: 'TRK-0042',
        shipment: undefined,
        cursor: undefined,
        limit: CONSOLE_PAGE_SIZE,
      },
    });
  });
  it('names the bad parameter', () => {
    const message = (q: Record<string, string>) => {
      const r = parseConsoleFilter(q);
      return r.ok ? '' : r.message;
    };
    expect(message({ status: 'open' })).toMatch(/^status: must be one of firing, resolved/);
    expect(message({ limit: '0' })).toMatch(/^limit/);
    expect(message({ limit: '1e2' })).toMatch(/^limit/);
    expect(message({ vehicle: 'x'.repeat(129) })).toMatch(/^vehicle: at most 128/);
    expect(message({ colour: 'red' })).toMatch(/^unknown filter "colour"/);
  });
});

describe('isOperator', () => {
  const bearer = (t: string) => `Bearer ${t}`;
  const basic = (user: string, password: string) =>
    `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  it('takes the token as Bearer or as the basic-auth password with any user name', () => {
    const auth = { token: 'the-token-0123456789', loopback: false };
    expect(isOperator(auth, bearer('the-token-0123456789'))).toBe(true);
    expect(isOperator(auth, basic('whoever', 'the-token-0123456789'))).toBe(true);
    expect(isOperator(auth, basic('', 'the-token-0123456789'))).toBe(true);
    expect(isOperator(auth, basic('the-token-0123456789', 'x'))).toBe(false);
    expect(isOperator(auth, undefined)).toBe(false);
  });
  it('without a token, lets in only on a loopback HOST', () => {
    expect(isOperator({ token: undefined, loopback: true }, undefined)).toBe(true);
    expect(isOperator({ token: undefined, loopback: false }, undefined)).toBe(false);
  });
});

describe('isSameOriginWrite (bull-board)', () => {
  const write = (h: { secFetchSite?: string; origin?: string; host?: string }, method = 'PUT') =>
    isSameOriginWrite({ method, secFetchSite: h.secFetchSite, origin: h.origin, host: h.host });
  it("takes the browser's Sec-Fetch-Site first, then the Origin against the Host header", () => {
    expect(
      write({ secFetchSite: 'same-origin', origin: 'https://relay.example', host: 'relay.example' }),
    ).toBe(true);
    expect(
      write({ secFetchSite: 'cross-site', origin: 'https://relay.example', host: 'relay.example' }),
    ).toBe(false);
    expect(write({ secFetchSite: 'same-site', host: 'relay.example' })).toBe(false);
    // Behind a TLS proxy: the page is https, the relay sees http with the same Host.
    expect(write({ origin: 'https://relay.example', host: 'relay.example' })).toBe(true);
    expect(write({ origin: 'https://evil.example', host: 'relay.example' })).toBe(false);
    expect(write({ origin: 'null', host: 'relay.example' })).toBe(false);
    expect(write({ host: 'relay.example' })).toBe(false);
    expect(write({}, 'GET')).toBe(true);
  });
});

describe('personOf', () => {
  it('trims and folds spaces, and refuses empty, long or control-character names', () => {
    expect(personOf(new URLSearchParams({ name: '  Maria   Lopez ' }))).toBe('Maria Lopez');
    for (const name of ['', '  ', 'x'.repeat(81), 'a\u0000b'])
      expect(() => personOf(new URLSearchParams({ name }))).toThrow();
  });
});

describe('the header strip', () => {
  it('counts a channel as paced while a reservation or a 429 block lies ahead', () => {
    expect(pacedOf('#a', { reservations: {} }, NOW)).toBeUndefined();
    expect(pacedOf('#a', { nextAt: NOW + 500, reservations: { x: NOW - 1 } }, NOW)).toBeUndefined();
    expect(pacedOf('#a', { reservations: { x: NOW + 1000, y: NOW + 2000 } }, NOW)).toEqual({
      channel: '#a',
      waiting: 2,
    });
    expect(pacedOf('#a', { blockedUntil: NOW + 30_000, reservations: {} }, NOW)).toEqual({
      channel: '#a',
      waiting: 0,
      blockedUntil: NOW + 30_000,
    });
  });

  it('reports what failed instead of failing: Redis down, an Alertmanager refusing', async () => {
    const probes: StatusProbes = {
      countJobs: () => Promise.reject(new Error('Connection is closed.')),
      gateState: () => Promise.reject(new Error('Connection is closed.')),
      pingRedis: () => Promise.reject(new Error('Connection is closed.')),
      slackChannels: ['#alerts-critical'],
      preview: { slack: true, email: false },
      alertmanagerUrls: ['http://user:secret@am.example:9093/'],
      timeoutMs: 1000,
      now: () => NOW,
      fetch: async () => new Response('', { status: 503 }),
    };
    expect(await readRelayStatus(probes)).toEqual({
      queueDepth: undefined,
      paced: undefined,
      preview: { slack: true, email: false },
      redis: { ok: false, detail: 'Connection is closed.' },
      // The credentials of the URL are never shown.
      alertmanagers: [{ url: 'http://am.example:9093', ok: false, detail: 'HTTP 503' }],
    });
  });

  it('sums waiting, prioritized, delayed and active jobs into the queue depth', async () => {
    const status = await readRelayStatus({
      countJobs: async () => ({ waiting: 1, prioritized: 2, delayed: 3, active: 4, failed: 100 }),
      gateState: async () => ({ reservations: {} }),
      pingRedis: async () => 'PONG',
      slackChannels: ['#alerts-critical'],
      preview: { slack: false, email: false },
      alertmanagerUrls: [],
      timeoutMs: 1000,
      now: () => NOW,
    });
    expect(status.queueDepth).toBe(10);
    expect(status.paced).toEqual([]);
    expect(status.redis).toEqual({ ok: true });
  });
});

describe('links and order', () => {
  it('builds the Slack archives link from a channel id and ts only', () => {
    expect(slackPermalink('C0CRIT', '1795813797.922000')).toBe(
      'https://slack.com/archives/C0CRIT/p1795813797922000',
    );
    expect(slackPermalink('#alerts-critical', '1795813797.922000')).toBeUndefined();
    expect(slackPermalink('C0CRIT', 'javascript:alert(1)')).toBeUndefined();
    expect(slackPermalink(undefined, undefined)).toBeUndefined();
  });

  it("keeps the filter and a paused refresh in the pager's links", () => {
    expect(filterQuery({ status: 'firing', vehicle: 'TRK 1', cursor: 'abc' }, true)).toBe(
      '?status=firing&vehicle=TRK+1&cursor=abc&refresh=off',
    );
    expect(filterQuery({})).toBe('');
  });
});

describe('the incident list page, rendered from list items built here', () => {
  const status = {
    queueDepth: 12,
    paced: [{ channel: '#alerts-critical', waiting: 3, blockedUntil: NOW + 20_000 }],
    preview: { slack: false, email: true },
    redis: { ok: true },
    alertmanagers: [{ url: 'http://am:9093', ok: false, detail: 'HTTP 503' }],
  };
  const base: IncidentListItem = {
    id: '0123456789abcdef',
    title: 'ReeferTemperatureExcursion · TRK-0042',
    severity: 'critical',
    status: 'firing',
    firingSince: new Date(NOW - 12 * 60_000).toISOString(),
    coldChain: {
      vehicles: ['TRK-0042'],
      shipments: ['SHP-0042'],
      cargoRange: '2–8 °C (chilled pharma)',
      budgetUsedPct: 62.4,
    },
    escalationStep: 2,
    nextReminderAt: new Date(NOW + 5 * 60_000).toISOString(),
    deliveries: [{ id: 'd1', kind: 'slack', target: '#alerts-critical', lastOutcome: 'dead_lettered' }],
  };
  const render = async (
    items: IncidentListItem[],
    nextCursor?: string,
    paused = false,
    resolved: IncidentListItem[] = [],
  ) =>
    String(
      await incidentsPage(
        { status, now: NOW, refreshSeconds: 30 },
        { limit: 50, vehicle: 'TRK-0042' },
        { main: { items, ...(nextCursor ? { nextCursor } : {}) }, recentlyResolved: { items: resolved } },
        paused,
      ),
    );

  it('shows severity in words, the cold-chain facts, the strip, the refresh and the next page', async () => {
    const html = await render(
      [{ ...base, acknowledgedBy: 'Maria', status: 'acknowledged' }],
      'CURSOR_1',
      false,
      [
        {
          ...base,
          id: 'aaaaaaaaaaaaaaaa',
          status: 'resolved',
          severity: 'warning',
          resolvedAt: new Date(NOW).toISOString(),
        },
      ],
    );
    // The open incidents, then the newest resolved ones under their own heading.
    expect(html.indexOf('0123456789abcdef')).toBeLessThan(html.indexOf('Recently resolved'));
    expect(html.indexOf('Recently resolved')).toBeLessThan(html.indexOf('aaaaaaaaaaaaaaaa'));
    expect(html).toContain('href="/?status=resolved&amp;vehicle=TRK-0042">All resolved incidents');
    expect(html).toContain('<span class="badge sev-critical">critical</span>');
    expect(html).toContain('<tr class="sev-warning resolved">');
    expect(html).toContain('2–8 °C (chilled pharma)');
    expect(html).toContain('<span class="budget high">62 %</span>');
    expect(html).toContain('escalation step 2');
    expect(html).toContain('by Maria');
    expect(html).toContain('<span class="outcome-dead_lettered">dead-lettered</span>');
    expect(html).toContain('<meta http-equiv="refresh" content="30">');
    expect(html).toContain('href="/?vehicle=TRK-0042&amp;cursor=CURSOR_1" rel="next"');
    expect(html).toContain('Queue depth</span> 12');
    expect(html).toMatch(/#alerts-critical \(3 waiting, 429 until 2026-11-27 03:00:20 UTC\)/);
    expect(html).toContain('Preview mode</span> on for email');
    expect(html).toContain('http://am:9093 unreachable: HTTP 503');
    expect(html).not.toContain('<script');
  });

  it('pauses the refresh on request and keeps the pause in its links', async () => {
    const html = await render([base], 'C2', true);
    expect(html).not.toContain('http-equiv="refresh"');
    expect(html).toContain('href="/?vehicle=TRK-0042&amp;cursor=C2&amp;refresh=off"');
    expect(html).toContain('<input type="hidden" name="refresh" value="off">');
  });

  it('escapes every value of an item', async () => {
    const html = await render([
      {
        ...base,
        title: '<b>x</b>',
        coldChain: { vehicles: ['"><img src=x>'], shipments: [] },
        acknowledgedBy: '<i>',
      },
    ]);
    expect(html).not.toContain('<b>x</b>');
    expect(html).not.toContain('<img src=x>');
    expect(html).toContain('&lt;b&gt;x&lt;/b&gt;');
    expect(html).toContain('&lt;i&gt;');
  });
});
