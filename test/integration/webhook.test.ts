/**
 * The receiver against a real listening server and the real Redis: auth, limits, content type, JSON,
 * schema, deduplication (HA copies, concurrent copies at two relay processes), durability.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningRelay, startRelay } from '../../src/app/relay.js';
import { groupIdOf } from '../../src/domain/model.js';
import { BullDeliveryQueue, type ReconcileJobData } from '../../src/enqueue/delivery-queue.js';
import { testConfig } from '../support/config.js';
import { fixture, fixtureText, inGroup } from '../support/fixtures.js';
import { postJson, rawRequest } from '../support/http.js';
import { deletePrefix, REDIS_URL, uniquePrefix } from '../support/redis.js';
import { type TestPump, testPump } from '../support/write-ahead.js';

const TOKEN = 'test-webhook-token-0123456789';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const prefix = uniquePrefix('webhook');
const LIMIT = 512 * 1024;
let relay: RunningRelay;
let other: RunningRelay;
let queue: BullDeliveryQueue;
let redis: Redis;
let pump: TestPump;

beforeAll(async () => {
  // The api role: these tests count the jobs a webhook queues, and a worker in the same process would be
  // taking them (and scheduling reminders) while they count.
  const config = testConfig(prefix, {
    RELAY_WEBHOOK_TOKEN: TOKEN,
    RELAY_MAX_BODY_BYTES: String(LIMIT),
    RELAY_ROLE: 'api',
  });
  relay = await startRelay(config);
  other = await startRelay(config);
  redis = new Redis(REDIS_URL);
  queue = new BullDeliveryQueue(redis, { prefix, attempts: 1, retentionSeconds: 60 });
  pump = testPump(redis, prefix);
});

afterAll(async () => {
  await relay?.stop();
  await other?.stop();
  await queue?.close();
  await pump?.close();
  redis?.disconnect();
  await deletePrefix(prefix);
});

const webhook = (r: RunningRelay = relay) => `${r.url}/webhook/alertmanager`;

/** The incident's jobs, once the webhooks' write-ahead entries are queued (as a worker's pump does). */
async function jobsOf(incidentId: string): Promise<ReconcileJobData[]> {
  await pump.drain();
  const jobs = await queue.getJobs(['waiting', 'prioritized', 'delayed', 'active']);
  return jobs.filter((j) => j.data.incidentId === incidentId).map((j) => j.data);
}

describe('authentication', () => {
  it('accepts the bearer token and the basic-auth password, as Alertmanager sends them', async () => {
    const body = inGroup(fixture('firing-high-cpu'), 'auth-bearer');
    expect((await postJson(webhook(), body, AUTH)).status).toBe(200);
    const basic = `Basic ${Buffer.from(`alertmanager:${TOKEN}`).toString('base64')}`;
    const res = await postJson(webhook(), inGroup(body, 'basic'), { authorization: basic });
    expect(res.status).toBe(200);
  });

  it('refuses a missing or wrong token with 401 and no detail, storing nothing', async () => {
    const body = inGroup(fixture('firing-high-cpu'), 'auth-wrong');
    for (const headers of [
      {} as Record<string, string>,
      { authorization: 'Bearer nope' },
      { authorization: `Basic ${Buffer.from('x:nope').toString('base64')}` },
    ]) {
      const res = await postJson(webhook(), body, headers);
      expect(res.status).toBe(401);
      expect(res.json()).toEqual({ error: { code: 'unauthorized', message: 'unauthorized' } });
    }
    const stored = await relay.store.loadGroup(groupIdOf(body.receiver, body.groupKey));
    expect(stored.rev).toBe('');
  });
});

