/**
 * The webhook is answered once Redis holds the snapshot and its jobs; clearing the pending marker and
 * writing the incident index happen after the answer (src/ingest/ingest.ts). These tests hold that bookkeeping
 * back or make it fail, against the real Redis, and check that nothing accepted is lost.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { groupIdOf, type IncidentSnapshot } from '../../src/domain/model.js';
import { BullDeliveryQueue } from '../../src/enqueue/delivery-queue.js';
import { type IngestDeps, ingestWebhook } from '../../src/ingest/ingest.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { type AlertStore, RedisAlertStore } from '../../src/store/alert-store.js';
import { testConfig } from '../support/config.js';
import { fixture, inGroup } from '../support/fixtures.js';
import { deletePrefix, REDIS_URL, uniquePrefix } from '../support/redis.js';

const prefix = uniquePrefix('ingest-finish');
let redis: Redis;
let store: RedisAlertStore;
let queue: BullDeliveryQueue;

beforeAll(() => {
  redis = new Redis(REDIS_URL);
  store = new RedisAlertStore(redis, { prefix, retentionSeconds: 60 });
  queue = new BullDeliveryQueue(redis, { prefix, attempts: 3, retentionSeconds: 60 });
});

afterAll(async () => {
  await queue.close();
  redis.disconnect();
  await deletePrefix(prefix);
});

/** The real store, with finishCommit replaced by `finish` (which may call the real one). */
function storeWith(finish: (snapshot: IncidentSnapshot, rev: string) => Promise<void>): AlertStore {
  return {
    loadGroup: (id) => store.loadGroup(id),
    commitGroup: (snapshot, rev, pending) => store.commitGroup(snapshot, rev, pending),
    finishCommit: finish,
    loadIncident: (gid, iid) => store.loadIncident(gid, iid),
    findGroupOfIncident: (iid) => store.findGroupOfIncident(iid),
  };
}

function depsWith(alertStore: AlertStore, onFinishError?: IngestDeps['onFinishError']): IngestDeps {
  return {
    store: alertStore,
    queue,
    policy: testConfig(prefix).policy,
    oncallEmail: undefined,
    metrics: createMetrics({ defaultMetrics: false }),
    ...(onFinishError ? { onFinishError } : {}),
  };
}

async function waitingJobsOf(incidentId: string): Promise<number> {
  // Delivery jobs all carry a priority: waiting ones sit in BullMQ's prioritized set.
  return (await queue.getJobs(['waiting', 'prioritized'])).filter((j) => j.data.incidentId === incidentId)
    .length;
}

describe('bookkeeping after the answer', () => {
  it('answers with the snapshot and jobs stored while the pending marker is still set, then clears it', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const held = storeWith(async (snapshot, rev) => {
      await gate;
      await store.finishCommit(snapshot, rev);
    });
    const payload = inGroup(fixture('firing-reefer-excursion'), 'held');
    const groupId = groupIdOf(payload.receiver, payload.groupKey);

    const result = await ingestWebhook(payload, depsWith(held));
    expect(result).toMatchObject({ duplicate: false, jobs: 2 });
    expect((await store.loadIncident(groupId, result.incidentId))?.status).toBe('firing');
    expect(await waitingJobsOf(result.incidentId)).toBe(2);
    expect((await store.loadGroup(groupId)).pending).toBeDefined();
    expect(await store.findGroupOfIncident(result.incidentId)).toBeUndefined();

    release();
    await result.finished;
    expect((await store.loadGroup(groupId)).pending).toBeUndefined();
    expect(await store.findGroupOfIncident(result.incidentId)).toBe(groupId);
  });

  it('reports a failed finish, and the next copy counts as new and re-queues the same jobs', async () => {
    const errors: unknown[] = [];
    let failNext = true;
    const flaky = storeWith(async (snapshot, rev) => {
      if (failNext) {
        failNext = false;
        throw new Error('connection lost after the answer');
      }
      await store.finishCommit(snapshot, rev);
    });
    const deps = depsWith(flaky, (error) => errors.push(error));
    const payload = inGroup(fixture('firing-reefer-excursion'), 'flaky-finish');
    const groupId = groupIdOf(payload.receiver, payload.groupKey);

    const first = await ingestWebhook(payload, deps);
    await first.finished; // settles even though finishCommit failed
    expect(first).toMatchObject({ duplicate: false, jobs: 2 });
    expect(errors).toHaveLength(1);
    expect((await store.loadGroup(groupId)).pending).toBeDefined();

    const copy = await ingestWebhook(payload, deps);
    await copy.finished;
    expect(copy).toMatchObject({ duplicate: false, jobs: 2, incidentId: first.incidentId });
    // The re-queued jobs collapse into the waiting ones (deduplication id per delivery).
    expect(await waitingJobsOf(first.incidentId)).toBe(2);
    expect((await store.loadGroup(groupId)).pending).toBeUndefined();

    const third = await ingestWebhook(payload, deps);
    expect(third).toMatchObject({ duplicate: true, jobs: 0 });
  });
});
