/**
 * GET /api/incidents through the real app (`app.request()`) over real Redis stores: query validation answers
 * 400 in the app's one error shape naming the parameter, the token is required, the worker role serves no
 * /api, and incidents opened by the webhook route are listed newest first with a cursor.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BullInteractionQueue } from '../../src/channels/slack/interactions.js';
import { BullDeliveryQueue } from '../../src/enqueue/delivery-queue.js';
import { createApp } from '../../src/http/app.js';
import { registerRoutes } from '../../src/http/routes/index.js';
import type { RouteServices } from '../../src/http/routes/services.js';
import type { IncidentListPage } from '../../src/incidents/types.js';
import { createLogger } from '../../src/observability/logger.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { RedisAlertStore } from '../../src/store/alert-store.js';
import { DeliveryStore } from '../../src/store/delivery-store.js';
import { IncidentIndex } from '../../src/store/incident-index.js';
import { testConfig } from '../support/config.js';
import { fixture, inGroup } from '../support/fixtures.js';
import { deletePrefix, REDIS_URL, uniquePrefix } from '../support/redis.js';
import { type TestPump, testPump } from '../support/write-ahead.js';

const prefix = uniquePrefix('http-list');
const TOKEN = 'list-token-0123456789';
const auth = { authorization: `Bearer ${TOKEN}` };

let redis: Redis;
let interactions: BullInteractionQueue;
let queue: BullDeliveryQueue;
let pump: TestPump;
let services: RouteServices;

function appWith(role: 'all' | 'api' | 'worker' = 'api') {
  const config = testConfig(prefix, { RELAY_WEBHOOK_TOKEN: TOKEN, RELAY_ROLE: role });
  return createApp({
    config,
    policy: config.policy,
    store: services.alerts,
    writeAheadKey: pump.log.key,
    metrics: services.metrics,
    logger: createLogger('silent'),
    oncallEmail: 'oncall@example.com',
    checkReady: async () => undefined,
    mount: (app) => registerRoutes(app, services),
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
    signingSecret: undefined,
    silenceDurations: [3600],
    ackSecret: undefined,
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

async function list(query: string, headers: Record<string, string> = auth, role?: 'all' | 'worker') {
  const res = await appWith(role).request(`/api/incidents${query}`, { headers });
  return { status: res.status, body: (await res.json()) as unknown };
}

describe('GET /api/incidents: query validation', () => {
  it.each([
    ['?limit=0', 'limit', 'must be at least 1'],
    ['?limit=201', 'limit', 'must be at most 200'],
    ['?limit=ten', 'limit', 'must be a whole number from 1 to 200'],
    ['?limit=-1', 'limit', 'must be a whole number from 1 to 200'],
    ['?status=open', 'status', 'firing'],
    ['?severity=', 'severity', 'must not be empty'],
    [`?vehicle=${'x'.repeat(129)}`, 'vehicle', 'at most 128 characters'],
    ['?stauts=firing', 'stauts', 'unknown parameter'],
    ['?status=firing&status=resolved', 'status', 'given more than once'],
    ['?cursor=%24%24', 'cursor', 'not base64url'],
    [`?cursor=${Buffer.from('[1,"nope"]').toString('base64url')}`, 'cursor', 'bad incident reference'],
  ])('%s → 400 naming %s', async (query, path, message) => {
    const { status, body } = await list(query);
    expect(status).toBe(400);
    const error = (
      body as { error: { code: string; message: string; issues: { path: string; message: string }[] } }
    ).error;
    expect(error.code).toBe('invalid_query');
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]!.path).toBe(path);
    expect(error.issues[0]!.message).toContain(message);
  });

  it('requires the webhook token (before looking at the query)', async () => {
    for (const headers of [{}, { authorization: 'Bearer wrong' }] as Record<string, string>[]) {
      const { status, body } = await list('?limit=0', headers);
      expect(status).toBe(401);
      expect(body).toEqual({ error: { code: 'unauthorized', message: 'unauthorized' } });
    }
  });

  it('is not served by the worker role, which serves no /api', async () => {
    const { status } = await list('', auth, 'worker');
    expect(status).toBe(404);
    expect((await list('', auth, 'all')).status).toBe(200);
  });
});

describe('GET /api/incidents: listing', () => {
  it('lists incidents opened by the webhook newest first, filtered, with a cursor', async () => {
    const ids: string[] = [];
    for (const tag of ['list-a', 'list-b', 'list-c']) {
      const res = await appWith().request('/webhook/alertmanager', {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify(inGroup(fixture('firing-reefer-excursion'), tag)),
      });
      expect(res.status).toBe(200);
      ids.push(((await res.json()) as { incidentId: string }).incidentId);
      // Distinct start times, so "newest first" has one answer.
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    // The index is written when the worker side's pump turns the webhooks' write-ahead entries into jobs.
    await pump.drain();
    const all = (await list('?status=firing&vehicle=TRK-0042')).body as IncidentListPage;
    expect(all.items.map((i) => i.id)).toEqual([...ids].reverse());
    expect(all.nextCursor).toBeUndefined();
    expect(all.items[0]).toMatchObject({
      status: 'firing',
      severity: 'critical',
      coldChain: { vehicles: ['TRK-0042'], shipments: ['SHP-2026-11-0193'] },
      escalationStep: 0,
    });

    const first = (await list('?limit=2')).body as IncidentListPage;
    expect(first.items.map((i) => i.id)).toEqual([ids[2], ids[1]]);
    expect(first.nextCursor).toBeDefined();
    const second = (await list(`?limit=2&cursor=${first.nextCursor}`)).body as IncidentListPage;
    expect(second.items.map((i) => i.id)).toEqual([ids[0]]);
    expect(second.nextCursor).toBeUndefined();

    expect(((await list('?status=resolved')).body as IncidentListPage).items).toEqual([]);
    expect(((await list('?vehicle=TRK-9999')).body as IncidentListPage).items).toEqual([]);
  });
});
