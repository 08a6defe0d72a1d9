/**
 * Redis killed with SIGKILL mid-stream and restarted on the same port from the same AOF, with
 * `appendfsync everysec` and `always`. The poster keeps sending and retries every non-2xx (the relay answers
 * 503 while Redis is down), as Alertmanager does. Every webhook answered 2xx must still end delivered or
 * dead-lettered: a 2xx means the notification was in Redis, and AOF brings Redis back with it. With
 * `appendfsync always` that holds for every webhook; with `everysec`, Redis itself may lose writes it
 * acknowledged in its last moments (up to 2 s, by its documentation), so only webhooks accepted in the 2 s
 * before the kill may be lost, and they are counted in the report.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, it } from 'vitest';
import type { Fsync } from './support/aof-redis.js';
import { judge } from './support/verdict.js';
import { waitUntilCalls } from './support/waits.js';
import { firing, World } from './support/world.js';

let world: World | undefined;

afterEach(async () => {
  await world?.close();
  world = undefined;
});

async function redisKilledMidStream(fsync: Fsync): Promise<void> {
  const id = `redis-kill9-${fsync}`;
  world = await World.start(id, { fsync });
  const w = world;
  const items = Array.from({ length: 30 }, (_, i) => ({
    tag: `${id}-${i}`,
    payload: firing(`${id}-${i}`, i % 3 === 2 ? 'warning' : 'critical'),
  }));
  const streaming = w.poster.stream(items, 100);
  await waitUntilCalls(() => w.poster.accepted.length >= 10, '10 accepted webhooks');
  const killedAt = Date.now();
  await w.redis.kill9();
  await sleep(1000);
  await w.redis.restart();
  await streaming;
  const ledger = await w.settle(120_000);
  judge({
    id,
    fault: `redis-server SIGKILL mid-stream, restarted from AOF (appendfsync ${fsync})`,
    world: w,
    ledger,
    accepted: w.poster.accepted,
    crashes: 1,
    // everysec: Redis may answer a write before it reached the AOF, and lose it at a crash (Redis documents up
    // to 2 s). The relay cannot do better than its store: what was accepted before that window must survive.
    ...(fsync === 'everysec' ? { storeLossWindow: { endsAt: killedAt, ms: 2000 } } : {}),
    notes: { refusedWhileDown: [...w.poster.refusals.values()].reduce((a, b) => a + b, 0) },
  });
}

describe('Redis kill -9 and restart from AOF', () => {
  it('appendfsync everysec: every notification accepted before the last 2 s ends delivered', () =>
    redisKilledMidStream('everysec'));
  it('appendfsync always: every accepted notification ends delivered', () => redisKilledMidStream('always'));
});
