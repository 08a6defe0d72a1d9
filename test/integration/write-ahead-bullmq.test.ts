/**
 * The write-ahead pump adds BullMQ jobs with BullMQ's own `addPrioritizedJob` script inside a Lua call of
 * ours, with arguments built by BullMQ's internals (src/enqueue/write-ahead.ts). This compares what it writes
 * with what `Queue.add` writes for the same job, key by key and field by field in Redis (job hash, wait,
 * prioritized and delayed sets, marker, deduplication key, events, counters), so a BullMQ upgrade that changes
 * either fails here instead of in production.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BullDeliveryQueue, jobOptions, type ReconcileJobData } from '../../src/enqueue/delivery-queue.js';
import { encodeEntry, WriteAheadLog } from '../../src/enqueue/write-ahead.js';
import { deletePrefix, REDIS_URL, uniquePrefix } from '../support/redis.js';

const ours = uniquePrefix('wal-ours');
const theirs = uniquePrefix('wal-theirs');
const options = (prefix: string) => ({ prefix, attempts: 5, retentionSeconds: 7200 });
let redis: Redis;
let ourQueue: BullDeliveryQueue;
let theirQueue: BullDeliveryQueue;
let log: WriteAheadLog;

beforeAll(() => {
  redis = new Redis(REDIS_URL);
  ourQueue = new BullDeliveryQueue(redis, options(ours));
  theirQueue = new BullDeliveryQueue(redis, options(theirs));
  log = new WriteAheadLog(redis, ourQueue, options(ours));
});

afterAll(async () => {
  await ourQueue.close();
  await theirQueue.close();
  redis.disconnect();
  await deletePrefix(ours);
  await deletePrefix(theirs);
});

/** Every key under a queue prefix, by its name after the prefix, with its content in a comparable form. */
async function dump(prefix: string): Promise<Record<string, unknown>> {
  const keys = (await redis.keys(`{${prefix}}:*`)).filter((k) => !k.endsWith(':ingest-log')).sort();
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    const name = key.slice(`{${prefix}}`.length);
    const type = await redis.type(key);
    const ttl = (await redis.pttl(key)) > 0 ? 'expires' : 'persistent';
    if (type === 'hash') {
      const hash = await redis.hgetall(key);
      // The one field that differs by when the add ran: compared for shape, not value.
      if (hash.timestamp) hash.timestamp = /^\d{13}$/.test(hash.timestamp) ? 'ms' : hash.timestamp;
      out[name] = { type, ttl, hash };
    } else if (type === 'zset')
      out[name] = { type, ttl, zset: await redis.zrange(key, '0', '-1', 'WITHSCORES') };
    else if (type === 'list') out[name] = { type, ttl, list: await redis.lrange(key, 0, -1) };
    else if (type === 'string') out[name] = { type, ttl, value: await redis.get(key) };
    else if (type === 'stream') {
      out[name] = { type, ttl, entries: (await redis.xrange(key, '-', '+')).map(([, fields]) => fields) };
    } else out[name] = { type, ttl };
  }
  return out;
}

async function addOurs(jobs: ReconcileJobData[]): Promise<void> {
  // One entry per job here: an entry holds one webhook's jobs, which share incident and severity.
  for (const data of jobs) await redis.xadd(log.key, '*', 'r', '1', 'j', encodeEntry([data]));
  const entries = await log.read(10);
  expect(await log.apply(entries)).toHaveLength(entries.length);
}

async function addTheirs(jobs: ReconcileJobData[]): Promise<void> {
  for (const data of jobs) {
    await theirQueue.queues[data.kind].add('reconcile', data, jobOptions(data, options(theirs)));
  }
}

const job = (deliveryId: string, kind: 'slack' | 'email', severity: string): ReconcileJobData => ({
  groupId: 'b1946ac92492d234',
  incidentId: '7d865e959b2466918c9863afca942d0f'.slice(0, 16),
  deliveryId,
  kind,
  severity,
  acceptedAt: 1_795_000_000_000,
});

describe('a job the write-ahead pump adds', () => {
  it('is stored exactly as Queue.add stores it (priority, deduplication, attempts, backoff, removal)', async () => {
    const first = [job('a1', 'slack', 'critical'), job('b2', 'email', 'critical')];
    await addOurs(first);
    await addTheirs(first);
    const a = await dump(ours);
    const b = await dump(theirs);
    // The keys a prioritized, deduplicated add writes are all there (not an empty comparison).
    expect(Object.keys(a)).toEqual(
      expect.arrayContaining([
        ':deliveries-slack:1',
        ':deliveries-slack:prioritized',
        ':deliveries-slack:marker',
        ':deliveries-slack:events',
        ':deliveries-slack:meta',
        ':deliveries-slack:id',
        ':deliveries-slack:pc',
        ':deliveries-email:1',
      ]),
    );
    expect(Object.keys(a).some((k) => k.startsWith(':deliveries-slack:de:'))).toBe(true);
    expect((a[':deliveries-slack:1'] as { hash: Record<string, string> }).hash).toMatchObject({
      name: 'reconcile',
      priority: '1',
      delay: '0',
    });
    expect(a).toEqual(b);
  });

  it('is deduplicated exactly as Queue.add deduplicates it, at another priority', async () => {
    // The same deliveries again (absorbed by the waiting jobs), and a warning for a new delivery.
    const again = [job('a1', 'slack', 'critical'), job('c3', 'slack', 'warning')];
    await addOurs(again);
    await addTheirs(again);
    const a = await dump(ours);
    expect(
      (a[':deliveries-slack:events'] as { entries: string[][] }).entries.some((f) => f[1] === 'deduplicated'),
    ).toBe(true);
    const warning = Object.values(a).find((v) =>
      (v as { hash?: Record<string, string> }).hash?.data?.includes('"c3"'),
    ) as { hash: Record<string, string> } | undefined;
    expect(warning?.hash.priority).toBe('2');
    expect(a).toEqual(await dump(theirs));
  });
});
