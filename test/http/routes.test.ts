/**
 * The HTTP tier (issue 11): every route file under src/http/routes, through the real app (createApp with
 * registerRoutes) and `app.request()`, over real Redis stores and queues. No server, no workers: incidents
 * are made by posting a webhook to the same app, as Alertmanager would.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signAckToken } from '../../src/channels/email/ack-link.js';
import { incidentRefValue } from '../../src/channels/slack/actions.js';
import { BullInteractionQueue } from '../../src/channels/slack/interactions.js';
import { signSlackRequest } from '../../src/channels/slack/signatures.js';
import { BullDeliveryQueue } from '../../src/enqueue/delivery-queue.js';
import { createApp } from '../../src/http/app.js';
import { registerRoutes } from '../../src/http/routes/index.js';
import type { RouteServices } from '../../src/http/routes/services.js';
import { createLogger } from '../../src/observability/logger.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { RedisAlertStore } from '../../src/store/alert-store.js';
import { DeliveryStore } from '../../src/store/delivery-store.js';
import { IncidentIndex } from '../../src/store/incident-index.js';
import { testConfig } from '../support/config.js';
import { fixture, inGroup } from '../support/fixtures.js';
import { deletePrefix, REDIS_URL, uniquePrefix } from '../support/redis.js';
import { type TestPump, testPump } from '../support/write-ahead.js';

const prefix = uniquePrefix('http-routes');
const TOKEN = 'route-token-0123456789';
const SIGNING = 'route-signing-secret';
const ACK_SECRET = 'route-ack-secret';
const auth = { authorization: `Bearer ${TOKEN}` };

let redis: Redis;
let interactions: BullInteractionQueue;
let queue: BullDeliveryQueue;
let services: RouteServices;
let pump: TestPump;

/** The relay's app with the route groups mounted; `overrides` change what the routes are given. */
function appWith(overrides: Partial<RouteServices> = {}) {
  const config = testConfig(prefix, { RELAY_WEBHOOK_TOKEN: TOKEN });
  return createApp({
    config,
    policy: config.policy,
    store: services.alerts,
    writeAheadKey: pump.log.key,
    metrics: services.metrics,
    logger: createLogger('silent'),
    oncallEmail: 'oncall@example.com',
    checkReady: async () => undefined,
    mount: (app) => registerRoutes(app, { ...services, ...overrides }),
  });
}

beforeAll(() => {
  redis = new Redis(REDIS_URL);
  const options = { prefix, retentionSeconds: 3600 };
  queue = new BullDeliveryQueue(redis, { ...options, attempts: 1 });
  interactions = new BullInteractionQueue(redis, prefix);
  pump = testPump(redis, prefix);
  services = {
    alerts: new RedisAlertStore(redis, options),
    deliveries: new DeliveryStore(redis, prefix, 3600),
    index: new IncidentIndex(redis, prefix),
    queue,
    interactions,
    metrics: createMetrics(),
    webhookToken: TOKEN,
    signingSecret: SIGNING,
    silenceDurations: [3600],
    ackSecret: ACK_SECRET,
    maxBodyBytes: 1 << 20,
  };
});

afterAll(async () => {
  await interactions?.close();
  await queue?.close();
  await pump?.close();
  redis?.disconnect();
  await deletePrefix(prefix);
});

/** Opens an incident through the webhook route; returns its ids. */
async function fire(
  tag: string,
  name: 'firing-reefer-excursion' | 'resolved-reefer-excursion' = 'firing-reefer-excursion',
) {
  const res = await appWith().request('/webhook/alertmanager', {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify(inGroup(fixture(name), tag)),
  });
  expect(res.status).toBe(200);
  const { incidentId } = (await res.json()) as { incidentId: string };
  // A worker's pump queues the jobs and writes the incident index; there is no worker here.
  await pump.drain();
  const groupId = await services.alerts.findGroupOfIncident(incidentId);
  expect(groupId).toBeDefined();
  return { incidentId, groupId: groupId! };
}

describe('GET /api/incidents/:id (routes/incidents.ts)', () => {
  it('answers the incident, its deliveries and its timeline', async () => {
    const { incidentId } = await fire('incident-api');
    const res = await appWith().request(`/api/incidents/${incidentId}`, { headers: auth });
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      incident: { id: string; status: string };
      deliveries: { kind: string }[];
      acknowledged: unknown;
      timeline: unknown[];
    };
    expect(body.incident).toMatchObject({ id: incidentId, status: 'firing' });
    expect(body.deliveries.map((d) => d.kind).sort()).toEqual(['email', 'slack']);
    expect(body.acknowledged).toBeNull();
    expect(body.timeline.length).toBeGreaterThan(0);
  });

  it('requires the webhook token', async () => {
    const { incidentId } = await fire('incident-auth');
    for (const headers of [{}, { authorization: 'Bearer wrong' }] as Record<string, string>[]) {
      const res = await appWith().request(`/api/incidents/${incidentId}`, { headers });
      expect(res.status).toBe(401);
    }
  });

  it('answers 404 for an id that is not 16 hex characters and for an unknown incident', async () => {
    const malformed = await appWith().request('/api/incidents/not-an-id', { headers: auth });
    expect(malformed.status).toBe(404);
    expect(JSON.stringify(await malformed.json())).toContain('16 hex characters');
    const unknown = await appWith().request('/api/incidents/0123456789abcdef', { headers: auth });
    expect(unknown.status).toBe(404);
    expect(JSON.stringify(await unknown.json())).toContain('no incident 0123456789abcdef');
  });
});

