/**
 * The webhook is answered once Redis holds the snapshot and its jobs as a write-ahead entry, written by the
 * commit's own call (src/ingest/ingest.ts); the pump (src/ingest/pump.ts) later calls finishCommit and turns
 * the entry into BullMQ jobs, deleting it in the same call that adds them. These tests stop the pipeline at
 * each point a crash could stop it, against the real Redis, and check that nothing accepted is lost or
 * queued twice.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { groupIdOf } from '../../src/domain/model.js';
import { BullDeliveryQueue } from '../../src/enqueue/delivery-queue.js';
import { type IngestDeps, ingestWebhook } from '../../src/ingest/ingest.js';
import { pumpOnce } from '../../src/ingest/pump.js';
import { createLogger } from '../../src/observability/logger.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { RedisAlertStore } from '../../src/store/alert-store.js';
import { testConfig } from '../support/config.js';
import { fixture, inGroup } from '../support/fixtures.js';
import { deletePrefix, REDIS_URL, uniquePrefix } from '../support/redis.js';
import { type TestPump, testPump } from '../support/write-ahead.js';

const prefix = uniquePrefix('ingest-finish');
const silent = createLogger('silent');
let redis: Redis;
let store: RedisAlertStore;
let queue: BullDeliveryQueue;
let pump: TestPump;

beforeAll(() => {
  redis = new Redis(REDIS_URL);
  store = new RedisAlertStore(redis, { prefix, retentionSeconds: 60 });
  queue = new BullDeliveryQueue(redis, { prefix, attempts: 3, retentionSeconds: 60 });
  pump = testPump(redis, prefix, 60);
});

afterAll(async () => {
  await queue.close();
  await pump.close();
  redis.disconnect();
  await deletePrefix(prefix);
});

const deps = (): IngestDeps => ({
  store,
  writeAheadKey: pump.log.key,
  policy: testConfig(prefix).policy,
  oncallEmail: undefined,
  metrics: createMetrics({ defaultMetrics: false }),
});

async function queuedJobsOf(incidentId: string) {
  // Delivery jobs all carry a priority: waiting ones sit in BullMQ's prioritized set.
  return (await queue.getJobs(['waiting', 'prioritized'])).filter((j) => j.data.incidentId === incidentId);
}

async function entriesOf(incidentId: string) {
  return (await pump.log.read(1000)).filter((e) => e.jobs[0]?.incidentId === incidentId);
}

describe('a crash between the answer and the pump', () => {
  it('answers with snapshot and write-ahead entry stored; a pump started later queues exactly the jobs', async () => {
    const payload = inGroup(fixture('firing-reefer-excursion'), 'crash-before-pump');
    const groupId = groupIdOf(payload.receiver, payload.groupKey);

    const result = await ingestWebhook(payload, deps());
    expect(result).toMatchObject({ duplicate: false, jobs: 2 });
    // What a crash right after the answer leaves: the snapshot and one entry holding both jobs, no BullMQ job
    // yet, no pending marker (nothing can be missing), the index not yet written.
    expect((await store.loadIncident(groupId, result.incidentId))?.status).toBe('firing');
    const [entry, ...more] = await entriesOf(result.incidentId);
    expect(more).toEqual([]);
    expect(entry?.jobs.map((j) => j.kind).sort()).toEqual(['email', 'slack']);
    expect(entry?.rev).toBe((await store.loadGroup(groupId)).rev);
    expect(await queuedJobsOf(result.incidentId)).toEqual([]);
    expect((await store.loadGroup(groupId)).pending).toBeUndefined();
    expect(await store.findGroupOfIncident(result.incidentId)).toBeUndefined();

    // A new process's pump.
    expect(await pump.drain()).toBeGreaterThanOrEqual(1);
    const jobs = await queuedJobsOf(result.incidentId);
    expect(jobs.map((j) => j.data).sort((a, b) => a.kind.localeCompare(b.kind))).toEqual(
      entry?.jobs.sort((a, b) => a.kind.localeCompare(b.kind)),
    );
    expect(await entriesOf(result.incidentId)).toEqual([]);
    expect(await store.findGroupOfIncident(result.incidentId)).toBe(groupId);

    // Pumping again adds nothing; the repeat of the webhook is a duplicate and writes no entry.
    await pump.drain();
    expect(await queuedJobsOf(result.incidentId)).toHaveLength(2);
    expect(await ingestWebhook(payload, deps())).toMatchObject({ duplicate: true, jobs: 0 });
    expect(await entriesOf(result.incidentId)).toEqual([]);
  });

  it('keeps the entry when the pump dies before its atomic call, and the next pump queues the jobs once', async () => {
    const payload = inGroup(fixture('firing-reefer-excursion'), 'crash-in-pump');
    const groupId = groupIdOf(payload.receiver, payload.groupKey);
    const result = await ingestWebhook(payload, deps());

    // The pump dies after finishCommit (index written), before adding the jobs.
    const dying = {
      read: pump.log.read.bind(pump.log),
      waitForEntry: pump.log.waitForEntry.bind(pump.log),
      apply: async () => {
        throw new Error('process killed');
      },
    };
    await expect(pumpOnce({ log: dying, store, blocking: redis, logger: silent })).rejects.toThrow('killed');
    expect(await entriesOf(result.incidentId)).toHaveLength(1);
    expect(await queuedJobsOf(result.incidentId)).toEqual([]);
    expect(await store.findGroupOfIncident(result.incidentId)).toBe(groupId);

    // Or dies in finishCommit, before anything of its own was written.
    const failingStore = {
      loadIncident: store.loadIncident.bind(store),
      finishCommit: async () => {
        throw new Error('connection lost');
      },
    };
    await expect(
      pumpOnce({ log: pump.log, store: failingStore, blocking: redis, logger: silent }),
    ).rejects.toThrow('connection lost');
    expect(await entriesOf(result.incidentId)).toHaveLength(1);
    expect(await queuedJobsOf(result.incidentId)).toEqual([]);

    await pump.drain();
    expect(await entriesOf(result.incidentId)).toEqual([]);
    expect(await queuedJobsOf(result.incidentId)).toHaveLength(2);
  });
});

describe('two pumps', () => {
  it('apply each entry once when they race for the same batch: no job is added twice', async () => {
    const incidents: string[] = [];
    for (let i = 0; i < 12; i++) {
      const payload = inGroup(fixture('firing-reefer-excursion'), `race-${i}`);
      incidents.push((await ingestWebhook(payload, deps())).incidentId);
    }
    const entries = (await pump.log.read(1000)).filter((e) =>
      incidents.includes(e.jobs[0]?.incidentId ?? ''),
    );
    expect(entries).toHaveLength(12);

    // Two relay processes' pumps, each on its own connection, read the same entries and apply them at once.
    const otherRedis = new Redis(REDIS_URL);
    const other = testPump(otherRedis, prefix, 60);
    try {
      const [a, b] = await Promise.all([pump.log.apply(entries), other.log.apply(entries)]);
      expect([...a, ...b].sort()).toEqual(entries.map((e) => e.id).sort());
      expect(a.filter((id) => b.includes(id))).toEqual([]);
    } finally {
      await other.close();
      otherRedis.disconnect();
    }

    for (const incidentId of incidents) {
      const jobs = await queuedJobsOf(incidentId);
      expect(jobs.map((j) => j.data.kind).sort()).toEqual(['email', 'slack']);
    }
    // The losing pump's adds never reached BullMQ: no add was absorbed by deduplication either.
    for (const name of ['deliveries-slack', 'deliveries-email']) {
      const events = await redis.xrange(`{${prefix}}:${name}:events`, '-', '+');
      const deduplicated = events.filter(([, fields]) => fields[1] === 'deduplicated');
      expect(deduplicated).toEqual([]);
    }
  });
});
