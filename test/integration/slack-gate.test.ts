/**
 * The per-channel Slack gate against the real Redis (issue 9, item 5). Each waiter is given a slot of its own,
 * one interval after the previous one, and keeps it across wake-ups, so a paced backlog of N messages costs
 * about one wake-up per message instead of N waiters waking together at every slot and blocking again.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SlackPaceGate, slotSpacing } from '../../src/channels/slack/pace-gate.js';
import { pollUntil } from '../support/poll.js';
import { deletePrefix, REDIS_URL, uniquePrefix } from '../support/redis.js';

const prefix = uniquePrefix('slack-gate');
let redis: Redis;
let store: SlackPaceGate;

beforeAll(() => {
  redis = new Redis(REDIS_URL);
  store = new SlackPaceGate(redis, prefix);
});

afterAll(async () => {
  redis?.disconnect();
  await deletePrefix(prefix);
});

const LONG = 10_000;

describe('the Slack gate', () => {
  it('lets the first caller of an idle channel through and gives each waiter its own slot, one spacing apart', async () => {
    expect(await store.acquire('#paced', LONG, 'h0')).toBe(0);
    const w1 = await store.acquire('#paced', LONG, 'h1');
    const w2 = await store.acquire('#paced', LONG, 'h2');
    const w3 = await store.acquire('#paced', LONG, 'h3');
    // Each wait ends at a later slot: waiters do not all wake at the same time.
    expect(w1).toBeGreaterThan(0);
    expect(w2 - w1).toBeGreaterThan(LONG / 2);
    expect(w3 - w2).toBeGreaterThan(LONG / 2);

    const state = await store.state('#paced');
    const r1 = state.reservations.h1!;
    const spacing = slotSpacing(LONG);
    expect(spacing).toBeGreaterThanOrEqual(LONG);
    expect(state.reservations).toEqual({ h1: r1, h2: r1 + spacing, h3: r1 + 2 * spacing });
    expect(state.nextAt).toBe(r1 + 3 * spacing);
  });

  it('keeps a waiter its slot when it asks again before the slot (a wake-up too early, or a re-sent call)', async () => {
    const before = await store.state('#paced');
    const again = await store.acquire('#paced', LONG, 'h2');
    expect(again).toBeGreaterThan(LONG / 2);
    expect(await store.state('#paced')).toEqual(before);
  });

  it('lets a waiter through at its slot without taking a new one; its next call queues like any other', async () => {
    const SHORT = 1000;
    expect(await store.acquire('#short', SHORT, 'a')).toBe(0);
    expect(await store.acquire('#short', SHORT, 'b')).toBeGreaterThan(0);
    const { reservations, nextAt } = await store.state('#short');
    const slotOfB = reservations.b!;
    expect(nextAt).toBe(slotOfB + slotSpacing(SHORT));

    await pollUntil(
      async () => (await store.acquire('#short', SHORT, 'b')) === 0,
      10_000,
      () => 'b was never let through at its slot',
    );
    const after = await store.state('#short');
    expect(after.reservations).toEqual({});
    expect(after.nextAt).toBe(slotOfB + slotSpacing(SHORT));
    // A second call of b's run (a thread reply after the root update) is paced too: it waits behind c.
    expect(await store.acquire('#short', SHORT, 'c')).toBeGreaterThan(0);
    expect(await store.acquire('#short', SHORT, 'b')).toBeGreaterThan(0);
    const last = await store.state('#short');
    expect(last.reservations).toEqual({
      c: slotOfB + slotSpacing(SHORT),
      b: slotOfB + 2 * slotSpacing(SHORT),
    });
  });

  it('after a 429, a waiter whose slot falls inside the block is queued again after it, once', async () => {
    const SHORT = 200;
    const BLOCK = 60_000;
    expect(await store.acquire('#limited', SHORT, 'a')).toBe(0);
    expect(await store.acquire('#limited', SHORT, 'b')).toBeLessThanOrEqual(slotSpacing(SHORT));
    await store.block('#limited', BLOCK);
    const { blockedUntil } = await store.state('#limited');
    // A newcomer waits for the block to pass.
    expect(await store.acquire('#limited', SHORT, 'c')).toBeGreaterThan(BLOCK / 2);
    // b's slot comes during the block: b is given a slot after the block (and after c, who asked first).
    let wait = 0;
    await pollUntil(
      async () => {
        wait = await store.acquire('#limited', SHORT, 'b');
        return wait > BLOCK / 2;
      },
      10_000,
      () => `b was not moved past the block (last wait ${wait} ms)`,
    );
    const state = await store.state('#limited');
    expect(state.reservations.c).toBe(blockedUntil);
    expect(state.reservations.b).toBe(blockedUntil! + slotSpacing(SHORT));
    expect(state.nextAt).toBe(blockedUntil! + 2 * slotSpacing(SHORT));
  });
});
