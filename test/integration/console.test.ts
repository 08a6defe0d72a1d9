/**
 * The console over HTTP against whole relays (real Redis, fake Slack, SMTP sink, and a minimal Alertmanager
 * API on a real port): the Silence form does what Slack's button does, refused requests (bad CSRF token,
 * missing name, bad filter, unknown incident) change nothing, values are escaped, the security headers, the
 * auth rule for /, /api and /admin, and the roles that serve the console.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningRelay, startRelay } from '../../src/app/relay.js';
import { SlackPaceGate } from '../../src/channels/slack/pace-gate.js';
import { testConfig } from '../support/config.js';
import {
  deliveryEnv,
  minutesAgo,
  policyYaml,
  rootsOf,
  slackTexts,
  startDeliveryRelay,
  startedAgo,
  startHarness,
  waitForIdle,
} from '../support/delivery.js';
import type { FakeSlack } from '../support/fake-slack.js';
import { fixture, inGroup } from '../support/fixtures.js';
import { postJson } from '../support/http.js';
import { pollUntil } from '../support/poll.js';
import { deletePrefix, REDIS_URL, uniquePrefix } from '../support/redis.js';
import type { SmtpSink } from '../support/smtp-sink.js';

const prefix = uniquePrefix('console');
const TOKEN = 'console-token-0123456789abcdef';
const auth = { authorization: `Bearer ${TOKEN}` };
const basic = (password: string) => ({
  authorization: `Basic ${Buffer.from(`anyone:${password}`).toString('base64')}`,
});
const WAIT = 20_000;

let fake: FakeSlack;
let sink: SmtpSink;
let relay: RunningRelay;
let am: Server;
/** What the minimal Alertmanager was asked to create. */
const silences: { body: Record<string, unknown> }[] = [];

function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => resolve(JSON.parse(Buffer.concat(parts).toString('utf8') || '{}')));
  });
}

beforeAll(async () => {
  ({ fake, sink } = await startHarness());
  // Alertmanager's API as far as the relay uses it: health, silences, and the alerts (reported active, so the
  // relay's checks never take the incident for resolved).
  am = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://am');
    const json = (body: unknown) =>
      void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (url.pathname === '/-/healthy') return void res.writeHead(200).end('OK');
    if (url.pathname === '/api/v2/silences' && req.method === 'POST') {
      const body = await readJson(req);
      // A refusal on demand, as an Alertmanager with a bad matcher or a full disk would answer.
      if (body.createdBy === 'Refused Person')
        return void res.writeHead(500, { 'content-type': 'text/plain' }).end('storage full');
      silences.push({ body });
      return json({ silenceID: `silence-${silences.length}` });
    }
    if (url.pathname === '/api/v2/status')
      return json({ uptime: new Date(Date.now() - 3_600_000).toISOString() });
    if (url.pathname === '/api/v2/receivers') return json([{ name: 'relay' }]);
    if (url.pathname === '/api/v2/alerts') return json([]);
    return void res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => am.listen(0, '127.0.0.1', resolve));
  relay = await startDeliveryRelay(
    prefix,
    fake,
    sink,
    { criticalRepeat: '1h', delivery: { stale_after: 3600, alertmanager_check: 3600 } },
    {},
    {
      RELAY_WEBHOOK_TOKEN: TOKEN,
      ALERTMANAGER_URL: `http://127.0.0.1:${(am.address() as AddressInfo).port}`,
    },
  );
});

afterAll(async () => {
  await relay?.stop();
  await fake?.close();
  await sink?.close();
  await new Promise((resolve) => am?.close(resolve));
  await deletePrefix(prefix);
});

async function fire(tag: string, payload = fixture('firing-reefer-excursion')): Promise<string> {
  const res = await postJson(
    `${relay.url}/webhook/alertmanager`,
    inGroup(startedAgo(payload, minutesAgo(4)), tag),
    auth,
  );
  expect(res.status).toBe(200);
  const { incidentId } = res.json() as { incidentId: string };
  await fake.waitFor(() => rootsOf(fake, incidentId).length === 1, WAIT);
  return incidentId;
}

async function page(path: string, headers: Record<string, string> = auth) {
  const res = await fetch(`${relay.url}${path}`, { headers, redirect: 'manual' });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

/** The CSRF token the page put in the form posting to `action`. */
function tokenIn(html: string, action: string): string {
  const form = html.slice(html.indexOf(`action="${action}"`));
  const token = /name="csrf" value="([^"]+)"/.exec(form)?.[1];
  expect(token, `a CSRF token in the form posting to ${action}`).toBeDefined();
  return token!;
}

