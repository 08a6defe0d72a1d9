/** Never 2xx for work that is not stored: a dead or stalled Redis means a fast 503 and Alertmanager retries. */
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { startRelay } from '../../src/app/relay.js';
import { groupIdOf } from '../../src/domain/model.js';
import { BullDeliveryQueue } from '../../src/enqueue/delivery-queue.js';
import { ingestWebhook } from '../../src/ingest/ingest.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { RedisAlertStore } from '../../src/store/alert-store.js';
import { testConfig } from '../support/config.js';
import { fixture, inGroup } from '../support/fixtures.js';
import { postJson } from '../support/http.js';
import { deletePrefix, REDIS_URL, uniquePrefix } from '../support/redis.js';
import { startOwnRedis } from '../support/redis-server.js';
import { testPump } from '../support/write-ahead.js';

const prefix = uniquePrefix('redis-failure');
afterAll(() => deletePrefix(prefix));

describe('Redis down or slow', () => {
  it('answers 503 within about a second when Redis dies, and /readyz says not ready', async () => {
    const own = await startOwnRedis();
    const relay = await startRelay(testConfig(prefix, { REDIS_URL: own.url }));
    try {
      const ok = await postJson(
        `${relay.url}/webhook/alertmanager`,
        inGroup(fixture('firing-high-cpu'), 'before'),
      );
      expect(ok.status).toBe(200);
      await own.stop();
      const started = Date.now();
      const res = await postJson(
        `${relay.url}/webhook/alertmanager`,
        inGroup(fixture('firing-high-cpu'), 'after'),
      );
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toBe('5');
      expect(res.json()).toMatchObject({ error: { code: 'unavailable' } });
      // Bounded by the command timeout, not by Redis coming back; the bound is loose so a loaded machine passes.
      expect(Date.now() - started).toBeLessThan(10_000);
      expect((await fetch(`${relay.url}/readyz`)).status).toBe(503);
      expect((await fetch(`${relay.url}/healthz`)).status).toBe(200);
    } finally {
      await relay.stop();
      await own.stop();
    }
  });

  it('answers 503 when Redis stalls past the command timeout', async () => {
    const own = await startOwnRedis();
    const relay = await startRelay(testConfig(prefix, { REDIS_URL: own.url }));
    const admin = new Redis(own.url);
    try {
      await admin.call('CLIENT', 'PAUSE', '2000', 'ALL');
      const started = Date.now();
      const res = await postJson(
        `${relay.url}/webhook/alertmanager`,
        inGroup(fixture('firing-high-cpu'), 'stall'),
      );
      expect(res.status).toBe(503);
      // Bounded by the command timeout, not by Redis coming back; the bound is loose so a loaded machine passes.
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      admin.disconnect();
      await relay.stop();
      await own.stop();
    }
  });
});

describe('a pending marker left by a writer that crashed between its commit and its enqueue', () => {
  // Webhooks store their jobs in the commit itself (a write-ahead entry), so they never leave one; the
  // worker's resolve of alerts Alertmanager no longer reports (alertmanager/truth.ts) and relays of the
  // previous version commit first and queue after, and may.
  it("makes Alertmanager's next copy count as new and store the jobs, never as a duplicate", async () => {
    const redis = new Redis(REDIS_URL);
    const config = testConfig(prefix);
    const store = new RedisAlertStore(redis, { prefix, retentionSeconds: 60 });
    const queue = new BullDeliveryQueue(redis, { prefix, attempts: 3, retentionSeconds: 60 });
    const pump = testPump(redis, prefix, 60);
    const deps = {
      store,
      writeAheadKey: pump.log.key,
      policy: config.policy,
      oncallEmail: undefined,
      metrics: createMetrics({ defaultMetrics: false }),
    };
    const payload = inGroup(fixture('firing-reefer-excursion'), 'crash');
    const groupId = groupIdOf(payload.receiver, payload.groupKey);
    const waitingOf = async (incidentId: string) =>
      (await queue.getJobs(['waiting', 'prioritized'])).filter((j) => j.data.incidentId === incidentId);
    try {
      const first = await ingestWebhook(payload, deps);
      await pump.drain();
      // Another writer commits the group with the marker, then dies before queueing.
      const stored = await store.loadGroup(groupId);
      expect(await store.commitGroup(stored.snapshot!, stored.rev, true)).toBeDefined();
      expect((await store.loadGroup(groupId)).pending).toBeDefined();

      const retry = await ingestWebhook(payload, deps);
      expect(retry).toMatchObject({ duplicate: false, jobs: 2, incidentId: first.incidentId });
      await pump.drain();
      // The pump's finishCommit cleared the marker; the jobs collapsed into the waiting ones.
      expect((await store.loadGroup(groupId)).pending).toBeUndefined();
      expect(await waitingOf(first.incidentId)).toHaveLength(2);
      expect(await ingestWebhook(payload, deps)).toMatchObject({ duplicate: true, jobs: 0 });
    } finally {
      await queue.close();
      await pump.close();
      redis.disconnect();
    }
  });
});
