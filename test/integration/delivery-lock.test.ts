/**
 * The per-delivery lock (issue 9, item 4). After a reconnect ioredis re-sends a command that got no answer,
 * so an acquire must succeed again for the owner that already holds the lock; and a lock whose worker died
 * must be taken over within its short TTL, which a live worker keeps renewing while the job runs.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningRelay } from '../../src/app/relay.js';
import { WebApiSlackSender } from '../../src/channels/slack/sender.js';
import { DeliveryLocks } from '../../src/store/delivery-locks.js';
import {
  CRITICAL,
  deliveryLog,
  mailsFor,
  post,
  rootsOf,
  startDeliveryRelay,
  startHarness,
} from '../support/delivery.js';
import type { FakeSlack } from '../support/fake-slack.js';
import { fixture, inGroup } from '../support/fixtures.js';
import { pollUntil } from '../support/poll.js';
import { deletePrefix, REDIS_URL, uniquePrefix } from '../support/redis.js';
import type { SmtpSink } from '../support/smtp-sink.js';

const prefix = uniquePrefix('delivery-lock');
let redis: Redis;
let store: DeliveryLocks;
let fake: FakeSlack;
let sink: SmtpSink;
const relays: RunningRelay[] = [];

beforeAll(async () => {
  redis = new Redis(REDIS_URL);
  store = new DeliveryLocks(redis, prefix);
  ({ fake, sink } = await startHarness());
});

afterAll(async () => {
  for (const relay of relays) await relay.stop();
  redis?.disconnect();
  await fake?.close();
  await sink?.close();
  await deletePrefix(prefix);
});

const lockKey = (iid: string, did: string) => `${prefix}:{g}:lock:${iid}:${did}`;

describe('the per-delivery lock', () => {
  it('is acquired again by the owner that holds it (a re-sent acquire), never by another', async () => {
    expect(await store.acquireLock('g', 'i1', 'd1', 'owner-a', 30_000)).toBe(true);
    // ioredis re-sends the unanswered command after a reconnect: the owner must not lock itself out.
    expect(await store.acquireLock('g', 'i1', 'd1', 'owner-a', 30_000)).toBe(true);
    expect(await store.acquireLock('g', 'i1', 'd1', 'owner-b', 30_000)).toBe(false);
    await store.releaseLock('g', 'i1', 'd1', 'owner-b');
    expect(await redis.get(lockKey('i1', 'd1'))).toBe('owner-a');
    await store.releaseLock('g', 'i1', 'd1', 'owner-a');
    expect(await store.acquireLock('g', 'i1', 'd1', 'owner-b', 30_000)).toBe(true);
  });

  it('held by a dead worker (no longer renewed) is taken over once its TTL has passed', async () => {
    expect(await store.acquireLock('g', 'i2', 'd2', 'dead-worker', 500)).toBe(true);
    expect(await store.acquireLock('g', 'i2', 'd2', 'live-worker', 500)).toBe(false);
    await pollUntil(
      () => store.acquireLock('g', 'i2', 'd2', 'live-worker', 500),
      10_000,
      () => 'the dead worker’s lock was never taken over',
    );
    expect(await redis.get(lockKey('i2', 'd2'))).toBe('live-worker');
  });

  it('is renewed while held, and released at the end', async () => {
    const held = await store.holdLock('g', 'i3', 'd3', 9000);
    expect(held).toBeDefined();
    expect(await store.holdLock('g', 'i3', 'd3', 9000)).toBeUndefined();
    // As if a third of the TTL had passed: only the periodic renewal can bring it back above that.
    await redis.pexpire(lockKey('i3', 'd3'), 6000);
    await pollUntil(
      async () => (await redis.pttl(lockKey('i3', 'd3'))) > 7000,
      20_000,
      () => 'the held lock was not renewed',
    );
    await held!.release();
    expect(await redis.exists(lockKey('i3', 'd3'))).toBe(0);
    // A renewal does not revive a lock that is gone, nor take over someone else's.
    expect(await store.renewLock('g', 'i3', 'd3', held!.token, 9000)).toBe(false);
    expect(await redis.exists(lockKey('i3', 'd3'))).toBe(0);
  });
});

describe('a relay that dies holding a delivery lock', () => {
  it('leaves a delivery that another relay finishes without waiting out a long lock', async () => {
    const policy = { criticalRepeat: '1h', delivery: { stale_after: 600, shutdown_grace: 0.3 } };
    // Only BullMQ's stalled-job check is shortened here; the delivery lock keeps its production TTL.
    const locks = { jobLockMs: 1000 };
    const sender = new WebApiSlackSender('xoxb-test-token', fake.url, 30_000);
    const realPost = sender.postMessage.bind(sender);
    let frozen = false;
    sender.postMessage = (message) => {
      if (message.thread_ts) return realPost(message);
      frozen = true;
      return new Promise<never>(() => {});
    };
    const a = await startDeliveryRelay(prefix, fake, sink, policy, { slack: sender, locks });
    relays.push(a);
    const payload = inGroup(fixture('firing-postgresql-down'), 'lock-crash');
    const { incidentId } = await post(a, payload);
    await pollUntil(
      () => frozen,
      20_000,
      () => 'relay A never called Slack',
    );
    await sink.waitFor(() => mailsFor(sink, incidentId).length === 1, 20_000);

    // "Kill" A: its job is abandoned mid-call, holding the delivery lock, and nothing renews it any more.
    await a.stop();
    const killedAt = Date.now();
    const b = await startDeliveryRelay(prefix, fake, sink, policy, { locks });
    relays.push(b);
    await fake.waitFor(() => rootsOf(fake, incidentId, CRITICAL).length === 1, 60_000);
    const resumedAfterMs = Date.now() - killedAt;
    console.info(`delivery resumed ${resumedAfterMs} ms after its worker died`);

    const log = await deliveryLog(b, payload, incidentId, 'slack', CRITICAL);
    expect(log.root?.ts).toBe(rootsOf(fake, incidentId)[0]!.ts);
    expect(mailsFor(sink, incidentId)).toHaveLength(1);
  }, 90_000);
});