function submit(path: string, fields: Record<string, string>, headers: Record<string, string> = auth) {
  return fetch(`${relay.url}${path}`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
    redirect: 'manual',
  });
}

async function flagsOf(incidentId: string) {
  const groupId = await relay.store.findGroupOfIncident(incidentId);
  return relay.deliveries.loadFlags(groupId!, incidentId);
}

describe('the Silence form', () => {
  it('creates a real silence in Alertmanager for the group, credited to the name given, and pauses reminders', async () => {
    const id = await fire('silence');
    const root = rootsOf(fake, id)[0]!;
    const detail = await page(`/incidents/${id}`);
    expect(detail.body).toContain('<option value="3600">1h</option>');
    const res = await submit(`/incidents/${id}/silence`, {
      csrf: tokenIn(detail.body, `/incidents/${id}/silence`),
      name: 'Ana Ruiz',
      duration: '3600',
    });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`/incidents/${id}?done=silence-requested`);

    // The interaction worker, as for Slack's button: the silence, then the flags, then every destination.
    await pollUntil(
      async () => ((await flagsOf(id)).silencedUntil ?? 0) > Date.now(),
      WAIT,
      () => 'the silence flag',
    );
    expect(silences).toHaveLength(1);
    const body = silences[0]!.body as {
      createdBy: string;
      matchers: { name: string; value: string }[];
      comment: string;
    };
    expect(body.createdBy).toBe('Ana Ruiz');
    expect(body.matchers).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'alertname', value: 'ReeferTemperatureExcursion' }),
        expect.objectContaining({ name: 'severity', value: 'critical' }),
      ]),
    );
    expect(body.comment).toMatch(
      new RegExp(`^Silenced from the console by Ana Ruiz for incident ${id}: http`),
    );
    const flags = await flagsOf(id);
    expect(flags.silences?.[0]).toMatchObject({ id: 'silence-1', by: 'Ana Ruiz' });
    await fake.waitFor((f) => slackTexts(f.messages.get(root.ts)!).some((t) => /silenced/i.test(t)), WAIT);
    const after = await page(`/incidents/${id}`);
    expect(after.body).toContain('silenced until');
    expect(after.body).toContain('silence-1');
    // What became of the request, in the words a Slack user would be told.
    expect(after.body).toContain('Silence requests');
    // An hour from now is tomorrow after 23:00 UTC, and a time not on today's date carries its date.
    expect(after.body).toMatch(
      /Ana Ruiz \(from the console\) for 1h: Silenced until (\d{1,2} [A-Z][a-z]{2} )?\d\d:\d\d UTC on 1 Alertmanager\(s\)\./,
    );
  });
});

describe('a silence Alertmanager refuses', () => {
  it('changes nothing and the incident page says why, in the words Slack users get', async () => {
    const id = await fire('silence-refused');
    const detail = await page(`/incidents/${id}`);
    const res = await submit(`/incidents/${id}/silence`, {
      csrf: tokenIn(detail.body, `/incidents/${id}/silence`),
      name: 'Refused Person',
      duration: '3600',
    });
    expect(res.status).toBe(303);
    let body = '';
    await pollUntil(
      async () => {
        body = (await page(`/incidents/${id}`)).body;
        return body.includes('Could not silence');
      },
      WAIT,
      () => 'the refused silence on the page',
    );
    expect(body).toContain(
      'Refused Person (from the console) for 1h: Could not silence: no Alertmanager accepted the silence',
    );
    expect(body).toContain('storage full');
    expect((await flagsOf(id)).silencedUntil).toBeUndefined();
  });
});

