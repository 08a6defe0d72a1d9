/**
 * The write-ahead pump alone, in a process of its own, for `npm run bench:ingest`: what a worker process adds
 * to the Redis work of an ingest burst (BullMQ's job adds), without the deliveries themselves. Prints
 * `listening 0` once it runs (bench/support.ts startServer waits for it); SIGTERM stops it.
 */
import { BullDeliveryQueue } from '../src/enqueue/delivery-queue.js';
import { WriteAheadLog } from '../src/enqueue/write-ahead.js';
import { startPump } from '../src/ingest/pump.js';
import { createLogger } from '../src/observability/logger.js';
import { RedisAlertStore } from '../src/store/alert-store.js';
import { createWorkerRedis } from '../src/store/redis.js';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = process.env.BENCH_PREFIX ?? '';
if (!prefix) throw new Error('BENCH_PREFIX is required');
const redis = createWorkerRedis(url);
const options = { prefix, retentionSeconds: 3600, attempts: 5 };
const queue = new BullDeliveryQueue(redis, options);
const pump = startPump({
  log: new WriteAheadLog(redis, queue, options),
  store: new RedisAlertStore(redis, options),
  blocking: createWorkerRedis(url),
  logger: createLogger('warn'),
});
process.stdout.write('listening 0\n');
process.on('SIGTERM', () => {
  void pump.stop().then(async () => {
    await queue.close();
    redis.disconnect();
    process.exit(0);
  });
});