describe('GET and POST /ack/:token (routes/acknowledge-link.ts)', () => {
  const token = (ref: { groupId: string; incidentId: string }, who: string, exp = Date.now() / 1000 + 600) =>
    signAckToken(ACK_SECRET, { ...ref, who, exp: Math.floor(exp) });

  it('GET shows a confirmation page and acknowledges nothing; POST acknowledges, escaping who', async () => {
    const ref = await fire('ack-link');
    const who = '<script>alert(1)</script>@example.com';
    const page = await appWith().request(`/ack/${token(ref, who)}`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<form method="post">');
    expect((await services.deliveries.loadFlags(ref.groupId, ref.incidentId)).acknowledged).toBeUndefined();

    const done = await appWith().request(`/ack/${token(ref, who)}`, { method: 'POST' });
    expect(done.status).toBe(200);
    const html = await done.text();
    expect(html).toContain('Acknowledged by &lt;script&gt;alert(1)&lt;/script&gt;@example.com');
    expect(html).not.toContain('<script>');
    expect((await services.deliveries.loadFlags(ref.groupId, ref.incidentId)).acknowledged?.by).toBe(who);

    const again = await appWith().request(`/ack/${token(ref, 'other@example.com')}`);
    expect(await again.text()).toContain('Already acknowledged by &lt;script&gt;');
  });

  it('asks who is acknowledging and credits that name, as data; a bad name changes nothing', async () => {
    const ref = await fire('ack-name');
    const link = `/ack/${token(ref, 'oncall@coldchain.example')}`;
    const page = await (await appWith().request(link)).text();
    expect(page).toContain('<input id="name" name="name" required');
    expect(page).toContain('value=""');
    const form = (name: string) => ({
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ name }).toString(),
    });
    for (const bad of ['x'.repeat(101), 'Maria\r\nBcc: x@example.com']) {
      const res = await appWith().request(link, form(bad));
      expect(res.status).toBe(400);
      expect(await res.text()).toContain('Nothing was acknowledged');
    }
    expect((await services.deliveries.loadFlags(ref.groupId, ref.incidentId)).acknowledged).toBeUndefined();

    const name = 'Maria <b>Jansen</b>';
    const done = await appWith().request(link, form(`  ${name} `));
    expect(done.status).toBe(200);
    expect(await done.text()).toContain('Acknowledged by Maria &lt;b&gt;Jansen&lt;/b&gt;');
    const flags = await services.deliveries.loadFlags(ref.groupId, ref.incidentId);
    expect(flags.acknowledged).toMatchObject({ by: name, via: 'email link' });
    const again = await (await appWith().request(link)).text();
    expect(again).toContain('Already acknowledged by Maria &lt;b&gt;Jansen&lt;/b&gt;');
  });

  it('refuses a forged token (403), an expired one (410) and a malformed one (403)', async () => {
    const ref = await fire('ack-refused');
    const forged = signAckToken('another-secret', {
      ...ref,
      who: 'x',
      exp: Math.floor(Date.now() / 1000) + 600,
    });
    for (const [path, status] of [
      [`/ack/${forged}`, 403],
      [`/ack/${token(ref, 'x', Date.now() / 1000 - 60)}`, 410],
      ['/ack/not-a-token', 403],
    ] as const) {
      for (const method of ['GET', 'POST']) {
        const res = await appWith().request(path, { method });
        expect(res.status, `${method} ${path}`).toBe(status);
        expect(await res.text()).toContain('This acknowledge link is not valid');
      }
    }
    expect((await services.deliveries.loadFlags(ref.groupId, ref.incidentId)).acknowledged).toBeUndefined();
  });

  it('answers 404 for an unknown incident, and says when it is already resolved', async () => {
    const unknown = { groupId: '0123456789abcdef', incidentId: 'fedcba9876543210' };
    for (const method of ['GET', 'POST']) {
      const res = await appWith().request(`/ack/${token(unknown, 'x')}`, { method });
      expect(res.status).toBe(404);
      expect(await res.text()).toContain('no longer known to the relay');
    }
    const ref = await fire('ack-resolved');
    await fire('ack-resolved', 'resolved-reefer-excursion');
    const res = await appWith().request(`/ack/${token(ref, 'x')}`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('already resolved');
  });

  it('answers 404 when acknowledge links are not configured', async () => {
    const ref = await fire('ack-off');
    const res = await appWith({ ackSecret: undefined }).request(`/ack/${token(ref, 'x')}`);
    expect(res.status).toBe(404);
    expect(JSON.stringify(await res.json())).toContain('RELAY_ACK_SECRET');
  });
});