describe('refused requests change nothing', () => {
  it('a missing, malformed, forged or other-incident CSRF token is a 403 page', async () => {
    const id = await fire('csrf');
    const other = await fire('csrf-other', fixture('firing-postgresql-down'));
    const otherPage = await page(`/incidents/${other}`);
    const attempts: Record<string, string>[] = [
      {},
      { csrf: 'nonsense' },
      { csrf: `${Math.floor(Date.now() / 1000) + 3600}.${'A'.repeat(43)}` },
      { csrf: tokenIn(otherPage.body, `/incidents/${other}/acknowledge`) },
    ];
    for (const fields of attempts) {
      const res = await submit(`/incidents/${id}/acknowledge`, { ...fields, name: 'Mallory' });
      expect(res.status).toBe(403);
      const text = await res.text();
      expect(text).toContain('CSRF token');
      expect(text).toContain('Nothing was changed');
    }
    expect((await flagsOf(id)).acknowledged).toBeUndefined();
    const silencesBefore = silences.length;
    const res = await submit(`/incidents/${id}/silence`, { name: 'Mallory', duration: '3600', csrf: 'x' });
    expect(res.status).toBe(403);
    expect(silences).toHaveLength(silencesBefore);
  });

  it('a missing name, a name with control characters or an unconfigured duration is a 400 page', async () => {
    const id = await fire('bad-form');
    const html = (await page(`/incidents/${id}`)).body;
    const ack = tokenIn(html, `/incidents/${id}/acknowledge`);
    const silence = tokenIn(html, `/incidents/${id}/silence`);
    for (const name of ['', '   ', 'a\u0007b', 'x'.repeat(81)]) {
      const res = await submit(`/incidents/${id}/acknowledge`, { csrf: ack, name });
      expect(res.status, JSON.stringify(name)).toBe(400);
    }
    const bad = await submit(`/incidents/${id}/silence`, { csrf: silence, name: 'Ana', duration: '60' });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('silence_durations');
    expect((await flagsOf(id)).acknowledged).toBeUndefined();
    expect((await flagsOf(id)).silencedUntil).toBeUndefined();
  });

  it('an unknown incident is a 404 page, for its page and its forms', async () => {
    const unknown = '0123456789abcdef';
    const res = await page(`/incidents/${unknown}`);
    expect(res.status).toBe(404);
    expect(res.body).toContain(`no incident ${unknown}`);
    expect((await page('/incidents/not-an-id')).status).toBe(404);
    const post = await submit(`/incidents/${unknown}/acknowledge`, { csrf: 'x', name: 'Ana' });
    expect(post.status).toBe(403); // the token is checked first: nothing is read for a forged request
  });

  it('a bad filter is a 400 page naming it', async () => {
    for (const [query, words] of [
      ['?status=bogus', 'status'],
      ['?colour=red', 'unknown filter'],
      ['?cursor=!!!', 'cursor'],
      ['?limit=1000', 'limit'],
      ['?refresh=sometimes', 'refresh'],
    ] as const) {
      const res = await page(`/${query}`);
      expect(res.status, query).toBe(400);
      expect(res.body, query).toContain(words);
    }
  });
});

