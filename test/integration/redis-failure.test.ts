/** Never 2xx for work that is not stored: a dead or stalled Redis means a fast 503 and Alertmanager retries. */
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { startRelay } from '../../src/app/relay.js';
import { groupIdOf } from '../../src/domain/model.js';
import { BullDeliveryQueue, type DeliveryQueuePort } from '../../src/enqueue/delivery-queue.js';
import { ingestWebhook } from '../../src/ingest/ingest.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { RedisAlertStore } from '../../src/store/alert-store.js';
import { testConfig } from '../support/config.js';
import { fixture, inGroup } from '../support/fixtures.js';
import { postJson } from '../support/http.js';
import { deletePrefix, REDIS_URL, uniquePrefix } from '../support/redis.js';
import { startOwnRedis } from '../support/redis-server.js';

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

describe('a failure between storing the snapshot and queueing its jobs', () => {
  it("makes Alertmanager's retry count as new and queue the jobs, never as a duplicate", async () => {
    const redis = new Redis(REDIS_URL);
    const config = testConfig(prefix);
    const store = new RedisAlertStore(redis, { prefix, retentionSeconds: 60 });
    const real = new BullDeliveryQueue(redis, { prefix, attempts: 3, retentionSeconds: 60 });
    let failNext = true;
    const flaky: DeliveryQueuePort = {
      enqueue: async (jobs) => {
        if (failNext) {
          failNext = false;
          throw new Error('connection lost');
        }
        await real.enqueue(jobs);
      },
      schedule: (job, dueAt) => real.schedule(job, dueAt),
    };
    const deps = {
      store,
      queue: flaky,
      policy: config.policy,
      oncallEmail: undefined,
      metrics: createMetrics({ defaultMetrics: false }),
    };
    const payload = inGroup(fixture('firing-reefer-excursion'), 'crash');
    try {
      await expect(ingestWebhook(payload, deps)).rejects.toThrow('connection lost');
      const retry = await ingestWebhook(payload, deps);
      expect(retry.duplicate).toBe(false);
      expect(retry.jobs).toBe(2);
      const waiting = await real.getJobs(['waiting', 'prioritized']);
      expect(waiting.filter((j) => j.data.incidentId === retry.incidentId)).toHaveLength(2);
      const third = await ingestWebhook(payload, deps);
      expect(third).toMatchObject({ duplicate: true, jobs: 0 });
      expect((await store.loadGroup(groupIdOf(payload.receiver, payload.groupKey))).pending).toBeUndefined();
    } finally {
      await real.close();
      redis.disconnect();
    }
  });
});