describe('POST /slack/interactions (routes/slack-interactions.ts)', () => {
  const form = (payload: unknown) => `payload=${encodeURIComponent(JSON.stringify(payload))}`;
  const click = (actionId: string, value: string, actionTs: string) =>
    form({
      type: 'block_actions',
      user: { id: 'U0ROUTE', username: 'route-user' },
      actions: [{ action_id: actionId, value, action_ts: actionTs }],
      response_url: 'https://hooks.slack.com/actions/T/1/x',
    });
  const signed = (body: string, secret = SIGNING, timestamp = Math.floor(Date.now() / 1000)) => ({
    method: 'POST',
    body,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': String(timestamp),
      'x-slack-signature': signSlackRequest(secret, timestamp, body),
    },
  });

  it('acknowledges from the button, as the clicking user', async () => {
    const ref = await fire('slack-ack');
    const res = await appWith().request(
      '/slack/interactions',
      signed(click('relay_ack', incidentRefValue(ref), '1.1')),
    );
    expect(res.status).toBe(200);
    expect((await services.deliveries.loadFlags(ref.groupId, ref.incidentId)).acknowledged?.by).toBe(
      '@route-user',
    );
  });

  it('queues a silence for a configured duration once, however often Slack re-sends the click', async () => {
    const ref = await fire('slack-silence');
    const before = await interactions.queue.count();
    const body = click('relay_silence_3600s', incidentRefValue(ref), '2.2');
    for (let i = 0; i < 3; i++)
      expect((await appWith().request('/slack/interactions', signed(body))).status).toBe(200);
    expect(await interactions.queue.count()).toBe(before + 1);
    // A duration the policy does not offer queues nothing.
    const odd = click('relay_silence_60s', incidentRefValue(ref), '2.3');
    expect((await appWith().request('/slack/interactions', signed(odd))).status).toBe(200);
    expect(await interactions.queue.count()).toBe(before + 1);
  });

  it('tells the user, only them, when the incident is resolved or unknown', async () => {
    const ref = await fire('slack-resolved');
    await fire('slack-resolved', 'resolved-reefer-excursion');
    const res = await appWith().request(
      '/slack/interactions',
      signed(click('relay_ack', incidentRefValue(ref), '3.1')),
    );
    expect(await res.json()).toMatchObject({
      response_type: 'ephemeral',
      text: expect.stringContaining('already resolved'),
    });
    const unknown = incidentRefValue({ groupId: '0123456789abcdef', incidentId: 'fedcba9876543210' });
    const gone = await appWith().request('/slack/interactions', signed(click('relay_ack', unknown, '3.2')));
    expect(await gone.json()).toMatchObject({ text: expect.stringContaining('no longer known') });
  });

  it('refuses a bad or stale signature with 401 and a payload that is not JSON with 400', async () => {
    const ref = await fire('slack-refused');
    const body = click('relay_ack', incidentRefValue(ref), '4.1');
    const forged = await appWith().request('/slack/interactions', signed(body, 'not-the-secret'));
    expect(forged.status).toBe(401);
    const stale = await appWith().request(
      '/slack/interactions',
      signed(body, SIGNING, Math.floor(Date.now() / 1000) - 600),
    );
    expect(stale.status).toBe(401);
    const unsigned = await appWith().request('/slack/interactions', { method: 'POST', body });
    expect(unsigned.status).toBe(401);
    expect((await services.deliveries.loadFlags(ref.groupId, ref.incidentId)).acknowledged).toBeUndefined();
    const notJson = await appWith().request('/slack/interactions', signed('payload=%7Bnot-json'));
    expect(notJson.status).toBe(400);
  });

  it('answers 200 and does nothing for other events and buttons the relay did not make', async () => {
    const ref = await fire('slack-other');
    const link = await appWith().request(
      '/slack/interactions',
      signed(click('relay_link_runbook', 'x', '5.1')),
    );
    expect(link.status).toBe(200);
    const other = await appWith().request('/slack/interactions', signed(form({ type: 'view_submission' })));
    expect(other.status).toBe(200);
    expect((await services.deliveries.loadFlags(ref.groupId, ref.incidentId)).acknowledged).toBeUndefined();
  });

  it('answers 404 when interactivity is not configured', async () => {
    const res = await appWith({ signingSecret: undefined }).request(
      '/slack/interactions',
      signed('payload=%7B%7D'),
    );
    expect(res.status).toBe(404);
  });
});