describe('what the pages show', () => {
  it('lists open incidents first, however many resolved ones are newer', async () => {
    const open = await fire('order-open');
    const resolved = await fire('order-resolved', fixture('firing-postgresql-down'));
    const res = await postJson(
      `${relay.url}/webhook/alertmanager`,
      inGroup(fixture('resolved-postgresql-down'), 'order-resolved'),
      auth,
    );
    expect(res.status).toBe(200);
    await pollUntil(
      async () =>
        (await relay.store.loadIncident((await relay.store.findGroupOfIncident(resolved))!, resolved))
          ?.status === 'resolved',
      WAIT,
      () => 'the resolve',
    );
    const body = (await page('/')).body;
    const at = (text: string) => body.indexOf(text);
    expect(at(`/incidents/${open}"`)).toBeGreaterThan(-1);
    expect(at(`/incidents/${open}"`)).toBeLessThan(at('Recently resolved'));
    expect(at('Recently resolved')).toBeLessThan(at(`/incidents/${resolved}"`));
    const onlyResolved = (await page('/?status=resolved')).body;
    expect(onlyResolved).toContain(`/incidents/${resolved}"`);
    expect(onlyResolved).not.toContain(`/incidents/${open}"`);
  });

  it('escapes label values and names: data, never markup', async () => {
    const payload = fixture('firing-reefer-excursion');
    for (const alert of payload.alerts) alert.labels.vehicle_id = '<script>alert(1)</script>';
    payload.commonLabels.vehicle_id = '<script>alert(1)</script>';
    const id = await fire('hostile', payload);
    const html = (await page(`/incidents/${id}`)).body;
    const res = await submit(`/incidents/${id}/acknowledge`, {
      csrf: tokenIn(html, `/incidents/${id}/acknowledge`),
      name: '<img src=x onerror=alert(2)>',
    });
    expect(res.status).toBe(303);
    for (const path of ['/', `/incidents/${id}`]) {
      const body = (await page(path)).body;
      expect(body, path).not.toContain('<script>alert(1)');
      expect(body, path).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
      expect(body, path).not.toContain('<img src=x');
    }
    expect((await page(`/incidents/${id}`)).body).toContain('&lt;img src=x onerror=alert(2)&gt;');
  });

  it('every page sends the security headers; the console allows no script at all', async () => {
    const id = await fire('headers');
    for (const path of [
      '/',
      `/incidents/${id}`,
      '/dead-letters',
      '/console.css',
      '/incidents/0123456789abcdef',
    ]) {
      const res = await page(path);
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp, path).toContain("default-src 'none'");
      expect(csp, path).toContain("frame-ancestors 'none'");
      expect(csp, path).not.toContain('script-src');
      expect(res.headers.get('x-content-type-options'), path).toBe('nosniff');
      expect(res.headers.get('referrer-policy'), path).toBe('same-origin');
    }
    const board = await page('/admin/queues');
    expect(board.status).toBe(200);
    expect(board.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(board.headers.get('content-security-policy')).not.toMatch(/script-src[^;]*unsafe-inline/);
    expect(board.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    const strip = (await page('/')).body;
    expect(strip).toMatch(/Alertmanager<\/span> http:\/\/127\.0\.0\.1:\d+ reachable/);
  });
});

describe('the header strip', () => {
  it("names a channel the pace gate holds back after Slack's 429, with the block's end", async () => {
    // #alerts-info is in the policy and no test here posts to it, so blocking it holds nothing else up.
    const redis = new Redis(REDIS_URL);
    try {
      await new SlackPaceGate(redis, prefix).block('#alerts-info', 60_000);
    } finally {
      redis.disconnect();
    }
    const body = (await page('/')).body;
    expect(body).toMatch(
      /Paced channels<\/span> [^<]*#alerts-info \(0 waiting, 429 until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\)/,
    );
    expect(body).toMatch(/Queue depth<\/span> \d+/);
    expect(body).toContain('Preview mode</span> off');
    expect(body).toContain('Redis</span> reachable');
  });
});

describe('auth', () => {
  it('/, /api and /admin accept the token as Bearer or as the basic-auth password with any user name', async () => {
    for (const path of ['/', '/dead-letters', '/api/incidents', '/admin/queues/api/queues']) {
      expect((await page(path, auth)).status, path).toBe(200);
      expect((await page(path, basic(TOKEN))).status, path).toBe(200);
      for (const headers of [{}, basic('wrong-token-0123456789'), { authorization: 'Bearer nope' }]) {
        const res = await page(path, headers);
        expect(res.status, path).toBe(401);
        expect(res.headers.get('www-authenticate'), path).toBe('Basic realm="relay", charset="UTF-8"');
      }
    }
  });

  it("bull-board's changes must come from its own page (Origin), since basic auth rides along cross-site", async () => {
    const url = `${relay.url}/admin/queues/api/queues/deliveries-slack/retry/failed`;
    const crossSite = await fetch(url, {
      method: 'PUT',
      headers: { ...auth, origin: 'https://evil.example' },
    });
    expect(crossSite.status).toBe(403);
    const noOrigin = await fetch(url, { method: 'PUT', headers: auth });
    expect(noOrigin.status).toBe(403);
    const sameOrigin = await fetch(url, { method: 'PUT', headers: { ...auth, origin: relay.url } });
    expect(sameOrigin.status).not.toBe(403);
  });
});

describe('roles', () => {
  it('worker serves none of the console; api serves it; without a token it is open on a loopback HOST', async () => {
    const workerPrefix = uniquePrefix('console-worker');
    const apiPrefix = uniquePrefix('console-api');
    const env = { ...deliveryEnv(fake, sink) };
    const worker = await startRelay(
      testConfig(workerPrefix, { ...env, RELAY_ROLE: 'worker', RELAY_WEBHOOK_TOKEN: TOKEN }, policyYaml()),
    );
    // No token: the loopback HOST of the test config is what lets it open.
    const api = await startRelay(testConfig(apiPrefix, { ...env, RELAY_ROLE: 'api' }, policyYaml()));
    try {
      for (const path of [
        '/',
        '/incidents/0123456789abcdef',
        '/dead-letters',
        '/admin/queues',
        '/api/incidents',
      ]) {
        expect((await fetch(`${worker.url}${path}`, { headers: auth })).status, `worker ${path}`).toBe(404);
      }
      for (const path of ['/', '/dead-letters', '/admin/queues', '/api/incidents']) {
        expect((await fetch(`${api.url}${path}`)).status, `api ${path}`).toBe(200);
      }
      expect((await fetch(`${api.url}/incidents/0123456789abcdef`)).status).toBe(404);
    } finally {
      await worker.stop();
      await api.stop();
      await deletePrefix(workerPrefix);
      await deletePrefix(apiPrefix);
    }
  });
});

it('leaves the queues idle', async () => {
  await waitForIdle(relay, { dueWithinMs: 5000 });
});