describe('limits and malformed requests', () => {
  it('answers 413 on a Content-Length over the limit without reading the body', async () => {
    const res = await rawRequest(webhook(), {
      headers: { ...AUTH, 'content-type': 'application/json', 'content-length': String(LIMIT + 1) },
      body: '{',
    });
    expect(res.status).toBe(413);
    expect((res.json() as { error: { code: string } }).error.code).toBe('payload_too_large');
  });

  it('answers 413 as soon as a chunked body grows past the limit', async () => {
    const chunk = Buffer.alloc(128 * 1024, 'a');
    const res = await rawRequest(webhook(), {
      headers: { ...AUTH, 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      chunks: ['{"x":"', chunk, chunk, chunk, chunk, chunk, '"}'],
    });
    expect(res.status).toBe(413);
  });

  it('accepts a chunked body under the limit', async () => {
    const text = JSON.stringify(inGroup(fixture('firing-high-cpu'), 'chunked'));
    const res = await rawRequest(webhook(), {
      headers: { ...AUTH, 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      chunks: [text.slice(0, 100), text.slice(100)],
    });
    expect(res.status).toBe(200);
  });

  it('answers 415 to a content type other than JSON', async () => {
    const res = await rawRequest(webhook(), {
      headers: { ...AUTH, 'content-type': 'text/plain' },
      body: fixtureText('firing-high-cpu'),
    });
    expect(res.status).toBe(415);
    expect(res.json()).toMatchObject({ error: { code: 'unsupported_media_type' } });
  });

  it('answers 400 to bad JSON', async () => {
    const res = await postJson(webhook(), '{"receiver": ', AUTH);
    expect(res.status).toBe(400);
    expect(res.json()).toMatchObject({ error: { code: 'bad_json' } });
  });

  it('answers 422 naming the bad fields, and stores nothing', async () => {
    const body = {
      ...inGroup(fixture('firing-high-cpu'), 'schema'),
      status: 'burning',
      alerts: [{ status: 'firing' }],
    };
    const res = await postJson(webhook(), body, AUTH);
    expect(res.status).toBe(422);
    const error = (res.json() as { error: { code: string; issues: { path: string }[] } }).error;
    expect(error.code).toBe('invalid_payload');
    expect(error.issues.map((i) => i.path)).toEqual(
      expect.arrayContaining(['status', 'alerts.0.labels', 'alerts.0.startsAt', 'alerts.0.fingerprint']),
    );
    expect((await relay.store.loadGroup(groupIdOf(body.receiver, body.groupKey))).rev).toBe('');
  });

  it('counts rejections by reason in /metrics', async () => {
    const text = await (await fetch(`${relay.url}/metrics`)).text();
    for (const reason of ['unauthorized', 'too_large', 'content_type', 'bad_json', 'schema']) {
      expect(text).toMatch(new RegExp(`relay_requests_rejected_total\\{reason="${reason}"\\} [1-9]`));
    }
  });
});

describe('deduplication and durability', () => {
  it('stores the snapshot and one job per delivery before answering, and answers a repeat as duplicate', async () => {
    const first = inGroup(fixture('firing-postgresql-down'), 'durable');
    const res = await postJson(webhook(), first, AUTH);
    expect(res.status).toBe(200);
    const { incidentId, status } = res.json() as { incidentId: string; status: string };
    expect(status).toBe('accepted');
    const snapshot = await relay.store.loadIncident(groupIdOf(first.receiver, first.groupKey), incidentId);
    expect(snapshot?.status).toBe('firing');
    expect(snapshot?.deliveries.map((d) => d.target)).toEqual(['#alerts-critical', 'oncall@preview.invalid']);
    expect(await jobsOf(incidentId)).toHaveLength(2);

    const repeat = await postJson(webhook(), first, AUTH);
    expect(repeat.json()).toEqual({ status: 'duplicate', incidentId });
    expect(await jobsOf(incidentId)).toHaveLength(2);
  });

  it("collapses the partitioned pair: replica b's copies are duplicates of replica a's", async () => {
    const tag = 'pair';
    const sequence = ['group-first', 'group-truncated', 'group-partial-resolve'] as const;
    const outcomes: string[] = [];
    for (const step of sequence) {
      for (const replica of ['a', 'b'] as const) {
        const res = await postJson(
          webhook(replica === 'a' ? relay : other),
          inGroup(fixture(`${step}-replica-${replica}`), tag),
          AUTH,
        );
        outcomes.push((res.json() as { status: string }).status);
      }
    }
    expect(outcomes).toEqual(['accepted', 'duplicate', 'accepted', 'duplicate', 'accepted', 'duplicate']);
  });

  it('counts exactly one of two copies arriving at the same instant at two relay processes as new', async () => {
    for (let round = 0; round < 10; round++) {
      const a = inGroup(fixture('group-first-replica-a'), `race-${round}`);
      const b = inGroup(fixture('group-first-replica-b'), `race-${round}`);
      const [ra, rb] = await Promise.all([
        postJson(webhook(relay), a, AUTH),
        postJson(webhook(other), b, AUTH),
      ]);
      const statuses = [ra, rb].map((r) => (r.json() as { status: string }).status);
      expect(ra.status).toBe(200);
      expect(rb.status).toBe(200);
      // The loser of the commit race re-reads and finds a duplicate; if it arrives while the winner's jobs
      // are still being queued it queues them too (idempotent), which is counted as accepted.
      expect(statuses).toContain('accepted');
      const incidentId = (ra.json() as { incidentId: string }).incidentId;
      expect((rb.json() as { incidentId: string }).incidentId).toBe(incidentId);
      const jobs = await jobsOf(incidentId);
      expect(jobs.map((j) => j.deliveryId).sort()).toEqual(
        [...new Set(jobs.map((j) => j.deliveryId))].sort(),
      );
      expect(jobs).toHaveLength(2); // Slack + the on-call list, once each
    }
  });

  it('accepts any alert count within the body limit, truncating beyond the cap', async () => {
    const base = inGroup(fixture('firing-high-cpu'), 'many');
    const alerts = Array.from({ length: 600 }, (_, i) => ({ ...base.alerts[0]!, fingerprint: `fp${i}` }));
    const res = await postJson(webhook(), { ...base, alerts }, AUTH);
    expect(res.status).toBe(200);
    const snapshot = await relay.store.loadIncident(
      groupIdOf(base.receiver, base.groupKey),
      (res.json() as { incidentId: string }).incidentId,
    );
    expect(snapshot?.alerts).toHaveLength(500);
    expect(snapshot?.truncatedAlerts).toBe(100);
  });
});

describe('request ids and counters', () => {
  it("answers every response with X-Request-Id, echoing the caller's", async () => {
    const ok = await postJson(webhook(), inGroup(fixture('firing-high-cpu'), 'request-id'), {
      ...AUTH,
      'x-request-id': 'am-42',
    });
    expect(ok.status).toBe(200);
    expect(ok.headers['x-request-id']).toBe('am-42');
    const refused = await postJson(webhook(), inGroup(fixture('firing-high-cpu'), 'request-id'), {});
    expect(refused.status).toBe(401);
    expect(refused.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const missing = await fetch(`${relay.url}/nowhere`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('counts every received alert by status and severity', async () => {
    const counted = async () => {
      const text = await (await fetch(`${relay.url}/metrics`)).text();
      const value = (status: string, severity: string) =>
        Number(
          new RegExp(
            `relay_alerts_received_total\\{status="${status}",severity="${severity}"\\} (\\d+)`,
          ).exec(text)?.[1] ?? 0,
        );
      return {
        firingCritical: value('firing', 'critical'),
        firingWarning: value('firing', 'warning'),
        resolvedCritical: value('resolved', 'critical'),
      };
    };
    const before = await counted();
    const base = inGroup(fixture('firing-high-cpu'), 'counted');
    const alert = base.alerts[0]!;
    const at = (fingerprint: string, status: 'firing' | 'resolved', severity: string) => ({
      ...alert,
      fingerprint,
      status,
      labels: { ...alert.labels, severity },
    });
    const alerts = [
      at('c1', 'firing', 'critical'),
      at('c2', 'firing', 'critical'),
      at('w1', 'firing', 'warning'),
      at('c3', 'firing', 'critical'),
      at('r1', 'resolved', 'critical'),
      at('r2', 'resolved', 'critical'),
    ];
    expect((await postJson(webhook(), { ...base, alerts }, AUTH)).status).toBe(200);
    const after = await counted();
    expect(after.firingCritical - before.firingCritical).toBe(3);
    expect(after.firingWarning - before.firingWarning).toBe(1);
    expect(after.resolvedCritical - before.resolvedCritical).toBe(2);
  });
});
